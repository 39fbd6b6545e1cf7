package gitlabapi

import (
	"errors"
	"net/http"
	"time"
)

// Failure is what a failed call means to a caller that retries on its own
// (serve): a kind for the metrics, whether waiting can mend it, and how
// long GitLab asked to wait.
type Failure struct {
	// Kind is one of FailureKinds.
	Kind string
	// Transient is true when the same call may succeed later: 5xx, 429, no
	// answer, or no answer in time. An untrusted certificate, a redirect to
	// another host, a malformed answer and the other 4xx are not: a retry
	// gets the same.
	Transient bool
	// Wait is what GitLab asked for (Retry-After, or RateLimit-Reset on a
	// 429); 0 when it asked for nothing.
	Wait time.Duration
}

// FailureKinds are every Kind Classify gives, for metrics that show each
// series from the start.
var FailureKinds = []string{"5xx", "429", "401", "403", "404", "4xx", "network", "tls", "other"}

// Classify sorts a failed call; nil is the zero Failure.
func Classify(err error) Failure {
	if err == nil {
		return Failure{}
	}
	var e *Error
	if !errors.As(err, &e) {
		return Failure{Kind: "other"}
	}
	switch e.Kind {
	case Status:
		switch s := e.Status; {
		case s == http.StatusTooManyRequests:
			return Failure{Kind: "429", Transient: true, Wait: e.wait}
		case s >= 500:
			return Failure{Kind: "5xx", Transient: true, Wait: e.wait}
		case s == http.StatusUnauthorized:
			return Failure{Kind: "401"}
		case s == http.StatusForbidden:
			return Failure{Kind: "403"}
		case s == http.StatusNotFound:
			return Failure{Kind: "404"}
		case s >= 400:
			return Failure{Kind: "4xx"}
		}
		return Failure{Kind: "other"} // a 3xx with no usable redirect
	case Unreachable, Timeout:
		return Failure{Kind: "network", Transient: true}
	case TLS:
		return Failure{Kind: "tls"}
	default: // Redirected, Malformed
		return Failure{Kind: "other"}
	}
}

// StatusOf is the HTTP status GitLab answered a failed call with, 0 when
// the failure is not GitLab's error answer (no answer, a malformed one).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Kind == Status {
		return e.Status
	}
	return 0
}
