package report

import (
	"encoding/xml"
	"io"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// JUnit report for GitLab's merge request test widget: one test case per
// rule. GitLab reads it with Gitlab::Ci::Parsers::Test::Junit, which turns
// the XML into a Hash (ActiveSupport's Hash.from_xml rules) and shows, per
// case, only its name and status, and the text of its failure, error or
// skipped element (system-out only beside a failure or error). An element
// with attributes but no text becomes a Hash there, not text, so every
// message we mean to show is element text; attributes repeat it for other
// readers. A warning, which must not fail anything, is a skipped case: the
// one status besides failure and error whose text GitLab shows.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

const junitClass = "echoes-labels"

// JUnitSkipped writes a report whose one case was skipped, for a pipeline
// with no merge request: the job's artifacts then exist, and say why.
func JUnitSkipped(w io.Writer, reason string) error {
	reason = xmlSafe(reason)
	return writeJUnit(w, junitSuite{Name: suiteName(MergeRequest{}), Skipped: 1, Cases: []junitCase{{
		Classname: junitClass, Name: "labels of the merge request", Skipped: &junitSkipped{Message: reason, Text: reason},
	}}})
}

// JUnit writes the rules of r as JUnit XML.
func JUnit(w io.Writer, r Result) error {
	suite := junitSuite{Name: suiteName(r.MergeRequest)}
	for _, f := range r.Findings() {
		c := junitCase{Classname: junitClass, Name: f.CaseName}
		body := []string{xmlSafe(f.Message)}
		if f.Fix != "" {
			body = append(body, "fix: "+xmlSafe(f.Fix))
		}
		if line := r.AvailableLine(f); line != "" {
			body = append(body, xmlSafe(line))
		}
		body = append(body, "details: "+xmlSafe(f.Details))
		switch {
		case f.Outcome == check.Failed && r.Warn():
			// Not enforced: a warning, which GitLab's widget shows as a
			// skipped case with its text.
			body = append(body, r.NextStep())
			c.Name += " (warning: not enforced)"
			text := "warning only, not enforced (" + xmlSafe(r.NotEnforced) + "): " + strings.Join(body, "\n")
			c.Skipped = &junitSkipped{Message: "warning: " + xmlSafe(f.Message), Text: text}
			suite.Skipped++
		case f.Outcome == check.Failed:
			body = append(body, r.NextStep())
			c.Failure = &junitProblem{Message: xmlSafe(f.Message), Type: string(f.Problem), Text: strings.Join(body, "\n")}
			suite.Failures++
		case f.Outcome == check.Warned:
			text := "warning only, the job passes: " + strings.Join(body, "\n")
			c.Skipped = &junitSkipped{Message: "warning: " + xmlSafe(f.Message), Text: text}
			suite.Skipped++
		default:
			// GitLab drops system-out beside a passing case; other
			// JUnit readers show it.
			c.SystemOut = "labels: " + labelsText(f.Labels, f.LabelsOmitted)
		}
		suite.Cases = append(suite.Cases, c)
	}
	return writeJUnit(w, suite)
}

// labelsText lists labels on one line, capped, and counts omitted as left
// out too (check keeps a bounded number of them).
func labelsText(labels []string, omitted int) string {
	shown, more := cappedOf(labels, len(labels)+omitted, inlineListed)
	parts := make([]string, len(shown), len(shown)+1)
	for i, l := range shown {
		parts[i] = printable.String(l)
	}
	if more > 0 {
		parts = append(parts, andMore(more))
	}
	return strings.Join(parts, ", ")
}

// JUnitError writes a report whose one test case errored, so that a GitLab
// or configuration problem shows in the merge request widget too.
func JUnitError(w io.Writer, mr MergeRequest, cause, fix string) error {
	suite := junitSuite{Name: suiteName(mr), Errors: 1, Cases: []junitCase{{
		Classname: junitClass, Name: "read the merge request's labels",
		Error: &junitProblem{Message: xmlSafe(cause), Type: "error", Text: xmlSafe(cause) + "\nfix: " + xmlSafe(fix)},
	}}}
	return writeJUnit(w, suite)
}

func writeJUnit(w io.Writer, suite junitSuite) error {
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: junitClass, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Skipped: suite.Skipped, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func suiteName(mr MergeRequest) string {
	if s := mr.String(); s != "" {
		return "Echoes labels of merge request " + s
	}
	return "Echoes labels"
}

// xmlSafe keeps untrusted text readable in the widget: encoding/xml already
// escapes markup and replaces characters XML cannot hold, and printable
// shows control characters rather than dropping them silently.
func xmlSafe(s string) string { return printable.Truncate(s, 4*printable.MaxRunes) }
