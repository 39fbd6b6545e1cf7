package serve

// The worker against a stand-in that behaves as GitLab does (issues 14 and
// 15): each test here fails on the worker that read the payload's labels
// and the highest pipeline id of a page.

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
)

// labelJobs is a pipeline's jobs with the label job in the given status.
func labelJobs(status string) []gitlabtest.Job {
	return []gitlabtest.Job{{Name: "build", Status: "success"}, {Name: jobName, Status: status}}
}

// onlyLine is the one delivery line of a harness.
func onlyLine(t *testing.T, h *harness) map[string]any {
	t.Helper()
	lines := h.logs.lines("delivery")
	if len(lines) != 1 {
		t.Fatalf("%d delivery lines, want 1:\n%s", len(lines), h.logs.String())
	}
	return lines[0]
}

// The head pipeline is acted on even when a newer pipeline (a higher id)
// exists: the head pipeline's failed label job is retried, the other's
// job untouched.
func TestActsOnHeadPipelineNotHighestID(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 1)
	head := gl.AddPipeline(project, path, 1, labelJobs("failed")...)
	newer := gl.AddPipeline(project, path, 1, labelJobs("canceled")...)
	gl.SetHeadPipeline(project, path, 1, head)
	gl.SetLabels(project, path, 1, passing)
	h := start(t, gl, nil)
	h.deliver(1, "head")
	if status, attempts := newestLabelJob(gl, head); status != "pending" || attempts != 2 {
		t.Errorf("head pipeline %d: label job %s after %d attempts, want retried", head, status, attempts)
	}
	if status, attempts := newestLabelJob(gl, newer); status != "canceled" || attempts != 1 {
		t.Errorf("pipeline %d (not the head): label job %s after %d attempts, want untouched", newer, status, attempts)
	}
}

// Branch and merge request pipelines mixed (GitLab lists both for a merge
// request): the branch pipeline, newer and without the label job, does
// not hide the merge request pipeline's failed label job.
func TestBranchAndMergeRequestPipelinesMixed(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 2)
	mrPipeline := gl.AddPipeline(project, path, 2, labelJobs("failed")...)
	gl.AddBranchPipeline(project, path, 2, gitlabtest.Job{Name: "build", Status: "success"})
	gl.SetLabels(project, path, 2, passing)
	h := start(t, gl, nil)
	h.deliver(2, "mixed")
	if n := gl.Retries(project, 2); n != 1 {
		t.Errorf("%d retries, want the merge request pipeline's label job retried once", n)
	}
	if status, _ := newestLabelJob(gl, mrPipeline); status != "pending" {
		t.Errorf("label job %s, want pending", status)
	}
}

// A job named like the label job in a child pipeline of the head
// pipeline is not the component's (it adds the label job to merge request
// pipelines only): it is never retried, and the head pipeline's bridges
// are not even listed.
func TestLabelJobInChildPipelineNotRetried(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 3)
	parent := gl.AddPipeline(project, path, 3, gitlabtest.Job{Name: "build", Status: "success"})
	child := gl.AddChildPipeline(parent, "checks", labelJobs("failed")...)
	gl.SetLabels(project, path, 3, passing)
	h := start(t, gl, nil)
	h.deliver(3, "child")
	if status, attempts := newestLabelJob(gl, child); status != "failed" || attempts != 1 || gl.Retries(project, 3) != 0 {
		t.Errorf("child pipeline's label job %s after %d attempts, want left alone; log:\n%s", status, attempts, h.logs.String())
	}
	if d := fmt.Sprint(onlyLine(t, h)["detail"]); !strings.Contains(d, fmt.Sprintf(`no job %q in head pipeline %d`, jobName, parent)) {
		t.Errorf("the line says %q, want no label job in the head pipeline", d)
	}
	for _, r := range gl.Requests() {
		if strings.HasSuffix(r.Path, "/bridges") || strings.Contains(r.Path, fmt.Sprintf("/pipelines/%d/", child)) {
			t.Errorf("the child pipeline was looked for: %s %s", r.Method, r.Path)
		}
	}
}

// A label removed after the label job passed: the successful job is
// retried, so that it fails for the right reason, and the status check of
// ours is answered failed.
func TestLabelRemovedAfterJobPassed(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 4, passing)
	pipeline := gl.AddPipeline(project, path, 4, labelJobs("success")...)
	gl.SetLabels(project, path, 4, "backend")
	h := start(t, gl, nil)
	h.post(payload(t, project, path, 4, "a", 0, "backend"), hook("removed")...)
	h.waitIdle()
	if status, attempts := newestLabelJob(gl, pipeline); status != "pending" || attempts != 2 {
		t.Errorf("label job %s after %d attempts, want the successful job retried", status, attempts)
	}
	sha := gl.HeadSHA(project, path, 4)
	if got := gl.StatusChecks(project, 4); len(got) != 1 || got[0] != (gitlabtest.StatusCheckResponse{SHA: sha, ExternalStatusCheckID: ours, Status: "failed"}) {
		t.Errorf("status check responses %+v, want one failed for the head", got)
	}
	l := onlyLine(t, h)
	if l["verdict"] != "fail" || !strings.Contains(fmt.Sprint(l["action"]), "retried") || !strings.Contains(fmt.Sprint(l["action"]), "status_failed") {
		t.Errorf("delivery line %v, want verdict fail, retried and status_failed", l)
	}
}

// An update that changes no label (a title edit) never retries: the job
// failed for another reason after it read the same labels.
func TestTitleEditDoesNotRetry(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 5, passing)
	pipeline := gl.AddPipeline(project, path, 5, labelJobs("failed")...)
	h := start(t, gl, nil)
	for i := range 5 {
		gl.SetTitle(project, path, 5, fmt.Sprintf("title %d", i))
		h.post(payload(t, project, path, 5, "a", 0, passing), hook(fmt.Sprint("title-", i))...)
		h.waitIdle()
	}
	if n := gl.Retries(project, 5); n != 0 {
		t.Errorf("%d retries after title edits, want 0", n)
	}
	if status, _ := newestLabelJob(gl, pipeline); status != "failed" {
		t.Errorf("label job %s, want left failed", status)
	}
	if l := h.logs.lines("delivery"); len(l) == 0 || !strings.Contains(fmt.Sprint(l[0]["detail"]), "not changed") {
		t.Errorf("delivery lines %v, want one saying the labels have not changed", l)
	}
}

// A job that fails for another reason after a label change is retried
// once; once the new attempt has run and failed again, neither a second
// delivery nor sweeps retry it again.
func TestFailedForAnotherReasonRetriedOnce(t *testing.T) {
	gl := newStandIn(t)
	pipeline := failedLabelJob(gl, project, path, 6, passing)
	h := start(t, gl, func(c *config) {
		c.engine.Watch = mustWatch("group/project")
		c.engine.Interval = 50 * time.Millisecond
	})
	waitFor(t, "the first retry", func() bool { return gl.Retries(project, 6) == 1 })
	h.waitIdle()
	retry := gl.LabelJob(pipeline, jobName)
	gl.SetJobStatus(retry.ID, "running")
	gl.SetJobStatus(retry.ID, "failed") // no token: it read frozen labels
	h.post(payload(t, project, path, 6, "a", 0, passing), hook("again")...)
	waitFor(t, "three more sweeps", func() bool { return len(h.logs.lines("reconcile")) >= 4 })
	h.waitIdle()
	if n := gl.Retries(project, 6); n != 1 {
		t.Errorf("%d retries, want 1: the labels have not changed since the second attempt read them", n)
	}
}

// Two services on one GitLab (replicas, or a replica and a sweep) retry a
// job whose labels changed once between them.
func TestTwoServicesOneRetry(t *testing.T) {
	gl := newStandIn(t)
	pipeline := failedLabelJob(gl, project, path, 7, passing)
	a := start(t, gl, nil)
	b := start(t, gl, func(c *config) {
		c.engine.Watch = mustWatch("group/project")
		c.engine.Interval = 30 * time.Millisecond
	})
	a.post(payload(t, project, path, 7, "a", 0, passing), hook("first")...)
	waitFor(t, "one retry", func() bool { return gl.Retries(project, 7) >= 1 })
	a.waitIdle()
	b.waitIdle()
	// The new attempt fails too, for another reason; both go on looking.
	retry := gl.LabelJob(pipeline, jobName)
	gl.SetJobStatus(retry.ID, "running")
	gl.SetJobStatus(retry.ID, "failed")
	sweeps := len(b.logs.lines("reconcile"))
	for i := range 3 {
		a.post(payload(t, project, path, 7, "a", 0, passing), hook(fmt.Sprint(i))...)
		a.waitIdle()
	}
	waitFor(t, "b's sweeps", func() bool { return len(b.logs.lines("reconcile")) >= sweeps+3 })
	b.waitIdle()
	if n := gl.Retries(project, 7); n != 1 {
		t.Errorf("%d retries by two services, want 1", n)
	}
}

// A signed status check request whose payload says the labels pass, for a
// merge request whose labels in GitLab are bug: no retry, and the check
// is answered failed.
func TestPayloadLabelsDoNotDecide(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 8)
	pipeline := gl.AddPipeline(project, path, 8, labelJobs("failed")...)
	gl.SetLabels(project, path, 8, "bug")
	h := start(t, gl, nil)
	sha := gl.HeadSHA(project, path, 8)
	body := payload(t, project, path, 8, sha, ours, passing)
	h.post(body, "X-Gitlab-Signature", sign(body, testSecret))
	h.waitIdle()
	if n := gl.Retries(project, 8); n != 0 {
		t.Errorf("%d retries on the payload's labels, want 0", n)
	}
	if status, _ := newestLabelJob(gl, pipeline); status != "failed" {
		t.Errorf("label job %s, want failed", status)
	}
	if got := gl.StatusChecks(project, 8); len(got) != 1 || got[0].Status != "failed" || got[0].SHA != sha {
		t.Errorf("status check responses %+v, want one failed for the head", got)
	}
	if l := onlyLine(t, h); l["verdict"] != "fail" {
		t.Errorf("delivery line %v, want verdict fail", l)
	}
}

// A status check request naming another service's check (its rule id)
// leaves that check untouched; only ours is answered.
func TestAnotherServicesCheckUntouched(t *testing.T) {
	gl := newStandIn(t)
	theirs := gl.AddStatusCheck(project, path, "security-scan")
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 9, passing)
	h := start(t, gl, nil)
	body := payload(t, project, path, 9, gl.HeadSHA(project, path, 9), theirs, passing)
	h.post(body, "X-Gitlab-Signature", sign(body, testSecret))
	h.waitIdle()
	for _, r := range gl.StatusChecks(project, 9) {
		if r.ExternalStatusCheckID == theirs {
			t.Errorf("another service's check was answered: %+v", r)
		}
	}
	if got := gl.StatusCheckStatus(project, path, 9, ours); got != "passed" {
		t.Errorf("our check is %s, want passed", got)
	}
	if got := gl.StatusCheckStatus(project, path, 9, theirs); got != "pending" {
		t.Errorf("their check is %s, want pending (untouched)", got)
	}
}

// A late status check request for an older commit: the head commit GitLab
// reports is answered, not the payload's.
func TestLateStatusCheckRequestAnswersHead(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 10, passing)
	old := gl.HeadSHA(project, path, 10)
	head := strings.Repeat("b", 40)
	gl.SetHeadSHA(project, path, 10, head)
	h := start(t, gl, nil)
	body := payload(t, project, path, 10, old, ours, passing)
	h.post(body, "X-Gitlab-Signature", sign(body, testSecret))
	h.waitIdle()
	if got := gl.StatusChecks(project, 10); len(got) != 1 || got[0] != (gitlabtest.StatusCheckResponse{SHA: head, ExternalStatusCheckID: ours, Status: "passed"}) {
		t.Errorf("status check responses %+v, want one passed for the head %s", got, head)
	}
}

// A check still pending, or turned failed by GitLab's timeout since an
// answer was lost, is answered by the sweep; whether the project has a
// check of ours is asked once, not per merge request.
func TestSweepAnswersLostStatusChecks(t *testing.T) {
	gl := newStandIn(t)
	gl.SetStatusCheckTimeout(time.Millisecond)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	for iid := int64(20); iid < 25; iid++ {
		gl.SetLabels(project, path, iid, passing)
	}
	h := start(t, gl, func(c *config) { c.engine.Watch = mustWatch("group/project"); c.engine.Interval = time.Hour })
	waitFor(t, "the sweep's answers", func() bool {
		for iid := int64(20); iid < 25; iid++ {
			if gl.StatusCheckStatus(project, path, iid, ours) != "passed" {
				return false
			}
		}
		return true
	})
	h.waitIdle()
	n := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool { return strings.HasSuffix(r.Path, "/external_status_checks") })
	if n != 1 {
		t.Errorf("%d lookups of the project's status checks for 5 merge requests, want 1", n)
	}
}

// Four merge requests of a project whose GitLab calls hang hold at most
// half the workers: the other project's merge requests are answered
// meanwhile.
func TestHangingProjectDoesNotHoldAllWorkers(t *testing.T) {
	gl := newStandIn(t)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.Contains(r.URL.Path, "/projects/43/") {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		return false
	})
	for iid := int64(1); iid <= 4; iid++ {
		failedLabelJob(gl, 43, "group/slow", iid, passing)
	}
	for iid := int64(1); iid <= 10; iid++ {
		failedLabelJob(gl, project, path, iid, passing)
	}
	h := start(t, gl, func(c *config) {
		c.engine.Workers = 4
		c.engine.CallTimeout = time.Minute
		c.engine.Budget = 2 * time.Minute
	})
	for iid := int64(1); iid <= 4; iid++ {
		h.post(payload(t, 43, "group/slow", iid, "a", 0, passing), hook(fmt.Sprint("slow-", iid))...)
	}
	// The slow ones take their workers: two (the per-project limit of 4
	// workers) hang in GitLab.
	waitFor(t, "two workers hanging in project 43", func() bool {
		n := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool { return strings.Contains(r.Path, "/projects/43/") })
		return n >= 2
	})
	for iid := int64(1); iid <= 10; iid++ {
		h.post(payload(t, project, path, iid, "a", 0, passing), hook(fmt.Sprint("ok-", iid))...)
	}
	waitFor(t, "the healthy project's retries", func() bool {
		for iid := int64(1); iid <= 10; iid++ {
			if gl.Retries(project, iid) != 1 {
				return false
			}
		}
		return true
	})
	// (Were every worker held, the healthy project's retries would wait
	// for the release, which comes only after this line: waitFor fails.)
	if n := gl.Retries(43, 1) + gl.Retries(43, 2) + gl.Retries(43, 3) + gl.Retries(43, 4); n != 0 {
		t.Errorf("%d retries in the hanging project before it answered", n)
	}
	free()
	h.waitIdle()
}

// A 502 storm on the jobs API costs one delivery at most 8 GitLab calls,
// status checks of ours included: steps done are not redone by a later try.
func TestJobsBadGatewayStormCostsAtMostEightCalls(t *testing.T) {
	gl := newStandIn(t)
	gl.AddStatusCheck(project, path, "echoes-labels")
	failedLabelJob(gl, project, path, 1, passing)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.Contains(r.URL.Path, "/jobs") || strings.Contains(r.URL.Path, "/pipelines/") {
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	h := start(t, gl, nil)
	h.deliver(1, "storm")
	if n := gl.Count(); n > 8 {
		for _, r := range gl.Requests() {
			t.Logf("%s %s", r.Method, r.Path)
		}
		t.Errorf("%d GitLab calls for one delivery in a 502 storm on the jobs API, want at most 8", n)
	}
	if l := onlyLine(t, h); !strings.Contains(fmt.Sprint(l["action"]), "gave_up") || !strings.Contains(fmt.Sprint(l["action"]), "status_passed") {
		t.Errorf("delivery line %v, want the check answered, then gave_up", l)
	}
}

// No head pipeline, a closed merge request: nothing to do, said in the line.
func TestNothingToDoSaysWhy(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 30, passing)
	gl.SetLabels(project, path, 31, passing)
	gl.SetState(project, path, 31, "merged")
	h := start(t, gl, nil)
	h.post(payload(t, project, path, 30, "a", 0, passing), hook("none")...)
	h.deliver(31, "merged")
	want := map[float64]string{30: "no head pipeline", 31: "the merge request is merged"}
	for _, l := range h.logs.lines("delivery") {
		if d := fmt.Sprint(l["detail"]); !strings.Contains(d, want[l["mr"].(float64)]) || l["action"] != "none" {
			t.Errorf("line %v, want action none and detail %q", l, want[l["mr"].(float64)])
		}
	}
}

// GitLab failing the merge request's status checks (502 on every try)
// does not keep the label job from being retried: both steps are done,
// and the task gives up on the checks after.
func TestChecksFaultDoesNotBlockRetry(t *testing.T) {
	gl := newStandIn(t)
	gl.AddStatusCheck(project, path, "echoes-labels")
	failedLabelJob(gl, project, path, 6, passing)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/merge_requests/6/status_checks") {
			gitlabtest.Error(w, 502, "502 Bad Gateway")
			return true
		}
		return false
	})
	h := start(t, gl, nil)
	h.deliver(6, "c")
	if n := gl.Retries(project, 6); n != 1 {
		t.Errorf("status checks list failing: %d retries of the label job, want 1", n)
	}
	if l := onlyLine(t, h); l["action"] != "retried+gave_up" {
		t.Errorf("action %v, want retried+gave_up", l["action"])
	}
}

// A token without the Maintainer role (403 on the project's status
// checks): one merge request whose list holds no check of ours (its
// target branch is not covered) does not make the project "has none":
// the next merge request's check of ours is answered.
func TestDeveloperTokenEmptyListNotCachedForProject(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 1, passing)
	gl.SetLabels(project, path, 2, passing)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch r.URL.Path {
		case "/api/v4/projects/42/external_status_checks":
			gitlabtest.Error(w, 403, "403 Forbidden")
			return true
		case "/api/v4/projects/42/merge_requests/1/status_checks":
			gitlabtest.JSON(w, 200, []any{})
			return true
		}
		return false
	})
	h := start(t, gl, nil)
	h.deliver(1, "mr1")
	h.deliver(2, "mr2")
	if got := gl.StatusCheckStatus(project, path, 2, ours); got != "passed" {
		t.Errorf("MR 2's check of ours is %s after its MR hook, want passed", got)
	}
}

// Labels that fail: the line says the label job is red for the right
// reason only when it failed; a job that succeeded without a label
// change since, one still running, or none at all, says what it is.
func TestRedForTheRightReasonOnlyWhenTheJobFailed(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 40, "backend")
	gl.SetLabels(project, path, 41, "backend")
	gl.AddPipeline(project, path, 41, labelJobs("success")...)
	gl.SetLabels(project, path, 42, "backend")
	gl.AddPipeline(project, path, 42, labelJobs("running")...)
	gl.SetLabels(project, path, 43, "backend")
	h := start(t, gl, nil)
	for iid := int64(40); iid <= 43; iid++ {
		h.post(payload(t, project, path, iid, "a", 0, "backend"), hook(fmt.Sprint(iid))...)
	}
	h.waitIdle()
	for _, l := range h.logs.lines("delivery") {
		red := strings.Contains(fmt.Sprint(l["detail"]), "red for the right reason")
		if want := l["mr"] == 40.0; red != want {
			t.Errorf("merge request %v: %q, want \"red for the right reason\": %v", l["mr"], l["detail"], want)
		}
	}
}

// Two replicas given one update's pair of deliveries at once (the merge
// request hook on one, the status check request on the other): each
// task's settle has a random part, so they act at different moments and
// the later one finds the job retried. The random parts are fixed here:
// none for a, 2 s for b (a settle of 150 ms would do on a quiet machine;
// a busy one may take that long over a's work).
func TestTwoReplicasPairOfDeliveriesActAtDifferentMoments(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	failedLabelJob(gl, project, path, 7, passing)
	var mu sync.Mutex
	posts := 0
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/retry") {
			mu.Lock()
			posts++
			mu.Unlock()
		}
		return false
	})
	tune := func(jitter time.Duration) func(*config) {
		return func(c *config) {
			c.engine.Settle = 150 * time.Millisecond
			c.engine.Jitter = func(time.Duration) time.Duration { return jitter }
		}
	}
	a := start(t, gl, tune(0))
	b := start(t, gl, tune(2*time.Second))
	body := payload(t, project, path, 7, gl.HeadSHA(project, path, 7), ours, passing)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.post(payload(t, project, path, 7, "a", 0, passing), hook("mr-hook")...) }()
	go func() { defer wg.Done(); b.post(body, "X-Gitlab-Signature", sign(body, testSecret)) }()
	wg.Wait()
	a.waitIdle()
	b.waitIdle()
	mu.Lock()
	defer mu.Unlock()
	if posts != 1 || gl.Retries(project, 7) != 1 {
		t.Errorf("%d POST .../retry for one job by two replicas, %d retries; want 1", posts, gl.Retries(project, 7))
	}
	if got := gl.StatusCheckStatus(project, path, 7, ours); got != "passed" {
		t.Errorf("the check is %s, want passed", got)
	}
}

// Jobs read more than a moment before the retry are read again just
// before it: a retry another replica made meanwhile is seen, and the job
// is not retried twice.
func TestJobsReadAgainBeforeALateRetry(t *testing.T) {
	gl := newStandIn(t)
	pipeline := failedLabelJob(gl, project, path, 9, passing)
	var once sync.Once
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/merge_requests/9/resource_label_events") {
			once.Do(func() {
				// Another replica retries the job while this one lists the
				// label events, slowly.
				job := gl.LabelJob(pipeline, jobName)
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/projects/%d/jobs/%d/retry", gl.APIURL(), project, job.ID), nil)
				req.Header.Set("PRIVATE-TOKEN", testToken)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
				time.Sleep(50 * time.Millisecond)
			})
		}
		return false
	})
	h := start(t, gl, func(c *config) { c.engine.RereadJobs = 10 * time.Millisecond })
	h.deliver(9, "late")
	posts := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/retry")
	})
	if n := gl.Retries(project, 9); n != 1 || posts != 1 {
		t.Errorf("%d retries, %d POST .../retry; want 1 and 1 (the other replica's): on real GitLab a second POST can succeed", n, posts)
	}
	if d := fmt.Sprint(onlyLine(t, h)["detail"]); !strings.Contains(d, "already retried") {
		t.Errorf("detail %q, want it to say the job was already retried", d)
	}
}
