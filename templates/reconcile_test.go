package templates

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// watched is the one input without a default.
var watched = map[string]string{"watch": "my-group"}

func TestReconcileComponentMatchesGitLabSchema(t *testing.T) {
	s := loadSchema(t, findSchema(t))
	if err := s.validateFile(ReconcileComponent, watched); err != nil {
		t.Fatalf("templates/echoes-labels-reconcile.yml with its defaults:\n%v", err)
	}
	given := map[string]string{"watch": "acme,acme-labs/api,42", "require_effort": "true", "job_name": "labels",
		"updated_within": "2h", "reconcile_job_name": "labels: reconcile", "stage": "check",
		"image": "registry.example.com/echoes-labels:2.0.0"}
	if err := s.validateFile(ReconcileComponent, given); err != nil {
		t.Fatalf("templates/echoes-labels-reconcile.yml with %v:\n%v", given, err)
	}
	// watch is required: GitLab refuses the include without it.
	if err := s.validateFile(ReconcileComponent, nil); err == nil || !strings.Contains(err.Error(), `"watch"`) {
		t.Errorf("without watch: %v, want the include refused for input \"watch\"", err)
	}
	broken := bytes.Replace(ReconcileComponent, []byte("needs: []"), []byte("needs: []\n  rulez: []"), 1)
	if err := s.validateFile(broken, watched); err == nil || !strings.Contains(err.Error(), "rulez") {
		t.Errorf("an unknown keyword passed validation: %v", err)
	}
}

// Every input is described and used; all but watch have a default that
// their own regex takes; the job's own name has the first component's
// job_name rule.
func TestReconcileComponentInputs(t *testing.T) {
	inputs := specInputs(t, ReconcileComponent)
	want := []string{"image", "job_name", "reconcile_job_name", "require_effort", "stage", "token_variable", "updated_within", "watch"}
	var names []string
	for name := range inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Errorf("inputs %v, want %v", names, want)
	}
	body := ReconcileComponent[bytes.Index(ReconcileComponent, []byte("\n---")):]
	for _, name := range names {
		in := inputs[name]
		if strings.TrimSpace(in.Description) == "" {
			t.Errorf("input %q has no description", name)
		}
		if (in.Default == nil) != (name == "watch") {
			t.Errorf("input %q: default %v; want one for every input but watch", name, in.Default)
		}
		if in.Regex != "" && in.Default != nil && !regexp.MustCompile(in.Regex).MatchString(fmt.Sprint(in.Default)) {
			t.Errorf("input %q: default %v does not match its own regex", name, in.Default)
		}
		if !regexp.MustCompile(`\$\[\[\s*inputs\.` + regexp.QuoteMeta(name) + `\s*\]\]`).Match(body) {
			t.Errorf("input %q is declared but never used", name)
		}
	}
	if inputs["reconcile_job_name"].Regex != specInputs(t, Component)["job_name"].Regex {
		t.Error("reconcile_job_name's regex is not echoes-labels.yml's job_name regex: paste jobNameRegexYAML()'s output")
	}
	if inputs["updated_within"].Regex != specInputs(t, Component)["wait"].Regex {
		t.Error("updated_within's regex is not echoes-labels.yml's wait regex (a Go duration)")
	}
}

func TestReconcileComponentRefusesBadInputs(t *testing.T) {
	refused := map[string][]string{
		"watch": {"", "my group", "a,,b", ",a", "a,", "a\n", "https://gitlab.com/group/project", "grp:x",
			"group:abc:def", "group:", "-a", "a//b"},
		"updated_within":     {"1d", "-1h", "1 h", "60"},
		"reconcile_job_name": append(slices.Clone(reservedJobNames), ".hidden", ""),
		"token_variable":     {"", "1TOKEN", "MY-TOKEN", "$TOKEN", "A B", "A}"},
	}
	for input, values := range refused {
		for _, v := range values {
			given := map[string]string{"watch": "g", input: v}
			cf, err := parseConfig(ReconcileComponent, given)
			if err == nil {
				err = cf.inputErr
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("input %q", input)) {
				t.Errorf("%s: %q was not refused by its regex (error: %v)", input, v, err)
			}
		}
	}
	taken := map[string][]string{
		"watch":          {"g", "acme/api", "group:42", "project:7", "group:acme/x", "acme,acme-labs/api", "my_group.x/sub-1"},
		"updated_within": {"0s", "1h", "90m", "1h30m"},
	}
	for input, values := range taken {
		for _, v := range values {
			cf, err := parseConfig(ReconcileComponent, map[string]string{"watch": "g", input: v})
			if err == nil {
				err = cf.inputErr
			}
			if err != nil {
				t.Errorf("%s: %q was refused: %v", input, v, err)
			}
		}
	}
}

// The job as GitLab sees it with the defaults: a scheduled pipeline's job
// that runs one sweep, reads the token from the project's masked variable,
// clones nothing and waits for nothing.
func TestReconcileComponentJob(t *testing.T) {
	cf, err := parseConfig(ReconcileComponent, watched)
	if err != nil {
		t.Fatal(err)
	}
	cfg := cf.body.(map[string]any)
	job, ok := cfg["echoes-labels-reconcile"].(map[string]any)
	if !ok || len(cfg) != 1 {
		t.Fatalf("want exactly one job named echoes-labels-reconcile by default, got keys %v", keys(cfg))
	}
	vars, _ := job["variables"].(map[string]any)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"GIT_STRATEGY", vars["GIT_STRATEGY"], "none"},
		{"ECHOES_WATCH", vars["ECHOES_WATCH"], "my-group"},
		{"ECHOES_JOB_NAME", vars["ECHOES_JOB_NAME"], "echoes-labels"},
		{"ECHOES_REQUIRE_EFFORT", vars["ECHOES_REQUIRE_EFFORT"], "false"},
		{"ECHOES_UPDATED_WITHIN", vars["ECHOES_UPDATED_WITHIN"], "1h"},
		{"needs", fmt.Sprint(job["needs"]), "[]"},
		{"stage", job["stage"], "test"},
		{"script's command", fmt.Sprint(job["script"].([]any)[1]), `ECHOES_GITLAB_TOKEN="${ECHOES_RECONCILE_TOKEN}" echoes-labels reconcile`},
		{"rules", fmt.Sprint(job["rules"]), `[map[if:$CI_PIPELINE_SOURCE == "schedule"]]`},
		{"resource_group", job["resource_group"], "echoes-labels-reconcile"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, v := range []string{"ECHOES_GITLAB_TOKEN", "GITLAB_TOKEN"} {
		if _, set := vars[v]; set {
			t.Errorf("the template must not set %s in variables: a project variable of that name wins there", v)
		}
	}
	// Without the token's variable the job stops before the sweep, naming it.
	check := fmt.Sprint(job["script"].([]any)[0])
	for _, want := range []string{`if [ -z "${ECHOES_RECONCILE_TOKEN:-}" ]`, "the CI/CD variable ECHOES_RECONCILE_TOKEN is not set", "exit 2"} {
		if !strings.Contains(check, want) {
			t.Errorf("the script's first step %q does not contain %q", check, want)
		}
	}
	cf, err = parseConfig(ReconcileComponent, map[string]string{"watch": "g", "token_variable": "SWEEP_TOKEN"})
	if err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprint(cf.body.(map[string]any)["echoes-labels-reconcile"].(map[string]any)["script"])
	if !strings.Contains(script, `ECHOES_GITLAB_TOKEN="${SWEEP_TOKEN}" echoes-labels reconcile`) {
		t.Errorf("token_variable SWEEP_TOKEN: script %s", script)
	}
}
