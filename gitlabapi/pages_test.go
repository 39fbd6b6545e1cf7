package gitlabapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// GitLab may send a page shorter than asked before the last (here it caps
// per_page at 2): OurNotes follows X-Next-Page to the end, so the check
// finds its note on a later page and does not post a second one.
func TestOurNotesReadsPastAShortPage(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 1)
	for range 4 {
		srv.AddNote("group/project", 1, "a reviewer's note")
	}
	srv.AddNoteAs("group/project", 1, gitlabtest.Bot, "<!-- echoes-labels -->\nour note")
	srv.SetFault(func(_ http.ResponseWriter, r *http.Request, _ int) bool {
		if strings.HasSuffix(r.URL.Path, "/notes") {
			q := r.URL.Query()
			q.Set("per_page", "2")
			r.URL.RawQuery = q.Encode()
		}
		return false
	})
	c, _ := newClient(t, srv.APIURL())
	ours, complete, err := c.OurNotes(ctx(t), "group/project", 1, gitlabtest.Bot.ID, "<!-- echoes-labels -->")
	if err != nil || !complete || len(ours) != 1 || !strings.HasSuffix(ours[0].Body, "our note") {
		t.Fatalf("OurNotes = %+v, complete %v, %v; want our one note, complete", ours, complete, err)
	}
	var pages []string
	for _, r := range srv.Requests() {
		if strings.HasSuffix(r.Path, "/notes") {
			pages = append(pages, r.Query.Get("page"))
		}
	}
	if strings.Join(pages, ",") != ",2,3" && strings.Join(pages, ",") != "1,2,3" {
		t.Errorf("pages read %q, want 1 to 3, each once", pages)
	}
}

// A list GitLab pages by keyset names its next page only in the Link
// header (rel="next"), with no X-Next-Page: the pager follows it, and
// stops when no next link comes.
func TestPagesFollowKeysetLinks(t *testing.T) {
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("cursor"))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("cursor") {
		case "":
			w.Header().Set("Link", `<http://`+r.Host+r.URL.Path+`?cursor=b&per_page=100>; rel="next"`)
			_, _ = w.Write([]byte(`[{"id":1,"name":"a","status":"passed"}]`))
		case "b":
			_, _ = w.Write([]byte(`[{"id":2,"name":"b","status":"failed"}]`))
		}
	}))
	t.Cleanup(srv.Close)
	c, _ := newClient(t, srv.URL)
	checks, err := c.MergeRequestStatusChecks(ctx(t), "g/p", 1)
	if err != nil || len(checks) != 2 || checks[1].Name != "b" || strings.Join(asked, ",") != ",b" {
		t.Fatalf("checks %+v, %v, cursors asked %q; want both pages, each once", checks, err, asked)
	}
}
