package checkcmd

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Fixes shared by several causes.
const (
	fixRateLimited = "GitLab is rate-limiting this token; retry the job later or raise --timeout/ECHOES_TIMEOUT to wait out the limit"
	fixServerError = "GitLab is having trouble; retry the job, or raise --timeout/ECHOES_TIMEOUT to ride out short outages"
	fixAPIRoot     = "check that --gitlab-url/CI_API_V4_URL is your GitLab's API root (…/api/v4), not a proxy or web page"
	fixReach       = "check --gitlab-url/CI_API_V4_URL and that this runner can reach GitLab (proxy variables: HTTPS_PROXY, NO_PROXY)"
)

// refused is true when GitLab said no to the token itself rather than
// failing, which for the job token means it may not read this project.
var refused = gitlabapi.Refused

// apiError turns a failed call about merge request iid (0: none known)
// into exit 3 with the fix for its cause. An error that is not GitLab's
// (a configuration error from the client) passes through.
func (f fetcher) apiError(err error, iid int64) error {
	p, timeout, m := f.plan, f.cfg.timeout, f.cfg.secrets
	var x *exit.Error
	if errors.As(err, &x) {
		return x
	}
	var e *gitlabapi.Error
	if !errors.As(err, &e) {
		return exit.APIError("GitLab API call failed: "+m.Clip(err.Error(), printable.MaxRunes),
			"retry the job; if it persists, check the GitLab instance's status", err)
	}
	cause := m.Clip(e.Error(), 400)
	tokenName := "the token (ECHOES_GITLAB_TOKEN or --token)"
	if p.tokenKind == gitlabapi.JobToken {
		tokenName = "the job token"
	}
	where := projectName(p.project)
	var fix string
	switch e.Kind {
	case gitlabapi.Status:
		switch {
		case p.tokenKind == gitlabapi.JobToken && refused(err):
			var why string
			why, fix = f.jobTokenRefusal()
			cause += ": " + why
		case e.Status == http.StatusUnauthorized:
			fix = tokenName + " is wrong, expired or revoked: create an access token with the read_api scope and store it in the masked CI/CD variable ECHOES_GITLAB_TOKEN"
		case e.Status == http.StatusForbidden:
			fix = tokenName + " may not read this merge request: it needs the read_api scope and at least the Reporter role in " + where
		case e.Status == http.StatusNotFound && strings.Contains(strings.ToLower(e.Message), "project"):
			fix = fmt.Sprintf("%s does not exist or %s cannot see it: check --project/CI_MERGE_REQUEST_PROJECT_ID and that the token's user is a member", where, tokenName)
		case e.Status == http.StatusNotFound && iid != 0:
			fix = fmt.Sprintf("merge request !%d does not exist in %s (or %s cannot see it): check --mr/CI_MERGE_REQUEST_IID and --project", iid, where, tokenName)
		case e.Status == http.StatusNotFound:
			fix = fmt.Sprintf("%s does not exist or %s cannot see it: check --project and --gitlab-url", where, tokenName)
		case e.Status == http.StatusTooManyRequests:
			fix = fixRateLimited
		case e.Status >= 500:
			fix = fixServerError
		default:
			fix = "check --gitlab-url/CI_API_V4_URL points at the API root (…/api/v4)"
		}
	case gitlabapi.Timeout:
		cause = fmt.Sprintf("%s (--timeout %s)", cause, timeout)
		// The deadline often passes while waiting to retry: the fix is
		// then the one for what the last attempt met, not a slow GitLab.
		switch {
		case e.LastStatus == http.StatusTooManyRequests:
			fix = fixRateLimited
		case e.LastStatus >= 500:
			fix = fixServerError
		case e.LastStatus == 0 && e.Message != "":
			fix = fixReach + "; or raise --timeout/ECHOES_TIMEOUT"
		default:
			fix = "retry the job, or raise --timeout/ECHOES_TIMEOUT if your GitLab is slow"
		}
	case gitlabapi.TLS:
		fix = "if your GitLab uses a private CA, point CI_SERVER_TLS_CA_FILE or --ca-file at its PEM certificate"
		if gitlabapi.IsPlainHTTP(e.Err) {
			fix = "write http:// instead of https:// in --gitlab-url/ECHOES_GITLAB_URL, or give the address where your GitLab speaks HTTPS"
		}
	case gitlabapi.Redirected:
		fix = "set --gitlab-url/CI_API_V4_URL to the address GitLab redirects to, so the token goes straight there"
	case gitlabapi.Malformed:
		fix = fixAPIRoot
	default:
		fix = fixReach
	}
	return exit.APIError(cause, fix, err)
}

// noteProblem names the real cause of a failed note call and its fix.
func (f fetcher) noteProblem(err error) string {
	var e *gitlabapi.Error
	if errors.As(err, &e) && e.Kind == gitlabapi.Status && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
		return f.cfg.secrets.Clip(e.Error(), 200) + ".\n  fix: the token needs the api scope (not only read_api) and at least the Reporter role in the project"
	}
	ae := exit.From(f.apiError(err, 0))
	return ae.Cause + ".\n  fix: " + ae.Fix
}

// projectName reads well after "in": "project 42" or "project group/project".
func projectName(p string) string {
	if _, err := strconv.ParseInt(p, 10, 64); err == nil {
		return "project " + p
	}
	return "project " + printable.String(p)
}
