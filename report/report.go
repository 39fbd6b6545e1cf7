// Package report turns a verdict into what a developer reads in the job log.
package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fatih/color"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Source is where the labels were read.
type Source string

const (
	FromCommandLine Source = "command-line"
	FromAPI         Source = "api"
	FromVariable    Source = "variable" // CI_MERGE_REQUEST_LABELS, frozen at pipeline creation
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

// DefaultDocsBase is Echoes' public documentation.
const DefaultDocsBase = "https://docs.echoeshq.com"

// For returns the page that explains a rule.
func (d Docs) For(rule string) string {
	base := strings.TrimSuffix(d.Base, "/")
	if base == "" {
		base = DefaultDocsBase
	}
	if rule == check.RuleEffort {
		return base + "/weighing-efforts"
	}
	return base + "/developer-guide"
}

// Result is everything a report shows.
type Result struct {
	MergeRequest MergeRequest
	Source       Source
	Labels       []string // every label seen, in GitLab's order
	Verdict      check.Verdict
	Prefixes     check.Prefixes
	Docs         Docs
	// Details are lines for the curious: every label seen, each API call
	// and its timing. In a GitLab job they go in a collapsed log section.
	Details []string
}

// Options say how the text report is written.
type Options struct {
	// Colour is decided by the caller, since fatih/color would switch it
	// off in a GitLab job, where stdout is a pipe.
	Colour bool
	// Sections folds Details into a collapsed GitLab log section; without
	// it Details are not printed.
	Sections bool
	// Now stamps the section markers (GitLab wants Unix seconds).
	Now time.Time
}

// Text writes the human report: what was found, the verdict, and for each
// failed rule what to do and where to read more.
func Text(w io.Writer, r Result, o Options) error {
	s := newStyles(o.Colour)
	p := r.EffectivePrefixes()
	var b strings.Builder
	v := r.Verdict
	if o.Sections && len(r.Details) > 0 {
		writeSection(&b, o.Now, "echoes_labels_details", "Details: labels seen, API calls", r.Details)
	}

	if mr := r.MergeRequest.String(); mr != "" {
		fmt.Fprintf(&b, "%s merge request %s (%s)\n", s.bold("Echoes labels of"), mr, Describe(r.Source))
	} else {
		fmt.Fprintf(&b, "%s (%s)\n", s.bold("Echoes labels"), Describe(r.Source))
	}
	kinds := []struct {
		name   string
		labels []check.Label
	}{{"intent", v.Intents}, {"initiative", v.Initiatives}, {"effort", v.Efforts}}
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-11s %s\n", k.name+":", labelList(s, k.labels))
	}
	for _, nm := range v.NearMisses {
		fmt.Fprintf(&b, "  %-11s %s %s\n", "misspelt?", printable.String(nm.Label),
			s.yellow(fmt.Sprintf("did you mean %s?", printable.String(nm.Suggestion))))
	}
	b.WriteString("\n")

	if v.Pass() {
		fmt.Fprintf(&b, "%s Echoes can tell why this change exists.\n", s.green("✔ PASS"))
	} else {
		fmt.Fprintf(&b, "%s %s\n", s.red("✖ FAIL"), failHeadline(v))
	}
	for _, rule := range v.Rules {
		if rule.Outcome == check.Passed {
			continue
		}
		mark := s.red("  ✖ " + ruleTitle(rule.Rule))
		if rule.Outcome == check.Warned {
			mark = s.yellow("  ⚠ " + ruleTitle(rule.Rule) + " (warning only)")
		}
		fmt.Fprintf(&b, "%s: %s\n", mark, printable.Truncate(rule.Message, 4*printable.MaxRunes))
		if fix := Fix(rule, v, p); fix != "" {
			fmt.Fprintf(&b, "    fix: %s\n", fix)
		}
		fmt.Fprintf(&b, "    details: %s\n", s.cyan(r.Docs.For(rule.Rule)))
	}
	if !v.Pass() {
		fmt.Fprintf(&b, "\n%s\n", s.bold(NextStep(r.Source)))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// NextStep tells the developer how to turn a failed job green, which
// depends on whether a retry reads the labels afresh.
func NextStep(src Source) string {
	switch src {
	case FromAPI:
		return "To pass: add the label to the merge request (Labels, in its right sidebar), then retry this job."
	case FromVariable:
		return "To pass: add the label to the merge request, then run a new pipeline for it (a retry sees the labels this pipeline started with)."
	default:
		return "To pass: add the missing label to --labels (or, in a pipeline, to the merge request)."
	}
}

// Describe says where labels from src came from, for a parenthesis.
func Describe(src Source) string {
	switch src {
	case FromAPI:
		return "read from the GitLab API"
	case FromVariable:
		return "as they were when the pipeline started: CI_MERGE_REQUEST_LABELS"
	default:
		return "given with --labels"
	}
}

func ruleTitle(rule string) string {
	if rule == check.RuleIntentOrInitiative {
		return "intent or initiative"
	}
	return rule
}

func failHeadline(v check.Verdict) string {
	var parts []string
	for _, r := range v.Rules {
		if r.Outcome != check.Failed {
			continue
		}
		switch r.Problem {
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

// EffectivePrefixes are the prefixes in force, the defaults where unset.
func (r Result) EffectivePrefixes() check.Prefixes { return r.Prefixes.WithDefaults() }

// writeSection writes a collapsed GitLab job log section. Its lines are
// untrusted and pass through printable, so none can end the section early.
func writeSection(b *strings.Builder, now time.Time, name, header string, lines []string) {
	ts := now.Unix()
	fmt.Fprintf(b, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", ts, name, header)
	for _, l := range lines {
		fmt.Fprintf(b, "  %s\n", printable.Truncate(l, 8*printable.MaxRunes))
	}
	fmt.Fprintf(b, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", ts, name)
}

// Fix says which label to add or change for a rule that did not pass; a
// misspelt label is the most likely culprit, so it is named first.
func Fix(rule check.RuleResult, v check.Verdict, p check.Prefixes) string {
	var kinds []check.Kind
	switch rule.Problem {
	case check.NoIntentOrInitiative:
		kinds = []check.Kind{check.Intent, check.Initiative}
	case check.NoEffort, check.BadEffortSize:
		kinds = []check.Kind{check.Effort}
	case check.SeveralEfforts:
		return "remove all but one effort label"
	}
	// A misspelt label is the likely culprit only when the kind is missing;
	// with a wrong or doubled effort label, renaming it would add another.
	if rule.Problem == check.BadEffortSize {
		kinds = nil
	}
	for _, nm := range v.NearMisses {
		for _, k := range kinds {
			if nm.Kind == k {
				return fmt.Sprintf("rename %s to %s", printable.String(nm.Label), printable.String(nm.Suggestion))
			}
		}
	}
	switch rule.Problem {
	case check.NoIntentOrInitiative:
		return fmt.Sprintf("add a label starting with %s/ (why the change exists) or %s/ (the project it feeds); type %q in the Labels box to see your project's",
			p.Intent, p.Initiative, commonRoot(p.Intent, p.Initiative))
	case check.NoEffort:
		return fmt.Sprintf("add one of %s/XS, /S, /M, /L or /XL", p.Effort)
	case check.BadEffortSize:
		return fmt.Sprintf("replace it with one of %s/XS, /S, /M, /L or /XL", p.Effort)
	}
	return ""
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

func labelList(s styles, labels []check.Label) string {
	if len(labels) == 0 {
		return s.faint("none")
	}
	names := make([]string, len(labels))
	for i, l := range labels {
		names[i] = printable.String(l.Name)
	}
	return strings.Join(names, ", ")
}

type styles struct {
	bold, green, red, yellow, cyan, faint func(a ...any) string
}

func newStyles(on bool) styles {
	mk := func(attrs ...color.Attribute) func(a ...any) string {
		c := color.New(attrs...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c.Sprint
	}
	return styles{
		bold:   mk(color.Bold),
		green:  mk(color.FgGreen, color.Bold),
		red:    mk(color.FgRed, color.Bold),
		yellow: mk(color.FgYellow),
		cyan:   mk(color.FgCyan),
		faint:  mk(color.Faint),
	}
}
