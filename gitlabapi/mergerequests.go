package gitlabapi

import (
	"context"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// MergeRequest is the part of GitLab's merge request that the check reads.
type MergeRequest struct {
	IID    int64
	WebURL string
	Labels []string
	// Author is the author's username ("" when GitLab does not say);
	// Draft is GitLab's draft (or, before 14, work_in_progress).
	Author string
	Draft  bool
	Title  string
}

// summaryOf is what the check reads of a merge request in a list.
func summaryOf(mr *gitlab.BasicMergeRequest) MergeRequest {
	out := MergeRequest{IID: mr.IID, WebURL: mr.WebURL, Labels: mr.Labels, Draft: mr.Draft, Title: mr.Title}
	if mr.Author != nil {
		out.Author = mr.Author.Username
	}
	return out
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

// OpenMergeRequestsFrom lists the project's open merge requests whose source
// branch is branch, newest first (a branch has at most a handful: one page
// of 20, and any page GitLab names after it, up to maxListPages).
func (c *Client) OpenMergeRequestsFrom(ctx context.Context, project, branch string) ([]MergeRequest, error) {
	opt := &gitlab.ListProjectMergeRequestsOptions{
		ListOptions:  gitlab.ListOptions{PerPage: 20},
		SourceBranch: gitlab.Ptr(branch),
		State:        gitlab.Ptr("opened"),
	}
	out := []MergeRequest{}
	var at cursor
	for range maxListPages {
		infos, next, err := c.mergeRequestPage(ctx, at, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.BasicMergeRequest, *gitlab.Response, error) {
			return c.gl.MergeRequests.ListProjectMergeRequests(project, opt, o...)
		})
		if err != nil {
			return nil, err
		}
		for _, info := range infos {
			out = append(out, info.MergeRequest)
		}
		if next == (cursor{}) {
			break
		}
		at = next
	}
	return out, nil
}

// MergeRequestInfo is a merge request as serve reads it: what the check
// reads, and where it stands.
type MergeRequestInfo struct {
	MergeRequest
	ProjectID int64
	// SourceProjectID is the project of its source branch: a fork's when
	// it differs from ProjectID (0 when GitLab does not say).
	SourceProjectID int64
	// Path is the project's path with namespace, from references.full; ""
	// when GitLab sends no references.
	Path      string
	SHA       string // head commit
	State     string // opened, closed, locked, merged
	UpdatedAt time.Time
	// HeadPipeline is nil when the merge request has none (a list does
	// not carry it; MergeRequestInfo's read does).
	HeadPipeline *Pipeline
}

func infoOf(mr *gitlab.BasicMergeRequest) MergeRequestInfo {
	info := MergeRequestInfo{
		MergeRequest: summaryOf(mr),
		ProjectID:    mr.ProjectID, SourceProjectID: mr.SourceProjectID, SHA: mr.SHA, State: mr.State,
	}
	if mr.UpdatedAt != nil {
		info.UpdatedAt = *mr.UpdatedAt
	}
	if mr.References != nil {
		if p, _, ok := strings.Cut(mr.References.Full, "!"); ok {
			info.Path = p
		}
	}
	return info
}

// MergeRequestInfo reads one merge request with its head commit, state,
// update time and head pipeline (one GET). A merge request without a list
// of labels is a malformed answer, as for MergeRequest.
func (c *Client) MergeRequestInfo(ctx context.Context, project string, iid int64) (*MergeRequestInfo, error) {
	mr, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.MergeRequest, *gitlab.Response, error) {
		return c.gl.MergeRequests.GetMergeRequest(project, iid, nil, o...)
	})
	if err != nil {
		return nil, err
	}
	if mr == nil || !hasLabels(&mr.BasicMergeRequest) {
		return nil, c.malformed(rec, noLabels)
	}
	info := infoOf(&mr.BasicMergeRequest)
	if p := mr.HeadPipeline; p != nil && p.ID > 0 {
		info.HeadPipeline = &Pipeline{ID: p.ID, ProjectID: p.ProjectID, SHA: p.SHA, Ref: p.Ref, Status: p.Status, Source: string(p.Source)}
	}
	return &info, nil
}

// mergeRequestPage reads one page of a list of merge requests. A merge
// request without a list of labels is not GitLab's answer, as for
// MergeRequest: taking it as one without labels, or the whole answer as
// no merge request, would pass unchecked or blame the developer.
func (c *Client) mergeRequestPage(ctx context.Context, at cursor, list lister[*gitlab.BasicMergeRequest]) ([]MergeRequestInfo, cursor, error) {
	got, next, rec, err := page(ctx, c, "merge requests", at, list)
	if err != nil {
		return nil, cursor{}, err
	}
	out := make([]MergeRequestInfo, 0, len(got))
	for _, mr := range got {
		if !hasLabels(mr) {
			return nil, cursor{}, c.malformed(rec, noLabels)
		}
		out = append(out, infoOf(mr))
	}
	return out, next, nil
}

// hasLabels is false for a merge request without a list of label names
// (see noLabels).
func hasLabels(mr *gitlab.BasicMergeRequest) bool {
	return mr != nil && mr.Labels != nil && mr.LabelDetails == nil
}
