// Package rerun is the engine behind `echoes-labels serve` and
// `echoes-labels reconcile`: it keeps the label job's verdict and our
// external status checks following the merge requests' labels, read from
// GitLab. It holds the queue of merge requests to look at, the workers
// that read GitLab into a snapshot, decide (decide.go, pure functions) and
// write what the decision names, the sweep of the open merge requests of
// --watch, and the watch list. It returns what it did per merge request as
// values (Result, Counts); it keeps no state on disk.
//
// When the labels changed after the label job of the merge request's head
// pipeline (a merge request pipeline; never a child pipeline) read them, and its result is not
// their verdict (failed while they pass, success while they fail), it
// retries that job, once per label change; it answers the external status
// checks that are its own passed or failed.
package rerun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Config is the engine's whole configuration: the shared flags, checked
// (Flags.Config), and the tunables tests shorten.
type Config struct {
	GitLabURL string // the API root, parsed
	Token     string
	CAFile    string // --ca-file
	JobName   string
	Watch     []WatchEntry // --watch, parsed once: what the sweep lists and the allow-list (none: every project)
	Rules     check.Options
	DocsURL   string

	StatusCheckName string        // --status-check-name: the checks that are ours
	RetryForks      bool          // --retry-forks: act on fork merge requests' pipelines too
	CheckTTL        time.Duration // how long a project's "has a check of ours" is believed

	Workers    int           // tasks worked on at once
	QueueSize  int           // merge requests waiting at most
	PerProject int           // tasks of one project in flight at most; 0: ⌈workers/2⌉
	Settle     time.Duration // a merge request's first delivery waits this long for the rest of its burst
	// Jitter adds a random wait of up to its argument (Settle) to each
	// task's settle, so that two replicas given one update's pair of
	// deliveries (the merge request hook, the status check request) act
	// at different moments; tests make it nil.
	Jitter func(max time.Duration) time.Duration
	// RereadJobs: the jobs read longer ago than this are read again just
	// before a retry, which another replica may have made meanwhile.
	RereadJobs  time.Duration
	Attempts    int           // tries of one task when GitLab faults; each call is one HTTP request
	Budget      time.Duration // one task's time, its tries and waits included
	Backoff     time.Duration // first wait after a fault, doubled each time
	MaxWait     time.Duration // longest backoff between tries; a Retry-After is waited as asked, if the budget allows
	CallTimeout time.Duration // one try's GitLab calls
	Interval    time.Duration // serve's sweep: every this long (0: none)
	Overlap     time.Duration // each sweep re-reads this much before the last
	SweepPage   int64         // merge requests a page of a sweep (GitLab's most: 100)

	// Clock is time as the engine sees it: the wall clock, a fake in tests.
	Clock clock.Clock
	// OnResult, when set, is told each result as it is counted (serve's
	// processing-time histogram).
	OnResult func(Result)
}

// DefaultConfig is the configuration before the flags.
func DefaultConfig() Config {
	return Config{
		StatusCheckName: DefaultStatusCheckName,
		CheckTTL:        time.Minute,
		Workers:         4,
		QueueSize:       4096,
		Settle:          time.Second,
		Jitter: func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max + 1)
		},
		RereadJobs:  200 * time.Millisecond,
		Attempts:    4,
		Budget:      20 * time.Second,
		Backoff:     500 * time.Millisecond,
		MaxWait:     8 * time.Second,
		CallTimeout: 10 * time.Second,
		Overlap:     time.Minute,
		SweepPage:   100,
		Clock:       clock.Real{},
	}
}

// DefaultStatusCheckName is --status-check-name's default.
const DefaultStatusCheckName = "echoes-labels"

// Engine is the queue, its workers and the sweep of one command run.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	gl    *gitlabapi.Client
	queue *queue
	clock clock.Clock

	// workCtx bounds the GitLab calls of the workers; cancelled when the
	// drain time after SIGTERM is over.
	workCtx    context.Context
	cancelWork context.CancelFunc
	workers    sync.WaitGroup

	groups sync.Map   // watch entry → "group" or "project", learnt on the first sweep
	checks checkCache // the worker's: which projects have a status check of ours

	// groupPaths holds the full path of each group:ID --watch entry (id →
	// path), which ResolveGroups asks GitLab. Payloads name a project's
	// path, never its group's id, so a delivery is matched against a
	// group:ID entry through it.
	groupPaths sync.Map

	counts counter
}

// New is an engine for cfg, its GitLab client built; its workers start
// with Start.
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	gl, err := newGitLab(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	e := &Engine{cfg: cfg, log: log, gl: gl, clock: cfg.Clock,
		queue: newQueue(cfg.QueueSize, cfg.Settle, perProjectLimit(cfg))}
	e.queue.jitter = cfg.Jitter
	e.counts.init()
	e.workCtx, e.cancelWork = context.WithCancel(context.Background())
	return e, nil
}

// Start runs cfg.Workers workers until the queue is closed and drained.
func (e *Engine) Start() {
	for range e.cfg.Workers {
		e.workers.Add(1)
		go func() {
			defer e.workers.Done()
			e.work()
		}()
	}
}

// Push queues t, merging it into the waiting task of its merge request
// (merged). ok is false when the queue is full or stopping.
func (e *Engine) Push(t *Task) (merged, ok bool) { return e.queue.push(t) }

// Depth is the number of merge requests waiting.
func (e *Engine) Depth() int { return e.queue.depth() }

// Idle is true when nothing is waiting or being worked on.
func (e *Engine) Idle() bool { return e.queue.idle() }

// Counts is what the engine did so far, each merge request counted once
// per look.
func (e *Engine) Counts() Counts { return e.counts.snapshot() }

// Stop lets the workers drain the queue until deadline, then cancels
// their GitLab calls and logs what was left undone.
func (e *Engine) Stop(deadline time.Time) {
	e.queue.close()
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
		e.log.Info("stopped", "left", 0)
	case <-time.After(time.Until(deadline)):
		left := e.queue.abandon()
		e.cancelWork()
		<-done
		e.abandoned(left)
		e.log.Warn("stopped", "left", len(left))
	}
	e.cancelWork()
}

// abandoned logs and counts the tasks a stop left undone.
func (e *Engine) abandoned(left []*Task) {
	for _, t := range left {
		e.record(t, Result{Actions: []string{ActionAbandoned}, Detail: "the service stopped before this merge request's turn"})
	}
}

// OffReason says why serve's periodic sweep does not run, "" when it does.
func OffReason(cfg Config) string {
	switch {
	case cfg.Interval <= 0:
		return "--reconcile-interval is 0"
	case len(cfg.Watch) == 0:
		return "--watch names no group or project"
	}
	return ""
}

// Allows applies --watch to a delivery for the project (its id and path,
// either may be unknown: 0, "").
func (e *Engine) Allows(projectID int64, projectPath string) bool {
	return watchAllows(e.cfg.Watch, projectID, projectPath, e.watchGroupPath)
}

// watchGroupPath is the full path of group id, "" while unknown.
func (e *Engine) watchGroupPath(id int64) string {
	if v, ok := e.groupPaths.Load(id); ok {
		p, _ := v.(string)
		return p
	}
	return ""
}

// Identify is the one start-up identity check of serve and reconcile: it
// asks GitLab who the token is (GET /user). The error is Refusal's when
// no retry can mend it (exit 2, with the fix), the call's otherwise. Once
// GitLab answered, it logs a WARN when the token's user may do more than
// it needs: an administrator, or a Maintainer or Owner of a watched group
// or project (checkAccess).
func (e *Engine) Identify(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	u, err := e.gl.CurrentUser(cctx)
	if err != nil {
		if r := Refusal(err); r != nil {
			return r
		}
		return err
	}
	e.log.Info("gitlab accepted the token", "user_id", u.ID)
	if u.Admin {
		e.log.Warn("the token's user is a GitLab administrator: a retry runs the job, and the later-stage jobs it un-skips, as that user, who may deploy anywhere",
			"user_id", u.ID, "fix", tooPowerful)
	}
	e.checkAccess(ctx, u.ID)
	return nil
}

// tooPowerful is the fix of a token whose user may do more than retry jobs.
const tooPowerful = "give the service its own bot user (or a group or project access token) with the Developer role, a member of the watched groups only, with no right to deploy to protected environments"

// checkAccess logs a WARN for each --watch entry where the token's user
// is Maintainer or Owner (GitLab's members API, inherited membership
// included): a retried job runs as that user. It makes one read per entry
// (a plain path that is not a group: a second, as a project, and what it
// is is learnt for the sweep), with no retry; a read that fails is a WARN,
// never a stop.
func (e *Engine) checkAccess(ctx context.Context, user int64) {
	for _, w := range e.cfg.Watch {
		level, kind, err := e.accessIn(ctx, w, user)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			e.log.Warn("could not read the token's role in a watched group or project", "watch", w.String(),
				"kind", gitlabapi.Classify(err).Kind, "error", err.Error(),
				"fix", "check that the token's user is no more than Developer there: a retry runs jobs as that user")
		case level >= maintainerAccess:
			e.log.Warn("the token's user is "+accessName(level)+" of a watched "+kind+": a retry runs the job, and the later-stage jobs it un-skips, as that user",
				"watch", w.String(), "access_level", level, "fix", tooPowerful)
		}
	}
}

// maintainerAccess is GitLab's access level of a Maintainer; 50 is an Owner.
const maintainerAccess = 40

func accessName(level int) string {
	if level >= 50 {
		return "Owner"
	}
	return "Maintainer"
}

// accessIn reads the user's access level in the entry's group or project
// (0: not a member), and says which it is.
func (e *Engine) accessIn(ctx context.Context, w WatchEntry, user int64) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	group, known := w.isGroup()
	if known && !group {
		level, err := e.gl.ProjectAccess(ctx, w.ref(), user)
		return level, "project", err
	}
	level, err := e.gl.GroupAccess(ctx, w.ref(), user)
	if known || err == nil {
		if !known {
			e.groups.Store(w, "group")
		}
		return level, "group", err
	}
	if gitlabapi.StatusOf(err) != http.StatusNotFound {
		return 0, "group", err
	}
	// Not a group (or not one the token sees): a project, maybe.
	level, err = e.gl.ProjectAccess(ctx, w.ref(), user)
	if err == nil {
		e.groups.Store(w, "project")
	}
	return level, "project", err
}

// IdentifyRetried is Identify tried again while GitLab's failure is
// transient (a 5xx, a 429, no answer), as every other call of a sweep:
// up to cfg.Attempts tries within cfg.Budget, through the one retry loop
// (reconcile's start, which has no background retry as serve does).
func (e *Engine) IdentifyRetried(ctx context.Context) error {
	return e.retry(ctx, retryPlan{attempts: e.cfg.Attempts, deadline: e.clock.Now().Add(e.cfg.Budget), lo: e.cfg.Backoff, hi: e.cfg.MaxWait,
		again: transient,
		waiting: func(err error, attempt int, wait time.Duration) {
			e.log.Info("gitlab fault; trying again", "call", "GET /user", "kind", gitlabapi.Classify(err).Kind, "attempt", attempt,
				"wait_ms", ms(wait), "error", err.Error())
		},
	}, e.Identify)
}

// Refusal is the configuration error (exit 2) of a start-up identity
// check no retry can mend: a token GitLab refuses (401), a certificate
// not trusted; nil for any other error.
func Refusal(err error) *exit.Error {
	switch gitlabapi.Classify(err).Kind {
	case "401":
		return &exit.Error{Code: exit.Config, Setting: settings.SettingToken,
			Cause: "GitLab refused the token (401 on GET /user): " + err.Error(),
			Fix:   "give ECHOES_GITLAB_TOKEN a valid, unexpired project, group or personal access token with the api scope", Err: err}
	case "tls":
		return &exit.Error{Code: exit.Config, Setting: "--ca-file", Cause: "GitLab's TLS certificate is not trusted: " + err.Error(),
			Fix: "point --ca-file/CI_SERVER_TLS_CA_FILE at the PEM of the CA that signed it", Err: err}
	}
	return nil
}

// Settled reports whether err, from a start-up check with GitLab, is
// the check's last word: nil (it passed) or an *exit.Error (what no retry
// can mend, a token refused or a certificate not trusted: returned, it
// stops the command with its fix). Any other error a retry may mend.
func Settled(err error) bool {
	var refused *exit.Error
	return err == nil || errors.As(err, &refused)
}

// ResolveGroups asks GitLab the full path of each group:ID --watch entry
// not known yet (GET /groups/:id), without which no delivery could be
// matched against that entry.
func (e *Engine) ResolveGroups(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CallTimeout)
	defer cancel()
	for _, w := range e.cfg.Watch {
		if w.kind != watchGroupID || e.watchGroupPath(w.id) != "" {
			continue
		}
		p, err := e.gl.GroupPath(ctx, w.id)
		if err != nil {
			return fmt.Errorf("reading the path of --watch %s: %w", w, err)
		}
		e.groupPaths.Store(w.id, p)
		e.log.Info("watch group resolved", "watch", w.String(), "path", p)
	}
	return nil
}

// RetryUntil runs step again, with backoff from 1 s to 30 s, until it
// succeeds or ctx ends; failed is told each failure (serve's start-up
// check, tried in the background).
func (e *Engine) RetryUntil(ctx context.Context, step func(context.Context) error, failed func(err error, attempt int)) {
	_ = e.retry(ctx, retryPlan{lo: time.Second, hi: 30 * time.Second, first: true,
		again:  func(error) bool { return true },
		failed: failed}, step)
}

// FailureLevel is the level a failed start-up step is logged at: a 401,
// 403 or 404 (the token or --watch to mend) at ERROR, others at WARN.
func FailureLevel(err error) slog.Level {
	switch gitlabapi.StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return slog.LevelError
	}
	return slog.LevelWarn
}
