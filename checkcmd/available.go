package checkcmd

import (
	"context"
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// available reads, on a failing check that read the labels from GitLab,
// the project's labels of the kinds missing (ancestor groups' included),
// so that the report can list them: one more request, one page. A
// passing check, or labels from elsewhere, make none. If the read fails,
// the report goes on without it, saying so on stderr.
func (f fetcher) available(ctx context.Context, got fetched, v check.Verdict) *report.Available {
	if v.Pass() || got.source != report.FromAPI || f.client == nil {
		return nil
	}
	want := map[check.Kind]bool{}
	for _, rule := range v.Rules {
		if rule.Outcome != check.Failed {
			continue
		}
		switch rule.Problem {
		case check.NoIntentOrInitiative:
			want[check.Intent], want[check.Initiative] = true, true
		case check.NoEffort, check.BadEffortSize:
			want[check.Effort] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	p := f.cfg.rules.Prefixes.WithDefaults()
	// GitLab's search is one substring: what the prefixes wanted share.
	search := ""
	for _, k := range []check.Kind{check.Intent, check.Initiative, check.Effort} {
		if want[k] {
			search = sharedRoot(search, prefixOf(p, k))
		}
	}
	read, cancel := context.WithTimeout(ctx, f.cfg.timeout)
	defer cancel()
	names, more, err := f.client.ProjectLabels(read, f.plan.project, search)
	if err != nil {
		fmt.Fprintf(f.d.Stderr, "echoes-labels: could not list the project's labels (%s); the report goes on without them.\n",
			printable.String(f.cfg.secrets.Clip(err.Error(), 200)))
		return nil
	}
	a := &report.Available{Truncated: more}
	for _, n := range f.cfg.secrets.Masks(names) {
		l := check.Classify(n, p)
		if !want[l.Kind] || l.Value == "" {
			continue
		}
		switch l.Kind {
		case check.Intent:
			a.Intent = append(a.Intent, n)
		case check.Initiative:
			a.Initiative = append(a.Initiative, n)
		case check.Effort:
			if validSize(l.Value) {
				a.Effort = append(a.Effort, n)
			}
		}
	}
	return a
}

func prefixOf(p check.Prefixes, k check.Kind) string {
	switch k {
	case check.Intent:
		return p.Intent
	case check.Initiative:
		return p.Initiative
	}
	return p.Effort
}

// sharedRoot is the longest common start of a and b ("" starts anything).
func sharedRoot(a, b string) string {
	if a == "" {
		return b
	}
	n := 0
	for n < len(a) && n < len(b) && strings.EqualFold(a[n:n+1], b[n:n+1]) {
		n++
	}
	return a[:n]
}

func validSize(v string) bool {
	for _, s := range check.Sizes {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
