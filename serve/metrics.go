package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics live on a registry of their own, so that two services in one
// process (the tests) and libraries' global collectors never mix.
type metrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec   // by outcome
	actions    *prometheus.CounterVec   // by action
	apiErrors  *prometheus.CounterVec   // by kind: 5xx, 429, 401, 403, 404, 4xx, network
	processing *prometheus.HistogramVec // seconds per task, by source
	answer     prometheus.Histogram     // seconds from a delivery's arrival to its answer
}

// Delivery outcomes: what the service answered and did with a request.
const (
	outcomeQueued       = "queued"
	outcomeCoalesced    = "coalesced"    // merged into a task already waiting
	outcomeDropped      = "dropped"      // queue full: answered, left to the reconcile
	outcomeIgnored      = "ignored"      // another event kind
	outcomeUnauthorized = "unauthorized" // 401
	outcomeBadRequest   = "bad_request"  // 400
	outcomeTooLarge     = "too_large"    // 413
	outcomeBadMethod    = "bad_method"   // 405
)

func newMetrics(depth func() int) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "echoes_serve_deliveries_total", Help: "Webhook deliveries received, by outcome.",
		}, []string{"outcome"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "echoes_serve_actions_total", Help: "Actions taken on GitLab: job_retried, status_passed, status_failed.",
		}, []string{"action"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "echoes_serve_gitlab_api_errors_total", Help: "GitLab API calls that failed, after the client's own retries, by kind.",
		}, []string{"kind"}),
		processing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "echoes_serve_processing_seconds", Help: "Time to handle one merge request's task, GitLab calls included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"source"}),
	}
	m.answer = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "echoes_serve_webhook_answer_seconds", Help: "Time from a webhook delivery's headers to the service's answer; GitLab wants it well under its timeout.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	m.reg.MustRegister(m.deliveries, m.actions, m.apiErrors, m.processing, m.answer,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "echoes_serve_queue_depth", Help: "Merge requests waiting to be worked on.",
		}, func() float64 { return float64(depth()) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
