package rerun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// reconcileDelivery stands for the delivery id of work a sweep found.
const reconcileDelivery = "reconcile"

// Loop is serve's sweep: at start, then every cfg.Interval. The first
// sweep reads every open merge request: the service may have been down for
// days. Later sweeps read those updated since the previous successful one
// began (less an overlap for clock skew). A sweep that fails part-way
// keeps its cursor: the next one resumes there, so the merge requests it
// reached are not read again and the ones it did not reach are. Everything
// lives in memory: a restart sweeps all.
func (e *Engine) Loop(ctx context.Context) {
	since := map[WatchEntry]time.Time{}     // watch entry → last successful sweep's start
	resume := map[WatchEntry]*sweepCursor{} // watch entry → where a failed sweep stopped
	for {
		next := e.clock.Now().Add(e.cfg.Interval)
		round := map[Key]bool{}
		for _, w := range e.cfg.Watch {
			started := e.clock.Now()
			cur, resumed, full := resume[w], true, false
			if cur == nil {
				cur, resumed = &sweepCursor{}, false
				t, ok := since[w]
				if ok {
					cur.from(t.Add(-e.cfg.Overlap))
				}
				full = !ok
			}
			_, err := e.sweepEntry(ctx, w, cur, round, "resume_from", "full", full, "resumed", resumed, "next_ms", ms(e.cfg.Interval))
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrListRepeats) {
				// Resuming where the list repeated would repeat it: the
				// next sweep starts this entry afresh.
				delete(resume, w)
				continue
			}
			if err != nil {
				resume[w] = cur
				continue
			}
			delete(resume, w)
			since[w] = started
		}
		if e.clock.Sleep(ctx, max(next.Sub(e.clock.Now()), 0)) != nil {
			return
		}
	}
}

// Summary is what one sweep of every --watch entry found and did
// (reconcile's): each merge request counted once, however many entries
// list it.
type Summary struct {
	Listed int      // open merge requests read, each once
	Queued int      // tasks queued
	Failed []string // the entries whose sweep failed, with why
	// Repeats: a sweep among Failed ended on a list that repeated its
	// pages (ErrListRepeats).
	Repeats bool
	Counts  Counts // what the workers did with them
}

// ErrCancelled is a reconcile stopped by SIGTERM or Ctrl-C.
var ErrCancelled = exit.CancelledBefore("the reconcile", "nothing to mend: the next run sweeps again")

// SweepOnce sweeps every watch entry once, window back from now (0: every
// open merge request), with the workers taking what the sweep queues as
// it goes; then it closes the queue and lets the workers drain it. A merge
// request listed by two entries is queued and counted once.
func (e *Engine) SweepOnce(ctx context.Context, window time.Duration) Summary {
	e.Start()
	stop := context.AfterFunc(ctx, func() { e.queue.abandon(); e.cancelWork() })
	defer stop()

	var sum Summary
	round := map[Key]bool{}
	for _, w := range e.cfg.Watch {
		cur := &sweepCursor{}
		if window > 0 {
			cur.from(e.clock.Now().Add(-window))
		}
		st, err := e.sweepEntry(ctx, w, cur, round, "stopped_at")
		sum.Queued += st.queued
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			sum.Failed = append(sum.Failed, fmt.Sprintf("%s: %s", w, err.Error()))
			sum.Repeats = sum.Repeats || errors.Is(err, ErrListRepeats)
		}
	}
	e.queue.close()
	e.workers.Wait()
	e.cancelWork()
	sum.Listed = len(round)
	sum.Counts = e.Counts()
	return sum
}

// Complete is true when every entry was swept and every merge request
// looked at to the end.
func (s Summary) Complete() bool { return len(s.Failed) == 0 && s.Counts.GaveUp == 0 }

// Err is reconcile's error for the summary: cancelled (130), GitLab
// failing (3: a sweep that could not list every merge request in its
// window, or merge requests the worker gave up on), nil when complete.
func (s Summary) Err(ctx context.Context) error {
	switch {
	case ctx.Err() != nil:
		return ErrCancelled
	case s.Repeats:
		return exit.APIError("the sweep could not list every open merge request: "+strings.Join(s.Failed, "; "),
			"GitLab (or a proxy or cache in front of it) answered page after page with the same merge requests; check what serves --gitlab-url's merge request lists (page and updated_after must be honoured); the next run sweeps again", nil)
	case len(s.Failed) > 0:
		return exit.APIError("the sweep could not list every open merge request: "+strings.Join(s.Failed, "; "),
			"see the reconcile log line above; mend what GitLab answered (or wait for it to recover), and the next scheduled run sweeps again", nil)
	case s.Counts.GaveUp > 0:
		return exit.APIError(fmt.Sprintf("GitLab failed while %d of %d merge requests were worked on (the log lines with action gave_up)", s.Counts.GaveUp, s.Counts.Worked),
			"see those log lines; the next scheduled run looks at them again", nil)
	}
	return nil
}

// sweepEntry sweeps one watch entry from cur (sweep), counts a failure
// by its kind, and logs the entry's "reconcile" line: the counts, then
// attrs; on a failure the error, its kind, and the cursor under
// cursorKey. A cancelled sweep logs nothing.
func (e *Engine) sweepEntry(ctx context.Context, w WatchEntry, cur *sweepCursor, round map[Key]bool, cursorKey string, attrs ...any) (sweepStats, error) {
	st, err := e.sweep(ctx, w, cur, round)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		kind := e.counts.apiError(err)
		e.log.Warn("reconcile", append([]any{"watch", w.String(), "error", err.Error(), "kind", kind, "open_mrs", st.listed,
			"queued", st.queued, cursorKey, cur.String()}, attrs...)...)
	default:
		e.log.Info("reconcile", append([]any{"watch", w.String(), "open_mrs", st.listed, "queued", st.queued, "pages", st.pages}, attrs...)...)
	}
	return st, err
}

// sweepCursor is where a sweep of one watch entry stands. GitLab lists the
// open merge requests least recently updated first (order_by=updated_at,
// sort=asc), filtered by updated_after, which is inclusive and sent in
// whole seconds. After each page the cursor moves to the newest second on
// it, and the page number goes back to 1: page numbers stay small however
// many merge requests there are, and a sweep that fails resumes from its
// cursor. The merge requests of the cursor's own second come again on the
// next page; those already queued are skipped (seen). Only when a whole
// page shares the cursor's second does the page number grow, within it.
//
// A merge request updated while the sweep runs moves to the end of the
// order, past the cursor, so it is read again later in the same sweep (or
// the next): nothing updated during a sweep is missed.
type sweepCursor struct {
	after *time.Time   // updated_after to send; nil: from the least recently updated
	page  int64        // page of the list filtered by after, from 1
	seen  map[Key]bool // queued merge requests updated within after's second
}

// from starts the cursor at t (a windowed sweep).
func (c *sweepCursor) from(t time.Time) {
	t = gitlabapi.SweepSecond(t)
	c.after, c.page, c.seen = &t, 1, map[Key]bool{}
}

// String is the cursor as the log shows it.
func (c *sweepCursor) String() string {
	if c.after == nil {
		return fmt.Sprintf("the least recently updated, page %d", max(c.page, 1))
	}
	return fmt.Sprintf("updated_after %s, page %d", c.after.Format(time.RFC3339), max(c.page, 1))
}

// skip is true for a merge request already queued from the cursor's
// second.
func (c *sweepCursor) skip(mr gitlabapi.MergeRequestInfo) bool {
	return c.after != nil && gitlabapi.SweepSecond(mr.UpdatedAt).Equal(*c.after) && c.seen[Key{mr.ProjectID, mr.IID}]
}

// advance moves the cursor past a page that was read and queued; next is
// the page GitLab says comes after it.
func (c *sweepCursor) advance(page []gitlabapi.MergeRequestInfo, next int64) {
	var newest time.Time
	for _, mr := range page {
		if t := gitlabapi.SweepSecond(mr.UpdatedAt); t.After(newest) {
			newest = t
		}
	}
	if !newest.IsZero() && (c.after == nil || newest.After(*c.after)) {
		c.from(newest)
	} else {
		// The whole page shares the cursor's second (or carries no times):
		// page on within it.
		c.page = max(next, c.page+1, 2)
	}
	if c.after == nil {
		return
	}
	for _, mr := range page {
		if gitlabapi.SweepSecond(mr.UpdatedAt).Equal(*c.after) {
			c.seen[Key{mr.ProjectID, mr.IID}] = true
		}
	}
}

// sweepStats count what one sweep of one watch entry did.
type sweepStats struct {
	listed int // open merge requests read
	queued int // tasks queued
	pages  int // pages read
}

// errQueueClosed ends a sweep whose queue stopped taking work.
var errQueueClosed = errors.New("the queue was closed before the sweep ended")

// ErrListRepeats ends the sweep of an entry whose list brought a page of
// nothing new: the same merge requests, at the same update time, as pages
// already read, as a proxy or cache that ignores page and updated_after
// serves, with an X-Next-Page that grows for ever. Without it such a list
// is read for ever and the later --watch entries never are.
var ErrListRepeats = errors.New("GitLab's list of open merge requests brought a page with nothing new (the same merge requests again), so the sweep of this entry stopped there")

// sweep lists the open merge requests of one watch entry (a group or a
// project) from the cursor on, and queues every one not in round yet
// (queued by an earlier entry of the same sweep): the worker reads each
// from GitLab and decides (labels that pass may need a failed job retried,
// labels that fail a successful one). The cursor moves as pages are
// queued; on an error it is where the next sweep should resume.
//
// Each page must bring something new: a merge request this sweep has not
// read yet, or read at an older update time. The one page allowed to bring
// nothing is the first at a new cursor second, which starts with the merge
// requests of that second already queued; a page of nothing new past it
// ends the entry's sweep with ErrListRepeats. The cursor itself always
// moves on (advance): a later second, or the next page within one.
func (e *Engine) sweep(ctx context.Context, w WatchEntry, cur *sweepCursor, round map[Key]bool) (st sweepStats, err error) {
	read := map[Key]time.Time{} // every merge request this sweep read, at its update second
	for {
		opt := gitlabapi.SweepOptions{UpdatedAfter: cur.after, Page: cur.page, PerPage: e.cfg.SweepPage}
		mrs, next, err := e.sweepPage(ctx, w, opt)
		if err != nil {
			return st, err
		}
		st.pages++
		fresh := false
		for _, mr := range mrs {
			if mr.IID <= 0 || mr.ProjectID <= 0 {
				continue
			}
			key, at := Key{mr.ProjectID, mr.IID}, gitlabapi.SweepSecond(mr.UpdatedAt)
			if t, ok := read[key]; !ok || at.After(t) {
				read[key], fresh = at, true
			}
			if cur.skip(mr) {
				continue
			}
			st.listed++
			if round[key] {
				continue // queued by an earlier entry of this sweep
			}
			path := mr.Path
			if path == "" {
				path = w.String()
			}
			t := NewTask(key, path, Delivery{ID: reconcileDelivery, Received: e.clock.Now()})
			if !e.queue.pushWait(ctx, t) {
				if ctx.Err() != nil {
					return st, ctx.Err()
				}
				return st, errQueueClosed
			}
			round[key] = true
			st.queued++
		}
		if next <= 0 || len(mrs) == 0 {
			return st, nil
		}
		if !fresh && (cur.after == nil || cur.page > 1) {
			return st, fmt.Errorf("%w (%s, after %d pages)", ErrListRepeats, cur, st.pages)
		}
		cur.advance(mrs, next)
	}
}

// sweepPage reads one page, trying again while GitLab's failure is
// transient, up to cfg.Attempts tries within cfg.Budget: one 502 must not
// end a sweep of thousands of merge requests.
func (e *Engine) sweepPage(ctx context.Context, w WatchEntry, opt gitlabapi.SweepOptions) ([]gitlabapi.MergeRequestInfo, int64, error) {
	var mrs []gitlabapi.MergeRequestInfo
	var next int64
	err := e.retry(ctx, retryPlan{attempts: e.cfg.Attempts, deadline: e.clock.Now().Add(e.cfg.Budget), lo: e.cfg.Backoff, hi: e.cfg.MaxWait,
		again: transient,
		// The last failure is counted by sweepEntry.
		failed: func(err error, _ int) { e.counts.apiError(err) },
		waiting: func(err error, attempt int, wait time.Duration) {
			e.log.Info("gitlab fault; trying again", "watch", w.String(), "kind", gitlabapi.Classify(err).Kind, "attempt", attempt,
				"wait_ms", ms(wait), "error", err.Error())
		},
	}, func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
		defer cancel()
		var err error
		mrs, next, err = e.listOpen(cctx, w, opt)
		return err
	})
	return mrs, next, err
}

// listOpen reads one page of a watch entry's open merge requests. An
// entry that says what it is (group:42, project:acme/api) is listed as
// that; a plain path as a group first, then as a project if it is not
// one, and what it is is learnt once.
func (e *Engine) listOpen(ctx context.Context, w WatchEntry, opt gitlabapi.SweepOptions) ([]gitlabapi.MergeRequestInfo, int64, error) {
	kind, _ := e.groups.Load(w)
	ref := w.ref()
	if group, known := w.isGroup(); known && group {
		return e.gl.GroupOpenMergeRequestsByUpdate(ctx, ref, opt)
	} else if known {
		kind = "project"
	}
	if kind != "project" {
		mrs, next, err := e.gl.GroupOpenMergeRequestsByUpdate(ctx, ref, opt)
		if err == nil {
			e.groups.Store(w, "group")
			return mrs, next, nil
		}
		if kind != nil || gitlabapi.StatusOf(err) != 404 {
			return nil, 0, err
		}
		// Not a group (or not one the token sees): try it as a project.
	}
	mrs, next, err := e.gl.ProjectOpenMergeRequestsByUpdate(ctx, ref, opt)
	if gitlabapi.StatusOf(err) == 404 {
		return nil, 0, fmt.Errorf("%q is neither a group nor a project the token can read: fix --watch/ECHOES_WATCH or the token's access: %w", w.String(), err)
	}
	if err == nil {
		e.groups.Store(w, "project")
	}
	return mrs, next, err
}

// LogSummary writes reconcile's "reconcile done" line.
func (e *Engine) LogSummary(ctx context.Context, s Summary, window time.Duration, took time.Duration) {
	complete := s.Complete() && ctx.Err() == nil
	windowText := "all"
	if window > 0 {
		windowText = window.String()
	}
	level := slog.LevelInfo
	if !complete {
		level = slog.LevelWarn
	}
	n := s.Counts
	e.log.Log(context.Background(), level, "reconcile done", "watch", WatchStrings(e.cfg.Watch), "updated_within", windowText,
		"open_mrs", s.Listed, "queued", s.Queued, "worked", n.Worked, "retried", n.Retried,
		"status_answered", n.Answered, "gave_up", n.GaveUp, "complete", complete, "duration_ms", ms(took))
}
