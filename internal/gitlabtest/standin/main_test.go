package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// start runs the command with args and returns its API root (read from
// the first line of stdout), its log, and a channel run's result arrives on.
func start(t *testing.T, args ...string) (api string, logs *gitlabtest.LockedBuffer, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs = &gitlabtest.LockedBuffer{}
	ch := make(chan error, 1)
	go func() { ch <- run(ctx, args, pw, logs); close(ch); _ = pw.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Error("run did not return once cancelled")
		}
	})
	line := make([]byte, 0, 64)
	buf := make([]byte, 1)
	for {
		if _, err := pr.Read(buf); err != nil {
			t.Fatalf("no API root on stdout: %v; log:\n%s", err, logs)
		}
		if buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return string(line), logs, ch
}

const secret = "glpat-standin-test-secret-0123"

func TestServes(t *testing.T) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	api, logs, _ := start(t, "-addr-file", addrFile, "-path", "group/demo",
		"-mr", "1=", "-mr", "2=echoes/intent/feature, echoes/effort/M", "-status", "3=503")
	addr, err := os.ReadFile(addrFile)
	if err != nil || "http://"+string(addr)+"/api/v4" != api || !strings.HasPrefix(api, "http://127.0.0.1:") {
		t.Fatalf("-addr-file holds %q (%v), stdout says %q", addr, err, api)
	}

	code, mr := gitlabtest.GetJSON(t, api+"/projects/42/merge_requests/2", "PRIVATE-TOKEN", secret)
	if code != 200 || mr["iid"] != 2.0 || mr["project_id"] != 42.0 || mr["reference"] != "!2" || mr["title"] == nil {
		t.Errorf("labelled MR: %d iid=%v project_id=%v reference=%v title=%v", code, mr["iid"], mr["project_id"], mr["reference"], mr["title"])
	}
	if got, _ := json.Marshal(mr["labels"]); string(got) != `["echoes/intent/feature","echoes/effort/M"]` {
		t.Errorf("labels = %s", got)
	}
	if code, mr := gitlabtest.GetJSON(t, api+"/projects/group%2Fdemo/merge_requests/1", "PRIVATE-TOKEN", secret); code != 200 || mr["labels"] == nil || len(mr["labels"].([]any)) != 0 {
		t.Errorf("unlabelled MR by path: %d labels=%v (want an empty list, not null)", code, mr["labels"])
	}
	for _, c := range []struct {
		path, header string
		want         int
	}{
		{"/projects/42/merge_requests/2", "JOB-TOKEN", 401},
		{"/projects/42/merge_requests/2", "", 401},
		{"/projects/42/merge_requests/3", "PRIVATE-TOKEN", 503},
		{"/projects/42/merge_requests/9", "PRIVATE-TOKEN", 404},
		{"/projects/42/issues/2", "PRIVATE-TOKEN", 404},
		{"/projects/43/merge_requests/2", "PRIVATE-TOKEN", 404},
	} {
		if code, _ := gitlabtest.GetJSON(t, api+c.path, c.header, secret); code != c.want {
			t.Errorf("GET %s with %q: %d, want %d", c.path, c.header, code, c.want)
		}
	}

	root := strings.TrimSuffix(api, "/api/v4")
	count := func() string {
		resp, err := http.Get(root + "/_count")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	if n := count(); n != "8" {
		t.Errorf("/_count = %s, want 8", n)
	}
	if resp, err := http.Get(root + "/_reset"); err == nil {
		resp.Body.Close()
	}
	if n := count(); n != "0" {
		t.Errorf("/_count after /_reset = %s, want 0", n)
	}

	log := logs.String()
	for _, want := range []string{
		"GET /api/v4/projects/42/merge_requests/2 (PRIVATE-TOKEN): 200",
		"GET /api/v4/projects/group%2Fdemo/merge_requests/1 (PRIVATE-TOKEN): 200",
		"GET /api/v4/projects/42/merge_requests/2 (JOB-TOKEN): 401",
		"GET /api/v4/projects/42/merge_requests/2 (no token): 401",
		"GET /api/v4/projects/42/merge_requests/3 (PRIVATE-TOKEN): 503",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, secret) {
		t.Errorf("log shows the token:\n%s", log)
	}
}

func TestTokens(t *testing.T) {
	api, logs, _ := start(t, "-token", secret, "-accept-job-token", "-noise", "3", "-mr", "7=backend")
	mr7 := api + "/projects/42/merge_requests/7"
	if code, mr := gitlabtest.GetJSON(t, mr7, "PRIVATE-TOKEN", secret); code != 200 || len(mr["labels"].([]any)) != 4 {
		t.Errorf("right token: %d labels=%v, want 200 and 3 noise labels before backend", code, mr["labels"])
	} else if got := mr["labels"].([]any); got[3] != "backend" {
		t.Errorf("labels = %v, want backend last", got)
	}
	if code, _ := gitlabtest.GetJSON(t, mr7, "PRIVATE-TOKEN", "glpat-wrong"); code != 401 {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code, _ := gitlabtest.GetJSON(t, mr7, "JOB-TOKEN", "any-job-token"); code != 200 {
		t.Errorf("job token with -accept-job-token: %d, want 200", code)
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "any-job-token") {
		t.Errorf("log shows a token:\n%s", logs)
	}
}

func TestNoiseFormat(t *testing.T) {
	api, _, _ := start(t, "-noise", "2", "-noise-format", "echoes/intnet/%x", "-mr", "7=")
	code, mr := gitlabtest.GetJSON(t, api+"/projects/42/merge_requests/7", "PRIVATE-TOKEN", secret)
	if got, _ := mr["labels"].([]any); code != 200 || len(got) != 2 || got[0] != "echoes/intnet/0" || got[1] != "echoes/intnet/1" {
		t.Errorf("%d labels=%v, want 200 and echoes/intnet/0, echoes/intnet/1", code, mr["labels"])
	}
	api, _, _ = start(t, "-noise-bytes", "100", "-noise-format", "echoes/intnet/%d", "-mr", "7=")
	code, mr = gitlabtest.GetJSON(t, api+"/projects/42/merge_requests/7", "PRIVATE-TOKEN", secret)
	if got, _ := mr["labels"].([]any); code != 200 || len(got) != 5 || got[4] != "echoes/intnet/4" {
		t.Errorf("-noise-bytes 100: %d labels=%v, want 200 and 5 labels of 18 bytes in JSON with their comma", code, mr["labels"])
	}
	api, _, _ = start(t, "-noise", "2", "-noise-format", "", "-mr", "7=b")
	code, mr = gitlabtest.GetJSON(t, api+"/projects/42/merge_requests/7", "PRIVATE-TOKEN", secret)
	if got, _ := mr["labels"].([]any); code != 200 || len(got) != 3 || got[0] != "" || got[1] != "" || got[2] != "b" {
		t.Errorf("%d labels=%v, want 200 and two empty labels before b", code, mr["labels"])
	}
}

func TestStopsAfterLifetime(t *testing.T) {
	_, logs, done := start(t, "-lifetime", "200ms", "-mr", "1=")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still serving 5s after a 200ms lifetime")
	}
	if !strings.Contains(logs.String(), "lifetime 200ms over") {
		t.Errorf("log does not say why it stopped:\n%s", logs)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "192.0.2.1:0", "gitlab.example.com:80", "127.0.0.1"} {
		if _, err := parse([]string{"-addr", addr}, io.Discard); err == nil {
			t.Errorf("-addr %q accepted", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.2:8080", "[::1]:0", "localhost:0"} {
		if _, err := parse([]string{"-addr", addr}, io.Discard); err != nil {
			t.Errorf("-addr %q refused: %v", addr, err)
		}
	}
}

func TestFlagsRejectNonsense(t *testing.T) {
	for _, s := range []string{"", "x=a", "0=a", "-1="} {
		if err := (mrFlags{}).Set(s); err == nil {
			t.Errorf("-mr %q accepted", s)
		}
	}
	for _, s := range []string{"1=200", "1=abc", "1", "0=503", "1=600"} {
		if err := (statusFlags{}).Set(s); err == nil {
			t.Errorf("-status %q accepted", s)
		}
	}
	for _, args := range [][]string{{"-lifetime", "0s"}, {"-noise", "-1"}, {"stray"}, {"-noise-format", "%s"}, {"-noise-format", "%d%d"}, {"-noise", "1", "-noise-bytes", "9"}, {"-noise-bytes", "-1"}} {
		if _, err := parse(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// -pipeline gives a merge request a pipeline; /_retries counts the job
// retries the stand-in accepted, per IID.
func TestPipelinesAndRetries(t *testing.T) {
	api, _, _ := start(t, "-token", "tok", "-mr", "7=echoes/intent/x", "-pipeline", "7=build:success,echoes-labels:failed")
	root := strings.TrimSuffix(api, "/api/v4")
	call := func(method, url string) (int, []byte) {
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("PRIVATE-TOKEN", "tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := call(http.MethodGet, api+"/projects/42/merge_requests/7/pipelines")
	var pipelines []struct{ ID int64 }
	if code != 200 || json.Unmarshal(body, &pipelines) != nil || len(pipelines) != 1 {
		t.Fatalf("pipelines: %d %s", code, body)
	}
	code, body = call(http.MethodGet, api+"/projects/42/pipelines/"+strconv.FormatInt(pipelines[0].ID, 10)+"/jobs")
	var jobs []struct {
		ID     int64
		Name   string
		Status string
	}
	if code != 200 || json.Unmarshal(body, &jobs) != nil || len(jobs) != 2 || jobs[0].Name != "echoes-labels" || jobs[0].Status != "failed" {
		t.Fatalf("jobs (newest first): %d %s", code, body)
	}
	if code, body := call(http.MethodPost, api+"/projects/42/jobs/"+strconv.FormatInt(jobs[0].ID, 10)+"/retry"); code != 201 {
		t.Fatalf("retry: %d %s", code, body)
	}
	if code, _ := call(http.MethodPost, api+"/projects/42/jobs/"+strconv.FormatInt(jobs[0].ID, 10)+"/retry"); code != 403 {
		t.Errorf("retrying the retried attempt: %d, want 403", code)
	}
	if code, body := call(http.MethodGet, root+"/_retries"); code != 200 || strings.TrimSpace(string(body)) != `{"7":1}` {
		t.Errorf("/_retries: %d %s", code, body)
	}
	for _, bad := range []string{"7", "7=", "x=a:b", "7=build", "7=:failed"} {
		if _, err := parse([]string{"-pipeline", bad}, io.Discard); err == nil {
			t.Errorf("-pipeline %q accepted", bad)
		}
	}
}
