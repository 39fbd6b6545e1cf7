package gitlabapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
)

// retryPolicy is client-go's CheckRetry, ours: transient failures (5xx,
// 429, connection errors) are retried, what a retry cannot mend is not, and
// a write is retried only when it cannot have reached GitLab.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if isWrite(resp, err) {
		var op *net.OpError
		return err != nil && errors.As(err, &op) && op.Op == "dial", nil
	}
	var redirect *RedirectError
	if errors.As(err, &redirect) || isUntrustedCert(err) || IsPlainHTTP(err) {
		return false, nil
	}
	if waitsPastDeadline(ctx, resp) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// announced calls cfg.OnRetry when policy decides to retry, with the wait
// backoff will pick for the same answer.
func (c *Client) announced(cfg Config, policy retryablehttp.CheckRetry) retryablehttp.CheckRetry {
	if cfg.OnRetry == nil {
		return policy
	}
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		retry, perr := policy(ctx, resp, err)
		if !retry || perr != nil {
			return retry, perr
		}
		attempt := 0
		if rec, ok := ctx.Value(callKey{}).(*call); ok {
			_, attempt = rec.last()
		}
		if attempt > cfg.RetryMax {
			return retry, perr // client-go gives up after this one: no wait follows
		}
		cause := "no answer"
		switch {
		case err != nil:
			cause = rootCause(err).Error()
		case resp != nil:
			cause = "GitLab answered " + resp.Status
		}
		wait := waitFor(cfg, retryWaitMin, retryWaitMax, attempt-1, resp)
		if deadline, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(deadline) {
			return retry, perr // the deadline ends that wait: the error follows
		}
		cfg.OnRetry(c.cut(cause, 160), wait)
		return retry, perr
	}
}

// isWrite tells a request that changes something from a read. The method
// is on the answer's request, or, when no answer came, in the *url.Error
// (whose Op is the method as "Post", "Put").
func isWrite(resp *http.Response, err error) bool {
	method := ""
	var ue *url.Error
	switch {
	case resp != nil && resp.Request != nil:
		method = resp.Request.Method
	case errors.As(err, &ue):
		method = ue.Op
	default:
		return true // unknown: the safe answer is not to retry
	}
	method = strings.ToUpper(method)
	return method != http.MethodGet && method != http.MethodHead
}

// isUntrustedCert is true when TLS failed on the server's certificate:
// retrying cannot help, and the fix is a CA file.
func isUntrustedCert(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	return errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr)
}

// IsPlainHTTP is true when an https:// URL reached a server that answered
// in plain HTTP: the handshake fails the same way on every try, and the
// fix is the URL's scheme.
// net/http says so in an error of no type of its own when the answer
// starts "HTTP/".
func IsPlainHTTP(err error) bool {
	var rec tls.RecordHeaderError
	return errors.As(err, &rec) || err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// RetryAfter is the wait a 429 or 503 answer asks for: Retry-After, in
// seconds or as an HTTP date, else GitLab's RateLimit-Reset (a Unix time)
// on a 429; ok is false when it asks for none. serve paces its own
// retries of a task by it too.
func RetryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return 0, false
	}
	ra := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if secs, err := strconv.ParseInt(ra, 10, 64); err == nil && secs >= 0 {
		return time.Duration(min(secs, 1<<31)) * time.Second, true
	}
	if at, err := http.ParseTime(ra); err == nil {
		return max(time.Until(at), 0), true
	}
	reset, err := strconv.ParseInt(strings.TrimSpace(resp.Header.Get("RateLimit-Reset")), 10, 64)
	if resp.StatusCode == http.StatusTooManyRequests && err == nil && reset > 0 {
		return max(time.Until(time.Unix(reset, 0)), 0), true
	}
	return 0, false
}

// waitsPastDeadline is true when GitLab asks (Retry-After on a 429 or 503)
// for a wait that ends after the deadline: waiting it out would only end in
// a timeout, so the answer is reported at once, naming the real cause.
func waitsPastDeadline(ctx context.Context, resp *http.Response) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return false
	}
	wait, asked := RetryAfter(resp)
	return asked && wait > 0 && time.Now().Add(wait).After(deadline)
}

// backoff is client-go's Backoff, ours: Retry-After when GitLab sends it
// (client-go's own backoff reads only RateLimit-Reset), else doubling from
// min, capped at max; then capped by MaxRetryWait.
func backoff(cfg Config) retryablehttp.Backoff {
	return func(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
		wait := waitFor(cfg, lo, hi, attempt, resp)
		if cfg.delay != nil {
			wait = cfg.delay(wait)
		}
		return wait
	}
}

// waitFor is the wait before retry number attempt+1.
func waitFor(cfg Config, lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	wait, asked := RetryAfter(resp)
	if !asked {
		wait = Backoff(lo, hi, attempt)
	}
	if cfg.MaxRetryWait > 0 && wait > cfg.MaxRetryWait {
		wait = cfg.MaxRetryWait
	}
	return wait
}

// Backoff is the wait before retry number attempt+1 when GitLab asks for
// none: lo doubled attempt times, capped at hi. It is the one backoff of
// every command: the client's retries and serve's and reconcile's.
func Backoff(lo, hi time.Duration, attempt int) time.Duration {
	wait := lo << min(max(attempt, 0), 20)
	if wait > hi || wait <= 0 {
		return hi
	}
	return wait
}
