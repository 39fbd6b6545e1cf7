// Package gitlabtest is a stand-in GitLab for tests: an httptest server that
// answers the part of GitLab's API echoes-labels calls with GitLab's real
// response shapes (the recorded gitlab.com answers in testdata, and the
// shapes GitLab's API documentation gives), pages every list as GitLab does
// (page.go), and counts every request it sees.
//
// One registry holds what it knows: projects (each reachable by numeric id
// and by path), their merge requests and notes (this file), and groups,
// pipelines, jobs and status checks (ci.go). The bench's large groups and
// rate limit, and the standalone binary, are built on it in the bench and
// standin subpackages.
package gitlabtest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// mergeRequestFixture is GET /projects/:id/merge_requests/:iid as gitlab.com
// answered it, and mergeRequestsFixture GET /projects/:id/merge_requests
// (both copied verbatim from go-gitlab's testdata, Apache-2.0): a list
// shows fewer fields than one merge request (no head_pipeline, no
// diff_refs, ...).
var (
	//go:embed testdata/merge_request.json
	mergeRequestFixture []byte
	//go:embed testdata/merge_requests.json
	mergeRequestsFixture []byte
)

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
	projects     map[string]*project // by id and by path
	groups       map[string]*group   // by id and by path
	requests     []Request
	nextNoteID   int64
	ci           ciState // pipelines and jobs (ci.go)
	lastTick     time.Time
	admin        bool           // GET /user shows is_admin (members.go)
	members      map[string]int // Bot's access level by "groups/ID", "projects/ID" (members.go)
}

// project is one project of the registry.
type project struct {
	id     int64
	path   string // "" when only its id is known
	mrs    map[int64]*mergeRequest
	checks []statusCheckService // its external status checks (ci.go)
	labels []ProjectLabel       // GET /projects/:id/labels's (labels.go)
}

type mergeRequest struct {
	project *project
	iid     int64
	labels  []string
	branch  string
	notes   []Note
	status  int // when set, the answer to every request for this merge request

	state     string    // opened, closed, merged
	sha       string    // head commit of the source branch
	createdAt time.Time // when the stand-in first heard of it
	updatedAt time.Time // bumped by every change made through the setters

	title         string
	sourceProject int64        // a fork's id; 0 is the merge request's own project
	headPipeline  int64        // 0: none
	labelEvents   []labelEvent // every label added or removed, oldest first

	author string // username; "" keeps the fixture's
	draft  bool
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

	created, updated time.Time
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
	s := &Server{projects: map[string]*project{}, groups: map[string]*group{}, nextNoteID: 1000}
	s.ci.init()
	s.Server = httptest.NewUnstartedServer(s)
	return s
}

// FaultFunc answers instead of the server; returning false lets the server
// answer normally (it may change the request first). n counts requests
// from 1.
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

// RefuseNotes makes writing notes fail with 403, as for a read_api token.
func (s *Server) RefuseNotes(refuse bool) { s.mu.Lock(); s.notesRefused = refuse; s.mu.Unlock() }

// APIURL is the server's API v4 root.
func (s *Server) APIURL() string { return s.URL + "/api/v4" }

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

// The registry. Every setter names a merge request by its project's id
// and path and its iid, and makes whatever it names that does not exist.

// project returns the project with this id, making it if need be and
// registering it under its id and, when not "", its path. s.mu is held.
func (s *Server) project(id int64, path string) *project {
	key := strconv.FormatInt(id, 10)
	p := s.projects[key]
	if p == nil {
		p = &project{id: id, mrs: map[int64]*mergeRequest{}}
		s.projects[key] = p
	}
	if path != "" && p.path == "" {
		p.path = path
		s.projects[path] = p
	}
	return p
}

// mr returns the merge request, making it (and its project) if need be.
// s.mu is held.
func (s *Server) mr(id int64, path string, iid int64) *mergeRequest {
	p := s.project(id, path)
	if p.mrs[iid] == nil {
		now := s.tick()
		p.mrs[iid] = &mergeRequest{
			project: p, iid: iid, labels: []string{}, branch: "feature-" + strconv.FormatInt(iid, 10),
			state: "opened", sha: headSHA(id, iid, 0), createdAt: now, updatedAt: now,
		}
	}
	return p.mrs[iid]
}

// change applies f to the merge request under s.mu.
func (s *Server) change(id int64, path string, iid int64, f func(*mergeRequest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.mr(id, path, iid))
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

// SetLabels creates or updates merge request iid of project (reachable by
// numeric id and by path) with the given labels. As GitLab does, each label
// added or removed is a resource label event, at the time of the change.
func (s *Server) SetLabels(id int64, path string, iid int64, labels ...string) {
	s.change(id, path, iid, func(mr *mergeRequest) { s.setLabels(mr, labels) })
}

// setLabels: see SetLabels. s.mu is held.
func (s *Server) setLabels(mr *mergeRequest, labels []string) {
	if labels == nil {
		labels = []string{}
	}
	now := s.tick()
	event := func(action, label string) {
		s.nextNoteID++
		mr.labelEvents = append(mr.labelEvents, labelEvent{id: s.nextNoteID, action: action, label: label, created: now})
	}
	for _, l := range mr.labels {
		if !slices.Contains(labels, l) {
			event("remove", l)
		}
	}
	for _, l := range labels {
		if !slices.Contains(mr.labels, l) {
			event("add", l)
		}
	}
	mr.labels = slices.Clone(labels)
	mr.updatedAt = now
}

// SetTitle edits a merge request's title: an update that changes no label.
func (s *Server) SetTitle(id int64, path string, iid int64, title string) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.title, mr.updatedAt = title, s.tick() })
}

// SetStatus makes every request for merge request iid of project (once
// its credentials are accepted) answer status with GitLab's error body;
// 0 answers normally again. The merge request is created if need be.
func (s *Server) SetStatus(id int64, path string, iid int64, status int) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.status = status })
}

// SetSourceBranch sets the branch merge request iid comes from.
func (s *Server) SetSourceBranch(id int64, path string, iid int64, branch string) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.branch = branch })
}

// SetState sets a merge request's state (opened, closed, merged).
func (s *Server) SetState(id int64, path string, iid int64, state string) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.state, mr.updatedAt = state, s.tick() })
}

// SetUpdatedAt sets when a merge request was last updated, as
// updated_after filters and order_by=updated_at see it.
func (s *Server) SetUpdatedAt(id int64, path string, iid int64, at time.Time) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.updatedAt = at.UTC() })
}

// SetHeadSHA moves the merge request's source branch to a new head
// commit (a push), which GitLab's status checks are asked about anew.
func (s *Server) SetHeadSHA(id int64, path string, iid int64, sha string) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.sha, mr.updatedAt = sha, s.tick() })
}

// HeadSHA is the head commit of merge request iid's source branch.
func (s *Server) HeadSHA(id int64, path string, iid int64) (sha string) {
	s.change(id, path, iid, func(mr *mergeRequest) { sha = mr.sha })
	return sha
}

// SetSourceProject makes merge request iid of project id come from a fork
// (source_project_id forkID) whatever project its pipelines run in: a
// member may run a fork's pipeline in the parent project.
func (s *Server) SetSourceProject(id int64, path string, iid int64, forkID int64) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.sourceProject = forkID })
}

// SetHeadPipeline makes pipeline the merge request's head pipeline (0:
// none), as GitLab's head_pipeline shows it.
func (s *Server) SetHeadPipeline(id int64, path string, iid int64, pipeline int64) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.headPipeline = pipeline })
}

// Notes returns the notes on a merge request, oldest first.
func (s *Server) Notes(path string, iid int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.projects[path]; p != nil && p.mrs[iid] != nil {
		return slices.Clone(p.mrs[iid].notes)
	}
	return nil
}

// AddNote adds a note as a reviewer would.
func (s *Server) AddNote(path string, iid int64, body string) { s.AddNoteAs(path, iid, Reviewer, body) }

// AddNoteAs adds a note by author: Bot's stand for an earlier run's. The
// merge request must exist.
func (s *Server) AddNoteAs(path string, iid int64, author User, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addNote(s.projects[path].mrs[iid], author, body)
}

// addNote: s.mu is held.
func (s *Server) addNote(mr *mergeRequest, author User, body string) Note {
	s.nextNoteID++
	now := s.tick()
	mr.notes = append(mr.notes, Note{ID: s.nextNoteID, Body: body, Author: author, created: now, updated: now})
	return mr.notes[len(mr.notes)-1]
}

// MergeRequestOf names the merge request an API path is about: its
// project's id and its iid, for /projects/:id/merge_requests/:iid/...,
// /projects/:id/pipelines/:pipeline_id/... and /projects/:id/jobs/:job_id/...
// (ok false for any other path, or one naming nothing the stand-in has).
func (s *Server) MergeRequestOf(path string) (projectID, iid int64, ok bool) {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v4/"), "/")
	if len(parts) < 4 || parts[0] != "projects" {
		return 0, 0, false
	}
	key, _ := url.PathUnescape(parts[1])
	n, _ := strconv.ParseInt(parts[3], 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[key]
	if p == nil {
		return 0, 0, false
	}
	var pl *pipeline
	switch parts[2] {
	case "merge_requests":
		return p.id, n, true
	case "pipelines":
		pl = s.ci.pipelines[n]
	case "jobs":
		if j := s.ci.jobs[n]; j != nil {
			pl = s.ci.pipelines[j.PipelineID]
		}
	}
	if pl == nil {
		return 0, 0, false
	}
	return pl.mrProject, pl.iid, true
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authorized(w, r) {
		s.route(w, r)
	}
}

// authorized answers 401 or 403 to a request whose credentials the server
// refuses, and says whether it may go on. s.mu is held.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	pt, jt := r.Header.Get("PRIVATE-TOKEN"), r.Header.Get("JOB-TOKEN")
	switch {
	case jt != "":
		if s.anyJobToken || (s.jobToken != "" && jt == s.jobToken) {
			return true
		}
		status := s.jobRefusal
		if status == 0 {
			status = http.StatusForbidden
		}
		Error(w, status, fmt.Sprintf("%d %s", status, http.StatusText(status)))
		return false
	case (s.token != "" && pt != s.token) || (s.requireToken && pt == ""):
		Error(w, http.StatusUnauthorized, "401 Unauthorized")
		return false
	}
	return true
}

// route answers an authorized request. s.mu is held.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
	get := r.Method == http.MethodGet
	if s.routeAccess(w, r, parts) {
		return
	}
	if len(parts) == 1 && parts[0] == "user" && get {
		JSON(w, http.StatusOK, userJSON(Bot))
		return
	}
	if len(parts) < 2 || (parts[0] != "projects" && parts[0] != "groups") {
		noRoute(w)
		return
	}
	key, err := url.PathUnescape(parts[1])
	if err != nil {
		Error(w, http.StatusBadRequest, "400 Bad request")
		return
	}
	rest := parts[2:]
	if parts[0] == "groups" {
		s.routeGroup(w, r, key, rest)
		return
	}
	p := s.projects[key]
	switch {
	case p == nil && (len(rest) == 0 || slices.Contains([]string{"merge_requests", "pipelines", "jobs", "external_status_checks", "labels"}, rest[0])):
		Error(w, http.StatusNotFound, "404 Project Not Found")
	case len(rest) == 0:
		noRoute(w) // GET /projects/:id is GitLab's, not the stand-in's
	case rest[0] == "merge_requests" && len(rest) == 1 && get:
		s.listMergeRequests(w, r, []*project{p})
	case rest[0] == "merge_requests" && len(rest) >= 2:
		s.routeMergeRequest(w, r, p, rest[1:])
	case rest[0] == "labels" && len(rest) == 1 && get:
		s.listProjectLabels(w, r, p)
	default:
		s.routeCI(w, r, p, rest)
	}
}

// routeMergeRequest answers /projects/:id/merge_requests/:iid[/...]. s.mu is held.
func (s *Server) routeMergeRequest(w http.ResponseWriter, r *http.Request, p *project, rest []string) {
	iid, _ := strconv.ParseInt(rest[0], 10, 64)
	mr := p.mrs[iid]
	switch {
	case mr == nil:
		Error(w, http.StatusNotFound, "404 Not found")
		return
	case mr.status != 0:
		Error(w, mr.status, fmt.Sprintf("%d %s", mr.status, http.StatusText(mr.status)))
		return
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch rest = rest[1:]; {
	case len(rest) == 0 && get:
		JSON(w, http.StatusOK, s.mergeRequestJSON(mr, true))
	case len(rest) >= 1 && rest[0] == "notes":
		s.serveNotes(w, r, mr, rest[1:])
	case len(rest) == 1 && rest[0] == "pipelines" && get:
		s.listMergeRequestPipelines(w, r, mr)
	case len(rest) == 1 && rest[0] == "status_check_responses" && post:
		s.setStatusCheck(w, r, mr)
	case len(rest) == 1 && rest[0] == "status_checks" && get:
		s.listStatusChecks(w, r, mr)
	case len(rest) == 1 && rest[0] == "resource_label_events" && get:
		s.listLabelEvents(w, r, mr)
	default:
		noRoute(w)
	}
}

// listMergeRequests answers a project's or a group's list of merge
// requests, with the state, source_branch and updated_after filters, newest
// iid first unless order_by or sort says otherwise. s.mu is held.
func (s *Server) listMergeRequests(w http.ResponseWriter, r *http.Request, projects []*project) {
	q := r.URL.Query()
	var rows []row
	for _, p := range projects {
		for _, iid := range slices.Backward(slices.Sorted(maps.Keys(p.mrs))) {
			if mr := p.mrs[iid]; mr.matches(q) {
				rows = append(rows, row{id: p.id*1000 + iid, created: mr.createdAt, updated: mr.updatedAt,
					json: func() any { return s.mergeRequestJSON(mr, false) }})
			}
		}
	}
	paginate(w, r, rows)
}

// matches applies the state, source_branch and updated_after filters of
// the list APIs.
func (mr *mergeRequest) matches(q url.Values) bool {
	if st := q.Get("state"); st != "" && st != "all" && st != mr.state {
		return false
	}
	if b := q.Get("source_branch"); b != "" && b != mr.branch {
		return false
	}
	if after := q.Get("updated_after"); after != "" {
		t, err := time.Parse(time.RFC3339, after)
		if err == nil && mr.updatedAt.Before(t) {
			return false
		}
	}
	return true
}

// mergeRequestJSON is the merge request as GET .../merge_requests/:iid
// (single) or a list of them shows it. s.mu is held.
func (s *Server) mergeRequestJSON(mr *mergeRequest, single bool) map[string]any {
	fixture := mergeRequestFixture
	if !single {
		fixture = listItemFixture()
	}
	var out map[string]any
	must(json.Unmarshal(fixture, &out))
	id, iid := mr.project.id, mr.iid
	ref := fmt.Sprintf("!%d", iid)
	for k, v := range map[string]any{
		"id": id*1000 + iid, "iid": iid, "reference": ref, "project_id": id, "source_project_id": id, "target_project_id": id,
		"labels": mr.labels, "source_branch": mr.branch, "state": mr.state, "sha": mr.sha,
		"created_at": mr.createdAt.Format(time.RFC3339Nano), "updated_at": mr.updatedAt.Format(time.RFC3339Nano),
		"web_url": fmt.Sprintf("https://gitlab.example.com/group/project/-/merge_requests/%d", iid),
	} {
		out[k] = v
	}
	if mr.title != "" {
		out["title"] = mr.title
	}
	mr.authorAndDraft(out)
	if mr.sourceProject != 0 {
		out["source_project_id"] = mr.sourceProject
	}
	if mr.project.path != "" {
		out["references"] = map[string]any{"short": ref, "relative": ref, "full": mr.project.path + ref}
	}
	if single {
		var head any
		if p := s.ci.pipelines[mr.headPipeline]; p != nil {
			head = s.pipelineJSON(p)
		}
		out["head_pipeline"], out["pipeline"] = head, head
	}
	return out
}

// listItemFixture is the first merge request of mergeRequestsFixture.
var listItemFixture = sync.OnceValue(func() []byte {
	var list []json.RawMessage
	must(json.Unmarshal(mergeRequestsFixture, &list))
	return list[0]
})

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// serveNotes answers the notes API of a merge request. s.mu is held.
func (s *Server) serveNotes(w http.ResponseWriter, r *http.Request, mr *mergeRequest, rest []string) {
	if r.Method != http.MethodGet && s.notesRefused {
		Error(w, http.StatusForbidden, "403 Forbidden - insufficient_scope")
		return
	}
	var in struct{ Body string }
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Body == "" {
			Error(w, http.StatusBadRequest, "400 Bad request - body is missing")
			return
		}
	}
	if len(rest) == 0 {
		switch r.Method {
		case http.MethodGet:
			rows := make([]row, len(mr.notes))
			for i, n := range mr.notes {
				rows[i] = row{id: n.ID, created: n.created, updated: n.updated, json: func() any { return noteJSON(mr, n) }}
			}
			// GitLab's default: created_at desc.
			slices.Reverse(rows)
			paginate(w, r, rows)
		case http.MethodPost:
			JSON(w, http.StatusCreated, noteJSON(mr, s.addNote(mr, Bot, in.Body)))
		default:
			Error(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
		}
		return
	}
	noteID, _ := strconv.ParseInt(rest[0], 10, 64)
	i := slices.IndexFunc(mr.notes, func(n Note) bool { return n.ID == noteID })
	switch {
	case len(rest) != 1 || (r.Method != http.MethodPut && r.Method != http.MethodDelete):
		Error(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
	case i < 0:
		Error(w, http.StatusNotFound, "404 Note Not Found")
	case r.Method == http.MethodPut:
		mr.notes[i].Body, mr.notes[i].updated = in.Body, s.tick()
		JSON(w, http.StatusOK, noteJSON(mr, mr.notes[i]))
	default:
		mr.notes = slices.Delete(mr.notes, i, i+1)
		w.WriteHeader(http.StatusNoContent)
	}
}

// noteJSON is a note as GitLab's notes API shows it.
func noteJSON(mr *mergeRequest, n Note) map[string]any {
	return map[string]any{
		"id": n.ID, "type": nil, "body": n.Body, "attachment": nil, "author": userJSON(n.Author),
		"created_at": n.created.Format(time.RFC3339Nano), "updated_at": n.updated.Format(time.RFC3339Nano),
		"system": n.System, "noteable_id": mr.project.id*1000 + mr.iid, "noteable_type": "MergeRequest",
		"project_id": mr.project.id, "noteable_iid": mr.iid, "resolvable": false, "confidential": false,
		"internal": false, "imported": false, "imported_from": "none",
	}
}

// userJSON is a user as GitLab shows an author (and, with more fields we
// do not read, GET /user).
func userJSON(u User) map[string]any {
	return map[string]any{
		"id": u.ID, "username": u.Username, "name": u.Username, "state": "active", "locked": false,
		"avatar_url": nil, "web_url": "https://gitlab.example.com/" + u.Username,
	}
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

// noRoute is GitLab's answer to a path that is no API route (its
// catch-all route's), {"error": "404 Not Found"}: not a missing project
// or merge request, whose 404 says so in a "message".
func noRoute(w http.ResponseWriter) {
	JSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
}
