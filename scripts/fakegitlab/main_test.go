package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

func TestHandler(t *testing.T) {
	var base map[string]any
	if err := json.Unmarshal(fixture, &base); err != nil {
		t.Fatal(err)
	}
	mrs, statuses := mrFlags{}, statusFlags{}
	for _, s := range []string{"1=", "2=echoes/intent/feature, echoes/effort/M"} {
		if err := mrs.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := statuses.Set("3=503"); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	srv := httptest.NewServer(handler(base, mrs, statuses, false, &calls))
	t.Cleanup(srv.Close)

	get := func(path, header string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if header != "" {
			req.Header.Set(header, "secret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: not JSON: %v", path, err)
		}
		return resp.StatusCode, body
	}

	code, mr := get("/api/v4/projects/42/merge_requests/2", "PRIVATE-TOKEN")
	if code != 200 || mr["iid"] != 2.0 || mr["project_id"] != 42.0 || mr["title"] != base["title"] {
		t.Errorf("labelled MR: %d iid=%v project_id=%v title=%v", code, mr["iid"], mr["project_id"], mr["title"])
	}
	if got, _ := json.Marshal(mr["labels"]); string(got) != `["echoes/intent/feature","echoes/effort/M"]` {
		t.Errorf("labels = %s", got)
	}
	if code, mr := get("/api/v4/projects/group%2Fdemo/merge_requests/1", "PRIVATE-TOKEN"); code != 200 || mr["labels"] == nil || len(mr["labels"].([]any)) != 0 {
		t.Errorf("unlabelled MR by path: %d labels=%v (want an empty list, not null)", code, mr["labels"])
	}
	for _, c := range []struct {
		path, header string
		want         int
	}{
		{"/api/v4/projects/42/merge_requests/2", "JOB-TOKEN", 401},
		{"/api/v4/projects/42/merge_requests/2", "", 401},
		{"/api/v4/projects/42/merge_requests/3", "PRIVATE-TOKEN", 503},
		{"/api/v4/projects/42/merge_requests/9", "PRIVATE-TOKEN", 404},
		{"/api/v4/projects/42/issues/2", "PRIVATE-TOKEN", 404},
	} {
		if code, _ := get(c.path, c.header); code != c.want {
			t.Errorf("GET %s with %q: %d, want %d", c.path, c.header, code, c.want)
		}
	}
	if calls.Load() != 7 {
		t.Errorf("calls = %d, want 7", calls.Load())
	}
}

func TestFlagsRejectNonsense(t *testing.T) {
	for _, s := range []string{"", "x=a", "0=a", "-1="} {
		if err := (mrFlags{}).Set(s); err == nil {
			t.Errorf("-mr %q accepted", s)
		}
	}
	for _, s := range []string{"1=200", "1=abc", "1"} {
		if err := (statusFlags{}).Set(s); err == nil {
			t.Errorf("-status %q accepted", s)
		}
	}
}
