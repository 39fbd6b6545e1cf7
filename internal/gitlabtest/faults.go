package gitlabtest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// RepeatPages is a fault (install it with SetFault) that answers every
// list of merge requests with its first page, whatever page and
// updated_after ask, and an X-Next-Page always one past the page asked:
// a list whose pages repeat and never end, as a broken proxy or cache in
// front of GitLab can serve. Every other request is answered as usual.
func (s *Server) RepeatPages() FaultFunc {
	return func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/merge_requests") {
			return false
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		first := r.Clone(r.Context())
		q := first.URL.Query()
		q.Del("page")
		q.Del("updated_after")
		first.URL.RawQuery = q.Encode()
		rec := httptest.NewRecorder()
		s.mu.Lock()
		if s.authorized(rec, first) {
			s.route(rec, first)
		}
		s.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		if rec.Code == http.StatusOK {
			w.Header().Del("Link")
			w.Header().Set("X-Page", strconv.Itoa(max(page, 1)))
			w.Header().Set("X-Next-Page", strconv.Itoa(max(page, 1)+1))
			w.Header().Del("X-Total")
			w.Header().Del("X-Total-Pages")
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return true
	}
}
