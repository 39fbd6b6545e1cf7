package serve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

const (
	testSecret = "webhook-secret-0123456789"
	testToken  = reruntest.Token
	project    = reruntest.Project
	path       = reruntest.Path
	jobName    = reruntest.JobName
	passing    = reruntest.Passing
)

// logBuffer collects the service's JSON log lines.
type logBuffer struct{ reruntest.Log }

func (b *logBuffer) lines(msg string) []map[string]any { return b.Lines(msg) }

// mustWatch is --watch parsed.
func mustWatch(entries ...string) []rerun.WatchEntry {
	w, err := rerun.ParseWatch(entries)
	if err != nil {
		panic(err)
	}
	return w
}

// harness is a running service against a stand-in GitLab.
type harness struct {
	t   *testing.T
	gl  *gitlabtest.Server
	svc *service
	url string // the service's root
	// healthURL is the root of --health-listen, when the test set it
	// (any loopback address: the harness listens on a free port).
	healthURL string
	logs      *logBuffer
	stop      func() error
}

func testConfig(gl *gitlabtest.Server) config {
	cfg := defaultConfig()
	cfg.engine.GitLabURL = gl.APIURL()
	cfg.engine.Token = testToken
	cfg.secret = []byte(testSecret)
	cfg.engine.JobName = jobName
	cfg.engine.Rules = check.Options{}
	cfg.engine.DocsURL = "https://docs.echoeshq.com"
	// No real waiting in tests: faults are retried at once (unless GitLab
	// asks for a wait with Retry-After).
	cfg.engine.Backoff = time.Millisecond
	cfg.engine.MaxWait = 20 * time.Millisecond
	cfg.drain = 5 * time.Second
	cfg.engine.Settle = 20 * time.Millisecond
	cfg.engine.Jitter = nil // deterministic: every task settles exactly settle
	cfg.shutdownDelay = 0
	return cfg
}

// start runs the service as Run does, on a loopback listener.
func start(t *testing.T, gl *gitlabtest.Server, tune func(*config)) *harness {
	t.Helper()
	cfg := testConfig(gl)
	if tune != nil {
		tune(&cfg)
	}
	logs := &logBuffer{}
	svc, err := newService(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	healthURL := ""
	if cfg.healthListen != "" {
		if svc.healthLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		healthURL = "http://" + svc.healthLn.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.serve(ctx, ln) }()
	var once sync.Once
	var stopErr error
	h := &harness{t: t, gl: gl, svc: svc, url: "http://" + ln.Addr().String(), healthURL: healthURL, logs: logs}
	h.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() {
		_ = h.stop()
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	return h
}

// newStandIn is a stand-in GitLab that wants the test token.
func newStandIn(t *testing.T) *gitlabtest.Server { return reruntest.StandIn(t) }

// payload is the real merge request event (testdata) for this merge
// request and labels; statusCheck > 0 makes it a status check request.
func payload(t testing.TB, projectID int64, projectPath string, iid int64, sha string, statusCheck int64, labels ...string) []byte {
	t.Helper()
	file := "testdata/merge_request_event.json"
	if statusCheck > 0 {
		file = "testdata/status_check_request.json"
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ls := []map[string]any{}
	for i, l := range labels {
		ls = append(ls, map[string]any{"id": 200 + i, "title": l, "color": "#ffffff", "project_id": projectID, "type": "ProjectLabel"})
	}
	ev["labels"] = ls
	p := ev["project"].(map[string]any)
	p["id"], p["path_with_namespace"] = projectID, projectPath
	attrs := ev["object_attributes"].(map[string]any)
	attrs["iid"], attrs["labels"], attrs["target_project_id"] = iid, ls, projectID
	attrs["updated_at"] = time.Now().UTC().Format("2006-01-02 15:04:05.000000 UTC")
	attrs["last_commit"].(map[string]any)["id"] = sha
	if statusCheck > 0 {
		ev["external_approval_rule"].(map[string]any)["id"] = statusCheck
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// post sends a delivery and returns the status and how long the answer took.
func (h *harness) post(body []byte, headers ...string) (int, time.Duration) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+"/webhook", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := testClient.Do(req)
	if err != nil {
		h.t.Errorf("POST /webhook: %v", err)
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

// testClient bounds every request, so that a service that hangs fails
// the test instead of stalling it.
var testClient = &http.Client{Timeout: 20 * time.Second}

// hook are the headers of a project webhook delivery; id is its
// Idempotency-Key.
func hook(id string) []string {
	return []string{"X-Gitlab-Event", "Merge Request Hook", "X-Gitlab-Token", testSecret, "Idempotency-Key", id}
}

func sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// waitIdle waits until the service has nothing queued or in flight.
func (h *harness) waitIdle() {
	h.t.Helper()
	reruntest.WaitFor(h.t, "the service to be idle", h.svc.engine.Idle)
}

// deliver posts the merge request hook of the test project's merge
// request iid (head "a", labels passing), Idempotency-Key id, and waits
// until the service is idle.
func (h *harness) deliver(iid int64, id string) {
	h.t.Helper()
	h.post(payload(h.t, project, path, iid, "a", 0, passing), hook(id)...)
	h.waitIdle()
}

// gaveUp reports whether the delivery lines are one gave_up whose detail
// names naming.
func gaveUp(lines []map[string]any, naming string) bool {
	return len(lines) == 1 && lines[0]["action"] == "gave_up" && strings.Contains(fmt.Sprint(lines[0]["detail"]), naming)
}

// waitFor polls cond until it holds (reruntest.WaitFor).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	reruntest.WaitFor(t, what, cond)
}

// badGatewayWhile makes the stand-in answer 502 to every request for path
// ("": for any path) while the flag it returns, set at first, stays set.
func badGatewayWhile(gl *gitlabtest.Server, path string) *atomic.Bool {
	var down atomic.Bool
	down.Store(true)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if down.Load() && (path == "" || r.URL.Path == path) {
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	return &down
}

// failedLabelJob gives merge request iid a head pipeline whose label job
// failed, then the labels (reruntest.FailedLabelJob).
func failedLabelJob(gl *gitlabtest.Server, projectID int64, projectPath string, iid int64, labels ...string) int64 {
	return reruntest.FailedLabelJob(gl, projectID, projectPath, iid, labels...)
}

// newestLabelJob is the status of the newest attempt of the label job.
func newestLabelJob(gl *gitlabtest.Server, pipeline int64) (status string, attempts int) {
	return reruntest.NewestLabelJob(gl, pipeline)
}
