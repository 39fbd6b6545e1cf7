package gitlabapi

import (
	"context"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// LabelsPerPage is how many labels ProjectLabels reads, in its one page.
const LabelsPerPage = 100

// ProjectLabels lists the labels a merge request of project may take: the
// project's own and its ancestor groups' (GET /projects/:id/labels with
// include_ancestor_groups), whose name or description contains search
// (GitLab's filter; "" lists them all). One request, one page of
// LabelsPerPage: more is true when GitLab has further pages.
func (c *Client) ProjectLabels(ctx context.Context, project, search string) (names []string, more bool, err error) {
	opt := &gitlab.ListLabelsOptions{
		ListOptions:           gitlab.ListOptions{PerPage: LabelsPerPage},
		IncludeAncestorGroups: gitlab.Ptr(true),
	}
	if search != "" {
		opt.Search = gitlab.Ptr(search)
	}
	// One page on purpose: the list is a hint on a failing check, not worth
	// a second request; complete says whether GitLab named another.
	list, complete, err := pages(ctx, c, 1, "labels", func(o ...gitlab.RequestOptionFunc) ([]*gitlab.Label, *gitlab.Response, error) {
		return c.gl.Labels.ListLabels(project, opt, o...)
	})
	if err != nil {
		return nil, false, err
	}
	for _, l := range list {
		if l != nil && l.Name != "" {
			names = append(names, l.Name)
		}
	}
	return names, !complete, nil
}
