package serve

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// An untrusted TLS certificate is not transient: the task is given up at
// once, no try after the first, counted as kind tls, and the token never
// reached the server.
func TestTLSFailureNotRetried(t *testing.T) {
	gl := gitlabtest.NewUnstarted()
	gl.StartTLS()
	t.Cleanup(gl.Close)
	gl.SetToken(testToken)
	failedLabelJob(gl, project, path, 1, passing)
	h := start(t, gl, func(c *config) { c.engine.Attempts = 10 })
	h.deliver(1, "tls")
	if lines := h.logs.lines("delivery"); !gaveUp(lines, "--ca-file") {
		t.Fatalf("delivery lines %v, want one gave_up naming --ca-file", lines)
	}
	if n := len(h.logs.lines("gitlab fault; trying again")); n != 0 {
		t.Errorf("%d tries again after an untrusted certificate, want 0", n)
	}
	if gl.Count() != 0 {
		t.Errorf("an untrusted server got %d requests", gl.Count())
	}
	if m := h.get("/metrics"); !strings.Contains(m, `echoes_serve_gitlab_api_errors_total{kind="tls"} 1`) {
		t.Errorf("/metrics does not count one tls failure:\n%s", m)
	}

	// With its CA the same service works.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gl.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := start(t, gl, func(c *config) { c.engine.CAFile = caFile })
	h2.post(payload(t, project, path, 1, "a", 0, passing), hook("tls-ca")...)
	h2.waitIdle()
	if gl.Retries(project, 1) != 1 {
		t.Errorf("with --ca-file: %d retries, want 1", gl.Retries(project, 1))
	}
}

// A 502 storm costs one task at most cfg.engine.Attempts GitLab calls: the
// client makes one attempt a call, the task's tries are the only retries.
func TestBadGatewayStormIsBounded(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	badGatewayWhile(gl, "") // for good
	h := start(t, gl, nil)
	h.deliver(1, "storm")
	attempts := h.svc.cfg.engine.Attempts
	if n := gl.Count(); n < 1 || n > attempts {
		t.Errorf("%d GitLab calls for one task in a 502 storm, want at most %d", n, attempts)
	}
	if m := h.get("/metrics"); !strings.Contains(m, fmt.Sprintf(`echoes_serve_gitlab_api_errors_total{kind="5xx"} %d`, gl.Count())) {
		t.Errorf("/metrics does not count each failed call (%d):\n%s", gl.Count(), m)
	}
	if lines := h.logs.lines("delivery"); len(lines) != 1 || lines[0]["action"] != "gave_up" {
		t.Errorf("delivery lines %v, want one gave_up", lines)
	}
}

// A Retry-After past the task's budget gives up at once, with a log line,
// instead of holding the worker.
func TestRetryAfterPastBudgetGivesUp(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		gitlabtest.Error(w, http.StatusTooManyRequests, "429 Too Many Requests")
		return true
	})
	h := start(t, gl, func(c *config) { c.engine.MaxWait = time.Hour })
	h.post(payload(t, project, path, 1, "a", 0, passing), hook("late")...)
	h.waitIdle() // a worker held for the hour would fail this wait
	if gl.Count() != 1 {
		t.Errorf("%d calls, want 1", gl.Count())
	}
	if n := len(h.logs.lines("gitlab fault; giving up")); n != 1 {
		t.Errorf("%d giving-up lines, want 1:\n%s", n, h.logs.String())
	}
	if lines := h.logs.lines("delivery"); !gaveUp(lines, "budget") {
		t.Errorf("delivery lines %v, want one gave_up naming the budget", lines)
	}
}

// A token (or the webhook secret) that GitLab echoes in an error body
// never reaches the log: the client masks the token, and every log line
// passes through the mask.
func TestEchoedSecretsNeverLogged(t *testing.T) {
	clearEnv(t)
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		gitlabtest.Error(w, http.StatusServiceUnavailable, "upstream said: token "+testToken+" secret "+testSecret+" "+strings.ToUpper(testToken))
		return true
	})
	t.Setenv("ECHOES_GITLAB_TOKEN", testToken+"\n")
	t.Setenv("ECHOES_WEBHOOK_SECRET", " "+testSecret+"\r\n")
	c := parse(t, "--listen", "127.0.0.1:0", "--gitlab-url", gl.APIURL(), "--reconcile-interval", "0", "--watch", path)
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, logs, nil) }()
	addr := listening(t, logs)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", strings.NewReader(string(payload(t, project, path, 1, "a", 0, passing))))
	for i, hv := 0, hook("echo"); i+1 < len(hv); i += 2 {
		req.Header.Set(hv[i], hv[i+1]) // the secret without the spaces and line break GitLab strips
	}
	resp, err := testClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	waitFor(t, "the task to give up", func() bool { return len(logs.lines("delivery")) > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "upstream said") {
		t.Fatalf("the log does not show GitLab's message at all:\n%s", out)
	}
	if strings.Contains(strings.ToLower(out), strings.ToLower(testToken)) || strings.Contains(out, testSecret) {
		t.Errorf("the log shows a secret:\n%s", out)
	}
}

// listening waits for Run's listening line and returns its address.
func listening(t *testing.T, logs *logBuffer) string {
	t.Helper()
	var addr string
	waitFor(t, "the listening line", func() bool {
		if l := logs.lines("listening"); len(l) > 0 {
			addr = fmt.Sprint(l[0]["addr"])
		}
		return addr != ""
	})
	return addr
}

// Control characters in a delivery's headers, C1 included (U+009B is a
// terminal's CSI), are escaped in the log, never written raw.
func TestControlCharactersInHeadersEscaped(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, nil)
	// (Go's client refuses C0 controls in a header; a C1 is two bytes of
	// UTF-8 to it, sent as they are.)
	uuid := "abc\u009b31mred\u202e"
	h.post(payload(t, project, path, 1, "a", 0, "backend"), "X-Gitlab-Token", "wrong", "Idempotency-Key", uuid)
	h.post(payload(t, project, path, 1, "a", 0, "backend"), "X-Gitlab-Token", testSecret, "X-Gitlab-Event", "Push Hook\u0085x", "Idempotency-Key", uuid)
	h.waitIdle()
	out := h.logs.String()
	if strings.ContainsRune(out, '\u009b') || strings.ContainsRune(out, '\u0085') || strings.ContainsRune(out, '\u202e') {
		t.Errorf("the log holds a raw control character:\n%q", out)
	}
	lines := h.logs.lines("delivery")
	if len(lines) != 2 {
		t.Fatalf("%d delivery lines, want 2:\n%s", len(lines), out)
	}
	for _, l := range lines {
		if l["delivery"] != `abc\x9b31mred\u202e` {
			t.Errorf("delivery %q, want the C1 and the bidi override escaped", l["delivery"])
		}
		if l["reason"] == nil || l["reason"] == "" {
			t.Errorf("a refused or ignored delivery's line without its reason: %v", l)
		}
	}
	if ev := lines[1]["event"]; ev != `Push Hook\x85x` {
		t.Errorf("event %q, want the C1 escaped", ev)
	}
}
