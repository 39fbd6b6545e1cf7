package report

import (
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Note is the Markdown of the sticky comment on the merge request; marker
// (an HTML comment, invisible once rendered) lets the next run find it.
// Label names and messages are untrusted: markdownText makes them inert.
func Note(r Result, marker string) string {
	var b strings.Builder
	b.WriteString(marker + "\n")
	if r.Verdict.Pass() {
		b.WriteString("✅ **Echoes labels are complete.** Thank you!\n")
		return b.String()
	}
	b.WriteString("❌ **This merge request needs an Echoes label.**\n\n")
	for _, f := range r.Findings() {
		if f.Outcome == check.Passed {
			continue
		}
		mark := "❌"
		if f.Outcome == check.Warned {
			mark = "⚠️"
		}
		fmt.Fprintf(&b, "- %s %s\n", mark, markdownText(f.Message))
		if f.Fix != "" {
			fmt.Fprintf(&b, "  - Fix: %s\n", markdownText(f.Fix))
		}
		fmt.Fprintf(&b, "  - Details: %s\n", f.Details)
	}
	fmt.Fprintf(&b, "\n%s\n", NextStep(r.Source))
	return b.String()
}

// markdownText makes untrusted text inert in GitLab Markdown: no HTML, no
// mentions or references, no links.
func markdownText(s string) string {
	s = printable.Truncate(s, 2*printable.MaxRunes)
	r := strings.NewReplacer("\\", "\\\\", "`", "'", "<", "&lt;", ">", "&gt;", "@", "@\u200b", "[", "\\[", "]", "\\]",
		"!", "\\!", "#", "\\#", "*", "\\*", "_", "\\_", "~", "\\~", "|", "\\|", "$", "\\$", "&", "&amp;", "://", ":/\u200b/")
	return r.Replace(s)
}
