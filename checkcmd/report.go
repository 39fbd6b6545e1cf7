package checkcmd

import (
	"gitlab.com/echoeshq/echoes-labels/internal/fileutil"

	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// write prints the report in the chosen format and the JUnit file if asked.
func (r *run) write(res report.Result, start time.Time) error {
	if err := writeJUnit(r.cfg.junit, func(w io.Writer) error { return report.JUnit(w, res) }); err != nil {
		return err
	}
	var err error
	if r.cfg.format == "json" {
		err = report.JSON(r.d.Stdout, res)
	} else {
		// Plain output (NO_COLOR, --no-color) means no escape sequences at
		// all, so it also goes without GitLab's collapsible sections.
		plain := r.cfg.noColor || r.job.NoColor
		err = report.Text(r.d.Stdout, res, report.Options{
			Colour:   !plain && (r.d.IsTerminal || r.job.InCI),
			Sections: !plain && r.job.InGitLab,
			Start:    start, End: r.d.Clock.Now(),
		})
	}
	if err != nil {
		return &exit.Error{Code: exit.Config, Cause: "cannot write the report: " + err.Error(), Fix: "check that stdout is writable", Err: err}
	}
	return nil
}

// skip says there is nothing to check: exit 0, and in JSON a document
// saying so, so that a script reading stdout is not left with nothing.
// hint, when set, is a second line saying how to get a verdict.
func (r *run) skip(mr report.MergeRequest, reason, hint string) error {
	r.skipped = true
	if err := writeJUnit(r.cfg.junit, func(w io.Writer) error { return report.JUnitSkipped(w, reason) }); err != nil {
		return err
	}
	if r.cfg.format == "json" {
		doc := report.JSONReport{Verdict: report.VerdictSkipped, Reason: reason}
		if mr.IID != 0 {
			doc.MergeRequest = &report.JSONMR{Project: mr.Project, IID: mr.IID, WebURL: mr.WebURL}
		}
		return report.WriteJSON(r.d.Stdout, doc)
	}
	if hint != "" {
		reason += ".\n  " + hint
	}
	r.noticef("%s.", reason)
	return nil
}

// hintNoMR is how to get a verdict where there was no merge request.
const hintNoMR = "Run it in a merge request pipeline, or pass --mr (with a token) or --labels"

// finish mirrors a configuration or API error into the JUnit file and the
// JSON document, so that the widget and scripts see why there is no
// verdict, and returns it with its cause masked and bounded.
func (r *run) finish(mr report.MergeRequest, err error) error {
	e := exit.From(err)
	if err == nil || e.Cause == "" {
		return err
	}
	out := *e
	out.Cause, out.Fix = r.cfg.secrets.Clip(e.Cause, exit.MaxCause), r.cfg.secrets.Mask(e.Fix)
	writeErrorReports(r.d.Stdout, r.cfg.junit, r.cfg.format, mr, &out)
	return &out
}

// ReportError writes the errored JUnit case, JSON document and dotenv
// report for an error found before the check could run (a flag the parser
// refused): junit, dotenv and format are as given, unchecked.
func ReportError(stdout io.Writer, junit, dotenv, format, cause, fix string) {
	if strings.HasSuffix(junit, "/") {
		junit = ""
	}
	if !strings.HasSuffix(dotenv, "/") {
		_ = writeDotenv(dotenv, report.DotenvValues{Verdict: report.VerdictError})
	}
	writeErrorReports(stdout, junit, strings.ToLower(strings.TrimSpace(format)), report.MergeRequest{},
		&exit.Error{Code: exit.Config, Cause: cause, Fix: fix})
}

func writeErrorReports(stdout io.Writer, junit, format string, mr report.MergeRequest, e *exit.Error) {
	// Best effort: the error itself is printed on stderr.
	_ = writeJUnit(junit, func(w io.Writer) error { return report.JUnitError(w, mr, e.Cause, e.Fix) })
	if format == "json" {
		_ = report.WriteJSON(stdout, report.JSONReport{Verdict: report.VerdictError,
			Error: &report.JSONError{ExitCode: e.Code, Cause: e.Cause, Fix: e.Fix}})
	}
}

// writeJUnit writes the JUnit report, when asked for one.
func writeJUnit(path string, write func(io.Writer) error) error {
	return writeFile(path, "--junit", "the JUnit report",
		"point --junit/ECHOES_JUNIT at a file path inside the job's directory, such as echoes-labels.junit.xml", write)
}

// writeDotenv writes the dotenv report, when asked for one.
func writeDotenv(path string, d report.DotenvValues) error {
	return writeFile(path, "--dotenv", "the dotenv report",
		"point --dotenv/ECHOES_DOTENV at a file path inside the job's directory, such as echoes-labels.env",
		func(w io.Writer) error { return report.Dotenv(w, d) })
}

// writeFile writes a report file atomically (a half-written file never
// reaches GitLab) and only as a regular file: a path naming a device, a
// FIFO or a directory is refused, never replaced.
func writeFile(path, setting, what, fix string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	fail := func(err error) error {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return exit.BadSetting(setting, fmt.Sprintf("cannot write %s %s: %v", what, printable.String(path), err), fix)
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("it is not a regular file (%s)", fileutil.Kind(fi.Mode())))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	tmp, err := os.CreateTemp(dir, ".echoes-labels-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fail(err)
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
