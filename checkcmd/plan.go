package checkcmd

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/mask"
)

// source is where the plan reads the labels, in the README's order.
type source int

const (
	fromLabelsFlag source = iota // 1. --labels: no GitLab call
	fromAPI                      // 2./3. a token or the job token: GET the merge request
	fromBranch                   // a branch pipeline: list the branch's open merge requests
	fromVariable                 // 4. CI_MERGE_REQUEST_LABELS, filled in when the job started
	nothingToCheck               // 5. no merge request
)

// plan is what the check will read, decided from the flags and the CI
// environment alone, before any request.
type plan struct {
	source    source
	labels    []string // fromLabelsFlag, fromVariable
	token     string
	tokenKind gitlabapi.TokenKind
	project   string
	iid       int64  // fromAPI
	found     string // fromAPI: the CI_OPEN_MERGE_REQUESTS entry it came from
	branch    string // fromBranch
	// onRefused is what a refused job token falls back to: fromVariable
	// in a merge request pipeline, nothingToCheck in a branch pipeline;
	// fromAPI means no fallback: GitLab's refusal is the error.
	onRefused source
	pipeline  []string // the pipeline's labels, for that fallback
	notices   []string
	skip      string // nothingToCheck: why
}

// makePlan chooses where the labels come from. It is pure: the settings,
// already checked (config), and the CI variables in, the plan or the
// configuration error of a setting this pipeline lacks out.
func makePlan(c config, job cienv.Job, tokenSetEmpty string) (plan, error) {
	if c.labels != nil {
		p := plan{source: fromLabelsFlag, labels: cienv.SplitLabels(strings.Join(c.labels, ","))}
		p.notices = labelsHints(p.labels, c.secrets)
		return p, nil
	}
	p := plan{token: c.token, tokenKind: gitlabapi.PrivateToken, project: c.project, pipeline: job.PipelineLabels}
	if p.token == "" && job.JobToken != "" {
		p.token, p.tokenKind = job.JobToken, gitlabapi.JobToken
		if tokenSetEmpty != "" {
			p.notices = append(p.notices, tokenSetEmpty+" is set but empty; trying the job token instead.")
		}
	}
	if p.token != "" && plainHTTP(c.base) {
		p.notices = append(p.notices, fmt.Sprintf("the token goes to GitLab over plain HTTP (%s): anyone on the way can read it; use https:// if your GitLab serves it.",
			c.secrets.Clip(c.base.Scheme+"://"+c.base.Host, 200)))
	}
	if c.iid == 0 {
		return branchPlan(p, job)
	}
	p.iid = c.iid
	switch {
	case p.token == "" && job.InMRPipeline:
		p.source, p.labels = fromVariable, job.PipelineLabels
		return p, nil
	case p.token == "":
		return p, exit.BadSetting("--token", "--mr is set but there is no token to read the merge request with",
			"set ECHOES_GITLAB_TOKEN (an access token with read_api) or pass --token; or check labels offline with --labels")
	case p.project == "":
		return p, exit.BadSetting("--project", "no project to look the merge request up in",
			"set CI_MERGE_REQUEST_PROJECT_ID (GitLab does in merge request pipelines) or pass --project group/project")
	}
	p.source, p.onRefused = fromAPI, fromAPI
	if job.InMRPipeline {
		p.onRefused = fromVariable
	}
	return p, nil
}

// branchPlan finds the merge request of a pipeline without
// CI_MERGE_REQUEST_IID: from CI_OPEN_MERGE_REQUESTS, or with a token of
// one's own by source branch. With neither there is nothing to check.
func branchPlan(p plan, job cienv.Job) (plan, error) {
	p.source, p.skip = nothingToCheck, "no merge request here (CI_MERGE_REQUEST_IID is not set), so there is nothing to check"
	if p.token == "" {
		return p, nil
	}
	if ref, ok := cienv.InProject(job.OpenMergeRequests, job.ProjectPath); ok {
		// ref.Project is CI_PROJECT_PATH, GitLab's own.
		p.source, p.project, p.iid, p.found, p.onRefused = fromAPI, ref.Project, ref.IID, ref.String(), nothingToCheck
		return p, nil
	}
	if p.tokenKind != gitlabapi.PrivateToken || p.project == "" {
		return p, nil
	}
	if job.Branch == "" {
		if !job.InCI {
			return p, exit.BadSetting("--mr", "--project and a token are set but no merge request: --mr is missing",
				"pass the merge request's IID, the number after ! in its title, e.g. --mr 42")
		}
		return p, nil
	}
	p.source, p.branch = fromBranch, job.Branch
	return p, nil
}

// parseIID reads a merge request IID, which GitLab numbers from 1.
func parseIID(s string, m mask.Secrets) (int64, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "!")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		fix := "pass the merge request's IID, the number after ! in its header and at the end of its URL, e.g. --mr 42"
		if _, tail, ok := strings.Cut(s, "/-/merge_requests/"); ok {
			tail, _, _ = strings.Cut(tail, "/")
			if iid, err := strconv.ParseInt(tail, 10, 64); err == nil && iid > 0 {
				fix = fmt.Sprintf("pass the IID alone, the number at the end of the URL (and after ! in the merge request's header): --mr %d", iid)
			}
		}
		return 0, exit.BadSetting("--mr", fmt.Sprintf("the merge request IID (--mr/CI_MERGE_REQUEST_IID) is %s, not a positive number", m.Quote(s, 40)), fix)
	}
	return n, nil
}

// labelsHints are the notices for labels that were likely typed wrong:
// --labels splits on commas only, and the shell's quotes or a list's
// brackets are not part of a name.
func labelsHints(labels []string, m mask.Secrets) []string {
	var out []string
	for _, l := range labels {
		switch {
		case strings.Contains(l, ";"):
			out = append(out, fmt.Sprintf("--labels: %s holds a \";\": labels are separated by commas, e.g. --labels 'echoes/intent/feature,backend'.", m.Quote(l, 80)))
		case strings.ContainsAny(l[:1], "\"'[({") || strings.ContainsAny(l[len(l)-1:], "\"')]}"):
			out = append(out, fmt.Sprintf("--labels: %s starts or ends with a quote or a bracket, which is then part of its name: give the names alone, e.g. --labels 'echoes/intent/feature,backend'.", m.Quote(l, 80)))
		}
	}
	return out
}

// validateProject accepts a numeric id or a namespace/project path.
func validateProject(p string, m mask.Secrets) error {
	if _, rest, ok := strings.Cut(p, "://"); ok {
		fix := "give the project's path (group/project), not its URL, or its numeric id"
		if _, path, ok := strings.Cut(rest, "/"); ok {
			path, _, _ = strings.Cut(path, "/-/")
			if path = strings.Trim(path, "/"); strings.Contains(path, "/") && !strings.ContainsAny(path, "?#") {
				fix = fmt.Sprintf("give the project's path, not its URL: --project %s (or its numeric id)", m.Clip(path, 200))
			}
		}
		return exit.BadSetting("--project", fmt.Sprintf("the project (--project/CI_MERGE_REQUEST_PROJECT_ID) %s is a URL", m.Quote(p, 60)), fix)
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f || r == '?' || r == '#' }) ||
		strings.Contains(p, "..") || strings.HasPrefix(p, "/") || len(p) > 1024 {
		return exit.BadSetting("--project", fmt.Sprintf("the project (--project/CI_MERGE_REQUEST_PROJECT_ID) %s is neither a numeric id nor a group/project path", m.Quote(p, 60)),
			"pass the project's numeric id or its full path, e.g. --project my-group/my-project")
	}
	return nil
}

// plainHTTP is true for an http:// API root that is not this machine's:
// a token sent there crosses a network in the clear.
func plainHTTP(base *url.URL) bool {
	if base == nil || base.Scheme != "http" {
		return false
	}
	host := base.Hostname()
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
