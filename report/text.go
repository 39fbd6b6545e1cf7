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

// Options say how the text report is written.
type Options struct {
	// Colour is decided by the caller, since fatih/color would switch it
	// off in a GitLab job, where stdout is a pipe.
	Colour bool
	// Sections puts the details (every label, each API call) first, in a
	// collapsed GitLab log section; without it they are not printed.
	Sections bool
	// Start and End stamp the section, so GitLab shows how long the check
	// took (a --wait of minutes included).
	Start, End time.Time
}

// Text writes the human report: what was found, the verdict, and for each
// failed rule what to do and where to read more.
func Text(w io.Writer, r Result, o Options) error {
	s := newStyles(o.Colour)
	var b strings.Builder
	v := r.Verdict
	if o.Sections {
		writeSection(&b, o.Start, o.End, "echoes_labels_details", "Details: labels seen, API calls", r.DetailLines())
	}

	if mr := r.MergeRequest.String(); mr != "" {
		fmt.Fprintf(&b, "%s merge request %s (%s)\n", s.bold("Echoes labels of"), mr, Describe(r.Source))
	} else {
		fmt.Fprintf(&b, "%s (%s)\n", s.bold("Echoes labels"), Describe(r.Source))
	}
	kinds := []struct {
		name   string
		labels []check.Label
		total  int
	}{{"intent", v.Intents, v.Counts.Intents}, {"initiative", v.Initiatives, v.Counts.Initiatives}, {"effort", v.Efforts, v.Counts.Efforts}}
	if r.Source == FromCommandLine {
		// How --labels was split (on commas only): a ";" or a quote
		// typed in it shows here as part of a name.
		fmt.Fprintf(&b, "  %-11s %s\n", "read:", readList(r.Labels))
	}
	for _, k := range kinds {
		fmt.Fprintf(&b, "  %-11s %s\n", k.name+":", labelList(s, k.labels, k.total))
	}
	misses, more := cappedOf(v.NearMisses, v.Counts.NearMisses, inlineListed)
	for _, nm := range misses {
		fmt.Fprintf(&b, "  %-11s %s %s\n", "misspelt?", printable.String(nm.Label),
			s.yellow(fmt.Sprintf("did you mean %s?", printable.String(nm.Suggestion))))
	}
	if more > 0 {
		fmt.Fprintf(&b, "  %-11s %s\n", "misspelt?", andMore(more))
	}
	b.WriteString("\n")

	switch {
	case v.Pass():
		fmt.Fprintf(&b, "%s %s\n", s.green("✔ PASS"), r.Headline())
	case r.Warn():
		fmt.Fprintf(&b, "%s %s\n", s.yellow("⚠ WARN"), r.Headline())
		fmt.Fprintf(&b, "  %s\n", s.yellow("not enforced: "+printable.String(r.NotEnforced)+"; the job is a warning and the pipeline goes on"))
	default:
		fmt.Fprintf(&b, "%s %s\n", s.red("✖ FAIL"), r.Headline())
	}
	for _, f := range r.Findings() {
		if f.Outcome == check.Passed {
			continue
		}
		mark := s.red("  ✖ " + f.Title)
		if f.Outcome == check.Failed && r.Warn() {
			mark = s.yellow("  ⚠ " + f.Title)
		}
		if f.Outcome == check.Warned {
			mark = s.yellow("  ⚠ " + f.Title + " (warning only)")
		}
		fmt.Fprintf(&b, "%s: %s\n", mark, printable.Truncate(f.Message, 4*printable.MaxRunes))
		if f.Fix != "" {
			fmt.Fprintf(&b, "    fix: %s\n", f.Fix)
		}
		if line := r.AvailableLine(f); line != "" {
			fmt.Fprintf(&b, "    %s\n", line)
		}
		fmt.Fprintf(&b, "    details: %s\n", s.cyan(printable.String(f.Details)))
	}
	if !v.Pass() {
		fmt.Fprintf(&b, "\n%s\n", s.bold(r.NextStep()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// DetailLines are the lines for the curious: where the labels came from,
// every label and its kind, and each API call with its timing.
func (r Result) DetailLines() []string {
	out := []string{fmt.Sprintf("labels: %d, %s", len(r.Labels), Describe(r.Source))}
	if r.EventType != "" {
		out = append(out, "pipeline: merge request pipeline of type "+printable.String(r.EventType))
	}
	if r.MergeRequest.WebURL != "" {
		out = append(out, "merge request: "+printable.String(r.MergeRequest.WebURL))
	}
	p := r.Prefixes.WithDefaults()
	labels, more := capped(r.Labels, maxListed)
	for _, l := range labels {
		out = append(out, fmt.Sprintf("  %-10s %s", check.Classify(l, p).Kind, printable.String(l)))
	}
	if more > 0 {
		out = append(out, "  … "+andMore(more))
	}
	for _, c := range r.Calls {
		status := fmt.Sprint(c.Status)
		if c.Status == 0 {
			status = "no answer"
		}
		out = append(out, fmt.Sprintf("GitLab: %s %s → %s in %dms", c.Method, printable.String(c.Path), status, c.Duration.Milliseconds()))
	}
	return out
}

// writeSection writes a collapsed GitLab job log section. Its lines are
// untrusted and pass through printable, so none can end the section early.
func writeSection(b *strings.Builder, start, end time.Time, name, header string, lines []string) {
	if end.Before(start) {
		end = start
	}
	fmt.Fprintf(b, "\x1b[0Ksection_start:%d:%s[collapsed=true]\r\x1b[0K%s\n", start.Unix(), name, header)
	for _, l := range lines {
		fmt.Fprintf(b, "  %s\n", printable.Truncate(l, 8*printable.MaxRunes))
	}
	fmt.Fprintf(b, "\x1b[0Ksection_end:%d:%s\r\x1b[0K\n", end.Unix(), name)
}

// labelList lists labels, the first of total, on one line, capped.
func labelList(s styles, labels []check.Label, total int) string {
	if len(labels) == 0 {
		return s.faint("none")
	}
	shown, more := cappedOf(labels, total, inlineListed)
	names := make([]string, len(shown), len(shown)+1)
	for i, l := range shown {
		names[i] = printable.String(l.Name)
	}
	if more > 0 {
		names = append(names, andMore(more))
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

// readList is every label read, each quoted so that its ends show, up to
// inlineListed of them.
func readList(labels []string) string {
	if len(labels) == 0 {
		return "none"
	}
	shown, more := capped(labels, inlineListed)
	quoted := make([]string, len(shown))
	for i, l := range shown {
		quoted[i] = printable.String(strconv.Quote(l))
	}
	out := strings.Join(quoted, ", ")
	if more > 0 {
		out += ", … " + andMore(more)
	}
	return out
}
