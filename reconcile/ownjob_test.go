package reconcile

import "testing"

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
	n := 0
	for _, r := range gl.Requests() {
		if r.Path == "/api/v4/groups/7" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("GET /groups/7 %d times, want once", n)
	}
}
