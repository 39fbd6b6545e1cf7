// Package check holds the Echoes labelling rules: labels in, verdict out.
// It does no I/O, so every rule is a table test away from being proven.
package check

import (
	"fmt"
	"strings"
)

// Kind is what an Echoes label says about a merge request.
type Kind int

const (
	// Other is a label that is none of the Echoes kinds.
	Other Kind = iota
	Intent
	Initiative
	Effort
)

func (k Kind) String() string {
	switch k {
	case Intent:
		return "intent"
	case Initiative:
		return "initiative"
	case Effort:
		return "effort"
	}
	return "other"
}

// Prefixes name the label roots of each kind. Teams that renamed their
// Echoes labels set their own; the zero value means the defaults.
type Prefixes struct {
	Intent     string
	Initiative string
	Effort     string
}

// DefaultPrefixes are the label roots Echoes documents.
var DefaultPrefixes = Prefixes{
	Intent:     "echoes/intent",
	Initiative: "echoes/initiative",
	Effort:     "echoes/effort",
}

// WithDefaults fills in the Echoes default for each prefix left empty.
func (p Prefixes) WithDefaults() Prefixes {
	if p.Intent == "" {
		p.Intent = DefaultPrefixes.Intent
	}
	if p.Initiative == "" {
		p.Initiative = DefaultPrefixes.Initiative
	}
	if p.Effort == "" {
		p.Effort = DefaultPrefixes.Effort
	}
	return p
}

func (p Prefixes) byKind() [3]struct {
	kind   Kind
	prefix string
} {
	return [3]struct {
		kind   Kind
		prefix string
	}{{Intent, p.Intent}, {Initiative, p.Initiative}, {Effort, p.Effort}}
}

// Sizes are the effort values Echoes accepts, smallest first.
var Sizes = []string{"XS", "S", "M", "L", "XL"}

// Label is one label of the merge request, classified.
type Label struct {
	Name  string // as GitLab spells it
	Kind  Kind
	Value string // what follows the prefix and separator, trimmed; may be empty
}

// Classify says which kind a label is. The prefix is compared
// case-insensitively and must be followed by nothing, or by "/", ":" or "::"
// and a value, so that "echoes/intentional" is not an intent.
func Classify(name string, p Prefixes) Label {
	p = p.WithDefaults()
	for _, k := range p.byKind() {
		if value, ok := cutPrefixFold(name, k.prefix); ok {
			return Label{Name: name, Kind: k.kind, Value: value}
		}
	}
	return Label{Name: name, Kind: Other}
}

// cutPrefixFold reports whether name is prefix alone or prefix, a separator
// and a value, and returns the trimmed value.
func cutPrefixFold(name, prefix string) (string, bool) {
	name = strings.TrimSpace(name)
	if len(name) < len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return "", false
	}
	rest := name[len(prefix):]
	if rest == "" {
		return "", true
	}
	switch {
	case strings.HasPrefix(rest, "::"):
		rest = rest[2:]
	case rest[0] == '/' || rest[0] == ':':
		rest = rest[1:]
	default:
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// Options are the rules a team chose.
type Options struct {
	Prefixes      Prefixes
	RequireEffort bool
}

// Rule names, stable: they appear in JSON output and JUnit test cases.
const (
	RuleIntentOrInitiative = "intent-or-initiative"
	RuleEffort             = "effort"
)

// Outcome of one rule.
type Outcome int

const (
	Passed Outcome = iota
	Warned         // something is off, but the team did not make it a failure
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Warned:
		return "warning"
	case Failed:
		return "failed"
	}
	return "passed"
}

// Problem says why a rule did not pass.
type Problem string

const (
	NoIntentOrInitiative Problem = "missing"
	NoEffort             Problem = "effort-missing"
	SeveralEfforts       Problem = "effort-several"
	BadEffortSize        Problem = "effort-size"
)

// RuleResult is the verdict of one rule.
type RuleResult struct {
	Rule    string
	Outcome Outcome
	Problem Problem // empty when passed
	Message string  // one sentence naming what is wrong; empty when passed
	Labels  []string
}

// NearMiss is a label that looks like a misspelt Echoes label.
type NearMiss struct {
	Label      string
	Kind       Kind
	Suggestion string // the label with its prefix spelt right
}

// Verdict is the result of checking one set of labels.
type Verdict struct {
	Intents     []Label
	Initiatives []Label
	Efforts     []Label
	NearMisses  []NearMiss
	Rules       []RuleResult
}

// Pass reports whether no rule failed; warnings do not fail.
func (v Verdict) Pass() bool {
	for _, r := range v.Rules {
		if r.Outcome == Failed {
			return false
		}
	}
	return true
}

// Evaluate checks labels against the rules.
func Evaluate(labels []string, opt Options) Verdict {
	p := opt.Prefixes.WithDefaults()
	var v Verdict
	for _, name := range labels {
		l := Classify(name, p)
		switch l.Kind {
		case Intent:
			v.Intents = append(v.Intents, l)
		case Initiative:
			v.Initiatives = append(v.Initiatives, l)
		case Effort:
			v.Efforts = append(v.Efforts, l)
		default:
			if nm, ok := nearMiss(name, p); ok {
				v.NearMisses = append(v.NearMisses, nm)
			}
		}
	}
	v.Rules = append(v.Rules, intentRule(v, p))
	if r, ok := effortRule(v.Efforts, p, opt.RequireEffort); ok {
		v.Rules = append(v.Rules, r)
	}
	return v
}

func intentRule(v Verdict, p Prefixes) RuleResult {
	r := RuleResult{Rule: RuleIntentOrInitiative, Labels: names(v.Intents, v.Initiatives)}
	if len(r.Labels) == 0 {
		r.Outcome = Failed
		r.Problem = NoIntentOrInitiative
		r.Message = fmt.Sprintf("no %s… or %s… label: Echoes needs at least one to know why this change exists", p.Intent, p.Initiative)
	}
	return r
}

// effortRule returns false when effort is optional and nothing is wrong with
// it, so that a team that does not weigh efforts hears nothing about them.
func effortRule(efforts []Label, p Prefixes, required bool) (RuleResult, bool) {
	r := RuleResult{Rule: RuleEffort, Labels: names(efforts)}
	bad := Failed
	if !required {
		bad = Warned
	}
	switch {
	case len(efforts) == 0:
		if !required {
			return r, false
		}
		r.Outcome, r.Problem = Failed, NoEffort
		r.Message = fmt.Sprintf("no %s… label: this project requires one effort label, sized %s", p.Effort, SizeList())
	case len(efforts) > 1:
		r.Outcome, r.Problem = bad, SeveralEfforts
		r.Message = fmt.Sprintf("%d effort labels (%s): keep exactly one", len(efforts), strings.Join(r.Labels, ", "))
	default:
		if _, ok := Size(efforts[0].Value); !ok {
			r.Outcome, r.Problem = bad, BadEffortSize
			r.Message = fmt.Sprintf("%q is not a t-shirt size: use %s/ followed by one of %s", efforts[0].Name, p.Effort, SizeList())
		}
	}
	return r, true
}

// Size returns the canonical t-shirt size for an effort value, accepting any case.
func Size(value string) (string, bool) {
	for _, s := range Sizes {
		if strings.EqualFold(value, s) {
			return s, true
		}
	}
	return "", false
}

// SizeList is the sizes as a sentence reads them: "XS, S, M, L or XL".
func SizeList() string {
	return strings.Join(Sizes[:len(Sizes)-1], ", ") + " or " + Sizes[len(Sizes)-1]
}

func names(groups ...[]Label) []string {
	var out []string
	for _, g := range groups {
		for _, l := range g {
			out = append(out, l.Name)
		}
	}
	return out
}
