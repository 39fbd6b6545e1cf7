package report

import (
	"encoding/xml"
	"io"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// JUnit report for GitLab's merge request test widget: one test case per
// rule, its failure carrying the message, the fix and the docs link.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
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
}

const junitClass = "echoes-labels"

// JUnitSkipped writes a report whose one case was skipped, for a pipeline
// with no merge request: the job's artifacts then exist, and say why.
func JUnitSkipped(w io.Writer, reason string) error {
	return writeJUnit(w, junitSuite{Name: suiteName(MergeRequest{}), Skipped: 1, Cases: []junitCase{{
		Classname: junitClass, Name: "labels of the merge request", Skipped: &junitSkipped{Message: xmlSafe(reason)},
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
		body = append(body, "details: "+xmlSafe(f.Details), NextStep(r.Source))
		switch f.Outcome {
		case check.Failed:
			c.Failure = &junitProblem{Message: xmlSafe(f.Message), Type: string(f.Problem), Text: strings.Join(body, "\n")}
			suite.Failures++
		case check.Warned:
			c.SystemOut = "warning: " + strings.Join(body[:len(body)-1], "\n")
		default:
			c.SystemOut = "labels: " + xmlSafe(strings.Join(f.Labels, ", "))
		}
		suite.Cases = append(suite.Cases, c)
	}
	return writeJUnit(w, suite)
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
	doc := junitSuites{Name: junitClass, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Suites: []junitSuite{suite}}
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
