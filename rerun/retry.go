package rerun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// retryPlan is how one retry loop paces and bounds its tries.
type retryPlan struct {
	attempts int       // tries at most; 0: until ctx ends
	deadline time.Time // no wait that ends past it; zero: none
	lo, hi   time.Duration
	first    bool // wait before the first try too (a step that failed already)
	// again says whether a failure is worth another try.
	again func(err error) bool
	// failed is told each failure that another try follows (the tries
	// left), before the wait; attempt is the number of that try.
	failed func(err error, attempt int)
	// waiting is told the wait before try attempt (from 2).
	waiting func(err error, attempt int, wait time.Duration)
	// pastBudget is told a wait that would end past the deadline; its
	// error ends the loop (nil: the last failure's).
	pastBudget func(err error, attempt int, wait, left time.Duration) error
}

// retry is the one retry loop of the engine: the client makes one attempt
// a call, so GitLab in trouble gets a bounded number of calls per task,
// sweep page or start-up check. It runs do until it succeeds, its failure
// is not worth another (plan.again), plan's tries or time are spent, or
// ctx ends. Between tries it waits what GitLab asked for (Retry-After), as
// asked, else gitlabapi.Backoff, on the engine's clock.
func (e *Engine) retry(ctx context.Context, p retryPlan, do func(context.Context) error) error {
	var err error
	waits := 0
	for attempt := 1; p.attempts <= 0 || attempt <= p.attempts; attempt++ {
		if attempt > 1 || p.first {
			wait := p.wait(err, waits)
			waits++
			if !p.deadline.IsZero() {
				if left := p.deadline.Sub(e.clock.Now()); wait >= left {
					if p.pastBudget != nil {
						if perr := p.pastBudget(err, attempt-1, wait, max(left, 0)); perr != nil {
							return perr
						}
					}
					return err
				}
			}
			if p.waiting != nil {
				p.waiting(err, attempt, wait)
			}
			if e.clock.Sleep(ctx, wait) != nil {
				return cmpErr(err, ctx.Err())
			}
		}
		err = do(ctx)
		if err == nil || ctx.Err() != nil || !p.again(err) {
			return err
		}
		if p.failed != nil && (p.attempts <= 0 || attempt < p.attempts) {
			p.failed(err, attempt+1)
		}
	}
	return err
}

// wait is the wait number waits+1 (from 0) after err: what GitLab
// asked for (Retry-After), as asked, else the backoff.
func (p retryPlan) wait(err error, waits int) time.Duration {
	if err != nil {
		if f := gitlabapi.Classify(err); f.Wait > 0 {
			return f.Wait
		}
	}
	return gitlabapi.Backoff(p.lo, p.hi, waits)
}

func cmpErr(err, or error) error {
	if err != nil {
		return err
	}
	return or
}

// transient is the plan's again for GitLab's calls: what may succeed
// later (5xx, 429, no answer).
func transient(err error) bool { return gitlabapi.Classify(err).Transient }

// errPastBudget ends a task whose next wait would end past its budget.
var errPastBudget = errors.New("the wait before the next try ends past the task's budget")

// pastBudgetError is a task's error when its next wait ends past its budget.
func pastBudgetError(err error, wait, left time.Duration) error {
	return fmt.Errorf("%w (%s, %s left): %w", errPastBudget, wait.Round(time.Millisecond), left.Round(time.Millisecond), err)
}
