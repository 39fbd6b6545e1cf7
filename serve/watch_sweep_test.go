package serve

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// A --watch entry whose list repeats its pages for ever ends its sweep
// with a WARN after a page of nothing new, and the sweep goes on to the
// next entry, whose merge request is acted on.
func TestSweepOfARepeatingListEnds(t *testing.T) {
	gl := newStandIn(t)
	reruntest.ManyMergeRequests(gl, 12, nil)
	p := failedLabelJob(gl, 77, "other/app", 1, passing)
	repeat := gl.RepeatPages()
	gl.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		return strings.HasPrefix(r.URL.EscapedPath(), "/api/v4/projects/group%2Fproject/") && repeat(w, r, n)
	})
	h := start(t, gl, func(c *config) {
		c.engine.Interval, c.engine.SweepPage = time.Hour, 5
		c.engine.Watch = mustWatch("project:"+path, "project:other/app")
	})
	waitFor(t, "other/app's label job retried", func() bool { return gl.Retries(77, 1) == 1 })
	h.waitIdle()
	var warned, reached bool
	for _, l := range h.logs.lines("reconcile") {
		switch l["watch"] {
		case "project:" + path:
			warned = l["level"] == "WARN" && strings.Contains(fmt.Sprint(l["error"]), "nothing new")
		case "project:other/app":
			reached = l["level"] == "INFO"
		}
	}
	if !warned || !reached {
		t.Errorf("reconcile lines %v: want a WARN saying nothing new for %s, then other/app swept", h.logs.lines("reconcile"), path)
	}
	if status, _ := reruntest.NewestLabelJob(gl, p); status != "pending" {
		t.Errorf("other/app's label job is %s, want pending (retried)", status)
	}
}

// An entry that says what it is is listed as that, never guessed:
// project:42 is not tried as group 42 first (a group may have that id).
func TestTypedWatchEntriesAreListedAsTyped(t *testing.T) {
	gl := newStandIn(t)
	start(t, gl, func(c *config) {
		c.engine.Interval = time.Hour
		allow, err := rerun.ParseWatch([]string{"project:42", "group:7"})
		if err != nil {
			t.Fatal(err)
		}
		c.engine.Watch = allow
	})
	waitFor(t, "the merge requests of project 42 and of group 7 listed", func() bool {
		var project, group bool
		for _, r := range gl.Requests() {
			if strings.HasPrefix(r.Path, "/api/v4/groups/42") {
				t.Fatalf("project:42 was listed as a group: %s", r.Path)
			}
			project = project || strings.HasPrefix(r.Path, "/api/v4/projects/42/merge_requests")
			group = group || strings.HasPrefix(r.Path, "/api/v4/groups/7/merge_requests")
		}
		return project && group
	})
}

// A signing token that is only its prefix says so, not "not base64".
func TestEmptySigningTokenSaysSo(t *testing.T) {
	if _, err := signingKey("whsec_"); err == nil || !strings.Contains(err.Error(), "nothing after it") {
		t.Errorf("signingKey(whsec_) = %v, want an error saying it is empty", err)
	}
	if _, err := signingKey("whsec_***"); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Errorf("signingKey(whsec_***) = %v, want not base64", err)
	}
}

// A first sweep of ten times the queue's size takes only the sweep's room:
// every delivery that fits in the rest is queued (none "accepted, not
// queued"), while the sweep still waits for room.
func TestSweepLeavesRoomForDeliveries(t *testing.T) {
	const size = 8
	gl := newStandIn(t)
	reruntest.ManyMergeRequests(gl, 10*size, nil)
	h := start(t, gl, func(c *config) {
		c.engine.QueueSize, c.engine.Interval, c.engine.SweepPage = size, time.Hour, 20
		c.engine.Settle = time.Hour // nothing is worked on: the queue only fills
		c.engine.Watch = mustWatch("project:" + path)
	})
	room := rerun.SweepRoom(size)
	waitFor(t, "the sweep to fill its room", func() bool { return h.svc.engine.Depth() == room })
	for iid := int64(1); iid <= size-int64(room); iid++ {
		if code, _ := h.post(payload(t, project, path, 1000+iid, "a", 0, passing), hook(fmt.Sprint("d", iid))...); code != http.StatusAccepted {
			t.Fatalf("delivery %d: %d", iid, code)
		}
	}
	if d := h.svc.engine.Depth(); d != size {
		t.Errorf("%d merge requests waiting, want %d: the sweep's %d and every delivery", d, size, room)
	}
	for _, l := range h.logs.lines("delivery") {
		if l["outcome"] == outcomeDropped {
			t.Errorf("a delivery was not queued while a sweep ran: %v", l)
		}
	}
}
