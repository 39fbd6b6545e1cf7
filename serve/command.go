// Package serve is `echoes-labels serve`: a small, stateless HTTP service
// that receives GitLab's merge request, job and pipeline events and
// status check requests, authenticates them within byte budgets, and
// queues the merge request they name for the engine (package rerun),
// which makes the label job's verdict and our status checks follow the
// labels, read from GitLab; a periodic sweep of the open merge requests
// catches the events that were lost. It serves the probes and /metrics,
// and drains on SIGTERM. It keeps no state on disk.
package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/rerun"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Command is `echoes-labels serve`. The flag and variable names are the
// public interface (README, "Turn green without a retry").
type Command struct {
	Listen        string `name:"listen" env:"ECHOES_LISTEN" default:":8080" help:"Address to listen on."`
	HealthListen  string `name:"health-listen" env:"ECHOES_HEALTH_LISTEN" placeholder:"ADDR" help:"Also serve the probes and /metrics here (own cap: 64)."`
	rerun.Flags   `embed:"" set:"watch_help=to act on, and nothing else"`
	WebhookSecret string `name:"webhook-secret" env:"ECHOES_WEBHOOK_SECRET" placeholder:"SECRET" help:"Required, 16+ characters: the webhook and status check secret."`
	// ReconcileInterval keeps a malformed value for config, which reports it with a fix.
	ReconcileInterval settings.Duration `name:"reconcile-interval" env:"ECHOES_RECONCILE_INTERVAL" default:"5m" help:"How often to sweep --watch (0: never)."`

	// the intake's
	QueueSize           int               `name:"queue-size" env:"ECHOES_QUEUE_SIZE" default:"4096" help:"Merge requests waiting at most (a quarter for the sweep)."`
	MaxSignedBody       int64             `name:"max-signed-body" env:"ECHOES_MAX_SIGNED_BODY" default:"1048576" placeholder:"BYTES" help:"Bytes read before a signature check."`
	ShutdownDelay       settings.Duration `name:"shutdown-delay" env:"ECHOES_SHUTDOWN_DELAY" default:"5s" help:"After SIGTERM, keep answering this long before the drain."`
	WebhookSigningToken string            `name:"webhook-signing-token" env:"ECHOES_WEBHOOK_SIGNING_TOKEN" placeholder:"whsec_…" help:"Signed webhooks' token (GitLab 19.0+; default: the secret)."`
}

// minSecret is the shortest webhook secret or signing key taken, in
// bytes: a shorter one could be guessed from the outside.
const minSecret = 16

// The settings a configuration error of serve names.
const (
	settingListen    = "--listen"
	settingHealth    = "--health-listen"
	settingSecret    = "--webhook-secret"
	settingReconcile = "--reconcile-interval"
	settingQueueSize = "--queue-size"
	settingMaxSigned = "--max-signed-body"
	settingDelay     = "--shutdown-delay"
	settingSigning   = "--webhook-signing-token"
)

// Run serves until ctx is done (SIGTERM, SIGINT), then stops accepting,
// finishes the work in flight within 20 s and returns nil. Every log line
// goes to stderr masked with secrets, the token and the webhook secret.
// Its errors are *exit.Error: a configuration error (every bad setting
// at once), a listen failure (--listen), or the server failing after it
// started (exit.Config, its cause in the log).
func (c *Command) Run(ctx context.Context, stderr io.Writer, secrets mask.Secrets) error {
	cfg, err := c.config(secrets)
	if err != nil {
		return err
	}
	secrets = secrets.With(cfg.engine.Token, string(cfg.secret), strings.TrimSpace(c.WebhookSigningToken))
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return exit.BadSetting(settingListen,
			secrets.Mask(fmt.Sprintf("cannot listen on --listen/ECHOES_LISTEN %q: %v", cfg.listen, err)),
			"give a free address such as :8080 (ports below 1024 need privileges the image does not have)")
	}
	var healthLn net.Listener
	if cfg.healthListen != "" {
		if healthLn, err = net.Listen("tcp", cfg.healthListen); err != nil {
			_ = ln.Close()
			return exit.BadSetting(settingHealth,
				secrets.Mask(fmt.Sprintf("cannot listen on --health-listen/ECHOES_HEALTH_LISTEN %q: %v", cfg.healthListen, err)),
				"give a free address other than --listen's, such as :8081, or leave it empty")
		}
	}
	closeAll := func() {
		_ = ln.Close()
		if healthLn != nil {
			_ = healthLn.Close()
		}
	}
	log := slog.New(slog.NewJSONHandler(mask.Writer(stderr, secrets), nil))
	svc, err := newService(cfg, log)
	if err != nil {
		closeAll()
		return err
	}
	svc.healthLn = healthLn
	if err := svc.startupCheck(ctx); err != nil {
		closeAll()
		return err
	}
	if err := svc.serve(ctx, ln); err != nil {
		return &exit.Error{Code: exit.Config, Cause: secrets.Clip("the service stopped: "+err.Error(), 300),
			Fix: "see the log lines above; restart it once the cause is mended", Err: err}
	}
	return nil
}

// config checks every setting in one pass and turns them into the
// service's configuration. Every bad or missing setting is reported, in
// one error with one cause line and one fix line.
func (c *Command) config(secrets mask.Secrets) (config, error) {
	cfg := defaultConfig()
	var errs exit.Settings
	bad := errs.Add

	cfg.secret = []byte(strings.TrimSpace(c.WebhookSecret))
	switch n := len(cfg.secret); {
	case n == 0:
		bad(exit.BadSetting(settingSecret, "--webhook-secret/ECHOES_WEBHOOK_SECRET is not set",
			"set ECHOES_WEBHOOK_SECRET to the secret token you give the GitLab webhook (and the shared secret of the status check): without it anyone could drive the service"))
	case n < minSecret:
		bad(exit.BadSetting(settingSecret, fmt.Sprintf("--webhook-secret/ECHOES_WEBHOOK_SECRET is %d characters, under %d: it could be guessed", n, minSecret),
			"make one with `openssl rand -hex 32` and give it to ECHOES_WEBHOOK_SECRET and to the GitLab webhook (and the status check)"))
	}
	c.Flags.Config(&cfg.engine, secrets, bad)
	cfg.listen = c.Listen
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad(exit.BadSetting(settingListen, fmt.Sprintf("--listen/ECHOES_LISTEN %s is not host:port", secrets.Quote(c.Listen, 80)),
			"give an address such as :8080 or 127.0.0.1:8080"))
	}
	cfg.healthListen = strings.TrimSpace(c.HealthListen)
	if cfg.healthListen != "" {
		if _, _, err := net.SplitHostPort(cfg.healthListen); err != nil || cfg.healthListen == c.Listen {
			bad(exit.BadSetting(settingHealth, fmt.Sprintf("--health-listen/ECHOES_HEALTH_LISTEN %s is not a host:port other than --listen's", secrets.Quote(cfg.healthListen, 80)),
				"give an address such as :8081, or leave it empty to serve the probes on --listen only"))
		}
	}
	interval, err := c.ReconcileInterval.Value(settingReconcile+"/ECHOES_RECONCILE_INTERVAL", secrets)
	switch {
	case err != nil:
		bad(err)
	case interval < 0 || (interval > 0 && interval < time.Second):
		bad(exit.BadSetting(settingReconcile, fmt.Sprintf("--reconcile-interval/ECHOES_RECONCILE_INTERVAL is %s", interval),
			"give 0 to turn reconciling off, or a duration of a second or more such as 5m"))
	}
	cfg.engine.Interval = interval
	if interval > 0 {
		cfg.engine.CheckTTL = min(interval, cfg.engine.CheckTTL)
	}

	// the intake's
	cfg.engine.QueueSize = c.QueueSize
	if c.QueueSize < 1 {
		bad(exit.BadSetting(settingQueueSize, fmt.Sprintf("--queue-size/ECHOES_QUEUE_SIZE is %d", c.QueueSize),
			"give the number of merge requests that may wait, 4096 by default"))
	}
	cfg.maxSignedBody = c.MaxSignedBody
	if c.MaxSignedBody < 1<<10 || c.MaxSignedBody > cfg.signedPool {
		bad(exit.BadSetting(settingMaxSigned, fmt.Sprintf("--max-signed-body/ECHOES_MAX_SIGNED_BODY is %d bytes", c.MaxSignedBody),
			fmt.Sprintf("give a size in bytes from 1024 to %d (the pool all such bodies share), 1048576 by default", cfg.signedPool)))
	}
	delay, err := c.ShutdownDelay.Value(settingDelay+"/ECHOES_SHUTDOWN_DELAY", secrets)
	switch {
	case err != nil:
		bad(err)
	case delay < 0 || delay > time.Minute:
		bad(exit.BadSetting(settingDelay, fmt.Sprintf("--shutdown-delay/ECHOES_SHUTDOWN_DELAY is %s", delay),
			"give 0 to drain at once, or a pause such as 5s (a minute at most)"))
	}
	cfg.shutdownDelay = delay
	signing := strings.TrimSpace(c.WebhookSigningToken)
	if signing == "" {
		signing = string(cfg.secret)
	}
	switch cfg.signingKey, err = signingKey(signing); {
	case err != nil:
		bad(exit.BadSetting(settingSigning, "--webhook-signing-token/ECHOES_WEBHOOK_SIGNING_TOKEN (or the secret): "+err.Error(),
			"copy the signing token from the webhook's settings as GitLab shows it: whsec_ then base64"))
	case strings.TrimSpace(c.WebhookSigningToken) != "" && len(cfg.signingKey) < minSecret:
		bad(exit.BadSetting(settingSigning, fmt.Sprintf("--webhook-signing-token/ECHOES_WEBHOOK_SIGNING_TOKEN is a key of %d bytes, under %d: it could be guessed", len(cfg.signingKey), minSecret),
			"copy the signing token from the webhook's settings as GitLab shows it (whsec_ then the base64 of 32 bytes), or make one with `openssl rand -hex 32`"))
	case len(cfg.secret) >= minSecret && len(cfg.signingKey) < minSecret:
		// A secret written whsec_… is a signing token too: its key is
		// what it decodes to, which may be short whatever its length.
		bad(exit.BadSetting(settingSecret, fmt.Sprintf("--webhook-secret/ECHOES_WEBHOOK_SECRET is a signing token (whsec_…) whose key is %d bytes, under %d: it could be guessed", len(cfg.signingKey), minSecret),
			"make a secret with `openssl rand -hex 32` (no whsec_), or give a signing token of 32 bytes"))
	}
	return cfg, errs.Err()
}
