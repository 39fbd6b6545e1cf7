package serve

import (
	"fmt"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// A job event from a fork's merge request pipeline names the fork's
// project and the target's iid, and nothing of the target: GitLab finds no
// such merge request in the fork, and the task ends there with the reason
// at INFO, not as a GitLab fault (the merge request hook or the sweep
// covers the target's merge request).
func TestForkJobEventEndsQuietly(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 3)
	fp := gl.AddForkPipeline(99, "alice/project", project, path, 3, labelJobs("failed")...)
	gl.SetLabels(project, path, 3, passing)
	h := start(t, gl, func(c *config) { c.engine.RetryForks = true })
	body := event(t, "job_event.json", func(ev map[string]any) {
		ev["build_name"], ev["build_status"], ev["ref"], ev["project_id"] = jobName, "failed", "refs/merge-requests/3/head", 99
		ev["project"] = map[string]any{"id": 99, "path_with_namespace": "alice/project"}
	})
	h.post(body, "X-Gitlab-Event", eventJob, "X-Gitlab-Token", testSecret, "Idempotency-Key", "fork-job")
	h.waitIdle()
	l := onlyLine(t, h)
	if l["level"] != "INFO" || l["action"] != "none" || !strings.Contains(fmt.Sprint(l["detail"]), "no merge request !3 in project 99: a fork's pipeline?") {
		t.Errorf("fork job event: %v, want INFO, action none, the fork's reason", l)
	}
	if status, attempts := newestLabelJob(gl, fp); attempts != 1 {
		t.Errorf("label job %s after %d attempts, want untouched", status, attempts)
	}
}

// A pipeline event of a fork's pipeline names the target by id only: with
// a --watch of paths, the worker applies it once it read the target's
// path from GitLab: inside, acted on; outside, left alone.
func TestForkPipelineEventWatchByPath(t *testing.T) {
	for _, c := range []struct {
		watch   string
		retries int
	}{{"group", 1}, {"elsewhere", 0}} {
		gl := newStandIn(t)
		gl.SetLabels(project, path, 3)
		gl.AddForkPipeline(99, "alice/project", project, path, 3, labelJobs("failed")...)
		gl.SetLabels(project, path, 3, passing)
		allow, err := rerun.ParseWatch([]string{c.watch})
		if err != nil {
			t.Fatal(err)
		}
		h := start(t, gl, func(cfg *config) { cfg.engine.RetryForks = true; cfg.engine.Watch = allow })
		body := event(t, "pipeline_event.json", func(ev map[string]any) {
			mr := ev["merge_request"].(map[string]any)
			mr["iid"], mr["target_project_id"], mr["source_project_id"] = 3, project, 99
			ev["project"] = map[string]any{"id": 99, "path_with_namespace": "alice/project"}
			b := ev["builds"].([]any)[1].(map[string]any)
			b["name"], b["status"] = jobName, "failed"
		})
		code, _ := h.post(body, "X-Gitlab-Event", eventPipeline, "X-Gitlab-Token", testSecret, "Idempotency-Key", "fork-pipe")
		h.waitIdle()
		if n := gl.Retries(project, 3); code != 202 || n != c.retries {
			t.Errorf("--watch %s, fork pipeline event: %d, %d retries, want 202 and %d; log:\n%s", c.watch, code, n, c.retries, h.logs.String())
		}
		if c.retries == 0 && !strings.Contains(fmt.Sprint(onlyLine(t, h)["detail"]), "outside --watch") {
			t.Errorf("--watch %s: the line does not say the project is outside --watch:\n%s", c.watch, h.logs.String())
		}
	}
}

// A fork's merge request (source_project_id is the fork) whose pipeline a
// member ran in the parent project is a fork's all the same: left alone
// without --retry-forks, retried with it.
func TestForkMergeRequestPipelineInParentProject(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 8, passing)
	gl.SetSourceProject(project, path, 8, 99)
	h := start(t, gl, nil)
	h.deliver(8, "fork-parent")
	if n := gl.Retries(project, 8); n != 0 || !strings.Contains(fmt.Sprint(onlyLine(t, h)["detail"]), "a fork's merge request (source project 99)") {
		t.Errorf("fork merge request, pipeline in the parent project, --retry-forks off: %d retries, want 0 and the reason; log:\n%s", n, h.logs.String())
	}
	h2 := start(t, gl, func(c *config) { c.engine.RetryForks = true })
	h2.post(payload(t, project, path, 8, "a", 0, passing), hook("fork-parent-2")...)
	h2.waitIdle()
	if n := gl.Retries(project, 8); n != 1 {
		t.Errorf("the same with --retry-forks: %d retries, want 1", n)
	}
}
