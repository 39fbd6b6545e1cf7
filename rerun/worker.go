package rerun

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// work takes tasks until the queue is closed and drained.
func (e *Engine) work() {
	for {
		t := e.queue.pop()
		if t == nil {
			return
		}
		e.handle(t)
		e.queue.done(t.Key)
	}
}

// source is where t came from: a sweep or a delivery.
func (t *Task) source() string {
	if len(t.Deliveries) > 0 && t.Deliveries[0].ID == reconcileDelivery {
		return SourceReconcile
	}
	return SourceWebhook
}

// handle makes the label job's verdict and the status checks of one merge
// request follow its labels in GitLab, trying again with backoff while
// GitLab faults, within the task's budget, and giving up with a log line.
// The task says only which merge request: everything else is read from
// GitLab.
func (e *Engine) handle(t *Task) {
	start := e.clock.Now()
	var p progress
	r, err := e.try(t, &p)
	if err != nil {
		r.Actions = append(r.Actions, ActionGaveUp)
		r.Detail = e.giveUpDetail(err)
	}
	if p.mr != nil {
		r.Verdict = "fail"
		if p.pass {
			r.Verdict = "pass"
		}
		// The log names GitLab's path of the project, not a payload's.
		t.Path = Clip(p.mr.Path)
	}
	r.Took = e.clock.Now().Sub(start)
	e.record(t, r)
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

// try does what the labels call for, as many times as cfg.Attempts allows
// while GitLab's failure is transient and the task's budget lasts. Each
// failed call is counted by kind. Steps done by an earlier try (the merge
// request read, its status checks answered) are not redone, so a GitLab
// that fails one endpoint costs few calls per try.
func (e *Engine) try(t *Task, p *progress) (Result, error) {
	ctx, cancel := context.WithTimeout(e.workCtx, e.cfg.Budget)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var r Result
	err := e.retry(ctx, retryPlan{attempts: e.cfg.Attempts, deadline: deadline, lo: e.cfg.Backoff, hi: e.cfg.MaxWait,
		again: transient,
		waiting: func(err error, attempt int, wait time.Duration) {
			e.log.Info("gitlab fault; trying again", "project", t.Path, "project_id", t.Key.Project, "mr", t.Key.IID, "kind", gitlabapi.Classify(err).Kind,
				"attempt", attempt, "wait_ms", ms(wait), "error", err.Error())
		},
		pastBudget: func(err error, attempt int, wait, left time.Duration) error {
			e.log.Warn("gitlab fault; giving up", "project", t.Path, "project_id", t.Key.Project, "mr", t.Key.IID, "kind", gitlabapi.Classify(err).Kind,
				"attempt", attempt, "wait_ms", ms(wait), "budget_left_ms", ms(left), "error", err.Error())
			return pastBudgetError(err, wait, left)
		},
	}, func(ctx context.Context) error {
		// One bound for the calls of one try: a GitLab that hangs must not
		// spend the whole budget on it.
		actx, cancelTry := context.WithTimeout(ctx, e.cfg.CallTimeout)
		defer cancelTry()
		n, err := e.apply(actx, t, p)
		r.add(n)
		if err != nil {
			e.counts.apiError(err)
		}
		return err
	})
	return r, err
}

// giveUpDetail explains a task given up: the error, and for a refused
// token what to mend.
func (e *Engine) giveUpDetail(err error) string {
	if e.workCtx.Err() != nil {
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
// the other fails. Each step reads GitLab afresh: no state is kept from an
// earlier task or delivery, so a duplicate delivery or a second replica
// finds the work done and does nothing.
func (e *Engine) apply(ctx context.Context, t *Task, p *progress) (Result, error) {
	var r Result
	if p.mr == nil {
		mr, err := e.gl.MergeRequestInfo(ctx, projectID(t.Key.Project), t.Key.IID)
		switch {
		case err != nil && t.JobEventsOnly && gitlabapi.StatusOf(err) == http.StatusNotFound:
			r.note(fmt.Sprintf("no merge request !%d in project %d: a fork's pipeline? the merge request hook or the sweep covers it", t.Key.IID, t.Key.Project))
			return r, nil
		case err != nil:
			return r, fmt.Errorf("reading the merge request: %w", err)
		}
		p.mr, p.pass = mr, check.Evaluate(mr.Labels, e.cfg.Rules).Pass()
	}
	// --watch is applied to GitLab's path of the project acted on (the
	// merge request read's references.full), never to a payload's: a
	// delivery may name a watched path with another project's id. A
	// group:ID entry needs its path (asked once; reconcile first asks
	// here), asked only when no other entry allows the project.
	allowed := e.Allows(t.Key.Project, p.mr.Path)
	if !allowed {
		if err := e.ResolveGroups(ctx); err != nil {
			return r, err
		}
		allowed = e.Allows(t.Key.Project, p.mr.Path)
	}
	if !allowed {
		if p.mr.Path == "" {
			r.note(fmt.Sprintf("GitLab gave no path (references.full) for project %d: --watch cannot place it; left alone", t.Key.Project))
		} else {
			r.note(fmt.Sprintf("project %s (id %d) is outside --watch", strconv.Quote(Clip(p.mr.Path)), t.Key.Project))
		}
		return r, nil
	}
	if p.mr.State != "opened" {
		r.note("the merge request is " + Clip(p.mr.State))
		return r, nil
	}
	// The two steps are independent: a GitLab fault in one does not keep
	// the other from being done; the first error is returned after both.
	var first error
	if !p.checksDone {
		n, err := e.answerChecks(ctx, t, p)
		r.join(n)
		if err != nil {
			first = err
		} else {
			p.checksDone = true
		}
	}
	if !p.jobDone {
		n, err := e.labelJob(ctx, t.Key, p)
		r.join(n)
		if err != nil {
			first = cmp.Or(first, err)
		} else {
			p.jobDone = true
		}
	}
	return r, first
}

// answerChecks reads the merge request's status checks into a snapshot as
// decideChecks asks, then answers the ones it names. The project cache's
// lock is held over the project's list only, never over a write.
func (e *Engine) answerChecks(ctx context.Context, t *Task, p *progress) (Result, error) {
	var r Result
	pid := projectID(t.Key.Project)
	s := checksSnapshot{name: e.cfg.StatusCheckName, pass: p.pass, request: t.StatusCheck}
	if !s.request {
		if has, known := e.checks.get(t.Key.Project, e.cfg.CheckTTL, e.clock.Now()); known {
			s.projectHas = &has
		}
	}
	var d checksDecision
	for d = decideChecks(s); d.need != needNothing; d = decideChecks(s) {
		switch d.need {
		case needProjectChecks:
			has, refused, err := e.projectHasOurs(ctx, t.Key.Project)
			switch {
			case err != nil:
				return r, fmt.Errorf("listing the project's status checks: %w", err)
			case refused:
				s.projectRefused = true
			default:
				s.projectHas = &has
			}
		case needMRChecks:
			checks, err := e.gl.MergeRequestStatusChecks(ctx, pid, t.Key.IID)
			switch {
			case err == nil:
				s.mrChecks = checks
			case s.projectRefused && gitlabapi.Refused(err):
				s.mrRefused = true
			default:
				return r, fmt.Errorf("listing the merge request's status checks: %w", err)
			}
			s.mrRead = true
		}
	}
	if d.cache != nil {
		e.checks.put(t.Key.Project, *d.cache, e.clock.Now())
	}
	r.note(d.detail)
	for _, a := range d.answer {
		accepted, err := e.gl.SetStatusCheck(ctx, pid, t.Key.IID, a.id, p.mr.SHA, d.want)
		switch {
		case err != nil:
			return r, fmt.Errorf("answering status check %d: %w", a.id, err)
		case !accepted:
			// A push between our read and now: GitLab asks again for the new head.
			r.note(fmt.Sprintf("status check %d: %s is no longer the head commit", a.id, Clip(p.mr.SHA)))
		default:
			r.Actions = append(r.Actions, "status_"+d.want)
		}
	}
	return r, nil
}

// projectHasOurs says whether the project has a status check of ours,
// from the cache or GitLab's list of the project's checks (remembered);
// refused when GitLab will not list them (no status checks on this GitLab,
// or the token is no Maintainer). Workers taking merge requests of one
// project at once ask once.
func (e *Engine) projectHasOurs(ctx context.Context, project int64) (has, refused bool, err error) {
	unlock := e.checks.lock(ctx, project)
	defer unlock()
	if has, known := e.checks.get(project, e.cfg.CheckTTL, e.clock.Now()); known {
		return has, false, nil
	}
	list, err := e.gl.ProjectStatusChecks(ctx, projectID(project))
	switch {
	case err == nil:
		has = anyOurs(list, e.cfg.StatusCheckName)
		e.checks.put(project, has, e.clock.Now())
		return has, false, nil
	case gitlabapi.Refused(err):
		return false, true, nil
	}
	return false, false, err
}

// labelJob reads the merge request's label job into a snapshot as
// decideJob asks, then retries it when the decision says so.
func (e *Engine) labelJob(ctx context.Context, key Key, p *progress) (Result, error) {
	s := jobSnapshot{project: key.Project, pass: p.pass, sha: p.mr.SHA, draft: p.mr.Draft, head: p.mr.HeadPipeline, source: p.mr.SourceProjectID}
	pol := jobPolicy{jobName: e.cfg.JobName, retryForks: e.cfg.RetryForks, docsURL: e.cfg.DocsURL, rereadJobs: e.cfg.RereadJobs}
	var d jobDecision
	for s.now = e.clock.Now(); ; s.now = e.clock.Now() {
		if d = decideJob(pol, s); d.need == needNothing {
			break
		}
		var err error
		switch d.need {
		case needJobs:
			s.jobsReadAt = e.clock.Now()
			s.job, err = e.newestAttempt(ctx, d.project, d.pipeline)
			s.jobProject, s.pipeline = d.project, d.pipeline
			s.jobsRead = true
		case needLabelEvents:
			var events []gitlabapi.LabelEvent
			if events, err = e.gl.MergeRequestLabelEvents(ctx, projectID(key.Project), key.IID); err != nil {
				err = fmt.Errorf("listing the merge request's label events: %w", err)
			} else if len(events) > 0 {
				s.changed = events[len(events)-1].CreatedAt
			}
			s.eventsRead = true
		case needReady:
			if s.readyAt, err = e.gl.MarkedReadyAt(ctx, projectID(key.Project), key.IID); err != nil {
				err = fmt.Errorf("reading when the merge request was marked ready: %w", err)
			}
			s.readyRead = true
		case needJobsAgain:
			s.newestNow, err = e.newestAttempt(ctx, d.project, d.pipeline)
			s.reread = true
		}
		if err != nil {
			return Result{}, err
		}
	}
	if !d.retry {
		return Result{Detail: d.detail}, nil
	}
	retried, err := e.gl.RetryJob(ctx, projectID(d.jobProject), d.job.ID)
	switch {
	case err != nil:
		return Result{}, fmt.Errorf("retrying job %d: %w", d.job.ID, err)
	case !retried:
		return Result{Detail: e.notRetryable(ctx, d)}, nil
	}
	return Result{Actions: []string{ActionRetried}, Detail: d.detail}, nil
}

// notRetryable says why GitLab answered that the job is not retryable,
// from its newest attempt read again: another replica, or a person,
// retried it between our read and now; or its pipeline was archived
// meanwhile, and only a new pipeline runs it again.
func (e *Engine) notRetryable(ctx context.Context, d jobDecision) string {
	now, err := e.newestAttempt(ctx, d.jobProject, d.pipeline)
	switch {
	case err != nil:
		return fmt.Sprintf("GitLab says job %d is not retryable (already retried, or archived; reading it again failed: %v)", d.job.ID, err)
	case now != nil && now.ID != d.job.ID:
		return fmt.Sprintf("job %d was already retried", d.job.ID)
	case now != nil && now.Archived:
		return fmt.Sprintf("job %d is archived (GitLab no longer retries the jobs of a pipeline this old): a new pipeline is needed (push, or run one for the merge request)", d.job.ID)
	}
	return fmt.Sprintf("GitLab says job %d is not retryable, and no newer attempt exists", d.job.ID)
}

// newestAttempt finds the newest attempt of the label job in a pipeline.
// GitLab lists only the newest attempt of each job unless include_retried
// is set; the highest id is kept all the same.
func (e *Engine) newestAttempt(ctx context.Context, project, pipeline int64) (*gitlabapi.Job, error) {
	jobs, err := e.gl.PipelineJobs(ctx, projectID(project), pipeline)
	if err != nil {
		return nil, fmt.Errorf("listing the jobs of pipeline %d: %w", pipeline, err)
	}
	var found *gitlabapi.Job
	for i, j := range jobs {
		if j.Name == e.cfg.JobName && (found == nil || j.ID > found.ID) {
			found = &jobs[i]
		}
	}
	return found, nil
}

// perProjectLimit is how many tasks of one project may be in flight:
// cfg.perProject, or half the workers, rounded up.
func perProjectLimit(cfg Config) int {
	if cfg.PerProject > 0 {
		return cfg.PerProject
	}
	return (max(cfg.Workers, 1) + 1) / 2
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
