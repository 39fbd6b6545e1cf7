package serve

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
)

// A burst for one merge request (labels edited, GitLab sending the same
// delivery twice) retries the failed label job exactly once. Every
// delivery is answered 202 while GitLab has not answered anything yet: the
// answer never waits for GitLab. (How fast it comes is bench/serve.sh's
// business, not a timed unit test's.)
func TestBurstRetriesOnce(t *testing.T) {
	gl := newStandIn(t)
	pipeline := failedLabelJob(gl, project, path, 7, passing)
	release := make(chan struct{})
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		<-release
		return false
	})
	h := start(t, gl, nil)

	sha := gl.HeadSHA(project, path, 7)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uuid := fmt.Sprintf("uuid-%d", i/2) // every delivery twice
			// Were the answer to wait for GitLab, this would time out.
			if code, _ := h.post(payload(t, project, path, 7, sha, 0, passing, "backend"), hook(uuid)...); code != http.StatusAccepted {
				t.Errorf("delivery %d: %d, want 202 before GitLab answered anything", i, code)
			}
		}()
	}
	wg.Wait()
	close(release)
	h.waitIdle()
	if n := gl.Retries(project, 7); n != 1 {
		t.Fatalf("the label job was retried %d times, want exactly 1", n)
	}
	if status, attempts := newestLabelJob(gl, pipeline); status != "pending" || attempts != 2 {
		t.Errorf("label job: newest attempt %s of %d, want a pending second attempt", status, attempts)
	}
	// Coalescing: far fewer GitLab calls than deliveries, and one POST.
	posts := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool { return r.Method == http.MethodPost })
	if n := gl.Count(); n >= 40 || posts != 1 {
		t.Errorf("%d GitLab calls (%d POSTs) for 40 deliveries on one merge request, want fewer than 40 and one POST", n, posts)
	}

	// A second burst finds the new attempt pending: nothing more to do.
	for i := range 5 {
		h.post(payload(t, project, path, 7, sha, 0, passing), hook(fmt.Sprintf("late-%d", i))...)
	}
	h.waitIdle()
	if n := gl.Retries(project, 7); n != 1 {
		t.Errorf("after a second burst: %d retries, want still 1", n)
	}

	// One log line per delivery, each with the fields the README promises.
	lines := h.logs.lines("delivery")
	if len(lines) != 45 {
		t.Errorf("%d delivery log lines, want 45 (one per delivery)", len(lines))
	}
	retried := 0
	for _, l := range lines {
		for _, k := range []string{"delivery", "project", "mr", "verdict", "action", "duration_ms"} {
			if _, ok := l[k]; !ok {
				t.Errorf("log line without %q: %v", k, l)
			}
		}
		if l["action"] == "retried" {
			retried++
		}
		if l["verdict"] != "pass" || l["project"] != path || l["mr"] != 7.0 {
			t.Errorf("log line %v: want verdict pass, project %s, mr 7", l, path)
		}
	}
	if retried == 0 {
		t.Error("no delivery line says retried")
	}
}

// Labels that still fail in GitLab leave the failed job red, whatever the
// payload says: GitLab is read, nothing is written.
func TestNoRetryWhenLabelsFail(t *testing.T) {
	gl := newStandIn(t)
	pipeline := failedLabelJob(gl, project, path, 3, "backend")
	h := start(t, gl, nil)
	for i := range 5 {
		if code, _ := h.post(payload(t, project, path, 3, "abc", 0, "backend", "echoes/intentional"), hook(fmt.Sprint(i))...); code != 202 {
			t.Errorf("delivery %d: %d, want 202", i, code)
		}
	}
	h.waitIdle()
	if n := gl.Retries(project, 3); n != 0 {
		t.Errorf("%d retries with failing labels, want 0", n)
	}
	if status, attempts := newestLabelJob(gl, pipeline); status != "failed" || attempts != 1 {
		t.Errorf("label job %s after %d attempts, want failed once", status, attempts)
	}
	for _, r := range gl.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s for failing labels, want reads only", r.Method, r.Path)
		}
	}
	for _, l := range h.logs.lines("delivery") {
		if l["verdict"] != "fail" || l["action"] != "none" {
			t.Errorf("log line %v: want verdict fail, action none", l)
		}
	}
}

// Jobs other than the failed label job, or a label job that passed, are
// left alone; and the head pipeline is the one looked at.
func TestOnlyTheNewestFailedLabelJob(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 1, passing)
	gl.AddPipeline(project, path, 1, gitlabtest.Job{Name: "test", Status: "failed"}, gitlabtest.Job{Name: jobName, Status: "success"})
	old := failedLabelJob(gl, project, path, 2, passing) // an older pipeline's failure…
	gl.AddPipeline(project, path, 2, gitlabtest.Job{Name: jobName, Status: "running"})
	h := start(t, gl, nil)
	h.post(payload(t, project, path, 1, "a", 0, passing), hook("1")...)
	h.post(payload(t, project, path, 2, "b", 0, passing), hook("2")...)
	h.waitIdle()
	if n1, n2 := gl.Retries(project, 1), gl.Retries(project, 2); n1+n2 != 0 {
		t.Errorf("retries: !1 %d, !2 %d; want none (no failed label job in the head pipelines)", n1, n2)
	}
	if status, _ := newestLabelJob(gl, old); status != "failed" {
		t.Errorf("the older pipeline's job is %s, want it left failed", status)
	}
}

// An external status check request (no X-Gitlab-Event, signed with the
// shared secret) makes the service answer the merge request's check of
// ours on GitLab's status check API, for the head commit: passed or failed
// as GitLab's labels are.
func TestStatusCheckAnswer(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 5, passing)
	gl.SetLabels(project, path, 6, "backend")
	h := start(t, gl, nil)
	for _, c := range []struct {
		iid    int64
		labels []string
		want   string
	}{{5, []string{passing}, "passed"}, {6, []string{"backend"}, "failed"}} {
		sha := gl.HeadSHA(project, path, c.iid)
		body := payload(t, project, path, c.iid, sha, ours, c.labels...)
		if code, _ := h.post(body, "X-Gitlab-Signature", sign(body, testSecret)); code != 202 {
			t.Fatalf("status check request: %d, want 202", code)
		}
		h.waitIdle()
		got := gl.StatusChecks(project, c.iid)
		if len(got) != 1 || got[0] != (gitlabtest.StatusCheckResponse{SHA: sha, ExternalStatusCheckID: ours, Status: c.want}) {
			t.Errorf("!%d: status check responses %+v, want one %s for %s and check %d", c.iid, got, c.want, sha, ours)
		}
	}
	// Asked again with nothing changed: the check already says the verdict.
	body := payload(t, project, path, 5, gl.HeadSHA(project, path, 5), ours, passing)
	h.post(body, "X-Gitlab-Signature", sign(body, testSecret))
	h.waitIdle()
	if got := gl.StatusChecks(project, 5); len(got) != 1 {
		t.Errorf("a check already passed was answered again: %+v", got)
	}
}

// A status check request without object_attributes.last_commit.id is
// answered all the same: the head commit is read from GitLab.
func TestStatusCheckWithoutLastCommitAnswered(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 5, passing)
	h := start(t, gl, nil)
	body := bytes.Replace(payload(t, project, path, 5, "", ours, passing), []byte(`"id":""`), []byte(`"x":""`), 1)
	if code, _ := h.post(body, "X-Gitlab-Signature", sign(body, testSecret)); code != http.StatusAccepted {
		t.Errorf("status check request without last_commit.id: %d, want 202", code)
	}
	h.waitIdle()
	if got := gl.StatusCheckStatus(project, path, 5, ours); got != "passed" {
		t.Errorf("check is %s, want passed", got)
	}
}

// 401 for a missing or wrong secret and a bad signature, having done
// nothing: nothing queued, no GitLab call.
func TestAuthentication(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	h := start(t, gl, nil)
	body := payload(t, project, path, 1, "a", 0, passing)
	check := payload(t, project, path, 1, "a", 9, passing)
	for _, c := range []struct {
		name    string
		body    []byte
		headers []string
		want    int
	}{
		{"no secret", body, []string{"X-Gitlab-Event", "Merge Request Hook"}, 401},
		{"wrong token", body, []string{"X-Gitlab-Event", "Merge Request Hook", "X-Gitlab-Token", "guess"}, 401},
		{"token with a prefix of the secret", body, []string{"X-Gitlab-Token", testSecret[:10]}, 401},
		{"empty token, no signature", body, []string{"X-Gitlab-Token", ""}, 401},
		{"signature with another secret", check, []string{"X-Gitlab-Signature", sign(check, "other")}, 401},
		{"signature of another body", check, []string{"X-Gitlab-Signature", sign(body, testSecret)}, 401},
		{"signature not hex", check, []string{"X-Gitlab-Signature", "not-hex"}, 401},
		{"right token, wrong signature", check, []string{"X-Gitlab-Token", testSecret, "X-Gitlab-Signature", "00"}, 202},
	} {
		code, _ := h.post(c.body, c.headers...)
		if code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
		if c.want == 401 && (gl.Count() != 0 || !h.svc.engine.Idle()) {
			t.Errorf("%s: a refused request did something: %d GitLab calls, queue depth %d", c.name, gl.Count(), h.svc.engine.Depth())
		}
	}
	h.waitIdle()
	if out := h.logs.String(); strings.Contains(out, testSecret[:10]) || strings.Contains(out, testToken) {
		t.Errorf("the log shows the secret or the token:\n%s", out)
	}
}

// An event the service does not read is acknowledged unread (200) only
// for a sender with the secret token; an unverified sender's body is
// read and its signature checked first: 401 when it is wrong.
func TestOtherEventUnverifiedSenderIs401(t *testing.T) {
	gl := newStandIn(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	h := start(t, gl, func(c *config) { c.signingKey = key })
	standard := func(body []byte, sig string) []string {
		return []string{"X-Gitlab-Event", "Push Hook", "webhook-signature", sig, "webhook-id", "x", "webhook-timestamp", fmt.Sprint(time.Now().Unix())}
	}
	body := []byte(`{}`)
	now := time.Now().Unix()
	for _, c := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"made-up X-Gitlab-Signature", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Signature", "00"}, 401},
		{"made-up webhook-signature", standard(body, "v1,AAAA"), 401},
		{"X-Gitlab-Token", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", testSecret}, 200},
		{"valid X-Gitlab-Signature", []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Signature", sign(body, testSecret)}, 200},
		{"valid webhook-signature", []string{"X-Gitlab-Event", "Push Hook", "webhook-id", "m", "webhook-timestamp", fmt.Sprint(now),
			"webhook-signature", standardSign(key, "m", now, body)}, 200},
	} {
		if code, _ := h.post(body, c.headers...); code != c.want {
			t.Errorf("%s, Push Hook: %d, want %d", c.name, code, c.want)
		}
	}
}

// Bodies from GitLab (a valid secret) that are of no use are answered
// 200, their reason logged: GitLab counts every other answer against the
// hook, and sending them again would not help. Oversized ones are 413,
// other event kinds acknowledged unread, and nothing reaches GitLab.
func TestBadRequests(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.maxBody = 64 << 10; c.maxSignedBody = 32 << 10 })
	mr := payload(t, project, path, 1, "a", 0, passing)
	push := []byte(`{"object_kind":"push","project":{"id":42},"object_attributes":{"iid":1}}`)
	big := append(bytes.Repeat([]byte(" "), 65<<10), mr...)
	for _, c := range []struct {
		name    string
		body    []byte
		headers []string
		want    int
	}{
		{"malformed JSON", []byte(`{"object_kind":"merge_request",`), hook("a"), 200},
		{"not an object", []byte(`[1,2]`), hook("b"), 200},
		{"a push body as a merge request event", push, hook("c"), 200},
		{"no merge request iid", []byte(`{"object_kind":"merge_request","project":{"id":42},"object_attributes":{}}`), hook("d"), 200},
		{"oversized", big, hook("e"), 413},
		{"oversized, signed", big, []string{"X-Gitlab-Signature", sign(big, testSecret)}, 413},
		{"a push event", push, []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", testSecret}, 200},
		{"a note event", mr, []string{"X-Gitlab-Event", "Note Hook", "X-Gitlab-Token", testSecret}, 200},
		{"a push event past the body cap", big, []string{"X-Gitlab-Event", "Push Hook", "X-Gitlab-Token", testSecret}, 200},
		{"a pipeline event past the body cap", big, []string{"X-Gitlab-Event", "Pipeline Hook", "X-Gitlab-Token", testSecret}, 413},
	} {
		if code, _ := h.post(c.body, c.headers...); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	resp, err := http.Get(h.url + "/webhook")
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /webhook: %v %v, want 405", resp.StatusCode, err)
	}
	h.waitIdle()
	if n := gl.Count(); n != 0 {
		t.Errorf("%d GitLab calls for refused or ignored requests, want 0", n)
	}
	for _, l := range h.logs.lines("delivery") {
		if l["outcome"] == outcomeBadRequest && (l["status"] != 200.0 || l["reason"] == "") {
			t.Errorf("an authenticated body of no use: %v, want 200 and its reason", l)
		}
	}
}

// GitLab down during a burst (5xx, slow): every delivery is still answered
// 202; the work is retried with backoff and done once GitLab is back.
func TestGitLabDownDuringBurst(t *testing.T) {
	gl := newStandIn(t)
	pipelines := map[int64]int64{}
	for iid := int64(1); iid <= 5; iid++ {
		pipelines[iid] = failedLabelJob(gl, project, path, iid, passing)
	}
	var down atomic.Bool
	down.Store(true)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if !down.Load() {
			return false
		}
		time.Sleep(20 * time.Millisecond)
		gitlabtest.Error(w, http.StatusServiceUnavailable, "503 Service Unavailable")
		return true
	})
	h := start(t, gl, func(c *config) {
		c.engine.Attempts = 50
		c.engine.Backoff, c.engine.MaxWait = 10*time.Millisecond, 50*time.Millisecond
	})
	for i := range 50 {
		iid := int64(i%5 + 1)
		if code, _ := h.post(payload(t, project, path, iid, "a", 0, passing), hook(fmt.Sprint(i))...); code != 202 {
			t.Errorf("delivery %d while GitLab is down: %d, want 202", i, code)
		}
	}
	waitFor(t, "the workers to meet the fault", func() bool { return len(h.logs.lines("gitlab fault; trying again")) >= 5 })
	down.Store(false)
	h.waitIdle()
	for iid := int64(1); iid <= 5; iid++ {
		if n := gl.Retries(project, iid); n != 1 {
			t.Errorf("!%d: %d retries after GitLab recovered, want 1", iid, n)
		}
	}
	if !strings.Contains(h.get("/metrics"), `echoes_serve_gitlab_api_errors_total{kind="5xx"}`) {
		t.Error("/metrics does not count the 5xx answers")
	}
}

// A GitLab that stays down makes the service give up with a log line,
// and it goes on answering.
func TestGivesUpWithALogLine(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	badGatewayWhile(gl, "") // for good
	h := start(t, gl, func(c *config) { c.engine.Attempts = 3 })
	h.deliver(1, "x")
	if lines := h.logs.lines("delivery"); !gaveUp(lines, "502") {
		t.Fatalf("delivery lines %v, want one gave_up naming the 502", lines)
	}
	if code, _ := h.post(payload(t, project, path, 1, "a", 0, passing), hook("y")...); code != 202 {
		t.Errorf("after giving up: %d, want 202", code)
	}
}

// Retry-After is honoured: the next call waits that long.
func TestRetryAfterHonoured(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			gitlabtest.Error(w, http.StatusTooManyRequests, "429 Too Many Requests")
			return true
		}
		return false
	})
	clk := &reruntest.Clock{}
	h := start(t, gl, func(c *config) { c.engine.MaxWait = 5 * time.Second; c.engine.Clock = clk })
	h.deliver(1, "x")
	if gl.Retries(project, 1) != 1 {
		t.Fatal("not retried after the 429")
	}
	if got := clk.Sleeps(); len(got) != 1 || got[0] != time.Second {
		t.Errorf("waits %v after a 429 with Retry-After: 1, want one of 1 s", got)
	}
}

// The service calls only --gitlab-url, never a URL from the payload.
func TestNeverCallsPayloadURLs(t *testing.T) {
	var hits atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(elsewhere.Close)
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	h := start(t, gl, nil)
	body := bytes.ReplaceAll(payload(t, project, path, 1, gl.HeadSHA(project, path, 1), ours, passing),
		[]byte("http://example.com"), []byte(elsewhere.URL))
	if !bytes.Contains(body, []byte(elsewhere.URL)) {
		t.Fatal("the payload has no URL to replace")
	}
	h.post(body, "X-Gitlab-Token", testSecret)
	h.waitIdle()
	if gl.Retries(project, 1) != 1 || len(gl.StatusChecks(project, 1)) != 1 {
		t.Fatal("the delivery was not acted on")
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests to a URL from the payload, want 0", n)
	}
}

// The reconcile finds the merge request whose webhook never came: a full
// sweep at start, then only what was updated since, with updated_after.
func TestReconcileCatchesLostWebhook(t *testing.T) {
	gl := newStandIn(t)
	gl.AddGroup(7, "group", project, 43)
	p1 := failedLabelJob(gl, project, path, 1, passing)
	failedLabelJob(gl, project, path, 2, "backend") // labels still fail
	failedLabelJob(gl, 43, "group/other", 9, passing)
	gl.SetUpdatedAt(project, path, 1, time.Now().Add(-72*time.Hour)) // the service was down for days
	gl.SetState(43, "group/other", 9, "merged")
	h := start(t, gl, func(c *config) {
		c.engine.Watch = mustWatch("group")
		c.engine.Interval = 50 * time.Millisecond
		c.engine.Overlap = 0
	})
	waitFor(t, "the first sweep's retry", func() bool { return gl.Retries(project, 1) == 1 })

	// Labels fixed on !2 later, with no webhook: the next sweep sees it.
	gl.SetLabels(project, path, 2, passing)
	waitFor(t, "a later sweep's retry", func() bool { return gl.Retries(project, 2) == 1 })
	waitFor(t, "two more sweeps", func() bool { return len(h.logs.lines("reconcile")) >= 4 })
	h.waitIdle()
	if n, m := gl.Retries(project, 1), gl.Retries(43, 9); n != 1 || m != 0 {
		t.Errorf("retries: !1 %d (want 1: its new attempt is pending), merged !9 %d (want 0)", n, m)
	}
	if status, _ := newestLabelJob(gl, p1); status != "pending" {
		t.Errorf("!1's label job is %s, want pending", status)
	}
	var first, later int
	for _, r := range gl.Requests() {
		if r.Path == "/api/v4/groups/group/merge_requests" {
			if r.Query.Get("state") != "opened" {
				t.Errorf("sweep without state=opened: %v", r.Query)
			}
			if r.Query.Get("updated_after") == "" {
				first++
			} else {
				later++
			}
		}
	}
	if first != 1 || later < 2 {
		t.Errorf("sweeps: %d full and %d with updated_after, want 1 full then the rest incremental", first, later)
	}
}

// A --watch entry that is a project, by id, is reconciled as one.
func TestReconcileProject(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 4, passing)
	h := start(t, gl, func(c *config) { c.engine.Watch = mustWatch("group/project"); c.engine.Interval = time.Hour })
	waitFor(t, "the retry", func() bool { return gl.Retries(project, 4) == 1 })
	h.waitIdle()
	lines := h.logs.lines("reconcile")
	if len(lines) != 1 || lines[0]["queued"] != 1.0 {
		t.Errorf("reconcile lines %v, want one that queued 1 merge request", lines)
	}
}

// SIGTERM with work in flight: the service stops accepting, finishes the
// work within the drain time and returns nil.
func TestShutdownFinishesWorkInFlight(t *testing.T) {
	gl := newStandIn(t)
	for iid := int64(1); iid <= 6; iid++ {
		failedLabelJob(gl, project, path, iid, passing)
	}
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		time.Sleep(100 * time.Millisecond) // a slow GitLab
		return false
	})
	// A drain time no busy machine reaches: the work is about 4 s of
	// slow GitLab answers with two workers, past the default 5 s under load.
	h := start(t, gl, func(c *config) { c.engine.Workers = 2; c.drain = time.Minute })
	for iid := int64(1); iid <= 6; iid++ {
		if code, _ := h.post(payload(t, project, path, iid, "a", 0, passing), hook(fmt.Sprint(iid))...); code != 202 {
			t.Fatalf("!%d: %d", iid, code)
		}
	}
	waitFor(t, "work in flight", func() bool { return gl.Count() > 0 })
	began := time.Now()
	if err := h.stop(); err != nil {
		t.Fatalf("stop: %v, want nil", err)
	}
	if took := time.Since(began); took > 2*time.Minute {
		t.Errorf("stopping took %s, want it bounded by the drain time (1 minute here) and the 2 s bound on closing connections", took)
	}
	for iid := int64(1); iid <= 6; iid++ {
		if n := gl.Retries(project, iid); n != 1 {
			t.Errorf("!%d: %d retries, want the queued work finished (1)", iid, n)
		}
	}
	if _, err := http.Post(h.url+"/webhook", "application/json", nil); err == nil {
		t.Error("the service still accepts connections after stopping")
	}
}

// Past the drain time the work left is abandoned with a log line, and
// the service still stops cleanly.
func TestShutdownDrainDeadline(t *testing.T) {
	gl := newStandIn(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	for iid := int64(1); iid <= 3; iid++ {
		failedLabelJob(gl, project, path, iid, passing)
	}
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	h := start(t, gl, func(c *config) { c.engine.Workers = 1; c.drain = 200 * time.Millisecond })
	for iid := int64(1); iid <= 3; iid++ {
		h.post(payload(t, project, path, iid, "a", 0, passing), hook(fmt.Sprint(iid))...)
	}
	waitFor(t, "work in flight", func() bool { return gl.Count() > 0 })
	if err := h.stop(); err != nil {
		t.Fatalf("stop: %v, want nil", err)
	}
	if n := len(h.logs.lines("stopped")); n != 1 {
		t.Fatalf("%d stopped lines", n)
	}
	abandoned := 0
	for _, l := range h.logs.lines("delivery") {
		if l["action"] == "abandoned" || l["action"] == "gave_up" {
			abandoned++
		}
	}
	if abandoned != 3 {
		t.Errorf("%d deliveries logged as abandoned or given up, want 3:\n%s", abandoned, h.logs.String())
	}
}

func (h *harness) get(p string) string {
	h.t.Helper()
	resp, err := http.Get(h.url + p)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		h.t.Errorf("GET %s: %d", p, resp.StatusCode)
	}
	return string(b)
}

func TestHealthzAndMetrics(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	h := start(t, gl, nil)
	if got := h.get("/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	h.post(payload(t, project, path, 1, "a", 0, passing), hook("1")...)
	h.post(payload(t, project, path, 1, "a", 0, passing), "X-Gitlab-Token", "wrong")
	h.waitIdle()
	m := h.get("/metrics")
	for _, want := range []string{
		`echoes_serve_deliveries_total{outcome="queued"} 1`,
		`echoes_serve_deliveries_total{outcome="unauthorized"} 1`,
		`echoes_serve_actions_total{action="job_retried"} 1`,
		`echoes_serve_queue_depth 0`,
		`echoes_serve_processing_seconds_count{source="webhook"} 1`,
		`echoes_serve_webhook_answer_seconds_count 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// Two replicas behind one load balancer, both getting the burst: the job
// is still retried once, and the replica that lost the race says so
// instead of failing.
func TestTwoReplicasRetryOnce(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 8, passing)
	a, b := start(t, gl, nil), start(t, gl, nil)
	sha := gl.HeadSHA(project, path, 8)
	var wg sync.WaitGroup
	for i := range 10 {
		for _, h := range []*harness{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				h.post(payload(t, project, path, 8, sha, 0, passing), hook(fmt.Sprint(i))...)
			}()
		}
	}
	wg.Wait()
	a.waitIdle()
	b.waitIdle()
	if n := gl.Retries(project, 8); n != 1 {
		t.Errorf("two replicas retried the job %d times, want 1", n)
	}
	for _, h := range []*harness{a, b} {
		for _, l := range h.logs.lines("delivery") {
			if l["action"] == "gave_up" {
				t.Errorf("a replica gave up: %v", l)
			}
		}
	}
}

// A merge request from a fork whose pipeline runs in the fork is left
// alone; with --retry-forks its jobs are listed and retried in the
// pipeline's project.
func TestForkPipeline(t *testing.T) {
	gl := newStandIn(t)
	gl.SetLabels(project, path, 11)
	pipeline := gl.AddForkPipeline(77, "someone/project", project, path, 11, gitlabtest.Job{Name: jobName, Status: "failed"})
	gl.SetLabels(project, path, 11, passing)
	h := start(t, gl, nil)
	h.deliver(11, "fork")
	if n := gl.Retries(project, 11); n != 0 {
		t.Fatalf("a fork's label job was retried %d times without --retry-forks", n)
	}
	if l := h.logs.lines("delivery"); len(l) != 1 || !strings.Contains(fmt.Sprint(l[0]["detail"]), "fork") {
		t.Errorf("delivery lines %v, want one saying the fork is left alone", l)
	}

	h2 := start(t, gl, func(c *config) { c.engine.RetryForks = true })
	h2.post(payload(t, project, path, 11, "a", 0, passing), hook("fork-2")...)
	h2.waitIdle()
	if status, attempts := newestLabelJob(gl, pipeline); gl.Retries(project, 11) != 1 || status != "pending" || attempts != 2 {
		t.Errorf("fork pipeline with --retry-forks: %d retries, newest attempt %s of %d; want one retry", gl.Retries(project, 11), status, attempts)
	}
}
