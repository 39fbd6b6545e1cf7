package serve

// Issue 20, "act only on our own job": a job named like the label job
// that is not the check's verdict is never retried as the bot.

import (
	"fmt"
	"strings"
	"testing"
)

// A label job that failed for another reason than its script (a job named
// echoes-labels deploying to a protected environment, a runner fault) is
// left alone when the labels change, with the reason in the log; one that
// failed by its script is retried.
func TestOnlyAScriptFailureIsRetried(t *testing.T) {
	for _, c := range []struct {
		reason  string
		retries int
	}{{"protected_environment_failure", 0}, {"runner_system_failure", 0}, {"script_failure", 1}} {
		gl := newStandIn(t)
		p := failedLabelJob(gl, project, path, 3, passing)
		gl.SetJobFailure(gl.LabelJob(p, jobName).ID, c.reason, false)
		h := start(t, gl, nil)
		h.post(payload(t, project, path, 3, "a", 0, passing), hook("reason-"+c.reason)...)
		h.waitIdle()
		detail := fmt.Sprint(onlyLine(t, h)["detail"])
		if n := gl.Retries(project, 3); n != c.retries {
			t.Errorf("label job failed with %s: %d retries, want %d; log:\n%s", c.reason, n, c.retries, h.logs.String())
		}
		if c.retries == 0 && !strings.Contains(detail, fmt.Sprintf("failure_reason %q, not by its script", c.reason)) {
			t.Errorf("failed with %s: the line says %q, want the failure reason", c.reason, detail)
		}
	}
}
