package gitlabtest

// The CI side of the stand-in, for echoes-labels serve: merge request
// pipelines, their jobs, job retry, lists of open merge requests by project
// and group with updated_after, and external status check responses. Each
// answer has the shape GitLab's API documentation gives (docs.gitlab.com
// api/jobs, api/merge_requests "List merge request pipelines",
// api/status_checks; see testdata/SOURCE.md), reduced to documented fields.

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Job is a CI job as the stand-in keeps it. Only Name and Status are read
// by AddPipeline; the stand-in numbers jobs itself.
type Job struct {
	ID         int64
	Name       string
	Status     string // created, pending, running, failed, success, canceled, ...
	PipelineID int64
	Retried    bool // a newer attempt of it exists
	// CreatedAt is when the attempt was made; StartedAt when a runner took
	// it, zero while it has not (created, pending). The stand-in sets both.
	CreatedAt, StartedAt time.Time
}

// StatusCheckResponse is one accepted POST to
// /projects/:id/merge_requests/:iid/status_check_responses.
type StatusCheckResponse struct {
	SHA                   string
	ExternalStatusCheckID int64
	Status                string
}

type ciState struct {
	nextID    int64
	pipelines map[int64]*pipeline
	jobs      map[int64]*Job
	groups    map[string][]int64 // group id or path → project ids
	groupPath map[int64]string   // group id → its full path
	retries   map[mrKey]int
	checks    map[mrKey][]StatusCheckResponse
	answered  map[mrKey][]time.Time // when each of checks was posted
	// services are each project's external status checks, by project id.
	services     map[int64][]statusCheckService
	checkTimeout time.Duration // a pending response older than this is failed; 0 is GitLab's 2 minutes
}

type statusCheckService struct {
	id   int64
	name string
	url  string
}

// bridge is a trigger job of a pipeline and the child pipeline it made.
type bridge struct {
	id     int64
	name   string
	status string
	child  int64
	at     time.Time
}

type mrKey struct{ project, iid int64 }

type pipeline struct {
	id, project, iid int64
	mrProject        int64 // the merge request's project; project runs it (a fork may)
	sha, ref         string
	source           string  // merge_request_event, push, parent_pipeline
	jobs             []int64 // every attempt, oldest first
	bridges          []bridge
	created          time.Time
}

func (c *ciState) init() {
	if c.pipelines == nil {
		c.nextID = 100
		c.pipelines = map[int64]*pipeline{}
		c.jobs = map[int64]*Job{}
		c.groups = map[string][]int64{}
		c.groupPath = map[int64]string{}
		c.retries = map[mrKey]int{}
		c.checks = map[mrKey][]StatusCheckResponse{}
		c.answered = map[mrKey][]time.Time{}
		c.services = map[int64][]statusCheckService{}
	}
}

// headSHA is a stable, made-up 40-hex commit id for a merge request head.
func headSHA(project, iid int64, n int) string {
	sum := sha1.Sum([]byte(fmt.Sprintf("%d/%d/%d", project, iid, n)))
	return hex.EncodeToString(sum[:])
}

// AddPipeline runs a new merge request pipeline for merge request iid of
// project (created if need be) on its head commit, with the given jobs
// (Name and Status), and returns the pipeline's id. It becomes the merge
// request's head pipeline.
func (s *Server) AddPipeline(id int64, path string, iid int64, jobs ...Job) int64 {
	return s.AddForkPipeline(id, path, id, path, iid, jobs...)
}

// AddForkPipeline is AddPipeline for a merge request of project id whose
// pipeline runs in another project, its source fork (forkID, forkPath).
func (s *Server) AddForkPipeline(forkID int64, forkPath string, id int64, path string, iid int64, jobs ...Job) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.mr(id, path, iid)
	if forkID != id {
		mr.sourceProject = forkID
	}
	p := s.addPipeline(forkID, forkPath, id, iid, fmt.Sprintf("refs/merge-requests/%d/head", iid), "merge_request_event", jobs)
	mr.headPipeline = p.id
	return p.id
}

// SetSourceProject makes merge request iid of project id come from a fork
// (source_project_id forkID) whatever project its pipelines run in: a
// member may run a fork's pipeline in the parent project.
func (s *Server) SetSourceProject(id int64, path string, iid int64, forkID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mr(id, path, iid).sourceProject = forkID
}

// AddBranchPipeline runs a branch pipeline (source push) of the merge
// request's source branch on its head commit: GitLab lists it among the
// merge request's pipelines, after the merge request pipelines, but it is
// not the head pipeline.
func (s *Server) AddBranchPipeline(id int64, path string, iid int64, jobs ...Job) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.mr(id, path, iid)
	return s.addPipeline(id, path, id, iid, mr.branch, "push", jobs).id
}

// SetHeadPipeline makes pipeline the merge request's head pipeline (0:
// none), as GitLab's head_pipeline shows it.
func (s *Server) SetHeadPipeline(id int64, path string, iid int64, pipeline int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mr(id, path, iid).headPipeline = pipeline
}

// AddChildPipeline runs a child pipeline of parent, created by a trigger
// job (a bridge) named bridgeName in parent, with the given jobs, and
// returns its id.
func (s *Server) AddChildPipeline(parent int64, bridgeName string, jobs ...Job) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	pp := s.ci.pipelines[parent]
	if pp == nil {
		panic(fmt.Sprintf("gitlabtest: no pipeline %d", parent))
	}
	c := s.addPipeline(pp.project, "", pp.mrProject, pp.iid, pp.ref, "parent_pipeline", jobs)
	c.sha = pp.sha
	s.ci.nextID++
	pp.bridges = append(pp.bridges, bridge{id: s.ci.nextID, name: bridgeName, status: "success", child: c.id, at: s.tick()})
	return c.id
}

// addPipeline makes a pipeline of the merge request in project (path
// names it when new). s.mu is held.
func (s *Server) addPipeline(project int64, path string, mrProject, iid int64, ref, source string, jobs []Job) *pipeline {
	s.ci.init()
	if key := strconv.FormatInt(project, 10); s.projects[key] == nil {
		s.projects[key] = map[int64]*mergeRequest{}
		s.ids[key] = project
		if path != "" {
			s.projects[path] = s.projects[key]
			s.ids[path] = project
		}
	}
	mr := s.projects[strconv.FormatInt(mrProject, 10)][iid]
	s.ci.nextID++
	p := &pipeline{id: s.ci.nextID, project: project, mrProject: mrProject, iid: iid, sha: mr.sha, ref: ref, source: source, created: s.tick()}
	s.ci.pipelines[p.id] = p
	for _, j := range jobs {
		s.ci.nextID++
		n := &Job{ID: s.ci.nextID, Name: j.Name, Status: j.Status, PipelineID: p.id, CreatedAt: p.created}
		if started(j.Status) {
			n.StartedAt = s.tick()
		}
		s.ci.jobs[n.ID] = n
		p.jobs = append(p.jobs, n.ID)
	}
	return p
}

// started is true of a status only a job a runner took can have.
func started(status string) bool {
	return slices.Contains([]string{"running", "success", "failed", "canceled", "canceling"}, status)
}

// Jobs returns every job of a pipeline, retried attempts included, oldest first.
func (s *Server) Jobs(pipelineID int64) []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	var out []Job
	if p := s.ci.pipelines[pipelineID]; p != nil {
		for _, id := range p.jobs {
			out = append(out, *s.ci.jobs[id])
		}
	}
	return out
}

// SetJobStatus sets a job's status, as a runner taking it or finishing
// it would: a job that starts gets its started_at then.
func (s *Server) SetJobStatus(jobID int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	if j := s.ci.jobs[jobID]; j != nil {
		j.Status = status
		if started(status) && j.StartedAt.IsZero() {
			j.StartedAt = s.tick()
		}
	}
}

// SetJobTimes sets when a job was created and started (zero: never).
func (s *Server) SetJobTimes(jobID int64, created, started time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	if j := s.ci.jobs[jobID]; j != nil {
		j.CreatedAt, j.StartedAt = created.UTC(), started.UTC()
	}
}

// LabelJob is the newest attempt of the job named name in pipeline.
func (s *Server) LabelJob(pipeline int64, name string) Job {
	var out Job
	for _, j := range s.Jobs(pipeline) {
		if j.Name == name && j.ID > out.ID {
			out = j
		}
	}
	return out
}

// Retries is how many job retries the stand-in accepted for the pipelines
// of merge request iid of project id.
func (s *Server) Retries(id, iid int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	return s.ci.retries[mrKey{id, iid}]
}

// StatusChecks returns the status check responses set on a merge request.
func (s *Server) StatusChecks(id, iid int64) []StatusCheckResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	return slices.Clone(s.ci.checks[mrKey{id, iid}])
}

// HeadSHA is the head commit of merge request iid's source branch.
func (s *Server) HeadSHA(id int64, path string, iid int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mr(id, path, iid).sha
}

// SetState sets a merge request's state (opened, closed, merged).
func (s *Server) SetState(id int64, path string, iid int64, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.mr(id, path, iid)
	mr.state = state
	mr.updatedAt = s.tick()
}

// SetUpdatedAt sets when a merge request was last updated, as
// updated_after filters see it.
func (s *Server) SetUpdatedAt(id int64, path string, iid int64, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mr(id, path, iid).updatedAt = at.UTC()
}

// AddGroup makes a group (reachable by id and path) holding the projects,
// for GET /groups/:id/merge_requests and GET /groups/:id.
func (s *Server) AddGroup(id int64, path string, projectIDs ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	s.ci.groupPath[id] = path
	for _, key := range []string{strconv.FormatInt(id, 10), path} {
		s.ci.groups[key] = append(s.ci.groups[key], projectIDs...)
	}
}

// answer is the merge request as the API shows it, with its head
// pipeline (null when it has none). s.mu is held.
func (s *Server) answer(mr *mergeRequest, id, iid int64) map[string]any {
	out := MergeRequest(id, iid, mr.labels, mr.branch)
	out["state"] = mr.state
	mr.authorAndDraft(out)
	out["sha"] = mr.sha
	out["updated_at"] = mr.updatedAt.Format(time.RFC3339Nano)
	if mr.title != "" {
		out["title"] = mr.title
	}
	if mr.sourceProject != 0 {
		out["source_project_id"] = mr.sourceProject
	}
	for key, pid := range s.ids {
		if pid == id && key != strconv.FormatInt(id, 10) {
			ref := fmt.Sprintf("!%d", iid)
			out["references"] = map[string]any{"short": ref, "relative": ref, "full": key + ref}
			break
		}
	}
	var head any
	if p := s.ci.pipelines[mr.headPipeline]; p != nil {
		head = s.pipelineJSON(p)
	}
	out["head_pipeline"], out["pipeline"] = head, head
	return out
}

// pipelineJSON is a pipeline as the API's PipelineBasic shows it. s.mu is held.
func (s *Server) pipelineJSON(p *pipeline) map[string]any {
	return map[string]any{
		"id": p.id, "iid": p.id - 100, "project_id": p.project, "sha": p.sha, "ref": p.ref,
		"status": s.pipelineStatus(p), "source": p.source,
		"created_at": p.created.Format(time.RFC3339Nano), "updated_at": p.created.Format(time.RFC3339Nano),
		"web_url": fmt.Sprintf("https://gitlab.example.com/group/project/-/pipelines/%d", p.id),
	}
}

// matches applies the state and updated_after filters of the list APIs.
func (mr *mergeRequest) matches(q url.Values) bool {
	if st := q.Get("state"); st != "" && st != "all" && st != mr.state {
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

func sortedIIDs(mrs map[int64]*mergeRequest) []int64 {
	iids := make([]int64, 0, len(mrs))
	for iid := range mrs {
		iids = append(iids, iid)
	}
	// Newest first, as GitLab's default order (created_at desc) would have it.
	slices.SortFunc(iids, func(a, b int64) int { return int(b - a) })
	return iids
}

// serveCI answers the routes this file adds and says whether it did.
func (s *Server) serveCI(w http.ResponseWriter, r *http.Request) bool {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
	if len(parts) == 2 && parts[0] == "groups" && r.Method == http.MethodGet {
		s.getGroup(w, parts[1])
		return true
	}
	if len(parts) < 3 {
		return false
	}
	key, err := url.PathUnescape(parts[1])
	if err != nil {
		return false
	}
	switch {
	case parts[0] == "groups" && len(parts) == 3 && parts[2] == "merge_requests" && r.Method == http.MethodGet:
		s.listGroupMergeRequests(w, r, key)
	case parts[0] == "projects" && len(parts) == 5 && parts[2] == "pipelines" && parts[4] == "jobs" && r.Method == http.MethodGet:
		s.listPipelineJobs(w, r, key, parts[3])
	case parts[0] == "projects" && len(parts) == 5 && parts[2] == "pipelines" && parts[4] == "bridges" && r.Method == http.MethodGet:
		s.listPipelineBridges(w, r, key, parts[3])
	case parts[0] == "projects" && len(parts) == 3 && parts[2] == "external_status_checks" && r.Method == http.MethodGet:
		s.listProjectStatusChecks(w, r, key)
	case parts[0] == "projects" && len(parts) == 4 && parts[2] == "jobs" && r.Method == http.MethodGet:
		s.getJob(w, key, parts[3])
	case parts[0] == "projects" && len(parts) == 5 && parts[2] == "jobs" && parts[4] == "retry" && r.Method == http.MethodPost:
		s.retryJob(w, key, parts[3])
	default:
		return false
	}
	return true
}

// getGroup answers GET /groups/:id (by id or path) with the group's id
// and full_path.
func (s *Server) getGroup(w http.ResponseWriter, key string) {
	key, err := url.PathUnescape(key)
	if err != nil {
		Error(w, http.StatusBadRequest, "400 Bad request")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	for id, p := range s.ci.groupPath {
		if strconv.FormatInt(id, 10) == key || p == key {
			i := strings.LastIndex(p, "/")
			JSON(w, http.StatusOK, map[string]any{"id": id, "path": p[i+1:], "full_path": p, "name": p[i+1:]})
			return
		}
	}
	Error(w, http.StatusNotFound, "404 Group Not Found")
}

func (s *Server) listGroupMergeRequests(w http.ResponseWriter, r *http.Request, group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	projects, ok := s.ci.groups[group]
	if !ok {
		Error(w, http.StatusNotFound, "404 Group Not Found")
		return
	}
	out := []map[string]any{}
	for _, id := range projects {
		mrs := s.projects[strconv.FormatInt(id, 10)]
		for _, iid := range sortedIIDs(mrs) {
			if mrs[iid].matches(r.URL.Query()) {
				out = append(out, s.answer(mrs[iid], id, iid))
			}
		}
	}
	paginate(w, r, out)
}

// listMergeRequestPipelines answers GET
// /projects/:id/merge_requests/:iid/pipelines as GitLab orders it: the
// merge request pipelines first, newest first, then the source branch's
// pipelines, newest first; 20 a page. Child pipelines are not listed.
// s.mu is held.
func (s *Server) listMergeRequestPipelines(w http.ResponseWriter, r *http.Request, id, iid int64) {
	s.ci.init()
	var ps []*pipeline
	for _, p := range s.ci.pipelines {
		if p.mrProject == id && p.iid == iid && p.source != "parent_pipeline" {
			ps = append(ps, p)
		}
	}
	rank := func(p *pipeline) int {
		if p.source == "merge_request_event" {
			return 0
		}
		return 1
	}
	slices.SortFunc(ps, func(a, b *pipeline) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return int(b.id - a.id)
	})
	out := []map[string]any{}
	for _, p := range ps {
		out = append(out, s.pipelineJSON(p))
	}
	paginate(w, r, out)
}

// pipelineStatus derives a pipeline's status from its newest job attempts.
func (s *Server) pipelineStatus(p *pipeline) string {
	status := "success"
	for _, id := range p.jobs {
		switch j := s.ci.jobs[id]; {
		case j.Retried:
		case j.Status == "failed":
			return "failed"
		case j.Status == "pending" || j.Status == "running" || j.Status == "created":
			status = "running"
		}
	}
	return status
}

// project resolves a project id or path to its numeric id. s.mu is held.
func (s *Server) projectID(key string) (int64, bool) {
	id, ok := s.ids[key]
	return id, ok
}

// pipelineOf is the pipeline a path names, or nil once GitLab's 404 for
// the missing project or pipeline is written. s.mu is held.
func (s *Server) pipelineOf(w http.ResponseWriter, project, pipelineID string) *pipeline {
	s.ci.init()
	id, ok := s.projectID(project)
	if !ok {
		Error(w, http.StatusNotFound, "404 Project Not Found")
		return nil
	}
	pid, _ := strconv.ParseInt(pipelineID, 10, 64)
	p := s.ci.pipelines[pid]
	if p == nil || p.project != id {
		Error(w, http.StatusNotFound, "404 Not found")
		return nil
	}
	return p
}

func (s *Server) listPipelineJobs(w http.ResponseWriter, r *http.Request, project, pipelineID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pipelineOf(w, project, pipelineID)
	if p == nil {
		return
	}
	q := r.URL.Query()
	retried := q.Get("include_retried") == "true"
	scopes := q["scope[]"]
	out := []map[string]any{}
	// Newest first; retried attempts only when asked (GitLab 13.5 and later).
	for _, jid := range slices.Backward(p.jobs) {
		j := s.ci.jobs[jid]
		if (j.Retried && !retried) || (len(scopes) > 0 && !slices.Contains(scopes, j.Status)) {
			continue
		}
		out = append(out, s.jobJSON(j, p))
	}
	paginate(w, r, out)
}

func (s *Server) findJob(w http.ResponseWriter, project, jobID string) (*Job, *pipeline) {
	s.ci.init()
	id, ok := s.projectID(project)
	if !ok {
		Error(w, http.StatusNotFound, "404 Project Not Found")
		return nil, nil
	}
	jid, _ := strconv.ParseInt(jobID, 10, 64)
	j := s.ci.jobs[jid]
	if j == nil || s.ci.pipelines[j.PipelineID].project != id {
		Error(w, http.StatusNotFound, "404 Not found")
		return nil, nil
	}
	return j, s.ci.pipelines[j.PipelineID]
}

func (s *Server) getJob(w http.ResponseWriter, project, jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j, p := s.findJob(w, project, jobID); j != nil {
		JSON(w, http.StatusOK, s.jobJSON(j, p))
	}
}

// retryJob answers POST /projects/:id/jobs/:job_id/retry: 201 and the new
// attempt, or 403 "Job is not retryable" for an attempt already retried or
// still running, as GitLab's API does.
func (s *Server) retryJob(w http.ResponseWriter, project, jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, p := s.findJob(w, project, jobID)
	if j == nil {
		return
	}
	if j.Retried || !slices.Contains([]string{"failed", "success", "canceled", "canceling"}, j.Status) {
		Error(w, http.StatusForbidden, "403 Forbidden - Job is not retryable")
		return
	}
	j.Retried = true
	s.ci.nextID++
	n := &Job{ID: s.ci.nextID, Name: j.Name, Status: "pending", PipelineID: p.id, CreatedAt: s.tick()}
	s.ci.jobs[n.ID] = n
	p.jobs = append(p.jobs, n.ID)
	s.ci.retries[mrKey{p.mrProject, p.iid}]++
	JSON(w, http.StatusCreated, s.jobJSON(n, p))
}

// jobJSON is a job as GET /projects/:id/jobs/:job_id documents it.
func (s *Server) jobJSON(j *Job, p *pipeline) map[string]any {
	created := p.created.Format(time.RFC3339Nano)
	var jobCreated, jobStarted any
	if !j.CreatedAt.IsZero() {
		jobCreated = j.CreatedAt.Format(time.RFC3339Nano)
	}
	if !j.StartedAt.IsZero() {
		jobStarted = j.StartedAt.Format(time.RFC3339Nano)
	}
	out := map[string]any{
		"id": j.ID, "name": j.Name, "stage": "test", "status": j.Status, "ref": p.ref, "tag": false,
		"allow_failure": false, "coverage": nil, "created_at": jobCreated, "started_at": jobStarted, "finished_at": nil,
		"duration": nil, "queued_duration": 0.01, "artifacts": []any{}, "runner": nil, "user": nil,
		"web_url": fmt.Sprintf("https://gitlab.example.com/group/project/-/jobs/%d", j.ID),
		"project": map[string]any{"ci_job_token_scope_enabled": false},
		"commit": map[string]any{
			"id": p.sha, "short_id": p.sha[:8], "title": "Update README.md", "message": "Update README.md",
			"author_name": "Administrator", "author_email": "admin@example.com", "created_at": created,
		},
		"pipeline": map[string]any{"id": p.id, "project_id": p.project, "ref": p.ref, "sha": p.sha, "status": s.pipelineStatus(p)},
	}
	if j.Status == "failed" {
		out["failure_reason"] = "script_failure"
	}
	return out
}

// AddStatusCheck adds an external status check service named name to
// project (created if need be) and returns its id. Until a response is
// posted for a merge request's head commit, the check is pending there.
func (s *Server) AddStatusCheck(id int64, path string, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	key := strconv.FormatInt(id, 10)
	if s.projects[key] == nil {
		s.projects[key], s.ids[key] = map[int64]*mergeRequest{}, id
		s.projects[path], s.ids[path] = s.projects[key], id
	}
	s.ci.nextID++
	s.ci.services[id] = append(s.ci.services[id], statusCheckService{id: s.ci.nextID, name: name,
		url: fmt.Sprintf("https://checks.example.com/%s", url.PathEscape(name))})
	return s.ci.nextID
}

// SetStatusCheckTimeout sets how long a pending response stays pending
// before GitLab's cron turns it failed (2 minutes unless set).
func (s *Server) SetStatusCheckTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	s.ci.checkTimeout = d
}

// StatusCheckStatus is the status GitLab shows for check on the merge
// request's current head commit: the newest response for that commit,
// pending when there is none, failed once a pending one timed out.
func (s *Server) StatusCheckStatus(id int64, path string, iid, check int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	return s.checkStatus(id, iid, s.mr(id, path, iid), check)
}

// checkStatus: see StatusCheckStatus. s.mu is held.
func (s *Server) checkStatus(id, iid int64, mr *mergeRequest, check int64) string {
	k := mrKey{id, iid}
	rs := s.ci.checks[k]
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].ExternalStatusCheckID != check || rs[i].SHA != mr.sha {
			continue
		}
		timeout := s.ci.checkTimeout
		if timeout <= 0 {
			timeout = 2 * time.Minute
		}
		if rs[i].Status == "pending" && time.Since(s.ci.answered[k][i]) > timeout {
			return "failed"
		}
		return rs[i].Status
	}
	return "pending"
}

// listStatusChecks answers GET /projects/:id/merge_requests/:iid/status_checks:
// the project's checks with their status for the head commit. s.mu is held.
func (s *Server) listStatusChecks(w http.ResponseWriter, r *http.Request, id, iid int64, mr *mergeRequest) {
	s.ci.init()
	out := []map[string]any{}
	for _, c := range s.ci.services[id] {
		out = append(out, map[string]any{"id": c.id, "name": c.name, "external_url": c.url, "status": s.checkStatus(id, iid, mr, c.id)})
	}
	paginate(w, r, out)
}

// listProjectStatusChecks answers GET /projects/:id/external_status_checks.
func (s *Server) listProjectStatusChecks(w http.ResponseWriter, r *http.Request, project string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	id, ok := s.projectID(project)
	if !ok {
		Error(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	out := []map[string]any{}
	for _, c := range s.ci.services[id] {
		out = append(out, map[string]any{"id": c.id, "name": c.name, "project_id": id, "external_url": c.url,
			"hmac": true, "protected_branches": []any{}})
	}
	paginate(w, r, out)
}

// listLabelEvents answers GET
// /projects/:id/merge_requests/:iid/resource_label_events, 20 a page.
// s.mu is held.
func (s *Server) listLabelEvents(w http.ResponseWriter, r *http.Request, id, iid int64, mr *mergeRequest) {
	out := []map[string]any{}
	for _, e := range mr.labelEvents {
		out = append(out, map[string]any{
			"id": e.id, "user": map[string]any{"id": Reviewer.ID, "username": Reviewer.Username, "name": "Reviewer", "state": "active"},
			"created_at": e.created.Format(time.RFC3339Nano), "resource_type": "MergeRequest", "resource_id": id*1000 + iid,
			"label":  map[string]any{"id": 1, "name": e.label, "color": "#0033CC", "description": ""},
			"action": e.action,
		})
	}
	paginate(w, r, out)
}

// listPipelineBridges answers GET /projects/:id/pipelines/:pipeline_id/bridges.
func (s *Server) listPipelineBridges(w http.ResponseWriter, r *http.Request, project, pipelineID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pipelineOf(w, project, pipelineID)
	if p == nil {
		return
	}
	out := []map[string]any{}
	for _, b := range p.bridges {
		at := b.at.Format(time.RFC3339Nano)
		var down any
		if c := s.ci.pipelines[b.child]; c != nil {
			down = s.pipelineJSON(c)
		}
		out = append(out, map[string]any{
			"id": b.id, "status": b.status, "stage": "test", "name": b.name, "ref": p.ref, "tag": false,
			"allow_failure": false, "created_at": at, "started_at": at, "finished_at": at,
			"pipeline":            map[string]any{"id": p.id, "project_id": p.project, "sha": p.sha, "ref": p.ref, "status": s.pipelineStatus(p)},
			"downstream_pipeline": down,
		})
	}
	paginate(w, r, out)
}

// setStatusCheck answers POST
// /projects/:id/merge_requests/:iid/status_check_responses as GitLab does:
// sha and external_status_check_id and status required, 404 for a check
// the project does not have (when it has any), 409 naming the head when
// sha is not it. s.mu is held.
func (s *Server) setStatusCheck(w http.ResponseWriter, r *http.Request, id, iid int64, mr *mergeRequest) {
	s.ci.init()
	var in struct {
		SHA                   string `json:"sha"`
		ExternalStatusCheckID int64  `json:"external_status_check_id"`
		Status                string `json:"status"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			Error(w, http.StatusBadRequest, "400 Bad request")
			return
		}
	} else {
		_ = r.ParseForm()
		in.SHA, in.Status = r.Form.Get("sha"), r.Form.Get("status")
		in.ExternalStatusCheckID, _ = strconv.ParseInt(r.Form.Get("external_status_check_id"), 10, 64)
	}
	name := "echoes-labels"
	known := len(s.ci.services[id]) == 0
	for _, c := range s.ci.services[id] {
		if c.id == in.ExternalStatusCheckID {
			known, name = true, c.name
		}
	}
	switch {
	case in.SHA == "":
		Error(w, http.StatusBadRequest, "400 Bad request - sha is missing")
		return
	case in.ExternalStatusCheckID == 0:
		Error(w, http.StatusBadRequest, "400 Bad request - external_status_check_id is missing")
		return
	case in.Status == "":
		Error(w, http.StatusBadRequest, "400 Bad request - status is missing")
		return
	case in.Status != "passed" && in.Status != "failed" && in.Status != "pending":
		Error(w, http.StatusBadRequest, "400 Bad request - status does not have a valid value")
		return
	case !known:
		Error(w, http.StatusNotFound, "404 Not Found")
		return
	case in.SHA != mr.sha:
		Error(w, http.StatusConflict, "SHA does not match HEAD of source branch: "+mr.sha)
		return
	}
	k := mrKey{id, iid}
	s.ci.checks[k] = append(s.ci.checks[k], StatusCheckResponse{SHA: in.SHA, ExternalStatusCheckID: in.ExternalStatusCheckID, Status: in.Status})
	s.ci.answered[k] = append(s.ci.answered[k], s.tick())
	s.ci.nextID++
	JSON(w, http.StatusCreated, map[string]any{
		"id":                    s.ci.nextID,
		"merge_request":         map[string]any{"id": id*1000 + iid, "iid": iid, "project_id": id, "title": "Update README.md"},
		"external_status_check": map[string]any{"id": in.ExternalStatusCheckID, "name": name, "project_id": id},
	})
}

// SetHeadSHA moves the merge request's source branch to a new head
// commit (a push), which GitLab's status checks are asked about anew.
func (s *Server) SetHeadSHA(id int64, path string, iid int64, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.mr(id, path, iid)
	mr.sha = sha
	mr.updatedAt = s.tick()
}

// paginate writes one page of items with GitLab's pagination headers
// (per_page 20 by default, 100 at most).
func paginate(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if perPage <= 0 {
		perPage = 20
	}
	perPage = min(perPage, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	pages := max((len(items)+perPage-1)/perPage, 1)
	from := min((page-1)*perPage, len(items))
	to := min(from+perPage, len(items))
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(perPage))
	h.Set("X-Total", strconv.Itoa(len(items)))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
	} else {
		h.Set("X-Next-Page", "")
	}
	JSON(w, http.StatusOK, items[from:to])
}
