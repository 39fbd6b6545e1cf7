package gitlabapi

import (
	"context"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// MergeRequest is the part of GitLab's merge request that the check reads.
type MergeRequest struct {
	IID    int64
	WebURL string
	Labels []string
}

// noLabels is the cause when a merge request has no list of labels. A
// missing, null or non-list field means this is not the answer we asked
// for (a proxy's page, another API): checking an empty list would wrongly
// blame the developer. client-go's Labels is a plain []string, so a missing
// or null field decodes to nil, [] to an empty list, and anything else
// fails to decode. Label objects (GitLab's with_labels_details shape, which
// we never ask for) are not names either, though client-go would turn them
// into names, and anything else in such a list into "".
const noLabels = "answered without a list of labels"

// MergeRequest fetches one merge request with one GET (plus retries).
func (c *Client) MergeRequest(ctx context.Context, project string, iid int64) (*MergeRequest, error) {
	mr, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.MergeRequest, *gitlab.Response, error) {
		return c.gl.MergeRequests.GetMergeRequest(project, iid, nil, o...)
	})
	if err != nil {
		return nil, err
	}
	if mr == nil || mr.Labels == nil || mr.LabelDetails != nil {
		return nil, c.malformed(rec, noLabels)
	}
	return &MergeRequest{IID: mr.IID, WebURL: mr.WebURL, Labels: mr.Labels}, nil
}

// OpenMergeRequestsFrom lists the project's open merge requests whose source
// branch is branch, newest first (one GET, first page only: a branch has at
// most a handful).
func (c *Client) OpenMergeRequestsFrom(ctx context.Context, project, branch string) ([]MergeRequest, error) {
	opt := &gitlab.ListProjectMergeRequestsOptions{
		ListOptions:  gitlab.ListOptions{PerPage: 20},
		SourceBranch: gitlab.Ptr(branch),
		State:        gitlab.Ptr("opened"),
	}
	list, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
		return c.gl.MergeRequests.ListProjectMergeRequests(project, opt, o...)
	})
	if err != nil {
		return nil, err
	}
	// As for one merge request: an answer that is not a list (client-go
	// takes null for an empty one), or a merge request without a list of
	// labels, is not GitLab's; taking it as no merge request or no labels
	// would pass unchecked or blame the developer.
	if rec.firstByte() != '[' {
		return nil, c.malformed(rec, "answered without a list of merge requests")
	}
	mrs := make([]MergeRequest, len(list))
	for i, mr := range list {
		if mr == nil || mr.Labels == nil || mr.LabelDetails != nil {
			return nil, c.malformed(rec, noLabels)
		}
		mrs[i] = MergeRequest{IID: mr.IID, WebURL: mr.WebURL, Labels: mr.Labels}
	}
	return mrs, nil
}
