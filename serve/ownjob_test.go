package serve

// Issue 20, "act only on our own job": a job named like the label job
// that is not the check's verdict is never retried as the bot.

import (
	"fmt"
	"net/http"
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
// no more than a child pipeline of the same project
// (TestLabelJobInChildPipelineNotRetried).
func TestDownstreamPipelineOfAnotherProjectNotFollowed(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 3)
	head := gl.AddPipeline(project, path, 3, gitlabtest.Job{Name: "build", Status: "success"})
	down := gl.AddDownstreamPipeline(head, "deploy", 77, "other/deployer", gitlabtest.Job{Name: jobName, Status: "failed"})
	gl.SetLabels(project, path, 3, passing)
	h := start(t, gl, nil)
	h.deliver(3, "downstream")
	if _, attempts := newestLabelJob(gl, down); attempts != 1 || gl.Retries(project, 3) != 0 {
		t.Errorf("a label job in project 77's downstream pipeline: %d attempts, want it untouched; log:\n%s", attempts, h.logs.String())
	}
	if d := fmt.Sprint(onlyLine(t, h)["detail"]); !strings.Contains(d, fmt.Sprintf(`no job %q in head pipeline %d`, jobName, head)) {
		t.Errorf("the line says %q, want no label job in the head pipeline", d)
	}
	for _, r := range gl.Requests() {
		if strings.Contains(r.Path, "/projects/77/") || strings.HasSuffix(r.Path, "/bridges") {
			t.Errorf("the downstream pipeline was looked for: %s %s", r.Method, r.Path)
		}
	}
}

// GitLab's head_pipeline may be a branch pipeline (source push), even on
// a protected branch: a failed job named like the label job there is not
// the component's (it adds the label job to merge request pipelines
// only), and is left alone as the labels change, with the reason in the
// log, whatever --retry-forks says; its jobs are not even listed.
func TestPushHeadPipelineLeftAlone(t *testing.T) {
	for _, forks := range []bool{false, true} {
		gl := newStandIn(t)
		gl.SetLabels(project, path, 3)
		branch := gl.AddBranchPipeline(project, path, 3, labelJobs("failed")...)
		gl.SetHeadPipeline(project, path, 3, branch)
		gl.SetLabels(project, path, 3, passing)
		h := start(t, gl, func(c *config) { c.engine.RetryForks = forks })
		h.post(payload(t, project, path, 3, "a", 0, passing), hook(fmt.Sprint("push-", forks))...)
		h.waitIdle()
		if status, attempts := newestLabelJob(gl, branch); status != "failed" || attempts != 1 || gl.Retries(project, 3) != 0 {
			t.Errorf("--retry-forks=%v: the push head pipeline's label job %s after %d attempts, want left alone; log:\n%s", forks, status, attempts, h.logs.String())
		}
		want := fmt.Sprintf("head pipeline %d is a push pipeline, not a merge request pipeline: the component adds the label job to merge request pipelines only", branch)
		if d := fmt.Sprint(onlyLine(t, h)["detail"]); !strings.Contains(d, want) {
			t.Errorf("--retry-forks=%v: the line says %q, want %q", forks, d, want)
		}
		for _, r := range gl.Requests() {
			if strings.Contains(r.Path, fmt.Sprintf("/pipelines/%d/", branch)) {
				t.Errorf("--retry-forks=%v: the push pipeline's jobs were read: %s %s", forks, r.Method, r.Path)
			}
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

// GitLab's head_pipeline lags a push: until the new commit's pipeline is
// made it names the previous commit's. Its job is not retried for labels
// that now concern another commit; the line says why.
func TestHeadPipelineOfAnOlderCommitLeftAlone(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 3, passing)
	gl.SetHeadSHA(project, path, 3, strings.Repeat("b", 40))
	h := start(t, gl, nil)
	h.deliver(3, "lag")
	if n := gl.Retries(project, 3); n != 0 {
		t.Errorf("a head pipeline of an older commit: %d retries, want 0", n)
	}
	if d := fmt.Sprint(onlyLine(t, h)["detail"]); !strings.Contains(d, "not the merge request's head commit bbbbbbbb: GitLab has not caught up with the push") {
		t.Errorf("the line says %q, want the lagging head pipeline", d)
	}
}

// A job of an archived pipeline is not retryable: the line says a new
// pipeline is needed, not that the job was already retried, whether the
// jobs list says so before the retry or the pipeline is archived between
// the read and the retry (GitLab's 403 "Job is not retryable").
func TestArchivedJobSaysANewPipelineIsNeeded(t *testing.T) {
	for _, when := range []string{"before", "at the retry"} {
		gl := newStandIn(t)
		p := failedLabelJob(gl, project, path, 3, passing)
		id := gl.LabelJob(p, jobName).ID
		if when == "before" {
			gl.SetJobArchived(id)
		} else {
			gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/retry") {
					gl.SetJobArchived(id)
				}
				return false
			})
		}
		h := start(t, gl, nil)
		h.post(payload(t, project, path, 3, "a", 0, passing), hook("archived")...)
		h.waitIdle()
		d := fmt.Sprint(onlyLine(t, h)["detail"])
		if n := gl.Retries(project, 3); n != 0 || !strings.Contains(d, "is archived") || !strings.Contains(d, "a new pipeline is needed") || strings.Contains(d, "already retried") {
			t.Errorf("archived %s: %d retries, %q; want none and a new pipeline needed", when, n, d)
		}
	}
}

// An instance-wide system hook (X-Gitlab-Event: System Hook) carrying a
// merge request event is read as a group hook's; its other events are
// acknowledged and ignored.
func TestSystemHookMergeRequestEvent(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 3, passing)
	h := start(t, gl, func(c *config) { c.engine.Watch = mustWatch("group") })
	sys := func(id string) []string {
		return []string{"X-Gitlab-Event", "System Hook", "X-Gitlab-Token", testSecret, "Idempotency-Key", id}
	}
	if code, _ := h.post([]byte(`{"event_name":"project_create","name":"x","path_with_namespace":"group/x","project_id":5}`), sys("sys-other")...); code != http.StatusOK {
		t.Errorf("system hook project_create: %d, want 200", code)
	}
	if code, _ := h.post(payload(t, project, path, 3, "a", 0, passing), sys("sys-mr")...); code != http.StatusAccepted {
		t.Errorf("system hook merge request event: %d, want 202", code)
	}
	h.waitIdle()
	if n := gl.Retries(project, 3); n != 1 {
		t.Errorf("system hook merge request event: %d retries, want 1; log:\n%s", n, h.logs.String())
	}
	var ignored bool
	for _, l := range h.logs.lines("delivery") {
		ignored = ignored || (l["outcome"] == "ignored" && strings.Contains(fmt.Sprint(l["reason"]), `a system hook event "project_create"`))
	}
	if !ignored {
		t.Errorf("no line says the project_create system hook event was ignored:\n%s", h.logs.String())
	}
}

// warnedLabelJob gives merge request iid a head pipeline whose label job
// ended in the check's warning (exit 4, allowed to fail: GitLab says
// failed, script_failure, allow_failure), labels missing, draft or not.
func warnedLabelJob(gl *gitlabtest.Server, iid int64, draft bool) (pipeline int64) {
	gl.SetLabels(project, path, iid)
	gl.SetDraft(project, path, iid, draft)
	p := gl.AddPipeline(project, path, iid, gitlabtest.Job{Name: jobName, Status: "failed", AllowFailure: true})
	return p
}

// Issue 21: a draft's warning is retried once the merge request is
// marked ready (GitLab runs no pipeline then), once: the retry's own
// warning (enforce false) is not retried again. A warning on a merge
// request never marked ready is left alone, whatever else changes.
func TestDraftMarkedReadyRetriedOnce(t *testing.T) {
	gl := newStandIn(t)
	p := warnedLabelJob(gl, 3, true)
	h := start(t, gl, nil)
	h.post(payload(t, project, path, 3, "a", 0), hook("draft")...)
	h.waitIdle()
	if n := gl.Retries(project, 3); n != 0 {
		t.Fatalf("a draft's warning: %d retries, want 0", n)
	}
	gl.SetDraft(project, path, 3, false)
	h.post(payload(t, project, path, 3, "a", 0), hook("ready")...)
	h.waitIdle()
	if n := gl.Retries(project, 3); n != 1 {
		t.Fatalf("marked ready: %d retries, want 1; log:\n%s", n, h.logs.String())
	}
	// The retry warns again (enforce: false): no loop.
	again := gl.LabelJob(p, jobName).ID
	gl.SetJobStatus(again, "failed")
	gl.SetJobFailure(again, "script_failure", true)
	for i := range 3 {
		h.post(payload(t, project, path, 3, "a", 0), hook(fmt.Sprint("after-", i))...)
		h.waitIdle()
	}
	if n := gl.Retries(project, 3); n != 1 {
		t.Errorf("the retry's own warning: %d retries, want still 1", n)
	}

	// enforce: false on a merge request never a draft: its warning stands.
	warnedLabelJob(gl, 4, false)
	gl.SetTitle(project, path, 4, "an edit")
	h.post(payload(t, project, path, 4, "a", 0), hook("enforce-false")...)
	h.waitIdle()
	if n := gl.Retries(project, 4); n != 0 {
		t.Errorf("a warning for enforce false: %d retries, want 0", n)
	}
}
