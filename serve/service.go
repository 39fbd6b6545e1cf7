package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// config is the service's whole configuration: the flags, checked, and
// the tunables tests shorten.
type config struct {
	listen string
	// healthListen, when set, is a second address serving only the probes
	// and /metrics, with a cap of its own (healthConns).
	healthListen string
	gitlabURL    string // the API root, parsed
	token        string
	caFile       string // --ca-file
	secret       []byte
	jobName      string
	watch        []string     // what the sweep lists: each entry's ref (path or id)
	allow        []watchEntry // --watch as the intake's allow-list; none: every project
	interval     time.Duration
	// signingKey is the HMAC key of Standard Webhooks signatures: from
	// --webhook-signing-token, else the webhook secret (see signingKey).
	signingKey []byte
	rules      check.Options
	docsURL    string

	workers   int           // tasks worked on at once
	queueSize int           // merge requests waiting at most
	settle    time.Duration // a merge request's first delivery waits this long for the rest of its burst
	// jitter adds a random wait of up to its argument (settle) to each
	// task's settle, so that two replicas given one update's pair of
	// deliveries (the merge request hook, the status check request) act
	// at different moments; tests make it 0.
	jitter func(max time.Duration) time.Duration
	// rereadJobs: the jobs read longer ago than this are read again just
	// before a retry, which another replica may have made meanwhile.
	rereadJobs time.Duration
	maxBody    int64         // bytes from an authenticated sender (X-Gitlab-Token); past it, 413
	authPool   int64         // bytes of authenticated bodies being read at once, all requests together
	bodyWait   time.Duration // an authenticated body waits this long for room in authPool
	// A sender not yet authenticated (a signature to check) has its body
	// read into a fixed pool: each body up to maxSignedBody, all together
	// up to signedPool; past it, 503 at once.
	maxSignedBody int64
	signedPool    int64
	bodyStall     time.Duration // such a body may stall this long at most (minRate)
	maxConns      int           // connections open at once; past it the oldest waiting for headers is closed (connGuard)
	idleTimeout   time.Duration // an idle keep-alive connection is closed after this
	shutdownDelay time.Duration // SIGTERM: keep answering (not ready) this long before the drain
	attempts      int           // tries of one task when GitLab faults; each call is one HTTP request
	budget        time.Duration // one task's time, its tries and waits included
	backoff       time.Duration // first wait after a fault, doubled each time
	maxWait       time.Duration // longest backoff between tries; a Retry-After is waited as asked, if the budget allows
	callTimeout   time.Duration // one try's GitLab calls
	drain         time.Duration // SIGTERM: time to finish the work in flight
	overlap       time.Duration // each sweep re-reads this much before the last
	sweepPage     int64         // merge requests a page of a sweep (GitLab's most: 100)

	// the worker's
	statusCheckName string        // --status-check-name: the checks that are ours
	retryForks      bool          // --retry-forks: act on fork merge requests' pipelines too
	checkTTL        time.Duration // how long a project's "has a check of ours" is believed
	perProject      int           // tasks of one project in flight at most; 0: ⌈workers/2⌉
}

func defaultConfig() config {
	return config{
		workers:   4,
		queueSize: 4096,
		settle:    time.Second,
		jitter: func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max + 1)
		},
		rereadJobs: 200 * time.Millisecond,
		// GitLab sends no body past 25 MB (REQUEST_BODY_SIZE_LIMIT): a big
		// pipeline event, a description of 1 MiB twice over.
		maxBody:       25 << 20,
		authPool:      32 << 20,
		bodyWait:      3 * time.Second,
		maxSignedBody: 1 << 20,
		signedPool:    16 << 20,
		bodyStall:     bodyStall,
		maxConns:      256,
		idleTimeout:   5 * time.Second,
		shutdownDelay: 5 * time.Second,
		attempts:      4,
		budget:        20 * time.Second,
		backoff:       500 * time.Millisecond,
		maxWait:       8 * time.Second,
		callTimeout:   10 * time.Second,
		drain:         20 * time.Second,
		overlap:       time.Minute,
		sweepPage:     100,

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
	// refusals bounds the log lines of deliveries not queued (ratelog.go).
	refusals *refusalLog

	// workCtx bounds the GitLab calls of the workers; cancelled when the
	// drain time after SIGTERM is over.
	// healthLn, when set (--health-listen), serves the probes and
	// /metrics beside ln, with a cap of its own: connections that fill
	// listen's cap cannot starve the kubelet.
	healthLn    net.Listener
	healthGuard atomic.Pointer[connGuard] // healthLn's cap, once serving (tests)

	workCtx    context.Context
	cancelWork context.CancelFunc
	workers    sync.WaitGroup

	groups sync.Map // watch entry → "group" or "project", learnt on the first sweep

	checks checkCache // the worker's: which projects have a status check of ours

	// Bytes of bodies being read: authenticated senders', and the fixed
	// pool of senders whose signature is not checked yet.
	authBody, signedBody *byteBudget

	// Readiness: the start-up check with GitLab succeeded (checkGitLab),
	// and no SIGTERM yet.
	startedOK    atomic.Bool
	tokenOK      bool // GitLab accepted the token; only the start-up check's goroutine touches it
	tokenPending bool // the start-up check failed for a reason worth trying again
	draining     atomic.Bool

	// groupPaths holds the full path of each group:ID --watch entry (id →
	// path), which the start-up check asks GitLab (checkGitLab). Payloads
	// name a project's path, never its group's id, so a delivery is
	// matched against a group:ID entry through it.
	groupPaths sync.Map
}

// watchGroupPath is the full path of group id, "" while unknown (the
// service is not ready until every group:ID entry's path is known).
func (s *service) watchGroupPath(id int64) string {
	if v, ok := s.groupPaths.Load(id); ok {
		p, _ := v.(string)
		return p
	}
	return ""
}

func newService(cfg config, log *slog.Logger) (*service, error) {
	gl, err := newGitLab(cfg)
	if err != nil {
		return nil, err
	}
	s := &service{cfg: cfg, log: log, gl: gl, queue: newQueue(cfg.queueSize, cfg.settle, perProjectLimit(cfg)), now: time.Now}
	s.queue.jitter = cfg.jitter
	s.refusals = newRefusalLog(log, time.Now)
	s.metrics = newMetrics(s.queue.depth)
	// One address may take a quarter of the pool of bodies not yet
	// authenticated (and always room for one body at the cap).
	s.authBody, s.signedBody = newByteBudget(cfg.authPool), newSharedBudget(cfg.signedPool, max(cfg.signedPool/4, cfg.maxSignedBody+1))
	s.workCtx, s.cancelWork = context.WithCancel(context.Background())
	return s, nil
}

// handler routes the endpoints of --listen: the webhook, the probes and
// /metrics.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pathWebhook, s.webhook)
	s.probes(mux)
	return mux
}

// healthHandler routes the endpoints of --health-listen: the probes and
// /metrics, no webhook.
func (s *service) healthHandler() http.Handler {
	mux := http.NewServeMux()
	s.probes(mux)
	return mux
}

// probes adds /healthz, /livez, /readyz and /metrics to mux.
func (s *service) probes(mux *http.ServeMux) {
	live := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("GET "+pathHealthz, live)
	mux.HandleFunc("GET "+pathLivez, live)
	mux.HandleFunc("GET "+pathReadyz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if why := s.notReady(); why != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+why+"\n")
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET "+pathMetrics, s.metrics.handler())
}

// notReady says why the service should get no new traffic, "" when it
// should: the start-up check with GitLab has not succeeded yet, or it is
// stopping.
func (s *service) notReady() string {
	switch {
	case s.draining.Load():
		return "stopping"
	case !s.startedOK.Load():
		return "GitLab has not accepted the token, or told the path of each --watch group:ID, yet"
	}
	return ""
}

// Endpoint paths, also named by deploy/ (probes) and the README.
// /healthz and /livez are liveness (200 while the process serves);
// /readyz is readiness (Kubernetes sends traffic only while it is 200).
const (
	pathWebhook = "/webhook"
	pathHealthz = "/healthz"
	pathLivez   = "/livez"
	pathReadyz  = "/readyz"
	pathMetrics = "/metrics"
)

// checkGitLab is the start-up check: it asks GitLab who the token is
// (GET /user), then the full path of each group:ID --watch entry (GET
// /groups/:id), without which no delivery could be matched against that
// entry. The service is ready once both are done. A step done is not
// redone when the check is tried again.
func (s *service) checkGitLab(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	if !s.tokenOK {
		id, err := s.gl.CurrentUserID(ctx)
		if err != nil {
			return err
		}
		s.tokenOK = true
		s.log.Info("gitlab accepted the token", "user_id", id)
	}
	for _, w := range s.cfg.allow {
		if w.kind != watchGroupID || s.watchGroupPath(w.id) != "" {
			continue
		}
		p, err := s.gl.GroupPath(ctx, w.id)
		if err != nil {
			return fmt.Errorf("reading the path of --watch %s: %w", w, err)
		}
		s.groupPaths.Store(w.id, p)
		s.log.Info("watch group resolved", "watch", w.String(), "path", p)
	}
	s.startedOK.Store(true)
	return nil
}

// startupCheck is Run's first check with GitLab (checkGitLab): a token
// GitLab refuses (401) stops the service with the fix; a GitLab that does
// not answer, or a group it does not show, is logged, and serve tries
// again in the background, not ready meanwhile.
func (s *service) startupCheck(ctx context.Context) error {
	err := s.checkGitLab(ctx)
	switch {
	case err == nil:
		return nil
	case !s.tokenOK && gitlabapi.StatusOf(err) == http.StatusUnauthorized:
		return exit.BadSetting(settings.SettingToken, "GitLab refused the token (401): "+err.Error(),
			"give ECHOES_GITLAB_TOKEN a valid, unexpired access token with the api scope (a project, group or personal access token)")
	}
	s.tokenPending = true
	s.log.Warn("gitlab did not pass the start-up check; not ready, trying again in the background",
		"kind", gitlabapi.Classify(err).Kind, "error", err.Error())
	return nil
}

// retryStartupCheck runs checkGitLab again, with backoff, until it
// succeeds or ctx ends. A 401 or 404 now is logged at ERROR each time: the
// pod stays not ready, which its readiness probe shows.
func (s *service) retryStartupCheck(ctx context.Context) {
	for attempt := 0; ; attempt++ {
		if clock.Sleep(ctx, expBackoff(time.Second, 30*time.Second, attempt)) != nil {
			return
		}
		err := s.checkGitLab(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		level := slog.LevelWarn
		switch gitlabapi.StatusOf(err) {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "gitlab start-up check failed; not ready", "kind", gitlabapi.Classify(err).Kind, "error", err.Error(), "attempt", attempt+2)
	}
}

// startWorkers runs cfg.workers workers until the queue is closed and
// drained.
func (s *service) startWorkers() {
	for range s.cfg.workers {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			s.work()
		}()
	}
}

// start runs the workers and the reconcile loop.
func (s *service) start(ctx context.Context) (stopReconcile func()) {
	s.startWorkers()
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
		Handler: s.handler(),
		// Short: a request's headers come in one packet; a body of 25 MB
		// from GitLab in well under 15 s; a body not yet authenticated
		// gets 5 s (readDelivery). Idle keep-alive connections close in
		// seconds, and at most maxConns are open at once.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       s.cfg.idleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	guard := newConnGuard(ln, s.cfg.maxConns)
	srv.ConnState, srv.ConnContext, ln = guard.track, withConn, guard
	stopReconcile := s.start(ctx)
	if s.tokenPending {
		go s.retryStartupCheck(ctx)
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	var health *http.Server
	if s.healthLn != nil {
		// Probes and scrapes only: small requests, answered at once.
		health = &http.Server{
			Handler:           s.healthHandler(),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       5 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       30 * time.Second,
			MaxHeaderBytes:    8 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		hguard := newConnGuard(s.healthLn, healthConns)
		hguard.perClient = healthConns / 4
		health.ConnState = hguard.track
		s.healthGuard.Store(hguard)
		go func() { errc <- health.Serve(hguard) }()
		s.log.Info("health endpoints listening", "addr", s.healthLn.Addr().String())
	}
	reconcile := []any{"reconcile_interval", s.cfg.interval.String()}
	if off := reconcileOffReason(s.cfg); off != "" {
		reconcile = []any{"reconcile", "off: " + off}
	}
	s.log.Info("listening", append([]any{"addr", ln.Addr().String(), "gitlab", redacted(s.cfg.gitlabURL), "job", s.cfg.jobName,
		"watch", s.cfg.watch}, reconcile...)...)

	var serveErr error
	select {
	case <-ctx.Done():
		// A rollout: the endpoint is still in the load balancer for a
		// moment after SIGTERM. Keep answering, not ready, so that those
		// deliveries are taken, not refused; then drain.
		s.draining.Store(true)
		if s.cfg.shutdownDelay > 0 {
			s.log.Info("stopping after the shutdown delay; not ready, still answering", "shutdown_delay", s.cfg.shutdownDelay.String())
			select {
			case <-time.After(s.cfg.shutdownDelay):
			case serveErr = <-errc:
			}
		}
	case serveErr = <-errc:
	}
	s.draining.Store(true)
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
	if health != nil {
		// Liveness answered until the work is done; then the probes stop.
		hctx, hcancel := context.WithTimeout(context.Background(), time.Second)
		if health.Shutdown(hctx) != nil {
			_ = health.Close()
		}
		hcancel()
	}
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
