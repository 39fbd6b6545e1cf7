package gitlabtest

import (
	"net/http"
	"slices"
	"strings"
)

// ProjectLabel is a label a project may use: its own, or a group's
// (Group set) that it inherits.
type ProjectLabel struct {
	Name, Description string
	Group             bool
}

// SetProjectLabels sets the labels GET /projects/:id/labels lists for the
// project (registered by id and path, as for SetLabels).
func (s *Server) SetProjectLabels(id int64, path string, labels ...ProjectLabel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.project(id, path).labels = append([]ProjectLabel(nil), labels...)
}

// listProjectLabels answers GET /projects/:id/labels as GitLab does: sorted
// by name, the group's labels only with include_ancestor_groups=true (which
// the API defaults to true), search matching name or description
// case-insensitively, paginated, in GitLab's label shape. s.mu is held.
func (s *Server) listProjectLabels(w http.ResponseWriter, r *http.Request, p *project) {
	q := r.URL.Query()
	ancestors := q.Get("include_ancestor_groups") != "false"
	search := strings.ToLower(q.Get("search"))
	labels := slices.SortedFunc(slices.Values(p.labels), func(a, b ProjectLabel) int { return strings.Compare(a.Name, b.Name) })
	var rows []row
	for i, l := range labels {
		if (l.Group && !ancestors) || (search != "" && !strings.Contains(strings.ToLower(l.Name), search) &&
			!strings.Contains(strings.ToLower(l.Description), search)) {
			continue
		}
		rows = append(rows, row{id: int64(500 + i), json: func() any {
			return map[string]any{
				"id": 500 + i, "name": l.Name, "description": l.Description, "description_html": l.Description,
				"color": "#6699cc", "text_color": "#FFFFFF", "open_issues_count": 0, "closed_issues_count": 0,
				"open_merge_requests_count": 1, "subscribed": false, "priority": nil, "is_project_label": !l.Group,
			}
		}})
	}
	paginate(w, r, rows)
}
