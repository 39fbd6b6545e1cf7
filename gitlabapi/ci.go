package gitlabapi

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// Pipeline is the part of a pipeline that serve reads.
type Pipeline struct {
	ID        int64
	ProjectID int64 // the project it runs in: a fork's, for a fork's merge request
	SHA       string
	Ref       string
	Status    string
	// Source is GitLab's source of the pipeline: merge_request_event for
	// a merge request pipeline (merged results and merge trains too),
	// push for a branch pipeline, and so on; "" when GitLab does not say.
	Source string
}

// Job is the part of a CI job that serve reads. CreatedAt and StartedAt
// are zero when GitLab sends none (a job that never started).
type Job struct {
	ID        int64
	Name      string
	Status    string
	CreatedAt time.Time
	StartedAt time.Time
	// FailureReason is GitLab's failure_reason of a failed job
	// (script_failure: its script exited non-zero; others: the runner, a
	// protected environment, a timeout, ...); "" when GitLab gives none.
	FailureReason string
	// AllowFailure: the job may fail without failing the pipeline (for
	// the label job, the component's allow_failure exit code 4: a warning).
	AllowFailure bool
	// Archived: GitLab archived the job's pipeline (older than the
	// instance's archive_builds_in): it cannot be retried.
	Archived bool
}

// jobJSON is what serve decodes of a job in GitLab's jobs API
// (API::Entities::Ci::Job); client-go's Job has no archived.
type jobJSON struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	Status        string     `json:"status"`
	CreatedAt     *time.Time `json:"created_at"`
	StartedAt     *time.Time `json:"started_at"`
	FailureReason string     `json:"failure_reason"`
	AllowFailure  bool       `json:"allow_failure"`
	Archived      bool       `json:"archived"`
}

// LabelEvent is one label added to or removed from a merge request.
type LabelEvent struct {
	ID        int64
	Action    string // add, remove
	Label     string // "" when the label was deleted since
	CreatedAt time.Time
}

// StatusCheck is an external status check: as a merge request lists it
// (Status pending, passed or failed, for its head commit), or as its
// project lists it (Status "").
type StatusCheck struct {
	ID          int64
	Name        string
	ExternalURL string
	Status      string
}

// MaxJobPages bounds the listing of one pipeline's jobs: 50 pages of 100.
const MaxJobPages = 50

// maxListPages bounds every other paged list serve reads: 50 pages of 100.
const maxListPages = 50

func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// PipelineJobs lists a pipeline's jobs, the newest attempt of each (GitLab
// lists retried attempts only when asked), reading every page up to
// MaxJobPages; each page is one call. Bridges are not jobs here.
func (c *Client) PipelineJobs(ctx context.Context, project string, pipeline int64) ([]Job, error) {
	// client-go's ListPipelineJobs path and options, decoded into jobJSON.
	path := "projects/" + gitlab.PathEscape(project) + "/pipelines/" + strconv.FormatInt(pipeline, 10) + "/jobs"
	opt := &gitlab.ListJobsOptions{ListOptions: perPage100, IncludeRetried: gitlab.Ptr(false)}
	jobs, _, err := pages(ctx, c, MaxJobPages, "jobs", func(o ...gitlab.RequestOptionFunc) ([]*jobJSON, *gitlab.Response, error) {
		req, err := c.gl.NewRequest(http.MethodGet, path, opt, o)
		if err != nil {
			return nil, nil, err
		}
		var list []*jobJSON
		resp, err := c.gl.Do(req, &list)
		return list, resp, err
	})
	return collect(jobs, func(j *jobJSON) (Job, bool) {
		return Job{ID: j.ID, Name: j.Name, Status: j.Status, CreatedAt: timeOf(j.CreatedAt), StartedAt: timeOf(j.StartedAt),
			FailureReason: j.FailureReason, AllowFailure: j.AllowFailure, Archived: j.Archived}, j.ID > 0
	}), err
}

// perPage100 asks for GitLab's largest page.
var perPage100 = gitlab.ListOptions{PerPage: 100}

// MergeRequestLabelEvents lists the label events of a merge request
// (GET /projects/:id/merge_requests/:iid/resource_label_events), every page
// up to 50 of 100, sorted oldest first by time, then id: GitLab promises no
// order.
func (c *Client) MergeRequestLabelEvents(ctx context.Context, project string, iid int64) ([]LabelEvent, error) {
	list, _, err := pages(ctx, c, maxListPages, "label events", func(o ...gitlab.RequestOptionFunc) ([]*gitlab.LabelEvent, *gitlab.Response, error) {
		return c.gl.ResourceLabelEvents.ListMergeRequestsLabelEvents(project, iid, &gitlab.ListLabelEventsOptions{ListOptions: perPage100}, o...)
	})
	if err != nil {
		return nil, err
	}
	out := collect(list, func(e *gitlab.LabelEvent) (LabelEvent, bool) {
		return LabelEvent{ID: e.ID, Action: e.Action, Label: e.Label.Name, CreatedAt: timeOf(e.CreatedAt)}, true
	})
	slices.SortStableFunc(out, func(a, b LabelEvent) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// statusCheck is the one mapping of GitLab's two status check shapes (a
// merge request's, with its status, and a project's, without) to ours.
func statusCheck(id int64, name, externalURL, status string) (StatusCheck, bool) {
	return StatusCheck{ID: id, Name: name, ExternalURL: externalURL, Status: status}, id > 0
}

// MergeRequestStatusChecks lists the external status checks of a merge
// request with their status for its head commit
// (GET /projects/:id/merge_requests/:iid/status_checks), every page up to 50.
func (c *Client) MergeRequestStatusChecks(ctx context.Context, project string, iid int64) ([]StatusCheck, error) {
	list, _, err := pages(ctx, c, maxListPages, "status checks", func(o ...gitlab.RequestOptionFunc) ([]*gitlab.MergeStatusCheck, *gitlab.Response, error) {
		return c.gl.ExternalStatusChecks.ListProjectMergeRequestExternalStatusChecks(project, iid,
			&gitlab.ListProjectMergeRequestExternalStatusChecksOptions{ListOptions: perPage100}, o...)
	})
	return collect(list, func(s *gitlab.MergeStatusCheck) (StatusCheck, bool) {
		return statusCheck(s.ID, s.Name, s.ExternalURL, s.Status)
	}), err
}

// ProjectStatusChecks lists a project's external status check services
// (GET /projects/:id/external_status_checks; GitLab asks for the
// Maintainer role), every page up to 50. Status is "".
func (c *Client) ProjectStatusChecks(ctx context.Context, project string) ([]StatusCheck, error) {
	list, _, err := pages(ctx, c, maxListPages, "status checks", func(o ...gitlab.RequestOptionFunc) ([]*gitlab.ProjectStatusCheck, *gitlab.Response, error) {
		return c.gl.ExternalStatusChecks.ListProjectExternalStatusChecks(project,
			&gitlab.ListProjectExternalStatusChecksOptions{ListOptions: perPage100}, o...)
	})
	return collect(list, func(s *gitlab.ProjectStatusCheck) (StatusCheck, bool) {
		return statusCheck(s.ID, s.Name, s.ExternalURL, "")
	}), err
}

// RetryJob retries a job (POST, never repeated by the client). retried is
// false, with no error, when GitLab answers that the job is not retryable:
// someone (another replica, a person) retried it first, or it runs.
func (c *Client) RetryJob(ctx context.Context, project string, job int64) (retried bool, err error) {
	_, err = Call(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Job, *gitlab.Response, error) {
		return c.gl.Jobs.RetryJob(project, job, o...)
	})
	var e *Error
	if errors.As(err, &e) && e.Kind == Status && e.Status == http.StatusForbidden &&
		strings.Contains(strings.ToLower(e.Message), "not retryable") {
		return false, nil
	}
	return err == nil, err
}

// SetStatusCheck answers an external status check for the merge request's
// head commit sha: status is "passed" or "failed". accepted is false, with
// no error, when GitLab answers 409: sha is no longer the head, and GitLab
// asks again for the new one.
func (c *Client) SetStatusCheck(ctx context.Context, project string, iid, checkID int64, sha, status string) (accepted bool, err error) {
	err = Exec(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		return c.gl.ExternalStatusChecks.SetProjectMergeRequestExternalStatusCheckStatus(project, iid,
			&gitlab.SetProjectMergeRequestExternalStatusCheckStatusOptions{
				SHA: gitlab.Ptr(sha), ExternalStatusCheckID: gitlab.Ptr(checkID), Status: gitlab.Ptr(status),
			}, o...)
	})
	if StatusOf(err) == http.StatusConflict {
		return false, nil
	}
	return err == nil, err
}
