package gitlabtest

import (
	"net/http"
	"net/url"
	"sort"
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
	s.mr(id, path, 1<<40) // registers the project's keys; iid unused
	delete(s.projects[path], 1<<40)
	if s.projectLabels == nil {
		s.projectLabels = map[int64][]ProjectLabel{}
	}
	s.projectLabels[id] = append([]ProjectLabel(nil), labels...)
}

// serveLabels answers GET /projects/:id/labels as GitLab does: sorted by
// name, the group's labels only with include_ancestor_groups=true (which
// the API defaults to true), search matching name or description
// case-insensitively, paginated, in GitLab's label shape.
func (s *Server) serveLabels(w http.ResponseWriter, r *http.Request) bool {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
	if len(parts) != 3 || parts[0] != "projects" || parts[2] != "labels" || r.Method != http.MethodGet {
		return false
	}
	project, err := url.PathUnescape(parts[1])
	if err != nil {
		Error(w, http.StatusBadRequest, "400 Bad request")
		return true
	}
	s.mu.Lock()
	id, ok := s.ids[project]
	labels := append([]ProjectLabel(nil), s.projectLabels[id]...)
	s.mu.Unlock()
	if !ok {
		Error(w, http.StatusNotFound, "404 Project Not Found")
		return true
	}
	q := r.URL.Query()
	ancestors := q.Get("include_ancestor_groups") != "false"
	search := strings.ToLower(q.Get("search"))
	sort.Slice(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name })
	out := []map[string]any{}
	for i, l := range labels {
		if (l.Group && !ancestors) || (search != "" && !strings.Contains(strings.ToLower(l.Name), search) &&
			!strings.Contains(strings.ToLower(l.Description), search)) {
			continue
		}
		out = append(out, map[string]any{
			"id": 500 + i, "name": l.Name, "description": l.Description, "description_html": l.Description,
			"color": "#6699cc", "text_color": "#FFFFFF", "open_issues_count": 0, "closed_issues_count": 0,
			"open_merge_requests_count": 1, "subscribed": false, "priority": nil, "is_project_label": !l.Group,
		})
	}
	paginate(w, r, out)
	return true
}
