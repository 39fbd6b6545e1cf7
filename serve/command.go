// Package serve is `echoes-labels serve`: a small, stateless HTTP service
// that receives GitLab's merge request events and makes the label job's
// verdict follow the labels. When the labels pass and the merge request's
// newest pipeline has a failed label job, it retries that job once; when
// GitLab asks an external status check, it answers passed or failed; and a
// periodic reconcile of the open merge requests catches the events that
// were lost. It keeps no state on disk.
package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
)

// Command is `echoes-labels serve`. The flag and variable names are the
// public interface (README, "Turn green without a retry").
type Command struct {
	Listen            string        `name:"listen" env:"ECHOES_LISTEN" default:":8080" help:"Address to listen on."`
	GitLabURL         string        `name:"gitlab-url" env:"ECHOES_GITLAB_URL,CI_API_V4_URL" default:"https://gitlab.com/api/v4" help:"GitLab API v4 root: the only GitLab the service ever calls."`
	Token             string        `name:"token" env:"ECHOES_GITLAB_TOKEN,GITLAB_TOKEN" placeholder:"TOKEN" help:"Access token with the api scope (retrying jobs and answering status checks write)."`
	CAFile            string        `name:"ca-file" env:"CI_SERVER_TLS_CA_FILE" placeholder:"FILE" help:"PEM certificates to trust for GitLab, besides the system's."`
	WebhookSecret     string        `name:"webhook-secret" env:"ECHOES_WEBHOOK_SECRET" placeholder:"SECRET" help:"Required. The webhook's secret token (X-Gitlab-Token), also the shared secret of an external status check (X-Gitlab-Signature)."`
	JobName           string        `name:"job-name" env:"ECHOES_JOB_NAME" default:"echoes-labels" help:"Name of the label job to retry."`
	Watch             []string      `name:"watch" env:"ECHOES_WATCH" sep:"," placeholder:"GROUP|PROJECT" help:"Comma-separated groups or projects (ids or paths) to reconcile."`
	ReconcileInterval time.Duration `name:"reconcile-interval" env:"ECHOES_RECONCILE_INTERVAL" default:"5m" help:"How often to reconcile the open merge requests of --watch (0: never)."`

	RequireEffort    bool   `name:"require-effort" env:"ECHOES_REQUIRE_EFFORT" help:"Also require exactly one effort label sized XS, S, M, L or XL."`
	DocsURL          string `name:"docs-url" env:"ECHOES_DOCS_URL" default:"https://docs.echoeshq.com" help:"Documentation base, named in the log when labels fail."`
	IntentPrefix     string `name:"intent-prefix" env:"ECHOES_INTENT_PREFIX" default:"echoes/intent" help:"Label prefix of intents." group:"Label names"`
	InitiativePrefix string `name:"initiative-prefix" env:"ECHOES_INITIATIVE_PREFIX" default:"echoes/initiative" help:"Label prefix of initiatives." group:"Label names"`
	EffortPrefix     string `name:"effort-prefix" env:"ECHOES_EFFORT_PREFIX" default:"echoes/effort" help:"Label prefix of efforts." group:"Label names"`
}

// ConfigError is a configuration mistake found before the service starts:
// a one-line cause and a one-line fix. Its exit code is 2.
type ConfigError struct {
	Cause string
	Fix   string
}

func (e *ConfigError) Error() string { return e.Cause }

// ExitCode is 2, the configuration error code of echoes-labels.
func (e *ConfigError) ExitCode() int { return 2 }

func configError(cause, fix string) error { return &ConfigError{Cause: cause, Fix: fix} }

// Run serves until ctx is done (SIGTERM, SIGINT), then stops accepting,
// finishes the work in flight within 20 s and returns nil. It returns a
// *ConfigError for a bad configuration and an error if it cannot listen.
func (c *Command) Run(ctx context.Context, stderr io.Writer) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return &ConfigError{
			Cause: fmt.Sprintf("cannot listen on --listen/ECHOES_LISTEN %q: %v", c.Listen, err),
			Fix:   "give a free address such as :8080 (ports below 1024 need privileges the image does not have)",
		}
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	svc, err := newService(cfg, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	return svc.serve(ctx, ln)
}

// config checks every flag in one pass and turns them into the service's
// configuration.
func (c *Command) config() (config, error) {
	cfg := defaultConfig()
	if strings.TrimSpace(c.WebhookSecret) == "" {
		return cfg, configError("--webhook-secret/ECHOES_WEBHOOK_SECRET is not set",
			"set it to the secret token you give the GitLab webhook (and the shared secret of the status check); without it anyone could drive the service")
	}
	if strings.TrimSpace(c.Token) == "" {
		return cfg, configError("--token/ECHOES_GITLAB_TOKEN (or GITLAB_TOKEN) is not set",
			"create a project, group or personal access token with the api scope and pass it in ECHOES_GITLAB_TOKEN")
	}
	u, err := url.Parse(c.GitLabURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return cfg, configError(fmt.Sprintf("--gitlab-url/ECHOES_GITLAB_URL %q is not an http(s) URL", c.GitLabURL),
			"give the API v4 root, e.g. https://gitlab.example.com/api/v4")
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return cfg, configError(fmt.Sprintf("--listen/ECHOES_LISTEN %q is not host:port", c.Listen), "give an address such as :8080 or 127.0.0.1:8080")
	}
	if strings.TrimSpace(c.JobName) == "" {
		return cfg, configError("--job-name/ECHOES_JOB_NAME is empty", "give the name of the label job in .gitlab-ci.yml (echoes-labels by default)")
	}
	if c.ReconcileInterval < 0 || (c.ReconcileInterval > 0 && c.ReconcileInterval < time.Second) {
		return cfg, configError(fmt.Sprintf("--reconcile-interval/ECHOES_RECONCILE_INTERVAL is %s", c.ReconcileInterval),
			"give 0 to turn reconciling off, or a duration of a second or more such as 5m")
	}
	opts := check.Options{
		Prefixes:      check.Prefixes{Intent: c.IntentPrefix, Initiative: c.InitiativePrefix, Effort: c.EffortPrefix},
		RequireEffort: c.RequireEffort,
	}
	if err := opts.Prefixes.Validate(); err != nil {
		return cfg, configError(err.Error(), "leave a prefix unset for the Echoes default, or give each kind its own label prefix")
	}
	var watch []string
	for _, w := range c.Watch {
		if w = strings.Trim(strings.TrimSpace(w), "/"); w != "" {
			watch = append(watch, w)
		}
	}
	cfg.gitlabURL = strings.TrimRight(c.GitLabURL, "/")
	cfg.token = c.Token
	cfg.caFile = c.CAFile
	cfg.secret = []byte(c.WebhookSecret)
	cfg.jobName = c.JobName
	cfg.watch = watch
	cfg.interval = c.ReconcileInterval
	cfg.rules = opts
	cfg.docsURL = c.DocsURL
	return cfg, nil
}
