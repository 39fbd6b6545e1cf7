package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// ReconcileCommand is `echoes-labels reconcile`: one sweep of the open
// merge requests of --watch, worked by serve's own worker, then exit. It
// is what a scheduled pipeline (templates/echoes-labels-reconcile.yml) or
// a Kubernetes CronJob runs, so that the verdict follows the labels with
// no service to run, or with one sweeper beside many serve replicas.
type ReconcileCommand struct {
	Shared `embed:""`
	// UpdatedWithin keeps a malformed value for config, which reports it with a fix.
	UpdatedWithin settings.Duration `name:"updated-within" env:"ECHOES_UPDATED_WITHIN" default:"1h" help:"Look at the open merge requests updated within this long (0: all); at least the schedule's interval."`
}

// The settings a configuration error of reconcile names.
const settingUpdatedWithin = "--updated-within"

// Run sweeps once and works what it queued. Every log line is a JSON line
// on stderr, masked, as serve's: one "delivery" line per merge request the
// worker looked at, one "reconcile" line per watch entry, and a
// "reconcile done" summary. Its errors are *exit.Error: configuration (2,
// a token GitLab refuses included), GitLab failing (3: a sweep that could
// not list every merge request in its window, or merge requests the
// worker gave up on), or cancelled (130).
func (c *ReconcileCommand) Run(ctx context.Context, stderr io.Writer, secrets mask.Secrets) error {
	cfg, window, err := c.config(secrets)
	if err != nil {
		return err
	}
	return runReconcile(ctx, cfg, window, stderr, secrets)
}

// runReconcile is Run past the configuration.
func runReconcile(ctx context.Context, cfg config, window time.Duration, stderr io.Writer, secrets mask.Secrets) error {
	secrets = secrets.With(cfg.token)
	tally := &tally{}
	log := slog.New(tally.wrap(slog.NewJSONHandler(mask.Writer(stderr, secrets), nil)))
	svc, err := newService(cfg, log)
	if err != nil {
		return err
	}
	if err := svc.whoami(ctx); err != nil {
		return err
	}
	return svc.reconcileOnce(ctx, window, tally)
}

// config checks every setting in one pass, as serve's does.
func (c *ReconcileCommand) config(secrets mask.Secrets) (config, time.Duration, error) {
	cfg := defaultConfig()
	cfg.settle = 0 // the sweep is no burst of deliveries: nothing to wait for
	var errs settingErrors
	c.Shared.config(&cfg, secrets, errs.add)
	if len(cfg.watch) == 0 {
		errs.add(exit.BadSetting(settingWatch, "--watch/ECHOES_WATCH names no group or project, so there is nothing to reconcile",
			"set ECHOES_WATCH to the groups or projects (comma-separated) whose open merge requests to look at: a path such as my-group, or an id written group:42 or project:42"))
	}
	window, err := c.UpdatedWithin.Value(settingUpdatedWithin+"/ECHOES_UPDATED_WITHIN", secrets)
	switch {
	case err != nil:
		errs.add(err)
	case window < 0:
		errs.add(exit.BadSetting(settingUpdatedWithin, fmt.Sprintf("--updated-within/ECHOES_UPDATED_WITHIN is %s", window),
			"give 0 for every open merge request, or a duration such as 1h (at least the schedule's interval)"))
	}
	return cfg, window, joinSettings(errs)
}

// whoami asks GitLab once who the token is: a token it refuses stops the
// command at start, with the fix, before any sweep.
func (s *service) whoami(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	if _, err := s.gl.CurrentUserID(wctx); err != nil {
		switch gitlabapi.Classify(err).Kind {
		case "401":
			return &exit.Error{Code: exit.Config, Setting: settings.SettingToken,
				Cause: "GitLab refused the token (401 on GET /user): " + err.Error(),
				Fix:   "give ECHOES_GITLAB_TOKEN a valid, unexpired project, group or personal access token with the api scope", Err: err}
		case "tls":
			return &exit.Error{Code: exit.Config, Setting: "--ca-file", Cause: "GitLab's TLS certificate is not trusted: " + err.Error(),
				Fix: "point --ca-file/CI_SERVER_TLS_CA_FILE at the PEM of the CA that signed it", Err: err}
		}
		if ctx.Err() != nil {
			return errCancelled
		}
		return exit.APIError("GitLab did not say who the token is (GET /user): "+err.Error(),
			"check --gitlab-url/ECHOES_GITLAB_URL and that GitLab answers; the next run tries again", err)
	}
	return nil
}

// errCancelled is a reconcile stopped by SIGTERM or Ctrl-C.
var errCancelled = &exit.Error{Code: exit.Cancelled, Cause: "cancelled before the reconcile finished (SIGTERM or Ctrl-C)",
	Fix: "nothing to mend: the next run sweeps again"}

// reconcileOnce sweeps every watch entry once, window back from now (0:
// every open merge request), with the workers taking what the sweep
// queues as it goes; then it closes the queue, lets the workers drain it,
// and writes the summary line.
func (s *service) reconcileOnce(ctx context.Context, window time.Duration, tally *tally) error {
	start := time.Now()
	s.startWorkers()
	stop := context.AfterFunc(ctx, func() { s.queue.abandon(); s.cancelWork() })
	defer stop()

	var total sweepStats
	var failed []string
	for _, w := range s.cfg.watch {
		cur := &sweepCursor{}
		if window > 0 {
			cur.from(s.now().Add(-window))
		}
		st, err := s.sweepEntry(ctx, w, cur, "stopped_at")
		total.listed, total.queued, total.pages = total.listed+st.listed, total.queued+st.queued, total.pages+st.pages
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %s", w, err.Error()))
		}
	}
	s.queue.close()
	s.workers.Wait()
	s.cancelWork()

	n := tally.counts()
	complete := len(failed) == 0 && n.gaveUp == 0 && ctx.Err() == nil
	windowText := "all"
	if window > 0 {
		windowText = window.String()
	}
	level := slog.LevelInfo
	if !complete {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "reconcile done", "watch", s.cfg.watch, "updated_within", windowText,
		"open_mrs", total.listed, "queued", total.queued, "worked", n.worked, "retried", n.retried,
		"status_answered", n.answered, "gave_up", n.gaveUp, "complete", complete, "duration_ms", ms(time.Since(start)))

	switch {
	case ctx.Err() != nil:
		return errCancelled
	case len(failed) > 0:
		return exit.APIError("the sweep could not list every open merge request: "+strings.Join(failed, "; "),
			"see the reconcile log line above; mend what GitLab answered (or wait for it to recover), and the next scheduled run sweeps again", nil)
	case n.gaveUp > 0:
		return exit.APIError(fmt.Sprintf("GitLab failed while %d of %d merge requests were worked on (the log lines with action gave_up)", n.gaveUp, n.worked),
			"see those log lines; the next scheduled run looks at them again", nil)
	}
	return nil
}

// tally counts the worker's "delivery" lines by action as they are
// written, so that the summary says what the workers did without reaching
// into them.
type tally struct {
	mu sync.Mutex
	n  tallyCounts
}

type tallyCounts struct{ worked, retried, answered, gaveUp int }

func (t *tally) counts() tallyCounts { t.mu.Lock(); defer t.mu.Unlock(); return t.n }

func (t *tally) wrap(h slog.Handler) slog.Handler { return tallyHandler{h, t} }

type tallyHandler struct {
	slog.Handler
	t *tally
}

func (h tallyHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "delivery" {
		var action string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "action" {
				action = a.Value.String()
				return false
			}
			return true
		})
		h.t.mu.Lock()
		h.t.n.worked++
		for _, a := range strings.Split(action, "+") {
			switch {
			case a == "retried":
				h.t.n.retried++
			case strings.HasPrefix(a, "status_"):
				h.t.n.answered++
			case a == "gave_up" || a == "abandoned":
				h.t.n.gaveUp++
			}
		}
		h.t.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h tallyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return tallyHandler{h.Handler.WithAttrs(as), h.t}
}

func (h tallyHandler) WithGroup(name string) slog.Handler {
	return tallyHandler{h.Handler.WithGroup(name), h.t}
}
