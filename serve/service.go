package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// config is the service's whole configuration: the flags, checked, and
// the tunables tests shorten.
type config struct {
	listen    string
	gitlabURL string // the API root, parsed
	token     string
	caFile    string // --ca-file
	secret    []byte
	jobName   string
	watch     []string
	interval  time.Duration
	rules     check.Options
	docsURL   string

	workers     int           // tasks worked on at once
	queueSize   int           // merge requests waiting at most
	settle      time.Duration // a merge request's first delivery waits this long for the rest of its burst
	maxBody     int64         // bytes; past it, 413
	attempts    int           // tries of one task when GitLab faults; each call is one HTTP request
	budget      time.Duration // one task's time, its tries and waits included
	backoff     time.Duration // first wait after a fault, doubled each time
	maxWait     time.Duration // longest backoff between tries; a Retry-After is waited as asked, if the budget allows
	callTimeout time.Duration // one try's GitLab calls
	drain       time.Duration // SIGTERM: time to finish the work in flight
	overlap     time.Duration // each sweep re-reads this much before the last
	sweepPage   int64         // merge requests a page of a sweep (GitLab's most: 100)

	// the worker's
	statusCheckName string        // --status-check-name: the checks that are ours
	retryForks      bool          // --retry-forks: act on fork merge requests' pipelines too
	checkTTL        time.Duration // how long a project's "has a check of ours" is believed
	perProject      int           // tasks of one project in flight at most; 0: ⌈workers/2⌉
}

func defaultConfig() config {
	return config{
		workers:     4,
		queueSize:   4096,
		settle:      time.Second,
		maxBody:     8 << 20, // a merge request event carries the description, up to 1 MiB of text, maybe twice
		attempts:    4,
		budget:      20 * time.Second,
		backoff:     500 * time.Millisecond,
		maxWait:     8 * time.Second,
		callTimeout: 10 * time.Second,
		drain:       20 * time.Second,
		overlap:     time.Minute,
		sweepPage:   100,

		statusCheckName: defaultStatusCheckName,
		checkTTL:        time.Minute,
	}
}

// service is one running `echoes-labels serve`.
type service struct {
	cfg     config
	log     *slog.Logger
	gl      *gitlabapi.Client
	queue   *queue
	metrics *metrics
	now     func() time.Time

	// workCtx bounds the GitLab calls of the workers; cancelled when the
	// drain time after SIGTERM is over.
	workCtx    context.Context
	cancelWork context.CancelFunc
	workers    sync.WaitGroup

	groups sync.Map // watch entry → "group" or "project", learnt on the first sweep

	checks checkCache // the worker's: which projects have a status check of ours
}

func newService(cfg config, log *slog.Logger) (*service, error) {
	gl, err := newGitLab(cfg)
	if err != nil {
		return nil, err
	}
	s := &service{cfg: cfg, log: log, gl: gl, queue: newQueue(cfg.queueSize, cfg.settle, perProjectLimit(cfg)), now: time.Now}
	s.metrics = newMetrics(s.queue.depth)
	s.workCtx, s.cancelWork = context.WithCancel(context.Background())
	return s, nil
}

// handler routes the three endpoints.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathWebhook, s.webhook)
	mux.HandleFunc("GET "+pathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET "+pathMetrics, s.metrics.handler())
	return mux
}

// Endpoint paths, also named by deploy/ (probes) and the README.
const (
	pathWebhook = "/webhook"
	pathHealthz = "/healthz"
	pathMetrics = "/metrics"
)

// start runs the workers and the reconcile loop.
func (s *service) start(ctx context.Context) (stopReconcile func()) {
	for range s.cfg.workers {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			s.work()
		}()
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if off := reconcileOffReason(s.cfg); off == "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.reconcileLoop(rctx)
		}()
	} else {
		s.log.Info("reconcile off", "reason", off)
	}
	return func() { cancel(); wg.Wait() }
}

// reconcileOffReason says why the reconcile does not run, "" when it does.
func reconcileOffReason(cfg config) string {
	switch {
	case cfg.interval <= 0:
		return "--reconcile-interval is 0"
	case len(cfg.watch) == 0:
		return "--watch names no group or project"
	}
	return ""
}

// serve answers on ln until ctx is done, then stops accepting, gives the
// work in flight cfg.drain to finish, and returns nil.
func (s *service) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stopReconcile := s.start(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	reconcile := []any{"reconcile_interval", s.cfg.interval.String()}
	if off := reconcileOffReason(s.cfg); off != "" {
		reconcile = []any{"reconcile", "off: " + off}
	}
	s.log.Info("listening", append([]any{"addr", ln.Addr().String(), "gitlab", redacted(s.cfg.gitlabURL), "job", s.cfg.jobName,
		"watch", s.cfg.watch}, reconcile...)...)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	deadline := time.Now().Add(s.cfg.drain)
	s.log.Info("stopping", "drain", s.cfg.drain.String())
	// Stop accepting; handlers only queue, so they end at once. Shutdown
	// also waits up to 5 s for connections a client opened but sent
	// nothing on: a short bound, then Close, keeps the drain for the work.
	sctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.drain, 2*time.Second))
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		_ = srv.Close()
	}
	stopReconcile()
	s.stopWorkers(deadline)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// stopWorkers lets the workers drain the queue until deadline, then
// cancels their GitLab calls and logs what was left undone.
func (s *service) stopWorkers(deadline time.Time) {
	s.queue.close()
	done := make(chan struct{})
	go func() { s.workers.Wait(); close(done) }()
	select {
	case <-done:
		s.log.Info("stopped", "left", 0)
	case <-time.After(time.Until(deadline)):
		left := s.queue.abandon()
		s.cancelWork()
		<-done
		for _, t := range left {
			s.logTask(t, "", "abandoned", "the service stopped before this merge request's turn", 0)
		}
		s.log.Warn("stopped", "left", len(left))
	}
	s.cancelWork()
}
