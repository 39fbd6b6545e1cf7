package checkcmd

import (
	"net/url"
	"reflect"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// The README's "Where the labels come from", one row a case, as makePlan
// decides it from the settings and the CI variables alone.
func TestPlanFollowsTheREADMEOrder(t *testing.T) {
	labels := "a,echoes/intent/x"
	mrJob := map[string]string{"CI": "true", "CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_LABELS": "backend"}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	api := config{project: "42", iid: 7}
	for _, tt := range []struct {
		name string
		cfg  config
		env  map[string]string
		want plan
		err  string // a configuration error naming this
	}{
		{"1. --labels, even with a token and a merge request", config{labels: []string{labels}, token: "tok", iid: 7}, mrJob,
			plan{source: fromLabelsFlag, labels: []string{"a", "echoes/intent/x"}}, ""},
		{"2. a token", withToken(api, "tok"), mrJob,
			plan{source: fromAPI, token: "tok", tokenKind: gitlabapi.PrivateToken, project: "42", iid: 7, onRefused: fromVariable, pipeline: []string{"backend"}}, ""},
		{"3. no token, the job token", api, with(mrJob, "CI_JOB_TOKEN", "job"),
			plan{source: fromAPI, token: "job", tokenKind: gitlabapi.JobToken, project: "42", iid: 7, onRefused: fromVariable, pipeline: []string{"backend"}}, ""},
		{"3. the job token outside a merge request pipeline: its refusal is the error", api, map[string]string{"CI_JOB_TOKEN": "job"},
			plan{source: fromAPI, token: "job", tokenKind: gitlabapi.JobToken, project: "42", iid: 7, onRefused: fromAPI}, ""},
		{"4. no token at all: the pipeline's labels", api, mrJob,
			plan{source: fromVariable, tokenKind: gitlabapi.PrivateToken, project: "42", iid: 7, labels: []string{"backend"}, pipeline: []string{"backend"}}, ""},
		{"5. no merge request and no token", config{}, map[string]string{"CI": "true"},
			plan{source: nothingToCheck, tokenKind: gitlabapi.PrivateToken, skip: "no merge request here (CI_MERGE_REQUEST_IID is not set), so there is nothing to check"}, ""},
		{"5. a branch pipeline found in CI_OPEN_MERGE_REQUESTS", withToken(config{}, "tok"),
			map[string]string{"CI": "true", "CI_OPEN_MERGE_REQUESTS": "fork/p!3,g/p!9", "CI_PROJECT_PATH": "G/P"},
			plan{source: fromAPI, token: "tok", project: "g/p", iid: 9, found: "g/p!9", onRefused: nothingToCheck,
				skip: "no merge request here (CI_MERGE_REQUEST_IID is not set), so there is nothing to check"}, ""},
		{"5. a branch pipeline looked up by its branch", withToken(config{project: "42"}, "tok"),
			map[string]string{"CI": "true", "CI_COMMIT_BRANCH": "topic"},
			plan{source: fromBranch, token: "tok", project: "42", branch: "topic",
				skip: "no merge request here (CI_MERGE_REQUEST_IID is not set), so there is nothing to check"}, ""},
		{"5. the job token cannot look a branch up", config{project: "42"},
			map[string]string{"CI": "true", "CI_JOB_TOKEN": "job", "CI_COMMIT_BRANCH": "topic"},
			plan{source: nothingToCheck, token: "job", tokenKind: gitlabapi.JobToken, project: "42",
				skip: "no merge request here (CI_MERGE_REQUEST_IID is not set), so there is nothing to check"}, ""},
		{"outside CI, a token and a project but no --mr", withToken(config{project: "42"}, "tok"), nil, plan{}, "--mr"},
		{"--mr without any token outside a merge request pipeline", api, nil, plan{}, "ECHOES_GITLAB_TOKEN"},
		{"--mr without a project", withToken(config{iid: 7}, "tok"), nil, plan{}, "--project"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := makePlan(tt.cfg, cienv.Map(tt.env).Job(), "")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error()+" "+exit.From(err).Fix, tt.err) {
					t.Fatalf("error = %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func withToken(c config, token string) config { c.token = token; return c }

func TestPlanSaysWhenAnEmptyTokenVariableWasSkipped(t *testing.T) {
	job := cienv.Map(map[string]string{"CI_JOB_TOKEN": "job", "CI_MERGE_REQUEST_IID": "7"}).Job()
	p, err := makePlan(config{project: "1", iid: 7}, job, "ECHOES_GITLAB_TOKEN")
	if err != nil || p.tokenKind != gitlabapi.JobToken || len(p.notices) != 1 || !strings.Contains(p.notices[0], "ECHOES_GITLAB_TOKEN is set but empty") {
		t.Fatalf("plan %+v, %v", p, err)
	}
}

// A token about to cross a network in the clear gets a notice; this
// machine's own GitLab (the stand-in, a tunnel) does not.
func TestPlanWarnsOfATokenOverPlainHTTP(t *testing.T) {
	for _, tt := range []struct {
		base string
		warn bool
	}{
		{"http://gitlab.internal/api/v4", true},
		{"http://10.0.0.5:8080/api/v4", true},
		{"https://gitlab.internal/api/v4", false},
		{"http://127.0.0.1:8929/api/v4", false},
		{"http://localhost/api/v4", false},
		{"http://[::1]:80/api/v4", false},
	} {
		base, _ := url.Parse(tt.base)
		p, err := makePlan(config{project: "1", iid: 7, token: "tok", base: base}, cienv.Job{}, "")
		warned := len(p.notices) == 1 && strings.Contains(p.notices[0], "plain HTTP")
		if err != nil || warned != tt.warn {
			t.Errorf("%s: notices %q, %v; want a plain HTTP warning: %v", tt.base, p.notices, err, tt.warn)
		}
	}
}

// Every bad setting is reported in one error, each with its fix, so that a
// person mends them all in one run.
func TestConfigReportsEveryBadSettingAtOnce(t *testing.T) {
	f := &Command{Format: "yaml", MR: "x", Project: "../p", GitLab: settings.GitLab{GitLabURL: "gitlab", Token: "to\nk"}}
	_, err := f.config(nil, cienv.Job{}, "")
	e := exit.From(err)
	if e.Code != exit.Config {
		t.Fatalf("exit %d (%v), want %d", e.Code, err, exit.Config)
	}
	for _, want := range []string{"--format/ECHOES_FORMAT", "--mr/CI_MERGE_REQUEST_IID", "--project/CI_MERGE_REQUEST_PROJECT_ID",
		"not an http(s) URL", "the token contains spaces", "--timeout/ECHOES_TIMEOUT is 0s"} {
		if !strings.Contains(e.Cause, want) {
			t.Errorf("cause %q does not name %q", e.Cause, want)
		}
	}
	for _, want := range []string{"--format text", "--mr 42", "--project my-group/my-project", "ECHOES_GITLAB_URL", "without quotes"} {
		if !strings.Contains(e.Fix, want) {
			t.Errorf("fix %q lacks %q", e.Fix, want)
		}
	}
}

// --labels splits on commas; a ";" or quotes and brackets around a name
// get a hint, and a plain list none.
func TestLabelsHints(t *testing.T) {
	for _, tt := range []struct {
		labels []string
		want   string
	}{
		{[]string{"echoes/intent/feature", "backend"}, ""},
		{[]string{"backend;echoes/intent/feature"}, `"backend;echoes/intent/feature" holds a ";"`},
		{[]string{"echoes/intent/feature;backend"}, `holds a ";": labels are separated by commas`},
		{[]string{"[echoes/intent/feature", "backend]"}, "starts or ends with a quote or a bracket"},
		{[]string{`"echoes/intent/feature"`}, "starts or ends with a quote or a bracket"},
	} {
		got := strings.Join(labelsHints(tt.labels, nil), "\n")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("labelsHints(%q) = %q, want %q", tt.labels, got, tt.want)
		}
	}
}
