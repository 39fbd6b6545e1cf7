package gitlabapi

import "net/http"

// Refused is true when GitLab said no rather than failing: the token may
// not see or do this here (401, 403), or GitLab has nothing here for it
// (404: no such resource, or a feature this GitLab does not license). A
// retry gets the same answer.
func Refused(err error) bool {
	switch StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}
