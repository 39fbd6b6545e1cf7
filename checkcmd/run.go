package checkcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Deps are what differs between a real run and a test.
type Deps struct {
	Stdout, Stderr io.Writer
	Env            cienv.Env
	IsTerminal     bool
	Version        string
	// Clock paces --wait; nil is the wall clock.
	Clock clock.Clock
	// MaxRetryWait caps each wait before a retried GitLab call (tests set
	// a millisecond); zero keeps GitLab's Retry-After and the backoff.
	MaxRetryWait time.Duration
}

// Run is the check: environment → plan → fetch → rules → report. It
// returns nil on a pass, exit.Silent(exit.Labels) when the labels fail
// (the report said why), or an *exit.Error that the JUnit and JSON
// reports have already mirrored.
func (f *Command) Run(ctx context.Context, d Deps, secrets mask.Secrets) error {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	job := d.Env.Job()
	tokenSetEmpty := ""
	if strings.TrimSpace(f.Token) == "" {
		tokenSetEmpty = settings.EmptyTokenVar(d.Env)
	}
	cfg, err := f.config(secrets, job, tokenSetEmpty)
	r := &run{d: d, cfg: cfg, job: job}
	var mr report.MergeRequest
	if err == nil {
		mr, err = r.check(ctx)
	}
	return r.outputs(r.finish(mr, err))
}

// run is one check: what it was given, and what it found.
type run struct {
	d   Deps
	cfg config
	job cienv.Job
	// result is the verdict once reported; skipped says there was none
	// to give. Both are for the dotenv report.
	result  *report.Result
	skipped bool
}

// outputs writes the dotenv report, whatever the exit: the verdict (error
// when the check ended in one) and the labels of each kind.
func (r *run) outputs(err error) error {
	if r.cfg.dotenv == "" {
		return err
	}
	d := report.DotenvValues{Verdict: report.VerdictError}
	switch code := exit.From(err).Code; {
	case r.result != nil && (code == exit.Pass || code == exit.Labels || code == exit.Warn):
		d = report.DotenvOf(*r.result)
	case r.skipped && err == nil:
		d.Verdict = report.VerdictSkipped
	}
	werr := writeDotenv(r.cfg.dotenv, d)
	switch {
	case werr == nil:
	case err == nil:
		return werr
	default:
		// The check's own error is the one to tell; this one is said too.
		fmt.Fprintf(r.d.Stderr, "echoes-labels: %s\n", exit.From(werr).Cause)
	}
	return err
}

// check runs the sequence and returns the merge request it looked at, for
// an error's report.
func (r *run) check(ctx context.Context) (report.MergeRequest, error) {
	start := r.d.Clock.Now()
	budget, cancel := context.WithTimeout(ctx, r.cfg.timeout+r.cfg.wait)
	defer cancel()
	p := r.cfg.plan
	for _, n := range p.notices {
		r.noticef("%s", n)
	}
	f, err := r.newFetcher(p)
	if err != nil {
		return report.MergeRequest{}, err
	}
	got, err := f.fetch(budget)
	if err != nil {
		return report.MergeRequest{Project: p.project, IID: p.iid}, r.orCancelled(ctx, err)
	}
	if got.skip != "" {
		return report.MergeRequest{}, r.skip(report.MergeRequest{}, got.skip, hintNoMR)
	}
	if len(r.cfg.skipAuthors) > 0 && got.author == "" && got.source == report.FromVariable {
		r.noticef("--skip-authors/ECHOES_SKIP_AUTHORS: the author is unknown here (CI_MERGE_REQUEST_LABELS carries none), so no author is skipped.\n" +
			"  To skip bots' merge requests, let the job read the API: a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.")
	}
	if p := skippedAuthor(r.cfg.skipAuthors, got.author); p != "" {
		return got.mr, r.skip(got.mr, fmt.Sprintf("merge request %s is by %s, whose merge requests are not checked (--skip-authors %s)",
			got.mr, printable.String(got.author), p), "")
	}
	notEnforced := ""
	switch {
	case !r.cfg.enforce:
		notEnforced = "--enforce/ECHOES_ENFORCE is false"
	case r.cfg.draftsWarn && got.draft:
		notEnforced = "the merge request is a draft (--drafts warn); add the labels before marking it ready"
	}
	v := check.Evaluate(got.labels, r.cfg.rules)
	// A warning blocks no one: not worth runner minutes waiting for.
	if !v.Pass() && r.cfg.wait > 0 && notEnforced == "" {
		if got, v, err = f.wait(budget, got, v); err != nil {
			return got.mr, r.orCancelled(ctx, err)
		}
	}
	m := r.cfg.secrets
	res := report.Result{
		Source: got.source, Labels: got.labels, MergeRequest: got.mr, Verdict: v,
		Prefixes: r.cfg.rules.Prefixes, Docs: report.Docs{Base: m.Mask(r.cfg.docs)}, EventType: m.Mask(r.job.EventType),
		OutsideCI: !r.job.InCI,
	}
	if !v.Pass() {
		res.NotEnforced = notEnforced
		res.Available = f.available(budget, got, v)
	}
	if f.client != nil {
		for _, a := range f.client.Attempts() {
			res.Calls = append(res.Calls, report.Call{Method: a.Method, Path: m.Mask(a.Path), Status: a.Status, Duration: a.Duration})
		}
	}
	if err := r.write(res, start); err != nil {
		return got.mr, err
	}
	r.result = &res
	// After the report, so that the log reads verdict first, then what
	// was done about it.
	if r.cfg.comment {
		f.comment(budget, res)
	}
	switch {
	case res.Warn():
		return got.mr, exit.Silent(exit.Warn)
	case !v.Pass():
		return got.mr, exit.Silent(exit.Labels)
	}
	return got.mr, nil
}

// orCancelled tells a cancelled job from a slow GitLab: only ctx, the
// job's own context, ends because of a signal.
func (r *run) orCancelled(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return exit.ErrCancelled
	}
	var explained *exit.Error
	if !errors.As(err, &explained) && errors.Is(err, context.DeadlineExceeded) {
		return exit.APIError(fmt.Sprintf("GitLab did not answer within --timeout %s plus --wait %s", r.cfg.timeout, r.cfg.wait),
			"retry the job, or raise --timeout/ECHOES_TIMEOUT if your GitLab is slow", err)
	}
	return err
}

// notice is where one-line remarks go (fallbacks, waiting): the log in text
// mode, stderr in JSON mode so that stdout stays one JSON document.
func (r *run) notice() io.Writer {
	if r.cfg.format == "json" {
		return r.d.Stderr
	}
	return r.d.Stdout
}

func (r *run) noticef(format string, a ...any) {
	fmt.Fprint(r.notice(), r.cfg.secrets.Mask(fmt.Sprintf("echoes-labels: "+format+"\n", a...)))
}
