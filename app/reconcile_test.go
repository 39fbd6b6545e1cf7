package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/app"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// `echoes-labels reconcile` is wired as a sibling of check and serve: its
// variables are read, its errors become the cause and fix lines and the
// exit code, and a complete sweep exits 0 with its summary line.
func TestReconcileThroughMain(t *testing.T) {
	gl := gitlabtest.New(t)
	gl.SetToken("glpat-main-test-token")
	// The label job failed, then the label was added: the change it missed.
	p := gl.AddPipeline(42, "group/project", 1, gitlabtest.Job{Name: "echoes-labels", Status: "failed"})
	gl.SetLabels(42, "group/project", 1, "echoes/intent/feature")
	env := map[string]string{"ECHOES_GITLAB_URL": gl.APIURL(), "ECHOES_GITLAB_TOKEN": "glpat-main-test-token"}

	var stdout, stderr bytes.Buffer
	code := app.Main(context.Background(), []string{"reconcile"}, app.Deps{Stdout: &stdout, Stderr: &stderr, Env: cienv.Map(env)})
	if code != 2 || !strings.Contains(stderr.String(), "--watch") || !strings.Contains(stderr.String(), "  fix: set ECHOES_WATCH") {
		t.Errorf("without --watch: exit %d, stderr %q; want 2 with the cause and the fix", code, stderr.String())
	}

	env["ECHOES_WATCH"] = "group/project"
	stdout.Reset()
	stderr.Reset()
	code = app.Main(context.Background(), []string{"reconcile", "--updated-within", "0"}, app.Deps{Stdout: &stdout, Stderr: &stderr, Env: cienv.Map(env)})
	if code != 0 || gl.Retries(42, 1) != 1 || !strings.Contains(stderr.String(), `"msg":"reconcile done"`) {
		t.Errorf("reconcile: exit %d, %d retries, stderr:\n%s\nwant exit 0, 1 retry, a summary line", code, gl.Retries(42, 1), stderr.String())
	}
	if jobs := gl.Jobs(p); len(jobs) != 2 {
		t.Errorf("%d attempts of the label job, want 2", len(jobs))
	}
	if strings.Contains(stderr.String(), "glpat-main-test-token") || stdout.Len() != 0 {
		t.Errorf("stdout %q; stderr shows the token or stdout is used", stdout.String())
	}
}
