// Package gitlabapi is the little of the GitLab REST API that echoes-labels
// needs, with retries, deadlines and token hygiene decided in one place.
//
// It is built on hashicorp/go-retryablehttp, the retrying transport that
// gitlab.com/gitlab-org/api/client-go itself uses, but not on client-go:
// constructing its Client wires up every one of GitLab's ~200 API services,
// which stops the linker from dropping them and costs 4.5 MiB of binary for
// one GET (12.4 MiB against 8.1 MiB stripped, go1.26, client-go v1.46.0);
// and its CheckResponse turns every 404 into one ErrNotFound, losing
// whether the project or the merge request is missing.
package gitlabapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	retryablehttp "github.com/hashicorp/go-retryablehttp"
)

// TokenKind says which header carries the token.
type TokenKind int

const (
	// PrivateToken is a personal, project or group access token.
	PrivateToken TokenKind = iota
	// JobToken is the CI_JOB_TOKEN of the running job.
	JobToken
)

func (k TokenKind) header() string {
	if k == JobToken {
		return "JOB-TOKEN"
	}
	return "PRIVATE-TOKEN"
}

// Config is what a Client needs. Zero values pick sensible defaults.
type Config struct {
	BaseURL   string // API v4 root, e.g. https://gitlab.example.com/api/v4
	Token     string
	TokenKind TokenKind
	CAFile    string // PEM bundle trusted in addition to the system's
	UserAgent string

	// RetryMax is how many times a transient failure (5xx, 429, connection
	// error) is retried; the caller's context deadline bounds them all.
	RetryMax int
	// Delay, when set, hears each wait before a retry (which honours
	// Retry-After on 429 and 503, and otherwise doubles from 500ms) and
	// returns the wait to use instead. Tests record the waits and skip them.
	Delay func(wait time.Duration) time.Duration
	// MaxRetryWait caps each wait before a retry; zero keeps Retry-After
	// and the backoff as they are.
	MaxRetryWait time.Duration
	// Transport replaces the default transport (tests only).
	Transport http.RoundTripper
}

// Attempt is one HTTP round trip, as Attempts reports it. It never
// holds the token or the query string.
type Attempt struct {
	Method   string
	Path     string
	Status   int // 0 when no answer came
	Duration time.Duration
	Err      error
}

// Client talks to one GitLab instance with one token.
type Client struct {
	base   *url.URL
	cfg    Config
	http   *retryablehttp.Client
	traced []Attempt
}

// New checks the configuration and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	base, err := ParseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 4
	}
	backoff := retryablehttp.DefaultBackoff
	if cfg.Delay != nil {
		backoff = func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
			return cfg.Delay(retryablehttp.DefaultBackoff(min, max, attempt, resp))
		}
	}
	if cfg.MaxRetryWait > 0 {
		inner := backoff
		backoff = func(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
			return func(a, b time.Duration) time.Duration {
				if a < b {
					return a
				}
				return b
			}(inner(min, max, attempt, resp), cfg.MaxRetryWait)
		}
	}
	transport := cfg.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		if cfg.CAFile != "" {
			pool, err := loadCA(cfg.CAFile)
			if err != nil {
				return nil, err
			}
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		transport = t
	}
	c := &Client{base: base, cfg: cfg}
	c.http = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport:     &tracingTransport{next: transport, client: c},
			CheckRedirect: sameHostRedirects,
		},
		Logger:       nil, // retryablehttp logs URLs and bodies to stderr otherwise
		RetryWaitMin: 500 * time.Millisecond,
		RetryWaitMax: 8 * time.Second,
		RetryMax:     cfg.RetryMax,
		CheckRetry:   retryPolicy,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

// ParseBaseURL accepts the API v4 root, or the instance's root URL to which
// it adds /api/v4, as client-go does.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &ConfigError{Msg: fmt.Sprintf("the GitLab API URL %q is not an http(s) URL", sanitizeURL(raw))}
	}
	if u.User != nil {
		return nil, &ConfigError{Msg: "the GitLab API URL must not carry a user name or password: pass the token with --token or ECHOES_GITLAB_TOKEN"}
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/api/v4") {
		u.Path += "/api/v4"
	}
	u.RawPath = ""
	return u, nil
}

// sanitizeURL drops user info from a URL that failed to parse as ours, so an
// error never repeats a password someone put in it.
func sanitizeURL(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			raw = raw[:j+3] + "…@" + raw[i+1:]
		} else {
			raw = "…@" + raw[i+1:]
		}
	}
	if len(raw) > 200 {
		raw = raw[:200] + "…"
	}
	return raw
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("cannot read the CA bundle %s (CI_SERVER_TLS_CA_FILE): %v", path, errors.Unwrap(err))}
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &ConfigError{Msg: fmt.Sprintf("the CA bundle %s (CI_SERVER_TLS_CA_FILE) holds no PEM certificate", path)}
	}
	return pool, nil
}

// sameHostRedirects follows a redirect only on the same host and scheme (or
// from http to https): Go's client forwards custom headers such as
// PRIVATE-TOKEN to any host, so a redirect elsewhere would hand it the token.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if len(via) >= 5 {
		return &RedirectError{To: req.URL.Host, TooMany: true}
	}
	if req.URL.Host != first.Host || (first.Scheme == "https" && req.URL.Scheme != "https") {
		return &RedirectError{To: req.URL.Host}
	}
	return nil
}

// writeKey marks a request that changes something (a note): it is retried
// only when it cannot have reached GitLab, so a retry never writes twice.
type writeKey struct{}

func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if ctx.Value(writeKey{}) != nil {
		var op *net.OpError
		return err != nil && errors.As(err, &op) && op.Op == "dial", nil
	}
	var redirect *RedirectError
	if errors.As(err, &redirect) || isUntrustedCert(err) {
		return false, nil
	}
	if waitsPastDeadline(ctx, resp) {
		return false, nil
	}
	return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
}

// isUntrustedCert is true when TLS failed on the server's certificate:
// retrying cannot help, and the fix is a CA file.
func isUntrustedCert(err error) bool {
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	return errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr)
}

// waitsPastDeadline is true when GitLab asks (Retry-After on a 429 or 503)
// for a wait that ends after the deadline: waiting it out would only end in
// a timeout, so the answer is reported at once, naming the real cause.
func waitsPastDeadline(ctx context.Context, resp *http.Response) bool {
	deadline, ok := ctx.Deadline()
	if !ok || resp == nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
		return false
	}
	ra := resp.Header.Get("Retry-After")
	if secs, err := strconv.ParseInt(ra, 10, 64); err == nil {
		return secs > 0 && time.Now().Add(time.Duration(min(secs, 1<<31))*time.Second).After(deadline)
	}
	if at, err := http.ParseTime(ra); err == nil {
		return at.After(deadline)
	}
	return false
}

type tracingTransport struct {
	next   http.RoundTripper
	client *Client
}

func (t *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	a := Attempt{Method: req.Method, Path: req.URL.EscapedPath(), Duration: time.Since(start), Err: err}
	if resp != nil {
		a.Status = resp.StatusCode
	}
	t.client.traced = append(t.client.traced, a)
	return resp, err
}

// Attempts returns every HTTP attempt made so far.
func (c *Client) Attempts() []Attempt { return c.traced }

// maxBody bounds what is read from GitLab: 5,000 labels of 255 characters
// are 1.3 MB, so 32 MiB is far beyond any real answer.
const maxBody = 32 << 20

// do sends one API call with retries and decodes a JSON answer into out.
// path is already escaped (see gitlab.PathEscape) and relative to the API root.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	unescaped, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return &ConfigError{Msg: fmt.Sprintf("cannot build the API path %q: %v", path, err)}
	}
	u.Path = unescaped
	u.RawQuery = query.Encode()
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return err
		}
	}
	if method != http.MethodGet {
		ctx = context.WithValue(ctx, writeKey{}, true)
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), bytesOrNil(payload))
	if err != nil {
		return &ConfigError{Msg: fmt.Sprintf("cannot build a request to %s: %v", c.base.Redacted(), err)}
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	if c.cfg.Token != "" {
		req.Header.Set(c.cfg.TokenKind.header(), c.cfg.Token)
	}
	first := len(c.traced)
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, method, path, err, first)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return c.statusError(method, path, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	ct := resp.Header.Get("Content-Type")
	if !strings.Contains(ct, "json") {
		return &Error{Kind: Malformed, Method: method, Path: path, Status: resp.StatusCode,
			Message: fmt.Sprintf("answered with %q instead of JSON", truncate(ct, 60))}
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxBody))
	if err := dec.Decode(out); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return c.transportError(ctx, method, path, err, first)
		}
		return &Error{Kind: Malformed, Method: method, Path: path, Status: resp.StatusCode,
			Message: "answered with JSON that cannot be read: " + truncate(err.Error(), 120)}
	}
	return nil
}

func bytesOrNil(b []byte) any {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

func (c *Client) statusError(method, path string, resp *http.Response) error {
	e := &Error{Kind: Status, Method: method, Path: path, Status: resp.StatusCode}
	if resp.StatusCode < 400 {
		e.Message = fmt.Sprintf("answered %s with no usable redirect", resp.Status)
		return e
	}
	// GitLab repeats the status in its message ("404 Not found"); keep
	// only what it adds.
	e.Message = strings.TrimPrefix(errorMessage(resp.Body, c.cfg.Token), strconv.Itoa(resp.StatusCode)+" ")
	if strings.EqualFold(e.Message, http.StatusText(resp.StatusCode)) {
		e.Message = ""
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		e.RetryAfter = truncate(ra, 40)
	}
	return e
}

// transportError explains a call that got no usable answer; first is the
// index of the call's first attempt, so earlier calls are not counted.
func (c *Client) transportError(ctx context.Context, method, path string, err error, first int) error {
	e := &Error{Kind: Unreachable, Method: method, Path: path, Err: err}
	var redirect *RedirectError
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		e.Kind = Timeout
	case errors.As(err, &redirect):
		e.Kind = Redirected
		e.Message = redirect.Error()
	case isUntrustedCert(err):
		e.Kind = TLS
		e.Message = "its TLS certificate is not trusted: " + truncate(rootCause(err).Error(), 160)
	default:
		e.Message = truncate(rootCause(err).Error(), 160)
	}
	if n := len(c.traced); n > first {
		last := c.traced[n-1]
		e.LastStatus = last.Status
		if e.Kind == Timeout && last.Err != nil && !errors.Is(last.Err, context.DeadlineExceeded) && !errors.Is(last.Err, context.Canceled) {
			e.Message = truncate(rootCause(last.Err).Error(), 160)
		}
	}
	e.Attempts = len(c.traced) - first
	return e
}

// rootCause drops the url.Error wrapper, whose text repeats the full URL.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// truncate bounds text from a server or a library, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// errorMessage reads GitLab's error body: {"message": "..."}, {"message":
// {"field": ["..."]}} or {"error": "...", "error_description": "..."}. A body
// that is none of these (a proxy's HTML page) gives no message.
func errorMessage(body io.Reader, token string) string {
	var e struct {
		Message          json.RawMessage `json:"message"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	if json.NewDecoder(io.LimitReader(body, 64<<10)).Decode(&e) != nil {
		return ""
	}
	var msg string
	if json.Unmarshal(e.Message, &msg) != nil && len(e.Message) > 0 {
		msg = string(e.Message) // field errors: keep GitLab's JSON, it reads well enough
	}
	if msg == "" {
		msg = strings.TrimSpace(e.Error + " " + e.ErrorDescription)
	}
	// A server that echoes the token: masked before the cut, which would
	// otherwise leave its first characters.
	if len(token) >= 4 {
		msg = strings.ReplaceAll(msg, token, "[MASKED]")
	}
	return truncate(msg, 200)
}
