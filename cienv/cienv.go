// Package cienv parses the list-valued variables GitLab predefines in a job.
// Their values are untrusted text: anyone who can name a label or a branch
// shapes them.
package cienv

import (
	"strconv"
	"strings"
)

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
