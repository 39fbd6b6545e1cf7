package gitlabtest

// The CI side of the stand-in, for echoes-labels serve: merge request
// pipelines, their jobs, job retry, lists of open merge requests by project
// and group with updated_after, and external status check responses. Each
// answer has the shape GitLab's API documentation gives (docs.gitlab.com
// api/jobs, api/merge_requests "List merge request pipelines",
// api/status_checks; see testdata/SOURCE.md), reduced to documented fields.

import (
	"cmp"
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
	// FailureReason is GitLab's failure_reason of a failed job: "" is
	// script_failure (its script exited non-zero), as GitLab says of a
	// failed check; others are runner_system_failure,
	// protected_environment_failure, job_execution_timeout, ...
	FailureReason string
	// AllowFailure: GitLab's allow_failure; true for a job that failed
	// with an exit code its allow_failure:exit_codes lists (a warning).
	AllowFailure bool
	// Archived: its pipeline is archived; GitLab refuses to retry it
	// ("Job is not retryable").
	Archived bool
}

// StatusCheckResponse is one accepted POST to
// /projects/:id/merge_requests/:iid/status_check_responses.
type StatusCheckResponse struct {
	SHA                   string
	ExternalStatusCheckID int64
	Status                string
}

type ciState struct {
	nextID       int64
	pipelines    map[int64]*pipeline
	jobs         map[int64]*Job
	retries      map[mrKey]int
	checks       map[mrKey][]StatusCheckResponse
	answered     map[mrKey][]time.Time // when each of checks was posted
	checkTimeout time.Duration         // a pending response older than this is failed; 0 is GitLab's 2 minutes
}

// group is a group of the registry.
type group struct {
	id       int64
	path     string
	projects []int64
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
	c.nextID = 100
	c.pipelines = map[int64]*pipeline{}
	c.jobs = map[int64]*Job{}
	c.retries = map[mrKey]int{}
	c.checks = map[mrKey][]StatusCheckResponse{}
	c.answered = map[mrKey][]time.Time{}
}

// headSHA is a stable, made-up 40-hex commit id for a merge request head.
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
func (s *Server) AddForkPipeline(forkID int64, forkPath string, id int64, path string, iid int64, jobs ...Job) (pipeline int64) {
	s.change(id, path, iid, func(mr *mergeRequest) {
		if forkID != id {
			mr.sourceProject = forkID
		}
		p := s.addPipeline(s.project(forkID, forkPath), mr, fmt.Sprintf("refs/merge-requests/%d/head", iid), "merge_request_event", jobs)
		mr.headPipeline, pipeline = p.id, p.id
	})
	return pipeline
}

// AddBranchPipeline runs a branch pipeline (source push) of the merge
// request's source branch on its head commit: GitLab lists it among the
// merge request's pipelines, after the merge request pipelines, but it is
// not the head pipeline.
func (s *Server) AddBranchPipeline(id int64, path string, iid int64, jobs ...Job) (pipeline int64) {
	s.change(id, path, iid, func(mr *mergeRequest) {
		pipeline = s.addPipeline(mr.project, mr, mr.branch, "push", jobs).id
	})
	return pipeline
}

// AddChildPipeline runs a child pipeline of parent, created by a trigger
// job (a bridge) named bridgeName in parent, with the given jobs, and
// returns its id.
func (s *Server) AddChildPipeline(parent int64, bridgeName string, jobs ...Job) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pp := s.ci.pipelines[parent]
	if pp == nil {
		panic(fmt.Sprintf("gitlabtest: no pipeline %d", parent))
	}
	c := s.addPipeline(s.project(pp.project, ""), s.mr(pp.mrProject, "", pp.iid), pp.ref, "parent_pipeline", jobs)
	c.sha = pp.sha
	s.ci.nextID++
	pp.bridges = append(pp.bridges, bridge{id: s.ci.nextID, name: bridgeName, status: "success", child: c.id, at: s.tick()})
	return c.id
}

// AddDownstreamPipeline makes a multi-project downstream pipeline: a
// bridge named bridgeName of pipeline parent triggers a pipeline in
// another project (id, path; created if need be), with jobs; GitLab's
// bridges list shows it as downstream_pipeline with that project_id.
func (s *Server) AddDownstreamPipeline(parent int64, bridgeName string, id int64, path string, jobs ...Job) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	pp := s.ci.pipelines[parent]
	if pp == nil {
		panic(fmt.Sprintf("gitlabtest: no pipeline %d", parent))
	}
	c := s.addPipeline(s.project(id, path), s.mr(pp.mrProject, "", pp.iid), "main", "pipeline", jobs)
	s.ci.nextID++
	pp.bridges = append(pp.bridges, bridge{id: s.ci.nextID, name: bridgeName, status: "success", child: c.id, at: s.tick()})
	return c.id
}

// addPipeline makes a pipeline of mr that runs in project. s.mu is held.
func (s *Server) addPipeline(project *project, mr *mergeRequest, ref, source string, jobs []Job) *pipeline {
	s.ci.nextID++
	p := &pipeline{id: s.ci.nextID, project: project.id, mrProject: mr.project.id, iid: mr.iid, sha: mr.sha, ref: ref, source: source, created: s.tick()}
	s.ci.pipelines[p.id] = p
	for _, j := range jobs {
		s.ci.nextID++
		n := &Job{ID: s.ci.nextID, Name: j.Name, Status: j.Status, PipelineID: p.id, CreatedAt: p.created,
			FailureReason: j.FailureReason, AllowFailure: j.AllowFailure, Archived: j.Archived}
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
	var out []Job
	if p := s.ci.pipelines[pipelineID]; p != nil {
		for _, id := range p.jobs {
			out = append(out, *s.ci.jobs[id])
		}
	}
	return out
}

// job applies f to a job, if there is one by that id, under s.mu.
func (s *Server) job(jobID int64, f func(*Job)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.ci.jobs[jobID]; j != nil {
		f(j)
	}
}

// SetJobStatus sets a job's status, as a runner taking it or finishing
// it would: a job that starts gets its started_at then.
func (s *Server) SetJobStatus(jobID int64, status string) {
	s.job(jobID, func(j *Job) {
		j.Status = status
		if started(status) && j.StartedAt.IsZero() {
			j.StartedAt = s.tick()
		}
	})
}

// SetJobFailure sets a job's failure_reason and allow_failure, as GitLab
// records them when the job fails.
func (s *Server) SetJobFailure(jobID int64, reason string, allowFailure bool) {
	s.job(jobID, func(j *Job) { j.FailureReason, j.AllowFailure = reason, allowFailure })
}

// SetJobArchived archives a job's pipeline, as GitLab does to pipelines
// older than archive_builds_in: its jobs can no longer be retried.
func (s *Server) SetJobArchived(jobID int64) {
	s.job(jobID, func(j *Job) { j.Archived = true })
}

// SetJobTimes sets when a job was created and started (zero: never).
func (s *Server) SetJobTimes(jobID int64, created, started time.Time) {
	s.job(jobID, func(j *Job) { j.CreatedAt, j.StartedAt = created.UTC(), started.UTC() })
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
	return s.ci.retries[mrKey{id, iid}]
}

// StatusChecks returns the status check responses set on a merge request.
func (s *Server) StatusChecks(id, iid int64) []StatusCheckResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ci.checks[mrKey{id, iid}])
}

// AddGroup makes a group (reachable by id and path) holding the projects,
// for GET /groups/:id/merge_requests and GET /groups/:id.
func (s *Server) AddGroup(id int64, path string, projectIDs ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group(id, path)
	g.projects = append(g.projects, projectIDs...)
}

// group is the group id, made (reachable by id and path) if it is new.
// s.mu is held.
func (s *Server) group(id int64, path string) *group {
	g := s.groups[strconv.FormatInt(id, 10)]
	if g == nil {
		g = &group{id: id, path: path}
		s.groups[strconv.FormatInt(id, 10)], s.groups[path] = g, g
	}
	return g
}

// routeGroup answers /groups/:id[/merge_requests]. s.mu is held.
func (s *Server) routeGroup(w http.ResponseWriter, r *http.Request, key string, rest []string) {
	g := s.groups[key]
	switch {
	case r.Method != http.MethodGet || len(rest) > 1 || len(rest) == 1 && rest[0] != "merge_requests":
		noRoute(w)
	case g == nil:
		Error(w, http.StatusNotFound, "404 Group Not Found")
	case len(rest) == 0:
		i := strings.LastIndex(g.path, "/")
		JSON(w, http.StatusOK, map[string]any{"id": g.id, "path": g.path[i+1:], "full_path": g.path, "name": g.path[i+1:]})
	default:
		var projects []*project
		for _, id := range g.projects {
			projects = append(projects, s.project(id, ""))
		}
		s.listMergeRequests(w, r, projects)
	}
}

// routeCI answers a project's pipelines, jobs and external status checks.
// s.mu is held.
func (s *Server) routeCI(w http.ResponseWriter, r *http.Request, p *project, rest []string) {
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	var n int64
	if len(rest) > 1 {
		n, _ = strconv.ParseInt(rest[1], 10, 64)
	}
	var pl *pipeline
	var j *Job
	switch rest[0] {
	case "pipelines":
		if pl = s.ci.pipelines[n]; pl != nil && pl.project != p.id {
			pl = nil
		}
	case "jobs":
		if j = s.ci.jobs[n]; j != nil {
			if pl = s.ci.pipelines[j.PipelineID]; pl.project != p.id {
				j, pl = nil, nil
			}
		}
	}
	switch {
	case len(rest) == 1 && rest[0] == "external_status_checks" && get:
		s.listProjectStatusChecks(w, r, p)
	case !(rest[0] == "pipelines" && len(rest) == 3 && (rest[2] == "jobs" || rest[2] == "bridges") && get) &&
		!(rest[0] == "jobs" && (len(rest) == 2 && get || len(rest) == 3 && rest[2] == "retry" && post)):
		noRoute(w)
	case pl == nil:
		Error(w, http.StatusNotFound, "404 Not found")
	case rest[0] == "pipelines" && rest[2] == "jobs":
		s.listPipelineJobs(w, r, pl)
	case rest[0] == "pipelines":
		s.listPipelineBridges(w, r, pl)
	case len(rest) == 2:
		JSON(w, http.StatusOK, s.jobJSON(j, pl))
	default:
		s.retryJob(w, j, pl)
	}
}

// listMergeRequestPipelines answers GET
// /projects/:id/merge_requests/:iid/pipelines as GitLab orders it: the
// merge request pipelines first, newest first, then the source branch's
// pipelines, newest first. Child pipelines are not listed. s.mu is held.
func (s *Server) listMergeRequestPipelines(w http.ResponseWriter, r *http.Request, mr *mergeRequest) {
	var ps []*pipeline
	for _, p := range s.ci.pipelines {
		if p.mrProject == mr.project.id && p.iid == mr.iid && p.source != "parent_pipeline" {
			ps = append(ps, p)
		}
	}
	rank := func(p *pipeline) int {
		if p.source == "merge_request_event" {
			return 0
		}
		return 1
	}
	slices.SortFunc(ps, func(a, b *pipeline) int { return cmp.Or(rank(a)-rank(b), cmp.Compare(b.id, a.id)) })
	rows := make([]row, len(ps))
	for i, p := range ps {
		rows[i] = row{id: p.id, created: p.created, updated: p.created, json: func() any { return s.pipelineJSON(p) }}
	}
	paginate(w, r, rows)
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

// listPipelineJobs answers GET /projects/:id/pipelines/:pipeline_id/jobs,
// newest first, retried attempts only with include_retried=true (GitLab
// 13.5 and later), filtered by scope[]. s.mu is held.
func (s *Server) listPipelineJobs(w http.ResponseWriter, r *http.Request, p *pipeline) {
	q := r.URL.Query()
	retried := q.Get("include_retried") == "true"
	scopes := q["scope[]"]
	var rows []row
	for _, jid := range slices.Backward(p.jobs) {
		j := s.ci.jobs[jid]
		if (j.Retried && !retried) || (len(scopes) > 0 && !slices.Contains(scopes, j.Status)) {
			continue
		}
		rows = append(rows, row{id: j.ID, created: j.CreatedAt, updated: j.CreatedAt, json: func() any { return s.jobJSON(j, p) }})
	}
	paginate(w, r, rows)
}

// retryJob answers POST /projects/:id/jobs/:job_id/retry: 201 and the new
// attempt, or 403 "Job is not retryable" for an attempt already retried,
// archived or still running, as GitLab's API does (Ci::Build#retryable?).
// s.mu is held.
func (s *Server) retryJob(w http.ResponseWriter, j *Job, p *pipeline) {
	if j.Retried || j.Archived || !slices.Contains([]string{"failed", "success", "canceled", "canceling"}, j.Status) {
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

// timeJSON is a time as GitLab writes it, null when zero.
func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC3339Nano)
}

// jobJSON is a job as GET /projects/:id/jobs/:job_id documents it.
func (s *Server) jobJSON(j *Job, p *pipeline) map[string]any {
	out := map[string]any{
		"id": j.ID, "name": j.Name, "stage": "test", "status": j.Status, "ref": p.ref, "tag": false,
		"allow_failure": j.AllowFailure, "archived": j.Archived, "coverage": nil, "created_at": timeJSON(j.CreatedAt), "started_at": timeJSON(j.StartedAt), "finished_at": nil,
		"duration": nil, "queued_duration": 0.01, "artifacts": []any{}, "runner": nil, "user": nil,
		"web_url": fmt.Sprintf("https://gitlab.example.com/group/project/-/jobs/%d", j.ID),
		"project": map[string]any{"ci_job_token_scope_enabled": false},
		"commit": map[string]any{
			"id": p.sha, "short_id": p.sha[:8], "title": "Update README.md", "message": "Update README.md",
			"author_name": "Administrator", "author_email": "admin@example.com", "created_at": timeJSON(p.created),
		},
		"pipeline": s.pipelineRef(p),
	}
	if j.Status == "failed" {
		out["failure_reason"] = cmp.Or(j.FailureReason, "script_failure")
	}
	return out
}

// pipelineRef is the pipeline a job or a bridge names.
func (s *Server) pipelineRef(p *pipeline) map[string]any {
	return map[string]any{"id": p.id, "project_id": p.project, "ref": p.ref, "sha": p.sha, "status": s.pipelineStatus(p)}
}

// listPipelineBridges answers GET /projects/:id/pipelines/:pipeline_id/bridges.
// s.mu is held.
func (s *Server) listPipelineBridges(w http.ResponseWriter, r *http.Request, p *pipeline) {
	rows := make([]row, len(p.bridges))
	for i, b := range p.bridges {
		rows[i] = row{id: b.id, created: b.at, updated: b.at, json: func() any {
			var down any
			if c := s.ci.pipelines[b.child]; c != nil {
				down = s.pipelineJSON(c)
			}
			return map[string]any{
				"id": b.id, "status": b.status, "stage": "test", "name": b.name, "ref": p.ref, "tag": false,
				"allow_failure": false, "created_at": timeJSON(b.at), "started_at": timeJSON(b.at), "finished_at": timeJSON(b.at),
				"pipeline": s.pipelineRef(p), "downstream_pipeline": down,
			}
		}}
	}
	paginate(w, r, rows)
}

// AddStatusCheck adds an external status check service named name to
// project (created if need be) and returns its id. Until a response is
// posted for a merge request's head commit, the check is pending there.
func (s *Server) AddStatusCheck(id int64, path string, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.project(id, path)
	s.ci.nextID++
	p.checks = append(p.checks, statusCheckService{id: s.ci.nextID, name: name,
		url: fmt.Sprintf("https://checks.example.com/%s", url.PathEscape(name))})
	return s.ci.nextID
}

// AnswerStatusCheck records a response of check for the merge request's
// head commit, as if its service had posted it.
func (s *Server) AnswerStatusCheck(id int64, path string, iid, check int64, status string) {
	s.change(id, path, iid, func(mr *mergeRequest) { s.answerCheck(mr, check, mr.sha, status) })
}

// answerCheck: s.mu is held.
func (s *Server) answerCheck(mr *mergeRequest, check int64, sha, status string) {
	k := mrKey{mr.project.id, mr.iid}
	s.ci.checks[k] = append(s.ci.checks[k], StatusCheckResponse{SHA: sha, ExternalStatusCheckID: check, Status: status})
	s.ci.answered[k] = append(s.ci.answered[k], s.tick())
}

// SetStatusCheckTimeout sets how long a pending response stays pending
// before GitLab's cron turns it failed (2 minutes unless set).
func (s *Server) SetStatusCheckTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.checkTimeout = d
}

// StatusCheckStatus is the status GitLab shows for check on the merge
// request's current head commit: the newest response for that commit,
// pending when there is none, failed once a pending one timed out.
func (s *Server) StatusCheckStatus(id int64, path string, iid, check int64) (status string) {
	s.change(id, path, iid, func(mr *mergeRequest) { status = s.checkStatus(mr, check) })
	return status
}

// checkStatus: see StatusCheckStatus. s.mu is held.
func (s *Server) checkStatus(mr *mergeRequest, check int64) string {
	k := mrKey{mr.project.id, mr.iid}
	rs := s.ci.checks[k]
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].ExternalStatusCheckID != check || rs[i].SHA != mr.sha {
			continue
		}
		timeout := cmp.Or(s.ci.checkTimeout, 2*time.Minute)
		if rs[i].Status == "pending" && time.Since(s.ci.answered[k][i]) > timeout {
			return "failed"
		}
		return rs[i].Status
	}
	return "pending"
}

// listStatusChecks answers GET /projects/:id/merge_requests/:iid/status_checks:
// the project's checks with their status for the head commit. s.mu is held.
func (s *Server) listStatusChecks(w http.ResponseWriter, r *http.Request, mr *mergeRequest) {
	rows := make([]row, len(mr.project.checks))
	for i, c := range mr.project.checks {
		rows[i] = row{id: c.id, json: func() any {
			return map[string]any{"id": c.id, "name": c.name, "external_url": c.url, "status": s.checkStatus(mr, c.id)}
		}}
	}
	paginate(w, r, rows)
}

// listProjectStatusChecks answers GET /projects/:id/external_status_checks.
// s.mu is held.
func (s *Server) listProjectStatusChecks(w http.ResponseWriter, r *http.Request, p *project) {
	rows := make([]row, len(p.checks))
	for i, c := range p.checks {
		rows[i] = row{id: c.id, json: func() any {
			return map[string]any{"id": c.id, "name": c.name, "project_id": p.id, "external_url": c.url,
				"hmac": true, "protected_branches": []any{}}
		}}
	}
	paginate(w, r, rows)
}

// listLabelEvents answers GET
// /projects/:id/merge_requests/:iid/resource_label_events. s.mu is held.
func (s *Server) listLabelEvents(w http.ResponseWriter, r *http.Request, mr *mergeRequest) {
	rows := make([]row, len(mr.labelEvents))
	for i, e := range mr.labelEvents {
		rows[i] = row{id: e.id, created: e.created, updated: e.created, json: func() any {
			return map[string]any{
				"id": e.id, "user": userJSON(Reviewer), "created_at": timeJSON(e.created),
				"resource_type": "MergeRequest", "resource_id": mr.project.id*1000 + mr.iid,
				"label":  map[string]any{"id": 1, "name": e.label, "color": "#0033CC", "description": ""},
				"action": e.action,
			}
		}}
	}
	paginate(w, r, rows)
}

// setStatusCheck answers POST
// /projects/:id/merge_requests/:iid/status_check_responses as GitLab does:
// sha and external_status_check_id and status required, 404 for a check
// the project does not have (when it has any), 409 naming the head when
// sha is not it. s.mu is held.
func (s *Server) setStatusCheck(w http.ResponseWriter, r *http.Request, mr *mergeRequest) {
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
	id, iid := mr.project.id, mr.iid
	name := "echoes-labels"
	known := len(mr.project.checks) == 0
	for _, c := range mr.project.checks {
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
	s.answerCheck(mr, in.ExternalStatusCheckID, in.SHA, in.Status)
	s.ci.nextID++
	JSON(w, http.StatusCreated, map[string]any{
		"id":                    s.ci.nextID,
		"merge_request":         map[string]any{"id": id*1000 + iid, "iid": iid, "project_id": id, "title": "Update README.md"},
		"external_status_check": map[string]any{"id": in.ExternalStatusCheckID, "name": name, "project_id": id},
	})
}
