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
	IID    int64    `json:"iid"`
	WebURL string   `json:"web_url"`
	Labels []string `json:"labels"`
}

// rawMergeRequest keeps the labels undecoded, to tell a missing or
// non-list field from an empty list.
type rawMergeRequest struct {
	MergeRequest
	Labels json.RawMessage `json:"labels"`
}

// decode checks the labels field. A missing or non-list one means this is
// not the answer we asked for (a proxy's page, another API): checking an
// empty list would wrongly blame the developer.
func (r rawMergeRequest) decode(path string) (MergeRequest, error) {
	mr := r.MergeRequest
	if r.Labels == nil || string(r.Labels) == "null" || json.Unmarshal(r.Labels, &mr.Labels) != nil {
		return mr, &Error{Kind: Malformed, Method: "GET", Path: path, Status: 200,
			Message: "answered without a list of labels"}
	}
	return mr, nil
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
	var raw rawMergeRequest
	if err := c.do(ctx, "GET", path, nil, nil, &raw); err != nil {
		return nil, err
	}
	mr, err := raw.decode(path)
	if err != nil {
		return nil, err
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
	var raw *[]rawMergeRequest
	if err := c.do(ctx, "GET", path, q, nil, &raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, &Error{Kind: Malformed, Method: "GET", Path: path, Status: 200,
			Message: "answered without a list of merge requests"}
	}
	mrs := make([]MergeRequest, len(*raw))
	for i, r := range *raw {
		var err error
		if mrs[i], err = r.decode(path); err != nil {
			return nil, err
		}
	}
	return mrs, nil
}
