// Package cienv is the one reader of the CI environment. It owns the names of
// the predefined variables echoes-labels reads besides its flags' own (those
// sit in the flags' env tags), and one rule for all of them: a variable that
// is empty or blank counts as unset, since GitLab leaves a variable defined
// with no value empty. Values are untrusted text: anyone who can name a label
// or a branch shapes them.
package cienv

import (
	"strconv"
	"strings"
)

// The predefined variables read outside the flags.
const (
	JobToken              = "CI_JOB_TOKEN"
	MergeRequestLabels    = "CI_MERGE_REQUEST_LABELS"
	MergeRequestIID       = "CI_MERGE_REQUEST_IID"
	OpenMergeRequestsVar  = "CI_OPEN_MERGE_REQUESTS"
	ProjectPath           = "CI_PROJECT_PATH"
	ProjectIDVar          = "CI_PROJECT_ID"
	ServerVersion         = "CI_SERVER_VERSION"
	MergeRequestDraft     = "CI_MERGE_REQUEST_DRAFT"
	CommitBranch          = "CI_COMMIT_BRANCH"
	MergeRequestEventType = "CI_MERGE_REQUEST_EVENT_TYPE"
	GitLabCI              = "GITLAB_CI"
	CI                    = "CI"
	NoColor               = "NO_COLOR"
)

// The variables that hold secrets outside the predefined ones, named here
// once for the flags' reading order (settings), the masking (mask) and the
// notices. Tokens: the first one set wins.
var (
	TokenVars        = []string{"ECHOES_GITLAB_TOKEN", "GITLAB_TOKEN"}
	WebhookSecretVar = "ECHOES_WEBHOOK_SECRET"
)

// Env reads variables through a lookup: os.LookupEnv in main, a map in tests.
type Env struct {
	lookup func(string) (string, bool)
}

// New reads variables through lookup.
func New(lookup func(string) (string, bool)) Env { return Env{lookup: lookup} }

// Map is an Env of exactly these variables.
func Map(vars map[string]string) Env {
	return New(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
}

// Get returns the variable's value, or "" when it is unset, empty or blank.
func (e Env) Get(name string) string {
	if e.lookup == nil {
		return ""
	}
	v, _ := e.lookup(name)
	if strings.TrimSpace(v) == "" {
		return ""
	}
	return v
}

// Empty reports whether the variable is defined but has no value, which
// changes the outcome for a token and is then worth a notice.
func (e Env) Empty(name string) bool {
	if e.lookup == nil {
		return false
	}
	v, ok := e.lookup(name)
	return ok && strings.TrimSpace(v) == ""
}

// Job is the pipeline as GitLab's predefined variables describe it.
type Job struct {
	JobToken       string
	PipelineLabels []string // as GitLab filled them in when the job started (a retry gets them afresh)
	PipelineDraft  bool     // CI_MERGE_REQUEST_DRAFT (GitLab 17.10+), filled in likewise
	InMRPipeline   bool     // a merge request pipeline: CI_MERGE_REQUEST_IID is set
	InCI           bool     // colour on, although stdout is a pipe
	InGitLab       bool     // collapsible log sections work
	NoColor        bool

	OpenMergeRequests []MergeRequestRef // branch pipelines
	ProjectPath       string
	ProjectID         string // the pipeline's project: a fork's, for a fork's merge request
	ServerVersion     string // GitLab's version, e.g. 18.2.1-ee
	Branch            string
	EventType         string // detached, merged_result, merge_train
}

// Job reads the pipeline's predefined variables.
func (e Env) Job() Job {
	return Job{
		JobToken:          strings.TrimSpace(e.Get(JobToken)),
		PipelineLabels:    SplitLabels(e.Get(MergeRequestLabels)),
		PipelineDraft:     strings.EqualFold(strings.TrimSpace(e.Get(MergeRequestDraft)), "true"),
		InMRPipeline:      e.Get(MergeRequestIID) != "",
		InCI:              e.Get(GitLabCI) != "" || e.Get(CI) != "",
		InGitLab:          e.Get(GitLabCI) != "",
		NoColor:           e.Get(NoColor) != "",
		OpenMergeRequests: OpenMergeRequests(e.Get(OpenMergeRequestsVar)),
		ProjectPath:       strings.TrimSpace(e.Get(ProjectPath)),
		ProjectID:         strings.TrimSpace(e.Get(ProjectIDVar)),
		ServerVersion:     strings.TrimSpace(e.Get(ServerVersion)),
		Branch:            e.Get(CommitBranch),
		EventType:         e.Get(MergeRequestEventType),
	}
}

// SplitLabels splits CI_MERGE_REQUEST_LABELS. GitLab label names cannot
// contain commas, so no quoting is needed; blanks are dropped.
func SplitLabels(s string) []string {
	var out []string
	for _, l := range strings.Split(s, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// MergeRequestRef names a merge request as GitLab writes it: group/project!7.
type MergeRequestRef struct {
	Project string // full path
	IID     int64
}

func (r MergeRequestRef) String() string { return r.Project + "!" + strconv.FormatInt(r.IID, 10) }

// OpenMergeRequests parses CI_OPEN_MERGE_REQUESTS, GitLab's comma-separated
// list of up to four "path/to/project!iid" references of merge requests that
// use the current branch. Malformed entries are skipped, not fatal: the
// variable is a hint, and a bad entry must not break the pipeline.
func OpenMergeRequests(s string) []MergeRequestRef {
	var out []MergeRequestRef
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		i := strings.LastIndexByte(item, '!')
		if i <= 0 {
			continue
		}
		iid, err := strconv.ParseInt(item[i+1:], 10, 64)
		project := item[:i]
		if err != nil || iid <= 0 || strings.ContainsAny(project, " \t\r\n!") {
			continue
		}
		out = append(out, MergeRequestRef{Project: project, IID: iid})
	}
	return out
}

// InProject returns the first reference in project (compared
// case-insensitively, as GitLab paths are), so a fork's merge request into
// another project is not checked here.
func InProject(refs []MergeRequestRef, project string) (MergeRequestRef, bool) {
	for _, r := range refs {
		if strings.EqualFold(r.Project, project) {
			return r, true
		}
	}
	return MergeRequestRef{}, false
}
