package gitlabtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func call(t *testing.T, method, u, contentType, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestPipelinesJobsAndRetry(t *testing.T) {
	s := New(t)
	s.SetLabels(42, "group/demo", 3, "echoes/intent/x")
	s.AddPipeline(42, "group/demo", 3, Job{Name: "echoes-labels", Status: "failed"})
	newest := s.AddPipeline(42, "group/demo", 3, Job{Name: "build", Status: "success"}, Job{Name: "echoes-labels", Status: "failed"})

	code, _, body := call(t, "GET", s.APIURL()+"/projects/group%2Fdemo/merge_requests/3/pipelines", "", "")
	var ps []map[string]any
	if code != 200 || json.Unmarshal(body, &ps) != nil || len(ps) != 2 || ps[0]["id"] != float64(newest) {
		t.Fatalf("MR pipelines (newest first): %d %s", code, body)
	}
	for _, k := range []string{"id", "iid", "project_id", "sha", "ref", "status", "source", "created_at", "updated_at", "web_url"} {
		if _, ok := ps[0][k]; !ok {
			t.Errorf("pipeline lacks documented field %q", k)
		}
	}
	if ps[0]["status"] != "failed" || ps[0]["sha"] != s.HeadSHA(42, "group/demo", 3) {
		t.Errorf("pipeline %v: want failed on the head commit", ps[0])
	}

	jobsURL := s.APIURL() + "/projects/42/pipelines/" + strconv.FormatInt(newest, 10) + "/jobs"
	code, _, body = call(t, "GET", jobsURL, "", "")
	var jobs []map[string]any
	if code != 200 || json.Unmarshal(body, &jobs) != nil || len(jobs) != 2 || jobs[0]["name"] != "echoes-labels" {
		t.Fatalf("jobs: %d %s", code, body)
	}
	if jobs[0]["failure_reason"] != "script_failure" || jobs[0]["pipeline"].(map[string]any)["id"] != float64(newest) {
		t.Errorf("failed job %v", jobs[0])
	}
	id := int64(jobs[0]["id"].(float64))
	retry := s.APIURL() + "/projects/42/jobs/" + strconv.FormatInt(id, 10) + "/retry"
	code, _, body = call(t, "POST", retry, "", "")
	var n map[string]any
	if code != 201 || json.Unmarshal(body, &n) != nil || n["status"] != "pending" || n["name"] != "echoes-labels" || n["id"] == float64(id) {
		t.Fatalf("retry: %d %s, want 201 and a new pending attempt", code, body)
	}
	if code, _, body := call(t, "POST", retry, "", ""); code != 403 || !strings.Contains(string(body), "Job is not retryable") {
		t.Errorf("retrying a retried attempt: %d %s, want GitLab's 403", code, body)
	}
	if s.Retries(42, 3) != 1 {
		t.Errorf("Retries = %d, want 1", s.Retries(42, 3))
	}
	// The newest attempt only, unless include_retried.
	_, _, body = call(t, "GET", jobsURL, "", "")
	_ = json.Unmarshal(body, &jobs)
	if len(jobs) != 2 || jobs[0]["status"] != "pending" {
		t.Errorf("after the retry: %s", body)
	}
	_, _, body = call(t, "GET", jobsURL+"?include_retried=true", "", "")
	_ = json.Unmarshal(body, &jobs)
	if len(jobs) != 3 {
		t.Errorf("include_retried: %d jobs, want 3", len(jobs))
	}
	if code, _, _ := call(t, "GET", s.APIURL()+"/projects/42/jobs/"+strconv.FormatInt(id, 10), "", ""); code != 200 {
		t.Errorf("GET job: %d", code)
	}
	if code, _, _ := call(t, "POST", s.APIURL()+"/projects/42/jobs/99999/retry", "", ""); code != 404 {
		t.Errorf("retry of an unknown job: %d, want 404", code)
	}
}

func TestStatusCheckResponses(t *testing.T) {
	s := New(t)
	s.SetLabels(42, "group/demo", 1)
	sha := s.HeadSHA(42, "group/demo", 1)
	u := s.APIURL() + "/projects/42/merge_requests/1/status_check_responses"
	if code, _, body := call(t, "POST", u, "application/json", `{"sha":"`+sha+`","external_status_check_id":5,"status":"failed"}`); code != 201 {
		t.Fatalf("JSON: %d %s", code, body)
	}
	if code, _, _ := call(t, "POST", u, "application/x-www-form-urlencoded", url.Values{"sha": {sha}, "external_status_check_id": {"5"}, "status": {"passed"}}.Encode()); code != 201 {
		t.Fatalf("form: %d", code)
	}
	for body, want := range map[string]int{
		`{"sha":"` + sha + `"}`:          400,
		`{"external_status_check_id":5}`: 400,
		`{"sha":"` + sha + `","external_status_check_id":5,"status":"green"}`: 400,
		`{"sha":"0123","external_status_check_id":5,"status":"passed"}`:       409,
	} {
		if code, _, _ := call(t, "POST", u, "application/json", body); code != want {
			t.Errorf("%s: %d, want %d", body, code, want)
		}
	}
	got := s.StatusChecks(42, 1)
	if len(got) != 2 || got[0] != (StatusCheckResponse{sha, 5, "failed"}) || got[1].Status != "passed" {
		t.Errorf("StatusChecks = %+v", got)
	}
}

func TestOpenMergeRequestLists(t *testing.T) {
	s := New(t)
	s.AddGroup(7, "group", 42, 43)
	for iid := int64(1); iid <= 25; iid++ {
		s.SetLabels(42, "group/demo", iid, "echoes/intent/x")
	}
	s.SetLabels(43, "group/other", 1)
	s.SetState(43, "group/other", 1, "merged")
	old := time.Now().Add(-time.Hour)
	for iid := int64(2); iid <= 25; iid++ {
		s.SetUpdatedAt(42, "group/demo", iid, old)
	}
	count := func(u string) (int, http.Header) {
		code, h, body := call(t, "GET", u, "", "")
		var mrs []map[string]any
		if code != 200 || json.Unmarshal(body, &mrs) != nil {
			t.Fatalf("%s: %d %s", u, code, body)
		}
		return len(mrs), h
	}
	if n, h := count(s.APIURL() + "/groups/group/merge_requests?state=opened&per_page=10"); n != 10 || h.Get("X-Total") != "25" || h.Get("X-Next-Page") != "2" {
		t.Errorf("group, opened, page 1: %d items, X-Total %s, X-Next-Page %s", n, h.Get("X-Total"), h.Get("X-Next-Page"))
	}
	if n, _ := count(s.APIURL() + "/groups/7/merge_requests?state=all&per_page=100"); n != 26 {
		t.Errorf("group by id, all: %d, want 26", n)
	}
	after := url.QueryEscape(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339))
	if n, _ := count(s.APIURL() + "/projects/group%2Fdemo/merge_requests?state=opened&updated_after=" + after); n != 1 {
		t.Errorf("project, updated_after: %d, want the 1 updated since", n)
	}
	if code, _, _ := call(t, "GET", s.APIURL()+"/groups/nope/merge_requests", "", ""); code != 404 {
		t.Errorf("unknown group: %d, want 404", code)
	}
}

// GitLab's order of a merge request's pipelines: merge request pipelines
// first, newest first, then branch pipelines; the head pipeline is the
// merge request's newest merge request pipeline, whatever the ids.
func TestMergeRequestPipelinesOrderAndHead(t *testing.T) {
	s := New(t)
	mrp := s.AddPipeline(42, "group/demo", 1, Job{Name: "echoes-labels", Status: "failed"})
	branch := s.AddBranchPipeline(42, "group/demo", 1, Job{Name: "build", Status: "success"})
	code, _, body := call(t, "GET", s.APIURL()+"/projects/42/merge_requests/1/pipelines", "", "")
	var ps []map[string]any
	if code != 200 || json.Unmarshal(body, &ps) != nil || len(ps) != 2 || ps[0]["id"] != float64(mrp) || ps[1]["id"] != float64(branch) || ps[1]["source"] != "push" {
		t.Fatalf("MR pipelines: %d %s", code, body)
	}
	code, _, body = call(t, "GET", s.APIURL()+"/projects/42/merge_requests/1", "", "")
	var mr struct {
		HeadPipeline struct{ ID int64 } `json:"head_pipeline"`
	}
	if code != 200 || json.Unmarshal(body, &mr) != nil || mr.HeadPipeline.ID != mrp {
		t.Errorf("head pipeline: %d %s, want %d", code, body, mrp)
	}
}

// A successful job is retryable; a retried one is not (403, GitLab's words).
func TestRetrySuccessfulJob(t *testing.T) {
	s := New(t)
	p := s.AddPipeline(42, "group/demo", 1, Job{Name: "echoes-labels", Status: "success"})
	j := s.LabelJob(p, "echoes-labels")
	retry := s.APIURL() + "/projects/42/jobs/" + strconv.FormatInt(j.ID, 10) + "/retry"
	if code, _, body := call(t, "POST", retry, "", ""); code != 201 {
		t.Fatalf("retry of a successful job: %d %s", code, body)
	}
	if code, _, body := call(t, "POST", retry, "", ""); code != 403 || !strings.Contains(string(body), "403 Forbidden - Job is not retryable") {
		t.Errorf("retry of a retried job: %d %s", code, body)
	}
}

// A pending response turns failed after the timeout; a check with no
// response is pending; a check of another project is 404.
func TestStatusCheckTimeout(t *testing.T) {
	s := New(t)
	id := s.AddStatusCheck(42, "group/demo", "echoes-labels")
	s.SetLabels(42, "group/demo", 1)
	sha := s.HeadSHA(42, "group/demo", 1)
	if got := s.StatusCheckStatus(42, "group/demo", 1, id); got != "pending" {
		t.Errorf("no response: %s, want pending", got)
	}
	s.SetStatusCheckTimeout(10 * time.Millisecond)
	u := s.APIURL() + "/projects/42/merge_requests/1/status_check_responses"
	if code, _, body := call(t, "POST", u, "application/json", `{"sha":"`+sha+`","external_status_check_id":`+strconv.FormatInt(id, 10)+`,"status":"pending"}`); code != 201 {
		t.Fatalf("pending: %d %s", code, body)
	}
	time.Sleep(20 * time.Millisecond)
	if got := s.StatusCheckStatus(42, "group/demo", 1, id); got != "failed" {
		t.Errorf("pending past the timeout: %s, want failed", got)
	}
	if code, _, _ := call(t, "POST", u, "application/json", `{"sha":"`+sha+`","external_status_check_id":999999,"status":"passed"}`); code != 404 {
		t.Errorf("unknown check: %d, want 404", code)
	}
}
