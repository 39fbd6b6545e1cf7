package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
)

// reconcileDelivery stands for the delivery id of work a sweep found.
const reconcileDelivery = "reconcile"

// reconcileLoop sweeps at start, then every interval. The first sweep
// reads every open merge request: the service may have been down for
// days. Later sweeps read those updated since the previous successful one
// began (less an overlap for clock skew). A sweep that fails part-way
// keeps its cursor: the next one resumes there, so the merge requests it
// reached are not read again and the ones it did not reach are. Everything
// lives in memory: a restart sweeps all.
func (s *service) reconcileLoop(ctx context.Context) {
	since := map[string]time.Time{}     // watch entry → last successful sweep's start
	resume := map[string]*sweepCursor{} // watch entry → where a failed sweep stopped
	ticker := time.NewTicker(s.cfg.interval)
	defer ticker.Stop()
	for {
		for _, w := range s.cfg.watch {
			started := s.now()
			cur, resumed, full := resume[w], true, false
			if cur == nil {
				cur, resumed = &sweepCursor{}, false
				t, ok := since[w]
				if ok {
					cur.from(t.Add(-s.cfg.overlap))
				}
				full = !ok
			}
			_, err := s.sweepEntry(ctx, w, cur, "resume_from", "full", full, "resumed", resumed, "next_ms", ms(s.cfg.interval))
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				resume[w] = cur
				continue
			}
			delete(resume, w)
			since[w] = started
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// sweepEntry sweeps one watch entry from cur (sweep), counts a failure
// by its kind, and logs the entry's "reconcile" line: the counts, then
// attrs; on a failure the error, its kind, and the cursor under
// cursorKey. A cancelled sweep logs nothing.
func (s *service) sweepEntry(ctx context.Context, w string, cur *sweepCursor, cursorKey string, attrs ...any) (sweepStats, error) {
	st, err := s.sweep(ctx, w, cur)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		kind := gitlabapi.Classify(err).Kind
		s.metrics.apiErrors.Inc(kind)
		s.log.Warn("reconcile", append([]any{"watch", w, "error", err.Error(), "kind", kind, "open_mrs", st.listed,
			"queued", st.queued, cursorKey, cur.String()}, attrs...)...)
	default:
		s.log.Info("reconcile", append([]any{"watch", w, "open_mrs", st.listed, "queued", st.queued, "pages", st.pages}, attrs...)...)
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
	after *time.Time     // updated_after to send; nil: from the least recently updated
	page  int64          // page of the list filtered by after, from 1
	seen  map[mrKey]bool // queued merge requests updated within after's second
}

// from starts the cursor at t (a windowed sweep).
func (c *sweepCursor) from(t time.Time) {
	t = gitlabapi.SweepSecond(t)
	c.after, c.page, c.seen = &t, 1, map[mrKey]bool{}
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
	return c.after != nil && gitlabapi.SweepSecond(mr.UpdatedAt).Equal(*c.after) && c.seen[mrKey{mr.ProjectID, mr.IID}]
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
			c.seen[mrKey{mr.ProjectID, mr.IID}] = true
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

// sweep lists the open merge requests of one watch entry (a group or a
// project) from the cursor on, and queues every one: the worker reads each
// from GitLab and decides (labels that pass may need a failed job retried,
// labels that fail a successful one). The cursor moves as pages are
// queued; on an error it is where the next sweep should resume.
func (s *service) sweep(ctx context.Context, watch string, cur *sweepCursor) (st sweepStats, err error) {
	for {
		opt := gitlabapi.SweepOptions{UpdatedAfter: cur.after, Page: cur.page, PerPage: s.cfg.sweepPage}
		mrs, next, err := s.sweepPage(ctx, watch, opt)
		if err != nil {
			return st, err
		}
		st.pages++
		for _, mr := range mrs {
			if mr.IID <= 0 || mr.ProjectID <= 0 || cur.skip(mr) {
				continue
			}
			st.listed++
			path := mr.Path
			if path == "" {
				path = watch
			}
			t := newTask(mrKey{mr.ProjectID, mr.IID}, path, delivery{id: reconcileDelivery, received: s.now()})
			if !s.queue.pushWait(ctx, t) {
				if ctx.Err() != nil {
					return st, ctx.Err()
				}
				return st, errQueueClosed
			}
			st.queued++
		}
		if next <= 0 || len(mrs) == 0 {
			return st, nil
		}
		cur.advance(mrs, next)
	}
}

// sweepPage reads one page, trying again while GitLab's failure is
// transient, up to cfg.attempts tries within cfg.budget: one 502 must not
// end a sweep of thousands of merge requests.
func (s *service) sweepPage(ctx context.Context, watch string, opt gitlabapi.SweepOptions) ([]gitlabapi.MergeRequestInfo, int64, error) {
	deadline := time.Now().Add(s.cfg.budget)
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
		mrs, next, err := s.listOpen(cctx, watch, opt)
		cancel()
		if err == nil || ctx.Err() != nil || attempt+1 >= s.cfg.attempts {
			return mrs, next, err
		}
		f := gitlabapi.Classify(err)
		if !f.Transient {
			return mrs, next, err
		}
		s.metrics.apiErrors.Inc(f.Kind)
		wait := s.faultWait(f, attempt)
		if time.Until(deadline) <= wait {
			return mrs, next, err
		}
		s.log.Info("gitlab fault; trying again", "watch", watch, "kind", f.Kind, "attempt", attempt+2,
			"wait_ms", ms(wait), "error", err.Error())
		if clock.Sleep(ctx, wait) != nil {
			return mrs, next, err
		}
	}
}

// listOpen reads one page of a watch entry's open merge requests (watch
// as parseWatch writes it). An entry that says what it is (group:42,
// project:acme/api) is listed as that; a plain path as a group first, then
// as a project if it is not one, and what it is is learnt once.
func (s *service) listOpen(ctx context.Context, watch string, opt gitlabapi.SweepOptions) ([]gitlabapi.MergeRequestInfo, int64, error) {
	kind, _ := s.groups.Load(watch)
	w, _ := parseWatchEntry(watch)
	ref := w.ref()
	if group, known := w.isGroup(); known && group {
		return s.gl.GroupOpenMergeRequestsByUpdate(ctx, ref, opt)
	} else if known {
		kind = "project"
	}
	if kind != "project" {
		mrs, next, err := s.gl.GroupOpenMergeRequestsByUpdate(ctx, ref, opt)
		if err == nil {
			s.groups.Store(watch, "group")
			return mrs, next, nil
		}
		if kind != nil || gitlabapi.StatusOf(err) != 404 {
			return nil, 0, err
		}
		// Not a group (or not one the token sees): try it as a project.
	}
	mrs, next, err := s.gl.ProjectOpenMergeRequestsByUpdate(ctx, ref, opt)
	if gitlabapi.StatusOf(err) == 404 {
		return nil, 0, fmt.Errorf("%q is neither a group nor a project the token can read: fix --watch/ECHOES_WATCH or the token's access: %w", watch, err)
	}
	if err == nil {
		s.groups.Store(watch, "project")
	}
	return mrs, next, err
}
