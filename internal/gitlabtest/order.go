package gitlabtest

// order_by=updated_at for the lists of open merge requests, the order a
// sweep pages them in (least recently updated first, sort=asc). GitLab
// sorts by updated_at, then by id, and applies updated_after (inclusive)
// before paginating; the stand-in's own lists are newest iid first and
// ignore order_by. Until the stand-in's list handlers call it themselves,
// a test installs it as a fault: gl.SetFault(gl.OrderedByUpdate(nil)).

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"
)

// OrderedByUpdate is a FaultFunc that answers GET /projects/:id/merge_requests
// and GET /groups/:id/merge_requests asked with order_by=updated_at in that
// order (sort=asc or desc, desc by default as GitLab's), paginated as the
// request asks. next, when not nil, is asked first (a fault of the test's
// own); every other request is left to the server.
func (s *Server) OrderedByUpdate(next FaultFunc) FaultFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if next != nil && next(w, r, n) {
			return true
		}
		q := r.URL.Query()
		if r.Method != http.MethodGet || q.Get("order_by") != "updated_at" || !isMergeRequestList(r.URL.EscapedPath()) {
			return false
		}
		items, status, body := s.everyPage(r)
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return true
		}
		desc := q.Get("sort") != "asc"
		slices.SortStableFunc(items, func(a, b map[string]any) int {
			c := cmp.Or(updatedAt(a).Compare(updatedAt(b)), cmp.Compare(number(a["id"]), number(b["id"])))
			if desc {
				return -c
			}
			return c
		})
		paginate(w, r, items)
		return true
	}
}

// isMergeRequestList is true for /api/v4/{projects,groups}/:id/merge_requests.
func isMergeRequestList(path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v4/"), "/")
	return len(parts) == 3 && (parts[0] == "projects" || parts[0] == "groups") && parts[2] == "merge_requests"
}

// everyPage reads the whole filtered list from the server's own handler, a
// page of 100 at a time, with r's credentials and filters.
func (s *Server) everyPage(r *http.Request) (items []map[string]any, status int, body []byte) {
	for page := 1; ; page++ {
		in := r.Clone(r.Context())
		q := in.URL.Query()
		q.Del("order_by")
		q.Del("sort")
		q.Set("per_page", "100")
		q.Set("page", strconv.Itoa(page))
		in.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		s.serveAPI(rec, in)
		if rec.Code != http.StatusOK {
			return nil, rec.Code, rec.Body.Bytes()
		}
		var got []map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			return nil, http.StatusInternalServerError, []byte(`{"message":"500 Internal Server Error"}`)
		}
		items = append(items, got...)
		if rec.Header().Get("X-Next-Page") == "" {
			return items, http.StatusOK, nil
		}
	}
}

func updatedAt(mr map[string]any) time.Time {
	s, _ := mr["updated_at"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func number(v any) float64 {
	f, _ := v.(float64)
	return f
}
