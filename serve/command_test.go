package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// interval is the command's --reconcile-interval, which must be valid.
func interval(t *testing.T, c *Command) time.Duration {
	t.Helper()
	d, err := c.ReconcileInterval.Value("--reconcile-interval", nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// parse reads a Command from args and the environment as the binary will.
func parse(t *testing.T, args ...string) *Command {
	t.Helper()
	var cli struct {
		Serve Command `cmd:"" help:"Serve GitLab's merge request events."`
	}
	parser, err := kong.New(&cli, kong.Name("echoes-labels"), kong.Exit(func(int) { t.Fatal("kong exited") }),
		kong.Vars{"docs_url": settings.DefaultDocsURL, "version": "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"serve"}, args...)); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return &cli.Serve
}

// clearEnv unsets every variable the command reads, for the test.
func clearEnv(t *testing.T) {
	for _, name := range envNames(t) {
		t.Setenv(name, "") // restored when the test ends
		os.Unsetenv(name)
	}
}

func TestDefaults(t *testing.T) {
	clearEnv(t)
	c := parse(t)
	if c.Listen != ":8080" || c.JobName != "echoes-labels" || interval(t, c) != 5*time.Minute ||
		c.GitLabURL != "https://gitlab.com/api/v4" || c.DocsURL != settings.DefaultDocsURL || len(c.Watch) != 0 ||
		c.IntentPrefix != "echoes/intent" || c.InitiativePrefix != "echoes/initiative" || c.EffortPrefix != "echoes/effort" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestEnvironment(t *testing.T) {
	clearEnv(t)
	t.Setenv("ECHOES_LISTEN", "127.0.0.1:9000")
	t.Setenv("CI_API_V4_URL", "https://ci.example.com/api/v4")
	t.Setenv("ECHOES_GITLAB_URL", "https://gitlab.example.com/api/v4")
	t.Setenv("GITLAB_TOKEN", "second")
	t.Setenv("ECHOES_GITLAB_TOKEN", "first")
	t.Setenv("ECHOES_WEBHOOK_SECRET", "s3cret-0123456789")
	t.Setenv("ECHOES_JOB_NAME", "labels")
	t.Setenv("ECHOES_WATCH", "acme/backend, group:42,acme")
	t.Setenv("ECHOES_RECONCILE_INTERVAL", "0")
	t.Setenv("ECHOES_REQUIRE_EFFORT", "true")
	t.Setenv("ECHOES_INTENT_PREFIX", "why")
	c := parse(t)
	if c.Listen != "127.0.0.1:9000" || c.GitLabURL != "https://gitlab.example.com/api/v4" || c.Token != "first" ||
		c.WebhookSecret != "s3cret-0123456789" || c.JobName != "labels" || interval(t, c) != 0 || c.IntentPrefix != "why" {
		t.Errorf("from the environment: %+v", c)
	}
	cfg, err := c.config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rerun.WatchStrings(cfg.engine.Watch), "|"); got != "acme/backend|group:42|acme" {
		t.Errorf("watch = %q", got)
	}
	if !cfg.engine.Rules.RequireEffort {
		t.Error("ECHOES_REQUIRE_EFFORT=true did not require an effort label")
	}

	clearEnv(t)
	t.Setenv("CI_API_V4_URL", "https://ci.example.com/api/v4")
	t.Setenv("GITLAB_TOKEN", "second")
	if c := parse(t); c.GitLabURL != "https://ci.example.com/api/v4" || c.Token != "second" {
		t.Errorf("fallbacks: gitlab-url %q, token %q", c.GitLabURL, c.Token)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"--token", "t"}, "--webhook-secret"},
		{"blank secret", []string{"--token", "t", "--webhook-secret", "  "}, "--webhook-secret"},
		{"no token", []string{"--webhook-secret", testSecret}, "--token"},
		{"not a URL", []string{"--token", "t", "--webhook-secret", testSecret, "--gitlab-url", "gitlab.example.com"}, "--gitlab-url"},
		{"listen without port", []string{"--token", "t", "--webhook-secret", testSecret, "--listen", "8080"}, "--listen"},
		{"empty job name", []string{"--token", "t", "--webhook-secret", testSecret, "--job-name", ""}, "--job-name"},
		{"interval too short", []string{"--token", "t", "--webhook-secret", testSecret, "--reconcile-interval", "10ms"}, "--reconcile-interval"},
		{"negative interval", []string{"--token", "t", "--webhook-secret", testSecret, "--reconcile-interval=-1m"}, "--reconcile-interval"},
		{"same prefixes", []string{"--token", "t", "--webhook-secret", testSecret, "--intent-prefix", "x", "--effort-prefix", "X"}, "same prefix"},
		{"password in the URL", []string{"--token", "t", "--webhook-secret", testSecret, "--gitlab-url", "https://user:pa55word@gitlab.example.com"}, "user name or password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearEnv(t)
			err := parse(t, c.args...).Run(context.Background(), &logBuffer{}, nil)
			var ce *exit.Error
			if !errors.As(err, &ce) {
				t.Fatalf("Run: %v, want an *exit.Error", err)
			}
			// The cause, or the setting the error names, names the flag.
			if ce.ExitCode() != 2 || !strings.Contains(ce.Setting+" "+ce.Cause, c.want) || ce.Fix == "" || strings.Contains(ce.Cause+ce.Fix, "\n") {
				t.Errorf("setting %q cause %q fix %q code %d: want one line naming %s, a fix, code 2", ce.Setting, ce.Cause, ce.Fix, ce.ExitCode(), c.want)
			}
		})
	}
	t.Run("address in use", func(t *testing.T) {
		clearEnv(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		err = parse(t, "--token", "t", "--webhook-secret", testSecret, "--watch", path, "--listen", ln.Addr().String()).Run(context.Background(), &logBuffer{}, nil)
		var ce *exit.Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Cause, "cannot listen") || ce.Setting != "--listen" || ce.Code != exit.Config {
			t.Errorf("Run on a busy port: %v", err)
		}
	})
}

// Run serves until its context ends (main's signal.NotifyContext), then
// returns nil; the log never shows the token or the secret.
func TestRunEndToEnd(t *testing.T) {
	clearEnv(t)
	gl := newStandIn(t)
	failedLabelJob(gl, project, path, 1, passing)
	t.Setenv("ECHOES_GITLAB_TOKEN", testToken)
	t.Setenv("ECHOES_WEBHOOK_SECRET", testSecret)
	t.Setenv("ECHOES_WATCH", path)
	c := parse(t, "--listen", "127.0.0.1:0", "--gitlab-url", gl.APIURL())
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, logs, nil) }()
	var addr string
	waitFor(t, "the listening line", func() bool {
		if l := logs.lines("listening"); len(l) > 0 {
			addr = fmt.Sprint(l[0]["addr"])
		}
		return addr != ""
	})
	// The reconcile's first sweep retries the job; a webhook changes nothing.
	waitFor(t, "the reconcile's retry", func() bool { return gl.Retries(project, 1) == 1 })
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhook", strings.NewReader(string(payload(t, project, path, 1, "a", 0, passing))))
	req.Header.Set("X-Gitlab-Token", testSecret)
	req.Header.Set("X-Gitlab-Event", "Merge Request Hook")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel: %v, want nil", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the drain time (20 s)")
	}
	if gl.Retries(project, 1) != 1 {
		t.Errorf("%d retries, want 1", gl.Retries(project, 1))
	}
	out := logs.String()
	if strings.Contains(out, testToken) || strings.Contains(out, testSecret) || strings.Contains(out, "pa55word") {
		t.Errorf("the log shows a secret:\n%s", out)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("not a JSON line: %s", l)
		}
	}
}

// A token in --gitlab-url's query (?private_token=…) must not reach the
// listening line: the check masks query values too.
func TestListeningLineHidesTheURLQuery(t *testing.T) {
	for _, raw := range []string{
		"https://gitlab.example.com/api/v4?private_token=glpat-INQUERY-0123",
		"https://gitlab.example.com/api/v4#glpat-INQUERY-0123",
		"https://u:glpat-INQUERY-0123@gitlab.example.com/api/v4",
	} {
		if got := redacted(raw); strings.Contains(got, "INQUERY") || !strings.HasPrefix(got, "https://") {
			t.Errorf("redacted(%q) = %q", raw, got)
		}
	}
}

// With nothing set, one error names every missing required setting: the
// webhook secret, the token and --watch, on one cause line and one fix line.
func TestMissingSecretAndTokenTogether(t *testing.T) {
	clearEnv(t)
	err := parse(t).Run(context.Background(), &logBuffer{}, nil)
	var e *exit.Error
	if !errors.As(err, &e) {
		t.Fatalf("Run: %v, want an *exit.Error", err)
	}
	for _, want := range []string{"--webhook-secret", "--token", "--watch"} {
		if !strings.Contains(e.Cause, want) {
			t.Errorf("cause %q does not name %s", e.Cause, want)
		}
	}
	if e.Code != exit.Config || strings.Contains(e.Cause+e.Fix, "\n") ||
		!strings.Contains(e.Fix, "ECHOES_WEBHOOK_SECRET") || !strings.Contains(e.Fix, "ECHOES_GITLAB_TOKEN") {
		t.Errorf("code %d cause %q fix %q: want code 2, one cause line, one fix line for both", e.Code, e.Cause, e.Fix)
	}
}

// A reconcile interval without a unit gets the fix that adds one.
func TestReconcileIntervalWithoutUnit(t *testing.T) {
	clearEnv(t)
	t.Setenv("ECHOES_RECONCILE_INTERVAL", "5")
	err := parse(t, "--token", "glpat-abcdef", "--webhook-secret", "s3cret-0123456789", "--watch", path).Run(context.Background(), &logBuffer{}, nil)
	var e *exit.Error
	if !errors.As(err, &e) || e.Setting != "--reconcile-interval" {
		t.Fatalf("Run: %#v, want an *exit.Error for --reconcile-interval", err)
	}
	if !strings.Contains(e.Cause, "ECHOES_RECONCILE_INTERVAL") || !strings.Contains(e.Fix, "add a unit: 5s") {
		t.Errorf("cause %q fix %q: want the variable named and \"add a unit: 5s…\"", e.Cause, e.Fix)
	}
}

// The token and the webhook secret lose the spaces and line breaks at
// their ends (GitLab strips line breaks from the secret it sends).
func TestSecretsTrimmed(t *testing.T) {
	clearEnv(t)
	cfg, err := parse(t, "--token", " glpat-abcdef\n", "--webhook-secret", "s3cret-0123456789\r\n", "--watch", path).config(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.engine.Token != "glpat-abcdef" || string(cfg.secret) != "s3cret-0123456789" {
		t.Errorf("token %q secret %q", cfg.engine.Token, cfg.secret)
	}
}

// With reconcile off the listening line says why, not an interval.
func TestListeningLineReconcileOff(t *testing.T) {
	for _, c := range []struct {
		name string
		tune func(*config)
		want string
	}{
		{"no watch", func(c *config) { c.engine.Interval = time.Hour }, "--watch"},
		{"interval 0", func(c *config) { c.engine.Watch = mustWatch("group"); c.engine.Interval = 0 }, "--reconcile-interval is 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, newStandIn(t), c.tune)
			waitFor(t, "the listening line", func() bool { return len(h.logs.lines("listening")) == 1 })
			l := h.logs.lines("listening")[0]
			if _, ok := l["reconcile_interval"]; ok || !strings.Contains(fmt.Sprint(l["reconcile"]), c.want) {
				t.Errorf("listening line %v: want no reconcile_interval and a reconcile reason naming %s", l, c.want)
			}
		})
	}
	h := start(t, newStandIn(t), func(c *config) { c.engine.Watch = mustWatch("group"); c.engine.Interval = time.Hour })
	waitFor(t, "the listening line", func() bool { return len(h.logs.lines("listening")) == 1 })
	if l := h.logs.lines("listening")[0]; l["reconcile_interval"] != "1h0m0s" {
		t.Errorf("listening line %v: want reconcile_interval 1h0m0s", l)
	}
}

// At start, serve warns when the token's user is an administrator or a
// Maintainer of a watched project (a retry runs jobs as it), and serves.
func TestRunWarnsOfAPowerfulToken(t *testing.T) {
	clearEnv(t)
	gl := newStandIn(t)
	gl.SetAdmin(true)
	gl.SetProjectMember(project, path, gitlabtest.Maintainer)
	c := parse(t, "--listen", "127.0.0.1:0", "--gitlab-url", gl.APIURL(), "--token", testToken, "--webhook-secret", testSecret,
		"--watch", "project:"+path, "--reconcile-interval", "0", "--shutdown-delay", "0s")
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, logs, nil) }()
	listening(t, logs)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v, want nil", err)
	}
	var admin, maintainer bool
	for _, l := range strings.Split(logs.String(), "\n") {
		admin = admin || strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, "administrator")
		maintainer = maintainer || strings.Contains(l, `"level":"WARN"`) && strings.Contains(l, "Maintainer of a watched project") && strings.Contains(l, `"access_level":40`)
	}
	if !admin || !maintainer {
		t.Errorf("WARN lines: administrator %v, maintainer %v; want both:\n%s", admin, maintainer, logs.String())
	}
}
