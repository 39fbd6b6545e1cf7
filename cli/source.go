package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// labelSource is where the labels to check came from.
type labelSource struct {
	from   report.Source
	labels []string
	mr     report.MergeRequest

	// For re-reading (--wait) and commenting; nil client when the labels
	// did not come from the API.
	client    GitLab
	tokenKind gitlabapi.TokenKind
	project   string
	iid       int64
}

// resolve finds the labels in the documented order: --labels; the API with
// a token; the API with the job token, falling back to the pipeline's
// frozen label variable; and, with no merge request at all, nothing (nil).
func (c *command) resolve() (*labelSource, error) {
	f, env := c.f, c.d.Env
	if f.Labels != nil {
		return &labelSource{from: report.FromCommandLine, labels: cienv.SplitLabels(*f.Labels)}, nil
	}
	token, kind := strings.TrimSpace(f.Token), gitlabapi.PrivateToken
	if token == "" {
		token = env.Token // GITLAB_TOKEN, when ECHOES_GITLAB_TOKEN is set but empty
	}
	if token == "" {
		if env.TokenSetEmpty != "" && env.JobToken != "" {
			c.noticef("%s is set but empty; trying the job token instead.", env.TokenSetEmpty)
		}
		token, kind = env.JobToken, gitlabapi.JobToken
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, configError("the token contains spaces or control characters, so it cannot be sent",
			"check the value of ECHOES_GITLAB_TOKEN (or --token): paste the token alone, without quotes or line breaks")
	}
	project := strings.TrimSpace(f.Project)

	if strings.TrimSpace(f.MR) == "" {
		return c.resolveBranchPipeline(token, kind, project)
	}
	iid, err := parseIID(f.MR)
	if err != nil {
		return nil, err
	}
	if token == "" {
		if env.InMRPipeline {
			return c.fromVariable(project, iid), nil
		}
		return nil, configError("--mr is set but there is no token to read the merge request with",
			"set ECHOES_GITLAB_TOKEN (an access token with read_api) or pass --token; or check labels offline with --labels")
	}
	if project == "" {
		return nil, configError("no project to look the merge request up in",
			"set CI_MERGE_REQUEST_PROJECT_ID (GitLab does in merge request pipelines) or pass --project group/project")
	}
	client, err := c.client(token, kind, project)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	defer cancel()
	mr, err := client.MergeRequest(ctx, project, iid)
	if err != nil {
		if kind == gitlabapi.JobToken && env.InMRPipeline && refused(err) {
			var e *gitlabapi.Error
			errors.As(err, &e)
			c.noticef("GitLab refused the job token (%d %s), so this check uses the labels the pipeline started with (CI_MERGE_REQUEST_LABELS).\n"+
				"  A label added since needs a new pipeline, not a retry; or store a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.",
				e.Status, http.StatusText(e.Status))
			return c.fromVariable(project, iid), nil
		}
		return nil, apiError(err, f, project, iid, kind)
	}
	return c.fromAPI(client, kind, project, iid, mr), nil
}

func (c *command) fromAPI(client GitLab, kind gitlabapi.TokenKind, project string, iid int64, mr *gitlabapi.MergeRequest) *labelSource {
	return &labelSource{from: report.FromAPI, labels: mr.Labels,
		mr:     report.MergeRequest{Project: project, IID: iid, WebURL: mr.WebURL},
		client: client, tokenKind: kind, project: project, iid: iid}
}

func (c *command) fromVariable(project string, iid int64) *labelSource {
	return &labelSource{from: report.FromVariable, labels: cienv.SplitLabels(c.d.Env.PipelineLabels),
		mr: report.MergeRequest{Project: project, IID: iid}, project: project, iid: iid}
}

// resolveBranchPipeline finds the merge request of a branch pipeline: from
// CI_OPEN_MERGE_REQUESTS, or with a token from the API by source branch.
// With neither there is nothing to check.
func (c *command) resolveBranchPipeline(token string, kind gitlabapi.TokenKind, project string) (*labelSource, error) {
	env := c.d.Env
	if token == "" {
		return nil, nil
	}
	ref, found := cienv.InProject(cienv.OpenMergeRequests(env.OpenMergeRequests), env.ProjectPath)
	if !found && (kind != gitlabapi.PrivateToken || env.Branch == "" || project == "") {
		return nil, nil
	}
	if found {
		project = ref.Project
	}
	client, err := c.client(token, kind, project)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	defer cancel()
	if found {
		mr, err := client.MergeRequest(ctx, project, ref.IID)
		if kind == gitlabapi.JobToken && refused(err) {
			// A branch pipeline has no label variable to fall back on.
			c.noticef("branch pipeline: GitLab refused the job token for %s, and a branch pipeline has no label variable; nothing is checked.\n"+
				"  To check branch pipelines, store a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.", printable.String(ref.String()))
			return nil, nil
		}
		if err != nil {
			return nil, apiError(err, c.f, project, ref.IID, kind)
		}
		c.noticef("branch pipeline: checking merge request %s, found in CI_OPEN_MERGE_REQUESTS.", printable.String(ref.String()))
		return c.fromAPI(client, kind, project, ref.IID, mr), nil
	}
	mrs, err := client.OpenMergeRequestsFrom(ctx, project, env.Branch)
	if err != nil {
		return nil, apiError(err, c.f, project, 0, kind)
	}
	if len(mrs) == 0 {
		return nil, nil
	}
	mr := mrs[0] // GitLab lists the newest first
	c.noticef("branch pipeline: checking merge request !%d, open from branch %s.", mr.IID, printable.String(env.Branch))
	return c.fromAPI(client, kind, project, mr.IID, &mr), nil
}

func (c *command) client(token string, kind gitlabapi.TokenKind, project string) (GitLab, error) {
	if err := validateProject(project); err != nil {
		return nil, err
	}
	client, err := c.d.NewClient(gitlabapi.Config{
		BaseURL: c.f.GitLabURL, Token: token, TokenKind: kind, CAFile: c.f.CAFile,
		UserAgent: "echoes-labels/" + c.d.Version,
	})
	if err != nil {
		var ce *gitlabapi.ConfigError
		if errors.As(err, &ce) {
			return nil, configError(ce.Msg, "set CI_API_V4_URL or --gitlab-url to your GitLab's API root, e.g. https://gitlab.example.com/api/v4, and CI_SERVER_TLS_CA_FILE to a readable PEM file if you use one")
		}
		return nil, err
	}
	return client, nil
}

// refused is true when GitLab said no to the token itself (rather than
// failing), which for the job token means it may not read this project.
func refused(err error) bool {
	var e *gitlabapi.Error
	return errors.As(err, &e) && e.Kind == gitlabapi.Status &&
		(e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound)
}

// validateProject accepts a numeric id or a namespace/project path.
func validateProject(p string) error {
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f || r == '?' || r == '#' }) ||
		strings.Contains(p, "..") || strings.HasPrefix(p, "/") || len(p) > 1024 {
		return configError(fmt.Sprintf("the project (--project/CI_MERGE_REQUEST_PROJECT_ID) %q is neither a numeric id nor a group/project path", truncateRunes(p, 60)),
			"pass the project's numeric id or its full path, e.g. --project my-group/my-project")
	}
	return nil
}

// Fixes shared by several causes.
const (
	fixRateLimited = "GitLab is rate-limiting this token; retry the job later or raise --timeout/ECHOES_TIMEOUT to wait out the limit"
	fixServerError = "GitLab is having trouble; retry the job, or raise --timeout/ECHOES_TIMEOUT to ride out short outages"
	fixJobToken    = "GitLab does not let the job token read merge requests here: store an access token with the read_api scope in the masked CI/CD variable ECHOES_GITLAB_TOKEN"
)

// apiError turns a failed call into exit 3 with the fix for its cause.
func apiError(err error, f *Flags, project string, iid int64, kind gitlabapi.TokenKind) error {
	var e *gitlabapi.Error
	if !errors.As(err, &e) {
		return &Error{Code: ExitAPI, Cause: "GitLab API call failed: " + printable.String(err.Error()),
			Fix: "retry the job; if it persists, check the GitLab instance's status"}
	}
	cause := printable.Truncate(e.Error(), 400)
	tokenName := tokenKindName(kind)
	where := projectName(project)
	var fix string
	switch e.Kind {
	case gitlabapi.Status:
		switch {
		case kind == gitlabapi.JobToken && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden):
			fix = fixJobToken
		case e.Status == http.StatusUnauthorized:
			fix = tokenName + " is wrong, expired or revoked: create an access token with the read_api scope and store it in the masked CI/CD variable ECHOES_GITLAB_TOKEN"
		case e.Status == http.StatusForbidden:
			fix = tokenName + " may not read this merge request: it needs the read_api scope and at least the Reporter role in " + where
		case e.Status == http.StatusNotFound && strings.Contains(strings.ToLower(e.Message), "project"):
			fix = fmt.Sprintf("%s does not exist or %s cannot see it: check --project/CI_MERGE_REQUEST_PROJECT_ID and that the token's user is a member", where, tokenName)
		case e.Status == http.StatusNotFound:
			fix = fmt.Sprintf("merge request !%d does not exist in %s (or %s cannot see it): check --mr/CI_MERGE_REQUEST_IID and --project", iid, where, tokenName)
		case e.Status == http.StatusTooManyRequests:
			fix = fixRateLimited
		case e.Status >= 500:
			fix = fixServerError
		default:
			fix = "check --gitlab-url/CI_API_V4_URL points at the API root (…/api/v4)"
		}
	case gitlabapi.Timeout:
		cause = fmt.Sprintf("%s (--timeout %s)", cause, f.Timeout)
		// The deadline often passes while waiting to retry: the fix is
		// then the one for what the last attempt met, not a slow GitLab.
		switch {
		case e.LastStatus == http.StatusTooManyRequests:
			fix = fixRateLimited
		case e.LastStatus >= 500:
			fix = fixServerError
		case e.LastStatus == 0 && e.Message != "":
			fix = "check --gitlab-url/CI_API_V4_URL and that this runner can reach GitLab (proxy variables: HTTPS_PROXY, NO_PROXY); or raise --timeout/ECHOES_TIMEOUT"
		default:
			fix = "retry the job, or raise --timeout/ECHOES_TIMEOUT if your GitLab is slow"
		}
	case gitlabapi.TLS:
		fix = "if your GitLab uses a private CA, point CI_SERVER_TLS_CA_FILE or --ca-file at its PEM certificate"
	case gitlabapi.Redirected:
		fix = "set --gitlab-url/CI_API_V4_URL to the address GitLab redirects to, so the token goes straight there"
	case gitlabapi.Malformed:
		fix = "check that --gitlab-url/CI_API_V4_URL is your GitLab's API root (…/api/v4), not a proxy or web page"
	default:
		fix = "check --gitlab-url/CI_API_V4_URL and that this runner can reach GitLab (proxy variables: HTTPS_PROXY, NO_PROXY)"
	}
	return &Error{Code: ExitAPI, Cause: cause, Fix: fix}
}

// projectName reads well after "in": "project 42" or "group/project".
func projectName(p string) string {
	if _, err := strconv.ParseInt(p, 10, 64); err == nil {
		return "project " + p
	}
	return "project " + printable.String(p)
}
