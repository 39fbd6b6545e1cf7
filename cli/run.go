// Package cli is the echoes-labels check: the environment and flags in, a
// report and an exit code out. One check reads, in order: flags.go (the
// environment and the flags, validated once), plan.go (where the labels
// come from), fetch.go (the one read), the rules in package check, the
// report in package report, and exit.go (the exit code and its fix).
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	secretmask "gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
	"gitlab.com/echoeshq/echoes-labels/serve"
)

// Deps are what differs between a real run and a test.
type Deps struct {
	Stdout, Stderr io.Writer
	Env            cienv.Env
	IsTerminal     bool
	Version        string
	// Clock paces --wait; nil is the wall clock.
	Clock Clock
	// MaxRetryWait caps each wait before a retried GitLab call (tests set
	// a millisecond); zero keeps GitLab's Retry-After and the backoff.
	MaxRetryWait time.Duration
}

// Clock is time as --wait sees it.
type Clock interface {
	Now() time.Time
	// Sleep returns early, with ctx's error, when ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// app is the command line: the check, which is the default command, and
// the service that keeps the check's verdict in step with the labels.
type app struct {
	Check   Flags            `cmd:"" default:"withargs" help:"${description}"`
	Serve   serve.Command    `cmd:"" help:"Receive GitLab's merge request webhooks and status check requests, and retry the label job when its labels pass (see the README, Turn green without a retry)."`
	Version kong.VersionFlag `help:"Print the version and exit."`
}

const description = "Checks that a GitLab merge request carries the labels Echoes needs: at least one echoes/intent… or echoes/initiative… label, and optionally one echoes/effort… label sized XS to XL.\n\n" +
	"Exit codes: 0 pass (or nothing to check), 1 labels missing or invalid, 2 configuration or usage error, 3 GitLab API error, 130 cancelled.\n\n" +
	"The service that retries the job when labels change: echoes-labels serve --help."

// Main parses args, runs the check and returns the exit code. ctx ends when
// the job is cancelled (SIGTERM, Ctrl-C).
func Main(ctx context.Context, args []string, d Deps) (code int) {
	if d.Clock == nil {
		d.Clock = realClock{}
	}
	c := &command{d: d, job: d.Env.Job()}
	c.cfg.mask = secrets(d.Env, args)

	var cli app
	var env *envBinding
	exited := false
	parser, err := kong.New(&cli,
		kong.Name("echoes-labels"),
		kong.Description(description),
		kong.Writers(d.Stdout, d.Stderr), // help and version only: errors come back to us
		kong.Vars{"version": d.Version, "docs_url": report.DefaultDocsBase, "description": description},
		kong.Exit(func(int) { exited = true; panic(exitSignal{}) }),
		kong.Resolvers(kong.ResolverFunc(func(ctx *kong.Context, p *kong.Path, f *kong.Flag) (any, error) { return env.resolve(ctx, p, f) })),
		kong.ValueFormatter(func(v *kong.Value) string { return env.help(v) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
	if err != nil {
		fmt.Fprintf(c.d.Stderr, "echoes-labels: internal error: %v\n", err)
		return ExitConfig
	}
	env = bindEnv(parser.Model, d.Env)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitSignal); !ok || !exited {
				panic(r)
			}
			code = ExitPass // kong exits only after --help or --version
		}
	}()
	kctx, err := parser.Parse(checkHelp(args))
	if err != nil {
		// Where the report goes is read from the arguments and variables as given,
		// and any argument may be a secret pasted in the wrong place: the
		// parser's message, which quotes it, is masked with them all. Our
		// own fix is not, or an argument such as "help" masks its words.
		c.cfg.junit, c.cfg.format = cmp.Or(lastArg(args, "--junit"), env.get("junit")),
			strings.ToLower(strings.TrimSpace(cmp.Or(lastArg(args, "--format"), env.get("format"))))
		cause := c.cfg.mask.with(positional(args)...).mask(err.Error())
		return c.exit(&Error{Code: ExitConfig, Cause: cause, Fix: "see echoes-labels --help for the flags and their environment variables"})
	}
	if kctx.Command() == "serve" {
		return c.exit(serveError(cli.Serve.Run(ctx, d.Stderr, secretmask.FromEnv(d.Env, args))))
	}
	c.cfg, err = cli.Check.validate(c.cfg.mask)
	if err != nil {
		return c.exit(err)
	}
	return c.exit(c.run(ctx))
}

type exitSignal struct{}

// serveError gives the service's errors the check's exit codes: the
// service returns only *exit.Error (a configuration error, or the server
// failing after it started, both 2).
func serveError(err error) error {
	var e *exit.Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Cause: e.Cause, Fix: e.Fix}
	}
	return err
}

// checkHelp makes "echoes-labels --help" the check's help, with its flags:
// the check is the default command, and the one people ask about.
func checkHelp(args []string) []string {
	if len(args) > 0 && (args[0] == "check" || args[0] == "serve") {
		return args
	}
	if len(args) > 0 && args[0] == "help" {
		return append([]string{"check", "--help"}, args[1:]...)
	}
	for _, a := range args {
		if a == "--help" || a == "-h" {
			return append([]string{"check"}, args...)
		}
		if a == "--" {
			break
		}
	}
	return args
}

// command is one run of the check.
type command struct {
	d      Deps
	job    cienv.Job
	cfg    config
	plan   plan
	client *gitlabapi.Client // nil until a plan needs GitLab
	// skipReason says why there is nothing to check.
	skipReason string
	mr         report.MergeRequest // for the error report, once known
}

// run is the check: environment → plan → fetch → rules → report.
func (c *command) run(ctx context.Context) error {
	start := c.d.Clock.Now()
	budget, cancel := context.WithTimeout(ctx, c.cfg.timeout+c.cfg.wait)
	defer cancel()
	tokenSetEmpty := ""
	for _, name := range []string{"ECHOES_GITLAB_TOKEN", "GITLAB_TOKEN"} {
		if c.d.Env.Empty(name) && c.cfg.token == "" {
			tokenSetEmpty = name
			break
		}
	}
	p, err := makePlan(c.cfg, c.job, tokenSetEmpty)
	for _, n := range p.notices {
		c.noticef("%s", n)
	}
	if err != nil {
		return err
	}
	c.plan = p
	got, err := c.fetch(budget)
	if err != nil {
		return c.orCancelled(ctx, err)
	}
	if got == nil {
		return c.skip()
	}
	got = c.masked(got)
	c.mr = got.mr
	v := check.Evaluate(got.labels, c.cfg.rules)
	if !v.Pass() && c.cfg.wait > 0 {
		if got, v, err = c.wait(budget, got, v); err != nil {
			return c.orCancelled(ctx, err)
		}
	}
	m := c.cfg.mask
	res := report.Result{
		Source: got.source, Labels: got.labels, MergeRequest: got.mr, Verdict: v,
		Prefixes: c.cfg.rules.Prefixes, Docs: report.Docs{Base: m.mask(c.cfg.docs.Base)}, EventType: m.mask(c.job.EventType),
		OutsideCI: !c.job.InCI,
	}
	if c.cfg.comment {
		c.comment(budget, res)
	}
	if c.client != nil {
		for _, a := range c.client.Attempts() {
			res.Calls = append(res.Calls, report.Call{Method: a.Method, Path: m.mask(a.Path), Status: a.Status, Duration: a.Duration})
		}
	}
	if err := c.write(res, start); err != nil {
		return err
	}
	if !v.Pass() {
		return errLabels
	}
	return nil
}

// orCancelled tells a cancelled job from a slow GitLab: only ctx, the
// job's own context, ends because of a signal.
func (c *command) orCancelled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errCancelled
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: ExitAPI, Cause: fmt.Sprintf("GitLab did not answer within --timeout %s plus --wait %s", c.cfg.timeout, c.cfg.wait),
			Fix: "retry the job, or raise --timeout/ECHOES_TIMEOUT if your GitLab is slow"}
	}
	return err
}

// notice is where one-line remarks go (fallbacks, waiting): the log in text
// mode, stderr in JSON mode so that stdout stays one JSON document.
func (c *command) notice() io.Writer {
	if c.cfg.format == "json" {
		return c.d.Stderr
	}
	return c.d.Stdout
}

func (c *command) noticef(format string, a ...any) {
	fmt.Fprint(c.notice(), c.cfg.mask.mask(fmt.Sprintf("echoes-labels: "+format+"\n", a...)))
}

// masked masks the secrets in what GitLab or the pipeline sent, before any
// rule, cut or encoding sees it.
func (c *command) masked(got *fetched) *fetched {
	m := c.cfg.mask
	out := *got
	out.labels = m.masks(got.labels)
	out.mr.Project, out.mr.WebURL = m.mask(got.mr.Project), m.mask(got.mr.WebURL)
	return &out
}

// positional are the arguments that are not flags, for masking.
func positional(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
		}
	}
	return out
}

// write prints the report in the chosen format and the JUnit file if asked.
func (c *command) write(res report.Result, start time.Time) error {
	if err := c.writeJUnit(func(w io.Writer) error { return report.JUnit(w, res) }); err != nil {
		return err
	}
	var err error
	if c.cfg.format == "json" {
		err = report.JSON(c.d.Stdout, res)
	} else {
		// Plain output (NO_COLOR, --no-color) means no escape sequences at
		// all, so it also goes without GitLab's collapsible sections.
		plain := c.cfg.noColor || c.job.NoColor
		err = report.Text(c.d.Stdout, res, report.Options{
			Colour:   !plain && (c.d.IsTerminal || c.job.InCI),
			Sections: !plain && c.job.InGitLab,
			Start:    start, End: c.d.Clock.Now(),
		})
	}
	if err != nil {
		return &Error{Code: ExitConfig, Cause: "cannot write the report: " + err.Error(), Fix: "check that stdout is writable"}
	}
	return nil
}

// skip says there is nothing to check: exit 0, and in JSON a document
// saying so, so that a script reading stdout is not left with nothing.
func (c *command) skip() error {
	if err := c.writeJUnit(func(w io.Writer) error { return report.JUnitSkipped(w, c.skipReason) }); err != nil {
		return err
	}
	if c.cfg.format == "json" {
		return report.WriteJSON(c.d.Stdout, report.JSONReport{Verdict: report.VerdictSkipped, Reason: c.skipReason})
	}
	c.noticef("%s.\n  Run it in a merge request pipeline, or pass --mr (with a token) or --labels.", c.skipReason)
	return nil
}

// exit prints an error's cause and fix, mirrors a configuration or API
// error into the JUnit file and the JSON document (so the widget and
// scripts see why there is no verdict), and returns the exit code.
func (c *command) exit(err error) int {
	if err == nil {
		return ExitPass
	}
	e := asError(err)
	if e.Code == ExitLabels {
		return e.Code
	}
	e.Cause = printable.Truncate(c.cfg.mask.mask(e.Cause), 600)
	e.Fix = c.cfg.mask.mask(e.Fix)
	// Best effort: the error itself is printed below.
	_ = c.writeJUnit(func(w io.Writer) error { return report.JUnitError(w, c.mr, e.Cause, e.Fix) })
	if c.cfg.format == "json" {
		_ = report.WriteJSON(c.d.Stdout, report.JSONReport{Verdict: report.VerdictError,
			Error: &report.JSONError{ExitCode: e.Code, Cause: e.Cause, Fix: e.Fix}})
	}
	fmt.Fprintf(c.d.Stderr, "echoes-labels: %s\n", e.Cause)
	if e.Fix != "" {
		fmt.Fprintf(c.d.Stderr, "  fix: %s\n", e.Fix)
	}
	return e.Code
}

// writeJUnit writes the JUnit report, when asked for one, atomically (a
// half-written file never reaches GitLab) and only as a regular file: a
// path naming a device, a FIFO or a directory is refused, never replaced.
func (c *command) writeJUnit(write func(io.Writer) error) error {
	path := c.cfg.junit
	if path == "" {
		return nil
	}
	fail := func(err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &Error{Code: ExitConfig, Cause: fmt.Sprintf("cannot write the JUnit report %s: %v", printable.String(path), err),
			Fix: "point --junit/ECHOES_JUNIT at a file path inside the job's directory, such as echoes-labels.junit.xml"}
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("it is not a regular file (%s)", fi.Mode().Type()))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, ".echoes-labels-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}
