package checkcmd

import (
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/printable"
)

// jobTokenSince is the GitLab that lets the job token read a merge request:
// GET /projects/:id/merge_requests/:iid has job_token_allowed (with the
// read_merge_requests job token policy) in lib/api/merge_requests.rb and is
// listed in doc/ci/jobs/ci_job_token.md (gitlab-org/gitlab#545150). The
// sources read bound the release, not pin it: absent from the 18.0-era
// fine_grained_permissions.md endpoint table, present in 19.1.0-pre's
// merge_requests.rb. gitlab.com has it. docs/DESIGN.md keeps the evidence.
const jobTokenSince = "GitLab 19.1 (and some 18.x releases, from gitlab-org/gitlab#545150; gitlab.com has it)"

// jobTokenRefusal says why GitLab refused the job token, telling a
// pipeline of another project (a fork's merge request, whose pipeline runs
// in the fork; or --project naming another project), which the job token
// allowlist of the merge request's project decides, from a GitLab too old
// to let the job token read merge requests at all; and what to do.
func (f fetcher) jobTokenRefusal() (why, fix string) {
	const storeToken = "store an access token with the read_api scope in the masked CI/CD variable ECHOES_GITLAB_TOKEN"
	job, project := f.job, f.plan.project
	if job.ProjectID != "" && !strings.EqualFold(project, job.ProjectID) && !strings.EqualFold(project, job.ProjectPath) {
		return fmt.Sprintf("this pipeline runs in project %s (CI_PROJECT_ID) and reads a merge request of %s, as a fork's pipeline does: the job token may read only where that project's job token allowlist lets it",
				printable.String(job.ProjectID), projectName(project)),
			fmt.Sprintf("add project %s to the job token allowlist of %s (Settings › CI/CD › Job token permissions), or %s",
				printable.String(job.ProjectID), projectName(project), storeToken)
	}
	version := "this GitLab"
	if job.ServerVersion != "" {
		version = "this GitLab (" + printable.String(job.ServerVersion) + ")"
	}
	return fmt.Sprintf("%s does not let the job token read merge requests; %s does", version, jobTokenSince),
		"upgrade GitLab, or " + storeToken
}
