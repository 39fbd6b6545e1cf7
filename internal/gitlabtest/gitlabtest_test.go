package gitlabtest

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestMergeRequestShape(t *testing.T) {
	s := New(t)
	s.SetLabels(42, "group/demo", 2, "echoes/intent/feature", "echoes/effort/M")
	s.SetLabels(42, "group/demo", 1)
	var fixture map[string]any
	if err := json.Unmarshal(mergeRequestFixture, &fixture); err != nil {
		t.Fatal(err)
	}
	code, mr := GetJSON(t, s.APIURL()+"/projects/42/merge_requests/2")
	if code != 200 || mr["iid"] != 2.0 || mr["project_id"] != 42.0 || mr["reference"] != "!2" || mr["title"] != fixture["title"] {
		t.Errorf("labelled MR: %d iid=%v project_id=%v reference=%v title=%v", code, mr["iid"], mr["project_id"], mr["reference"], mr["title"])
	}
	if got, _ := json.Marshal(mr["labels"]); string(got) != `["echoes/intent/feature","echoes/effort/M"]` {
		t.Errorf("labels = %s", got)
	}
	if code, mr := GetJSON(t, s.APIURL()+"/projects/group%2Fdemo/merge_requests/1"); code != 200 || mr["labels"] == nil || len(mr["labels"].([]any)) != 0 {
		t.Errorf("unlabelled MR by path: %d labels=%v (want an empty list, not null)", code, mr["labels"])
	}
}

func TestAuth(t *testing.T) {
	const mr = "/projects/42/merge_requests/1"
	for _, c := range []struct {
		name  string
		setup func(*Server)
		hdr   []string
		want  int
	}{
		{"no token, none required", func(*Server) {}, nil, 200},
		{"no token, RequireToken", func(s *Server) { s.RequireToken(true) }, nil, 401},
		{"any private token, RequireToken", func(s *Server) { s.RequireToken(true) }, []string{"PRIVATE-TOKEN", "x"}, 200},
		{"wrong private token", func(s *Server) { s.SetToken("right") }, []string{"PRIVATE-TOKEN", "wrong"}, 401},
		{"right private token", func(s *Server) { s.SetToken("right") }, []string{"PRIVATE-TOKEN", "right"}, 200},
		{"job token refused by default", func(*Server) {}, []string{"JOB-TOKEN", "j"}, 403},
		{"job token refused like gitlab.com", func(s *Server) { s.SetJobTokenRefusal(401) }, []string{"JOB-TOKEN", "j"}, 401},
		{"the job token", func(s *Server) { s.SetJobToken("j") }, []string{"JOB-TOKEN", "j"}, 200},
		{"another job token", func(s *Server) { s.SetJobToken("j") }, []string{"JOB-TOKEN", "k"}, 403},
		{"any job token", func(s *Server) { s.SetToken("right"); s.RequireToken(true); s.AcceptAnyJobToken(true) }, []string{"JOB-TOKEN", "k"}, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := New(t)
			s.SetLabels(42, "group/demo", 1)
			c.setup(s)
			if code, body := GetJSON(t, s.APIURL()+mr, c.hdr...); code != c.want {
				t.Errorf("%d %v, want %d", code, body, c.want)
			}
		})
	}
}

func TestSetStatus(t *testing.T) {
	s := New(t)
	s.SetToken("right")
	s.SetLabels(42, "group/demo", 1, "backend")
	s.SetStatus(42, "group/demo", 3, http.StatusServiceUnavailable)
	if code, body := GetJSON(t, s.APIURL()+"/projects/42/merge_requests/3", "PRIVATE-TOKEN", "right"); code != 503 || body["message"] != "503 Service Unavailable" {
		t.Errorf("MR with a status: %d %v", code, body)
	}
	if code, _ := GetJSON(t, s.APIURL()+"/projects/42/merge_requests/3", "PRIVATE-TOKEN", "wrong"); code != 401 {
		t.Errorf("MR with a status, wrong token: %d, want 401 (credentials first)", code)
	}
	if code, _ := GetJSON(t, s.APIURL()+"/projects/group%2Fdemo/merge_requests/1", "PRIVATE-TOKEN", "right"); code != 200 {
		t.Errorf("another MR: %d", code)
	}
	s.SetStatus(42, "group/demo", 1, http.StatusTooManyRequests)
	if code, _ := GetJSON(t, s.APIURL()+"/projects/42/merge_requests/1/notes", "PRIVATE-TOKEN", "right"); code != 429 {
		t.Errorf("notes of an MR with a status: %d, want 429", code)
	}
	s.SetStatus(42, "group/demo", 1, 0)
	if code, mr := GetJSON(t, s.APIURL()+"/projects/42/merge_requests/1", "PRIVATE-TOKEN", "right"); code != 200 || mr["labels"].([]any)[0] != "backend" {
		t.Errorf("status 0 answers normally again: %d %v", code, mr["labels"])
	}
	if code, body := GetJSON(t, s.APIURL()+"/projects/42/issues/1", "PRIVATE-TOKEN", "right"); code != 404 || body["error"] != "404 Not Found" || body["message"] != nil {
		t.Errorf("issues: %d %v, want GitLab's catch-all 404, {\"error\": \"404 Not Found\"}", code, body)
	}
	if code, body := GetJSON(t, s.APIURL()+"/projects/43", "PRIVATE-TOKEN", "right"); code != 404 || body["message"] != "404 Project Not Found" {
		t.Errorf("a missing project: %d %v, want 404 Project Not Found", code, body)
	}
}
