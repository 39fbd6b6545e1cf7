package serve

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// newGitLab builds the client-go client the service calls GitLab with,
// configured as the check's (gitlabapi): the token never follows a
// redirect to another host, Retry-After is honoured up to maxWait, and a
// write is never repeated by the client (the worker re-reads and decides
// again instead).
func newGitLab(cfg config) (*gitlab.Client, error) {
	c, err := gitlabapi.New(gitlabapi.Config{
		BaseURL: cfg.gitlabURL, Token: cfg.token, TokenKind: gitlabapi.PrivateToken, CAFile: cfg.caFile,
		UserAgent: "echoes-labels-serve", RetryMax: cfg.clientRetries, MaxRetryWait: cfg.maxWait,
	})
	if err != nil {
		return nil, err
	}
	return c.GitLab(), nil
}

// expBackoff doubles lo per attempt, up to hi.
func expBackoff(lo, hi time.Duration, attempt int) time.Duration {
	d := float64(lo) * math.Pow(2, float64(attempt))
	if d > float64(hi) {
		return hi
	}
	return time.Duration(d)
}

// apiFault classifies a failed GitLab call for the metrics and for the
// decision to try again: 429 and 5xx and network faults are transient;
// other statuses will not change by waiting.
func apiFault(err error) (kind string, transient bool, wait time.Duration) {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		if er.Response != nil {
			wait, _ = gitlabapi.RetryAfter(er.Response)
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
