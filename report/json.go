package report

import (
	"encoding/json"
	"io"

	"gitlab.com/echoeshq/echoes-labels/check"
)

// Verdicts in JSON output.
const (
	VerdictPass    = "pass"
	VerdictFail    = "fail"
	VerdictSkipped = "skipped" // no merge request to check
	VerdictError   = "error"   // configuration or API error: see the error field
)

// JSONReport is the --format json document. Its field names are a public
// interface: add fields, never rename them.
type JSONReport struct {
	Verdict      string         `json:"verdict"`
	MergeRequest *JSONMR        `json:"merge_request,omitempty"`
	Source       Source         `json:"source,omitempty"`
	Labels       *JSONLabels    `json:"labels,omitempty"`
	NearMisses   []JSONNearMiss `json:"near_misses,omitempty"`
	Rules        []JSONRule     `json:"rules,omitempty"`
	NextStep     string         `json:"next_step,omitempty"`
	Reason       string         `json:"reason,omitempty"` // why a check was skipped
	Error        *JSONError     `json:"error,omitempty"`
}

type JSONMR struct {
	Project string `json:"project"`
	IID     int64  `json:"iid"`
	WebURL  string `json:"web_url,omitempty"`
}

type JSONLabels struct {
	All        []string `json:"all"`
	Intent     []string `json:"intent"`
	Initiative []string `json:"initiative"`
	Effort     []string `json:"effort"`
}

type JSONNearMiss struct {
	Label      string `json:"label"`
	Suggestion string `json:"suggestion"`
}

type JSONRule struct {
	Rule    string   `json:"rule"`
	Result  string   `json:"result"` // passed, warning or failed
	Problem string   `json:"problem,omitempty"`
	Message string   `json:"message,omitempty"`
	Fix     string   `json:"fix,omitempty"`
	Details string   `json:"details"`
	Labels  []string `json:"labels"`
}

type JSONError struct {
	ExitCode int    `json:"exit_code"`
	Cause    string `json:"cause"`
	Fix      string `json:"fix,omitempty"`
}

// JSON writes the machine-readable report. Strings are JSON-escaped by the
// encoder, so untrusted label names cannot break the document.
func JSON(w io.Writer, r Result) error {
	v := r.Verdict
	doc := JSONReport{
		Verdict: VerdictPass,
		Source:  r.Source,
		Labels: &JSONLabels{
			All: nonNil(r.Labels), Intent: labelNames(v.Intents),
			Initiative: labelNames(v.Initiatives), Effort: labelNames(v.Efforts),
		},
	}
	if !v.Pass() {
		doc.Verdict = VerdictFail
		doc.NextStep = NextStep(r.Source)
	}
	if r.MergeRequest.IID != 0 {
		doc.MergeRequest = &JSONMR{Project: r.MergeRequest.Project, IID: r.MergeRequest.IID, WebURL: r.MergeRequest.WebURL}
	}
	for _, nm := range v.NearMisses {
		doc.NearMisses = append(doc.NearMisses, JSONNearMiss{Label: nm.Label, Suggestion: nm.Suggestion})
	}
	for _, f := range r.Findings() {
		doc.Rules = append(doc.Rules, JSONRule{Rule: f.Rule, Result: f.Outcome.String(), Problem: string(f.Problem),
			Message: f.Message, Fix: f.Fix, Details: f.Details, Labels: nonNil(f.Labels)})
	}
	return WriteJSON(w, doc)
}

// WriteJSON writes one document, indented, on its own lines.
func WriteJSON(w io.Writer, doc JSONReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func labelNames(ls []check.Label) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Name
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
