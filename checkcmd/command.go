// Package checkcmd is the echoes-labels check, the default command: the
// environment and flags in, a report and an error with its exit code out.
// One check reads, in order: command.go (the flags, validated once), run.go
// (the sequence), plan.go (where the labels come from, pure), fetch.go (the
// one read, and --wait), the rules in package check, the report in package
// report, report.go (where it is written), comment.go (--comment), and
// apierror.go (the fix for a failed GitLab call).
package checkcmd

import (
	"fmt"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Command is the check's command line. Every input has an environment
// variable, named in its env tag, so a CI job needs no arguments; the names
// are the public interface. Values that can be malformed are kept as typed
// and checked by config, after parsing, so that a bad one is reported
// like any other error: with --junit and --format known.
type Command struct {
	settings.GitLab `embed:"" set:"token_help=Access token with the read_api scope (the api scope for --comment). Without one the job token (CI_JOB_TOKEN) is tried."`
	Project         string   `env:"CI_MERGE_REQUEST_PROJECT_ID,CI_PROJECT_ID" placeholder:"ID|PATH" help:"Project id or group/project path."`
	MR              string   `name:"mr" env:"CI_MERGE_REQUEST_IID" placeholder:"IID" help:"Merge request IID (the number after !)."`
	Labels          []string `sep:"none" placeholder:"L1,L2" help:"Check these comma-separated labels and call no GitLab at all; repeated, they add up."`

	Timeout settings.Duration `env:"ECHOES_TIMEOUT" default:"30s" help:"Bound on each read of the labels, retries included; the whole run is bounded by --timeout plus --wait."`
	NoColor settings.Switch   `help:"Plain output (also when NO_COLOR is set)."`

	Format       string            `env:"ECHOES_FORMAT" default:"text" help:"Report format: text for people, json for scripts (same exit codes). For JUnit, use --junit FILE."`
	JUnit        string            `name:"junit" env:"ECHOES_JUNIT" placeholder:"FILE" help:"Also write a JUnit XML report here, for the merge request's test widget."`
	Wait         settings.Duration `env:"ECHOES_WAIT" default:"0s" help:"While labels are missing, keep re-reading them from the API for up to this long (0: don't wait)."`
	PollInterval settings.Duration `env:"ECHOES_POLL_INTERVAL" default:"10s" help:"How often --wait re-reads the labels (at least 1s)."`
	Comment      settings.Switch   `env:"ECHOES_COMMENT" help:"On failure, post (or update) one comment on the merge request saying what is missing; needs a token with the api scope."`
	CommentKey   string            `name:"comment-key" env:"ECHOES_COMMENT_KEY,CI_JOB_NAME" placeholder:"NAME" help:"Which check the comment belongs to, so two jobs on one merge request keep two comments."`

	settings.Rules `embed:""`
}

// minPollInterval keeps --wait from hammering GitLab.
const minPollInterval = time.Second

// config is the check's settings once validated.
type config struct {
	gitlabURL, token, project, mr string
	labels                        []string // nil: not given
	rules                         check.Options
	docs                          string
	timeout, wait, pollInterval   time.Duration
	noColor, comment              bool
	commentKey                    string
	caFile, format, junit         string
	secrets                       mask.Secrets // the run's
}

// config checks every flag in one pass and returns the settings. Values
// quoted in errors are masked first, then cut. --junit and --format come
// first: the errors after them are reported there.
func (f *Command) config(m mask.Secrets) (config, error) {
	c := config{secrets: m,
		gitlabURL: f.GitLabURL, project: strings.TrimSpace(f.Project),
		mr: strings.TrimSpace(f.MR), labels: f.Labels, caFile: f.CAFile, junit: f.JUnit,
		format: strings.ToLower(strings.TrimSpace(f.Format)),
		// Printed in the note's marker: masked where it comes in.
		commentKey: m.Mask(strings.TrimSpace(f.CommentKey)),
	}
	if strings.HasSuffix(c.junit, "/") {
		c.junit = ""
		return c, exit.BadSetting("--junit", fmt.Sprintf("--junit/ECHOES_JUNIT %s names a directory", m.Quote(f.JUnit, 80)),
			"give the path of the report file, e.g. --junit echoes-labels.junit.xml")
	}
	if c.format != "text" && c.format != "json" {
		fix := "use --format text or --format json"
		if c.format == "junit" || c.format == "xml" {
			fix = "use --format text or --format json; a JUnit report is a file beside them: add --junit echoes-labels.junit.xml"
		}
		c.format = "text"
		return c, exit.BadSetting("--format", fmt.Sprintf("--format/ECHOES_FORMAT is %s", m.Quote(f.Format, 40)), fix)
	}
	var err error
	if c.rules, c.docs, err = f.Rules.Options(m); err != nil {
		return c, err
	}
	for _, s := range []struct {
		name string
		v    settings.Switch
		to   *bool
	}{{"--no-color", f.NoColor, &c.noColor}, {"--comment/ECHOES_COMMENT", f.Comment, &c.comment}} {
		if *s.to, err = s.v.Value(s.name, m); err != nil {
			return c, err
		}
	}
	for _, d := range []struct {
		name string
		v    settings.Duration
		to   *time.Duration
	}{{"--timeout/ECHOES_TIMEOUT", f.Timeout, &c.timeout}, {"--wait/ECHOES_WAIT", f.Wait, &c.wait},
		{"--poll-interval/ECHOES_POLL_INTERVAL", f.PollInterval, &c.pollInterval}} {
		if *d.to, err = d.v.Value(d.name, m); err != nil {
			return c, err
		}
	}
	switch {
	case c.comment && f.Labels != nil:
		return c, exit.BadSetting("--comment", "--comment/ECHOES_COMMENT writes on a merge request, but --labels checks labels without one",
			"drop --comment (or unset ECHOES_COMMENT), or check a merge request with --project and --mr instead of --labels")
	case c.timeout <= 0:
		return c, exit.BadSetting("--timeout", fmt.Sprintf("--timeout/ECHOES_TIMEOUT is %s", c.timeout), "give a positive duration such as 30s or 2m")
	case c.wait < 0:
		return c, exit.BadSetting("--wait", fmt.Sprintf("--wait/ECHOES_WAIT is %s", c.wait), "give 0s to check once, or how long to wait, such as 2m")
	case c.wait > 0 && c.pollInterval < minPollInterval:
		return c, exit.BadSetting("--poll-interval", fmt.Sprintf("--poll-interval/ECHOES_POLL_INTERVAL is %s, below the floor of %s", c.pollInterval, minPollInterval),
			"give 1s or more, such as 10s")
	}
	// Checked in the plan (settings.CheckToken), with the job token:
	// offline, neither is sent.
	c.token = strings.TrimSpace(f.Token)
	return c, nil
}
