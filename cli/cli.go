// Package cli is the echoes-labels command: flags and environment in, a
// report and an exit code out. It reads the process environment only
// through kong's env tags and the Env it is given.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// Exit codes, stable and documented in the README.
const (
	ExitPass   = 0 // labels pass, or nothing to check
	ExitLabels = 1 // labels missing or invalid
	ExitConfig = 2 // configuration or usage error
	ExitAPI    = 3 // GitLab API error
)

// Flags is the command line. Every input has an environment variable, so a
// CI job needs no arguments; the names are the public interface.
type Flags struct {
	GitLabURL string  `name:"gitlab-url" env:"CI_API_V4_URL" default:"https://gitlab.com/api/v4" help:"GitLab API v4 root."`
	Token     string  `env:"ECHOES_GITLAB_TOKEN,GITLAB_TOKEN" placeholder:"TOKEN" help:"Access token with the read_api scope. Without one, the job token (CI_JOB_TOKEN) is tried."`
	Project   string  `env:"CI_MERGE_REQUEST_PROJECT_ID,CI_PROJECT_ID" placeholder:"ID|PATH" help:"Project id or group/project path."`
	MR        string  `name:"mr" env:"CI_MERGE_REQUEST_IID" placeholder:"IID" help:"Merge request IID (the number after !)."`
	Labels    *string `placeholder:"L1,L2" help:"Check these comma-separated labels and call no GitLab at all."`

	RequireEffort bool          `env:"ECHOES_REQUIRE_EFFORT" help:"Also require exactly one effort label sized XS, S, M, L or XL."`
	Timeout       time.Duration `env:"ECHOES_TIMEOUT" default:"30s" help:"Bound on all GitLab calls together."`
	NoColor       bool          `help:"Plain output (also when NO_COLOR is set)."`
	CAFile        string        `name:"ca-file" env:"CI_SERVER_TLS_CA_FILE" type:"path" placeholder:"FILE" help:"PEM certificates to trust for GitLab, besides the system's."`

	Format       string        `env:"ECHOES_FORMAT" enum:"text,json" default:"text" help:"Report format: text for people, json for scripts (same exit codes)."`
	JUnit        string        `name:"junit" env:"ECHOES_JUNIT" type:"path" placeholder:"FILE" help:"Also write a JUnit XML report here, for the merge request's test widget."`
	Wait         time.Duration `env:"ECHOES_WAIT" default:"0s" help:"While labels are missing, keep re-reading them from the API for up to this long (0: don't wait)."`
	PollInterval time.Duration `env:"ECHOES_POLL_INTERVAL" default:"10s" help:"How often --wait re-reads the labels."`
	Comment      bool          `env:"ECHOES_COMMENT" help:"On failure, post (or update) one comment on the merge request saying what is missing; needs a token with the api scope."`

	DocsURL          string `name:"docs-url" env:"ECHOES_DOCS_URL" default:"${docs_url}" help:"Documentation base for the details links."`
	IntentPrefix     string `env:"ECHOES_INTENT_PREFIX" default:"echoes/intent" help:"Label prefix of intents." group:"Label names"`
	InitiativePrefix string `env:"ECHOES_INITIATIVE_PREFIX" default:"echoes/initiative" help:"Label prefix of initiatives." group:"Label names"`
	EffortPrefix     string `env:"ECHOES_EFFORT_PREFIX" default:"echoes/effort" help:"Label prefix of efforts." group:"Label names"`

	Version kong.VersionFlag `help:"Print the version and exit."`
}

// Env is what the command reads from the CI environment besides its flags.
type Env struct {
	JobToken       string // CI_JOB_TOKEN
	PipelineLabels string // CI_MERGE_REQUEST_LABELS
	InMRPipeline   bool   // CI_MERGE_REQUEST_IID is set
	InCI           bool   // GITLAB_CI or CI is set: colour on though stdout is a pipe
	NoColor        bool   // NO_COLOR is set to anything
	TokenSetEmpty  string // name of a token variable that is set but empty
	InGitLab       bool   // GITLAB_CI is set: collapsible log sections work
	// Token is the first non-blank of ECHOES_GITLAB_TOKEN and GITLAB_TOKEN:
	// kong stops at the first one set, even when it is empty.
	Token string

	OpenMergeRequests string // CI_OPEN_MERGE_REQUESTS, in branch pipelines
	ProjectPath       string // CI_PROJECT_PATH
	Branch            string // CI_COMMIT_BRANCH, in branch pipelines
	EventType         string // CI_MERGE_REQUEST_EVENT_TYPE: detached, merged_result, merge_train
}

// EnvFrom reads Env through lookup (os.LookupEnv in main).
func EnvFrom(lookup func(string) (string, bool)) Env {
	get := func(k string) string { v, _ := lookup(k); return v }
	set := func(k string) bool { v, ok := lookup(k); return ok && v != "" }
	e := Env{
		JobToken:       strings.TrimSpace(get("CI_JOB_TOKEN")),
		PipelineLabels: get("CI_MERGE_REQUEST_LABELS"),
		InMRPipeline:   set("CI_MERGE_REQUEST_IID"),
		InCI:           set("GITLAB_CI") || set("CI"),
		NoColor:        set("NO_COLOR"),
		InGitLab:       set("GITLAB_CI"),

		OpenMergeRequests: get("CI_OPEN_MERGE_REQUESTS"),
		ProjectPath:       get("CI_PROJECT_PATH"),
		Branch:            get("CI_COMMIT_BRANCH"),
		EventType:         get("CI_MERGE_REQUEST_EVENT_TYPE"),
	}
	for _, k := range []string{"ECHOES_GITLAB_TOKEN", "GITLAB_TOKEN"} {
		if v := strings.TrimSpace(get(k)); v != "" && e.Token == "" {
			e.Token = v
		}
	}
	for _, k := range []string{"ECHOES_GITLAB_TOKEN", "GITLAB_TOKEN"} {
		if v, ok := lookup(k); ok && strings.TrimSpace(v) == "" {
			e.TokenSetEmpty = k
			break
		} else if ok {
			break
		}
	}
	return e
}

// Deps are what tests replace.
type Deps struct {
	Stdout, Stderr io.Writer
	Env            Env
	IsTerminal     bool
	Version        string
	// NewClient builds the GitLab client; tests shorten its backoff.
	NewClient func(gitlabapi.Config) (GitLab, error)
	// Clock paces --wait; tests pass one that does not sleep.
	Clock Clock
}

// GitLab is the part of the API the command uses.
type GitLab interface {
	MergeRequest(ctx context.Context, project string, iid int64) (*gitlabapi.MergeRequest, error)
	OpenMergeRequestsFrom(ctx context.Context, project, branch string) ([]gitlabapi.MergeRequest, error)
	CurrentUserID(ctx context.Context) (int64, error)
	FindNote(ctx context.Context, project string, iid, author int64, marker string) (*gitlabapi.Note, error)
	CreateNote(ctx context.Context, project string, iid int64, body string) (*gitlabapi.Note, error)
	UpdateNote(ctx context.Context, project string, iid, noteID int64, body string) (*gitlabapi.Note, error)
	Attempts() []gitlabapi.Attempt
}

var _ GitLab = (*gitlabapi.Client)(nil)

// Clock is time as --wait sees it.
type Clock interface {
	Now() time.Time
	Sleep(time.Duration)
}

// RealClock is the wall clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// Main parses args, runs the check and returns the exit code.
func Main(args []string, d Deps) (code int) {
	if d.NewClient == nil {
		d.NewClient = func(c gitlabapi.Config) (GitLab, error) { return gitlabapi.New(c) }
	}
	if d.Clock == nil {
		d.Clock = realClock{}
	}
	var f Flags
	exited := false
	parser, err := kong.New(&f,
		kong.Name("echoes-labels"),
		kong.Description("Checks that a GitLab merge request carries the labels Echoes needs: at least one echoes/intent… or echoes/initiative… label, and optionally one echoes/effort… label sized XS to XL.\n\nExit codes: 0 pass (or nothing to check), 1 labels missing or invalid, 2 configuration or usage error, 3 GitLab API error."),
		kong.Writers(d.Stdout, d.Stderr),
		kong.Vars{"version": d.Version, "docs_url": report.DefaultDocsBase},
		kong.Exit(func(int) { exited = true; panic(exitSignal{}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
	if err != nil {
		fmt.Fprintf(d.Stderr, "echoes-labels: internal error: %v\n", err)
		return ExitConfig
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitSignal); !ok || !exited {
				panic(r)
			}
			code = ExitPass // kong exits only after --help or --version
		}
	}()
	if _, err := parser.Parse(args); err != nil {
		fmt.Fprintf(d.Stderr, "echoes-labels: %v\n  fix: see echoes-labels --help for the flags and their environment variables\n", maskAll(err.Error(), secrets(&f, d.Env)))
		return ExitConfig
	}
	masked := secrets(&f, d.Env)
	d.Stdout = &redactingWriter{w: d.Stdout, secrets: masked}
	d.Stderr = &redactingWriter{w: d.Stderr, secrets: masked}
	// net/http logs every request header, the token's too, through the
	// standard logger under GODEBUG=http2debug=2: mask it there as well.
	log.SetOutput(d.Stderr)
	c := &command{f: &f, d: d, secrets: masked}
	err = c.run()
	c.reportError(err)
	return exitCode(err, d.Stderr)
}

type exitSignal struct{}

// Error carries an exit code and the one or two lines that explain it.
type Error struct {
	Code  int
	Cause string
	Fix   string
}

func (e *Error) Error() string { return e.Cause }

// ExitCode lets main and tests read the code without knowing the type.
func (e *Error) ExitCode() int { return e.Code }

func configError(cause, fix string) error { return &Error{Code: ExitConfig, Cause: cause, Fix: fix} }

// errLabels is returned when the report has already told the whole story.
var errLabels = &Error{Code: ExitLabels}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitPass
	}
	var e *Error
	if !errors.As(err, &e) {
		fmt.Fprintf(stderr, "echoes-labels: %v\n", err)
		return ExitConfig
	}
	if e.Cause != "" {
		fmt.Fprintf(stderr, "echoes-labels: %s\n", e.Cause)
	}
	if e.Fix != "" {
		fmt.Fprintf(stderr, "  fix: %s\n", e.Fix)
	}
	return e.Code
}

func validatePrefixes(p check.Prefixes) error {
	seen := map[string]string{}
	for name, v := range map[string]string{"--intent-prefix": p.Intent, "--initiative-prefix": p.Initiative, "--effort-prefix": p.Effort} {
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" {
			return configError(name+" is empty", "leave it unset for the Echoes default, or give the label prefix your organisation uses")
		}
		if other, dup := seen[v]; dup {
			return configError(fmt.Sprintf("%s and %s are the same prefix %q", name, other, v), "give each kind its own label prefix")
		}
		seen[v] = name
	}
	return nil
}

// parseIID reads a merge request IID, which GitLab numbers from 1.
func parseIID(s string) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "!")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, configError(fmt.Sprintf("the merge request IID (--mr/CI_MERGE_REQUEST_IID) is %q, not a positive number", truncateRunes(s, 40)),
			"pass the number after ! in the merge request's title, e.g. --mr 42")
	}
	return n, nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
