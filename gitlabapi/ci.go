package gitlabapi

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
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
}

// Job is the part of a CI job that serve reads. CreatedAt and StartedAt
// are zero when GitLab sends none (a job that never started).
type Job struct {
	ID        int64
	Name      string
	Status    string
	CreatedAt time.Time
	StartedAt time.Time
}

// Bridge is a trigger job of a pipeline; Downstream is the pipeline it
// created (a child pipeline), nil before it exists.
type Bridge struct {
	ID         int64
	Name       string
	Status     string
	Downstream *Pipeline
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

// pages reads a paged list, page after page while GitLab names a next one
// (X-Next-Page: GitLab may send a short or empty page before the last), up
// to max pages; each page is one call. what names the list in a malformed
// answer's error.
func pages[T any](ctx context.Context, c *Client, maxPages int, what string, list func(page int64, o ...gitlab.RequestOptionFunc) ([]T, *gitlab.Response, error)) ([]T, error) {
	var out []T
	page := int64(1)
	for range maxPages {
		var next int64
		got, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]T, *gitlab.Response, error) {
			v, resp, err := list(page, o...)
			if resp != nil {
				next = resp.NextPage
			}
			return v, resp, err
		})
		if err != nil {
			return nil, err
		}
		if rec.firstByte() != '[' {
			return nil, c.malformed(rec, "answered without a list of "+what)
		}
		out = append(out, got...)
		if next <= page {
			break
		}
		page = next
	}
	return out, nil
}

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
	jobs, err := pages(ctx, c, MaxJobPages, "jobs", func(page int64, o ...gitlab.RequestOptionFunc) ([]*gitlab.Job, *gitlab.Response, error) {
		return c.gl.Jobs.ListPipelineJobs(project, pipeline, &gitlab.ListJobsOptions{
			ListOptions: gitlab.ListOptions{PerPage: 100, Page: page}, IncludeRetried: gitlab.Ptr(false)}, o...)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Job, 0, len(jobs))
	for _, j := range jobs {
		if j != nil && j.ID > 0 {
			out = append(out, Job{ID: j.ID, Name: j.Name, Status: j.Status, CreatedAt: timeOf(j.CreatedAt), StartedAt: timeOf(j.StartedAt)})
		}
	}
	return out, nil
}

// PipelineBridges lists a pipeline's trigger jobs with the pipelines they
// created (GET /projects/:id/pipelines/:pipeline_id/bridges), every page
// up to MaxJobPages.
func (c *Client) PipelineBridges(ctx context.Context, project string, pipeline int64) ([]Bridge, error) {
	list, err := pages(ctx, c, MaxJobPages, "bridges", func(page int64, o ...gitlab.RequestOptionFunc) ([]*gitlab.Bridge, *gitlab.Response, error) {
		return c.gl.Jobs.ListPipelineBridges(project, pipeline, &gitlab.ListJobsOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: page}}, o...)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Bridge, 0, len(list))
	for _, b := range list {
		if b == nil || b.ID <= 0 {
			continue
		}
		br := Bridge{ID: b.ID, Name: b.Name, Status: b.Status}
		if d := b.DownstreamPipeline; d != nil && d.ID > 0 {
			br.Downstream = &Pipeline{ID: d.ID, ProjectID: d.ProjectID, SHA: d.SHA, Ref: d.Ref, Status: d.Status}
		}
		out = append(out, br)
	}
	return out, nil
}

// MergeRequestLabelEvents lists the label events of a merge request
// (GET /projects/:id/merge_requests/:iid/resource_label_events), every page
// up to 50 of 100, sorted oldest first by time, then id: GitLab promises no
// order.
func (c *Client) MergeRequestLabelEvents(ctx context.Context, project string, iid int64) ([]LabelEvent, error) {
	list, err := pages(ctx, c, maxListPages, "label events", func(page int64, o ...gitlab.RequestOptionFunc) ([]*gitlab.LabelEvent, *gitlab.Response, error) {
		return c.gl.ResourceLabelEvents.ListMergeRequestsLabelEvents(project, iid, &gitlab.ListLabelEventsOptions{
			ListOptions: gitlab.ListOptions{PerPage: 100, Page: page}}, o...)
	})
	if err != nil {
		return nil, err
	}
	out := make([]LabelEvent, 0, len(list))
	for _, e := range list {
		if e != nil {
			out = append(out, LabelEvent{ID: e.ID, Action: e.Action, Label: e.Label.Name, CreatedAt: timeOf(e.CreatedAt)})
		}
	}
	slices.SortStableFunc(out, func(a, b LabelEvent) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// MergeRequestStatusChecks lists the external status checks of a merge
// request with their status for its head commit
// (GET /projects/:id/merge_requests/:iid/status_checks), every page up to 50.
func (c *Client) MergeRequestStatusChecks(ctx context.Context, project string, iid int64) ([]StatusCheck, error) {
	list, err := pages(ctx, c, maxListPages, "status checks", func(page int64, o ...gitlab.RequestOptionFunc) ([]*gitlab.MergeStatusCheck, *gitlab.Response, error) {
		return c.gl.ExternalStatusChecks.ListProjectMergeRequestExternalStatusChecks(project, iid,
			&gitlab.ListProjectMergeRequestExternalStatusChecksOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: page}}, o...)
	})
	if err != nil {
		return nil, err
	}
	out := make([]StatusCheck, 0, len(list))
	for _, s := range list {
		if s != nil && s.ID > 0 {
			out = append(out, StatusCheck{ID: s.ID, Name: s.Name, ExternalURL: s.ExternalURL, Status: s.Status})
		}
	}
	return out, nil
}

// ProjectStatusChecks lists a project's external status check services
// (GET /projects/:id/external_status_checks; GitLab asks for the
// Maintainer role), every page up to 50. Status is "".
func (c *Client) ProjectStatusChecks(ctx context.Context, project string) ([]StatusCheck, error) {
	list, err := pages(ctx, c, maxListPages, "status checks", func(page int64, o ...gitlab.RequestOptionFunc) ([]*gitlab.ProjectStatusCheck, *gitlab.Response, error) {
		return c.gl.ExternalStatusChecks.ListProjectExternalStatusChecks(project,
			&gitlab.ListProjectExternalStatusChecksOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: page}}, o...)
	})
	if err != nil {
		return nil, err
	}
	out := make([]StatusCheck, 0, len(list))
	for _, s := range list {
		if s != nil && s.ID > 0 {
			out = append(out, StatusCheck{ID: s.ID, Name: s.Name, ExternalURL: s.ExternalURL})
		}
	}
	return out, nil
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
