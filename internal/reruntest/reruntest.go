// Package reruntest holds what the tests of serve, reconcile and the
// engine (rerun) share: a stand-in GitLab that wants the test token, the
// JSON log they read, and merge requests with a failed label job.
package reruntest

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// The test fixtures every package uses.
const (
	Token   = "glpat-serve-test-token-abcdef"
	Project = int64(42)
	Path    = "group/project"
	JobName = "echoes-labels"
	Passing = "echoes/intent/feature"
)

// StandIn is a stand-in GitLab that wants Token.
func StandIn(t *testing.T) *gitlabtest.Server {
	gl := gitlabtest.New(t)
	gl.SetToken(Token)
	gl.RequireToken(true)
	return gl
}

// Log collects a command's JSON log lines; the workers write from their
// own goroutines.
type Log struct{ gitlabtest.LockedBuffer }

// Lines returns the log lines whose msg is msg, decoded.
func (b *Log) Lines(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// FailedLabelJob gives merge request iid a head pipeline whose label job
// failed on no labels, then the labels: the labels changed after the job
// read them, as when a developer mends them once the job failed.
func FailedLabelJob(gl *gitlabtest.Server, projectID int64, projectPath string, iid int64, labels ...string) int64 {
	gl.SetLabels(projectID, projectPath, iid)
	p := gl.AddPipeline(projectID, projectPath, iid,
		gitlabtest.Job{Name: "build", Status: "success"},
		gitlabtest.Job{Name: JobName, Status: "failed"},
		gitlabtest.Job{Name: "test", Status: "success"})
	gl.SetLabels(projectID, projectPath, iid, labels...)
	return p
}

// NewestLabelJob is the status of the newest attempt of the label job.
func NewestLabelJob(gl *gitlabtest.Server, pipeline int64) (status string, attempts int) {
	for _, j := range gl.Jobs(pipeline) {
		if j.Name == JobName {
			status, attempts = j.Status, attempts+1
		}
	}
	return status, attempts
}

// WaitFor polls cond until it holds, for up to a minute: what it waits
// for is observable, so a loaded machine only makes the wait longer.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Config is the engine's configuration against gl for tests: the test
// token, no real waiting (faults are retried at once unless GitLab asks
// for a wait with Retry-After), and a short, exact settle.
func Config(gl *gitlabtest.Server) rerun.Config {
	cfg := rerun.DefaultConfig()
	cfg.GitLabURL = gl.APIURL()
	cfg.Token = Token
	cfg.JobName = JobName
	cfg.Rules = check.Options{}
	cfg.DocsURL = "https://docs.echoeshq.com"
	cfg.Backoff = time.Millisecond
	cfg.MaxWait = 20 * time.Millisecond
	cfg.Settle = 20 * time.Millisecond
	cfg.Jitter = nil // deterministic: every task settles exactly Settle
	return cfg
}

// Clock is a clock.Clock whose Sleep does not wait: it moves the clock on
// by the wait and records it, so a test reads the waits asked for instead
// of timing them.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	sleeps []time.Duration
}

// Now is the wall clock moved on by every Sleep so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Sleep records d and moves the clock on by it, at once; ctx's error if
// it ended.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.offset += max(d, 0)
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	return ctx.Err()
}

// Sleeps are the waits asked for so far.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// EnvNames is every variable a command struct reads (its env tags, those
// of embedded structs included).
func EnvNames(typ reflect.Type) []string {
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if _, embed := f.Tag.Lookup("embed"); embed || f.Anonymous {
			names = append(names, EnvNames(f.Type)...)
		} else if env := f.Tag.Get("env"); env != "" {
			names = append(names, strings.Split(env, ",")...)
		}
	}
	return names
}

// ManyMergeRequests gives Project n open merge requests whose labels
// fail, updated a second apart in threes (so that pages cut through
// seconds), the oldest first; the stand-in orders its lists by
// updated_at, then runs fault (nil: none).
func ManyMergeRequests(gl *gitlabtest.Server, n int, fault gitlabtest.FaultFunc) {
	base := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	for i := 1; i <= n; i++ {
		gl.SetLabels(Project, Path, int64(i), "backend")
		gl.SetUpdatedAt(Project, Path, int64(i), base.Add(time.Duration((i-1)/3)*time.Second).Add(time.Duration(i)*time.Millisecond))
	}
	gl.SetFault(fault)
}

// EnvVar is one env entry of a manifest's container, as the deploy tests
// of serve and reconcile read it.
type EnvVar struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

// CountRequests is how many of the requests the stand-in was sent match
// accepts.
func CountRequests(gl *gitlabtest.Server, match func(gitlabtest.Request) bool) int {
	n := 0
	for _, r := range gl.Requests() {
		if match(r) {
			n++
		}
	}
	return n
}
