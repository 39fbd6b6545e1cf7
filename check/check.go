// Package check holds the Echoes labelling rules: labels in, verdict out.
// It does no I/O, so every rule is a table test away from being proven.
package check

import (
	"fmt"
	"strings"
	"unicode"
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

// Validate reports a prefix that is empty, or two kinds sharing one (as
// Classify compares them), either of which makes the rules ambiguous. The
// error names the prefixes as the flags that set them, --intent-prefix and
// so on, which every command shares.
func (p Prefixes) Validate() error {
	seen := map[string]string{}
	for _, k := range p.byKind() {
		flag := "--" + k.kind.String() + "-prefix"
		v := strings.ToLower(strings.TrimSpace(k.prefix))
		if v == "" {
			return &PrefixError{Flag: flag, msg: flag + " is empty"}
		}
		if other, dup := seen[v]; dup {
			return &PrefixError{Flag: flag, msg: fmt.Sprintf("%s and %s are the same prefix %q", other, flag, v)}
		}
		seen[v] = flag
	}
	return nil
}

// PrefixError is a prefix Validate refuses, with the flag that set it.
type PrefixError struct {
	Flag string // --intent-prefix, --initiative-prefix or --effort-prefix
	msg  string
}

func (e *PrefixError) Error() string { return e.msg }

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

// of is the prefix of kind k.
func (p Prefixes) of(k Kind) string {
	switch k {
	case Intent:
		return p.Intent
	case Initiative:
		return p.Initiative
	}
	return p.Effort
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

// DefaultDocsURL is Echoes' public documentation, where the rules are
// explained: the default base of every details link. It lives with the
// rules so that settings (and through it serve) need not import report.
const DefaultDocsURL = "https://docs.echoeshq.com"

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
	// LabelsOmitted counts the rule's labels beyond Labels, which holds
	// at most MaxKept.
	LabelsOmitted int
}

// NearMiss is a label that looks like a misspelt Echoes label.
type NearMiss struct {
	Label      string
	Kind       Kind
	Suggestion string // the label with its prefix spelt right
}

// MaxKept bounds the records a Verdict keeps of each kind of Echoes label,
// of the near misses of each kind, and of a rule's labels. A merge request
// can carry a million labels (GitLab does not stop it, and
// CI_MERGE_REQUEST_LABELS is as long as a variable can be): the rules decide
// on exact counts, and no report prints more names than this, so keeping
// every record would only cost memory (about 100 MiB per million).
const MaxKept = 200

// Counts are the exact totals behind a Verdict's capped lists.
type Counts struct {
	Intents     int
	Initiatives int
	Efforts     int
	NearMisses  int
}

// Verdict is the result of checking one set of labels. Its lists hold the
// first MaxKept of each kind, in the order given (NearMisses the first
// MaxKept of each kind they are near, so that a misspelt intent is named
// however many misspelt efforts precede it); Counts has the totals.
type Verdict struct {
	Intents     []Label
	Initiatives []Label
	Efforts     []Label
	NearMisses  []NearMiss
	Counts      Counts
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

// Evaluate checks labels against the rules. What it keeps is bounded by
// MaxKept whatever the number of labels.
func Evaluate(labels []string, opt Options) Verdict {
	p := opt.Prefixes.WithDefaults()
	var v Verdict
	var missesOf [4]int // near misses kept, by Kind
	for _, name := range labels {
		l := Classify(name, p)
		switch l.Kind {
		case Intent:
			v.Intents = keep(v.Intents, l, &v.Counts.Intents)
		case Initiative:
			v.Initiatives = keep(v.Initiatives, l, &v.Counts.Initiatives)
		case Effort:
			v.Efforts = keep(v.Efforts, l, &v.Counts.Efforts)
		default:
			// An invisible character (U+200B, U+2060, …) or quotes typed
			// around it make a label look like an Echoes label while it
			// is none: the label without them is the one to add, if it is
			// one.
			visible := visibleName(name)
			kind, rest, ok := Other, "", false
			if visible != name {
				kind = Classify(visible, p).Kind
				ok = kind != Other
			}
			if !ok {
				visible = ""
				kind, rest, ok = nearMiss(name, p)
			}
			if ok {
				v.Counts.NearMisses++
				if missesOf[kind] < MaxKept {
					missesOf[kind]++
					suggestion := visible // built only for the kept: a million misses allocate nothing
					if suggestion == "" {
						suggestion = strings.TrimSpace(p.of(kind) + rest)
					}
					v.NearMisses = append(v.NearMisses, NearMiss{Label: name, Kind: kind, Suggestion: suggestion})
				}
			}
		}
	}
	v.Rules = append(v.Rules, intentRule(v, p))
	if r, ok := effortRule(v, p, opt.RequireEffort); ok {
		v.Rules = append(v.Rules, r)
	}
	return v
}

// keep appends l to kept while it holds fewer than MaxKept, and counts it.
func keep(kept []Label, l Label, count *int) []Label {
	*count++
	if len(kept) < MaxKept {
		kept = append(kept, l)
	}
	return kept
}

func intentRule(v Verdict, p Prefixes) RuleResult {
	r := RuleResult{Rule: RuleIntentOrInitiative}
	r.Labels, r.LabelsOmitted = names(v.Counts.Intents+v.Counts.Initiatives, v.Intents, v.Initiatives)
	if v.Counts.Intents+v.Counts.Initiatives == 0 {
		r.Outcome = Failed
		r.Problem = NoIntentOrInitiative
		r.Message = fmt.Sprintf("no %s… or %s… label: Echoes needs at least one to know why this change exists", p.Intent, p.Initiative)
	}
	return r
}

// namedInMessage is how many labels a rule's message names: a sentence
// stays a sentence with a million effort labels.
const namedInMessage = 3

// effortRule returns false when effort is optional and nothing is wrong with
// it, so that a team that does not weigh efforts hears nothing about them.
func effortRule(v Verdict, p Prefixes, required bool) (RuleResult, bool) {
	n := v.Counts.Efforts
	r := RuleResult{Rule: RuleEffort}
	r.Labels, r.LabelsOmitted = names(n, v.Efforts)
	bad := Failed
	if !required {
		bad = Warned
	}
	switch {
	case n == 0:
		if !required {
			return r, false
		}
		r.Outcome, r.Problem = Failed, NoEffort
		r.Message = fmt.Sprintf("no %s… label: this project requires one effort label, sized %s", p.Effort, SizeList())
	case n > 1:
		named := r.Labels[:min(len(r.Labels), namedInMessage)]
		list := strings.Join(named, ", ")
		if more := n - len(named); more > 0 {
			list += fmt.Sprintf(", and %d more", more)
		}
		r.Outcome, r.Problem = bad, SeveralEfforts
		r.Message = fmt.Sprintf("%d effort labels (%s): keep exactly one", n, list)
	default:
		if _, ok := Size(v.Efforts[0].Value); !ok {
			r.Outcome, r.Problem = bad, BadEffortSize
			r.Message = fmt.Sprintf("%q is not a t-shirt size: use %s/ followed by one of %s", v.Efforts[0].Name, p.Effort, SizeList())
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

// names lists the names of up to MaxKept of the labels in groups, and how
// many of total it left out.
func names(total int, groups ...[]Label) ([]string, int) {
	var out []string
	for _, g := range groups {
		for _, l := range g {
			if len(out) == MaxKept {
				return out, total - len(out)
			}
			out = append(out, l.Name)
		}
	}
	return out, total - len(out)
}

// visibleName is name without Unicode's invisible format characters
// (category Cf), and without the quotes or brackets typed around it
// ("echoes/intent/feature" given quoted) and the spaces inside them; name
// itself, unallocated, when it has none.
func visibleName(name string) string {
	if strings.ContainsFunc(name, isFormatChar) {
		name = strings.Map(func(r rune) rune {
			if isFormatChar(r) {
				return -1
			}
			return r
		}, name)
	}
	return strings.TrimSpace(strings.Trim(name, "\"'`[](){}"))
}

func isFormatChar(r rune) bool { return r >= 0x80 && unicode.Is(unicode.Cf, r) }
