package gitlabapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// Call makes one client-go call through c and explains its failure as an
// *Error. f gets the request options to pass on (the context, whose
// deadline bounds the call and all its retries):
//
//	jobs, err := gitlabapi.Call(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.Job, *gitlab.Response, error) {
//		return c.gl.Jobs.ListPipelineJobs(project, pipeline, nil, o...)
//	})
func Call[T any](ctx context.Context, c *Client, f func(...gitlab.RequestOptionFunc) (T, *gitlab.Response, error)) (T, error) {
	v, _, err := do(ctx, c, f)
	return v, err
}

// Exec is Call for a client-go call that returns no value (a delete).
func Exec(ctx context.Context, c *Client, f func(...gitlab.RequestOptionFunc) (*gitlab.Response, error)) error {
	_, _, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (struct{}, *gitlab.Response, error) {
		resp, err := f(o...)
		return struct{}{}, resp, err
	})
	return err
}

func do[T any](ctx context.Context, c *Client, f func(...gitlab.RequestOptionFunc) (T, *gitlab.Response, error)) (v T, rec *call, err error) {
	ctx, rec = withCall(ctx)
	defer func() {
		// client-go dereferences what it decoded (a list of merge requests
		// holding a null panics in its toBasic): an answer it cannot
		// take is a malformed answer, not a crash. Any other panic is ours.
		if p := recover(); p != nil {
			last, n := rec.last()
			if n == 0 || last.Status < 200 || last.Status > 299 {
				panic(p)
			}
			var zero T
			v, err = zero, c.malformed(rec, "answered with JSON that the client cannot take")
		}
	}()
	v, resp, err := f(gitlab.WithContext(ctx))
	return v, rec, c.explain(ctx, rec, resp, err)
}

// explain turns what a client-go call returned into nil or an *Error.
func (c *Client) explain(ctx context.Context, rec *call, resp *gitlab.Response, err error) error {
	last, n := rec.last()
	status := 0
	if resp != nil && resp.Response != nil {
		status = resp.StatusCode
	}
	ok := status >= 200 && status <= 299
	if err == nil {
		if status != http.StatusNoContent && !isJSON(last.contentType) {
			return c.malformed(rec, fmt.Sprintf("answered with %q instead of JSON", c.cut(last.contentType, 60)))
		}
		return nil
	}
	e := &Error{Kind: Unreachable, Attempts: n, Err: err}
	e.Method, e.Path = c.where(rec)
	var redirect *RedirectError
	switch {
	case errors.Is(err, errTooLarge):
		return c.malformed(rec, "answered with more than "+maxBodyText+", which no merge request needs (reading stopped there)")
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		e.Kind = Timeout
		if n > 0 {
			e.LastStatus = last.Status
			if last.Err != nil && !errors.Is(last.Err, context.DeadlineExceeded) && !errors.Is(last.Err, context.Canceled) {
				e.Message = c.cut(rootCause(last.Err).Error(), 160)
			}
		}
	case status != 0 && !ok:
		return c.statusError(rec, resp.Response)
	case ok && !isJSON(last.contentType):
		return c.malformed(rec, fmt.Sprintf("answered with %q instead of JSON", c.cut(last.contentType, 60)))
	case ok && isLabelsTypeError(err):
		return c.malformed(rec, noLabels)
	case ok:
		return c.malformed(rec, "answered with JSON that cannot be read: "+c.cut(err.Error(), 120))
	case errors.As(err, &redirect):
		e.Kind = Redirected
		e.Message = redirect.Error()
	case IsPlainHTTP(err):
		e.Kind = TLS
		e.Message = "it answered in plain HTTP to a TLS handshake: the URL says https:// for a server that speaks http://"
	case isUntrustedCert(err):
		e.Kind = TLS
		e.Message = "its TLS certificate is not trusted: " + c.cut(rootCause(err).Error(), 160)
	default:
		e.Message = c.cut(rootCause(err).Error(), 160)
	}
	return e
}

// where names the call in an error: its method, and its escaped path
// relative to the API root, as the first attempt sent it.
func (c *Client) where(rec *call) (method, path string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.attempts) == 0 {
		return "", "(no request sent)"
	}
	first := rec.attempts[0]
	path = first.Path
	if rel, found := strings.CutPrefix(path, c.apiPath); found && strings.HasPrefix(rel, "/") {
		path = rel
	}
	return first.Method, path
}

func (c *Client) malformed(rec *call, msg string) *Error {
	last, n := rec.last()
	e := &Error{Kind: Malformed, Status: last.Status, Message: msg, Attempts: n}
	e.Method, e.Path = c.where(rec)
	return e
}

// statusError explains an HTTP error answer from the body the recorder
// kept: GitLab's message, or, for a 404 that is not GitLab's JSON, the URL
// that answered, since the likely cause is a --gitlab-url that is not
// GitLab's API root, not a missing merge request.
func (c *Client) statusError(rec *call, resp *http.Response) error {
	last, n := rec.last()
	e := &Error{Kind: Status, Status: resp.StatusCode, Attempts: n}
	e.Method, e.Path = c.where(rec)
	if resp.StatusCode < 400 {
		e.Message = fmt.Sprintf("answered %s with no usable redirect", resp.Status)
		return e
	}
	msg, fromGitLab := errorMessage(last.body)
	if resp.StatusCode == http.StatusNotFound && !fromGitLab {
		e.Kind = Malformed
		e.Method, e.URL = last.Method, last.url
		ct := "no content type"
		if last.contentType != "" {
			ct = strconv.Quote(c.cut(last.contentType, 60))
		}
		e.Message = fmt.Sprintf("answered 404 Not Found with %s, not GitLab's JSON error", ct)
		return e
	}
	if resp.StatusCode == http.StatusNotFound && noSuchRoute(last.body) {
		e.Kind = Malformed
		e.Method, e.URL = last.Method, last.url
		e.Message = "answered GitLab's 404 for a path it has no API route for"
		return e
	}
	// GitLab repeats the status in its message ("404 Not found"); keep
	// only what it adds, masked before the cut like all it sends.
	e.Message = c.cut(strings.TrimPrefix(msg, strconv.Itoa(resp.StatusCode)+" "), 200)
	if strings.EqualFold(e.Message, http.StatusText(resp.StatusCode)) {
		e.Message = ""
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		e.RetryAfter = c.cut(ra, 40)
	}
	e.wait, _ = RetryAfter(resp)
	return e
}

// isLabelsTypeError is true when a "labels" field is not a list of strings.
func isLabelsTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te) && (te.Field == "labels" || strings.HasSuffix(te.Field, ".labels"))
}

func isJSON(contentType string) bool { return strings.Contains(contentType, "json") }

// errorMessage reads GitLab's error body: {"message": "..."}, {"message":
// {"field": ["..."]}} or {"error": "...", "error_description": "..."}. A body
// that is none of these (a proxy's HTML page) gives no message, and
// fromGitLab false.
func errorMessage(body []byte) (msg string, fromGitLab bool) {
	var e struct {
		Message          json.RawMessage `json:"message"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", false
	}
	if json.Unmarshal(e.Message, &msg) != nil && len(e.Message) > 0 && string(e.Message) != "null" {
		msg = string(e.Message) // field errors: keep GitLab's JSON, it reads well enough
	}
	if msg == "" {
		msg = strings.TrimSpace(e.Error + " " + e.ErrorDescription)
	}
	return msg, msg != ""
}

// noSuchRoute is true for GitLab's answer to a path that is no API route,
// {"error":"404 Not Found"} (its catch-all route), as opposed to a missing
// project or merge request, {"message":"404 Project Not Found"}: the URL
// was built on a --gitlab-url that is not the API root.
func noSuchRoute(body []byte) bool {
	var e struct {
		Message json.RawMessage `json:"message"`
		Error   string          `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Message == nil && e.Error != ""
}

// rootCause drops the url.Error wrapper, whose text repeats the full URL.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// cut bounds text from a server or a library after masking the secrets
// in it (cut first, a secret's first characters would survive the mask),
// and shows its control characters escaped: mask.Clip.
func (c *Client) cut(s string, n int) string { return c.secrets.Clip(s, n) }
