package reconcile

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

const (
	testToken = reruntest.Token
	project   = reruntest.Project
	path      = reruntest.Path
	passing   = reruntest.Passing
)

var (
	newStandIn     = reruntest.StandIn
	failedLabelJob = reruntest.FailedLabelJob
	newestLabelJob = reruntest.NewestLabelJob
)

type logBuffer = reruntest.Log

// clearEnv unsets every variable the command reads, for the test.
func clearEnv(t *testing.T) {
	for _, name := range envNamesOf(reflect.TypeFor[Command]()) {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

// parseReconcile reads a Command from args as the binary will.
func parseReconcile(t *testing.T, args ...string) *Command {
	t.Helper()
	var cli struct {
		Reconcile Command `cmd:""`
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
func reconcile(t *testing.T, gl *gitlabtest.Server, tune func(*rerun.Config), args ...string) (*exit.Error, *logBuffer) {
	t.Helper()
	clearEnv(t)
	c := parseReconcile(t, append([]string{"--gitlab-url", gl.APIURL(), "--token", testToken}, args...)...)
	logs := &logBuffer{}
	cfg, window, err := c.config(nil)
	if err == nil {
		test := reruntest.Config(gl)
		cfg.Backoff, cfg.MaxWait = test.Backoff, test.MaxWait
		if tune != nil {
			tune(&cfg)
		}
		err = run(context.Background(), cfg, window, logs, nil)
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
	l := logs.Lines("reconcile done")
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
	for _, l := range logs.Lines("delivery") {
		actions = append(actions, fmt.Sprintf("!%v %v", l["mr"], l["action"]))
		if l["delivery"] != "reconcile" {
			t.Errorf("delivery line %v: want delivery reconcile", l)
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

// A list whose pages repeat (the first page whatever page is asked, and an
// X-Next-Page always one more) ends each entry's sweep after a page of
// nothing new, with a WARN: the later entry is still reached, what was
// listed is worked, and reconcile exits 3 saying why.
func TestReconcileCommandListRepeats(t *testing.T) {
	gl := newStandIn(t)
	reruntest.ManyMergeRequests(gl, 12, nil)
	p := failedLabelJob(gl, 77, "other/app", 1, passing)
	gl.SetFault(gl.RepeatPages())
	e, logs := reconcile(t, gl, func(c *rerun.Config) { c.SweepPage = 5 }, "--watch", path+",other/app", "--updated-within", "0")
	if e == nil || e.Code != exit.API || !strings.Contains(e.Cause, "nothing new") || !strings.Contains(e.Fix, "proxy") ||
		!strings.Contains(e.Cause, path) || !strings.Contains(e.Cause, "other/app") {
		t.Fatalf("reconcile: %+v, want exit 3 saying the list of both entries brought nothing new", e)
	}
	lists := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool { return strings.HasSuffix(r.Path, "/merge_requests") })
	// Each entry: the group list's 404, the first page, the first page at
	// the new cursor (allowed to bring nothing), one more: 4 each.
	if lists > 8 {
		t.Errorf("%d list calls, want at most 8", lists)
	}
	warns := 0
	for _, l := range logs.Lines("reconcile") {
		if l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["error"]), "nothing new") {
			warns++
		}
	}
	if warns != 2 {
		t.Errorf("%d WARN reconcile lines saying nothing new, want 2", warns)
	}
	if status, attempts := newestLabelJob(gl, p); status != "pending" || attempts != 2 {
		t.Errorf("other/app !1's label job: %s after %d attempts, want it retried: the later entry is reached", status, attempts)
	}
	if s := summary(t, logs); s["complete"] != false || s["open_mrs"] != 6.0 {
		t.Errorf("summary %v: want complete false, the 5 + 1 merge requests listed", s)
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
	if n := lists.Load(); n != int32(rerun.DefaultConfig().Attempts) {
		t.Errorf("%d list calls, want %d", n, rerun.DefaultConfig().Attempts)
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
	if e == nil || e.Code != exit.Config || e.Setting != rerun.SettingWatch || !strings.Contains(e.Fix, "ECHOES_WATCH") {
		t.Fatalf("reconcile without --watch: %+v, want exit 2 for --watch with a fix", e)
	}
	if gl.Count() != 0 {
		t.Errorf("%d GitLab calls, want none", gl.Count())
	}
	// A URL is a configuration error (exit 2, with the path to give), not
	// GitLab failing (3): no call is made.
	for _, bad := range []string{"https://gitlab.com/g/p", "grp:x", "my group,,x"} {
		e, _ = reconcile(t, gl, nil, "--watch", bad)
		if e == nil || e.Code != exit.Config || e.Setting != rerun.SettingWatch || !strings.Contains(e.Fix, "group:42") {
			t.Errorf("reconcile --watch %q: %+v, want exit 2 for --watch with the forms", bad, e)
		} else if bad == "https://gitlab.com/g/p" && !strings.Contains(e.Cause, "give the path g/p") {
			t.Errorf("reconcile --watch %q: cause %q, want it to say give the path g/p", bad, e.Cause)
		}
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
	if len(logs.Lines("reconcile done")) != 0 {
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

var manyMergeRequests = reruntest.ManyMergeRequests

// The cursor reaches every open merge request however many pages they
// take: 250 merge requests, 2 a page, 125 pages and more, each looked at
// once, with page numbers that stay small.
func TestReconcileCursorPastHundredPages(t *testing.T) {
	gl := newStandIn(t)
	manyMergeRequests(gl, 250, nil)
	e, logs := reconcile(t, gl, func(c *rerun.Config) { c.SweepPage = 2 }, "--watch", path, "--updated-within", "0")
	if e != nil {
		t.Fatalf("reconcile: %+v", e)
	}
	seen := map[string]int{}
	for _, l := range logs.Lines("delivery") {
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

// A merge request listed by two --watch entries (its group and itself)
// is looked at and counted once: the summary and the exit code read the
// engine's counts, not the log.
func TestReconcileCountsAMergeRequestOnce(t *testing.T) {
	gl := newStandIn(t)
	gl.AddGroup(7, "group", project)
	failedLabelJob(gl, project, path, 1, passing)
	failedLabelJob(gl, project, path, 2, "backend")
	e, logs := reconcile(t, gl, nil, "--watch", "group:7,"+path+",project:42", "--updated-within", "0")
	if e != nil {
		t.Fatalf("reconcile: code %d %q, want exit 0", e.Code, e.Cause)
	}
	s := summary(t, logs)
	if s["open_mrs"] != 2.0 || s["queued"] != 2.0 || s["worked"] != 2.0 || s["retried"] != 1.0 || s["complete"] != true {
		t.Errorf("summary %v: want 2 open merge requests, queued and worked once each, 1 retried", s)
	}
	if n := len(logs.Lines("delivery")); n != 2 {
		t.Errorf("%d delivery lines, want 2 (one per merge request)", n)
	}
	if n := gl.Retries(project, 1); n != 1 {
		t.Errorf("%d retries of !1, want 1", n)
	}
}

// Each "reconcile" line is the sweep of one entry, whatever the others
// listed; the summary counts each merge request once.
func TestReconcileEntryLinesCountTheirOwn(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, "backend")
	_, logs := reconcile(t, gl, nil, "--watch", path+",project:42", "--updated-within", "0")
	lines := logs.Lines("reconcile")
	if len(lines) != 2 || lines[0]["open_mrs"] != 1.0 || lines[1]["open_mrs"] != 1.0 || lines[1]["queued"] != 0.0 {
		t.Errorf("entry lines %v: want 1 listed by each, queued by the first only", lines)
	}
}

// A transient failure of the start-up GET /user (a 502) is tried again,
// as every other call, and the sweep goes on; one that lasts is exit 3
// after cfg.Attempts tries, without a sweep.
func TestReconcileCommandRetriesIdentity(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	var users, failures atomic.Int32
	failures.Store(2)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path == "/api/v4/user" {
			users.Add(1)
			if failures.Add(-1) >= 0 {
				gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
				return true
			}
		}
		return false
	})
	if e, _ := reconcile(t, gl, nil, "--watch", path); e != nil || users.Load() != 3 || gl.Retries(project, 1) != 1 {
		t.Fatalf("reconcile after two 502s on GET /user: %+v, %d calls, %d retries; want exit 0 after 3 calls, !1 retried", e, users.Load(), gl.Retries(project, 1))
	}

	users.Store(0)
	failures.Store(1 << 20)
	e, logs := reconcile(t, gl, nil, "--watch", path)
	if e == nil || e.Code != exit.API || !strings.Contains(e.Cause, "GET /user") || !strings.Contains(e.Cause, "502") {
		t.Fatalf("reconcile with GET /user failing: %+v, want exit 3 naming the call and the 502", e)
	}
	if n := users.Load(); n != int32(rerun.DefaultConfig().Attempts) {
		t.Errorf("%d calls to GET /user, want %d", n, rerun.DefaultConfig().Attempts)
	}
	if len(logs.Lines("reconcile done")) != 0 {
		t.Error("a summary line without a sweep")
	}
}

// At start, a token whose user is an administrator, or Maintainer or
// Owner of a watched group or project, gets a WARN (GET /user's is_admin,
// the members API), with one read per entry; a read that fails is a WARN
// and the sweep goes on; a Developer gets none.
func TestReconcileWarnsOfAPowerfulToken(t *testing.T) {
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	gl.AddGroup(7, "group", project)
	gl.SetGroupMember(7, "group", gitlabtest.Maintainer)
	gl.SetProjectMember(project, path, gitlabtest.Owner)
	gl.SetProjectMember(77, "other/app", gitlabtest.Developer)
	gl.SetProjectMember(99, "third/app", gitlabtest.Owner)
	gl.SetAdmin(true)
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.Contains(r.URL.EscapedPath(), "third%2Fapp/members") {
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	e, logs := reconcile(t, gl, nil, "--watch", "group,project:"+path+",other/app,project:third/app")
	if e != nil {
		t.Fatalf("reconcile: %+v, want exit 0: a powerful token is a warning", e)
	}
	warns := map[string]string{}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"level":"WARN"`) {
			var w, msg string
			if i := strings.Index(l, `"watch":"`); i >= 0 {
				w = l[i+9 : i+9+strings.Index(l[i+9:], `"`)]
			}
			if i := strings.Index(l, `"msg":"`); i >= 0 {
				msg = l[i+7 : i+7+strings.Index(l[i+7:], `"`)]
			}
			if strings.Contains(l, "reconcile") && !strings.Contains(msg, "token") {
				continue // the sweep's own lines
			}
			warns[w] = msg
		}
	}
	for w, want := range map[string]string{
		"":                  "administrator",
		"group":             "Maintainer of a watched group",
		"project:" + path:   "Owner of a watched project",
		"project:third/app": "could not read",
	} {
		if !strings.Contains(warns[w], want) {
			t.Errorf("WARN for %q: %q, want %q (all: %v)", w, warns[w], want, warns)
		}
	}
	if _, ok := warns["other/app"]; ok {
		t.Errorf("a WARN for other/app, where the token is a Developer: %v", warns)
	}
	members := reruntest.CountRequests(gl, func(r gitlabtest.Request) bool { return strings.Contains(r.Path, "/members/all/") })
	// One read an entry; other/app, a plain path that is no group, two.
	if members != 5 {
		t.Errorf("%d members reads, want 5", members)
	}
}
