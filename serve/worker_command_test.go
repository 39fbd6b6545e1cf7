package serve

import (
	"strings"
	"testing"
	"time"
)

// The worker's settings: --status-check-name and --retry-forks, from flags
// and variables; the status check lookup lasts at most a sweep's interval.
func TestWorkerSettings(t *testing.T) {
	clearEnv(t)
	base := []string{"--token", "tok", "--webhook-secret", testSecret, "--watch", path}
	cfg, err := parse(t, base...).config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.engine.StatusCheckName != "echoes-labels" || cfg.engine.RetryForks || cfg.engine.CheckTTL != time.Minute || cfg.engine.PerProject != 0 {
		t.Errorf("defaults: name %q, retry forks %v, ttl %s, per project %d", cfg.engine.StatusCheckName, cfg.engine.RetryForks, cfg.engine.CheckTTL, cfg.engine.PerProject)
	}

	t.Setenv("ECHOES_STATUS_CHECK_NAME", " labels-policy ")
	t.Setenv("ECHOES_RETRY_FORKS", "true")
	cfg, err = parse(t, append(base, "--reconcile-interval", "20s")...).config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.engine.StatusCheckName != "labels-policy" || !cfg.engine.RetryForks || cfg.engine.CheckTTL != 20*time.Second {
		t.Errorf("from the environment: name %q, retry forks %v, ttl %s", cfg.engine.StatusCheckName, cfg.engine.RetryForks, cfg.engine.CheckTTL)
	}

	for _, c := range []struct{ env, value, want string }{
		{"ECHOES_STATUS_CHECK_NAME", " ", "--status-check-name"},
		{"ECHOES_RETRY_FORKS", "maybe", "--retry-forks"},
	} {
		clearEnv(t)
		t.Setenv(c.env, c.value)
		if _, err := parse(t, base...).config(nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: %v, want an error naming %s", c.env, c.value, err, c.want)
		}
	}
}
