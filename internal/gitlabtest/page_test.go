package gitlabtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Every list sends GitLab's paging headers, and a Link whose rel="next"
// is the X-Next-Page; the last page names no next one.
func TestEveryListSendsPagingHeaders(t *testing.T) {
	s := New(t)
	s.SetLabels(42, "group/demo", 1, "a")
	s.SetLabels(42, "group/demo", 1, "a", "b") // two label events
	s.SetLabels(42, "group/demo", 2)
	pipeline := s.AddPipeline(42, "group/demo", 1, Job{Name: "x", Status: "success"}, Job{Name: "y", Status: "failed"})
	s.AddChildPipeline(pipeline, "child")
	s.AddChildPipeline(pipeline, "child2")
	s.AddPipeline(42, "group/demo", 1)
	s.AddStatusCheck(42, "group/demo", "one")
	s.AddStatusCheck(42, "group/demo", "two")
	s.AddNote("group/demo", 1, "first")
	s.AddNote("group/demo", 1, "second")
	s.AddGroup(7, "group", 42)
	for _, list := range []string{
		"/projects/42/merge_requests", "/groups/group/merge_requests",
		"/projects/42/merge_requests/1/notes", "/projects/42/merge_requests/1/pipelines",
		"/projects/42/merge_requests/1/resource_label_events", "/projects/42/merge_requests/1/status_checks",
		"/projects/42/external_status_checks",
		fmt.Sprintf("/projects/42/pipelines/%d/jobs", pipeline), fmt.Sprintf("/projects/42/pipelines/%d/bridges", pipeline),
	} {
		code, h, body := call(t, "GET", s.APIURL()+list+"?per_page=1", "", "")
		var items []any
		if code != 200 || json.Unmarshal(body, &items) != nil || len(items) != 1 {
			t.Errorf("%s page 1: %d %s, want one item", list, code, body)
			continue
		}
		for k, want := range map[string]string{"X-Page": "1", "X-Per-Page": "1", "X-Prev-Page": "", "X-Next-Page": "2", "X-Total": "2", "X-Total-Pages": "2"} {
			if got, ok := h[k]; !ok || got[0] != want {
				t.Errorf("%s page 1: %s %q, want %q", list, k, got, want)
			}
		}
		if link := h.Get("Link"); !strings.Contains(link, "page=2&per_page=1>; rel=\"next\"") || !strings.Contains(link, `rel="last"`) {
			t.Errorf("%s page 1: Link %q, want a next and a last", list, link)
		}
		_, h, _ = call(t, "GET", s.APIURL()+list+"?per_page=1&page=2", "", "")
		if h.Get("X-Next-Page") != "" || h.Get("X-Prev-Page") != "1" || strings.Contains(h.Get("Link"), `rel="next"`) {
			t.Errorf("%s page 2: X-Next-Page %q, X-Prev-Page %q, Link %q: want the last page", list, h.Get("X-Next-Page"), h.Get("X-Prev-Page"), h.Get("Link"))
		}
	}
}

// order_by and sort reorder every list, ties by id; any other value is
// GitLab's 400.
func TestListsHonourOrderAndSort(t *testing.T) {
	s := New(t)
	base := time.Now().Add(-time.Hour)
	for iid, at := range map[int64]time.Duration{1: 3, 2: 1, 3: 2} {
		s.SetLabels(42, "group/demo", iid)
		s.SetUpdatedAt(42, "group/demo", iid, base.Add(at*time.Second))
	}
	iids := func(query string) string {
		t.Helper()
		code, _, body := call(t, "GET", s.APIURL()+"/projects/42/merge_requests?"+query, "", "")
		var mrs []struct{ IID int64 }
		if code != 200 || json.Unmarshal(body, &mrs) != nil {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		return fmt.Sprint(mrs)
	}
	for query, want := range map[string]string{
		"":                                       "[{3} {2} {1}]",
		"order_by=updated_at&sort=asc":           "[{2} {3} {1}]",
		"order_by=updated_at":                    "[{1} {3} {2}]",
		"order_by=id&sort=asc&per_page=2":        "[{1} {2}]",
		"order_by=id&sort=asc&page=2&per_page=2": "[{3}]",
	} {
		if got := iids(query); got != want {
			t.Errorf("%q: iids %s, want %s", query, got, want)
		}
	}
	for _, query := range []string{"order_by=title", "sort=up"} {
		if code, _, body := call(t, "GET", s.APIURL()+"/projects/42/merge_requests?"+query, "", ""); code != 400 || !strings.Contains(string(body), "does not have a valid value") {
			t.Errorf("%s: %d %s, want GitLab's 400", query, code, body)
		}
	}
}

// A list shows what GitLab's list shows, without what only one merge
// request's answer has (head_pipeline, diff_refs, ...); notes have
// GitLab's note fields.
func TestListShapes(t *testing.T) {
	s := New(t)
	s.SetLabels(42, "group/demo", 1, "a")
	s.AddPipeline(42, "group/demo", 1)
	s.AddNote("group/demo", 1, "hello")
	_, _, body := call(t, "GET", s.APIURL()+"/projects/42/merge_requests", "", "")
	var list []map[string]any
	_ = json.Unmarshal(body, &list)
	_, one := GetJSON(t, s.APIURL()+"/projects/42/merge_requests/1")
	if len(list) != 1 || list[0]["head_pipeline"] != nil || list[0]["diff_refs"] != nil || one["head_pipeline"] == nil || one["diff_refs"] == nil {
		t.Errorf("list item %v, one %v: want head_pipeline and diff_refs on the one only", list, one)
	}
	for _, k := range []string{"iid", "labels", "sha", "state", "updated_at", "references", "web_url", "source_project_id"} {
		if list[0][k] == nil || one[k] == nil {
			t.Errorf("%s missing: list %v, one %v", k, list[0][k], one[k])
		}
	}
	_, _, body = call(t, "GET", s.APIURL()+"/projects/42/merge_requests/1/notes", "", "")
	var notes []map[string]any
	_ = json.Unmarshal(body, &notes)
	if len(notes) != 1 || notes[0]["noteable_type"] != "MergeRequest" || notes[0]["noteable_iid"] != 1.0 || notes[0]["created_at"] == nil ||
		notes[0]["author"].(map[string]any)["username"] != Reviewer.Username {
		t.Errorf("notes %v", notes)
	}
}
