package gitlabtest

import (
	"net/http"
	"net/url"
	"strconv"
)

// Access levels, as GitLab numbers them.
const (
	Developer  = 30
	Maintainer = 40
	Owner      = 50
)

// SetAdmin makes the token's user (Bot) an administrator: GET /user then
// shows is_admin, as GitLab shows it to an administrator only.
func (s *Server) SetAdmin(admin bool) { s.mu.Lock(); s.admin = admin; s.mu.Unlock() }

// SetGroupMember makes Bot a member of the group (id, path: registered
// with AddGroup's registry) at the access level (Developer, Maintainer,
// Owner); 0 removes it.
func (s *Server) SetGroupMember(id int64, path string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.group(id, path)
	s.setMember("groups", id, level)
}

// SetProjectMember makes Bot a member of the project at the access level;
// 0 removes it.
func (s *Server) SetProjectMember(id int64, path string, level int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setMember("projects", s.project(id, path).id, level)
}

// setMember records Bot's level in a group or project (kind "groups" or
// "projects"). s.mu is held.
func (s *Server) setMember(kind string, id int64, level int) {
	if s.members == nil {
		s.members = map[string]int{}
	}
	k := kind + "/" + strconv.FormatInt(id, 10)
	if level == 0 {
		delete(s.members, k)
		return
	}
	s.members[k] = level
}

// routeAccess answers GET /user as an administrator sees it, and GET
// /groups/:id/members/all/:user_id and /projects/:id/members/all/:user_id
// (a member, direct or inherited, with its access_level; 404 for one that
// is not), with GitLab's shapes; false for any other request. s.mu is
// held.
func (s *Server) routeAccess(w http.ResponseWriter, r *http.Request, parts []string) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if len(parts) == 1 && parts[0] == "user" && s.admin {
		u := userJSON(Bot)
		u["is_admin"] = true
		JSON(w, http.StatusOK, u)
		return true
	}
	if len(parts) != 5 || (parts[0] != "groups" && parts[0] != "projects") || parts[2] != "members" || parts[3] != "all" {
		return false
	}
	key, err := url.PathUnescape(parts[1])
	if err != nil {
		Error(w, http.StatusBadRequest, "400 Bad request")
		return true
	}
	var id int64
	if parts[0] == "groups" {
		g := s.groups[key]
		if g == nil {
			Error(w, http.StatusNotFound, "404 Group Not Found")
			return true
		}
		id = g.id
	} else {
		p := s.projects[key]
		if p == nil {
			Error(w, http.StatusNotFound, "404 Project Not Found")
			return true
		}
		id = p.id
	}
	level := s.members[parts[0]+"/"+strconv.FormatInt(id, 10)]
	if uid, _ := strconv.ParseInt(parts[4], 10, 64); uid != Bot.ID || level == 0 {
		Error(w, http.StatusNotFound, "404 Not found")
		return true
	}
	m := userJSON(Bot)
	m["access_level"], m["expires_at"], m["created_at"], m["membership_state"], m["group_saml_identity"] =
		level, nil, timeJSON(s.lastTick), "active", nil
	JSON(w, http.StatusOK, m)
	return true
}
