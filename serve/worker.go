package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"gitlab.com/echoeshq/echoes-labels/check"
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

// outcome is what handling a task did, for the log line and the metrics.
type outcome struct {
	verdict string // pass, fail
	actions []string
	detail  string
}

func (o *outcome) act(a string) { o.actions = append(o.actions, a) }

func (o outcome) action() string {
	if len(o.actions) == 0 {
		return "none"
	}
	return strings.Join(o.actions, "+")
}

// handle applies the rules to one merge request, trying again with backoff
// while GitLab faults, and giving up with a log line.
func (s *service) handle(t *task) {
	start := time.Now()
	source := "webhook"
	if len(t.deliveries) > 0 && t.deliveries[0].id == reconcileDelivery {
		source = "reconcile"
	}
	defer func() { s.metrics.processing[source].UpdateDuration(start) }()

	verdict := check.Evaluate(t.labels, s.cfg.rules)
	o := outcome{verdict: "fail"}
	if verdict.Pass() {
		o.verdict = "pass"
	}
	if t.state != "" && t.state != "opened" {
		o.detail = "the merge request is " + t.state
		s.logTask(t, o.verdict, o.action(), o.detail, time.Since(start))
		return
	}
	var err error
	for attempt := 0; attempt < s.cfg.attempts; attempt++ {
		if attempt > 0 {
			kind, _, wait := apiFault(err)
			if wait <= 0 {
				wait = expBackoff(s.cfg.backoff, s.cfg.maxWait, attempt-1)
			}
			wait = min(wait, s.cfg.maxWait)
			s.log.Info("gitlab fault; trying again", "project", t.path, "mr", t.key.iid, "kind", kind,
				"attempt", attempt+1, "wait_ms", ms(wait), "error", err.Error())
			if sleep(s.workCtx, wait) != nil {
				break
			}
		}
		// One bound for the calls of one attempt: a GitLab that hangs
		// must not hold a worker until the service stops.
		actx, cancel := context.WithTimeout(s.workCtx, s.cfg.callTimeout)
		err = s.apply(actx, t, verdict.Pass(), &o)
		cancel()
		if err == nil {
			break
		}
		kind, transient, _ := apiFault(err)
		s.metrics.apiErrors.Inc(kind)
		if !transient || s.workCtx.Err() != nil {
			break
		}
	}
	if err != nil {
		o.act("gave_up")
		o.detail = giveUpDetail(err, s.workCtx)
	}
	if o.detail == "" && o.verdict == "fail" {
		o.detail = "labels fail the rules (" + s.cfg.docsURL + "): the label job is red for the right reason"
	}
	s.logTask(t, o.verdict, o.action(), o.detail, time.Since(start))
}

func giveUpDetail(err error, ctx context.Context) string {
	if ctx.Err() != nil {
		return "the service stopped: " + err.Error()
	}
	kind, _, _ := apiFault(err)
	switch kind {
	case "401":
		return "GitLab refused the token (401): give ECHOES_GITLAB_TOKEN a valid token with the api scope; " + err.Error()
	case "403":
		return "GitLab forbade the call (403): the token needs the api scope and at least the Developer role; " + err.Error()
	}
	return err.Error()
}

// apply does what the labels call for. Each call reads GitLab afresh: no
// state is kept from an earlier task or delivery, so a duplicate delivery
// or a second replica finds the job already retried and does nothing.
// Steps already done (a status check answered) are not redone when a
// later step faults and the task is tried again.
func (s *service) apply(ctx context.Context, t *task, pass bool, o *outcome) error {
	status := "failed"
	if pass {
		status = "passed"
	}
	for id, sha := range t.checks {
		_, err := s.gl.ExternalStatusChecks.SetProjectMergeRequestExternalStatusCheckStatus(t.key.project, t.key.iid,
			&gitlab.SetProjectMergeRequestExternalStatusCheckStatusOptions{
				SHA: gitlab.Ptr(sha), ExternalStatusCheckID: gitlab.Ptr(id), Status: gitlab.Ptr(status),
			}, gitlab.WithContext(ctx))
		var er *gitlab.ErrorResponse
		switch {
		case errors.As(err, &er) && er.StatusCode == 409:
			// The source branch moved on; GitLab asks again for the new head.
			o.detail = fmt.Sprintf("status check %d: %s is no longer the head commit", id, sha)
		case err != nil:
			return fmt.Errorf("status check %d: %w", id, err)
		default:
			s.metrics.actions.Inc("status_" + status)
			o.act("status_" + status)
		}
		delete(t.checks, id)
	}
	if !pass {
		return nil
	}
	return s.retryLabelJob(ctx, t, o)
}

// retryLabelJob retries the newest attempt of the label job in the merge
// request's newest pipeline when it failed.
func (s *service) retryLabelJob(ctx context.Context, t *task, o *outcome) error {
	pipelines, _, err := s.gl.MergeRequests.ListMergeRequestPipelines(t.key.project, t.key.iid, gitlab.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("listing the merge request's pipelines: %w", err)
	}
	var newest *gitlab.PipelineInfo
	for _, p := range pipelines {
		if p != nil && (newest == nil || p.ID > newest.ID) {
			newest = p
		}
	}
	if newest == nil {
		o.detail = "no pipeline"
		return nil
	}
	// A fork's merge request may run its pipeline in the fork: its jobs
	// live in the pipeline's project, not the merge request's.
	pipelineProject := newest.ProjectID
	if pipelineProject <= 0 {
		pipelineProject = t.key.project
	}
	job, err := s.newestAttempt(ctx, pipelineProject, newest.ID)
	if err != nil {
		return err
	}
	switch {
	case job == nil:
		o.detail = fmt.Sprintf("no job %q in pipeline %d", s.cfg.jobName, newest.ID)
		return nil
	case job.Status != "failed":
		o.detail = fmt.Sprintf("job %d is %s", job.ID, job.Status)
		return nil
	}
	_, _, err = s.gl.Jobs.RetryJob(pipelineProject, job.ID, gitlab.WithContext(ctx))
	var er *gitlab.ErrorResponse
	switch {
	case errors.As(err, &er) && er.StatusCode == 403 && strings.Contains(strings.ToLower(er.Message), "not retryable"):
		// Another replica, or a person, retried it between our read and now.
		o.detail = fmt.Sprintf("job %d was already retried", job.ID)
		return nil
	case err != nil:
		return fmt.Errorf("retrying job %d: %w", job.ID, err)
	}
	s.metrics.actions.Inc("job_retried")
	o.act("retried")
	o.detail = fmt.Sprintf("job %d of pipeline %d retried", job.ID, newest.ID)
	return nil
}

// newestAttempt finds the newest attempt of the label job in a pipeline.
// GitLab lists only the newest attempt of each job unless include_retried
// is set; the highest id is kept all the same.
func (s *service) newestAttempt(ctx context.Context, project, pipeline int64) (*gitlab.Job, error) {
	opt := &gitlab.ListJobsOptions{ListOptions: gitlab.ListOptions{PerPage: 100}, IncludeRetried: gitlab.Ptr(false)}
	var found *gitlab.Job
	for page := 0; page < 50; page++ {
		jobs, resp, err := s.gl.Jobs.ListPipelineJobs(project, pipeline, opt, gitlab.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("listing the jobs of pipeline %d: %w", pipeline, err)
		}
		for _, j := range jobs {
			if j != nil && j.Name == s.cfg.jobName && (found == nil || j.ID > found.ID) {
				found = j
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opt.Page = resp.NextPage
	}
	return found, nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func passes(labels []string, rules check.Options) bool { return check.Evaluate(labels, rules).Pass() }
