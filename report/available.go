package report

import (
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// Available are the labels of each kind that exist in the project (its
// own and its ancestor groups'), read on a failing check so that the
// report can say which ones to choose from. Each list is as GitLab sent
// it, bounded by the read (one page).
type Available struct {
	Intent, Initiative, Effort []string
	// Truncated is true when GitLab had more labels than the read took.
	Truncated bool
}

// of is the list of kind k.
func (a *Available) of(k check.Kind) []string {
	switch k {
	case check.Intent:
		return a.Intent
	case check.Initiative:
		return a.Initiative
	case check.Effort:
		return a.Effort
	}
	return nil
}

// kindsOf are the kinds a failed rule asks for.
func kindsOf(p check.Problem) []check.Kind {
	switch p {
	case check.NoIntentOrInitiative:
		return []check.Kind{check.Intent, check.Initiative}
	case check.NoEffort, check.BadEffortSize:
		return []check.Kind{check.Effort}
	}
	return nil
}

// availableFor lists the existing labels a failed rule may take, the
// first inlineListed of them, and how many more there are.
func (r Result) availableFor(f Finding) ([]string, int) {
	if r.Available == nil || f.Outcome != check.Failed {
		return nil, 0
	}
	var all []string
	for _, k := range kindsOf(f.Problem) {
		all = append(all, r.Available.of(k)...)
	}
	return capped(all, inlineListed)
}

// AvailableLine is "available: a, b, … 12 more" for a failed rule, or ""
// when no existing label of its kinds is known.
func (r Result) AvailableLine(f Finding) string {
	shown, more := r.availableFor(f)
	if len(shown) == 0 {
		return ""
	}
	parts := make([]string, len(shown))
	for i, l := range shown {
		parts[i] = printable.String(l)
	}
	s := "available: " + strings.Join(parts, ", ")
	switch {
	case more > 0 && r.Available.Truncated:
		s += fmt.Sprintf(", … %d more and others not read", more)
	case more > 0:
		s += fmt.Sprintf(", … %d more", more)
	case r.Available.Truncated:
		s += ", … and others not read"
	}
	return s
}

// existing is the available label that a near miss's suggestion names
// (compared case-insensitively), or "".
func (a *Available) existing(name string, k check.Kind) string {
	if a == nil {
		return ""
	}
	for _, l := range a.of(k) {
		if strings.EqualFold(l, name) {
			return l
		}
	}
	return ""
}

// meantLabel is the existing label a near miss of the merge request
// points to, for a failed rule of its kind; "" when none does.
func (r Result) meantLabel(f Finding) string {
	for _, k := range kindsOf(f.Problem) {
		for _, nm := range r.Verdict.NearMisses {
			if nm.Kind == k {
				if l := r.Available.existing(nm.Suggestion, k); l != "" {
					return l
				}
			}
		}
	}
	return ""
}

// QuickAction is the quick action a person may paste in a comment to add
// label: /label ~"name". Shown as inert text only (a code span in the
// note): our note must not run it.
func QuickAction(label string) string {
	return `/label ~"` + label + `"`
}
