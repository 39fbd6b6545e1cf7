package report

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Note is the Markdown of the sticky comment on the merge request; marker
// (an HTML comment, invisible once rendered) lets the next run find it.
//
// GitLab renders the note as GitLab Flavored Markdown: references (@user,
// #1, !1, ~label, %milestone, &epic, $snippet, ^alert), inline diffs,
// :emoji: and relaxed autolinks (www.…) all turn text into links or
// markup, and a line starting with "/" runs a quick action. Everything not
// ours (messages and fixes quote label names and configured prefixes, the
// docs URL is configuration) therefore goes in a code span, which those
// filters skip, rather than through a list of escapes that a new filter
// would outgrow. Our own text uses none of those sigils, and every line
// starts with our own text, so none starts with "/".
func Note(r Result, marker string) string {
	var b strings.Builder
	b.WriteString(marker + "\n")
	findings := r.Findings()
	pass, warned := r.Verdict.Pass(), false
	for _, f := range findings {
		warned = warned || f.Outcome == check.Warned
	}
	switch {
	case pass && !warned:
		b.WriteString("✅ **Echoes labels are complete.** Thank you.\n")
		return b.String()
	case pass:
		// The job passes, but a note that was red must not hide what
		// is still off.
		b.WriteString("✅ **Echoes labels are complete**, with a warning.\n\n")
	case r.Warn():
		fmt.Fprintf(&b, "⚠️ **This merge request needs an Echoes label** (a warning: not enforced, %s).\n\n", codeSpan(r.NotEnforced))
	default:
		b.WriteString("❌ **This merge request needs an Echoes label.**\n\n")
	}
	for _, f := range findings {
		if f.Outcome == check.Passed {
			continue
		}
		mark := "❌"
		if f.Outcome == check.Warned || r.Warn() {
			mark = "⚠️ Warning only:"
		}
		fmt.Fprintf(&b, "- %s %s\n", mark, codeSpan(f.Message))
		if f.Fix != "" {
			fmt.Fprintf(&b, "  - Fix: %s\n", codeSpan(f.Fix))
		}
		if shown, more := r.availableFor(f); len(shown) > 0 {
			spans := make([]string, len(shown))
			for i, l := range shown {
				spans[i] = codeSpan(l)
			}
			line := strings.Join(spans, ", ")
			if more > 0 {
				line += ", " + andMore(more)
			}
			// The quick action is shown, never run: in a code span,
			// which GitLab renders as text. It names a label only when
			// the merge request's own near miss says which one is meant.
			if meant := r.meantLabel(f); meant != "" {
				fmt.Fprintf(&b, "  - Available: %s\n  - Or comment: %s\n", line, codeSpan(QuickAction(meant)))
			} else {
				fmt.Fprintf(&b, "  - Available: %s\n  - Or comment %s with the one that fits\n", line, codeSpan(QuickAction("…")))
			}
		}
		fmt.Fprintf(&b, "  - Details: %s\n", docsLink(f.Details))
	}
	if !pass {
		fmt.Fprintf(&b, "\n%s\n", r.NextStep())
	}
	return b.String()
}

// noteRunes bounds one untrusted string in the note.
const noteRunes = 2 * printable.MaxRunes

// codeSpan shows untrusted text verbatim and inert: a CommonMark code span
// whose fence is one backtick longer than the longest run inside, padded
// with a space when the text starts or ends with a backtick or a space (the
// parser strips one space from each side when both are there, unless the
// span is all spaces). printable
// goes first, so no line break or control character can end the span or
// the line.
func codeSpan(s string) string {
	s = printable.Truncate(s, noteRunes)
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if first, last := s[0], s[len(s)-1]; first == '`' || last == '`' || (first == ' ' || last == ' ') && strings.Trim(s, " ") != "" {
		s = " " + s + " "
	}
	return fence + s + fence
}

// plainURL is a docs link that can stay a link: https, a host, and a path
// of characters that neither end the autolink early nor mean anything to
// GitLab's reference filters. Compiled on first use, not at every
// process start: most checks write no note.
var plainURL = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9./-]*)?$`)
})

// docsLink is the docs page as a link when it is a plain https URL, and as
// inert text otherwise: the base comes from configuration. The link is a
// CommonMark autolink in angle brackets, whose target is exactly the text
// between them; a bare URL would be cut where the autolinker thinks a
// domain ends ("https://0000.a0000000" links to https://0000.a).
func docsLink(u string) string {
	if len(u) <= noteRunes && plainURL().MatchString(u) {
		return "<" + u + ">"
	}
	return codeSpan(u)
}
