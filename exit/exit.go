// Package exit is the one error type of echoes-labels: an exit code, the
// cause in one line and the fix in one line. Every command returns it (or
// an error that is not one, which counts as a bug); the application turns
// it into the two lines on stderr and the process's exit code, in one place.
package exit

import (
	"errors"
	"strings"
)

// Exit codes, stable and documented in the README.
const (
	Pass      = 0   // labels pass, nothing to check, or the service stopped cleanly
	Labels    = 1   // labels missing or invalid
	Config    = 2   // configuration or usage error
	API       = 3   // GitLab API error
	Warn      = 4   // labels missing, not enforced: a draft (--drafts warn) or --enforce false
	Cancelled = 130 // stopped by SIGTERM or Ctrl-C, as shells number it
)

// MaxCause bounds a cause line, in the log and the reports alike: it may
// quote what GitLab answered.
const MaxCause = 600

// Error carries an exit code and the one or two lines that explain it.
type Error struct {
	Code int
	// Setting names the flag or variable at fault for a configuration
	// error ("--ca-file"), so that callers choose a fix by field, never by
	// the wording of the cause.
	Setting string
	Cause   string
	Fix     string
	Err     error // what it wraps, if anything
}

func (e *Error) Error() string { return e.Cause }

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the process's exit code for e.
func (e *Error) ExitCode() int { return e.Code }

// BadSetting is a configuration error (exit 2) in setting.
func BadSetting(setting, cause, fix string) *Error {
	return &Error{Code: Config, Setting: setting, Cause: cause, Fix: fix}
}

// APIError is a failed GitLab call (exit 3).
func APIError(cause, fix string, err error) *Error {
	return &Error{Code: API, Cause: cause, Fix: fix, Err: err}
}

// Silent is an exit code whose story the report has already told (a rule
// failure, exit 1): nothing more is printed.
func Silent(code int) *Error { return &Error{Code: code} }

// ErrCancelled is what a check stopped by a signal ends with.
var ErrCancelled = CancelledBefore("the check", "nothing to mend: run the job again for a verdict")

// CancelledBefore is what a run of what stopped by a signal ends with
// (exit 130), fix saying what runs it again: the one cancel error of
// every command.
func CancelledBefore(what, fix string) *Error {
	return &Error{Code: Cancelled, Cause: "cancelled before " + what + " finished (SIGTERM or Ctrl-C)", Fix: fix}
}

// From gives every error an exit code: nil is Pass; one that is not an
// *Error is a bug or an I/O failure, reported as a configuration problem
// with the fix to report it.
func From(err error) *Error {
	if err == nil {
		return &Error{Code: Pass}
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Config, Cause: err.Error(), Fix: "check the flags and variables above; if they are right, report this as a bug", Err: err}
}

// Settings collects every bad setting of one command line, so that a
// person mends them all in one go rather than one run at a time.
type Settings []*Error

// Add records err (nil is ignored); an error that is not an *Error counts
// as a configuration error.
func (s *Settings) Add(err error) {
	if err == nil {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = BadSetting("", err.Error(), "check the flags and variables")
	}
	*s = append(*s, e)
}

// Err is nil, the one error, or one configuration error of several: the
// first one's setting, every cause on one line, every fix on another.
func (s Settings) Err() error {
	switch len(s) {
	case 0:
		return nil
	case 1:
		return s[0]
	}
	causes, fixes := make([]string, 0, len(s)), make([]string, 0, len(s))
	wrapped := make([]error, 0, len(s))
	for _, e := range s {
		causes, wrapped = append(causes, e.Cause), append(wrapped, e)
		if e.Fix != "" {
			fixes = append(fixes, e.Fix)
		}
	}
	return &Error{Code: Config, Setting: s[0].Setting, Cause: strings.Join(causes, "; "),
		Fix: strings.Join(fixes, "; "), Err: errors.Join(wrapped...)}
}
