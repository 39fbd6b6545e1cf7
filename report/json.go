package report

import (
	"encoding/json"
	"io"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Verdicts in JSON output.
const (
	VerdictPass    = "pass"
	VerdictFail    = "fail"
	VerdictWarn    = "warn"    // labels missing, not enforced (a draft, or --enforce=false): exit 4
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
	// NearMissesOmitted counts near misses beyond the first 200 (maxListed).
	NearMissesOmitted int        `json:"near_misses_omitted,omitempty"`
	Rules             []JSONRule `json:"rules,omitempty"`
	NextStep          string     `json:"next_step,omitempty"`
	// NotEnforced says why a verdict is warn rather than fail.
	NotEnforced string `json:"not_enforced,omitempty"`
	// Available lists the project's labels of the missing kinds, when
	// the check read them (a failing check that read GitLab).
	Available *JSONAvailable `json:"available,omitempty"`
	Reason    string         `json:"reason,omitempty"` // why a check was skipped
	Error     *JSONError     `json:"error,omitempty"`
}

type JSONMR struct {
	Project string `json:"project"`
	IID     int64  `json:"iid"`
	WebURL  string `json:"web_url,omitempty"`
}

// JSONLabels lists at most 200 labels (maxListed) in each array; each *_omitted
// field counts those left out (absent when none were).
type JSONLabels struct {
	All               []string `json:"all"`
	Intent            []string `json:"intent"`
	Initiative        []string `json:"initiative"`
	Effort            []string `json:"effort"`
	AllOmitted        int      `json:"all_omitted,omitempty"`
	IntentOmitted     int      `json:"intent_omitted,omitempty"`
	InitiativeOmitted int      `json:"initiative_omitted,omitempty"`
	EffortOmitted     int      `json:"effort_omitted,omitempty"`
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
	// LabelsOmitted counts labels beyond the first 200 (maxListed).
	LabelsOmitted int `json:"labels_omitted,omitempty"`
}

// JSONAvailable lists existing labels per kind, at most 200 each.
type JSONAvailable struct {
	Intent     []string `json:"intent"`
	Initiative []string `json:"initiative"`
	Effort     []string `json:"effort"`
	Truncated  bool     `json:"truncated,omitempty"`
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
	labels := &JSONLabels{}
	labels.All, labels.AllOmitted = capped(nonNil(r.Labels), maxListed)
	labels.Intent, labels.IntentOmitted = labelNames(v.Intents, v.Counts.Intents)
	labels.Initiative, labels.InitiativeOmitted = labelNames(v.Initiatives, v.Counts.Initiatives)
	labels.Effort, labels.EffortOmitted = labelNames(v.Efforts, v.Counts.Efforts)
	doc := JSONReport{Verdict: r.VerdictName(), Source: r.Source, Labels: labels}
	if !v.Pass() {
		doc.NextStep, doc.NotEnforced = r.NextStep(), r.NotEnforced
		if a := r.Available; a != nil {
			doc.Available = &JSONAvailable{Truncated: a.Truncated}
			doc.Available.Intent, _ = capped(nonNil(a.Intent), maxListed)
			doc.Available.Initiative, _ = capped(nonNil(a.Initiative), maxListed)
			doc.Available.Effort, _ = capped(nonNil(a.Effort), maxListed)
		}
	}
	if r.MergeRequest.IID != 0 {
		doc.MergeRequest = &JSONMR{Project: r.MergeRequest.Project, IID: r.MergeRequest.IID, WebURL: r.MergeRequest.WebURL}
	}
	misses, more := cappedOf(v.NearMisses, v.Counts.NearMisses, maxListed)
	for _, nm := range misses {
		doc.NearMisses = append(doc.NearMisses, JSONNearMiss{Label: nm.Label, Suggestion: nm.Suggestion})
	}
	doc.NearMissesOmitted = more
	for _, f := range r.Findings() {
		rule := JSONRule{Rule: f.Rule, Result: f.Outcome.String(), Problem: string(f.Problem),
			Message: printable.Truncate(f.Message, messageRunes), Fix: printable.Truncate(f.Fix, messageRunes),
			Details: printable.Truncate(f.Details, messageRunes)}
		rule.Labels, rule.LabelsOmitted = cappedOf(nonNil(f.Labels), len(f.Labels)+f.LabelsOmitted, maxListed)
		doc.Rules = append(doc.Rules, rule)
	}
	return WriteJSON(w, doc)
}

// messageRunes bounds a rule's message, fix and details in JSON: a message
// may quote every label it is about. They are cut as the log cuts them
// (printable.Truncate), control characters shown the same way.
const messageRunes = 16 * printable.MaxRunes

// WriteJSON writes one document, indented, on its own lines.
func WriteJSON(w io.Writer, doc JSONReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// labelNames names labels, the first of total, capped.
func labelNames(ls []check.Label, total int) ([]string, int) {
	shown, more := cappedOf(ls, total, maxListed)
	out := make([]string, len(shown))
	for i, l := range shown {
		out[i] = l.Name
	}
	return out, more
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
