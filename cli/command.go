package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// command is one run of echoes-labels.
type command struct {
	f    *Flags
	d    Deps
	opts check.Options
	src  *labelSource // where the labels came from; nil before resolve
	// secrets are masked in everything written: the log and the JUnit file.
	secrets []string
	// deadline bounds all GitLab calls together (--timeout); --wait
	// pushes it back by the time it spends, whose re-reads it bounds itself.
	deadline time.Time
}

// notice is where one-line remarks go (fallbacks, waiting): the log in text
// mode, stderr in JSON mode so that stdout stays one JSON document.
func (c *command) notice() io.Writer {
	if c.f.Format == "json" {
		return c.d.Stderr
	}
	return c.d.Stdout
}

func (c *command) noticef(format string, a ...any) {
	fmt.Fprintf(c.notice(), "echoes-labels: "+format+"\n", a...)
}

func (c *command) run() error {
	f := c.f
	c.opts = check.Options{
		Prefixes:      check.Prefixes{Intent: f.IntentPrefix, Initiative: f.InitiativePrefix, Effort: f.EffortPrefix},
		RequireEffort: f.RequireEffort,
	}
	if err := validatePrefixes(c.opts.Prefixes); err != nil {
		return err
	}
	if f.Timeout <= 0 {
		return configError(fmt.Sprintf("--timeout/ECHOES_TIMEOUT is %s", f.Timeout), "give a positive Go duration such as 30s or 2m")
	}
	if f.Wait < 0 || (f.Wait > 0 && f.PollInterval <= 0) {
		return configError(fmt.Sprintf("--wait %s with --poll-interval %s cannot work", f.Wait, f.PollInterval),
			"give ECHOES_WAIT as 0 or a positive duration, and ECHOES_POLL_INTERVAL as a positive one such as 10s")
	}

	c.deadline = time.Now().Add(f.Timeout)
	src, err := c.resolve()
	if err != nil {
		return err
	}
	if src == nil {
		return c.skip()
	}
	c.src = src
	res := report.Result{
		Source: src.from, Labels: src.labels, MergeRequest: src.mr,
		Prefixes: c.opts.Prefixes, Docs: report.Docs{Base: f.DocsURL},
	}
	res.Verdict = check.Evaluate(res.Labels, c.opts)
	if !res.Verdict.Pass() && f.Wait > 0 {
		res.Labels, res.Verdict = c.waitForLabels(res.Labels, res.Verdict)
	}
	if f.Comment {
		c.comment(res)
	}
	res.Details = c.details(res)
	if err := c.write(res); err != nil {
		return err
	}
	if !res.Verdict.Pass() {
		return errLabels
	}
	return nil
}

// write prints the report in the chosen format and the JUnit file if asked.
func (c *command) write(res report.Result) error {
	if c.f.JUnit != "" {
		if err := c.writeReport(func(w io.Writer) error { return report.JUnit(w, res) }); err != nil {
			return err
		}
	}
	var err error
	if c.f.Format == "json" {
		err = report.JSON(c.d.Stdout, res)
	} else {
		// Plain output (NO_COLOR, --no-color) means no escape sequences at
		// all, so it also goes without GitLab's collapsible sections.
		plain := c.f.NoColor || c.d.Env.NoColor
		err = report.Text(c.d.Stdout, res, report.Options{
			Colour:   !plain && (c.d.IsTerminal || c.d.Env.InCI),
			Sections: !plain && c.d.Env.InGitLab,
			Now:      c.d.Clock.Now(),
		})
	}
	if err != nil {
		return &Error{Code: ExitConfig, Cause: "cannot write the report: " + err.Error(), Fix: "check that stdout is writable"}
	}
	return nil
}

// skip says there is nothing to check: exit 0, and in JSON a document
// saying so, so that a script reading stdout is not left with nothing.
func (c *command) skip() error {
	reason := "no merge request here (CI_MERGE_REQUEST_IID is not set and none was found for this branch), so there is nothing to check"
	if c.f.JUnit != "" {
		if err := c.writeReport(func(w io.Writer) error { return report.JUnitSkipped(w, reason) }); err != nil {
			return err
		}
	}
	if c.f.Format == "json" {
		return report.WriteJSON(c.d.Stdout, report.JSONReport{Verdict: report.VerdictSkipped, Reason: reason})
	}
	c.noticef("%s.\n  Run it in a merge request pipeline, or pass --mr (with a token) or --labels.", reason)
	return nil
}

// reportError mirrors a configuration or API error into the JUnit file and
// the JSON document, so the widget and scripts see why there is no verdict.
func (c *command) reportError(err error) {
	var e *Error
	if !errors.As(err, &e) || e.Code == ExitLabels || e.Code == ExitPass {
		return
	}
	var mr report.MergeRequest
	if c.src != nil {
		mr = c.src.mr
	}
	if c.f.JUnit != "" {
		// Best effort: the error itself is about to be printed.
		_ = c.writeReport(func(w io.Writer) error { return report.JUnitError(w, mr, e.Cause, e.Fix) })
	}
	if c.f.Format == "json" {
		_ = report.WriteJSON(c.d.Stdout, report.JSONReport{Verdict: report.VerdictError,
			Error: &report.JSONError{ExitCode: e.Code, Cause: e.Cause, Fix: e.Fix}})
	}
}

// details are the lines folded into the log's collapsed section.
func (c *command) details(res report.Result) []string {
	const maxListed = 200
	var out []string
	out = append(out, fmt.Sprintf("labels: %d, %s", len(res.Labels), report.Describe(res.Source)))
	if t := c.d.Env.EventType; t != "" {
		out = append(out, "pipeline: merge request pipeline of type "+printable.String(t))
	}
	if res.MergeRequest.WebURL != "" {
		out = append(out, "merge request: "+printable.String(res.MergeRequest.WebURL))
	}
	for i, l := range res.Labels {
		if i == maxListed {
			out = append(out, fmt.Sprintf("  … and %d more", len(res.Labels)-maxListed))
			break
		}
		out = append(out, fmt.Sprintf("  %-10s %s", check.Classify(l, c.opts.Prefixes).Kind, printable.String(l)))
	}
	if c.src != nil && c.src.client != nil {
		for _, a := range c.src.client.Attempts() {
			status := fmt.Sprint(a.Status)
			if a.Err != nil && a.Status == 0 {
				status = "no answer"
			}
			out = append(out, fmt.Sprintf("GitLab: %s %s → %s in %dms", a.Method, printable.String(a.Path), status, a.Duration.Milliseconds()))
		}
	}
	return out
}

// writeReport writes the JUnit report atomically, creating its directory,
// so a half-written file never reaches GitLab. It is masked like the log:
// GitLab shows it in the merge request, where no variable masking applies.
func (c *command) writeReport(write func(io.Writer) error) error {
	path := c.f.JUnit
	fail := func(err error) error {
		return &Error{Code: ExitConfig, Cause: fmt.Sprintf("cannot write %s: %v", printable.String(path), errors.Unwrap(err)),
			Fix: "point --junit/ECHOES_JUNIT at a writable path inside the job's directory"}
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".echoes-labels-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if err := write(&redactingWriter{w: tmp, secrets: c.secrets}); err != nil {
		tmp.Close()
		return fail(&os.PathError{Op: "write", Path: path, Err: err})
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	return nil
}

// tokenKindName names the token for messages.
func tokenKindName(k gitlabapi.TokenKind) string {
	if k == gitlabapi.JobToken {
		return "the job token"
	}
	return "the token (ECHOES_GITLAB_TOKEN or --token)"
}
