package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// User is the token's user as GET /user shows it: Admin is true only when
// GitLab says is_admin, which it shows to administrators alone.
type User struct {
	ID    int64
	Admin bool
}

// CurrentUser is the token's user (GET /user).
func (c *Client) CurrentUser(ctx context.Context) (User, error) {
	u, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.User, *gitlab.Response, error) {
		return c.gl.Users.CurrentUser(o...)
	})
	if err != nil {
		return User{}, err
	}
	if u == nil || u.ID <= 0 {
		return User{}, c.malformed(rec, "answered without a user id")
	}
	return User{ID: u.ID, Admin: u.IsAdmin}, nil
}

// GroupAccess is the access level (30 Developer, 40 Maintainer, 50
// Owner) of user in the group (its id or path), direct or inherited
// (GET /groups/:id/members/all/:user_id); 0 when GitLab answers 404 with
// the group found: not a member. A group not found is the 404 error.
func (c *Client) GroupAccess(ctx context.Context, group string, user int64) (int, error) {
	m, _, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.GroupMember, *gitlab.Response, error) {
		return c.gl.GroupMembers.GetInheritedGroupMember(group, user, o...)
	})
	return accessOf(m, err, func(m *gitlab.GroupMember) gitlab.AccessLevelValue { return m.AccessLevel })
}

// ProjectAccess is GroupAccess for a project
// (GET /projects/:id/members/all/:user_id).
func (c *Client) ProjectAccess(ctx context.Context, project string, user int64) (int, error) {
	m, _, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.ProjectMember, *gitlab.Response, error) {
		return c.gl.ProjectMembers.GetInheritedProjectMember(project, user, o...)
	})
	return accessOf(m, err, func(m *gitlab.ProjectMember) gitlab.AccessLevelValue { return m.AccessLevel })
}

// IsNotMember is true for GitLab's 404 on a member that is not one
// ("404 Not found"), as against the group or project not found ("404
// Group Not Found", "404 Project Not Found").
func IsNotMember(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Kind != Status || e.Status != http.StatusNotFound || e.URL != "" || e.Message == "" {
		return false
	}
	m := strings.ToLower(e.Message)
	return !strings.Contains(m, "group not found") && !strings.Contains(m, "project not found")
}

func accessOf[M any](m *M, err error, level func(*M) gitlab.AccessLevelValue) (int, error) {
	switch {
	case IsNotMember(err):
		return 0, nil
	case err != nil:
		return 0, err
	case m == nil:
		return 0, nil
	}
	return int(level(m)), nil
}
