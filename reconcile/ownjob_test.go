package reconcile

import (
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
)

// A --watch group:ID entry: the worker decides --watch on GitLab's path of
// each merge request's project, so reconcile learns the group's path
// (GET /groups/:id, once) and acts inside it.
func TestReconcileWatchGroupByID(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	gl.AddGroup(7, "group", project)
	if e, logs := reconcile(t, gl, nil, "--watch", "group:7"); e != nil || gl.Retries(project, 1) != 1 {
		t.Errorf("reconcile --watch group:7: %v, %d retries of !1, want exit 0 and 1:\n%s", e, gl.Retries(project, 1), logs.String())
	}
	n := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool { return r.Path == "/api/v4/groups/7" })
	if n != 1 {
		t.Errorf("GET /groups/7 %d times, want once", n)
	}
}

// A draft's warning (exit 4, allowed to fail) is retried by reconcile
// once the merge request is marked ready, and only once: a second run
// finds the retry's own warning and leaves it.
func TestReconcileDraftMarkedReadyRetriedOnce(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 5)
	gl.SetDraft(project, path, 5, true)
	p := gl.AddPipeline(project, path, 5, gitlabtest.Job{Name: reruntest.JobName, Status: "failed", AllowFailure: true})
	if e, _ := reconcile(t, gl, nil, "--watch", path); e != nil || gl.Retries(project, 5) != 0 {
		t.Fatalf("a draft's warning: %v, %d retries, want exit 0 and none", e, gl.Retries(project, 5))
	}
	gl.SetDraft(project, path, 5, false)
	if e, _ := reconcile(t, gl, nil, "--watch", path); e != nil || gl.Retries(project, 5) != 1 {
		t.Fatalf("marked ready: %v, %d retries, want exit 0 and 1", e, gl.Retries(project, 5))
	}
	again := gl.LabelJob(p, reruntest.JobName).ID
	gl.SetJobStatus(again, "failed")
	gl.SetJobFailure(again, "script_failure", true)
	if e, _ := reconcile(t, gl, nil, "--watch", path); e != nil || gl.Retries(project, 5) != 1 {
		t.Errorf("the retry's own warning: %v, %d retries, want exit 0 and still 1", e, gl.Retries(project, 5))
	}
}
