package serve

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
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

// handle applies the rules to one merge request, trying again with backoff
// while GitLab faults, within the task's budget, and giving up with a log
// line.
func (s *service) handle(t *task) {
	start := time.Now()
	source := "webhook"
	if len(t.deliveries) > 0 && t.deliveries[0].id == reconcileDelivery {
		source = "reconcile"
	}
	defer func() { s.metrics.processing[source].UpdateDuration(start) }()

	pass := check.Evaluate(t.labels, s.cfg.rules).Pass()
	verdict := "fail"
	if pass {
		verdict = "pass"
	}
	if t.state != "" && t.state != "opened" {
		s.logTask(t, verdict, "none", "the merge request is "+t.state, time.Since(start))
		return
	}
	r, err := s.try(t, pass)
	if err != nil {
		r.actions = append(r.actions, "gave_up")
		r.detail = s.giveUpDetail(err)
	}
	if r.detail == "" && !pass {
		r.detail = "labels fail the rules (" + s.cfg.docsURL + "): the label job is red for the right reason"
	}
	s.logTask(t, verdict, r.action(), r.detail, time.Since(start))
}

// errPastBudget ends a task whose next wait would end past its budget.
var errPastBudget = errors.New("the wait before the next try ends past the task's budget")

// try does what the labels call for, as many times as cfg.attempts allows
// while GitLab's failure is transient and the task's budget lasts: the
// only retry layer, since the client makes one attempt a call. Each failed
// call is counted by kind. Steps done by an earlier try (a status check
// answered) are not redone.
func (s *service) try(t *task, pass bool) (result, error) {
	ctx, cancel := context.WithTimeout(s.workCtx, s.cfg.budget)
	defer cancel()
	deadline, _ := ctx.Deadline()
	checks := maps.Clone(t.checks) // those still to answer
	var r result
	var err error
	for attempt := 0; attempt < s.cfg.attempts; attempt++ {
		if attempt > 0 {
			f := gitlabapi.Classify(err)
			wait := f.Wait // what GitLab asked for, honoured as asked
			if wait <= 0 {
				wait = expBackoff(s.cfg.backoff, s.cfg.maxWait, attempt-1)
			}
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
		n, err = s.apply(actx, t.key, pass, checks)
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

// apply does what the labels call for, once. Each call reads GitLab
// afresh: no state is kept from an earlier task or delivery, so a
// duplicate delivery or a second replica finds the job already retried
// and does nothing. It answers the status checks in checks and removes
// each one answered, so that a later try does not answer it again.
func (s *service) apply(ctx context.Context, key mrKey, pass bool, checks map[int64]string) (result, error) {
	status := "failed"
	if pass {
		status = "passed"
	}
	var r result
	for id, sha := range checks {
		accepted, err := s.gl.SetStatusCheck(ctx, projectID(key.project), key.iid, id, sha, status)
		switch {
		case err != nil:
			return r, fmt.Errorf("status check %d: %w", id, err)
		case !accepted:
			// The source branch moved on; GitLab asks again for the new head.
			r.detail = fmt.Sprintf("status check %d: %s is no longer the head commit", id, sha)
		default:
			s.metrics.actions.Inc("status_" + status)
			r.actions = append(r.actions, "status_"+status)
		}
		delete(checks, id)
	}
	if !pass {
		return r, nil
	}
	n, err := s.retryLabelJob(ctx, key)
	r.add(n)
	return r, err
}

// retryLabelJob retries the newest attempt of the label job in the merge
// request's newest pipeline when it failed.
func (s *service) retryLabelJob(ctx context.Context, key mrKey) (result, error) {
	pipelines, err := s.gl.MergeRequestPipelines(ctx, projectID(key.project), key.iid)
	if err != nil {
		return result{}, fmt.Errorf("listing the merge request's pipelines: %w", err)
	}
	var newest *gitlabapi.Pipeline
	for i, p := range pipelines {
		if newest == nil || p.ID > newest.ID {
			newest = &pipelines[i]
		}
	}
	if newest == nil {
		return result{detail: "no pipeline"}, nil
	}
	// A fork's merge request may run its pipeline in the fork: its jobs
	// live in the pipeline's project, not the merge request's.
	pipelineProject := newest.ProjectID
	if pipelineProject <= 0 {
		pipelineProject = key.project
	}
	job, err := s.newestAttempt(ctx, pipelineProject, newest.ID)
	switch {
	case err != nil:
		return result{}, fmt.Errorf("listing the jobs of pipeline %d: %w", newest.ID, err)
	case job == nil:
		return result{detail: fmt.Sprintf("no job %q in pipeline %d", s.cfg.jobName, newest.ID)}, nil
	case job.Status != "failed":
		return result{detail: fmt.Sprintf("job %d is %s", job.ID, job.Status)}, nil
	}
	retried, err := s.gl.RetryJob(ctx, projectID(pipelineProject), job.ID)
	switch {
	case err != nil:
		return result{}, fmt.Errorf("retrying job %d: %w", job.ID, err)
	case !retried:
		// Another replica, or a person, retried it between our read and now.
		return result{detail: fmt.Sprintf("job %d was already retried", job.ID)}, nil
	}
	s.metrics.actions.Inc("job_retried")
	return result{actions: []string{"retried"}, detail: fmt.Sprintf("job %d of pipeline %d retried", job.ID, newest.ID)}, nil
}

// newestAttempt finds the newest attempt of the label job in a pipeline.
// GitLab lists only the newest attempt of each job unless include_retried
// is set; the highest id is kept all the same.
func (s *service) newestAttempt(ctx context.Context, project, pipeline int64) (*gitlabapi.Job, error) {
	jobs, err := s.gl.PipelineJobs(ctx, projectID(project), pipeline)
	if err != nil {
		return nil, err
	}
	var found *gitlabapi.Job
	for i, j := range jobs {
		if j.Name == s.cfg.jobName && (found == nil || j.ID > found.ID) {
			found = &jobs[i]
		}
	}
	return found, nil
}
