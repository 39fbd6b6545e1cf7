package gitlabapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// MergeRequest is the part of GitLab's merge request that the check reads.
// Decoding only these fields keeps a new or oddly typed field elsewhere in
// the answer from failing the check.
type MergeRequest struct {
	IID          int64    `json:"iid"`
	ProjectID    int64    `json:"project_id"`
	Title        string   `json:"title"`
	State        string   `json:"state"`
	WebURL       string   `json:"web_url"`
	SourceBranch string   `json:"source_branch"`
	Labels       []string `json:"labels"`
}

// ProjectPath escapes a numeric id or a group/project path for a URL path
// segment, as GitLab wants it: "/" as %2F, and "." as %2E so that a path
// ending in ".json" is not taken for a format suffix.
func ProjectPath(project string) string {
	return strings.ReplaceAll(url.PathEscape(project), ".", "%2E")
}

// MergeRequest fetches one merge request with one GET (plus retries).
func (c *Client) MergeRequest(ctx context.Context, project string, iid int64) (*MergeRequest, error) {
	path := fmt.Sprintf("/projects/%s/merge_requests/%s", ProjectPath(project), strconv.FormatInt(iid, 10))
	var raw struct {
		MergeRequest
		Labels json.RawMessage `json:"labels"`
	}
	if err := c.do(ctx, "GET", path, nil, nil, &raw); err != nil {
		return nil, err
	}
	mr := raw.MergeRequest
	// A missing or non-list labels field means this is not the answer we
	// asked for (a proxy's page, another API); checking an empty list would
	// wrongly blame the developer.
	if err := json.Unmarshal(raw.Labels, &mr.Labels); err != nil || raw.Labels == nil || string(raw.Labels) == "null" {
		return nil, &Error{Kind: Malformed, Method: "GET", Path: path, Status: 200,
			Message: "answered without a list of labels"}
	}
	return &mr, nil
}

// OpenMergeRequestsFrom lists the project's open merge requests whose source
// branch is branch, newest first (one GET, first page only: a branch has at
// most a handful).
func (c *Client) OpenMergeRequestsFrom(ctx context.Context, project, branch string) ([]MergeRequest, error) {
	path := fmt.Sprintf("/projects/%s/merge_requests", ProjectPath(project))
	q := url.Values{"source_branch": {branch}, "state": {"opened"}, "per_page": {"20"}}
	// As for one merge request: an answer that is not a list, or a merge
	// request without a list of labels, is not GitLab's; taking it as no
	// merge request or no labels would pass unchecked or blame the developer.
	var raw *[]struct {
		MergeRequest
		Labels json.RawMessage `json:"labels"`
	}
	if err := c.do(ctx, "GET", path, q, nil, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, &Error{Kind: Malformed, Method: "GET", Path: path, Status: 200,
			Message: "answered without a list of merge requests"}
	}
	mrs := make([]MergeRequest, len(*raw))
	for i, r := range *raw {
		mrs[i] = r.MergeRequest
		if err := json.Unmarshal(r.Labels, &mrs[i].Labels); err != nil || r.Labels == nil || string(r.Labels) == "null" {
			return nil, &Error{Kind: Malformed, Method: "GET", Path: path, Status: 200,
				Message: "answered without a list of labels"}
		}
	}
	return mrs, nil
}
