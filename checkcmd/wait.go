package checkcmd

import (
	"context"
	"errors"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// wait re-reads the merge request's labels every --poll-interval until
// they pass or --wait runs out, so that a developer who adds the label
// while the job runs gets a green job without a retry. Each read is bounded
// by --timeout; a refused token ends the wait at once with its own cause.
func (f fetcher) wait(ctx context.Context, got fetched, v check.Verdict) (fetched, check.Verdict, error) {
	cfg, clock := f.cfg, f.d.Clock
	if got.source != report.FromAPI {
		f.noticef("--wait is ignored: these labels are %s, and cannot change while this job runs.", report.Describe(got.source))
		return got, v, nil
	}
	deadline := clock.Now().Add(cfg.wait)
	f.noticef("labels missing; waiting up to %s for them (re-reading every %s). Add the label to the merge request now and this job passes.", cfg.wait, cfg.pollInterval)
	for {
		left := deadline.Sub(clock.Now())
		if left <= 0 {
			f.noticef("gave up waiting after %s.", cfg.wait)
			return got, v, nil
		}
		if err := clock.Sleep(ctx, min(cfg.pollInterval, left)); err != nil {
			return f.stopWaiting(got, v, err)
		}
		read, cancel := context.WithTimeout(ctx, cfg.timeout)
		mr, err := f.client.MergeRequest(read, f.plan.project, got.mr.IID)
		cancel()
		switch {
		case ctx.Err() != nil:
			return f.stopWaiting(got, v, ctx.Err())
		case err != nil && refused(err):
			return got, v, f.apiError(err, got.mr.IID)
		case err != nil:
			f.noticef("re-reading the labels failed (%s); trying again.", f.cfg.secrets.Clip(err.Error(), 200))
			continue
		}
		got = f.fromAPI(mr)
		if v = check.Evaluate(got.labels, cfg.rules); v.Pass() {
			f.noticef("the labels are there now.")
			return got, v, nil
		}
	}
}

// stopWaiting ends a wait whose context ended: a cancelled job is an error,
// the run's budget (--timeout plus --wait) running out is giving up.
func (f fetcher) stopWaiting(got fetched, v check.Verdict, err error) (fetched, check.Verdict, error) {
	if errors.Is(err, context.DeadlineExceeded) {
		f.noticef("gave up waiting after %s.", f.cfg.wait)
		return got, v, nil
	}
	return got, v, err
}
