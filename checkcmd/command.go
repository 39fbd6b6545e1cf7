// Package checkcmd is the echoes-labels check, the default command: the
// environment and flags in, a report and an error with its exit code out.
// One check reads, in order: command.go (the flags, validated once), run.go
// (the sequence), plan.go (where the labels come from, pure), fetch.go (the
// one read, and --wait), the rules in package check, the report in package
// report, report.go (where it is written, the dotenv report included),
// comment.go (--comment), and apierror.go (the fix for a failed GitLab call,
// jobtoken.go for a refused job token); authors.go is --skip-authors,
// available.go the read of the project's labels on a failure.
package checkcmd

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
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
	Dotenv       string            `name:"dotenv" env:"ECHOES_DOTENV" placeholder:"FILE" help:"Also write the verdict and the labels of each kind here as dotenv variables (ECHOES_LABELS_*), for later jobs, on every exit."`
	Wait         settings.Duration `env:"ECHOES_WAIT" default:"0s" help:"While labels are missing, keep re-reading them from the API for up to this long (0: don't wait)."`
	PollInterval settings.Duration `env:"ECHOES_POLL_INTERVAL" default:"10s" help:"How often --wait re-reads the labels (at least 1s)."`
	Comment      settings.Switch   `env:"ECHOES_COMMENT" help:"On failure, post (or update) one comment on the merge request saying what is missing; needs a token with the api scope."`
	CommentKey   string            `name:"comment-key" env:"ECHOES_COMMENT_KEY,CI_JOB_NAME" placeholder:"NAME" help:"Which check the comment belongs to, so two jobs on one merge request keep two comments."`

	SkipAuthors string          `name:"skip-authors" env:"ECHOES_SKIP_AUTHORS" placeholder:"GLOB,…" help:"Skip the check (exit 0) for merge requests by these authors: comma-separated usernames, case-insensitive, * matching any characters (renovate*,dependabot*)."`
	Drafts      string          `env:"ECHOES_DRAFTS" default:"enforce" placeholder:"enforce|warn" help:"warn: a draft merge request lacking labels is a warning (exit 4), not a failure."`
	Enforce     settings.Switch `env:"ECHOES_ENFORCE" default:"true" help:"false: missing labels are a warning (exit 4), not a failure, on every merge request."`

	settings.Rules `embed:""`
}

// minPollInterval keeps --wait from hammering GitLab.
const minPollInterval = time.Second

// config is the check's settings once validated, and the plan they make.
type config struct {
	base                        *url.URL       // the API root, parsed once; nil offline
	caPool                      *x509.CertPool // --ca-file, read once; nil without one
	token, project              string
	iid                         int64    // 0: no --mr
	labels                      []string // nil: not given
	rules                       check.Options
	docs                        string
	timeout, wait, pollInterval time.Duration
	noColor, comment            bool
	commentKey                  string
	format, junit, dotenv       string
	secrets                     mask.Secrets // the run's
	plan                        plan
	skipAuthors                 []string // lower-case globs
	draftsWarn, enforce         bool
}

// config checks every setting in one place and one pass, and makes the
// plan from them: every bad setting is reported at once, in one error.
// Values quoted in errors are masked first, then cut. --junit and --format
// are kept when good even if another setting is bad: the error is reported
// there too. The GitLab settings (URL, CA file, token, project, IID) are
// checked only when the labels are not given offline (--labels).
func (f *Command) config(m mask.Secrets, job cienv.Job, tokenSetEmpty string) (config, error) {
	c := config{secrets: m,
		project: strings.TrimSpace(f.Project), labels: f.Labels, junit: f.JUnit, dotenv: f.Dotenv,
		format: strings.ToLower(strings.TrimSpace(f.Format)),
		// Printed in the note's marker: masked where it comes in.
		commentKey: m.Mask(strings.TrimSpace(f.CommentKey)),
	}
	var bad exit.Settings
	if strings.HasSuffix(c.junit, "/") {
		c.junit = ""
		bad.Add(exit.BadSetting("--junit", fmt.Sprintf("--junit/ECHOES_JUNIT %s names a directory", m.Quote(f.JUnit, 80)),
			"give the path of the report file, e.g. --junit echoes-labels.junit.xml"))
	}
	if strings.HasSuffix(c.dotenv, "/") {
		c.dotenv = ""
		bad.Add(exit.BadSetting("--dotenv", fmt.Sprintf("--dotenv/ECHOES_DOTENV %s names a directory", m.Quote(f.Dotenv, 80)),
			"give the path of the dotenv file, e.g. --dotenv echoes-labels.env"))
	}
	if c.format != "text" && c.format != "json" {
		fix := "use --format text or --format json"
		if c.format == "junit" || c.format == "xml" {
			fix = "use --format text or --format json; a JUnit report is a file beside them: add --junit echoes-labels.junit.xml"
		}
		c.format = "text"
		bad.Add(exit.BadSetting("--format", fmt.Sprintf("--format/ECHOES_FORMAT is %s", m.Quote(f.Format, 40)), fix))
	}
	var err error
	c.rules, c.docs, err = f.Rules.Options(m)
	bad.Add(err)
	for _, s := range []struct {
		name string
		v    settings.Switch
		to   *bool
	}{{"--no-color", f.NoColor, &c.noColor}, {"--comment/ECHOES_COMMENT", f.Comment, &c.comment}} {
		*s.to, err = s.v.Value(s.name, m)
		bad.Add(err)
	}
	// A duration that does not parse is reported once, not again for
	// its range.
	var badTimeout, badWait, badPoll error
	c.timeout, badTimeout = f.Timeout.Value("--timeout/ECHOES_TIMEOUT", m)
	c.wait, badWait = f.Wait.Value("--wait/ECHOES_WAIT", m)
	c.pollInterval, badPoll = f.PollInterval.Value("--poll-interval/ECHOES_POLL_INTERVAL", m)
	bad.Add(badTimeout)
	bad.Add(badWait)
	bad.Add(badPoll)
	if badTimeout == nil && c.timeout <= 0 {
		bad.Add(exit.BadSetting("--timeout", fmt.Sprintf("--timeout/ECHOES_TIMEOUT is %s", c.timeout), "give a positive duration such as 30s or 2m"))
	}
	switch {
	case badWait != nil:
	case c.wait < 0:
		bad.Add(exit.BadSetting("--wait", fmt.Sprintf("--wait/ECHOES_WAIT is %s", c.wait), "give 0s to check once, or how long to wait, such as 2m"))
	case c.wait > 0 && badPoll == nil && c.pollInterval < minPollInterval:
		bad.Add(exit.BadSetting("--poll-interval", fmt.Sprintf("--poll-interval/ECHOES_POLL_INTERVAL is %s, below the floor of %s", c.pollInterval, minPollInterval),
			"give 1s or more, such as 10s"))
	}
	c.enforce, err = f.Enforce.Value("--enforce/ECHOES_ENFORCE", m)
	bad.Add(err)
	switch strings.ToLower(strings.TrimSpace(f.Drafts)) {
	case "enforce", "":
	case "warn":
		c.draftsWarn = true
	default:
		bad.Add(exit.BadSetting("--drafts", fmt.Sprintf("--drafts/ECHOES_DRAFTS is %s", m.Quote(f.Drafts, 40)),
			"give enforce (a draft lacking labels fails, the default) or warn (it is a warning, exit 4)"))
	}
	c.skipAuthors, err = parseAuthors(f.SkipAuthors, m)
	bad.Add(err)
	if c.comment && c.labels != nil {
		bad.Add(exit.BadSetting("--comment", "--comment/ECHOES_COMMENT writes on a merge request, but --labels checks labels without one",
			"drop --comment (or unset ECHOES_COMMENT), or check a merge request with --project and --mr instead of --labels"))
	}
	if c.labels == nil {
		c.gitLab(f, m, job, &bad)
	}
	if len(bad) == 0 {
		// The plan's errors are settings missing for the pipeline at
		// hand (no token, no project): only worth saying once the
		// settings given are good.
		c.plan, err = makePlan(c, job, tokenSetEmpty)
		bad.Add(err)
	}
	return c, bad.Err()
}

// gitLab checks the settings only a check that reads GitLab uses.
func (c *config) gitLab(f *Command, m mask.Secrets, job cienv.Job, bad *exit.Settings) {
	var err error
	if c.base, err = gitlabapi.ParseBaseURL(f.GitLabURL); err != nil {
		bad.Add(err)
	}
	if f.CAFile != "" {
		c.caPool, err = gitlabapi.LoadCA(f.CAFile)
		bad.Add(err)
	}
	// The job token is checked too: it is sent when no token is given.
	if c.token, err = f.CleanToken(); err != nil {
		bad.Add(err)
	} else if c.token == "" {
		_, err = settings.CheckToken(job.JobToken)
		bad.Add(err)
	}
	if mr := strings.TrimSpace(f.MR); mr != "" {
		c.iid, err = parseIID(mr, m)
		bad.Add(err)
	}
	if c.project != "" {
		bad.Add(validateProject(c.project, m))
	}
}
