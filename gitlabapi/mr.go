package gitlabapi

import (
	"context"
	"net/http"
	"strconv"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// mergeRequestJSON is what the check decodes of GitLab's merge request:
// the fields it reads, and no more. client-go's GetMergeRequest decodes
// the answer twice (into a map[string]any, then into its struct of some
// 100 fields and the types inside them), which cost a plain check 8% of
// its wall time and encoding/json a field cache per type; this is one
// decode into eleven fields.
//
// Labels keep client-go's meaning: a missing or null field is nil (not the
// answer asked for: Malformed), [] an empty list, and anything else than a
// list of strings (label objects, numbers, a string) a type error on
// "labels", which explain reports as noLabels.
type mergeRequestJSON struct {
	IID             int64    `json:"iid"`
	ProjectID       int64    `json:"project_id"`
	SourceProjectID int64    `json:"source_project_id"`
	SHA             string   `json:"sha"`
	State           string   `json:"state"`
	Title           string   `json:"title"`
	WebURL          string   `json:"web_url"`
	Draft           bool     `json:"draft"`
	WorkInProgress  bool     `json:"work_in_progress"` // GitLab before 14.0
	Labels          []string `json:"labels"`
	Author          *struct {
		Username string `json:"username"`
	} `json:"author"`
}

// info is the merge request as MergeRequestInfo holds it, without what
// this read does not decode (references, update time, head pipeline).
func (j *mergeRequestJSON) info() MergeRequestInfo {
	mr := MergeRequestInfo{
		MergeRequest: MergeRequest{IID: j.IID, WebURL: j.WebURL, Labels: j.Labels, Title: j.Title,
			Draft: j.Draft || j.WorkInProgress},
		ProjectID: j.ProjectID, SourceProjectID: j.SourceProjectID, SHA: j.SHA, State: j.State,
	}
	if j.Author != nil {
		mr.Author = j.Author.Username
	}
	return mr
}

// MergeRequest fetches one merge request with one GET (plus retries): the
// check's read. It goes through client-go (its request building, auth,
// retries and transport) with the answer decoded into mergeRequestJSON.
func (c *Client) MergeRequest(ctx context.Context, project string, iid int64) (*MergeRequest, error) {
	// client-go's GetMergeRequest path: projects/%s/merge_requests/%d,
	// the project escaped by its PathEscape.
	path := "projects/" + gitlab.PathEscape(project) + "/merge_requests/" + strconv.FormatInt(iid, 10)
	mr, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*mergeRequestJSON, *gitlab.Response, error) {
		req, err := c.gl.NewRequest(http.MethodGet, path, nil, o)
		if err != nil {
			return nil, nil, err
		}
		var mr *mergeRequestJSON
		resp, err := c.gl.Do(req, &mr)
		return mr, resp, err
	})
	if err != nil {
		return nil, err
	}
	if mr == nil || mr.Labels == nil {
		return nil, c.malformed(rec, noLabels)
	}
	info := mr.info()
	return &info.MergeRequest, nil
}
