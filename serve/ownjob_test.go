package serve

// Issue 20, "act only on our own job": a job named like the label job
// that is not the check's verdict is never retried as the bot.

import (
	"fmt"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
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

// A bridge whose downstream pipeline is in another project (a
// multi-project pipeline) is never followed, even when that pipeline has
// a failed job named like the label job and the labels changed after it;
// a child pipeline of the same project is (TestLabelJobInChildPipelineRetried).
func TestDownstreamPipelineOfAnotherProjectNotFollowed(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 3)
	head := gl.AddPipeline(project, path, 3, gitlabtest.Job{Name: "build", Status: "success"})
	down := gl.AddDownstreamPipeline(head, "deploy", 77, "other/deployer", gitlabtest.Job{Name: jobName, Status: "failed"})
	gl.SetLabels(project, path, 3, passing)
	h := start(t, gl, nil)
	h.post(payload(t, project, path, 3, "a", 0, passing), hook("downstream")...)
	h.waitIdle()
	if _, attempts := newestLabelJob(gl, down); attempts != 1 || gl.Retries(project, 3) != 0 {
		t.Errorf("a label job in project 77's downstream pipeline: %d attempts, want it untouched; log:\n%s", attempts, h.logs.String())
	}
	if d := fmt.Sprint(onlyLine(t, h)["detail"]); !strings.Contains(d, "a downstream pipeline in project 77 is not followed") {
		t.Errorf("the line says %q, want the downstream project not followed", d)
	}
	for _, r := range gl.Requests() {
		if strings.Contains(r.Path, "/projects/77/") {
			t.Errorf("project 77 was called: %s %s", r.Method, r.Path)
		}
	}
}

// --watch is decided on GitLab's path of the project acted on, not the
// payload's: a delivery naming a watched path with the id of a project
// outside --watch is acted on nowhere, through a token-authenticated
// hook, a signed status check request and a job hook alike, and the log
// names GitLab's path.
func TestWatchDecidedOnGitLabsPath(t *testing.T) {
	const victim, victimPath = int64(77), "outside/victim"
	for _, kind := range []string{"merge request hook", "status check request", "job hook"} {
		t.Run(kind, func(t *testing.T) {
			gl := newStandIn(t)
			ours := gl.AddStatusCheck(victim, victimPath, "echoes-labels")
			failedLabelJob(gl, victim, victimPath, 3, passing)
			sha := gl.HeadSHA(victim, victimPath, 3)
			h := start(t, gl, func(c *config) { c.engine.Watch = mustWatch("group") })
			var code int
			switch kind {
			case "merge request hook":
				code, _ = h.post(payload(t, victim, path, 3, sha, 0, passing), hook("forged-hook")...)
			case "status check request":
				body := payload(t, victim, path, 3, sha, ours, passing)
				code, _ = h.post(body, "X-Gitlab-Signature", sign(body, testSecret))
			default:
				body := event(t, "job_event.json", func(ev map[string]any) {
					ev["build_name"], ev["build_status"], ev["ref"], ev["project_id"] = jobName, "failed", "refs/merge-requests/3/head", victim
					ev["project"] = map[string]any{"id": victim, "path_with_namespace": path}
				})
				code, _ = h.post(body, "X-Gitlab-Event", eventJob, "X-Gitlab-Token", testSecret, "Idempotency-Key", "forged-job")
			}
			h.waitIdle()
			if n, checks := gl.Retries(victim, 3), gl.StatusChecks(victim, 3); code != 202 || n != 0 || len(checks) != 0 {
				t.Errorf("%d; project 77 outside --watch acted on: %d retries, status checks %+v", code, n, checks)
			}
			l := onlyLine(t, h)
			if d := fmt.Sprint(l["detail"]); l["project"] != victimPath || !strings.Contains(d, `project "outside/victim" (id 77) is outside --watch`) {
				t.Errorf("the line names project %v, %q; want GitLab's path %s outside --watch", l["project"], d, victimPath)
			}
		})
	}
}
