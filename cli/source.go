package cli

import (
	"errors"
	"fmt"
	"io"
	"net/http"
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
}

// resolve finds the labels in the documented order: --labels; the API with
// a token; the API with the job token, falling back to the pipeline's
// frozen label variable; and, with no merge request at all, nothing (nil).
func resolve(f *Flags, d Deps, out io.Writer) (*labelSource, error) {
	if f.Labels != nil {
		return &labelSource{from: report.FromCommandLine, labels: cienv.SplitLabels(*f.Labels)}, nil
	}
	if strings.TrimSpace(f.MR) == "" {
		fmt.Fprintln(out, "echoes-labels: no merge request here (CI_MERGE_REQUEST_IID is not set), so there is nothing to check.")
		fmt.Fprintln(out, "  Run it in a merge request pipeline, or pass --mr (with a token) or --labels.")
		return nil, nil
	}
	iid, err := parseIID(f.MR)
	if err != nil {
		return nil, err
	}
	token, kind := strings.TrimSpace(f.Token), gitlabapi.PrivateToken
	if token == "" {
		token = d.Env.Token // GITLAB_TOKEN, when ECHOES_GITLAB_TOKEN is set but empty
	}
	if token == "" {
		if d.Env.TokenSetEmpty != "" {
			fmt.Fprintf(out, "echoes-labels: %s is set but empty; trying the job token instead.\n", d.Env.TokenSetEmpty)
		}
		token, kind = d.Env.JobToken, gitlabapi.JobToken
	}
	if token == "" {
		if d.Env.InMRPipeline {
			return fromVariable(d, f, iid), nil
		}
		return nil, configError("--mr is set but there is no token to read the merge request with",
			"set ECHOES_GITLAB_TOKEN (an access token with read_api) or pass --token; or check labels offline with --labels")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, configError("the token contains spaces or control characters, so it cannot be sent",
			"check the value of ECHOES_GITLAB_TOKEN (or --token): paste the token alone, without quotes or line breaks")
	}
	project := strings.TrimSpace(f.Project)
	if project == "" {
		return nil, configError("no project to look the merge request up in",
			"set CI_MERGE_REQUEST_PROJECT_ID (GitLab does in merge request pipelines) or pass --project group/project")
	}
	if err := validateProject(project); err != nil {
		return nil, err
	}
	client, err := d.NewClient(gitlabapi.Config{
		BaseURL: f.GitLabURL, Token: token, TokenKind: kind, CAFile: f.CAFile,
		UserAgent: "echoes-labels/" + d.Version,
	})
	if err != nil {
		var ce *gitlabapi.ConfigError
		if errors.As(err, &ce) {
			return nil, configError(ce.Msg, "set CI_API_V4_URL or --gitlab-url to your GitLab's API root, e.g. https://gitlab.example.com/api/v4, and CI_SERVER_TLS_CA_FILE to a readable PEM file if you use one")
		}
		return nil, err
	}
	ctx, cancel := withTimeout(f.Timeout)
	defer cancel()
	mr, err := client.MergeRequest(ctx, project, iid)
	if err != nil {
		var apiErr *gitlabapi.Error
		if kind == gitlabapi.JobToken && errors.As(err, &apiErr) && apiErr.Kind == gitlabapi.Status &&
			(apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden || apiErr.Status == http.StatusNotFound) {
			fmt.Fprintf(out, "echoes-labels: GitLab refused the job token (%d %s), so this check uses the labels the pipeline started with (CI_MERGE_REQUEST_LABELS).\n  A label added since needs a new pipeline, not a retry; or store a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.\n",
				apiErr.Status, http.StatusText(apiErr.Status))
			return fromVariable(d, f, iid), nil
		}
		return nil, apiError(err, f, project, iid, kind)
	}
	src := &labelSource{from: report.FromAPI, labels: mr.Labels,
		mr: report.MergeRequest{Project: project, IID: iid, WebURL: mr.WebURL}}
	return src, nil
}

func fromVariable(d Deps, f *Flags, iid int64) *labelSource {
	return &labelSource{from: report.FromVariable, labels: cienv.SplitLabels(d.Env.PipelineLabels),
		mr: report.MergeRequest{Project: strings.TrimSpace(f.Project), IID: iid}}
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

// apiError turns a failed call into exit 3 with the fix for its cause.
func apiError(err error, f *Flags, project string, iid int64, kind gitlabapi.TokenKind) error {
	var e *gitlabapi.Error
	if !errors.As(err, &e) {
		return &Error{Code: ExitAPI, Cause: "GitLab API call failed: " + printable.String(err.Error()),
			Fix: "retry the job; if it persists, check the GitLab instance's status"}
	}
	cause := printable.Truncate(e.Error(), 400)
	tokenName := "the token (ECHOES_GITLAB_TOKEN or --token)"
	if kind == gitlabapi.JobToken {
		tokenName = "the job token"
	}
	var fix string
	switch e.Kind {
	case gitlabapi.Status:
		switch {
		case e.Status == http.StatusUnauthorized:
			fix = tokenName + " is wrong, expired or revoked: create an access token with the read_api scope and store it in the masked CI/CD variable ECHOES_GITLAB_TOKEN"
		case e.Status == http.StatusForbidden:
			fix = tokenName + " may not read this merge request: it needs the read_api scope and at least the Reporter role in " + printable.String(project)
		case e.Status == http.StatusNotFound && strings.Contains(strings.ToLower(e.Message), "project"):
			fix = fmt.Sprintf("project %s does not exist or %s cannot see it: check --project/CI_MERGE_REQUEST_PROJECT_ID and that the token's user is a member", printable.String(project), tokenName)
		case e.Status == http.StatusNotFound:
			fix = fmt.Sprintf("merge request !%d does not exist in %s (or %s cannot see it): check --mr/CI_MERGE_REQUEST_IID and --project", iid, printable.String(project), tokenName)
		case e.Status == http.StatusTooManyRequests:
			fix = "GitLab is rate-limiting this token; retry the job later or raise --timeout/ECHOES_TIMEOUT to wait out the limit"
		case e.Status >= 500:
			fix = "GitLab is having trouble; retry the job, or raise --timeout/ECHOES_TIMEOUT to ride out short outages"
		default:
			fix = "check --gitlab-url/CI_API_V4_URL points at the API root (…/api/v4)"
		}
	case gitlabapi.Timeout:
		cause = fmt.Sprintf("%s (--timeout %s)", cause, f.Timeout)
		// The deadline often passes while waiting to retry: the fix is
		// then the one for what the last attempt met, not a slow GitLab.
		switch {
		case e.LastStatus == http.StatusTooManyRequests:
			fix = "GitLab is rate-limiting this token; retry the job later or raise --timeout/ECHOES_TIMEOUT to wait out the limit"
		case e.LastStatus >= 500:
			fix = "GitLab is having trouble; retry the job, or raise --timeout/ECHOES_TIMEOUT to ride out short outages"
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
