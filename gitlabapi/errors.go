package gitlabapi

import (
	"fmt"
	"net/http"
	"time"
)

// ErrorKind sorts API failures by what the user can do about them.
type ErrorKind int

const (
	// Status: GitLab answered with an HTTP error.
	Status ErrorKind = iota
	// Unreachable: no answer (DNS, connection refused, reset).
	Unreachable
	// Timeout: the deadline passed before a usable answer.
	Timeout
	// TLS: the server's certificate is not trusted, or it speaks plain
	// HTTP to an https:// URL (IsPlainHTTP).
	TLS
	// Redirected: GitLab sent us to another host; the token was not sent there.
	Redirected
	// Malformed: an answer that is not the JSON GitLab sends.
	Malformed
)

// Error is a failed API call. Its text never holds the token, and Message,
// which may come from the server, is bounded; callers still pass it through
// printable before showing it.
type Error struct {
	Kind       ErrorKind
	Method     string
	Path       string // escaped API path, without query
	Status     int    // HTTP status, for Kind Status and Malformed
	Message    string // GitLab's message, or what went wrong
	RetryAfter string // a 429 or 503 answer's Retry-After, if any
	LastStatus int    // for Timeout: the last status seen, 0 if none
	// URL is set when the answer was not GitLab's (a 404 page that is not
	// GitLab's JSON): the URL that answered, scheme://host/path, without
	// user info or query, so the user can see where --gitlab-url led.
	URL      string
	Attempts int
	Err      error

	// wait is what the answer asked for before another try (Retry-After,
	// RateLimit-Reset), as Classify reports it.
	wait time.Duration
}

func (e *Error) Error() string {
	switch e.Kind {
	case Status:
		msg := fmt.Sprintf("GitLab answered %d %s to %s %s", e.Status, http.StatusText(e.Status), e.Method, e.Path)
		if e.Message != "" {
			msg += ": " + e.Message
		}
		if e.RetryAfter != "" {
			msg += " (Retry-After: " + e.RetryAfter + ")"
		}
		return msg
	case Timeout:
		msg := fmt.Sprintf("no answer from GitLab in time for %s %s", e.Method, e.Path)
		if e.LastStatus != 0 {
			msg += fmt.Sprintf(" (last answer %d %s, after %d attempts)", e.LastStatus, http.StatusText(e.LastStatus), e.Attempts)
		} else if e.Message != "" {
			msg += fmt.Sprintf(" (last attempt: %s, after %d attempts)", e.Message, e.Attempts)
		}
		return msg
	case Malformed:
		if e.URL != "" {
			return fmt.Sprintf("%s %s %s", e.Method, e.URL, e.Message)
		}
		return fmt.Sprintf("GitLab %s to %s %s", e.Message, e.Method, e.Path)
	default:
		return fmt.Sprintf("cannot reach GitLab for %s %s: %s", e.Method, e.Path, e.Message)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// RedirectError stops a redirect that would take the token to another host.
type RedirectError struct {
	To      string
	TooMany bool
}

func (e *RedirectError) Error() string {
	if e.TooMany {
		return "GitLab redirected too many times"
	}
	return fmt.Sprintf("GitLab redirected to another host (%s); the token was not sent there", e.To)
}
