package gitlabapi

import (
	"context"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// SweepOptions choose one page of open merge requests in the order a sweep
// reads them: least recently updated first (order_by=updated_at,
// sort=asc), so that the last updated_at seen is a cursor the next page
// starts from and any number of merge requests is reached with small page
// numbers.
type SweepOptions struct {
	// UpdatedAfter, when set, keeps the merge requests updated at or after
	// it (GitLab's updated_after is inclusive). It is sent in whole seconds
	// (RFC 3339, as client-go encodes a time), so it is truncated here, and
	// the caller compares its cursor with what was sent.
	UpdatedAfter *time.Time
	// Page is the page to read, from 1 (0 is 1).
	Page int64
	// PerPage is the page size (0 is 100, GitLab's largest).
	PerPage int64
}

// SweepSecond is the instant an updated_after of t is sent as: t in UTC,
// truncated to the second.
func SweepSecond(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func (o SweepOptions) list() gitlab.ListOptions {
	per := o.PerPage
	if per <= 0 || per > 100 {
		per = 100
	}
	return gitlab.ListOptions{PerPage: per, Page: max(o.Page, 1)}
}

func (o SweepOptions) after() *time.Time {
	if o.UpdatedAfter == nil {
		return nil
	}
	t := SweepSecond(*o.UpdatedAfter)
	return &t
}

// GroupOpenMergeRequestsByUpdate reads one page of the open merge requests
// of a group and its subgroups, least recently updated first (one GET).
// next is the page after it, 0 on the last.
func (c *Client) GroupOpenMergeRequestsByUpdate(ctx context.Context, group string, opt SweepOptions) (mrs []MergeRequestInfo, next int64, err error) {
	return c.sweepPage(ctx, opt, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
		return c.gl.MergeRequests.ListGroupMergeRequests(group, &gitlab.ListGroupMergeRequestsOptions{ListOptions: opt.list(),
			State: opened, UpdatedAfter: opt.after(), OrderBy: byUpdate, Sort: ascending}, o...)
	})
}

// ProjectOpenMergeRequestsByUpdate is GroupOpenMergeRequestsByUpdate for
// one project.
func (c *Client) ProjectOpenMergeRequestsByUpdate(ctx context.Context, project string, opt SweepOptions) (mrs []MergeRequestInfo, next int64, err error) {
	return c.sweepPage(ctx, opt, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
		return c.gl.MergeRequests.ListProjectMergeRequests(project, &gitlab.ListProjectMergeRequestsOptions{ListOptions: opt.list(),
			State: opened, UpdatedAfter: opt.after(), OrderBy: byUpdate, Sort: ascending}, o...)
	})
}

// The sweep's order: open merge requests, least recently updated first.
var opened, byUpdate, ascending = gitlab.Ptr("opened"), gitlab.Ptr("updated_at"), gitlab.Ptr("asc")

// sweepPage reads the page opt names (its number is in opt.list(), so
// the cursor is the first page's) and the number of the next, 0 on the last.
func (c *Client) sweepPage(ctx context.Context, opt SweepOptions, list lister[*gitlab.BasicMergeRequest]) ([]MergeRequestInfo, int64, error) {
	mrs, next, err := c.mergeRequestPage(ctx, cursor{page: opt.list().Page}, list)
	return mrs, next.page, err
}

// GroupPath is the full path of the group with this id (GET /groups/:id,
// without its projects; one GET). An answer without a full_path is not
// GitLab's.
func (c *Client) GroupPath(ctx context.Context, id int64) (string, error) {
	// with_projects=false: without it GitLab adds up to 100 projects.
	// client-go deprecates its option for it, so the query is set here.
	noProjects := func(r *retryablehttp.Request) error {
		q := r.URL.Query()
		q.Set("with_projects", "false")
		r.URL.RawQuery = q.Encode()
		return nil
	}
	g, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Group, *gitlab.Response, error) {
		return c.gl.Groups.GetGroup(id, nil, append(o, noProjects)...)
	})
	if err != nil {
		return "", err
	}
	if g == nil || g.FullPath == "" {
		return "", c.malformed(rec, "answered without the group's full_path")
	}
	return g.FullPath, nil
}
