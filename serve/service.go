package serve

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// config is the service's whole configuration: the engine's, and the
// HTTP intake's flags, checked, with the tunables tests shorten.
type config struct {
	engine rerun.Config

	listen string
	// healthListen, when set, is a second address serving only the probes
	// and /metrics, with a cap of its own (healthConns).
	healthListen string
	secret       []byte
	// signingKey is the HMAC key of Standard Webhooks signatures: from
	// --webhook-signing-token, else the webhook secret (see signingKey).
	signingKey []byte

	maxBody  int64         // bytes from an authenticated sender (X-Gitlab-Token); past it, 413
	authPool int64         // bytes of authenticated bodies being read at once, all requests together
	bodyWait time.Duration // an authenticated body waits this long for room in authPool
	// A sender not yet authenticated (a signature to check) has its body
	// read into a fixed pool: each body up to maxSignedBody, all together
	// up to signedPool; past it, 503 unless an old body makes room (takeFor).
	maxSignedBody int64
	signedPool    int64
	bodyStall     time.Duration // such a body may stall this long at most (minRate)
	maxConns      int           // connections open at once; past it the oldest waiting for headers is closed (connGuard)
	idleTimeout   time.Duration // an idle keep-alive connection is closed after this
	shutdownDelay time.Duration // SIGTERM: keep answering (not ready) this long before the drain
	drain         time.Duration // SIGTERM: time to finish the work in flight
}

func defaultConfig() config {
	return config{
		engine: rerun.DefaultConfig(),
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
		drain:         20 * time.Second,
	}
}

// service is one running `echoes-labels serve`: the HTTP side of the
// engine.
type service struct {
	cfg     config
	log     *slog.Logger
	engine  *rerun.Engine
	metrics *metrics
	clock   clock.Clock
	// refusals bounds the log lines of deliveries not queued (ratelog.go).
	refusals *refusalLog

	// healthLn, when set (--health-listen), serves the probes and
	// /metrics beside ln, with a cap of its own: connections that fill
	// listen's cap cannot starve the kubelet.
	healthLn    net.Listener
	healthGuard atomic.Pointer[connGuard] // healthLn's cap, once serving (tests)

	// Bytes of bodies being read: authenticated senders', and the fixed
	// pool of senders whose signature is not checked yet.
	authBody, signedBody *byteBudget

	// Readiness: the start-up check with GitLab succeeded (checkGitLab),
	// and no SIGTERM yet.
	startedOK    atomic.Bool
	tokenOK      bool        // GitLab accepted the token; only the start-up check's goroutine touches it
	tokenPending atomic.Bool // the start-up check failed for a reason worth trying again (a test sets it while serve runs)
	draining     atomic.Bool
}

func newService(cfg config, log *slog.Logger) (*service, error) {
	s := &service{cfg: cfg, log: log}
	s.metrics = newMetrics()
	cfg.engine.OnResult = s.metrics.observe
	e, err := rerun.New(cfg.engine, log)
	if err != nil {
		return nil, err
	}
	s.engine, s.clock = e, cmp.Or[clock.Clock](cfg.engine.Clock, clock.Real{})
	s.metrics.watch(e)
	s.refusals = newRefusalLog(log, s.clock.Now)
	// One address may take a quarter of the pool of bodies not yet
	// authenticated (and always room for one body at the cap).
	s.authBody, s.signedBody = newByteBudget(cfg.authPool), newSharedBudget(cfg.signedPool, max(cfg.signedPool/4, cfg.maxSignedBody+1))
	s.signedBody.now = s.clock.Now
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
// (rerun's Identify, as reconcile does), then the full path of each
// group:ID --watch entry, without which no delivery could be matched
// against that entry. The service is ready once both are done. A step
// done is not redone when the check is tried again.
func (s *service) checkGitLab(ctx context.Context) error {
	if !s.tokenOK {
		if err := s.engine.Identify(ctx); err != nil {
			return err
		}
		s.tokenOK = true
	}
	if err := s.engine.ResolveGroups(ctx); err != nil {
		return err
	}
	s.startedOK.Store(true)
	return nil
}

// startupCheck is Run's first check with GitLab (checkGitLab): what no
// retry can mend (a token GitLab refuses, a certificate not trusted) stops
// the service with the fix; a GitLab that does not answer, or a group it
// does not show, is logged, and serve tries again in the background, not
// ready meanwhile.
func (s *service) startupCheck(ctx context.Context) error {
	err := s.checkGitLab(ctx)
	if rerun.Settled(err) {
		return err
	}
	s.tokenPending.Store(true)
	s.log.Warn("gitlab did not pass the start-up check; not ready, trying again in the background",
		"kind", gitlabapi.Classify(err).Kind, "error", err.Error())
	return nil
}

// retryStartupCheck runs checkGitLab again, with backoff, until it
// succeeds or ctx ends. A 401 or 404 now is logged at ERROR each time: the
// pod stays not ready, which its readiness probe shows.
func (s *service) retryStartupCheck(ctx context.Context) {
	s.engine.RetryUntil(ctx, s.checkGitLab, func(err error, attempt int) {
		s.log.Log(ctx, rerun.FailureLevel(err), "gitlab start-up check failed; not ready", "kind", gitlabapi.Classify(err).Kind, "error", err.Error(), "attempt", attempt)
	})
}

// start runs the workers and the sweep.
func (s *service) start(ctx context.Context) (stopReconcile func()) {
	s.engine.Start()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if off := rerun.OffReason(s.cfg.engine); off == "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.engine.Loop(rctx)
		}()
	} else {
		s.log.Info("reconcile off", "reason", off)
	}
	return func() { cancel(); wg.Wait() }
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
	if s.tokenPending.Load() {
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
	reconcile := []any{"reconcile_interval", s.cfg.engine.Interval.String()}
	if off := rerun.OffReason(s.cfg.engine); off != "" {
		reconcile = []any{"reconcile", "off: " + off}
	}
	s.log.Info("listening", append([]any{"addr", ln.Addr().String(), "gitlab", redacted(s.cfg.engine.GitLabURL), "job", s.cfg.engine.JobName,
		"watch", rerun.WatchStrings(s.cfg.engine.Watch)}, reconcile...)...)

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
	s.engine.Stop(deadline)
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
