package cli

import (
	"context"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// waitForLabels re-reads the merge request's labels every --poll-interval
// until they pass or --wait runs out, so that a developer who adds the label
// while the job runs gets a green job without a retry. Each read is bounded
// by the poll interval (and --timeout), so a hanging GitLab cannot stretch
// the wait.
func (c *command) waitForLabels(labels []string, v check.Verdict) ([]string, check.Verdict) {
	src, f, clock := c.src, c.f, c.d.Clock
	if src.from != report.FromAPI {
		c.noticef("--wait is ignored: these labels are %s, and cannot change while this job runs.", report.Describe(src.from))
		return labels, v
	}
	deadline := clock.Now().Add(f.Wait)
	defer func(start time.Time) { c.deadline = c.deadline.Add(time.Since(start)) }(time.Now())
	c.noticef("labels missing; waiting up to %s for them (re-reading every %s). Add the label to the merge request now and this job passes.", f.Wait, f.PollInterval)
	for {
		left := deadline.Sub(clock.Now())
		if left <= 0 {
			c.noticef("gave up waiting after %s.", f.Wait)
			return labels, v
		}
		clock.Sleep(min(f.PollInterval, left))
		ctx, cancel := context.WithTimeout(context.Background(), min(f.Timeout, f.PollInterval))
		mr, err := src.client.MergeRequest(ctx, src.project, src.iid)
		cancel()
		if err != nil {
			c.noticef("re-reading the labels failed (%s); trying again.", printable.Truncate(err.Error(), 200))
			continue
		}
		labels, v = mr.Labels, check.Evaluate(mr.Labels, c.opts)
		if v.Pass() {
			c.noticef("the labels are there now.")
			return labels, v
		}
	}
}
