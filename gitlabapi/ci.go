package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// Pipeline is the part of a pipeline that serve reads.
type Pipeline struct {
	ID        int64
	ProjectID int64 // the project it runs in: a fork's, for a fork's merge request
	SHA       string
	Status    string
}

// Job is the part of a CI job that serve reads.
type Job struct {
	ID     int64
	Name   string
	Status string
}

// MergeRequestPipelines lists the merge request's pipelines, newest first
// (one GET, GitLab's first page: the newest is on it).
func (c *Client) MergeRequestPipelines(ctx context.Context, project string, iid int64) ([]Pipeline, error) {
	list, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.PipelineInfo, *gitlab.Response, error) {
		return c.gl.MergeRequests.ListMergeRequestPipelines(project, iid, o...)
	})
	if err != nil {
		return nil, err
	}
	if rec.firstByte() != '[' {
		return nil, c.malformed(rec, "answered without a list of pipelines")
	}
	out := make([]Pipeline, 0, len(list))
	for _, p := range list {
		if p != nil && p.ID > 0 {
			out = append(out, Pipeline{ID: p.ID, ProjectID: p.ProjectID, SHA: p.SHA, Status: p.Status})
		}
	}
	return out, nil
}

// MaxJobPages bounds the listing of one pipeline's jobs: 50 pages of 100.
const MaxJobPages = 50

// PipelineJobs lists a pipeline's jobs, the newest attempt of each (GitLab
// lists retried attempts only when asked), reading every page up to
// MaxJobPages; each page is one call.
func (c *Client) PipelineJobs(ctx context.Context, project string, pipeline int64) ([]Job, error) {
	opt := &gitlab.ListJobsOptions{ListOptions: gitlab.ListOptions{PerPage: 100, Page: 1}, IncludeRetried: gitlab.Ptr(false)}
	var out []Job
	for range MaxJobPages {
		var next int64
		jobs, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.Job, *gitlab.Response, error) {
			jobs, resp, err := c.gl.Jobs.ListPipelineJobs(project, pipeline, opt, o...)
			if resp != nil {
				next = resp.NextPage
			}
			return jobs, resp, err
		})
		if err != nil {
			return nil, err
		}
		if rec.firstByte() != '[' {
			return nil, c.malformed(rec, "answered without a list of jobs")
		}
		for _, j := range jobs {
			if j != nil && j.ID > 0 {
				out = append(out, Job{ID: j.ID, Name: j.Name, Status: j.Status})
			}
		}
		if next <= opt.Page {
			break
		}
		opt.Page = next
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
