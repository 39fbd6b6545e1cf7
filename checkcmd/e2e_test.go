package checkcmd_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/goldenfile"
	"gitlab.com/echoeshq/echoes-labels/version"
)

// binary is echoes-labels built once for all end-to-end tests, which run it
// as a CI job would: a fresh process with only the environment we give it.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "echoes-labels-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "echoes-labels")
	build := exec.Command("go", "build", "-ldflags", "-X main.revision=e2e0000", "-o", binary, "../cmd/echoes-labels")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building echoes-labels:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	secret    = "glpat-TOPSECRET-0123456789"
	jobSecret = "JOBTOKEN-abcdefghijklmnop"
)

type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// run runs the binary with exactly env (plus PATH) and args.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r := result{stdout.String(), stderr.String(), code}
	for _, s := range []string{secret, jobSecret} {
		// Case-insensitively: kong lowercases values it echoes in errors.
		if strings.Contains(strings.ToLower(r.stdout+r.stderr), strings.ToLower(s)) {
			t.Fatalf("a token was printed:\n%s", r)
		}
	}
	return r
}

// mrEnv is a merge request pipeline's predefined variables.
func mrEnv(srv *gitlabtest.Server, iid string) map[string]string {
	return map[string]string{
		"GITLAB_CI":                   "true",
		"CI":                          "true",
		"NO_COLOR":                    "1",
		"CI_PIPELINE_SOURCE":          "merge_request_event",
		"CI_API_V4_URL":               srv.APIURL(),
		"CI_PROJECT_ID":               "42",
		"CI_MERGE_REQUEST_PROJECT_ID": "42",
		"CI_MERGE_REQUEST_IID":        iid,
		"CI_JOB_TOKEN":                jobSecret,
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<unset>" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// readFile is the file at path; the test fails when it cannot be read.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shortError asserts that r exited with code and that its error, in at
// most two lines, mentions mention.
func shortError(t *testing.T, r result, code int, mention string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\n%s", r.code, code, r)
	}
	if !strings.Contains(r.stderr, mention) {
		t.Errorf("the error should mention %q:\n%s", mention, r)
	}
	if lines := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; lines > 2 {
		t.Errorf("%d lines of error, want at most two:\n%s", lines, r)
	}
}

var (
	port      = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	sectionTS = regexp.MustCompile(`section_(start|end):\d+:`)
	millis    = regexp.MustCompile(` in \d+ms`)
)

// golden compares r, its ports, times and durations made constant, with
// testdata/name.golden (go test -update rewrites it).
func golden(t *testing.T, name string, r result) {
	t.Helper()
	got := port.ReplaceAllString(r.String(), "127.0.0.1:PORT")
	got = sectionTS.ReplaceAllString(got, "section_$1:TIME:")
	got = millis.ReplaceAllString(got, " in Nms")
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), got)
}

func TestOffline(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"offline-pass", []string{"--labels", "echoes/intent/feature,backend"}, 0},
		{"offline-fail-missing", []string{"--labels", "backend,frontend"}, 1},
		{"offline-fail-near-miss", []string{"--labels", "echoes/intnet/feature,echoes/effort/XXL"}, 1},
		{"offline-effort-required-doubled", []string{"--require-effort", "--labels", "echoes/initiative/q3,echoes/effort/S,echoes/effort::M"}, 1},
		{"offline-effort-required-missing", []string{"--require-effort", "--labels", "echoes/intent/bug"}, 1},
		{"offline-effort-optional-warns", []string{"--labels", "echoes/intent/bug,echoes/effort/huge"}, 0},
		{"offline-empty", []string{"--labels", ""}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, map[string]string{"NO_COLOR": "1"}, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r)
			}
			golden(t, tt.name, r)
		})
	}
}

func TestRequireEffortFromEnvironment(t *testing.T) {
	r := run(t, map[string]string{"ECHOES_REQUIRE_EFFORT": "true"}, "--labels", "echoes/intent/x")
	if r.code != 1 || !strings.Contains(r.stdout, "no effort label") {
		t.Fatalf("ECHOES_REQUIRE_EFFORT=true not honoured:\n%s", r)
	}
}

func TestCustomPrefixesAndDocs(t *testing.T) {
	r := run(t, map[string]string{"ECHOES_INTENT_PREFIX": "why", "ECHOES_DOCS_URL": "https://docs.example.com/echoes/"}, "--labels", "echoes/intent/x")
	if r.code != 1 || !strings.Contains(r.stdout, "https://docs.example.com/echoes/developer-guide") || !strings.Contains(r.stdout, "why/") {
		t.Fatalf("custom prefix or docs base not used:\n%s", r)
	}
	if r := run(t, nil, "--labels", "why::feature", "--intent-prefix", "why"); r.code != 0 {
		t.Fatalf("label under a custom prefix failed:\n%s", r)
	}
}

func TestAPI(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature", "echoes/effort/M", "backend")
	srv.SetLabels(42, "group/project", 8, "backend", "echoes/initative/checkout")
	env := with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret)

	r := run(t, env)
	if r.code != 0 {
		t.Fatalf("labelled MR: %s", r)
	}
	golden(t, "api-pass", r)
	if n := srv.Count(); n != 1 {
		t.Errorf("a plain check made %d API requests, want exactly 1", n)
	}

	r = run(t, with(env, "CI_MERGE_REQUEST_IID", "8"))
	if r.code != 1 {
		t.Fatalf("unlabelled MR: %s", r)
	}
	golden(t, "api-fail", r)
	if !strings.Contains(r.stdout, "then retry this job") {
		t.Errorf("an API check should say a retry picks up a new label:\n%s", r)
	}

	// GITLAB_TOKEN is the second choice; --project takes a path.
	r = run(t, with(env, "ECHOES_GITLAB_TOKEN", "<unset>", "GITLAB_TOKEN", secret, "CI_MERGE_REQUEST_PROJECT_ID", "<unset>", "CI_PROJECT_ID", "<unset>"), "--project", "group/project")
	if r.code != 0 {
		t.Fatalf("GITLAB_TOKEN with --project path: %s", r)
	}
}

func TestJobToken(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	env := with(mrEnv(srv, "7"), "CI_MERGE_REQUEST_LABELS", "backend")

	srv.SetJobToken(jobSecret)
	r := run(t, env)
	if r.code != 0 || !strings.Contains(r.stdout, "read from the GitLab API") {
		t.Fatalf("an accepted job token should read the API:\n%s", r)
	}
	if got := srv.Requests()[0].JobToken; got != jobSecret {
		t.Errorf("JOB-TOKEN header = %q", got)
	}

	srv.SetJobToken("") // GitLab refuses this job token
	r = run(t, env)
	if r.code != 1 {
		t.Fatalf("refused job token, frozen labels without Echoes labels: %s", r)
	}
	golden(t, "job-token-refused", r)

	r = run(t, with(env, "CI_MERGE_REQUEST_LABELS", "backend,echoes/intent/bug"))
	if r.code != 0 {
		t.Fatalf("refused job token, frozen labels that pass: %s", r)
	}
}

func TestNoTokenAtAllUsesThePipelineVariable(t *testing.T) {
	srv := gitlabtest.New(t)
	r := run(t, with(mrEnv(srv, "7"), "CI_JOB_TOKEN", "<unset>", "CI_MERGE_REQUEST_LABELS", "echoes/intent/x"))
	if r.code != 0 || srv.Count() != 0 || !strings.Contains(r.stdout, "CI_MERGE_REQUEST_LABELS") {
		t.Fatalf("want the variable's labels and no request (%d made):\n%s", srv.Count(), r)
	}
}

func TestNothingToCheck(t *testing.T) {
	srv := gitlabtest.New(t)
	env := with(mrEnv(srv, ""), "CI_MERGE_REQUEST_IID", "<unset>", "CI_PIPELINE_SOURCE", "push", "ECHOES_GITLAB_TOKEN", secret)
	r := run(t, env)
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to check") || srv.Count() != 0 {
		t.Fatalf("branch pipeline: %s", r)
	}
}

func TestConfigErrors(t *testing.T) {
	srv := gitlabtest.New(t)
	base := with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		mention string // the variable or flag the message must name
	}{
		{"iid not a number", with(base, "CI_MERGE_REQUEST_IID", "abc"), nil, "CI_MERGE_REQUEST_IID"},
		{"iid negative", with(base, "CI_MERGE_REQUEST_IID", "-3"), nil, "CI_MERGE_REQUEST_IID"},
		{"iid huge", with(base, "CI_MERGE_REQUEST_IID", "99999999999999999999999"), nil, "CI_MERGE_REQUEST_IID"},
		{"api url not a url", with(base, "CI_API_V4_URL", "not a url"), nil, "CI_API_V4_URL"},
		{"api url has a password", with(base, "CI_API_V4_URL", "https://bob:hunter22@gitlab.example.com/api/v4"), nil, "--token"},
		{"no project", with(base, "CI_MERGE_REQUEST_PROJECT_ID", "<unset>", "CI_PROJECT_ID", "<unset>"), nil, "CI_MERGE_REQUEST_PROJECT_ID"},
		{"token with a newline inside", with(base, "ECHOES_GITLAB_TOKEN", "glpat-abc\ndef"), nil, "ECHOES_GITLAB_TOKEN"},
		{"mr without a token outside CI", map[string]string{}, []string{"--mr", "7", "--project", "1"}, "ECHOES_GITLAB_TOKEN"},
		{"unknown flag", nil, []string{"--labls", "x"}, "--help"},
		{"bad timeout", with(base, "ECHOES_TIMEOUT", "soon"), nil, "ECHOES_TIMEOUT"},
		{"zero timeout", base, []string{"--timeout", "0s"}, "ECHOES_TIMEOUT"},
		{"ca file missing", with(base, "CI_SERVER_TLS_CA_FILE", "/nonexistent/ca.pem"), nil, "CI_SERVER_TLS_CA_FILE"},
		{"duplicate prefixes", nil, []string{"--labels", "x", "--intent-prefix", "echoes/effort"}, "--effort-prefix"},
		{"bad bool", with(base, "ECHOES_REQUIRE_EFFORT", "sometimes"), nil, "ECHOES_REQUIRE_EFFORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.args...)
			shortError(t, r, 2, tt.mention)
			if strings.Contains(r.stderr, "hunter22") {
				t.Errorf("a password from the URL was printed:\n%s", r)
			}
		})
	}
	if srv.Count() != 0 {
		t.Errorf("configuration errors made %d API requests", srv.Count())
	}
}

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*gitlabtest.Server)
		env     []string
		mention string
	}{
		{"bad token", func(s *gitlabtest.Server) { s.SetToken("a-different-token") }, nil, "read_api"},
		{"scope too low", func(s *gitlabtest.Server) {
			s.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
				gitlabtest.Error(w, 403, "403 Forbidden - insufficient_scope")
				return true
			})
		}, nil, "Reporter"},
		{"project not found", nil, []string{"CI_MERGE_REQUEST_PROJECT_ID", "999"}, "project 999 does not exist"},
		{"mr not found", nil, []string{"CI_MERGE_REQUEST_IID", "404"}, "merge request !404 does not exist"},
		{"html answer", func(s *gitlabtest.Server) {
			s.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, "<html>sign in</html>")
				return true
			})
		}, nil, "/api/v4"},
		{"503 forever", func(s *gitlabtest.Server) {
			s.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool { w.WriteHeader(503); return true })
		}, []string{"ECHOES_TIMEOUT", "300ms"}, "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gitlabtest.New(t)
			srv.SetToken(secret)
			srv.SetLabels(42, "group/project", 7, "echoes/intent/x")
			if tt.setup != nil {
				tt.setup(srv)
			}
			start := time.Now()
			r := run(t, with(with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret), tt.env...))
			shortError(t, r, 3, tt.mention)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

func TestConnectionRefusedIsBoundedByTimeout(t *testing.T) {
	addr := gitlabtest.ClosedAddr(t)
	start := time.Now()
	r := run(t, map[string]string{"ECHOES_GITLAB_TOKEN": secret, "CI_API_V4_URL": "http://" + addr + "/api/v4",
		"CI_MERGE_REQUEST_PROJECT_ID": "1", "CI_MERGE_REQUEST_IID": "2", "ECHOES_TIMEOUT": "400ms"})
	if r.code != 3 || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("want exit 3 naming the refused connection:\n%s", r)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v with a 400ms timeout", el)
	}
}

func TestColour(t *testing.T) {
	ansi := "\x1b["
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want bool
	}{
		{"in a GitLab job", map[string]string{"GITLAB_CI": "true"}, nil, true},
		{"in any CI", map[string]string{"CI": "true"}, nil, true},
		{"NO_COLOR wins", map[string]string{"GITLAB_CI": "true", "NO_COLOR": "1"}, nil, false},
		{"--no-color wins", map[string]string{"GITLAB_CI": "true"}, []string{"--no-color"}, false},
		{"a pipe outside CI", map[string]string{}, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, append(tt.args, "--labels", "bug")...)
			if got := strings.Contains(r.stdout, ansi); got != tt.want {
				t.Errorf("colour = %v, want %v:\n%q", got, tt.want, r.stdout)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := run(t, nil, "--version")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "echoes-labels "+version.Number+" (e2e0000)" {
		t.Fatalf("--version: %s", r)
	}
	r = run(t, map[string]string{"COLUMNS": "100"}, "--help")
	if r.code != 0 {
		t.Fatalf("--help: %s", r)
	}
	golden(t, "help", r)
}
