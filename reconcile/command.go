// Package reconcile is `echoes-labels reconcile`: one sweep of the open
// merge requests of --watch, worked by the engine (package rerun) as serve
// works its deliveries, then exit. It is what a scheduled pipeline
// (templates/echoes-labels-reconcile.yml) or a Kubernetes CronJob runs, so
// that the verdict follows the labels with no service to run, or with one
// sweeper beside many serve replicas.
package reconcile

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/rerun"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Command is `echoes-labels reconcile`.
type Command struct {
	rerun.Flags `embed:"" set:"watch_help=to sweep, and nothing else"`
	// UpdatedWithin keeps a malformed value for config, which reports it with a fix.
	UpdatedWithin settings.Duration `name:"updated-within" env:"ECHOES_UPDATED_WITHIN" default:"1h" help:"Look at the open merge requests updated within this long (0: all); at least the schedule's interval."`
}

// The settings a configuration error of reconcile names.
const settingUpdatedWithin = "--updated-within"

// Run sweeps once and works what it queued. Every log line is a JSON line
// on stderr, masked, as serve's: one "delivery" line per merge request the
// worker looked at, one "reconcile" line per watch entry, and a
// "reconcile done" summary. Its errors are *exit.Error: configuration (2,
// a token GitLab refuses or a certificate not trusted included), GitLab
// failing (3: a sweep that could not list every merge request in its
// window, or merge requests the worker gave up on), or cancelled (130).
func (c *Command) Run(ctx context.Context, stderr io.Writer, secrets mask.Secrets) error {
	cfg, window, err := c.config(secrets)
	if err != nil {
		return err
	}
	return run(ctx, cfg, window, stderr, secrets)
}

// run is Run past the configuration.
func run(ctx context.Context, cfg rerun.Config, window time.Duration, stderr io.Writer, secrets mask.Secrets) error {
	start := cfg.Clock.Now()
	secrets = secrets.With(cfg.Token)
	log := slog.New(slog.NewJSONHandler(mask.Writer(stderr, secrets), nil))
	e, err := rerun.New(cfg, log)
	if err != nil {
		return err
	}
	if err := identify(ctx, e); err != nil {
		return err
	}
	sum := e.SweepOnce(ctx, window)
	e.LogSummary(ctx, sum, window, cfg.Clock.Now().Sub(start))
	return sum.Err(ctx)
}

// identify is the start-up identity check (rerun's, as serve's): a token
// GitLab refuses or a certificate not trusted stops the command at start,
// with the fix, before any sweep; a transient failure (5xx, 429, no
// answer) is tried again as every other call, and one that lasts is exit 3.
func identify(ctx context.Context, e *rerun.Engine) error {
	err := e.IdentifyRetried(ctx)
	if rerun.Settled(err) {
		return err
	}
	if ctx.Err() != nil {
		return rerun.ErrCancelled
	}
	return exit.APIError("GitLab did not say who the token is (GET /user): "+err.Error(),
		"check --gitlab-url/ECHOES_GITLAB_URL and that GitLab answers; the next run tries again", err)
}

// config checks every setting in one pass, as serve's does.
func (c *Command) config(secrets mask.Secrets) (rerun.Config, time.Duration, error) {
	cfg := rerun.DefaultConfig()
	cfg.Settle = 0 // the sweep is no burst of deliveries: nothing to wait for
	var errs exit.Settings
	c.Flags.Config(&cfg, secrets, errs.Add)
	window, err := c.UpdatedWithin.Value(settingUpdatedWithin+"/ECHOES_UPDATED_WITHIN", secrets)
	switch {
	case err != nil:
		errs.Add(err)
	case window < 0:
		errs.Add(exit.BadSetting(settingUpdatedWithin, fmt.Sprintf("--updated-within/ECHOES_UPDATED_WITHIN is %s", window),
			"give 0 for every open merge request, or a duration such as 1h (at least the schedule's interval)"))
	}
	return cfg, window, errs.Err()
}
