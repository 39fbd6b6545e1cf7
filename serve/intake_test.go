package serve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// event reads a testdata payload and applies edit to it.
func event(t testing.TB, file string, edit func(ev map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// jobEventBody is a job event for the job name in status on ref.
func jobEventBody(t testing.TB, name, status, ref string) []byte {
	return event(t, "job_event.json", func(ev map[string]any) {
		ev["build_name"], ev["build_status"], ev["ref"], ev["project_id"] = name, status, ref, project
		ev["project"] = map[string]any{"id": project, "path_with_namespace": path}
	})
}

// pipelineEventBody is a pipeline event of merge request iid (0: a
// branch pipeline) whose builds hold job name in status.
func pipelineEventBody(t testing.TB, iid int64, name, status string) []byte {
	return event(t, "pipeline_event.json", func(ev map[string]any) {
		if iid == 0 {
			ev["merge_request"] = nil
		} else {
			mr := ev["merge_request"].(map[string]any)
			mr["iid"], mr["target_project_id"], mr["source_project_id"] = iid, project, project
		}
		p := ev["project"].(map[string]any)
		p["id"], p["path_with_namespace"] = project, path
		builds := ev["builds"].([]any)
		b := builds[1].(map[string]any)
		b["name"], b["status"] = name, status
	})
}

// A job event or a pipeline event for the label job, finished, queues the
// merge request its pipeline is for; other jobs and pipelines are
// acknowledged (200) and ignored. The log line's delivery is the
// Idempotency-Key, the request's X-Gitlab-Webhook-UUID beside it.
func TestJobAndPipelineEventsQueueTheMergeRequest(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, nil)
	hdr := func(kind, id string) []string {
		return []string{"X-Gitlab-Event", kind, "X-Gitlab-Token", testSecret, "Idempotency-Key", id,
			"X-Gitlab-Webhook-UUID", "uuid-" + id, "X-Gitlab-Event-UUID", "shared-by-every-hook"}
	}
	for _, c := range []struct {
		name, kind, id string
		body           []byte
		want           int
	}{
		{"job failed, head", eventJob, "job-7", jobEventBody(t, jobName, "failed", "refs/merge-requests/7/head"), 202},
		{"job succeeded, merged results", eventJob, "job-8", jobEventBody(t, jobName, "success", "refs/merge-requests/8/merge"), 202},
		{"pipeline with the label job failed", eventPipeline, "pipe-9", pipelineEventBody(t, 9, jobName, "failed"), 202},
		{"another job", eventJob, "other-job", jobEventBody(t, "build", "failed", "refs/merge-requests/7/head"), 200},
		{"the label job running", eventJob, "running", jobEventBody(t, jobName, "running", "refs/merge-requests/7/head"), 200},
		{"a branch pipeline's job", eventJob, "branch", jobEventBody(t, jobName, "failed", "main"), 200},
		{"a ref that only looks like one", eventJob, "lookalike", jobEventBody(t, jobName, "failed", "refs/merge-requests/7/head/x"), 200},
		{"a pipeline without the label job", eventPipeline, "no-job", pipelineEventBody(t, 9, "lint", "failed"), 200},
		{"a branch pipeline", eventPipeline, "branch-pipe", pipelineEventBody(t, 0, jobName, "failed"), 200},
		{"a job event that does not decode", eventJob, "garbage", []byte(`{"object_kind":`), 200},
	} {
		if code, _ := h.post(c.body, hdr(c.kind, c.id)...); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	h.waitIdle()
	worked := map[string]float64{}
	for _, l := range h.logs.lines("delivery") {
		id := fmt.Sprint(l["delivery"])
		if l["webhook_uuid"] != "uuid-"+id {
			t.Errorf("delivery %s: webhook_uuid %v, want uuid-%s", id, l["webhook_uuid"], id)
		}
		if mr, ok := l["mr"].(float64); ok && l["outcome"] == nil {
			worked[id] = mr
		} else if l["outcome"] != outcomeIgnored && l["outcome"] != outcomeBadRequest || l["status"] != 200.0 || l["reason"] == "" {
			t.Errorf("a delivery of no use: %v, want 200, ignored or bad_request, and its reason", l)
		}
	}
	want := map[string]float64{"job-7": 7, "job-8": 8, "pipe-9": 9}
	if fmt.Sprint(worked) != fmt.Sprint(want) {
		t.Errorf("merge requests worked on, by delivery: %v, want %v", worked, want)
	}
	if strings.Contains(h.logs.String(), "shared-by-every-hook") {
		t.Error("X-Gitlab-Event-UUID taken for a delivery id")
	}
}

// GitLab sends bodies up to 25 MB; one from an authenticated sender is
// read and queued.
func TestLargeAuthenticatedBodyAccepted(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, nil)
	mr := payload(t, project, path, 5, "a", 0, "backend")
	body := make([]byte, 0, 25<<20)
	body = append(body, mr[:len(mr)-1]...)
	body = append(body, `,"padding":"`...)
	body = append(body, bytes.Repeat([]byte("x"), 25<<20-len(body)-2)...)
	body = append(body, `"}`...)
	if len(body) != 25<<20 || !json.Valid(body) {
		t.Fatalf("body of %d bytes, valid %v", len(body), json.Valid(body))
	}
	if code, _ := h.post(body, hook("big")...); code != http.StatusAccepted {
		t.Fatalf("a 25 MiB delivery with the secret: %d, want 202", code)
	}
	h.waitIdle()
	if h.svc.authBody.inUse() != 0 {
		t.Errorf("%d bytes still reserved after the delivery", h.svc.authBody.inUse())
	}
}

// chunked hides a body's length, so that the client sends it chunked.
type chunked struct{ io.Reader }

// gate blocks a body's Read until open is closed, then ends it.
type gate struct{ open chan struct{} }

func (g gate) Read([]byte) (int, error) { <-g.open; return 0, io.EOF }

// An unauthenticated flood (128 requests with a wrong signature at
// once, some with a Content-Length, some chunked) is refused, and the
// bytes it makes the service hold stay within the fixed pool: the bytes
// reserved for bodies being read, which bound the buffers readBody makes
// (each body's buffer is at most its reservation), never pass the pool's
// 16 MiB, measured by the pool itself rather than by the heap (which the
// test's own clients, the race detector and the collector's timing move).
// A delivery with the secret is still taken meanwhile.
func TestUnauthenticatedFloodIsBounded(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.bodyStall = time.Minute }) // the stalls last as long as the test needs
	big := bytes.Repeat([]byte("x"), 8<<20)
	small := big[:512<<10]
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}}
	var mu sync.Mutex
	codes := map[string]int{}
	var answered atomic.Int32
	var wg sync.WaitGroup
	send := func(body io.Reader, headers ...string) {
		defer wg.Done()
		req, _ := http.NewRequest(http.MethodPost, h.url+"/webhook", body)
		for j := 0; j+1 < len(headers); j += 2 {
			req.Header.Set(headers[j], headers[j+1])
		}
		resp, err := client.Do(req)
		key := "error"
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			key = strconv.Itoa(resp.StatusCode)
		}
		mu.Lock()
		codes[key]++
		mu.Unlock()
		answered.Add(1)
	}
	// 32 chunked bodies that stall after 600 KiB: four of them fill this
	// address's share of the pool (a quarter; 1 MiB each, the cap, since
	// their length is not told), the rest are refused at once.
	open := make(chan struct{})
	for range 32 {
		wg.Add(1)
		go send(chunked{io.MultiReader(bytes.NewReader(big[:600<<10]), gate{open}, bytes.NewReader(big[600<<10:]))}, "X-Gitlab-Signature", "00ff")
	}
	pool, share := h.svc.cfg.signedPool, h.svc.signedBody.share
	held := int32(share / h.svc.cfg.maxSignedBody) // the stalled bodies the share holds
	waitFor(t, "the address's share to fill", func() bool { return h.svc.signedBody.inUse() == share })
	waitFor(t, "the stalled bodies past the share refused", func() bool { return answered.Load() >= 32-held })
	// 32 bodies that say they are 8 MiB, refused unread; 64 small ones,
	// refused while the pool is full.
	for range 32 {
		wg.Add(1)
		go send(bytes.NewReader(big), "X-Gitlab-Signature", "00ff")
	}
	for range 64 {
		wg.Add(1)
		go send(chunked{bytes.NewReader(small)}, "webhook-id", "x", "webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10),
			"webhook-signature", "v1,AAAA")
	}
	// GitLab's own delivery gets through the flood.
	if code, _ := h.post(payload(t, project, path, 3, "a", 0, "backend"), hook("real")...); code != http.StatusAccepted {
		t.Errorf("a delivery with the secret during the flood: %d, want 202", code)
	}
	// Every request but the stalled ones in the pool is answered while
	// they still hold it; then they are let go.
	waitFor(t, "the flood answered", func() bool { return answered.Load() >= 128-held })
	close(open)
	wg.Wait()

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("flood: answers %v; pool peak %0.1f of %0.1f MiB; heap %0.1f MiB before, %0.1f after (not asserted: the test's own clients move it)",
		codes, mib(uint64(h.svc.signedBody.highWater())), mib(uint64(pool)), mib(base.HeapAlloc), mib(after.HeapAlloc))
	for code, n := range codes {
		if strings.HasPrefix(code, "2") {
			t.Errorf("%d unauthenticated requests answered %s", n, code)
		}
	}
	if codes["503"] == 0 {
		t.Errorf("answers %v: want some refused at once (503) when the pool is full", codes)
	}
	if peak := h.svc.signedBody.highWater(); peak != share {
		t.Errorf("the pool held at most %d bytes, want exactly one address's share %d of %d (filled, never past)", peak, share, pool)
	}
	if peak := h.svc.authBody.highWater(); peak > 64<<10 {
		t.Errorf("the authenticated pool held %d bytes: the flood reached it", peak)
	}
	h.waitIdle()
	if gl.Count() != 0 && len(h.logs.lines("delivery")) == 0 {
		t.Error("nothing logged")
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// A webhook authenticated only by a Standard Webhooks signature (no
// X-Gitlab-Token) is capped by --max-signed-body like any unverified
// body: a 2 MiB pipeline or merge request event gets 413 (it cannot be
// verified before it is read, so it is not acknowledged). The same
// delivery with the secret token too gets GitLab's 25 MiB budget.
func TestStandardWebhookOnlyBigBodyIs413(t *testing.T) {
	gl := newStandIn(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	h := start(t, gl, func(c *config) { c.signingKey = key })
	body := payload(t, project, path, 4, "a", 0, "backend")
	body = bytes.Replace(body, []byte(`"object_kind"`), []byte(`"pad":"`+strings.Repeat("x", 2<<20)+`","object_kind"`), 1)
	now := time.Now().Unix()
	signed := []string{"X-Gitlab-Event", eventMergeRequest, "webhook-id", "m", "webhook-timestamp", fmt.Sprint(now), "webhook-signature", standardSign(key, "m", now, body)}
	if code, _ := h.post(body, signed...); code != http.StatusRequestEntityTooLarge {
		t.Errorf("signed only, 2 MiB: %d, want 413", code)
	}
	if code, _ := h.post(body, append(signed, "X-Gitlab-Token", testSecret)...); code != http.StatusAccepted {
		t.Errorf("signed and with the secret token, 2 MiB: %d, want 202", code)
	}
}

// A request whose body is past --max-signed-body is refused before it is
// read; the pool's bytes come back after every kind of answer.
func TestSignedBodyCap(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.maxSignedBody = 4 << 10 })
	check := payload(t, project, path, 1, "a", 9, passing)
	if code, _ := h.post(check, "X-Gitlab-Signature", sign(check, testSecret)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a signed body past --max-signed-body: %d, want 413", code)
	}
	if code, _ := h.post(check, "X-Gitlab-Token", testSecret); code != http.StatusAccepted {
		t.Errorf("the same body with the secret: %d, want 202", code)
	}
	h.waitIdle()
	if h.svc.signedBody.inUse() != 0 || h.svc.authBody.inUse() != 0 {
		t.Errorf("bytes still reserved: %d, %d", h.svc.signedBody.inUse(), h.svc.authBody.inUse())
	}
}

// standardSign signs a Standard Webhooks delivery with key.
func standardSign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Standard Webhooks: a delivery signed with the signing token
// (whsec_ + base64: the key is the decoded bytes) is taken; a wrong
// signature, a stale or future timestamp, a missing id are 401.
func TestStandardWebhooks(t *testing.T) {
	gl := newStandIn(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	token := "whsec_" + base64.StdEncoding.EncodeToString(key)
	h := start(t, gl, func(c *config) {
		k, err := signingKey(token)
		if err != nil {
			t.Fatal(err)
		}
		c.signingKey = k
	})
	body := payload(t, project, path, 4, "a", 0, "backend")
	now := time.Now().Unix()
	headers := func(id string, ts int64, sig string) []string {
		return []string{"X-Gitlab-Event", eventMergeRequest, "webhook-id", id, "webhook-timestamp", strconv.FormatInt(ts, 10), "webhook-signature", sig}
	}
	for _, c := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"valid", headers("msg-1", now, standardSign(key, "msg-1", now, body)), 202},
		{"one valid among several", headers("msg-2", now, "v1,AAAA "+standardSign(key, "msg-2", now, body)+" v2,zzz"), 202},
		{"keyed with the token's text", headers("msg-3", now, standardSign([]byte(token), "msg-3", now, body)), 401},
		{"signature of another id", headers("msg-4", now, standardSign(key, "other", now, body)), 401},
		{"stale", headers("msg-5", now-6*60, standardSign(key, "msg-5", now-6*60, body)), 401},
		{"from the future", headers("msg-6", now+6*60, standardSign(key, "msg-6", now+6*60, body)), 401},
		{"no id", headers("", now, standardSign(key, "", now, body)), 401},
		{"not v1", headers("msg-7", now, strings.Replace(standardSign(key, "msg-7", now, body), "v1,", "v2,", 1)), 401},
	} {
		if code, _ := h.post(body, c.headers...); code != c.want {
			t.Errorf("%s: %d, want %d", c.name, code, c.want)
		}
	}
	h.waitIdle()
	var ids []string
	for _, l := range h.logs.lines("delivery") {
		if l["outcome"] == nil {
			ids = append(ids, fmt.Sprint(l["delivery"]))
		}
	}
	if strings.Join(ids, ",") != "msg-1,msg-2" {
		t.Errorf("deliveries worked on: %v, want msg-1 and msg-2 (webhook-id is the delivery id)", ids)
	}
}

// With --watch set, a delivery for a project outside it is acknowledged
// (200) and ignored, whatever its secret says.
func TestWatchIsTheAllowList(t *testing.T) {
	gl := newStandIn(t)
	allow, err := rerun.ParseWatch([]string{"acme", "project:77", "group:9", "solo/app"})
	if err != nil {
		t.Fatal(err)
	}
	gl.AddGroup(9, "team")
	h := start(t, gl, func(c *config) { c.engine.Watch = allow })
	if err := h.svc.engine.ResolveGroups(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   int64
		path string
		want int
	}{
		{42, "group/project", 200},
		{5, "acme/backend/api", 202},
		{6, "ACME/web", 202},
		{7, "acmeish/web", 200},
		{77, "anywhere/else", 202},
		{8, "team/app", 202},
		{10, "solo/app", 202},
		{11, "solo/app2", 200},
		{12, "solo/app/sub", 202}, // a bare path may name a group: what is under it is in
	} {
		if code, _ := h.post(payload(t, c.id, c.path, 1, "a", 0, "backend"), hook(c.path)...); code != c.want {
			t.Errorf("project %d %s: %d, want %d", c.id, c.path, code, c.want)
		}
	}
	h.waitIdle()
	for _, l := range h.logs.lines("delivery") {
		if l["outcome"] == outcomeIgnored && !strings.Contains(fmt.Sprint(l["reason"]), "outside --watch") {
			t.Errorf("ignored without saying why: %v", l)
		}
	}
}

// --watch group:ID: the start-up check asks GitLab the group's path, the
// service is ready only then, and a delivery for a project of that group
// is acted on (no sweep, as in deploy/).
func TestWatchGroupIDResolvedAtStartActsOnDeliveries(t *testing.T) {
	gl := newStandIn(t)
	gl.AddGroup(77, "team", project)
	failedLabelJob(gl, project, "team/app", 1, passing)
	allow, err := rerun.ParseWatch([]string{"group:77"})
	if err != nil {
		t.Fatal(err)
	}
	groupDown := badGatewayWhile(gl, "/api/v4/groups/77")
	h := start(t, gl, func(c *config) { c.engine.Watch = allow })
	if err := h.svc.startupCheck(context.Background()); err != nil {
		t.Fatalf("startupCheck with GET /groups/77 failing: %v, want nil (tried again later)", err)
	}
	if why := h.svc.notReady(); why == "" {
		t.Error("ready before the path of group:77 is known")
	}
	groupDown.Store(false)
	if err := h.svc.checkGitLab(context.Background()); err != nil {
		t.Fatal(err)
	}
	if why := h.svc.notReady(); why != "" || !h.svc.engine.Allows(0, "team/app") {
		t.Errorf("after the check: not ready (%q), or team/app outside group:77 (team), want ready and inside", why)
	}
	if len(h.logs.lines("watch group resolved")) != 1 {
		t.Errorf("no log line resolving group:77:\n%s", h.logs.String())
	}
	code, _ := h.post(payload(t, project, "team/app", 1, "a", 0, passing), hook("g")...)
	h.waitIdle()
	if n := gl.Retries(project, 1); code != http.StatusAccepted || n != 1 {
		t.Errorf("--watch group:77, delivery for team/app: answered %d, %d retries, want 202 and 1", code, n)
	}
}

// No --watch, or a malformed entry in it, is refused at start (exit 2,
// naming the entry, with the forms; the entries' grammar is rerun's
// TestWatchRefused): serve never acts on every project the token reaches.
func TestWatchEntryRefusedAtStart(t *testing.T) {
	for _, c := range []struct{ watch, want string }{
		{"", "required"},
		{"acme,42", `"42"`},
		{"https://gitlab.com/group/project", "give the path group/project"},
		{"my group,,x", `"my group"`},
		{"group:abc:def", `"group:abc:def"`},
	} {
		clearEnv(t)
		args := []string{"--token", "t", "--webhook-secret", testSecret}
		if c.watch != "" {
			args = append(args, "--watch", c.watch)
		}
		err := parse(t, args...).Run(context.Background(), &logBuffer{}, nil)
		var e *exit.Error
		if !errors.As(err, &e) || e.ExitCode() != 2 || e.Setting != "--watch" || !strings.Contains(e.Cause, c.want) || !strings.Contains(e.Fix, "project:42") {
			t.Errorf("Run with --watch %q: %v, want exit 2 on --watch saying %s", c.watch, err, c.want)
		}
	}
}

// A full queue: the delivery is answered 202 saying the sweep will catch
// up, logged at WARN with what was dropped, and counted.
func TestFullQueueWarns(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) {
		c.engine.QueueSize = 1
		c.engine.Settle = time.Hour // the first merge request stays queued
		c.engine.Watch, c.engine.Interval = mustWatch(path), time.Hour
	})
	if code, _ := h.post(payload(t, project, path, 1, "a", 0, "backend"), hook("first")...); code != 202 {
		t.Fatalf("first: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, h.url+"/webhook", bytes.NewReader(jobEventBody(t, jobName, "failed", "refs/merge-requests/2/head")))
	for _, kv := range [][2]string{{"X-Gitlab-Event", eventJob}, {"X-Gitlab-Token", testSecret}, {"Idempotency-Key", "second"}} {
		req.Header.Set(kv[0], kv[1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 202 || !strings.Contains(string(msg), "sweep will catch up") {
		t.Errorf("a delivery past the full queue: %d %q, want 202 saying the sweep will catch up", resp.StatusCode, msg)
	}
	var warned bool
	for _, l := range h.logs.lines("delivery") {
		if l["outcome"] == outcomeDropped {
			warned = l["level"] == "WARN" && l["project"] == path && l["mr"] == 2.0 && l["event"] == eventJob && l["delivery"] == "second"
			if !warned {
				t.Errorf("dropped: %v, want WARN with project, mr, event and delivery", l)
			}
		}
	}
	if !warned {
		t.Errorf("no line for the dropped delivery:\n%s", h.logs.String())
	}
	if m := h.get("/metrics"); !strings.Contains(m, `echoes_serve_deliveries_total{outcome="dropped"} 1`) {
		t.Error("the dropped delivery is not counted")
	}
}

// A token GitLab refuses (401) stops serve at start with exit 2 and the
// fix, before it takes any delivery.
func TestTokenRefusedAtStart(t *testing.T) {
	clearEnv(t)
	gl := gitlabtest.New(t)
	gl.SetToken("glpat-the-right-one")
	gl.RequireToken(true)
	c := parse(t, "--listen", "127.0.0.1:0", "--gitlab-url", gl.APIURL(), "--token", testToken, "--webhook-secret", testSecret, "--watch", path)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.Run(ctx, &logBuffer{}, nil)
	var e *exit.Error
	if !errors.As(err, &e) || e.ExitCode() != 2 || e.Setting != "--token" || !strings.Contains(e.Cause, "401") || !strings.Contains(e.Fix, "ECHOES_GITLAB_TOKEN") {
		t.Fatalf("Run with a refused token: %#v, want exit 2 on --token with the fix", err)
	}
	if strings.Contains(e.Cause+e.Fix, testToken) {
		t.Error("the error shows the token")
	}
}

// An untrusted certificate at start stops serve (exit 2 on --ca-file),
// as it stops reconcile: one start-up identity check for both.
func TestUntrustedCertificateRefusedAtStart(t *testing.T) {
	clearEnv(t)
	gl := gitlabtest.NewUnstarted()
	gl.StartTLS()
	t.Cleanup(gl.Close)
	c := parse(t, "--listen", "127.0.0.1:0", "--gitlab-url", gl.APIURL(), "--token", testToken, "--webhook-secret", testSecret, "--watch", path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.Run(ctx, &logBuffer{}, nil)
	var e *exit.Error
	if !errors.As(err, &e) || e.ExitCode() != 2 || e.Setting != "--ca-file" || !strings.Contains(e.Fix, "--ca-file") {
		t.Fatalf("Run against an untrusted certificate: %#v, want exit 2 on --ca-file with the fix", err)
	}
	if gl.Count() != 0 {
		t.Errorf("an untrusted server got %d requests", gl.Count())
	}
}

// Readiness: not ready while GitLab does not answer the token check (it
// is tried again in the background), ready once it does, not ready again
// after SIGTERM while deliveries are still answered for the shutdown
// delay. Liveness stays 200 throughout.
func TestReadinessFlips(t *testing.T) {
	gl := newStandIn(t)
	down := badGatewayWhile(gl, "/api/v4/user")
	cfg := testConfig(gl)
	cfg.shutdownDelay = 3 * time.Second // room, on a busy machine, for the poll and the delivery below
	logs := &logBuffer{}
	svc, err := newService(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.startupCheck(context.Background()); err != nil {
		t.Fatalf("startupCheck with GitLab down: %v, want nil (tried again later)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	url := "http://" + ln.Addr().String()
	code := func(p string) int {
		resp, err := testClient.Get(url + p)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if r, l, hz := code("/readyz"), code("/livez"), code("/healthz"); r != 503 || l != 200 || hz != 200 {
		t.Errorf("GitLab down: readyz %d livez %d healthz %d, want 503 200 200", r, l, hz)
	}
	down.Store(false)
	waitFor(t, "readiness once GitLab answers", func() bool { return code("/readyz") == 200 })

	cancel()
	waitFor(t, "readiness off after SIGTERM", func() bool { return code("/readyz") == 503 })
	if l := code("/livez"); l != 200 {
		t.Errorf("livez while stopping: %d, want 200", l)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/webhook", bytes.NewReader(payload(t, project, path, 1, "a", 0, "backend")))
	for i, h := 0, hook("during-the-delay"); i < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Errorf("a delivery during the shutdown delay: %v %v, want 202", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	done <- nil
}

// Connections that send nothing, as many as --listen's cap, do not starve
// the probes on --health-listen, which has no cap; the main listener
// still serves them too, and the health listener serves no webhook.
func TestIdleConnectionsDoNotStarveHealthListener(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.maxConns = 8; c.healthListen = "127.0.0.1:0" })
	h.svc.startedOK.Store(true)
	for range 8 {
		c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	cl := testClient // a starved listener would never answer
	for _, p := range []string{pathReadyz, pathLivez, pathHealthz, pathMetrics} {
		resp, err := cl.Get(h.healthURL + p)
		if err != nil {
			t.Errorf("GET %s on --health-listen while 8 idle connections fill --listen: %v", p, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on --health-listen: %d, want 200", p, resp.StatusCode)
		}
	}
	resp, err := cl.Post(h.healthURL+pathWebhook, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST /webhook on --health-listen: %d, want 404", resp.StatusCode)
		}
	}
}
