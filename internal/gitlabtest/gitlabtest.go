// Package gitlabtest is a stand-in GitLab for tests: an httptest server that
// answers the merge request API with GitLab's real response shape (the
// go-gitlab fixture in testdata, a recorded gitlab.com answer) and counts
// every request it sees.
package gitlabtest

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// mergeRequestFixture is GET /projects/:id/merge_requests/:iid as gitlab.com
// answered it (copied verbatim from go-gitlab's testdata, Apache-2.0).
//
//go:embed testdata/merge_request.json
var mergeRequestFixture []byte

// Request is what the server recorded of one request.
type Request struct {
	Method       string
	Path         string // escaped path
	Query        url.Values
	PrivateToken string
	JobToken     string
	Body         string
}

// Server is the stand-in.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	token    string
	jobToken string
	fault    FaultFunc
	projects map[string]map[int64][]string // project id or path → iid → labels
	ids      map[string]int64
	requests []Request
}

// New starts a server closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{projects: map[string]map[int64][]string{}, ids: map[string]int64{}}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// NewUnstarted returns a server to start yourself (e.g. with TLS).
func NewUnstarted() *Server {
	s := &Server{projects: map[string]map[int64][]string{}, ids: map[string]int64{}}
	s.Server = httptest.NewUnstartedServer(s)
	return s
}

// FaultFunc answers instead of the server; returning false lets the server
// answer normally. n counts requests from 1.
type FaultFunc func(w http.ResponseWriter, r *http.Request, n int) bool

// SetToken makes token the only private token accepted (401 otherwise).
func (s *Server) SetToken(token string) { s.mu.Lock(); s.token = token; s.mu.Unlock() }

// SetJobToken makes token the accepted JOB-TOKEN; any other job token is
// refused with 403, as GitLab does when the job token may not read the
// project's merge requests. Empty refuses every job token.
func (s *Server) SetJobToken(token string) { s.mu.Lock(); s.jobToken = token; s.mu.Unlock() }

// SetFault installs f (nil removes it).
func (s *Server) SetFault(f FaultFunc) { s.mu.Lock(); s.fault = f; s.mu.Unlock() }

// APIURL is the server's API v4 root.
func (s *Server) APIURL() string { return s.URL + "/api/v4" }

// SetLabels creates or updates merge request iid of project (reachable by
// numeric id and by path) with the given labels.
func (s *Server) SetLabels(id int64, path string, iid int64, labels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if labels == nil {
		labels = []string{}
	}
	for _, key := range []string{strconv.FormatInt(id, 10), path} {
		if s.projects[key] == nil {
			s.projects[key] = map[int64][]string{}
		}
		s.projects[key][iid] = labels
		s.ids[key] = id
	}
}

// Requests returns what the server has seen so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count is the number of requests seen so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body strings.Builder
	if r.Body != nil {
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
		PrivateToken: r.Header.Get("PRIVATE-TOKEN"), JobToken: r.Header.Get("JOB-TOKEN"), Body: body.String(),
	})
	n := len(s.requests)
	fault, token, jobToken := s.fault, s.token, s.jobToken
	s.mu.Unlock()
	if fault != nil && fault(w, r, n) {
		return
	}
	s.serveAPI(w, r, token, jobToken)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, token, jobToken string) {
	if pt, jt := r.Header.Get("PRIVATE-TOKEN"), r.Header.Get("JOB-TOKEN"); jt != "" {
		if jobToken == "" || jt != jobToken {
			Error(w, http.StatusForbidden, "403 Forbidden")
			return
		}
	} else if token != "" && pt != token {
		Error(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	// /api/v4/projects/:id/merge_requests/:iid
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "merge_requests" || r.Method != http.MethodGet {
		Error(w, http.StatusNotFound, "404 Not Found")
		return
	}
	project, err := url.PathUnescape(parts[1])
	if err != nil {
		Error(w, http.StatusBadRequest, "400 Bad request")
		return
	}
	s.mu.Lock()
	mrs, ok := s.projects[project]
	id := s.ids[project]
	iid, _ := strconv.ParseInt(parts[3], 10, 64)
	labels, found := mrs[iid]
	s.mu.Unlock()
	if !ok {
		Error(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	if !found {
		Error(w, http.StatusNotFound, "404 Not found")
		return
	}
	JSON(w, http.StatusOK, MergeRequest(id, iid, labels))
}

// MergeRequest is the fixture answer with this merge request's fields.
func MergeRequest(projectID, iid int64, labels []string) map[string]any {
	var mr map[string]any
	if err := json.Unmarshal(mergeRequestFixture, &mr); err != nil {
		panic(err)
	}
	mr["id"] = projectID*1000 + iid
	mr["iid"] = iid
	mr["project_id"] = projectID
	mr["source_project_id"] = projectID
	mr["target_project_id"] = projectID
	mr["labels"] = labels
	mr["web_url"] = fmt.Sprintf("https://gitlab.example.com/group/project/-/merge_requests/%d", iid)
	return mr
}

// JSON writes v as GitLab does.
func JSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error writes GitLab's error body, {"message": "..."}.
func Error(w http.ResponseWriter, status int, message string) {
	JSON(w, status, map[string]string{"message": message})
}
