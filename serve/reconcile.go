package serve

import (
	"context"
	"fmt"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// reconcileDelivery stands for the delivery id of work a sweep found.
const reconcileDelivery = "reconcile"

// reconcileLoop sweeps at start, then every interval. The first sweep
// reads every open merge request: the service may have been down for
// days. Later sweeps read those updated since the previous one began
// (less an overlap for clock skew); a failed sweep keeps its start, so
// nothing is skipped. Everything lives in memory: a restart sweeps all.
func (s *service) reconcileLoop(ctx context.Context) {
	since := map[string]time.Time{} // watch entry → last successful sweep's start
	ticker := time.NewTicker(s.cfg.interval)
	defer ticker.Stop()
	for {
		for _, w := range s.cfg.watch {
			started := s.now()
			var after *time.Time
			if t, ok := since[w]; ok {
				t = t.Add(-s.cfg.overlap)
				after = &t
			}
			n, queued, err := s.sweep(ctx, w, after)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.metrics.apiErrors.Inc(gitlabapi.Classify(err).Kind)
				s.log.Warn("reconcile", "watch", w, "error", err.Error(), "next_ms", ms(s.cfg.interval))
				continue
			}
			since[w] = started
			s.log.Info("reconcile", "watch", w, "open_mrs", n, "queued", queued, "full", after == nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// maxSweepPages bounds one sweep of one watch entry: 100 pages of 100
// open merge requests.
const maxSweepPages = 100

// sweep lists the open merge requests of one watch entry (a group or a
// project) updated after after (all when nil) and queues those whose
// labels pass; the worker does the rest, as for a webhook.
func (s *service) sweep(ctx context.Context, watch string, after *time.Time) (n, queued int, err error) {
	kind, _ := s.groups.Load(watch)
	for page := int64(1); page > 0; {
		if page > maxSweepPages {
			// The sweep must end; the next one starts over from the top.
			return n, queued, fmt.Errorf("%q has more than %d open merge requests updated in the window; the rest wait for the next sweep", watch, maxSweepPages*100)
		}
		opt := gitlabapi.OpenListOptions{UpdatedAfter: after, Page: page}
		var mrs []gitlabapi.MergeRequestInfo
		var next int64
		if kind != "project" {
			mrs, next, err = s.gl.GroupOpenMergeRequests(ctx, watch, opt)
			if kind == nil && gitlabapi.StatusOf(err) == 404 {
				// Not a group (or not one the token sees): try it as a project.
				kind = "project"
				continue
			}
			if err == nil {
				kind = "group"
			}
		} else {
			mrs, next, err = s.gl.ProjectOpenMergeRequests(ctx, watch, opt)
			if gitlabapi.StatusOf(err) == 404 {
				return n, queued, fmt.Errorf("%q is neither a group nor a project the token can read: fix --watch/ECHOES_WATCH or the token's access: %w", watch, err)
			}
		}
		if err != nil {
			return n, queued, err
		}
		s.groups.Store(watch, kind)
		for _, mr := range mrs {
			if mr.IID <= 0 || mr.ProjectID <= 0 {
				continue
			}
			n++
			if !check.Evaluate(mr.Labels, s.cfg.rules).Pass() {
				continue // the job is red for the right reason
			}
			path := mr.Path
			if path == "" {
				path = watch
			}
			t := &task{
				key: mrKey{mr.ProjectID, mr.IID}, path: clip(path),
				deliveries: []delivery{{id: reconcileDelivery, received: s.now()}},
			}
			if !s.queue.pushWait(ctx, t) {
				return n, queued, ctx.Err()
			}
			queued++
		}
		page = 0
		if next > opt.Page {
			page = next
		}
	}
	return n, queued, nil
}
