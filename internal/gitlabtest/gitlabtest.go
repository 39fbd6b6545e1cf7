// Package gitlabtest is a stand-in GitLab for tests: an httptest server that
// answers the merge request API with GitLab's real response shape (the
// go-gitlab fixture in testdata, a recorded gitlab.com answer) and counts
// every request it sees.
package gitlabtest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

	mu           sync.Mutex
	token        string
	jobToken     string
	requireToken bool
	anyJobToken  bool
	jobRefusal   int // status refusing a job token; 0 is 403
	fault        FaultFunc
	notesRefused bool
	projects     map[string]map[int64]*mergeRequest // project id or path → iid
	ids          map[string]int64
	requests     []Request
	nextNoteID   int64
	ci           ciState // pipelines, jobs, groups and status checks (ci.go)
	lastTick     time.Time
}

type mergeRequest struct {
	labels []string
	branch string
	notes  []Note
	status int // when set, the answer to every request for this merge request

	state     string    // opened, closed, merged
	sha       string    // head commit of the source branch
	updatedAt time.Time // bumped by every change made through the setters

	title         string
	sourceProject int64        // a fork's id; 0 is the merge request's own project
	headPipeline  int64        // 0: none
	labelEvents   []labelEvent // every label added or removed, oldest first
}

// labelEvent is a resource label event as the stand-in keeps it.
type labelEvent struct {
	id      int64
	action  string // add, remove
	label   string
	created time.Time
}

// Note is a merge request note as the stand-in keeps it.
type Note struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
	Author User   `json:"author"`
}

// User is a GitLab user as notes and GET /user show it.
type User struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// Bot is the user every token of the stand-in belongs to; Reviewer writes
// the notes AddNote adds.
var (
	Bot      = User{ID: 1, Username: "project_42_bot"}
	Reviewer = User{ID: 2, Username: "reviewer"}
)

// New starts a server closed when the test ends.
func New(t testing.TB) *Server {
	s := NewUnstarted()
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// NewUnstarted returns a server to start yourself (e.g. with TLS).
func NewUnstarted() *Server {
	s := &Server{projects: map[string]map[int64]*mergeRequest{}, ids: map[string]int64{}, nextNoteID: 1000}
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

// RequireToken makes the server refuse with 401 requests that carry
// neither a PRIVATE-TOKEN nor a JOB-TOKEN, as GitLab does for a private
// project. Without it (and without SetToken) they are answered.
func (s *Server) RequireToken(require bool) { s.mu.Lock(); s.requireToken = require; s.mu.Unlock() }

// AcceptAnyJobToken makes the server answer requests with any JOB-TOKEN
// (a self-managed GitLab whose job token may read the project); false goes
// back to SetJobToken's rule.
func (s *Server) AcceptAnyJobToken(accept bool) { s.mu.Lock(); s.anyJobToken = accept; s.mu.Unlock() }

// SetJobTokenRefusal sets the status a refused job token gets: 403 by
// default, 401 as gitlab.com answers a job token on the merge request API.
func (s *Server) SetJobTokenRefusal(status int) { s.mu.Lock(); s.jobRefusal = status; s.mu.Unlock() }

// SetFault installs f (nil removes it).
func (s *Server) SetFault(f FaultFunc) { s.mu.Lock(); s.fault = f; s.mu.Unlock() }

// APIURL is the server's API v4 root.
func (s *Server) APIURL() string { return s.URL + "/api/v4" }

// SetLabels creates or updates merge request iid of project (reachable by
// numeric id and by path) with the given labels. As GitLab does, each label
// added or removed is a resource label event, at the time of the change.
func (s *Server) SetLabels(id int64, path string, iid int64, labels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setLabelsLocked(s.mr(id, path, iid), labels)
}

// SetTitle edits a merge request's title: an update that changes no label.
func (s *Server) SetTitle(id int64, path string, iid int64, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.mr(id, path, iid)
	mr.title = title
	mr.updatedAt = s.tick()
}

// tick is the stand-in's clock: now, but always after the time it gave
// last, so that a change made after another is seen after it whatever the
// clock's resolution. s.mu is held.
func (s *Server) tick() time.Time {
	now := time.Now().UTC()
	if !now.After(s.lastTick) {
		now = s.lastTick.Add(time.Microsecond)
	}
	s.lastTick = now
	return now
}

// SetStatus makes every request for merge request iid of project (once
// its credentials are accepted) answer status with GitLab's error body;
// 0 answers normally again. The merge request is created if need be.
func (s *Server) SetStatus(id int64, path string, iid int64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mr(id, path, iid).status = status
}

// SetSourceBranch sets the branch merge request iid comes from.
func (s *Server) SetSourceBranch(id int64, path string, iid int64, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mr(id, path, iid).branch = branch
}

// RefuseNotes makes writing notes fail with 403, as for a read_api token.
func (s *Server) RefuseNotes(refuse bool) { s.mu.Lock(); s.notesRefused = refuse; s.mu.Unlock() }

// Notes returns the notes on a merge request.
func (s *Server) Notes(path string, iid int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mrs := s.projects[path]; mrs != nil && mrs[iid] != nil {
		return append([]Note(nil), mrs[iid].notes...)
	}
	return nil
}

// AddNote adds a note as a reviewer would.
func (s *Server) AddNote(path string, iid int64, body string) { s.AddNoteAs(path, iid, Reviewer, body) }

// AddNoteAs adds a note by author: Bot's stand for an earlier run's.
func (s *Server) AddNoteAs(path string, iid int64, author User, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.projects[path][iid]
	s.nextNoteID++
	mr.notes = append(mr.notes, Note{ID: s.nextNoteID, Body: body, Author: author})
}

// mr returns the merge request, creating it under both keys. s.mu is held.
func (s *Server) mr(id int64, path string, iid int64) *mergeRequest {
	key := strconv.FormatInt(id, 10)
	if s.projects[key] == nil {
		s.projects[key] = map[int64]*mergeRequest{}
		s.projects[path] = s.projects[key]
		s.ids[key], s.ids[path] = id, id
	}
	if s.projects[key][iid] == nil {
		s.projects[key][iid] = &mergeRequest{
			labels: []string{}, branch: "feature-" + strconv.FormatInt(iid, 10),
			state: "opened", sha: headSHA(id, iid, 0), updatedAt: s.tick(),
		}
	}
	return s.projects[key][iid]
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
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(),
		PrivateToken: r.Header.Get("PRIVATE-TOKEN"), JobToken: r.Header.Get("JOB-TOKEN"), Body: string(body),
	})
	n := len(s.requests)
	fault := s.fault
	s.mu.Unlock()
	if fault != nil && fault(w, r, n) {
		return
	}
	s.serveAPI(w, r)
}

// authorized answers 401 or 403 to a request whose credentials the server
// refuses, and says whether it may go on.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	token, jobToken, requireToken, anyJobToken, jobRefusal := s.token, s.jobToken, s.requireToken, s.anyJobToken, s.jobRefusal
	s.mu.Unlock()
	pt, jt := r.Header.Get("PRIVATE-TOKEN"), r.Header.Get("JOB-TOKEN")
	switch {
	case jt != "":
		if anyJobToken || (jobToken != "" && jt == jobToken) {
			return true
		}
		if jobRefusal == 0 {
			jobRefusal = http.StatusForbidden
		}
		Error(w, jobRefusal, fmt.Sprintf("%d %s", jobRefusal, http.StatusText(jobRefusal)))
		return false
	case (token != "" && pt != token) || (requireToken && pt == ""):
		Error(w, http.StatusUnauthorized, "401 Unauthorized")
		return false
	}
	return true
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	if r.URL.EscapedPath() == "/api/v4/user" && r.Method == http.MethodGet {
		JSON(w, http.StatusOK, Bot)
		return
	}
	if s.serveCI(w, r) {
		return
	}
	// /api/v4/projects/:id/merge_requests[/:iid[/notes[/:note_id]]]
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
	if len(parts) < 3 || parts[0] != "projects" || parts[2] != "merge_requests" {
		Error(w, http.StatusNotFound, "404 Not Found")
		return
	}
	project, err := url.PathUnescape(parts[1])
	if err != nil {
		Error(w, http.StatusBadRequest, "400 Bad request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mrs, ok := s.projects[project]
	if !ok {
		Error(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	id := s.ids[project]
	if len(parts) == 3 && r.Method == http.MethodGet {
		s.listMergeRequests(w, r, id, mrs)
		return
	}
	iid, _ := strconv.ParseInt(parts[3], 10, 64)
	mr, found := mrs[iid]
	if !found {
		Error(w, http.StatusNotFound, "404 Not found")
		return
	}
	if mr.status != 0 {
		Error(w, mr.status, fmt.Sprintf("%d %s", mr.status, http.StatusText(mr.status)))
		return
	}
	switch {
	case len(parts) == 4 && r.Method == http.MethodGet:
		JSON(w, http.StatusOK, s.answer(mr, id, iid))
	case len(parts) == 5 && parts[4] == "pipelines" && r.Method == http.MethodGet:
		s.listMergeRequestPipelines(w, r, id, iid)
	case len(parts) == 5 && parts[4] == "status_check_responses" && r.Method == http.MethodPost:
		s.setStatusCheck(w, r, id, iid, mr)
	case len(parts) == 5 && parts[4] == "status_checks" && r.Method == http.MethodGet:
		s.listStatusChecks(w, r, id, iid, mr)
	case len(parts) == 5 && parts[4] == "resource_label_events" && r.Method == http.MethodGet:
		s.listLabelEvents(w, r, id, iid, mr)
	case len(parts) >= 5 && parts[4] == "notes":
		s.serveNotes(w, r, mr, parts[5:])
	default:
		Error(w, http.StatusNotFound, "404 Not Found")
	}
}

func (s *Server) listMergeRequests(w http.ResponseWriter, r *http.Request, id int64, mrs map[int64]*mergeRequest) {
	branch := r.URL.Query().Get("source_branch")
	out := []map[string]any{}
	for _, iid := range sortedIIDs(mrs) {
		mr := mrs[iid]
		if (branch == "" || mr.branch == branch) && mr.matches(r.URL.Query()) {
			out = append(out, s.answer(mr, id, iid))
		}
	}
	paginate(w, r, out)
}

// serveNotes answers the notes API, paginated as GitLab does (oldest first
// when asked with sort=asc).
func (s *Server) serveNotes(w http.ResponseWriter, r *http.Request, mr *mergeRequest, rest []string) {
	if r.Method != http.MethodGet && s.notesRefused {
		Error(w, http.StatusForbidden, "403 Forbidden - insufficient_scope")
		return
	}
	switch {
	case len(rest) == 0 && r.Method == http.MethodGet:
		out := make([]map[string]any, 0, len(mr.notes))
		for _, n := range mr.notes {
			out = append(out, map[string]any{"id": n.ID, "body": n.Body, "system": n.System, "author": n.Author})
		}
		paginate(w, r, out)
	case len(rest) == 0 && r.Method == http.MethodPost:
		var in struct{ Body string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == "" {
			Error(w, http.StatusBadRequest, "400 Bad request - body is missing")
			return
		}
		s.nextNoteID++
		mr.notes = append(mr.notes, Note{ID: s.nextNoteID, Body: in.Body, Author: Bot})
		JSON(w, http.StatusCreated, mr.notes[len(mr.notes)-1])
	case len(rest) == 1 && r.Method == http.MethodPut:
		noteID, _ := strconv.ParseInt(rest[0], 10, 64)
		var in struct{ Body string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			Error(w, http.StatusBadRequest, "400 Bad request")
			return
		}
		for i := range mr.notes {
			if mr.notes[i].ID == noteID {
				mr.notes[i].Body = in.Body
				JSON(w, http.StatusOK, mr.notes[i])
				return
			}
		}
		Error(w, http.StatusNotFound, "404 Note Not Found")
	case len(rest) == 1 && r.Method == http.MethodDelete:
		noteID, _ := strconv.ParseInt(rest[0], 10, 64)
		for i := range mr.notes {
			if mr.notes[i].ID == noteID {
				mr.notes = append(mr.notes[:i], mr.notes[i+1:]...)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		Error(w, http.StatusNotFound, "404 Note Not Found")
	default:
		Error(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
	}
}

// MergeRequest is the fixture answer with this merge request's fields.
func MergeRequest(projectID, iid int64, labels []string, branch string) map[string]any {
	var mr map[string]any
	if err := json.Unmarshal(mergeRequestFixture, &mr); err != nil {
		panic(err)
	}
	mr["id"] = projectID*1000 + iid
	mr["iid"] = iid
	mr["reference"] = fmt.Sprintf("!%d", iid)
	mr["project_id"] = projectID
	mr["source_project_id"] = projectID
	mr["target_project_id"] = projectID
	mr["labels"] = labels
	mr["source_branch"] = branch
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
