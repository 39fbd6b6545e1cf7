package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// parseReconcile reads a ReconcileCommand from args as the binary will.
func parseReconcile(t *testing.T, args ...string) *ReconcileCommand {
	t.Helper()
	var cli struct {
		Reconcile ReconcileCommand `cmd:""`
	}
	parser, err := kong.New(&cli, kong.Name("echoes-labels"), kong.Exit(func(int) { t.Fatal("kong exited") }),
		kong.Vars{"docs_url": settings.DefaultDocsURL, "version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"reconcile"}, args...)); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return &cli.Reconcile
}

// reconcile runs `echoes-labels reconcile` against gl with args (the
// stand-in's URL and the test token are given), with serve's test
// tunables and tune's; it returns Run's error and the log.
func reconcile(t *testing.T, gl *gitlabtest.Server, tune func(*config), args ...string) (*exit.Error, *logBuffer) {
	t.Helper()
	clearEnv(t)
	c := parseReconcile(t, append([]string{"--gitlab-url", gl.APIURL(), "--token", testToken}, args...)...)
	logs := &logBuffer{}
	cfg, window, err := c.config(nil)
	if err == nil {
		test := testConfig(gl)
		cfg.backoff, cfg.maxWait, cfg.drain = test.backoff, test.maxWait, test.drain
		if tune != nil {
			tune(&cfg)
		}
		err = runReconcile(context.Background(), cfg, window, logs, nil)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("reconcile log:\n%s", logs.String())
		}
	})
	if err == nil {
		return nil, logs
	}
	var e *exit.Error
	if !errors.As(err, &e) {
		t.Fatalf("reconcile: %v, want an *exit.Error", err)
	}
	return e, logs
}

// summary is the one "reconcile done" line.
func summary(t *testing.T, logs *logBuffer) map[string]any {
	t.Helper()
	l := logs.lines("reconcile done")
	if len(l) != 1 {
		t.Fatalf("%d summary lines, want 1", len(l))
	}
	return l[0]
}

// A merge request whose labels pass and whose label job failed is retried
// once; one whose labels fail is looked at and left; the summary says so;
// exit 0. A second run finds the new attempt pending and retries nothing.
func TestReconcileCommandRetriesOnce(t *testing.T) {
	gl := newStandIn(t)
	p1 := failedLabelJob(gl, project, path, 1, passing)
	failedLabelJob(gl, project, path, 2, "backend")
	e, logs := reconcile(t, gl, nil, "--watch", path)
	if e != nil {
		t.Fatalf("reconcile: code %d %q, want exit 0", e.Code, e.Cause)
	}
	if n, m := gl.Retries(project, 1), gl.Retries(project, 2); n != 1 || m != 0 {
		t.Errorf("retries !1 %d !2 %d, want 1 and 0", n, m)
	}
	if status, attempts := newestLabelJob(gl, p1); status != "pending" || attempts != 2 {
		t.Errorf("!1's label job: %s after %d attempts, want pending after 2", status, attempts)
	}
	s := summary(t, logs)
	if s["retried"] != 1.0 || s["open_mrs"] != 2.0 || s["worked"] != 2.0 || s["complete"] != true || s["updated_within"] != "1h0m0s" {
		t.Errorf("summary %v: want 2 open merge requests worked, 1 retried, complete", s)
	}
	var actions []string
	for _, l := range logs.lines("delivery") {
		actions = append(actions, fmt.Sprintf("!%v %v", l["mr"], l["action"]))
		if l["delivery"] != reconcileDelivery {
			t.Errorf("delivery line %v: want delivery %q", l, reconcileDelivery)
		}
	}
	if got := strings.Join(actions, ", "); !strings.Contains(got, "!1 retried") || !strings.Contains(got, "!2 none") {
		t.Errorf("delivery lines %q: want !1 retried and !2 none", got)
	}
	if strings.Contains(logs.String(), testToken) {
		t.Error("the log shows the token")
	}

	if e, _ := reconcile(t, gl, nil, "--watch", path); e != nil || gl.Retries(project, 1) != 1 {
		t.Errorf("second run: %v, %d retries of !1, want exit 0 and still 1", e, gl.Retries(project, 1))
	}
}

// GitLab answering 502 to the list, every try: exit 3 with a fix, after a
// bounded number of tries.
func TestReconcileCommandListFails(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	var lists atomic.Int32
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/merge_requests") {
			lists.Add(1)
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	e, logs := reconcile(t, gl, nil, "--watch", path)
	if e == nil || e.Code != exit.API || e.Fix == "" || !strings.Contains(e.Cause, "502") {
		t.Fatalf("reconcile: %+v, want exit 3 naming the 502, with a fix", e)
	}
	// The group list (404 would make it a project; 502 is not learnt) is
	// tried cfg.attempts times, and nothing more.
	if n := lists.Load(); n != int32(defaultConfig().attempts) {
		t.Errorf("%d list calls, want %d", n, defaultConfig().attempts)
	}
	if s := summary(t, logs); s["complete"] != false {
		t.Errorf("summary %v: want complete false", s)
	}
	if gl.Retries(project, 1) != 0 {
		t.Error("a job was retried though the sweep failed at once")
	}
}

// No --watch: exit 2 naming it, with the fix, before any GitLab call.
func TestReconcileCommandNeedsWatch(t *testing.T) {
	gl := newStandIn(t)
	e, _ := reconcile(t, gl, nil)
	if e == nil || e.Code != exit.Config || e.Setting != settingWatch || !strings.Contains(e.Fix, "ECHOES_WATCH") {
		t.Fatalf("reconcile without --watch: %+v, want exit 2 for --watch with a fix", e)
	}
	if gl.Count() != 0 {
		t.Errorf("%d GitLab calls, want none", gl.Count())
	}
	e, _ = reconcile(t, gl, nil, "--watch", path, "--updated-within", "90")
	if e == nil || e.Code != exit.Config || e.Setting != settingUpdatedWithin || !strings.Contains(e.Fix, "add a unit") {
		t.Errorf("--updated-within 90: %+v, want exit 2 with the fix that adds a unit", e)
	}
}

// A token GitLab refuses stops the command at start: exit 2, the fix, and
// no sweep.
func TestReconcileCommandTokenRefused(t *testing.T) {
	gl := newStandIn(t)
	gl.SetToken("glpat-another-token")
	failedLabelJob(gl, project, path, 1, passing)
	e, logs := reconcile(t, gl, nil, "--watch", path)
	if e == nil || e.Code != exit.Config || e.Setting != settings.SettingToken || !strings.Contains(e.Cause, "401") ||
		!strings.Contains(e.Fix, "ECHOES_GITLAB_TOKEN") {
		t.Fatalf("reconcile with a refused token: %+v, want exit 2 for --token, naming 401, with a fix", e)
	}
	if n := gl.Count(); n != 1 {
		t.Errorf("%d GitLab calls, want 1 (GET /user)", n)
	}
	if len(logs.lines("reconcile done")) != 0 {
		t.Error("a summary line without a sweep")
	}
}

// --updated-within bounds the window: a merge request updated 2 h ago is
// not looked at with 1h, and is with 0.
func TestReconcileCommandWindow(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	failedLabelJob(gl, project, path, 2, passing)
	gl.SetUpdatedAt(project, path, 1, time.Now().Add(-2*time.Hour))
	e, logs := reconcile(t, gl, nil, "--watch", path, "--updated-within", "1h")
	if e != nil {
		t.Fatalf("reconcile: %+v", e)
	}
	if n, m := gl.Retries(project, 1), gl.Retries(project, 2); n != 0 || m != 1 {
		t.Errorf("retries !1 %d !2 %d, want 0 (updated 2 h ago) and 1", n, m)
	}
	if s := summary(t, logs); s["open_mrs"] != 1.0 {
		t.Errorf("summary %v: want 1 open merge request looked at", s)
	}
	for _, r := range gl.Requests() {
		if strings.HasSuffix(r.Path, "/merge_requests") {
			after, err := time.Parse(time.RFC3339, r.Query.Get("updated_after"))
			if err != nil || time.Since(after) > time.Hour+time.Minute || time.Since(after) < time.Hour-time.Minute ||
				r.Query.Get("order_by") != "updated_at" || r.Query.Get("sort") != "asc" || r.Query.Get("state") != "opened" {
				t.Errorf("list query %v: want state=opened, order_by=updated_at, sort=asc, updated_after an hour ago", r.Query)
			}
		}
	}

	e, logs = reconcile(t, gl, nil, "--watch", path, "--updated-within", "0")
	if e != nil || gl.Retries(project, 1) != 1 {
		t.Errorf("--updated-within 0: %+v, %d retries of !1, want exit 0 and 1", e, gl.Retries(project, 1))
	}
	if s := summary(t, logs); s["updated_within"] != "all" || s["open_mrs"] != 2.0 {
		t.Errorf("summary %v: want every open merge request (2)", s)
	}
}

// manyMergeRequests gives project n open merge requests whose labels
// fail, updated a second apart in threes (so that pages cut through
// seconds), the oldest first; the stand-in orders its lists by updated_at.
func manyMergeRequests(gl *gitlabtest.Server, n int, fault gitlabtest.FaultFunc) {
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	for i := 1; i <= n; i++ {
		gl.SetLabels(project, path, int64(i), "backend")
		gl.SetUpdatedAt(project, path, int64(i), base.Add(time.Duration((i-1)/3)*time.Second).Add(time.Duration(i)*time.Millisecond))
	}
	gl.SetFault(gl.OrderedByUpdate(fault))
}

// The cursor reaches every open merge request however many pages they
// take: 250 merge requests, 2 a page, 125 pages and more, each looked at
// once, with page numbers that stay small.
func TestReconcileCursorPastHundredPages(t *testing.T) {
	gl := newStandIn(t)
	manyMergeRequests(gl, 250, nil)
	e, logs := reconcile(t, gl, func(c *config) { c.sweepPage = 2 }, "--watch", path, "--updated-within", "0")
	if e != nil {
		t.Fatalf("reconcile: %+v", e)
	}
	seen := map[string]int{}
	for _, l := range logs.lines("delivery") {
		seen[fmt.Sprint(l["mr"])]++
	}
	if len(seen) != 250 {
		t.Errorf("%d merge requests looked at, want 250", len(seen))
	}
	for mr, n := range seen {
		if n != 1 {
			t.Errorf("!%s looked at %d times, want once", mr, n)
		}
	}
	var lists, maxPage int
	for _, r := range gl.Requests() {
		if strings.HasSuffix(r.Path, "/merge_requests") {
			lists++
			p, _ := strconv.Atoi(r.Query.Get("page"))
			maxPage = max(maxPage, p)
		}
	}
	if lists <= 100 || maxPage > 2 {
		t.Errorf("%d list calls, highest page %d: want more than 100 pages read with page numbers of 1 or 2", lists, maxPage)
	}
	if s := summary(t, logs); s["open_mrs"] != 250.0 || s["complete"] != true {
		t.Errorf("summary %v: want 250 open merge requests, complete", s)
	}
}

// A sweep that fails part-way keeps its cursor; the next one resumes from
// it: what was reached is not listed again, the rest is.
func TestReconcileResumesFromCursor(t *testing.T) {
	gl := newStandIn(t)
	var failing atomic.Bool
	var lists atomic.Int32
	manyMergeRequests(gl, 30, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/merge_requests") && lists.Add(1) > 4 && failing.Load() {
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	failing.Store(true)
	cfg := testConfig(gl)
	cfg.watch, cfg.sweepPage, cfg.attempts = []string{path}, 5, 1
	svc, err := newService(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	cur := &sweepCursor{}
	first, err := svc.sweep(context.Background(), path, cur)
	// The group list's 404, then three pages of 5; pages cut through
	// seconds, so each page after the first brings fewer than 5 new.
	if err == nil || first.listed < 10 || first.listed >= 15 || cur.after == nil {
		t.Fatalf("first sweep: %+v, %v, cursor %s: want 10 to 14 listed, then the 502", first, err, cur)
	}
	failing.Store(false)
	before := len(gl.Requests())
	second, err := svc.sweep(context.Background(), path, cur)
	if err != nil || first.listed+second.listed != 30 {
		t.Fatalf("resumed sweep: %+v, %v: want the other %d", second, err, 30-first.listed)
	}
	r := gl.Requests()[before]
	if got := r.Query.Get("updated_after"); got == "" || r.Query.Get("page") != "1" {
		t.Errorf("the resumed sweep began with %v, want the cursor's updated_after and page 1", r.Query)
	}
	if depth := svc.queue.depth(); depth != 30 {
		t.Errorf("%d merge requests queued, want 30 (each once)", depth)
	}
}

// The service's loop keeps the cursor of a failed sweep and says where it
// will resume.
func TestReconcileLoopResumes(t *testing.T) {
	gl := newStandIn(t)
	var lists atomic.Int32
	manyMergeRequests(gl, 12, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/merge_requests") && lists.Add(1) == 3 { // the group's 404, page 1, then this
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	h := start(t, gl, func(c *config) {
		c.watch, c.sweepPage, c.attempts, c.interval, c.overlap = []string{path}, 5, 1, 50*time.Millisecond, 0
	})
	waitFor(t, "a sweep after the failed one", func() bool {
		for _, l := range h.logs.lines("reconcile") {
			if l["resumed"] == true {
				return true
			}
		}
		return false
	})
	var failed, resumed map[string]any
	for _, l := range h.logs.lines("reconcile") {
		if l["error"] != nil && failed == nil {
			failed = l
		}
		if l["resumed"] == true && resumed == nil {
			resumed = l
		}
	}
	if failed == nil || !strings.Contains(fmt.Sprint(failed["resume_from"]), "updated_after") {
		t.Errorf("failed sweep line %v: want resume_from with the cursor", failed)
	}
	if resumed == nil || resumed["open_mrs"] != 7.0 || resumed["full"] != false {
		t.Errorf("resumed sweep line %v: want the 7 merge requests past the first page (!4 to !12 but !4 and !5, read at the cursor's second)", resumed)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
