package serve

import (
	"fmt"
	"io"
	"net/http"

	vm "github.com/VictoriaMetrics/metrics"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// metrics are the service's series in Prometheus' text format, written by
// github.com/VictoriaMetrics/metrics: it has no protobuf, so the check, which
// shares the binary and never serves a metric, does not pay for it at start.
// Each family keeps a set of its own so that its # HELP and # TYPE lines
// (VictoriaMetrics writes a HELP without text) stand right above its samples;
// every series of a known label value exists from the start, at zero, so a
// dashboard or an alert finds it before the first delivery.
//
// What the engine did (actions, GitLab's failures) is read from its
// counts (rerun.Counts) when scraped: the engine keeps them, once per
// merge request looked at; serve counts only what it answered.
type metrics struct {
	families   []*family
	deliveries labelled // by outcome
	processing map[string]*vm.PrometheusHistogram
	answer     *vm.PrometheusHistogram
}

// family is one metric name with its help text and type.
type family struct {
	name, help, kind string
	set              *vm.Set
}

// labelled is a counter family with one label.
type labelled struct {
	f     *family
	label string
}

// Inc adds one to the series of value, made on first use for a value not
// listed up front.
func (l labelled) Inc(value string) {
	l.f.set.GetOrCreateCounter(fmt.Sprintf("%s{%s=%q}", l.f.name, l.label, value)).Inc()
}

// Delivery outcomes: what the service answered and did with a request.
const (
	outcomeQueued       = "queued"
	outcomeCoalesced    = "coalesced"    // merged into a task already waiting
	outcomeDropped      = "dropped"      // queue full: answered, left to the reconcile
	outcomeIgnored      = "ignored"      // another event kind
	outcomeUnauthorized = "unauthorized" // 401
	outcomeBadRequest   = "bad_request"  // unreadable: 400; from an authenticated sender, 200 and logged
	outcomeTooLarge     = "too_large"    // 413
	outcomeBadMethod    = "bad_method"   // 405
	outcomeOverloaded   = "overloaded"   // no room to read the body: 503 before authentication, 202 after
)

var (
	outcomes     = []string{outcomeQueued, outcomeCoalesced, outcomeDropped, outcomeIgnored, outcomeUnauthorized, outcomeBadRequest, outcomeTooLarge, outcomeBadMethod, outcomeOverloaded}
	taskSources  = []string{rerun.SourceWebhook, rerun.SourceReconcile}
	taskBuckets  = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	answerBucket = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
)

// newMetrics makes the service's own series; watch adds the engine's.
func newMetrics() *metrics {
	m := &metrics{processing: map[string]*vm.PrometheusHistogram{}}
	l := labelled{f: m.family("echoes_serve_deliveries_total", "Webhook deliveries received, by outcome.", "counter"), label: "outcome"}
	for _, v := range outcomes {
		l.f.set.GetOrCreateCounter(fmt.Sprintf("%s{%s=%q}", l.f.name, l.label, v))
	}
	m.deliveries = l
	return m
}

// watch adds the engine's series, read from its counts when scraped.
func (m *metrics) watch(e *rerun.Engine) {
	counted := func(name, help, label string, values []string, of func(rerun.Counts) map[string]int) {
		set := m.family(name, help, "counter").set
		for _, v := range values {
			set.NewGauge(fmt.Sprintf("%s{%s=%q}", name, label, v), func() float64 { return float64(of(e.Counts())[v]) })
		}
	}
	counted("echoes_serve_actions_total", "Actions taken on GitLab: job_retried, status_passed, status_failed.", "action", rerun.MetricActions,
		func(c rerun.Counts) map[string]int { return c.Actions })
	counted("echoes_serve_gitlab_api_errors_total", "GitLab API calls that failed, by kind (each call is one HTTP request).", "kind", gitlabapi.FailureKinds,
		func(c rerun.Counts) map[string]int { return c.APIErrors })
	proc := m.family("echoes_serve_processing_seconds", "Time to handle one merge request's task, GitLab calls included.", "histogram")
	for _, s := range taskSources {
		m.processing[s] = proc.set.NewPrometheusHistogramExt(fmt.Sprintf("echoes_serve_processing_seconds{source=%q}", s), taskBuckets)
	}
	m.answer = m.family("echoes_serve_webhook_answer_seconds",
		"Time from a webhook delivery's headers to the service's answer; GitLab wants it well under its timeout.", "histogram").
		set.NewPrometheusHistogramExt("echoes_serve_webhook_answer_seconds", answerBucket)
	m.family("echoes_serve_queue_depth", "Merge requests waiting to be worked on.", "gauge").
		set.NewGauge("echoes_serve_queue_depth", func() float64 { return float64(e.Depth()) })
}

// observe takes one result of the engine: its processing time.
func (m *metrics) observe(r rerun.Result) {
	if h := m.processing[r.Source]; h != nil {
		h.Update(r.Took.Seconds())
	}
}

func (m *metrics) family(name, help, kind string) *family {
	f := &family{name: name, help: help, kind: kind, set: vm.NewSet()}
	m.families = append(m.families, f)
	return f
}

// write writes every family, then the Go runtime's and the process's
// series (go_*, process_*).
func (m *metrics) write(w io.Writer) {
	for _, f := range m.families {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		f.set.WritePrometheus(w)
	}
	vm.WriteProcessMetrics(w)
}

func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.write(w)
	})
}
