package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// Flags is the check's command line. Every input has an environment
// variable, named in its env tag, so a CI job needs no arguments; the names
// are the public interface. Values that can be malformed are kept as typed
// and checked by validate, after parsing, so that a bad one is reported
// like any other error: with --junit and --format known.
type Flags struct {
	GitLabURL string  `name:"gitlab-url" env:"CI_API_V4_URL" default:"https://gitlab.com/api/v4" help:"GitLab API v4 root."`
	Token     string  `env:"ECHOES_GITLAB_TOKEN,GITLAB_TOKEN" placeholder:"TOKEN" help:"Access token with the read_api scope. Without one, the job token (CI_JOB_TOKEN) is tried."`
	Project   string  `env:"CI_MERGE_REQUEST_PROJECT_ID,CI_PROJECT_ID" placeholder:"ID|PATH" help:"Project id or group/project path."`
	MR        string  `name:"mr" env:"CI_MERGE_REQUEST_IID" placeholder:"IID" help:"Merge request IID (the number after !)."`
	Labels    *string `placeholder:"L1,L2" help:"Check these comma-separated labels and call no GitLab at all."`

	RequireEffort switchValue   `env:"ECHOES_REQUIRE_EFFORT" help:"Also require exactly one effort label sized XS, S, M, L or XL."`
	Timeout       durationValue `env:"ECHOES_TIMEOUT" default:"30s" help:"Bound on each read of the labels, retries included; the whole run is bounded by --timeout plus --wait."`
	NoColor       switchValue   `help:"Plain output (also when NO_COLOR is set)."`
	CAFile        string        `name:"ca-file" env:"CI_SERVER_TLS_CA_FILE" placeholder:"FILE" help:"PEM certificates to trust for GitLab, besides the system's."`

	Format       string        `env:"ECHOES_FORMAT" default:"text" help:"Report format: text for people, json for scripts (same exit codes)."`
	JUnit        string        `name:"junit" env:"ECHOES_JUNIT" placeholder:"FILE" help:"Also write a JUnit XML report here, for the merge request's test widget."`
	Wait         durationValue `env:"ECHOES_WAIT" default:"0s" help:"While labels are missing, keep re-reading them from the API for up to this long (0: don't wait)."`
	PollInterval durationValue `env:"ECHOES_POLL_INTERVAL" default:"10s" help:"How often --wait re-reads the labels (at least 1s)."`
	Comment      switchValue   `env:"ECHOES_COMMENT" help:"On failure, post (or update) one comment on the merge request saying what is missing; needs a token with the api scope."`
	CommentKey   string        `name:"comment-key" env:"ECHOES_COMMENT_KEY,CI_JOB_NAME" placeholder:"NAME" help:"Which check the comment belongs to, so two jobs on one merge request keep two comments."`

	DocsURL          string `name:"docs-url" env:"ECHOES_DOCS_URL" default:"${docs_url}" help:"Documentation base for the details links."`
	IntentPrefix     string `env:"ECHOES_INTENT_PREFIX" default:"echoes/intent" help:"Label prefix of intents." group:"Label names"`
	InitiativePrefix string `env:"ECHOES_INITIATIVE_PREFIX" default:"echoes/initiative" help:"Label prefix of initiatives." group:"Label names"`
	EffortPrefix     string `env:"ECHOES_EFFORT_PREFIX" default:"echoes/effort" help:"Label prefix of efforts." group:"Label names"`
}

// fixPrefixes mends an empty or shared label prefix, for both commands.
const fixPrefixes = "leave a prefix unset for the Echoes default, or give each kind its own label prefix"

// minPollInterval keeps --wait from hammering GitLab.
const minPollInterval = time.Second

// config is the check's settings once validated.
type config struct {
	gitlabURL, token, project, mr string
	labels                        *string
	rules                         check.Options
	timeout, wait, pollInterval   time.Duration
	noColor, comment              bool
	commentKey                    string
	caFile, format, junit         string
	docs                          report.Docs
	mask                          masker // the run's secrets
}

// validate checks every flag in one pass and returns the settings.
// Values quoted in errors are masked first (m), then cut.
func (f *Flags) validate(m masker) (config, error) {
	c := config{mask: m,
		gitlabURL: f.GitLabURL, token: strings.TrimSpace(f.Token), project: strings.TrimSpace(f.Project),
		mr: strings.TrimSpace(f.MR), labels: f.Labels, caFile: f.CAFile, junit: f.JUnit,
		format: strings.ToLower(strings.TrimSpace(f.Format)), commentKey: m.mask(strings.TrimSpace(f.CommentKey)),
		docs: report.Docs{Base: strings.TrimSpace(f.DocsURL)},
		// The prefixes and the comment key are printed (messages, fixes,
		// the note's marker), so a token pasted there is masked here,
		// where they come in, as the labels are before the rules see them.
		rules: check.Options{Prefixes: check.Prefixes{
			Intent: m.mask(f.IntentPrefix), Initiative: m.mask(f.InitiativePrefix), Effort: m.mask(f.EffortPrefix)}},
	}
	// --junit and --format first: the errors after them are reported there.
	if strings.HasSuffix(c.junit, "/") {
		c.junit = ""
		return c, configError(fmt.Sprintf("--junit/ECHOES_JUNIT %s names a directory", m.quote(f.JUnit, 80)),
			"give the path of the report file, e.g. --junit echoes-labels.junit.xml")
	}
	if c.format != "text" && c.format != "json" {
		c.format = "text"
		return c, configError(fmt.Sprintf("--format/ECHOES_FORMAT is %s", m.quote(f.Format, 40)), "use --format text or --format json")
	}
	var err error
	for _, s := range []struct {
		name string
		v    switchValue
		to   *bool
	}{{"--require-effort/ECHOES_REQUIRE_EFFORT", f.RequireEffort, &c.rules.RequireEffort},
		{"--no-color", f.NoColor, &c.noColor}, {"--comment/ECHOES_COMMENT", f.Comment, &c.comment}} {
		if *s.to, err = s.v.value(s.name, m); err != nil {
			return c, err
		}
	}
	for _, d := range []struct {
		name string
		v    durationValue
		to   *time.Duration
	}{{"--timeout/ECHOES_TIMEOUT", f.Timeout, &c.timeout}, {"--wait/ECHOES_WAIT", f.Wait, &c.wait},
		{"--poll-interval/ECHOES_POLL_INTERVAL", f.PollInterval, &c.pollInterval}} {
		if *d.to, err = d.v.value(d.name, m); err != nil {
			return c, err
		}
	}
	switch {
	case c.timeout <= 0:
		return c, configError(fmt.Sprintf("--timeout/ECHOES_TIMEOUT is %s", c.timeout), "give a positive duration such as 30s or 2m")
	case c.wait < 0:
		return c, configError(fmt.Sprintf("--wait/ECHOES_WAIT is %s", c.wait), "give 0s to check once, or how long to wait, such as 2m")
	case c.wait > 0 && c.pollInterval < minPollInterval:
		return c, configError(fmt.Sprintf("--poll-interval/ECHOES_POLL_INTERVAL is %s, below the floor of %s", c.pollInterval, minPollInterval),
			"give 1s or more, such as 10s")
	}
	if err := c.rules.Prefixes.Validate(); err != nil {
		return c, configError(err.Error(), fixPrefixes)
	}
	return c, nil
}

// switchValue is a bool flag that keeps a malformed value for validate.
type switchValue struct {
	on  bool
	bad *string
}

func (s *switchValue) Decode(ctx *kong.DecodeContext) error {
	*s = switchValue{on: true} // a flag standing alone: --comment
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		return nil
	}
	switch v := ctx.Scan.Pop().Value.(type) {
	case bool:
		s.on = v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes":
		case "false", "0", "no", "":
			s.on = false
		default:
			s.on = false
			s.bad = &v
		}
	}
	return nil
}

// IsBool lets the flag stand alone: --comment.
func (s *switchValue) IsBool() bool { return true }

func (s switchValue) value(name string, m masker) (bool, error) {
	if s.bad != nil {
		return false, configError(fmt.Sprintf("%s is %s, not true or false", name, m.quote(*s.bad, 40)), "give true or false (or leave it unset)")
	}
	return s.on, nil
}

// durationValue is a Go duration that keeps a malformed value for validate.
type durationValue struct {
	d   time.Duration
	bad *string
}

func (d *durationValue) Decode(ctx *kong.DecodeContext) error {
	*d = durationValue{}
	v := fmt.Sprint(ctx.Scan.Pop().Value)
	parsed, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		d.bad = &v
	}
	d.d = parsed
	return nil
}

func (d durationValue) value(name string, m masker) (time.Duration, error) {
	if d.bad == nil {
		return d.d, nil
	}
	fix := "give a Go duration with its unit, such as 30s or 2m"
	bad := m.clip(strings.TrimSpace(*d.bad), 40)
	if _, err := time.ParseDuration(bad + "s"); err == nil {
		fix = fmt.Sprintf("add a unit: %ss for seconds, or %sm for minutes", bad, bad)
	}
	return 0, configError(fmt.Sprintf("%s is %s, not a duration", name, m.quote(*d.bad, 40)), fix)
}

// argValues are the values given to flag in args (--flag v or --flag=v),
// read without the parser: to mask them before it runs, and to find the
// report's path and format when it failed.
func argValues(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			out = append(out, v)
		} else if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

// lastArg is the value a repeated flag ends with, or "".
func lastArg(args []string, flag string) string {
	vs := argValues(args, flag)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// envBinding moves the env tags out of kong's reach and reads them through
// cienv instead, so that an empty variable counts as unset (kong would take
// it as an empty value) and tests need no process environment.
type envBinding struct {
	env    cienv.Env
	byFlag map[*kong.Value][]string
	byName map[string][]string
}

func bindEnv(app *kong.Application, env cienv.Env) *envBinding {
	b := &envBinding{env: env, byFlag: map[*kong.Value][]string{}, byName: map[string][]string{}}
	_ = kong.Visit(app, func(n kong.Visitable, next kong.Next) error {
		if f, ok := n.(*kong.Flag); ok && len(f.Tag.Envs) > 0 {
			b.byFlag[f.Value], b.byName[f.Name] = f.Tag.Envs, f.Tag.Envs
			f.Tag.Envs, f.Envs = nil, nil
		}
		return next(nil)
	})
	return b
}

// resolve gives a flag not on the command line its variable's value.
func (b *envBinding) resolve(_ *kong.Context, _ *kong.Path, f *kong.Flag) (any, error) {
	if v, _ := b.lookup(b.byFlag[f.Value]); v != "" {
		return v, nil
	}
	return nil, nil
}

// get reads a flag's variables by the flag's name, for when parsing failed.
func (b *envBinding) get(flag string) string {
	v, _ := b.lookup(b.byName[flag])
	return v
}

func (b *envBinding) lookup(names []string) (value, name string) {
	for _, n := range names {
		if v := b.env.Get(n); v != "" {
			return v, n
		}
	}
	return "", ""
}

// help appends a flag's variables to its help, as kong does for env tags.
func (b *envBinding) help(v *kong.Value) string {
	names := b.byFlag[v]
	if len(names) == 0 {
		return v.Help
	}
	vars := "($" + strings.Join(names, ", $") + ")"
	if strings.HasSuffix(v.Help, ".") {
		return v.Help[:len(v.Help)-1] + " " + vars + "."
	}
	return v.Help + " " + vars
}
