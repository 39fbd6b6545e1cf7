// Package gitlabapi is the GitLab client of echoes-labels: GitLab's own Go
// client, gitlab.com/gitlab-org/api/client-go/v2, configured once with our
// policy on retries, deadlines, redirects and token hygiene, and its errors
// turned into the few kinds a user can act on.
//
// Every call goes through client-go's services. What client-go decides
// differently from us is configured, not forked:
//   - the token never follows a redirect to another host, or from https to
//     http (our CheckRedirect on the http.Client we hand it);
//   - Retry-After is honoured, within the caller's deadline (client-go's own
//     backoff ignores it); a wait that would end past the deadline is not
//     started, so the answer is reported at once;
//   - a write (POST, PUT) is retried only after a dial error, which cannot
//     have reached GitLab, so a note is never written twice;
//   - client-go folds every 404 into one ErrNotFound without reading the
//     body, so our transport keeps each error answer's body: "404 Project Not
//     Found" and "404 Not found" stay two causes, and a 404 that is not
//     GitLab's JSON (a wrong --gitlab-url) is told from both;
//   - answers are capped at 4 MiB (see maxBody: memory), and an answer that is not the JSON asked
//     for is Malformed, never an empty list of labels;
//   - client-go's loggers are silenced, so nothing prints URLs or headers;
//   - every list is read by one pager (pages.go) that follows X-Next-Page
//     (or a keyset Link rel="next") and never stops at a short page.
package gitlabapi

import (
	"gitlab.com/echoeshq/echoes-labels/internal/fileutil"

	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// TokenKind says which header carries the token.
type TokenKind int

const (
	// PrivateToken is a personal, project or group access token.
	PrivateToken TokenKind = iota
	// JobToken is the CI_JOB_TOKEN of the running job.
	JobToken
)

// Config is what a Client needs. Zero values pick sensible defaults.
type Config struct {
	BaseURL   string // API v4 root, e.g. https://gitlab.example.com/api/v4
	Token     string
	TokenKind TokenKind
	CAFile    string // PEM bundle trusted in addition to the system's
	// Base and RootCAs, when set, are BaseURL and CAFile as the caller
	// already checked them (ParseBaseURL, LoadCA): not read twice.
	Base      *url.URL
	RootCAs   *x509.CertPool
	UserAgent string
	// Secrets are masked in whatever GitLab's answers carry into an error
	// (bodies, headers, the network's own messages), before any cut; the
	// token is always among them.
	Secrets mask.Secrets

	// RetryMax is how many times a transient failure (5xx, 429, connection
	// error) is retried; the caller's context deadline bounds them all.
	// 0 is the default (4); NoRetries (any negative value) makes every call
	// one attempt, for a caller that retries on its own (serve).
	RetryMax int
	// MaxRetryWait caps every wait before a retry, Retry-After included
	// (0: no cap beyond the backoff's own 8s, and Retry-After as asked).
	// Tests set it to a millisecond.
	MaxRetryWait time.Duration

	// OnRetry hears each retry before its wait: what the last attempt met
	// (masked, bounded) and how long the wait is, so that a person watching
	// a job is not left with seconds of silence.
	OnRetry func(cause string, wait time.Duration)

	// transport replaces the network (this package's tests only).
	transport http.RoundTripper
	// delay hears each wait before a retry and returns the one to use
	// (this package's tests record the waits and skip them).
	delay func(time.Duration) time.Duration
}

// Attempt is one HTTP round trip, as Attempts reports it. It never
// holds the token or the query string.
type Attempt struct {
	Method   string
	Path     string // escaped URL path, without query
	Status   int    // 0 when no answer came
	Duration time.Duration
	Err      error

	url         string // scheme://host/path: no user info, no query
	contentType string
	body        []byte // an error answer's body, at most maxErrorBody
	sniff       *cappedBody
}

// Client talks to one GitLab instance with one token.
type Client struct {
	gl      *gitlab.Client
	apiPath string       // escaped path of the API root, e.g. /api/v4
	secrets mask.Secrets // masked in what a server echoes back

	mu     sync.Mutex
	traced []Attempt
}

// The settings a configuration error of this package names, and their fixes.
const (
	settingURL    = "--gitlab-url"
	settingCAFile = "--ca-file"
	// FixGitLabURL mends a GitLab URL that is not one.
	FixGitLabURL = "set ECHOES_GITLAB_URL (or CI_API_V4_URL, or --gitlab-url) to your GitLab's API root, e.g. https://gitlab.example.com/api/v4"
	// FixCAFile mends a CA bundle that cannot be used.
	FixCAFile = "point --ca-file/CI_SERVER_TLS_CA_FILE at a readable PEM file of your GitLab's CA, or unset it to trust the system's"
)

// NoRetries is Config.RetryMax for a client that makes one attempt a call.
const NoRetries = -1

// Retry pacing: doubling from retryWaitMin, capped at retryWaitMax.
const (
	retryWaitMin = 500 * time.Millisecond
	retryWaitMax = 8 * time.Second
)

// New checks the configuration and builds a Client. It makes no request.
func New(cfg Config) (*Client, error) {
	base, err := cfg.Base, error(nil)
	if base == nil {
		if base, err = ParseBaseURL(cfg.BaseURL); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.RetryMax == 0:
		cfg.RetryMax = 4
	case cfg.RetryMax < 0:
		cfg.RetryMax = 0
	}
	transport := cfg.transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		pool := cfg.RootCAs
		if pool == nil && cfg.CAFile != "" {
			if pool, err = LoadCA(cfg.CAFile); err != nil {
				return nil, err
			}
		}
		if pool != nil {
			t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		transport = t
	}
	c := &Client{apiPath: base.EscapedPath(), secrets: cfg.Secrets.With(cfg.Token)}
	httpClient := &http.Client{
		Transport:     &recorder{next: transport, client: c},
		CheckRedirect: sameHostRedirects,
	}
	opts := []gitlab.ClientOptionFunc{
		// First: client-go logs a base URL it finds odd to slog.Default.
		gitlab.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
		gitlab.WithBaseURL(base.String() + "/"),
		gitlab.WithHTTPClient(httpClient),
		gitlab.WithCustomLogger(nil), // retryablehttp would log URLs and errors
		gitlab.WithCustomRetry(c.announced(cfg, retryPolicy)),
		gitlab.WithCustomBackoff(backoff(cfg)),
		gitlab.WithCustomRetryWaitMinMax(retryWaitMin, retryWaitMax),
		gitlab.WithCustomRetryMax(cfg.RetryMax),
		// client-go's limiter paces calls from RateLimit-* headers; its
		// waits would spend the deadline unseen and end in an error that
		// is neither a timeout nor GitLab's. A 429 says the same, with
		// Retry-After, and is honoured.
		gitlab.WithCustomLimiter(noLimit{}),
	}
	if cfg.UserAgent != "" {
		opts = append(opts, gitlab.WithUserAgent(cfg.UserAgent))
	}
	switch {
	case cfg.Token == "":
		c.gl, err = gitlab.NewAuthSourceClient(gitlab.Unauthenticated{}, opts...)
	case cfg.TokenKind == JobToken:
		c.gl, err = gitlab.NewJobClient(cfg.Token, opts...)
	default:
		c.gl, err = gitlab.NewClient(cfg.Token, opts...)
	}
	if err != nil {
		return nil, exit.BadSetting(settingURL, fmt.Sprintf("cannot set up the GitLab client for %s: %s", base.Redacted(), c.cut(err.Error(), 200)), FixGitLabURL)
	}
	return c, nil
}

type noLimit struct{}

func (noLimit) Wait(ctx context.Context) error { return ctx.Err() }

// ParseBaseURL accepts the API v4 root, or the instance's root URL to which
// it adds /api/v4, as client-go does.
func ParseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse's message quotes the whole URL: keep only its reason.
		why := err.Error()
		if inner := errors.Unwrap(err); inner != nil {
			why = inner.Error()
		}
		return nil, exit.BadSetting(settingURL, fmt.Sprintf("the GitLab API URL %q is not a valid URL: %s", sanitizeURL(raw), printable.Truncate(why, 80)), FixGitLabURL)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, exit.BadSetting(settingURL, fmt.Sprintf("the GitLab API URL %q is not an http(s) URL", sanitizeURL(raw)), FixGitLabURL)
	}
	if u.User != nil {
		return nil, exit.BadSetting(settingURL, "the GitLab API URL carries a user name or password", "drop them from the URL and give the token with ECHOES_GITLAB_TOKEN or --token")
	}
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimSuffix(u.Path, "/")
	// A URL that goes on past the API root (…/api/v4/projects) would send
	// every call to a path GitLab answers 404, blamed on the merge request.
	if root, past, ok := strings.Cut(u.Path, "/api/v4/"); ok && past != "" {
		u.Path, u.RawPath = root+"/api/v4", ""
		return nil, exit.BadSetting(settingURL, fmt.Sprintf("the GitLab API URL %q goes on past the API root (/api/v4)", sanitizeURL(raw)),
			fmt.Sprintf("give the API root, %s, or the instance's address", u.Redacted()))
	}
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
	return printable.Truncate(raw, 200)
}

// maxCAFile bounds the CA bundle: Mozilla's whole store is about 200 KiB.
const maxCAFile = 1 << 20

// LoadCA reads the PEM bundle. It opens without blocking and reads only a
// regular file of bounded size: a FIFO or a device named by mistake (or on
// purpose) would otherwise hang the job or fill its memory.
func LoadCA(path string) (*x509.CertPool, error) {
	const where = "(--ca-file, CI_SERVER_TLS_CA_FILE)"
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, exit.BadSetting(settingCAFile, fmt.Sprintf("cannot read the CA bundle %s %s: %v", path, where, errors.Unwrap(err)), FixCAFile)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, exit.BadSetting(settingCAFile, fmt.Sprintf("cannot read the CA bundle %s %s: %v", path, where, errors.Unwrap(err)), FixCAFile)
	}
	if !info.Mode().IsRegular() {
		return nil, exit.BadSetting(settingCAFile, fmt.Sprintf("the CA bundle %s %s is not a regular file (%s): point it at a PEM file", path, where, fileutil.Kind(info.Mode())), FixCAFile)
	}
	pem, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, exit.BadSetting(settingCAFile, fmt.Sprintf("cannot read the CA bundle %s %s: %v", path, where, errors.Unwrap(err)), FixCAFile)
	}
	if len(pem) > maxCAFile {
		return nil, exit.BadSetting(settingCAFile, fmt.Sprintf("the CA bundle %s %s is larger than 1 MiB: point it at the PEM certificates of your GitLab's CA", path, where), FixCAFile)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, exit.BadSetting(settingCAFile, fmt.Sprintf("the CA bundle %s %s holds no PEM certificate", path, where), FixCAFile)
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

// Attempts returns the HTTP attempts made so far, oldest first (at most the
// last 1000).
func (c *Client) Attempts() []Attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Attempt(nil), c.traced...)
}
