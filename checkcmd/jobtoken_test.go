package checkcmd_test

import (
	"strings"
	"testing"
)

// A GitLab that lets the job token read the merge request needs no token
// at all; one that refuses it is told apart from a fork's pipeline, which
// the job token allowlist decides.
func TestJobTokenRefusalSaysWhy(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	env := with(mrEnv(srv, "7"), "CI_MERGE_REQUEST_LABELS", "backend", "CI_SERVER_VERSION", "17.11.2-ee")

	srv.AcceptAnyJobToken(true) // current GitLab: no token to set up
	if r := runIn(t, env, nil); r.code != 0 || !strings.Contains(r.stdout, "read from the GitLab API") {
		t.Fatalf("current GitLab: want the live labels with the job token alone:\n%s", r)
	}
	srv.AcceptAnyJobToken(false) // an older GitLab refuses it
	r := runIn(t, env, nil)
	if r.code != 1 || !strings.Contains(r.stdout, "this GitLab (17.11.2-ee) does not let the job token read merge requests; GitLab 19.1") ||
		!strings.Contains(r.stdout, "upgrade GitLab, or store") || strings.Contains(r.stdout, "allowlist") {
		t.Fatalf("old GitLab: want the version named:\n%s", r)
	}
	// A fork's merge request: the pipeline runs in the fork (43).
	r = runIn(t, with(env, "CI_PROJECT_ID", "43", "CI_PROJECT_PATH", "fork/project"), nil)
	if r.code != 1 || !strings.Contains(r.stdout, "this pipeline runs in project 43 (CI_PROJECT_ID) and reads a merge request of project 42") ||
		!strings.Contains(r.stdout, "add project 43 to the job token allowlist of project 42") || strings.Contains(r.stdout, "upgrade GitLab") {
		t.Fatalf("fork: want the allowlist named:\n%s", r)
	}
	// No label variable to fall back on: the refusal is the error, exit 3.
	r = runIn(t, with(env, "CI_MERGE_REQUEST_IID", "<unset>", "CI_MERGE_REQUEST_LABELS", "<unset>", "CI_PROJECT_ID", "43"), nil,
		"--mr", "7", "--project", "42")
	if r.code != 3 || !strings.Contains(r.stderr, "job token allowlist of project 42") {
		t.Fatalf("want exit 3 with the allowlist fix:\n%s", r)
	}
}
