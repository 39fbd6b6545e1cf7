package serve

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// newGitLab builds the client-go client the service calls GitLab with.
// MERGE: this is the one function gitlabapi.New replaces (same-host
// redirects, Retry-After, writes never retried, mapped errors).
func newGitLab(cfg config) (*gitlab.Client, error) {
	base, err := url.Parse(cfg.gitlabURL)
	if err != nil {
		return nil, err
	}
	httpClient := &http.Client{
		Timeout: cfg.callTimeout,
		// A token must never follow a redirect to another host.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != base.Host || len(via) >= 5 {
				return fmt.Errorf("refusing a redirect to %s: only %s is called", req.URL.Host, base.Host)
			}
			return nil
		},
	}
	return gitlab.NewClient(cfg.token,
		gitlab.WithBaseURL(cfg.gitlabURL),
		gitlab.WithHTTPClient(httpClient),
		gitlab.WithUserAgent("echoes-labels-serve"),
		// A POST that failed may have acted: the worker re-reads and
		// decides again instead of the client repeating it blindly.
		gitlab.WithOnlyIdempotentRetries(),
		gitlab.WithCustomRetryMax(cfg.clientRetries),
		gitlab.WithCustomRetryWaitMinMax(cfg.backoff, cfg.maxWait),
		gitlab.WithCustomBackoff(func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
			if resp != nil {
				if d, ok := retryAfter(resp.Header, time.Now()); ok {
					return min(d, hi)
				}
			}
			return expBackoff(lo, hi, attempt)
		}),
	)
}

// expBackoff doubles lo per attempt, up to hi.
func expBackoff(lo, hi time.Duration, attempt int) time.Duration {
	d := float64(lo) * math.Pow(2, float64(attempt))
	if d > float64(hi) {
		return hi
	}
	return time.Duration(d)
}

// retryAfter reads Retry-After (seconds or an HTTP date), then GitLab's
// RateLimit-Reset (a Unix time).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if v := h.Get("RateLimit-Reset"); v != "" {
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
			return max(time.Unix(s, 0).Sub(now), 0), true
		}
	}
	return 0, false
}

// apiFault classifies a failed GitLab call for the metrics and for the
// decision to try again: 429 and 5xx and network faults are transient;
// other statuses will not change by waiting.
func apiFault(err error) (kind string, transient bool, wait time.Duration) {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		if er.Response != nil {
			wait, _ = retryAfter(er.Response.Header, time.Now())
		}
		switch {
		case er.StatusCode == http.StatusTooManyRequests:
			return "429", true, wait
		case er.StatusCode >= 500:
			return "5xx", true, wait
		case er.StatusCode == http.StatusUnauthorized || er.StatusCode == http.StatusForbidden:
			return strconv.Itoa(er.StatusCode), false, 0
		case er.StatusCode == http.StatusNotFound:
			return "404", false, 0
		default:
			return "4xx", false, 0
		}
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return "network", true, 0
	}
	return "other", false, 0
}
