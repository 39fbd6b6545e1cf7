package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
)

// work takes tasks until the queue is closed and drained.
func (s *service) work() {
	for {
		t := s.queue.pop()
		if t == nil {
			return
		}
		s.handle(t)
		s.queue.done(t.key)
	}
}

// result is what handling a task did, for the log line and the metrics.
type result struct {
	actions []string
	detail  string
}

// note adds a detail to the ones already said.
func (r *result) note(detail string) {
	if r.detail == "" {
		r.detail = detail
	} else {
		r.detail += "; " + detail
	}
}

// join folds in what a later step of the same try did: its actions
// after the earlier ones', its detail beside theirs.
func (r *result) join(n result) {
	r.actions = append(r.actions, n.actions...)
	if n.detail != "" {
		r.note(n.detail)
	}
}

// add folds in what a later try did: its actions after the earlier
// ones', its detail over theirs.
func (r *result) add(n result) {
	r.actions = append(r.actions, n.actions...)
	if n.detail != "" {
		r.detail = n.detail
	}
}

func (r result) action() string {
	if len(r.actions) == 0 {
		return "none"
	}
	return strings.Join(r.actions, "+")
}

// handle makes the label job's verdict and the status checks of one merge
// request follow its labels in GitLab, trying again with backoff while
// GitLab faults, within the task's budget, and giving up with a log line.
// The task says only which merge request: everything else is read from
// GitLab.
func (s *service) handle(t *task) {
	start := time.Now()
	source := "webhook"
	if len(t.deliveries) > 0 && t.deliveries[0].id == reconcileDelivery {
		source = "reconcile"
	}
	defer func() { s.metrics.processing[source].UpdateDuration(start) }()

	var p progress
	r, err := s.try(t, &p)
	if err != nil {
		r.actions = append(r.actions, "gave_up")
		r.detail = s.giveUpDetail(err)
	}
	verdict := ""
	if p.mr != nil {
		verdict = "fail"
		if p.pass {
			verdict = "pass"
		}
		if t.path == "" {
			t.path = clip(p.mr.Path)
		}
	}
	s.logTask(t, verdict, r.action(), r.detail, time.Since(start))
}

// progress is what the tries of one task learned and did: the merge
// request is read once per task, and a step done is not done again by a
// later try.
type progress struct {
	mr         *gitlabapi.MergeRequestInfo
	pass       bool // GitLab's labels pass the rules
	checksDone bool
	jobDone    bool
}

// errPastBudget ends a task whose next wait would end past its budget.
var errPastBudget = errors.New("the wait before the next try ends past the task's budget")

// try does what the labels call for, as many times as cfg.attempts allows
// while GitLab's failure is transient and the task's budget lasts: the
// only retry layer, since the client makes one attempt a call. Each failed
// call is counted by kind. Steps done by an earlier try (the merge request
// read, its status checks answered) are not redone, so a GitLab that
// fails one endpoint costs few calls per try.
func (s *service) try(t *task, p *progress) (result, error) {
	ctx, cancel := context.WithTimeout(s.workCtx, s.cfg.budget)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var r result
	var err error
	for attempt := 0; attempt < s.cfg.attempts; attempt++ {
		if attempt > 0 {
			f := gitlabapi.Classify(err)
			wait := s.faultWait(f, attempt-1)
			if left := time.Until(deadline); wait >= left {
				s.log.Warn("gitlab fault; giving up", "project", t.path, "mr", t.key.iid, "kind", f.Kind,
					"attempt", attempt, "wait_ms", ms(wait), "budget_left_ms", ms(max(left, 0)), "error", err.Error())
				return r, fmt.Errorf("%w (%s, %s left): %w", errPastBudget, wait.Round(time.Millisecond), max(left, 0).Round(time.Millisecond), err)
			}
			s.log.Info("gitlab fault; trying again", "project", t.path, "mr", t.key.iid, "kind", f.Kind,
				"attempt", attempt+1, "wait_ms", ms(wait), "error", err.Error())
			if clock.Sleep(ctx, wait) != nil {
				break
			}
		}
		// One bound for the calls of one try: a GitLab that hangs must not
		// spend the whole budget on it.
		actx, cancelTry := context.WithTimeout(ctx, s.cfg.callTimeout)
		var n result
		n, err = s.apply(actx, t, p)
		cancelTry()
		r.add(n)
		if err == nil {
			return r, nil
		}
		f := gitlabapi.Classify(err)
		s.metrics.apiErrors.Inc(f.Kind)
		if !f.Transient || ctx.Err() != nil {
			break
		}
	}
	return r, err
}

// giveUpDetail explains a task given up: the error, and for a refused
// token what to mend.
func (s *service) giveUpDetail(err error) string {
	if s.workCtx.Err() != nil {
		return "the service stopped: " + err.Error()
	}
	switch gitlabapi.Classify(err).Kind {
	case "401":
		return "GitLab refused the token (401): give ECHOES_GITLAB_TOKEN a valid token with the api scope; " + err.Error()
	case "403":
		return "GitLab forbade the call (403): the token needs the api scope and at least the Developer role; " + err.Error()
	case "tls":
		return "GitLab's TLS certificate is not trusted: point --ca-file/CI_SERVER_TLS_CA_FILE at its CA; " + err.Error()
	}
	return err.Error()
}

// apply does what GitLab's labels call for, once: it reads the merge
// request (unless an earlier try did), answers its status checks that are
// ours, and puts the label job of its head pipeline right, both even when
// the other fails. Each step reads
// GitLab afresh: no state is kept from an earlier task or delivery, so a
// duplicate delivery or a second replica finds the work done and does
// nothing.
func (s *service) apply(ctx context.Context, t *task, p *progress) (result, error) {
	var r result
	if p.mr == nil {
		mr, err := s.gl.MergeRequestInfo(ctx, projectID(t.key.project), t.key.iid)
		switch {
		case err != nil && t.jobEventsOnly && gitlabapi.StatusOf(err) == http.StatusNotFound:
			r.note(fmt.Sprintf("no merge request !%d in project %d: a fork's pipeline? the merge request hook or the sweep covers it", t.key.iid, t.key.project))
			return r, nil
		case err != nil:
			return r, fmt.Errorf("reading the merge request: %w", err)
		}
		p.mr, p.pass = mr, check.Evaluate(mr.Labels, s.cfg.rules).Pass()
	}
	if t.recheckWatch && !watchAllows(s.cfg.allow, t.key.project, p.mr.Path, s.watchGroupPath) {
		r.note(fmt.Sprintf("project %s (id %d) is outside --watch", strconv.Quote(clip(p.mr.Path)), t.key.project))
		return r, nil
	}
	if p.mr.State != "opened" {
		r.note("the merge request is " + clip(p.mr.State))
		return r, nil
	}
	// The two steps are independent: a GitLab fault in one does not keep
	// the other from being done; the first error is returned after both.
	var first error
	if !p.checksDone {
		n, err := s.answerChecks(ctx, t, p)
		r.join(n)
		if err != nil {
			first = err
		} else {
			p.checksDone = true
		}
	}
	if !p.jobDone {
		n, err := s.labelJob(ctx, t.key, p)
		r.join(n)
		if err != nil {
			first = cmp.Or(first, err)
		} else {
			p.jobDone = true
		}
	}
	return r, first
}

// answerChecks answers the merge request's status checks that are ours
// (by name) and whose status for its head commit is not the verdict:
// pending, failed while the labels pass, passed while they fail. It looks
// only when the project has a check of ours (checkCache), or when a status
// check request asked.
func (s *service) answerChecks(ctx context.Context, t *task, p *progress) (result, error) {
	var r result
	pid := projectID(t.key.project)
	var checks []gitlabapi.StatusCheck
	listed := false
	if !t.statusCheck {
		has, known := s.checks.get(t.key.project, s.cfg.checkTTL, time.Now())
		if !known {
			// Workers taking merge requests of one project at once ask once.
			unlock := s.checks.lock(ctx, t.key.project)
			defer unlock()
			has, known = s.checks.get(t.key.project, s.cfg.checkTTL, time.Now())
		}
		if !known {
			list, err := s.gl.ProjectStatusChecks(ctx, pid)
			switch {
			case err == nil:
				has = s.anyOurs(list)
				s.checks.put(t.key.project, has, time.Now())
			case unlisted(err):
				// No status checks on this GitLab (not Ultimate), or the
				// token is no Maintainer: the merge request's list says for
				// this merge request. A check of ours there is one in the
				// project; none there says nothing of the others (a check
				// may cover other target branches), so it is not believed
				// for the project, unless GitLab lists no status checks at
				// all.
				checks, err = s.gl.MergeRequestStatusChecks(ctx, pid, t.key.iid)
				switch {
				case err == nil:
					listed, has = true, s.anyOurs(checks)
					if has {
						s.checks.put(t.key.project, true, time.Now())
					}
				case unlisted(err):
					listed = true
					s.checks.put(t.key.project, false, time.Now())
				default:
					return r, fmt.Errorf("listing the merge request's status checks: %w", err)
				}
			default:
				return r, fmt.Errorf("listing the project's status checks: %w", err)
			}
		}
		if !has {
			return r, nil
		}
	}
	if !listed {
		var err error
		if checks, err = s.gl.MergeRequestStatusChecks(ctx, pid, t.key.iid); err != nil {
			return r, fmt.Errorf("listing the merge request's status checks: %w", err)
		}
	}
	want := "failed"
	if p.pass {
		want = "passed"
	}
	ours := 0
	for _, c := range checks {
		if c.Name != s.cfg.statusCheckName {
			continue // another service's check: never ours to answer
		}
		ours++
		if c.Status == want {
			continue
		}
		accepted, err := s.gl.SetStatusCheck(ctx, pid, t.key.iid, c.ID, p.mr.SHA, want)
		switch {
		case err != nil:
			return r, fmt.Errorf("answering status check %d: %w", c.ID, err)
		case !accepted:
			// A push between our read and now: GitLab asks again for the new head.
			r.note(fmt.Sprintf("status check %d: %s is no longer the head commit", c.ID, clip(p.mr.SHA)))
		default:
			s.metrics.actions.Inc("status_" + want)
			r.actions = append(r.actions, "status_"+want)
		}
	}
	if ours == 0 && t.statusCheck {
		r.note(fmt.Sprintf("no status check named %q on this merge request", s.cfg.statusCheckName))
	}
	return r, nil
}

// unlisted is true of the answers that say GitLab will not list status
// checks here: no licence for them (401, 404) or a role too low (403).
func unlisted(err error) bool {
	switch gitlabapi.StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

func (s *service) anyOurs(checks []gitlabapi.StatusCheck) bool {
	for _, c := range checks {
		if c.Name == s.cfg.statusCheckName {
			return true
		}
	}
	return false
}

// labelJob retries the label job of the merge request's head pipeline (or
// of a child pipeline of it) when its result is not the labels' verdict,
// both ways: failed while the labels pass, success while they fail. It
// retries only when the labels changed after that attempt read them
// (GitLab's resource label events against the job's start), so an update
// that changes no label never retries, and a job that fails for another
// reason is retried at most once per label change, by any number of
// replicas and sweeps.
func (s *service) labelJob(ctx context.Context, key mrKey, p *progress) (result, error) {
	head := p.mr.HeadPipeline
	if head == nil {
		return result{detail: "no head pipeline"}, nil
	}
	project := head.ProjectID
	if project <= 0 {
		project = key.project
	}
	if !s.cfg.retryForks {
		// A fork's merge request, wherever its pipeline ran: in the fork,
		// or in this project (run by a member for the fork's author).
		switch source := p.mr.SourceProjectID; {
		case project != key.project:
			return result{detail: fmt.Sprintf("a fork's merge request: its head pipeline %d runs in project %d; left alone (--retry-forks acts on it)", head.ID, project)}, nil
		case source > 0 && source != key.project:
			return result{detail: fmt.Sprintf("a fork's merge request (source project %d): its head pipeline %d runs in this project; left alone (--retry-forks acts on it)", source, head.ID)}, nil
		}
	}
	jobsRead := time.Now()
	job, jobProject, pipeline, err := s.findLabelJob(ctx, project, head.ID)
	switch {
	case err != nil:
		return result{}, err
	case job == nil:
		return result{detail: fmt.Sprintf("no job %q in head pipeline %d or its child pipelines", s.cfg.jobName, head.ID)}, nil
	case !finished(job.Status):
		return result{detail: fmt.Sprintf("job %d is %s", job.ID, clip(job.Status))}, nil
	case (job.Status == "success") == p.pass: // its verdict is the labels'
		if !p.pass {
			return result{detail: fmt.Sprintf("labels fail the rules (%s): the label job is red for the right reason", s.cfg.docsURL)}, nil
		}
		return result{detail: fmt.Sprintf("job %d is %s", job.ID, clip(job.Status))}, nil
	}
	read := job.StartedAt
	if read.IsZero() {
		read = job.CreatedAt
	}
	if read.IsZero() {
		return result{detail: fmt.Sprintf("job %d is %s, but GitLab gives no time it read the labels: not retried", job.ID, job.Status)}, nil
	}
	events, err := s.gl.MergeRequestLabelEvents(ctx, projectID(key.project), key.iid)
	if err != nil {
		return result{}, fmt.Errorf("listing the merge request's label events: %w", err)
	}
	var changed time.Time
	if len(events) > 0 {
		changed = events[len(events)-1].CreatedAt
	}
	if changed.IsZero() || !changed.After(read) {
		return result{detail: fmt.Sprintf("job %d is %s; the labels have not changed since it read them: not retried", job.ID, job.Status)}, nil
	}
	if time.Since(jobsRead) > s.cfg.rereadJobs {
		// Another replica may have retried it since: GitLab checks that a
		// job is retryable without a lock, so two POSTs can both succeed.
		// Read again just before, to narrow that window to a moment.
		now, err := s.newestAttempt(ctx, jobProject, pipeline)
		switch {
		case err != nil:
			return result{}, err
		case now == nil || now.ID != job.ID || now.Status != job.Status:
			return result{detail: fmt.Sprintf("job %d was already retried", job.ID)}, nil
		}
	}
	retried, err := s.gl.RetryJob(ctx, projectID(jobProject), job.ID)
	switch {
	case err != nil:
		return result{}, fmt.Errorf("retrying job %d: %w", job.ID, err)
	case !retried:
		// Another replica, or a person, retried it between our read and now.
		return result{detail: fmt.Sprintf("job %d was already retried", job.ID)}, nil
	}
	s.metrics.actions.Inc("job_retried")
	return result{actions: []string{"retried"}, detail: fmt.Sprintf("job %d (%s) of pipeline %d retried: the labels changed after it read them", job.ID, job.Status, pipeline)}, nil
}

// findLabelJob finds the newest attempt of the label job in a pipeline,
// or else in a child pipeline one of its bridges made, with the project
// and pipeline it is in; nil when it is in neither.
func (s *service) findLabelJob(ctx context.Context, project, pipeline int64) (*gitlabapi.Job, int64, int64, error) {
	job, err := s.newestAttempt(ctx, project, pipeline)
	if err != nil || job != nil {
		return job, project, pipeline, err
	}
	bridges, err := s.gl.PipelineBridges(ctx, projectID(project), pipeline)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("listing the bridges of pipeline %d: %w", pipeline, err)
	}
	for _, b := range bridges {
		d := b.Downstream
		if d == nil {
			continue
		}
		child := d.ProjectID
		if child <= 0 {
			child = project
		}
		job, err := s.newestAttempt(ctx, child, d.ID)
		if err != nil || job != nil {
			return job, child, d.ID, err
		}
	}
	return nil, 0, 0, nil
}

// newestAttempt finds the newest attempt of the label job in a pipeline.
// GitLab lists only the newest attempt of each job unless include_retried
// is set; the highest id is kept all the same.
func (s *service) newestAttempt(ctx context.Context, project, pipeline int64) (*gitlabapi.Job, error) {
	jobs, err := s.gl.PipelineJobs(ctx, projectID(project), pipeline)
	if err != nil {
		return nil, fmt.Errorf("listing the jobs of pipeline %d: %w", pipeline, err)
	}
	var found *gitlabapi.Job
	for i, j := range jobs {
		if j.Name == s.cfg.jobName && (found == nil || j.ID > found.ID) {
			found = &jobs[i]
		}
	}
	return found, nil
}

// perProjectLimit is how many tasks of one project may be in flight:
// cfg.perProject, or half the workers, rounded up.
func perProjectLimit(cfg config) int {
	if cfg.perProject > 0 {
		return cfg.perProject
	}
	return (max(cfg.workers, 1) + 1) / 2
}

// checkCache remembers, for a while, whether a project has an external
// status check of ours, so that a sweep or a burst asks GitLab once per
// project, not once per merge request.
type checkCache struct {
	mu       sync.Mutex
	m        map[int64]checkEntry
	inFlight map[int64]chan struct{} // a lookup under way, closed when it ends
}

// lock waits for another worker's lookup of project to end, then makes
// this one the lookup under way until the returned func is called. A ctx
// that ends first gives up the wait (the lookup is then made twice).
func (c *checkCache) lock(ctx context.Context, project int64) (unlock func()) {
	for {
		c.mu.Lock()
		ch := c.inFlight[project]
		if ch == nil {
			if c.inFlight == nil {
				c.inFlight = map[int64]chan struct{}{}
			}
			ch = make(chan struct{})
			c.inFlight[project] = ch
			c.mu.Unlock()
			return func() {
				c.mu.Lock()
				delete(c.inFlight, project)
				c.mu.Unlock()
				close(ch)
			}
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return func() {}
		}
	}
}

type checkEntry struct {
	has bool
	at  time.Time
}

// maxCachedProjects bounds the cache's memory.
const maxCachedProjects = 10000

func (c *checkCache) get(project int64, ttl time.Duration, now time.Time) (has, known bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[project]
	if !ok || now.Sub(e.at) >= ttl {
		return false, false
	}
	return e.has, true
}

func (c *checkCache) put(project int64, has bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedProjects {
		c.m = map[int64]checkEntry{} // forgetting costs one call per project
	}
	c.m[project] = checkEntry{has: has, at: now}
}
