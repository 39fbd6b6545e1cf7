package checkcmd_test

// The faults of issue #5, end to end: the binary against a misbehaving
// GitLab stand-in. Each case checks the documented exit code and that
// stderr is one cause line and one "fix:" line naming the fix; run()
// checks that no token is ever printed. Timeouts are short (≤ 500ms), so
// no case waits for real seconds. The faults already covered by
// TestAPIErrors, TestConfigErrors and TestConnectionRefusedIsBoundedByTimeout
// in e2e_test.go are not repeated here.

import (
	"bytes"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// causeAndFix asserts that stderr is exactly one line of cause containing
// cause, then one "  fix: " line containing fix, after the remarks on
// retries, one a wait.
func causeAndFix(t *testing.T, r result, cause, fix string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(withoutRetries(r.stderr), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "echoes-labels: ") || !strings.HasPrefix(lines[1], "  fix: ") {
		t.Fatalf("stderr should be one cause line and one fix line:\n%s", r)
	}
	if !strings.Contains(lines[0], cause) {
		t.Errorf("the cause should say %q:\n%s", cause, r)
	}
	if !strings.Contains(lines[1], fix) {
		t.Errorf("the fix should say %q:\n%s", fix, r)
	}
}

// withoutRetries is stderr without the lines that announce a retry.
func withoutRetries(stderr string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if !strings.Contains(l, "; trying again in ") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// bounded asserts that a run given timeout ended soon after it, not after
// a Retry-After or a server that never answers.
func bounded(t *testing.T, start time.Time, timeout time.Duration) {
	t.Helper()
	// Generous slack for starting the process on a loaded machine; the
	// faults below would otherwise take 60s or forever.
	if el := time.Since(start); el > timeout+3*time.Second {
		t.Errorf("took %v with --timeout %v", el, timeout)
	}
}

func TestFaults(t *testing.T) {
	// Long enough that no answer on loopback misses it on a busy machine
	// (-race, two cores), short enough that a Retry-After of 60 s is
	// reported at once rather than waited for.
	const timeout = 10 * time.Second
	status := func(code int, header ...string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			for i := 0; i < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			gitlabtest.Error(w, code, fmt.Sprintf("%d %s", code, http.StatusText(code)))
		}
	}
	body := func(contentType, b string) func(http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", contentType)
			fmt.Fprint(w, b)
		}
	}
	tests := []struct {
		name string
		// answers[i] answers request i+1; later requests get the merge
		// request; forever repeats the last answer instead.
		answers  []func(http.ResponseWriter)
		forever  bool
		timeout  time.Duration
		code     int
		requests int // 0: do not check
		cause    string
		fix      string
	}{
		{name: "429 with Retry-After 0, then 200", answers: []func(http.ResponseWriter){status(429, "Retry-After", "0")},
			code: 0, requests: 2},
		{name: "429 forever, Retry-After beyond the timeout", answers: []func(http.ResponseWriter){status(429, "Retry-After", "60")}, forever: true,
			// reported at once: waiting 60s could only end in a timeout
			code: 3, requests: 1, cause: "Retry-After: 60", fix: "rate-limiting"},
		{name: "502 then 200", answers: []func(http.ResponseWriter){status(502)},
			// the first backoff is 500ms, which the binary has no way to shorten
			code: 0, requests: 2},
		{name: "503 forever with Retry-After beyond the timeout", answers: []func(http.ResponseWriter){status(503, "Retry-After", "60")}, forever: true,
			code: 3, requests: 1, cause: "503", fix: "retry the job"},
		{name: "HTML with a JSON content type", answers: []func(http.ResponseWriter){body("application/json", "<!DOCTYPE html><html><body>Sign in</body></html>")},
			code: 3, requests: 1, cause: "JSON that cannot be read", fix: "/api/v4"},
		{name: "truncated JSON", answers: []func(http.ResponseWriter){body("application/json", `{"iid":7,"labels":["echoes/intent/x",`)},
			code: 3, requests: 1, cause: "JSON that cannot be read", fix: "/api/v4"},
		{name: "body shorter than its Content-Length", answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "500")
			fmt.Fprint(w, `{"iid":7,"labels":[`)
		}}, code: 3, cause: "cannot be read: unexpected EOF", fix: ""},
		{name: "JSON without labels", answers: []func(http.ResponseWriter){body("application/json", `{"iid":7,"title":"x"}`)},
			code: 3, requests: 1, cause: "without a list of labels", fix: "/api/v4"},
		{name: "labels not a list", answers: []func(http.ResponseWriter){body("application/json", `{"iid":7,"labels":"echoes/intent/x"}`)},
			code: 3, requests: 1, cause: "without a list of labels", fix: "/api/v4"},
		{name: "empty 200", answers: []func(http.ResponseWriter){body("application/json", "")},
			code: 3, requests: 1, cause: "JSON that cannot be read", fix: "/api/v4"},
		{name: "200 that is not JSON", answers: []func(http.ResponseWriter){body("text/html", "")},
			code: 3, requests: 1, cause: "instead of JSON", fix: "/api/v4"},
		// a wrong --gitlab-url: not "merge request !7 does not exist", and
		// the URL that answered is named (issue 9)
		{name: "404 that is not GitLab's JSON", answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			fmt.Fprint(w, "<html><body>Page not found</body></html>")
		}}, code: 3, requests: 1, cause: `/api/v4/projects/42/merge_requests/7 answered 404 Not Found with "text/html", not GitLab's JSON error`, fix: "is your GitLab's API root"},
		// a path GitLab has no route for ({"error": …}, not {"message": …})
		{name: "GitLab's 404 for no such route", answers: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			gitlabtest.JSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		}}, code: 3, requests: 1, cause: "/api/v4/projects/42/merge_requests/7 answered GitLab's 404 for a path it has no API route for", fix: "is your GitLab's API root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gitlabtest.New(t)
			srv.SetToken(secret)
			srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
				switch {
				case n <= len(tt.answers):
					tt.answers[n-1](w)
				case tt.forever:
					tt.answers[len(tt.answers)-1](w)
				default:
					return false
				}
				return true
			})
			timeout := timeout
			if tt.timeout != 0 {
				timeout = tt.timeout
			}
			start := time.Now()
			r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "ECHOES_TIMEOUT", timeout.String()))
			bounded(t, start, timeout)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r)
			}
			if tt.requests != 0 && srv.Count() != tt.requests {
				t.Errorf("%d requests, want %d", srv.Count(), tt.requests)
			}
			if tt.code == 0 {
				if withoutRetries(r.stderr) != "" || !strings.Contains(r.stdout, "PASS") {
					t.Errorf("want a passing report and nothing on stderr but the retries:\n%s", r)
				}
				return
			}
			if r.stdout != "" {
				t.Errorf("a failed call should print no report:\n%s", r)
			}
			causeAndFix(t, r, tt.cause, tt.fix)
		})
	}
}

// hangingServer accepts connections and never answers until the test ends.
func hangingServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

func TestServerThatNeverAnswers(t *testing.T) {
	addr := hangingServer(t)
	start := time.Now()
	r := run(t, map[string]string{"ECHOES_GITLAB_TOKEN": secret, "CI_API_V4_URL": "http://" + addr + "/api/v4",
		"CI_MERGE_REQUEST_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7", "ECHOES_TIMEOUT": "300ms"})
	bounded(t, start, 300*time.Millisecond)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r)
	}
	causeAndFix(t, r, "no answer from GitLab in time", "raise --timeout/ECHOES_TIMEOUT")
	if !strings.Contains(r.stderr, "300ms") {
		t.Errorf("the cause should name the timeout:\n%s", r)
	}
}

func TestConnectionRefusedNamesTheFix(t *testing.T) {
	addr := gitlabtest.ClosedAddr(t)
	r := run(t, map[string]string{"ECHOES_GITLAB_TOKEN": secret, "CI_API_V4_URL": "http://" + addr + "/api/v4",
		"CI_MERGE_REQUEST_PROJECT_ID": "1", "CI_MERGE_REQUEST_IID": "2", "ECHOES_TIMEOUT": "1200ms"})
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r)
	}
	causeAndFix(t, r, "connection refused", "CI_API_V4_URL")
	// 1.2s leaves room for the first wait only (500ms; the next, 1s, would end past it): it is said, once.
	if n := strings.Count(r.stderr, "trying again in"); n != 1 {
		t.Errorf("want one line for the one wait, got %d:\n%s", n, r)
	}
}

// tlsServer is the stand-in over TLS with a certificate from an unknown CA,
// and a PEM file of that certificate.
func tlsServer(t *testing.T, http2 bool) (*gitlabtest.Server, string) {
	t.Helper()
	srv := gitlabtest.NewUnstarted()
	srv.EnableHTTP2 = http2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	srv.SetToken(secret)
	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, caFile
}

func TestTLSUnknownCA(t *testing.T) {
	srv, caFile := tlsServer(t, false)
	// An untrusted certificate is no fault to retry: the run ends at once,
	// far inside a timeout no loaded machine reaches.
	env := with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "ECHOES_TIMEOUT", "60s")

	start := time.Now()
	r := run(t, env)
	bounded(t, start, 10*time.Second)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r)
	}
	causeAndFix(t, r, "TLS certificate is not trusted", "CI_SERVER_TLS_CA_FILE")
	if srv.Count() != 0 {
		t.Errorf("an untrusted server got %d requests (and the token)", srv.Count())
	}

	r = run(t, with(env, "CI_SERVER_TLS_CA_FILE", caFile))
	if r.code != 0 || srv.Count() != 1 {
		t.Fatalf("with the CA in CI_SERVER_TLS_CA_FILE: %d requests\n%s", srv.Count(), r)
	}
	if got := srv.Requests()[0].PrivateToken; got != secret {
		t.Errorf("the trusted server got PRIVATE-TOKEN %q", got)
	}
}

// Go's HTTP/2 client logs every header it sends, the token included, under
// GODEBUG=http2debug=2: someone debugging a TLS problem in CI would set it.
func TestDebugLoggingDoesNotPrintTheToken(t *testing.T) {
	srv, caFile := tlsServer(t, true)
	for _, godebug := range []string{"http2debug=2", "http2debug=1"} {
		r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "CI_SERVER_TLS_CA_FILE", caFile, "GODEBUG", godebug))
		if r.code != 0 {
			t.Fatalf("GODEBUG=%s: %s", godebug, r)
		}
		// run() fails the test if the token was printed; make sure the
		// debug path really ran, or this test would prove nothing.
		if !strings.Contains(r.stderr, "http2:") {
			t.Fatalf("GODEBUG=%s printed no HTTP/2 debug log, so the test proves nothing:\n%s", godebug, r)
		}
	}
}

func TestRedirectToAnotherHost(t *testing.T) {
	other := gitlabtest.New(t)
	other.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	srv := gitlabtest.New(t)
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		// 127.0.0.1 and localhost are different hosts.
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+r.URL.Path, http.StatusFound)
		return true
	})
	for _, token := range []struct{ name, value string }{{"ECHOES_GITLAB_TOKEN", secret}, {"CI_JOB_TOKEN", jobSecret}} {
		env := with(mrEnv(srv, "7"), "CI_JOB_TOKEN", "<unset>", token.name, token.value, "ECHOES_TIMEOUT", "30s")
		r := run(t, env)
		if r.code != 3 {
			t.Fatalf("%s: exit %d, want 3\n%s", token.name, r.code, r)
		}
		causeAndFix(t, r, "redirected to another host (localhost:", "CI_API_V4_URL")
	}
	if srv.Count() != 2 {
		t.Errorf("the first host got %d requests, want 2 (one per token)", srv.Count())
	}
	for _, req := range other.Requests() {
		if req.PrivateToken != "" || req.JobToken != "" {
			t.Fatalf("a token reached the other host: %+v", req)
		}
	}
}

func TestEmptyTokenFallsBackToTheJobToken(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetJobToken(jobSecret)
	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	for _, empty := range []string{"", "  ", "\n"} {
		r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", empty))
		if r.code != 0 {
			t.Fatalf("ECHOES_GITLAB_TOKEN=%q: %s", empty, r)
		}
		if !strings.Contains(r.stdout, "ECHOES_GITLAB_TOKEN is set but empty; trying the job token instead") {
			t.Errorf("ECHOES_GITLAB_TOKEN=%q: should say it falls back to the job token:\n%s", empty, r)
		}
	}
	for _, req := range srv.Requests() {
		if req.JobToken != jobSecret || req.PrivateToken != "" {
			t.Errorf("sent PRIVATE-TOKEN %q JOB-TOKEN %q, want the job token only", req.PrivateToken, req.JobToken)
		}
	}
	if srv.Count() != 3 {
		t.Errorf("%d requests, want 3", srv.Count())
	}
}

func TestMalformedVariablesNameTheFix(t *testing.T) {
	srv := gitlabtest.New(t)
	base := with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret)
	for _, tt := range []struct {
		name      string
		env       map[string]string
		cause     string
		fix       string
		variables []string
	}{
		{"iid not a number", with(base, "CI_MERGE_REQUEST_IID", "abc"), `"abc", not a positive number`, "--mr 42", nil},
		{"iid negative", with(base, "CI_MERGE_REQUEST_IID", "-3"), `"-3", not a positive number`, "--mr 42", nil},
		{"iid zero", with(base, "CI_MERGE_REQUEST_IID", "0"), `"0", not a positive number`, "--mr 42", nil},
		{"iid huge", with(base, "CI_MERGE_REQUEST_IID", "99999999999999999999999"), "not a positive number", "--mr 42", nil},
		{"iid with a line break", with(base, "CI_MERGE_REQUEST_IID", "7\nfix: lies"), `"7\x0afix: lies"`, "--mr 42", nil},
		{"api url not a url", with(base, "CI_API_V4_URL", "not a url"), "is not an http(s) URL", "CI_API_V4_URL", nil},
		{"api url without a scheme", with(base, "CI_API_V4_URL", "gitlab.example.com/api/v4"), "is not an http(s) URL", "CI_API_V4_URL", nil},
		{"api url of another scheme", with(base, "CI_API_V4_URL", "ftp://gitlab.example.com/api/v4"), "is not an http(s) URL", "CI_API_V4_URL", nil},
		{"project with a query", with(base, "CI_MERGE_REQUEST_PROJECT_ID", "group/project?x=1"), "neither a numeric id nor a group/project path", "--project", nil},
		{"project as a URL", with(base, "CI_MERGE_REQUEST_PROJECT_ID", "https://gitlab.com/group/project"), "is a URL", "--project group/project (or its numeric id)", nil},
		{"iid as a URL", with(base, "CI_MERGE_REQUEST_IID", "https://gitlab.com/g/p/-/merge_requests/7"), "not a positive number", "the number at the end of the URL (and after ! in the merge request's header): --mr 7", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2\n%s", r.code, r)
			}
			causeAndFix(t, r, tt.cause, tt.fix)
		})
	}
	if srv.Count() != 0 {
		t.Errorf("malformed variables made %d API requests", srv.Count())
	}
}

// --comment writes on a merge request; --labels has none: a configuration
// error, not a token without the api scope.
func TestCommentWithLabelsIsAConfigError(t *testing.T) {
	for _, r := range []result{
		run(t, nil, "--labels", "echoes/intent/x", "--comment"),
		run(t, map[string]string{"ECHOES_COMMENT": "true"}, "--labels", "echoes/intent/x"),
	} {
		if r.code != 2 {
			t.Fatalf("exit %d, want 2\n%s", r.code, r)
		}
		causeAndFix(t, r, "--labels checks labels without one", "drop --comment (or unset ECHOES_COMMENT)")
	}
}

// The README's order is ECHOES_GITLAB_TOKEN, then GITLAB_TOKEN: an empty
// first one (a template's `ECHOES_GITLAB_TOKEN: ""`) must not hide the second.
func TestEmptyTokenFallsBackToGitLabToken(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	srv.SetJobToken(jobSecret)
	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	for _, empty := range []string{"", " "} {
		r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", empty, "GITLAB_TOKEN", secret))
		if r.code != 0 || strings.Contains(r.stdout, "job token") {
			t.Fatalf("ECHOES_GITLAB_TOKEN=%q with GITLAB_TOKEN set: %s", empty, r)
		}
	}
	for _, req := range srv.Requests() {
		if req.PrivateToken != secret || req.JobToken != "" {
			t.Errorf("sent PRIVATE-TOKEN %q JOB-TOKEN %q, want GITLAB_TOKEN's value", req.PrivateToken, req.JobToken)
		}
	}
}

// The paths that print without a GitLab call: help, version, usage errors,
// including a token pasted into the wrong variable.
func TestNoTokenOnTheOfflinePaths(t *testing.T) {
	env := map[string]string{"ECHOES_GITLAB_TOKEN": secret, "CI_JOB_TOKEN": jobSecret, "NO_COLOR": "1"}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		code int
	}{
		{"help", env, []string{"--help"}, 0},
		{"version", env, []string{"--version"}, 0},
		{"unknown flag", env, []string{"--labls", "x"}, 2},
		{"token as the timeout", with(env, "ECHOES_TIMEOUT", secret), nil, 2},
		{"job token as the timeout", with(env, "ECHOES_TIMEOUT", jobSecret), nil, 2},
		{"token as the require-effort switch", with(env, "ECHOES_REQUIRE_EFFORT", secret), nil, 2},
		{"job token as the require-effort switch", with(env, "ECHOES_REQUIRE_EFFORT", jobSecret), nil, 2},
		{"token as --no-color", env, []string{"--labels", "x", "--no-color=" + secret}, 2},
		{"token as the IID", with(env, "CI_MERGE_REQUEST_IID", secret, "CI_MERGE_REQUEST_PROJECT_ID", "1"), nil, 2},
		{"token as the API URL", with(env, "CI_API_V4_URL", secret, "CI_MERGE_REQUEST_IID", "7", "CI_MERGE_REQUEST_PROJECT_ID", "1"), nil, 2},
		{"token as the project", with(env, "CI_MERGE_REQUEST_PROJECT_ID", secret+"?", "CI_MERGE_REQUEST_IID", "7"), nil, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.env, tt.args...) // fails if a token is printed
			// kong lowercases a bad bool value before quoting it.
			for _, tok := range []string{secret, jobSecret} {
				if strings.Contains(strings.ToLower(r.stdout+r.stderr), strings.ToLower(tok)) {
					t.Fatalf("a token was printed in another case:\n%s", r)
				}
			}
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r)
			}
			if tt.code == 2 && !strings.Contains(r.stderr, "fix:") {
				t.Errorf("a usage error should name the fix:\n%s", r)
			}
		})
	}
}

// A branch pipeline reads the merge request from the list of open ones. A
// list answer that is not GitLab's must fail as the API's fault (exit 3),
// not blame the developer for missing labels (exit 1) nor pass unchecked.
func TestBranchPipelineListAnswerWithoutLabels(t *testing.T) {
	for _, answer := range []string{`[{"iid":7,"project_id":42}]`, `[{"iid":7,"labels":null}]`, `null`} {
		t.Run(answer, func(t *testing.T) {
			srv := gitlabtest.New(t)
			srv.SetToken(secret)
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, answer)
				return true
			})
			env := with(mrEnv(srv, ""), "CI_MERGE_REQUEST_IID", "<unset>", "CI_PIPELINE_SOURCE", "push",
				"CI_COMMIT_BRANCH", "topic", "CI_PROJECT_PATH", "group/project", "ECHOES_GITLAB_TOKEN", secret)
			r := run(t, env)
			if r.code != 3 {
				t.Fatalf("exit %d, want 3\n%s", r.code, r)
			}
			causeAndFix(t, r, "without a list of", "/api/v4")
			if srv.Count() != 1 {
				t.Errorf("%d requests, want 1", srv.Count())
			}
		})
	}
}

// GitLab cancels a job with SIGTERM and kills it a few seconds later; a
// person presses Ctrl-C. Either way the check stops within a second, says
// so in one line and its fix, and leaves a complete JUnit file.
func TestCancelledJobStopsAndLeavesAReport(t *testing.T) {
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := hangingServer(t)
			junit := filepath.Join(t.TempDir(), "report.xml")
			cmd := exec.Command(binary)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ECHOES_GITLAB_TOKEN=" + secret, "CI_API_V4_URL=http://" + addr + "/api/v4",
				"CI_MERGE_REQUEST_PROJECT_ID=42", "CI_MERGE_REQUEST_IID=7", "ECHOES_TIMEOUT=1m", "ECHOES_JUNIT=" + junit}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond) // the request is in flight
			sent := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if el := time.Since(sent); el > time.Second {
				t.Errorf("stopped %v after the signal, want within a second", el)
			}
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != 130 {
				t.Fatalf("exit %v, want 130\n%s%s", err, &stdout, &stderr)
			}
			causeAndFix(t, result{stdout.String(), stderr.String(), 130}, "cancelled", "run the job again")
			b := readFile(t, junit)
			var doc struct {
				Errors int `xml:"errors,attr"`
				Case   struct {
					Error struct {
						Message string `xml:"message,attr"`
					} `xml:"error"`
				} `xml:"testsuite>testcase"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil || doc.Errors != 1 || !strings.Contains(doc.Case.Error.Message, "cancelled") {
				t.Errorf("JUnit report after the signal (%v):\n%s", err, b)
			}
		})
	}
}

// A secret is masked where it comes in, before it is encoded or cut: one
// that looks like the markup around it leaves the JUnit XML and the log's
// section markers whole, and a long one cut short leaks nothing.
func TestMaskingNeverBreaksWhatItMasks(t *testing.T) {
	for _, token := range []string{"<testsuites", "collapsed=true", "section_end", `"&amp;'`} {
		t.Run(token, func(t *testing.T) {
			srv := gitlabtest.New(t)
			srv.SetToken(token)
			srv.SetLabels(42, "group/project", 7, "echoes/intent/feature", "echoes/intent/"+token, "about "+token+" here", token)
			junit := filepath.Join(t.TempDir(), "report.xml")
			r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", token, "NO_COLOR", "<unset>", "ECHOES_JUNIT", junit))
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			markers := regexp.MustCompile(`\x1b\[0Ksection_(start|end):\d+:echoes_labels_details(\[collapsed=true\])?\r\x1b\[0K`)
			if got := markers.FindAllString(r.stdout, -1); len(got) != 2 {
				t.Errorf("the details section's markers are broken:\n%q", r.stdout)
			}
			if strings.Contains(markers.ReplaceAllString(r.stdout, "")+r.stderr, token) {
				t.Errorf("the token was printed:\n%s", r)
			}
			b := readFile(t, junit)
			var doc struct {
				Tests int    `xml:"tests,attr"`
				Out   string `xml:"testsuite>testcase>system-out"`
			}
			if err := xml.Unmarshal(b, &doc); err != nil || doc.Tests != 1 || doc.Out != "labels: echoes/intent/feature, echoes/intent/[MASKED]" {
				t.Errorf("JUnit report (%v):\n%s", err, b)
			}
		})
	}
	t.Run("a long token echoed by GitLab and cut short", func(t *testing.T) {
		token := "glpat-" + strings.Repeat("0123456789abcdef", 40)
		srv := gitlabtest.New(t)
		srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
			gitlabtest.Error(w, http.StatusUnauthorized, "401 Unauthorized: token "+r.Header.Get("PRIVATE-TOKEN")+" is not valid")
			return true
		})
		r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", token))
		if r.code != 3 || strings.Contains(r.stdout+r.stderr, token[:12]) || !strings.Contains(r.stderr, "[MASKED]") {
			t.Fatalf("want exit 3 with the token masked, not cut:\n%s", r)
		}
	})
	t.Run("a token pasted as an argument", func(t *testing.T) {
		r := run(t, nil, "glpat-pasted-by-mistake-0123456789")
		if r.code != 2 || strings.Contains(r.stdout+r.stderr, "pasted-by-mistake") {
			t.Fatalf("want exit 2 without the argument:\n%s", r)
		}
	})
	t.Run("a word as an argument leaves the fix whole", func(t *testing.T) {
		// An argument is masked in the parser's message, not in our fix:
		// "see echoes-labels --[MASKED] for the flags" once.
		for _, arg := range []string{"variables", "labels", "flags"} {
			r := run(t, nil, arg)
			if r.code != 2 || !strings.Contains(r.stderr, "fix: see echoes-labels --help for the flags and their environment variables") {
				t.Fatalf("want exit 2 and the whole fix for %q:\n%s", arg, r)
			}
		}
	})
	t.Run("help as a word is the help", func(t *testing.T) {
		if r := run(t, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "Usage: echoes-labels") {
			t.Fatalf("%s", r)
		}
	})
	t.Run("credentials in CI_API_V4_URL", func(t *testing.T) {
		srv := gitlabtest.New(t)
		srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
			gitlabtest.Error(w, http.StatusBadRequest, "bad request for "+r.URL.String()+" hunter2secret")
			return true
		})
		r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "CI_API_V4_URL", srv.APIURL()+"?private_token=hunter2secret"))
		if strings.Contains(r.stdout+r.stderr, "hunter2secret") {
			t.Fatalf("a credential from the URL was printed:\n%s", r)
		}
	})
}

// Repeated --labels add up rather than the last one winning.
func TestRepeatedLabelsAddUp(t *testing.T) {
	r := run(t, nil, "--labels", "backend", "--labels", "echoes/intent/feature", "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"verdict": "pass"`) || !strings.Contains(r.stdout, "backend") {
		t.Fatalf("--labels backend --labels echoes/intent/feature: %s", r)
	}
}
