package gitlabapi

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// serve's calls: the merge request's pipelines, a pipeline's jobs, a
// retry (twice: GitLab's "not retryable" is no error), one GET or POST each.
func TestPipelinesJobsAndRetry(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 1, "echoes/intent/feature")
	pipeline := srv.AddPipeline(42, "group/project", 1,
		gitlabtest.Job{Name: "build", Status: "success"}, gitlabtest.Job{Name: "echoes-labels", Status: "failed"})
	c, _ := newClient(t, srv.APIURL())

	mr, err := c.MergeRequestInfo(ctx(t), "42", 1)
	if err != nil || mr.HeadPipeline == nil || mr.HeadPipeline.ID != pipeline || mr.HeadPipeline.ProjectID != 42 ||
		mr.HeadPipeline.SHA == "" || mr.HeadPipeline.Status != "failed" || mr.HeadPipeline.Ref != "refs/merge-requests/1/head" ||
		mr.HeadPipeline.Source != "merge_request_event" || mr.SourceProjectID != 42 {
		t.Fatalf("MergeRequestInfo's head pipeline = %+v, %v", mr, err)
	}
	jobs, err := c.PipelineJobs(ctx(t), "42", pipeline)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("PipelineJobs = %+v, %v", jobs, err)
	}
	var label Job
	for _, j := range jobs {
		if j.Name == "echoes-labels" {
			label = j
		}
	}
	if label.Status != "failed" || label.ID == 0 || label.CreatedAt.IsZero() || label.StartedAt.IsZero() {
		t.Fatalf("label job %+v", label)
	}
	before := srv.Count()
	if retried, err := c.RetryJob(ctx(t), "42", label.ID); !retried || err != nil {
		t.Fatalf("RetryJob = %v, %v", retried, err)
	}
	if retried, err := c.RetryJob(ctx(t), "42", label.ID); retried || err != nil {
		t.Errorf("RetryJob of a job already retried = %v, %v; want false and no error", retried, err)
	}
	if n := srv.Count() - before; n != 2 {
		t.Errorf("%d requests for two retries, want 2", n)
	}
	if _, err := c.PipelineJobs(ctx(t), "42", 999999); StatusOf(err) != http.StatusNotFound {
		t.Errorf("jobs of no pipeline: %v, want a 404 *Error", err)
	}
}

// More jobs than a page: every page is read.
func TestPipelineJobsPages(t *testing.T) {
	srv := gitlabtest.New(t)
	var jobs []gitlabtest.Job
	for i := range 230 {
		jobs = append(jobs, gitlabtest.Job{Name: "job-" + strconv.Itoa(i), Status: "success"})
	}
	pipeline := srv.AddPipeline(42, "group/project", 1, jobs...)
	c, _ := newClient(t, srv.APIURL())
	got, err := c.PipelineJobs(ctx(t), "42", pipeline)
	if err != nil || len(got) != 230 {
		t.Fatalf("%d jobs, %v; want 230", len(got), err)
	}
	if n := srv.Count(); n != 3 {
		t.Errorf("%d requests for 230 jobs, want 3 pages", n)
	}
}

func TestSetStatusCheck(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 5, "echoes/intent/feature")
	c, _ := newClient(t, srv.APIURL())
	sha := srv.HeadSHA(42, "group/project", 5)
	if ok, err := c.SetStatusCheck(ctx(t), "42", 5, 77, sha, "passed"); !ok || err != nil {
		t.Fatalf("SetStatusCheck = %v, %v", ok, err)
	}
	if ok, err := c.SetStatusCheck(ctx(t), "42", 5, 77, "0000", "failed"); ok || err != nil {
		t.Errorf("SetStatusCheck for a stale head = %v, %v; want false and no error (GitLab's 409)", ok, err)
	}
	want := []gitlabtest.StatusCheckResponse{{SHA: sha, ExternalStatusCheckID: 77, Status: "passed"}}
	if got := srv.StatusChecks(42, 5); len(got) != 1 || got[0] != want[0] {
		t.Errorf("responses %+v, want %+v", got, want)
	}
}

// The open merge requests of a group or a project, a page at a time, with
// updated_after; a group that is none is a 404 the caller can tell.
func TestOpenMergeRequests(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.AddGroup(7, "group", 42)
	for iid := int64(1); iid <= 120; iid++ {
		srv.SetLabels(42, "group/project", iid, "echoes/intent/feature")
	}
	srv.SetState(42, "group/project", 3, "merged")
	old := time.Now().Add(-48 * time.Hour)
	srv.SetUpdatedAt(42, "group/project", 4, old)
	c, _ := newClient(t, srv.APIURL())

	first, next, err := c.GroupOpenMergeRequestsByUpdate(ctx(t), "group", SweepOptions{})
	if err != nil || len(first) != 100 || next != 2 {
		t.Fatalf("first page: %d merge requests, next %d, %v", len(first), next, err)
	}
	mr := first[0]
	if mr.ProjectID != 42 || mr.IID == 0 || mr.State != "opened" || mr.SHA == "" || mr.UpdatedAt.IsZero() || len(mr.Labels) != 1 {
		t.Errorf("merge request %+v", mr)
	}
	second, next, err := c.GroupOpenMergeRequestsByUpdate(ctx(t), "group", SweepOptions{Page: 2})
	if err != nil || len(second) != 19 || next != 0 {
		t.Errorf("second page: %d merge requests (one is merged), next %d, %v", len(second), next, err)
	}
	after := time.Now().Add(-time.Hour)
	recent, _, err := c.ProjectOpenMergeRequestsByUpdate(ctx(t), "group/project", SweepOptions{UpdatedAfter: &after, Page: 2})
	if err != nil || len(recent) != 18 {
		t.Errorf("updated in the last hour, second page: %d, %v; want 18", len(recent), err)
	}
	if _, _, err := c.GroupOpenMergeRequestsByUpdate(ctx(t), "group/project", SweepOptions{}); StatusOf(err) != http.StatusNotFound {
		t.Errorf("a project as a group: %v, want a 404", err)
	}
}

// A group's full path by its id (serve's --watch group:ID); a group
// GitLab does not show is its 404.
func TestGroupPath(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.AddGroup(7, "acme/platform", 42)
	c, _ := newClient(t, srv.APIURL())
	if p, err := c.GroupPath(ctx(t), 7); err != nil || p != "acme/platform" {
		t.Errorf("GroupPath(7) = %q, %v; want acme/platform", p, err)
	}
	if r := srv.Requests(); len(r) != 1 || r[0].Path != "/api/v4/groups/7" || r[0].Query.Get("with_projects") != "false" {
		t.Errorf("requests %+v, want one GET /groups/7?with_projects=false", r)
	}
	if _, err := c.GroupPath(ctx(t), 8); StatusOf(err) != http.StatusNotFound {
		t.Errorf("GroupPath(8), no such group: %v, want a 404", err)
	}
}

// The merge request read for serve: the check's fields, and where it stands.
func TestMergeRequestInfo(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 9, "echoes/intent/feature", "backend")
	srv.AddPipeline(42, "group/project", 9, gitlabtest.Job{Name: "echoes-labels", Status: "success"})
	srv.SetState(42, "group/project", 9, "closed")
	c, _ := newClient(t, srv.APIURL())
	mr, err := c.MergeRequestInfo(ctx(t), "42", 9)
	if err != nil {
		t.Fatal(err)
	}
	if mr.IID != 9 || mr.ProjectID != 42 || mr.State != "closed" || mr.SHA != srv.HeadSHA(42, "group/project", 9) ||
		mr.UpdatedAt.IsZero() || len(mr.Labels) != 2 || mr.WebURL == "" {
		t.Errorf("MergeRequestInfo = %+v", mr)
	}
	if p := mr.HeadPipeline; p == nil || p.ID == 0 || p.SHA == "" || p.Status == "" {
		t.Errorf("head pipeline %+v", p)
	}
	if srv.Count() != 1 {
		t.Errorf("%d requests, want 1", srv.Count())
	}
}

// NoRetries makes every call one request, even a 503 with Retry-After;
// RetryMax 0 keeps the default retries, for the check.
func TestNoRetries(t *testing.T) {
	for _, c := range []struct {
		retryMax int
		want     int
	}{{NoRetries, 1}, {0, 5}} {
		srv := gitlabtest.New(t)
		srv.SetLabels(42, "group/project", 1, "echoes/intent/feature")
		srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
			w.Header().Set("Retry-After", "0")
			gitlabtest.Error(w, http.StatusServiceUnavailable, "503 Service Unavailable")
			return true
		})
		cl, _ := newClient(t, srv.APIURL(), func(cfg *Config) { cfg.RetryMax = c.retryMax })
		_, err := cl.PipelineJobs(ctx(t), "42", 1)
		if f := Classify(err); f.Kind != "5xx" || !f.Transient {
			t.Errorf("RetryMax %d: %+v for %v", c.retryMax, f, err)
		}
		if n := srv.Count(); n != c.want {
			t.Errorf("RetryMax %d: %d requests for a 503, want %d", c.retryMax, n, c.want)
		}
	}
}

// Classify: what waiting can mend, and the wait GitLab asks for; an
// untrusted certificate, a redirect elsewhere and a malformed answer are
// not transient.
func TestClassify(t *testing.T) {
	answer := func(status int, header ...string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			if status == http.StatusOK {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(status)
				return
			}
			gitlabtest.Error(w, status, strconv.Itoa(status)+" "+http.StatusText(status))
		}))
		t.Cleanup(s.Close)
		return s
	}
	elsewhere := answer(http.StatusNotFound)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	reset := strconv.FormatInt(time.Now().Add(30*time.Second).Unix(), 10)

	for _, c := range []struct {
		name      string
		url       string
		kind      string
		transient bool
		wait      time.Duration // at least
	}{
		{"503 with Retry-After", answer(503, "Retry-After", "7").URL, "5xx", true, 7 * time.Second},
		{"502", answer(502).URL, "5xx", true, 0},
		{"429 with RateLimit-Reset", answer(429, "RateLimit-Reset", reset).URL, "429", true, 25 * time.Second},
		{"401", answer(401).URL, "401", false, 0},
		{"403", answer(403).URL, "403", false, 0},
		{"404", answer(404).URL, "404", false, 0},
		{"422", answer(422).URL, "4xx", false, 0},
		{"untrusted certificate", tlsSrv.URL, "tls", false, 0},
		{"redirect to another host", redirect.URL, "other", false, 0},
		{"HTML instead of JSON", answer(200).URL, "other", false, 0},
		{"connection refused", closed, "network", true, 0},
	} {
		cl, _ := newClient(t, c.url, func(cfg *Config) { cfg.RetryMax = NoRetries })
		_, err := cl.PipelineJobs(ctx(t), "42", 1)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: %v, want an *Error", c.name, err)
			continue
		}
		f := Classify(err)
		if f.Kind != c.kind || f.Transient != c.transient || f.Wait < c.wait || (c.wait == 0 && f.Wait != 0) {
			t.Errorf("%s: %+v, want kind %s, transient %v, wait %s", c.name, f, c.kind, c.transient, c.wait)
		}
	}
	if f := Classify(nil); f != (Failure{}) {
		t.Errorf("Classify(nil) = %+v", f)
	}
	if f := Classify(errors.New("x")); f.Kind != "other" || f.Transient {
		t.Errorf("Classify of a foreign error = %+v", f)
	}
}

// A merge request without a pipeline has no head pipeline.
func TestMergeRequestInfoNoHeadPipeline(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 3)
	c, _ := newClient(t, srv.APIURL())
	if mr, err := c.MergeRequestInfo(ctx(t), "42", 3); err != nil || mr.HeadPipeline != nil {
		t.Errorf("MergeRequestInfo = %+v, %v; want no head pipeline", mr, err)
	}
}

// The head pipeline's source is read: a branch pipeline GitLab made the
// head pipeline says push (serve leaves such a pipeline alone).
func TestMergeRequestInfoHeadPipelineSource(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 1)
	branch := srv.AddBranchPipeline(42, "group/project", 1, gitlabtest.Job{Name: "echoes-labels", Status: "failed"})
	srv.SetHeadPipeline(42, "group/project", 1, branch)
	c, _ := newClient(t, srv.APIURL())
	mr, err := c.MergeRequestInfo(ctx(t), "42", 1)
	if err != nil || mr.HeadPipeline == nil || mr.HeadPipeline.ID != branch || mr.HeadPipeline.Source != "push" {
		t.Fatalf("MergeRequestInfo's head pipeline = %+v, %v; want branch pipeline %d, source push", mr.HeadPipeline, err, branch)
	}
}

// Label events: every page of 100 is read, sorted oldest first.
func TestMergeRequestLabelEvents(t *testing.T) {
	srv := gitlabtest.New(t)
	for i := range 60 {
		srv.SetLabels(42, "group/project", 1, "l"+strconv.Itoa(i))
	}
	c, _ := newClient(t, srv.APIURL())
	events, err := c.MergeRequestLabelEvents(ctx(t), "42", 1)
	if err != nil || len(events) != 119 { // 60 adds, 59 removes: two pages
		t.Fatalf("MergeRequestLabelEvents: %d events, %v", len(events), err)
	}
	for i := 1; i < len(events); i++ {
		if events[i].CreatedAt.Before(events[i-1].CreatedAt) {
			t.Fatalf("events not oldest first: %+v", events)
		}
	}
	if last := events[len(events)-1]; last.Action != "add" || last.Label != "l59" || last.CreatedAt.IsZero() {
		t.Errorf("newest event %+v, want l59 added", last)
	}
}

// Status checks: the project's services, and a merge request's with their
// status for the head; the answer to a check, 409 for an old head.
func TestStatusChecks(t *testing.T) {
	srv := gitlabtest.New(t)
	ours := srv.AddStatusCheck(42, "group/project", "echoes-labels")
	srv.AddStatusCheck(42, "group/project", "security-scan")
	srv.SetLabels(42, "group/project", 1)
	c, _ := newClient(t, srv.APIURL())
	list, err := c.ProjectStatusChecks(ctx(t), "42")
	if err != nil || len(list) != 2 || list[0].Name != "echoes-labels" || list[0].ID != ours {
		t.Fatalf("ProjectStatusChecks = %+v, %v", list, err)
	}
	checks, err := c.MergeRequestStatusChecks(ctx(t), "42", 1)
	if err != nil || len(checks) != 2 || checks[0].Status != "pending" || checks[0].ExternalURL == "" {
		t.Fatalf("MergeRequestStatusChecks = %+v, %v", checks, err)
	}
	sha := srv.HeadSHA(42, "group/project", 1)
	if ok, err := c.SetStatusCheck(ctx(t), "42", 1, ours, sha, "passed"); !ok || err != nil {
		t.Fatalf("SetStatusCheck = %v, %v", ok, err)
	}
	if ok, err := c.SetStatusCheck(ctx(t), "42", 1, ours, "0123", "passed"); ok || err != nil {
		t.Errorf("SetStatusCheck of an old head = %v, %v; want not accepted, no error", ok, err)
	}
	if checks, _ := c.MergeRequestStatusChecks(ctx(t), "42", 1); checks[0].Status != "passed" || checks[1].Status != "pending" {
		t.Errorf("after the answer: %+v", checks)
	}
}

// A job's failure_reason, allow_failure and archived are read (client-go's
// Job has no archived); when a merge request was last marked ready is
// GitLab's system note's time, and a person's note saying so is not.
func TestJobFailureAndMarkedReady(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 1)
	srv.SetDraft(42, "group/project", 1, true)
	pipeline := srv.AddPipeline(42, "group/project", 1,
		gitlabtest.Job{Name: "deploy", Status: "failed", FailureReason: "protected_environment_failure"},
		gitlabtest.Job{Name: "echoes-labels", Status: "failed", AllowFailure: true, Archived: true})
	c, _ := newClient(t, srv.APIURL())
	jobs, err := c.PipelineJobs(ctx(t), "42", pipeline)
	got := map[string]Job{}
	for _, j := range jobs {
		got[j.Name] = j
	}
	if d, l := got["deploy"], got["echoes-labels"]; err != nil || d.FailureReason != "protected_environment_failure" || d.AllowFailure || d.Archived ||
		l.FailureReason != "script_failure" || !l.AllowFailure || !l.Archived {
		t.Fatalf("PipelineJobs = %+v, %v", jobs, err)
	}
	if at, err := c.MarkedReadyAt(ctx(t), "42", 1); err != nil || !at.IsZero() {
		t.Errorf("a draft never marked ready: MarkedReadyAt = %v, %v; want zero", at, err)
	}
	srv.AddNote("group/project", 1, "marked this merge request as **ready**") // a person's, not GitLab's
	if at, err := c.MarkedReadyAt(ctx(t), "42", 1); err != nil || !at.IsZero() {
		t.Errorf("a person's note: MarkedReadyAt = %v, %v; want zero", at, err)
	}
	srv.SetDraft(42, "group/project", 1, false)
	if at, err := c.MarkedReadyAt(ctx(t), "42", 1); err != nil || at.IsZero() {
		t.Errorf("marked ready: MarkedReadyAt = %v, %v; want the note's time", at, err)
	}
}
