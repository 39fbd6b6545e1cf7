// Package report renders a verdict in every form echoes-labels shows it: the
// job log (text, with its collapsed details section), JSON for scripts, JUnit
// for the merge request's test widget, and the Markdown of the sticky note.
// What each rule says (its mark, message, fix and docs link) is worked out
// once, in Findings, and every format prints that.
package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Source is where the labels were read.
type Source string

const (
	FromCommandLine Source = "command-line"
	FromAPI         Source = "api"
	FromVariable    Source = "variable" // CI_MERGE_REQUEST_LABELS, as GitLab filled it in when the job started
)

// MergeRequest names the merge request checked; empty when labels came from
// the command line.
type MergeRequest struct {
	Project string
	IID     int64
	WebURL  string
}

func (m MergeRequest) String() string {
	if m.IID == 0 {
		return ""
	}
	if _, err := strconv.ParseInt(m.Project, 10, 64); err == nil || m.Project == "" {
		return fmt.Sprintf("!%d in project %s", m.IID, printable.String(m.Project))
	}
	return fmt.Sprintf("%s!%d", printable.String(m.Project), m.IID)
}

// Docs are the documentation links printed beside each failed rule.
type Docs struct {
	Base string // e.g. https://docs.echoeshq.com
}

// For returns the page that explains a rule.
func (d Docs) For(rule string) string {
	base := strings.TrimSuffix(d.Base, "/")
	if base == "" {
		base = check.DefaultDocsURL
	}
	if rule == check.RuleEffort {
		return base + "/weighing-efforts"
	}
	return base + "/developer-guide"
}

// Call is one GitLab API round trip, for the details section.
type Call struct {
	Method   string
	Path     string // without the query
	Status   int    // 0 when no answer came
	Duration time.Duration
}

// Result is everything a report shows.
type Result struct {
	MergeRequest MergeRequest
	Source       Source
	Labels       []string // every label seen, in GitLab's order
	Verdict      check.Verdict
	Prefixes     check.Prefixes
	Docs         Docs
	EventType    string // CI_MERGE_REQUEST_EVENT_TYPE, for the details
	OutsideCI    bool   // run by hand: there is no job to retry
	Calls        []Call // for the details
	// NotEnforced, when the labels fail, says why that is only a warning
	// (exit 4): a draft under --drafts warn, or --enforce=false.
	NotEnforced string
	// Available are the project's labels of the kinds missing, when the
	// check read them (a failing check that read GitLab); nil otherwise.
	Available *Available
}

// VerdictName is the verdict as JSON and the dotenv name it: pass, fail,
// or warn (labels missing, not enforced).
func (r Result) VerdictName() string {
	switch {
	case r.Verdict.Pass():
		return VerdictPass
	case r.NotEnforced != "":
		return VerdictWarn
	}
	return VerdictFail
}

// Warn is true when labels are missing but not enforced.
func (r Result) Warn() bool { return r.VerdictName() == VerdictWarn }

// Finding is one rule as every format shows it.
type Finding struct {
	check.RuleResult
	Title    string // "intent or initiative", "effort"
	CaseName string // the JUnit test case: what the rule asks for
	Fix      string // which label to add or change; empty when passed
	Details  string // the docs page
}

// Findings works out, once for all formats, what each rule says.
func (r Result) Findings() []Finding {
	p := r.Prefixes.WithDefaults()
	out := make([]Finding, len(r.Verdict.Rules))
	for i, rule := range r.Verdict.Rules {
		f := Finding{RuleResult: rule, Title: "effort", Details: r.Docs.For(rule.Rule),
			CaseName: fmt.Sprintf("one %s label sized %s", p.Effort, check.SizeList())}
		if rule.Rule == check.RuleIntentOrInitiative {
			f.Title = "intent or initiative"
			f.CaseName = fmt.Sprintf("an %s or %s label", p.Intent, p.Initiative)
		}
		if rule.Outcome != check.Passed {
			f.Fix = fix(rule, r.Verdict, p, r.Available)
		}
		if rule.Outcome == check.Warned {
			// GitLab's test report shows a passing case by its name
			// alone, so the name says what the warning is about.
			f.CaseName += " (warning: " + warningTopic(rule.Problem) + ")"
		}
		out[i] = f
	}
	return out
}

// warningTopic names what a warning is about in our own words, for a
// JUnit case name that must not vary with untrusted label names.
func warningTopic(p check.Problem) string {
	switch p {
	case check.SeveralEfforts:
		return "more than one effort label"
	case check.BadEffortSize:
		return "the effort label is not a t-shirt size"
	}
	return string(p)
}

// Every list a report prints is capped, so that a merge request with a
// million labels, or thousands of near misses, gives a report of bounded
// size and memory: inline lists (a log line, a JUnit text) show
// inlineListed items, listings of their own (the details section, JSON
// arrays) show maxListed.
const (
	inlineListed = 20
	maxListed    = 200
)

// capped is s cut to n items, and how many were left out.
func capped[T any](s []T, n int) ([]T, int) {
	if len(s) <= n {
		return s, 0
	}
	return s[:n], len(s) - n
}

// cappedOf is s, which holds the first of total items (check keeps a
// bounded number of each), cut to n, and how many of total were left out.
func cappedOf[T any](s []T, total, n int) ([]T, int) {
	shown, _ := capped(s, n)
	return shown, max(total, len(s)) - len(shown)
}

// andMore says how many items a capped list left out.
func andMore(n int) string { return fmt.Sprintf("and %d more", n) }

// Headline is the one line under the verdict mark.
func (r Result) Headline() string {
	if r.Verdict.Pass() {
		return "Echoes can tell why this change exists."
	}
	var parts []string
	for _, rule := range r.Verdict.Rules {
		if rule.Outcome != check.Failed {
			continue
		}
		switch rule.Problem {
		case check.NoIntentOrInitiative:
			parts = append(parts, "no intent or initiative label")
		case check.NoEffort:
			parts = append(parts, "no effort label")
		default:
			parts = append(parts, "the effort label is not right")
		}
	}
	return "this merge request needs a label: " + strings.Join(parts, "; ")
}

// NextStep tells the developer how to turn a failed job green, which
// depends on whether a retry reads the labels afresh, and on whether
// there is a job to retry at all.
func (r Result) NextStep() string {
	change := "add the label to the merge request"
	if !r.onlyMissing() {
		change = "change the merge request's labels as the fix says"
	}
	switch r.Source {
	case FromAPI:
		if r.OutsideCI {
			return "To pass: " + change + " (Labels, in its right sidebar), then run echoes-labels again."
		}
		return "To pass: " + change + " (Labels, in its right sidebar), then retry this job."
	case FromVariable:
		return "To pass: " + change + " (Labels, in its right sidebar), then retry this job: GitLab gives a retried job the labels as they are when it starts."
	default:
		if !r.onlyMissing() {
			return "To pass: change the labels given to --labels as the fix says (or, in a pipeline, the merge request's)."
		}
		return "To pass: add the missing label to --labels (or, in a pipeline, to the merge request)."
	}
}

// onlyMissing is true when every failed rule lacks a label (none has one
// too many, or one of a wrong size), so adding one is the whole fix.
func (r Result) onlyMissing() bool {
	for _, rule := range r.Verdict.Rules {
		if rule.Outcome == check.Failed && rule.Problem != check.NoIntentOrInitiative && rule.Problem != check.NoEffort {
			return false
		}
	}
	return true
}

// Describe says where labels from src came from, for a parenthesis.
func Describe(src Source) string {
	switch src {
	case FromAPI:
		return "read from the GitLab API"
	case FromVariable:
		return "as they were when this job started: CI_MERGE_REQUEST_LABELS"
	default:
		return "given with --labels"
	}
}

// fix says which label to add or change for a rule that did not pass; a
// misspelt label is the most likely culprit, so it is named first.
func fix(rule check.RuleResult, v check.Verdict, p check.Prefixes, a *Available) string {
	var kinds []check.Kind
	switch rule.Problem {
	case check.NoIntentOrInitiative:
		kinds = []check.Kind{check.Intent, check.Initiative}
	case check.NoEffort:
		kinds = []check.Kind{check.Effort}
	case check.SeveralEfforts:
		return "remove all but one effort label"
	}
	// A misspelt label is the likely culprit only when the kind is missing;
	// with a wrong or doubled effort label, replacing it would add another.
	// Replace, not rename: renaming the project label changes no merge
	// request, so GitLab sends no label event and serve sees nothing.
	for _, nm := range v.NearMisses {
		for _, k := range kinds {
			if nm.Kind == k {
				if l := a.existing(nm.Suggestion, k); l != "" {
					return fmt.Sprintf("replace the label %s with %s on this merge request (it exists in the project)", printable.String(nm.Label), printable.String(l))
				}
				return fmt.Sprintf("replace the label %s with %s on this merge request", printable.String(nm.Label), printable.String(nm.Suggestion))
			}
		}
	}
	switch rule.Problem {
	case check.NoIntentOrInitiative:
		return fmt.Sprintf("add a label starting with %s/ (why the change exists) or %s/ (the project it feeds); type %q in the Labels box to see your project's labels",
			p.Intent, p.Initiative, commonRoot(p.Intent, p.Initiative))
	case check.NoEffort:
		return "add one of " + sizeChoices(p.Effort)
	case check.BadEffortSize:
		return "replace it with one of " + sizeChoices(p.Effort)
	}
	return ""
}

// sizeChoices spells the effort labels out from check.Sizes, the first one
// whole: "echoes/effort/XS, /S, /M, /L or /XL".
func sizeChoices(prefix string) string {
	s := check.Sizes
	var b strings.Builder
	b.WriteString(prefix + "/" + s[0])
	for i, size := range s[1:] {
		if i == len(s)-2 {
			b.WriteString(" or /" + size)
		} else {
			b.WriteString(", /" + size)
		}
	}
	return b.String()
}

// commonRoot is what two prefixes share up to their last common "/",
// e.g. "echoes/" for the defaults, which is what to type to list them.
func commonRoot(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	if i := strings.LastIndex(a[:n], "/"); i >= 0 {
		return a[:i+1]
	}
	return a
}
