// Package serve is `echoes-labels serve` and `echoes-labels reconcile`:
// a small, stateless HTTP service that receives GitLab's merge request,
// job and pipeline events (and a one-shot sweep) and makes the label
// job's verdict follow the labels, read from GitLab. When the labels
// changed after the label job of the merge request's head pipeline (or of
// a child pipeline of it) read them, and its result is not their verdict
// (failed while they pass, success while they fail), it retries that job,
// once per label change; it answers the external status checks that are
// its own passed or failed; and a periodic sweep of the open merge
// requests catches the events that were lost. It keeps no state on disk.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Command is `echoes-labels serve`. The flag and variable names are the
// public interface (README, "Turn green without a retry").
type Command struct {
	Listen        string `name:"listen" env:"ECHOES_LISTEN" default:":8080" help:"Address to listen on."`
	HealthListen  string `name:"health-listen" env:"ECHOES_HEALTH_LISTEN" placeholder:"ADDR" help:"Also serve the probes and /metrics here, uncapped."`
	Shared        `embed:""`
	WebhookSecret string `name:"webhook-secret" env:"ECHOES_WEBHOOK_SECRET" placeholder:"SECRET" help:"Required. The webhook secret, also the status checks'."`
	// ReconcileInterval keeps a malformed value for config, which reports it with a fix.
	ReconcileInterval settings.Duration `name:"reconcile-interval" env:"ECHOES_RECONCILE_INTERVAL" default:"5m" help:"How often to sweep --watch (0: never)."`

	// the intake's
	QueueSize           int               `name:"queue-size" env:"ECHOES_QUEUE_SIZE" default:"4096" help:"Merge requests waiting at most."`
	MaxSignedBody       int64             `name:"max-signed-body" env:"ECHOES_MAX_SIGNED_BODY" default:"1048576" placeholder:"BYTES" help:"Bytes of an unauthenticated request read before its signature check."`
	ShutdownDelay       settings.Duration `name:"shutdown-delay" env:"ECHOES_SHUTDOWN_DELAY" default:"5s" help:"After SIGTERM, keep answering this long before the drain."`
	WebhookSigningToken string            `name:"webhook-signing-token" env:"ECHOES_WEBHOOK_SIGNING_TOKEN" placeholder:"whsec_…" help:"Signed webhooks' token (GitLab 19.0+). Default: the secret."`
}

// Shared are the flags serve and reconcile both read, declared once: how
// to reach GitLab, the label job, the watch list and the label rules.
type Shared struct {
	settings.GitLab `embed:"" set:"token_help=Access token with the api scope."`
	JobName         string   `name:"job-name" env:"ECHOES_JOB_NAME" default:"echoes-labels" help:"Name of the label job to retry."`
	Watch           []string `name:"watch" env:"ECHOES_WATCH" sep:"," placeholder:"GROUP|PROJECT" help:"Groups or projects, comma-separated: a path, group:ID or project:ID. serve acts on no other."`
	settings.Rules  `embed:""`

	// the worker's
	StatusCheckName string          `name:"status-check-name" env:"ECHOES_STATUS_CHECK_NAME" default:"echoes-labels" help:"The external status checks to answer."`
	RetryForks      settings.Switch `name:"retry-forks" env:"ECHOES_RETRY_FORKS" help:"Also act on merge requests from forks."`
}

// memoryLimit is the heap's soft limit unless GOMEMLIMIT says otherwise:
// under the 128 MiB of deploy/, with room for the runtime.
const memoryLimit = 100 << 20

// The settings a configuration error of serve names.
const (
	settingListen    = "--listen"
	settingHealth    = "--health-listen"
	settingSecret    = "--webhook-secret"
	settingJobName   = "--job-name"
	settingReconcile = "--reconcile-interval"
	settingQueueSize = "--queue-size"
	settingMaxSigned = "--max-signed-body"
	settingDelay     = "--shutdown-delay"
	settingSigning   = "--webhook-signing-token"

	// the worker's
	settingStatusCheckName = "--status-check-name"
	defaultStatusCheckName = "echoes-labels"
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
	secrets = secrets.With(cfg.token, string(cfg.secret), strings.TrimSpace(c.WebhookSigningToken))
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
	if os.Getenv("GOMEMLIMIT") == "" {
		// The heap's bound: the bodies being read are budgeted (48 MiB
		// at most); past this the collector works harder rather than the
		// process growing past deploy/'s 128 MiB limit.
		debug.SetMemoryLimit(memoryLimit)
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
	var errs settingErrors
	bad := errs.add

	cfg.secret = []byte(strings.TrimSpace(c.WebhookSecret))
	if len(cfg.secret) == 0 {
		bad(exit.BadSetting(settingSecret, "--webhook-secret/ECHOES_WEBHOOK_SECRET is not set",
			"set ECHOES_WEBHOOK_SECRET to the secret token you give the GitLab webhook (and the shared secret of the status check): without it anyone could drive the service"))
	}
	c.Shared.config(&cfg, secrets, bad)
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
	cfg.interval = interval
	if cfg.interval > 0 {
		cfg.checkTTL = min(cfg.interval, cfg.checkTTL)
	}

	// the intake's
	cfg.queueSize = c.QueueSize
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
	if cfg.signingKey, err = signingKey(signing); err != nil {
		bad(exit.BadSetting(settingSigning, "--webhook-signing-token/ECHOES_WEBHOOK_SIGNING_TOKEN (or the secret): "+err.Error(),
			"copy the signing token from the webhook's settings as GitLab shows it: whsec_ then base64"))
	}
	return cfg, joinSettings(errs)
}

// config checks the shared settings into cfg, reporting each bad one to
// bad.
func (c *Shared) config(cfg *config, secrets mask.Secrets, bad func(error)) {
	token, err := c.CleanToken()
	switch {
	case err != nil:
		bad(err)
	case token == "":
		bad(exit.BadSetting(settings.SettingToken, "--token/ECHOES_GITLAB_TOKEN (or GITLAB_TOKEN) is not set",
			"create a project, group or personal access token with the api scope and pass it in ECHOES_GITLAB_TOKEN"))
	}
	cfg.token = token
	if u, err := gitlabapi.ParseBaseURL(c.GitLabURL); err != nil {
		bad(err)
	} else {
		cfg.gitlabURL = u.String()
	}
	cfg.caFile = c.CAFile
	cfg.jobName = strings.TrimSpace(c.JobName)
	if cfg.jobName == "" {
		bad(exit.BadSetting(settingJobName, "--job-name/ECHOES_JOB_NAME is empty",
			"give the name of the label job in .gitlab-ci.yml (echoes-labels by default)"))
	}
	if cfg.rules, cfg.docsURL, err = c.Options(secrets); err != nil {
		bad(err)
	}
	if cfg.allow, err = parseWatch(c.Watch); err != nil {
		bad(err)
	}
	for _, w := range cfg.allow {
		cfg.watch = append(cfg.watch, w.String())
	}
	// the worker's
	cfg.statusCheckName = strings.TrimSpace(c.StatusCheckName)
	if cfg.statusCheckName == "" {
		bad(exit.BadSetting(settingStatusCheckName, "--status-check-name/ECHOES_STATUS_CHECK_NAME is empty",
			"give the name of the external status check the service answers (echoes-labels by default)"))
	}
	var err2 error
	if cfg.retryForks, err2 = c.RetryForks.Value("--retry-forks/ECHOES_RETRY_FORKS", secrets); err2 != nil {
		bad(err2)
	}
}

// settingErrors collects every bad setting of one command line.
type settingErrors []*exit.Error

func (errs *settingErrors) add(err error) {
	var e *exit.Error
	if !errors.As(err, &e) {
		e = exit.BadSetting("", err.Error(), "check the flags and variables")
	}
	*errs = append(*errs, e)
}

// joinSettings makes one configuration error of several: the first one's
// setting, every cause on one line, every fix on another.
func joinSettings(errs []*exit.Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	causes, fixes := make([]string, 0, len(errs)), make([]string, 0, len(errs))
	wrapped := make([]error, 0, len(errs))
	for _, e := range errs {
		causes, wrapped = append(causes, e.Cause), append(wrapped, e)
		if e.Fix != "" {
			fixes = append(fixes, e.Fix)
		}
	}
	return &exit.Error{Code: exit.Config, Setting: errs[0].Setting, Cause: strings.Join(causes, "; "),
		Fix: strings.Join(fixes, "; "), Err: errors.Join(wrapped...)}
}
