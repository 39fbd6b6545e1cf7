package rerun_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

const (
	project = reruntest.Project
	path    = reruntest.Path
)

func discardLog() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

func mustWatch(t *testing.T, entry string) rerun.WatchEntry {
	t.Helper()
	w, err := rerun.ParseWatch([]string{entry})
	if err != nil || len(w) != 1 {
		t.Fatalf("--watch %q: %v", entry, err)
	}
	return w[0]
}

var manyMergeRequests = reruntest.ManyMergeRequests

// A sweep that fails part-way keeps its cursor; the next one resumes from
// it: what was reached is not listed again, the rest is.
func TestReconcileResumesFromCursor(t *testing.T) {
	gl := reruntest.StandIn(t)
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
	cfg := reruntest.Config(gl)
	cfg.SweepPage, cfg.Attempts = 5, 1
	e, err := rerun.New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	w := mustWatch(t, path)
	cur := &rerun.Cursor{}
	first, err := e.Sweep(context.Background(), w, cur)
	// The group list's 404, then three pages of 5; pages cut through
	// seconds, so each page after the first brings fewer than 5 new.
	if err == nil || first < 10 || first >= 15 || !cur.Positioned() {
		t.Fatalf("first sweep: %d listed, %v, cursor %s: want 10 to 14 listed, then the 502", first, err, cur)
	}
	failing.Store(false)
	before := len(gl.Requests())
	second, err := e.Sweep(context.Background(), w, cur)
	if err != nil || first+second != 30 {
		t.Fatalf("resumed sweep: %d listed, %v: want the other %d", second, err, 30-first)
	}
	r := gl.Requests()[before]
	if got := r.Query.Get("updated_after"); got == "" || r.Query.Get("page") != "1" {
		t.Errorf("the resumed sweep began with %v, want the cursor's updated_after and page 1", r.Query)
	}
	if depth := e.Depth(); depth != 30 {
		t.Errorf("%d merge requests queued, want 30 (each once)", depth)
	}
}

// The service's loop keeps the cursor of a failed sweep and says where it
// will resume.
func TestReconcileLoopResumes(t *testing.T) {
	gl := reruntest.StandIn(t)
	var lists atomic.Int32
	manyMergeRequests(gl, 12, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/merge_requests") && lists.Add(1) == 3 { // the group's 404, page 1, then this
			gitlabtest.Error(w, http.StatusBadGateway, "502 Bad Gateway")
			return true
		}
		return false
	})
	cfg := reruntest.Config(gl)
	cfg.Watch, cfg.SweepPage, cfg.Attempts, cfg.Interval, cfg.Overlap = []rerun.WatchEntry{mustWatch(t, path)}, 5, 1, 50*time.Millisecond, 0
	logs := &reruntest.Log{}
	e, err := rerun.New(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Loop(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; e.Stop(time.Now().Add(5 * time.Second)) })
	reruntest.WaitFor(t, "a sweep after the failed one", func() bool {
		for _, l := range logs.Lines("reconcile") {
			if l["resumed"] == true {
				return true
			}
		}
		return false
	})
	var failed, resumed map[string]any
	for _, l := range logs.Lines("reconcile") {
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
