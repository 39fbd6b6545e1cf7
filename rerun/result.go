package rerun

import (
	"slices"
	"strings"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// The actions a look at a merge request may take, as the log's action
// field names them ("+"-joined; "none" when it took none).
const (
	ActionRetried      = "retried"       // the label job retried
	ActionStatusPassed = "status_passed" // a status check of ours answered passed
	ActionStatusFailed = "status_failed" // … failed
	ActionGaveUp       = "gave_up"       // GitLab failed past the task's tries or budget
	ActionAbandoned    = "abandoned"     // the service stopped before its turn
)

// Sources of a task: a delivery, or a sweep.
const (
	SourceWebhook   = "webhook"
	SourceReconcile = "reconcile"
)

// Result is what one look at one merge request did: a value the engine
// logs, counts (Counts) and hands to Config.OnResult.
type Result struct {
	Key     Key
	Source  string // SourceWebhook or SourceReconcile
	Verdict string // "pass", "fail", "" when the merge request was not read
	Actions []string
	Detail  string
	Took    time.Duration
}

// Action is the actions taken, "+"-joined, "none" for none.
func (r Result) Action() string {
	if len(r.Actions) == 0 {
		return "none"
	}
	return strings.Join(r.Actions, "+")
}

// GaveUp is true when the look did not end: GitLab failed, or the service
// stopped first.
func (r Result) GaveUp() bool {
	return slices.Contains(r.Actions, ActionGaveUp) || slices.Contains(r.Actions, ActionAbandoned)
}

// note adds a detail to the ones already said.
func (r *Result) note(detail string) {
	if r.Detail == "" {
		r.Detail = detail
	} else {
		r.Detail += "; " + detail
	}
}

// join folds in what a later step of the same try did: its actions
// after the earlier ones', its detail beside theirs.
func (r *Result) join(n Result) {
	r.Actions = append(r.Actions, n.Actions...)
	if n.Detail != "" {
		r.note(n.Detail)
	}
}

// add folds in what a later try did: its actions after the earlier
// ones', its detail over theirs.
func (r *Result) add(n Result) {
	r.Actions = append(r.Actions, n.Actions...)
	if n.Detail != "" {
		r.Detail = n.Detail
	}
}

// Counts is what the engine did: each look at a merge request counted
// once, however many deliveries or --watch entries named it (a sweep
// queues a merge request once however many entries list it).
type Counts struct {
	Worked   int // merge requests looked at (abandoned ones included)
	Retried  int // label jobs retried
	Answered int // status checks answered
	GaveUp   int // looks that did not end: GitLab failed, or the service stopped first
	// Actions by name (ActionRetried is job_retried there, as /metrics
	// names it; status_passed, status_failed).
	Actions map[string]int
	// APIErrors are GitLab calls that failed, by gitlabapi.FailureKinds.
	APIErrors map[string]int
	// Sources are the looks by source (SourceWebhook, SourceReconcile).
	Sources map[string]int
}

// MetricActions are the actions /metrics names, in Counts.Actions.
var MetricActions = []string{"job_retried", ActionStatusPassed, ActionStatusFailed}

// counter keeps Counts behind a lock.
type counter struct {
	mu sync.Mutex
	n  Counts
}

func (c *counter) init() {
	c.n.Actions, c.n.APIErrors, c.n.Sources = map[string]int{}, map[string]int{}, map[string]int{}
}

func (c *counter) snapshot() Counts {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	n.Actions, n.APIErrors, n.Sources = clone(c.n.Actions), clone(c.n.APIErrors), clone(c.n.Sources)
	return n
}

func clone(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// result counts one look's result.
func (c *counter) result(r Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n.Worked++
	c.n.Sources[r.Source]++
	for _, a := range r.Actions {
		switch a {
		case ActionRetried:
			c.n.Retried++
			c.n.Actions["job_retried"]++
		case ActionStatusPassed, ActionStatusFailed:
			c.n.Answered++
			c.n.Actions[a]++
		}
	}
	if r.GaveUp() {
		c.n.GaveUp++
	}
}

// apiError counts a failed GitLab call by its kind.
func (c *counter) apiError(err error) string {
	kind := gitlabapi.Classify(err).Kind
	c.mu.Lock()
	c.n.APIErrors[kind]++
	c.mu.Unlock()
	return kind
}

// record logs, counts and hands on the result of one look at t.
func (e *Engine) record(t *Task, r Result) {
	r.Key = t.Key
	if r.Source == "" {
		r.Source = t.source()
	}
	e.logResult(t, r)
	e.counts.result(r)
	if e.cfg.OnResult != nil {
		e.cfg.OnResult(r)
	}
}
