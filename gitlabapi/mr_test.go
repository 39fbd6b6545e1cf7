package gitlabapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

// The check's read decodes what it reads, GitLab's draft or (before 14)
// work_in_progress, and refuses what is not a list of label names as
// client-go's read did.
func TestMergeRequestReadsWhatTheCheckNeeds(t *testing.T) {
	for name, tt := range map[string]struct {
		answer string
		want   *MergeRequest
	}{
		"merge request": {`{"iid":7,"project_id":42,"title":"Draft: x","web_url":"https://gitlab.example/g/p/-/merge_requests/7",` +
			`"draft":true,"labels":["echoes/intent/x"],"author":{"id":3,"username":"renovate-bot"},"description":"…"}`,
			&MergeRequest{IID: 7, WebURL: "https://gitlab.example/g/p/-/merge_requests/7", Labels: []string{"echoes/intent/x"},
				Author: "renovate-bot", Draft: true, Title: "Draft: x"}},
		"work in progress, no author": {`{"iid":7,"work_in_progress":true,"labels":[]}`,
			&MergeRequest{IID: 7, Labels: []string{}, Draft: true}},
		"label objects":        {`{"iid":7,"labels":[{"name":"echoes/intent/x"}]}`, nil},
		"a label not a string": {`{"iid":7,"labels":["a",1]}`, nil},
		"null":                 {`null`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			var path string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path = r.URL.EscapedPath()
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(tt.answer))
			}))
			defer srv.Close()
			c, _ := newClient(t, srv.URL+"/api/v4")
			mr, err := c.MergeRequest(ctx(t), "g/p.x", 7)
			if want := "/api/v4/projects/g%2Fp%2Ex/merge_requests/7"; path != want {
				t.Errorf("GET %s, want %s (client-go's path)", path, want)
			}
			if tt.want == nil {
				var e *Error
				if !errors.As(err, &e) || e.Kind != Malformed || e.Message != noLabels {
					t.Fatalf("err = %v, want Malformed %q", err, noLabels)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(mr, tt.want) {
				t.Fatalf("MergeRequest = %+v, %v; want %+v", mr, err, tt.want)
			}
		})
	}
}
