package check

import (
	"reflect"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		label string
		kind  Kind
		value string
	}{
		{"echoes/intent", Intent, ""},
		{"echoes/intent/feature", Intent, "feature"},
		{"echoes/intent: feature", Intent, "feature"},
		{"Echoes/Intent::feature", Intent, "feature"},
		{"ECHOES/INTENT:bug fix", Intent, "bug fix"},
		{"  echoes/intent/feature  ", Intent, "feature"},
		{"echoes/initiative/checkout-v2", Initiative, "checkout-v2"},
		{"echoes/initiative::Q3 launch", Initiative, "Q3 launch"},
		{"echoes/effort/M", Effort, "M"},
		{"echoes/effort::xl", Effort, "xl"},
		{"echoes/intentional", Other, ""},
		{"echoes/intent-feature", Other, ""},
		{"echoes/efforts/M", Other, ""},
		{"intent/feature", Other, ""},
		{"bug", Other, ""},
		{"", Other, ""},
		{"echoes", Other, ""},
	}
	for _, tt := range tests {
		got := Classify(tt.label, Prefixes{})
		if got.Kind != tt.kind || got.Value != tt.value {
			t.Errorf("Classify(%q) = %v %q, want %v %q", tt.label, got.Kind, got.Value, tt.kind, tt.value)
		}
	}
}

func TestClassifyCustomPrefixes(t *testing.T) {
	p := Prefixes{Intent: "why", Initiative: "team/project", Effort: "size"}
	for label, want := range map[string]Kind{
		"why::feature":            Intent,
		"Team/Project/checkout":   Initiative,
		"size/S":                  Effort,
		"echoes/intent/feature":   Other,
		"echoes/effort/M":         Other,
		"team/projects/somewhere": Other,
	} {
		if got := Classify(label, p).Kind; got != want {
			t.Errorf("Classify(%q) with custom prefixes = %v, want %v", label, got, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	type rule struct {
		name    string
		outcome Outcome
		problem Problem
	}
	tests := []struct {
		name          string
		labels        []string
		requireEffort bool
		pass          bool
		rules         []rule
	}{
		{"intent alone passes", []string{"echoes/intent/feature"}, false, true,
			[]rule{{RuleIntentOrInitiative, Passed, ""}}},
		{"initiative alone passes", []string{"bug", "echoes/initiative/q3"}, false, true,
			[]rule{{RuleIntentOrInitiative, Passed, ""}}},
		{"no labels fails", nil, false, false,
			[]rule{{RuleIntentOrInitiative, Failed, NoIntentOrInitiative}}},
		{"effort alone fails", []string{"echoes/effort/M"}, false, false,
			[]rule{{RuleIntentOrInitiative, Failed, NoIntentOrInitiative}, {RuleEffort, Passed, ""}}},
		{"optional effort, valid", []string{"echoes/intent/x", "echoes/effort::s"}, false, true,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Passed, ""}}},
		{"optional effort, bad size warns", []string{"echoes/intent/x", "echoes/effort/XXL"}, false, true,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Warned, BadEffortSize}}},
		{"optional effort, two warn", []string{"echoes/intent/x", "echoes/effort/S", "echoes/effort/M"}, false, true,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Warned, SeveralEfforts}}},
		{"required effort missing fails", []string{"echoes/intent/x"}, true, false,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Failed, NoEffort}}},
		{"required effort valid", []string{"echoes/intent/x", "echoes/effort/xs"}, true, true,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Passed, ""}}},
		{"required effort bad size fails", []string{"echoes/intent/x", "echoes/effort/huge"}, true, false,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Failed, BadEffortSize}}},
		{"required effort with no value fails", []string{"echoes/intent/x", "echoes/effort"}, true, false,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Failed, BadEffortSize}}},
		{"required effort doubled fails", []string{"echoes/intent/x", "echoes/effort/S", "Echoes/Effort::L"}, true, false,
			[]rule{{RuleIntentOrInitiative, Passed, ""}, {RuleEffort, Failed, SeveralEfforts}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Evaluate(tt.labels, Options{RequireEffort: tt.requireEffort})
			if v.Pass() != tt.pass {
				t.Errorf("Pass() = %v, want %v (rules %+v)", v.Pass(), tt.pass, v.Rules)
			}
			var got []rule
			for _, r := range v.Rules {
				got = append(got, rule{r.Rule, r.Outcome, r.Problem})
				if (r.Outcome == Passed) != (r.Message == "") {
					t.Errorf("rule %s: outcome %v with message %q", r.Rule, r.Outcome, r.Message)
				}
			}
			if !reflect.DeepEqual(got, tt.rules) {
				t.Errorf("rules = %+v, want %+v", got, tt.rules)
			}
		})
	}
}

func TestMessagesNameTheProblem(t *testing.T) {
	v := Evaluate([]string{"echoes/intent/x", "echoes/effort/S", "echoes/effort/M"}, Options{RequireEffort: true})
	msg := v.Rules[1].Message
	for _, want := range []string{"2 effort labels", "echoes/effort/S", "echoes/effort/M", "exactly one"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not mention %q", msg, want)
		}
	}
	v = Evaluate([]string{"echoes/intent/x", "echoes/effort/XXL"}, Options{RequireEffort: true})
	if msg := v.Rules[1].Message; !strings.Contains(msg, "XXL") || !strings.Contains(msg, "XS, S, M, L or XL") {
		t.Errorf("bad-size message %q should name the label and the sizes", msg)
	}
}

func TestNearMisses(t *testing.T) {
	tests := []struct {
		label      string
		suggestion string // empty: not a near miss
	}{
		{"echoes/intnet/x", "echoes/intent/x"},
		{"echoes/initative/y", "echoes/initiative/y"},
		{"Echoes/Efort::M", "echoes/effort::M"},
		{"echoes/intents/feature", "echoes/intent/feature"},
		{"echos/intent", "echoes/intent"},
		{"echoes/inten: bug", "echoes/intent: bug"},
		{"echoes-intent/feature", "echoes/intent/feature"},
		{"echoes_initiative/apollo", "echoes/initiative/apollo"},
		{"echoes/intent-feature", "echoes/intent/feature"},
		{"echoes.effort::M", "echoes/effort::M"},
		{"echoes-intent-bug-fix", "echoes/intent/bug-fix"},
		{"echoes::intent::feature", "echoes/intent::feature"},
		{"echoes/intent feature", "echoes/intent/feature"},
		{"echoes:initiative/apollo", "echoes/initiative/apollo"},
		// Invisible format characters (Cf) print as nothing: the label
		// without them is the one meant.
		{"ech\u200boes/intent/feature", "echoes/intent/feature"},
		{"echoes/intent\u2060/feature", "echoes/intent/feature"},
		{"\ufeffechoes/initiative/apollo", "echoes/initiative/apollo"},
		{"echoes/\u200d\u200d\u200deffort::M", "echoes/effort::M"},
		{"bug\u200b", ""},
		{`"echoes/intent/feature"`, "echoes/intent/feature"},
		{"'echoes/initiative/apollo'", "echoes/initiative/apollo"},
		{"[echoes/effort/M]", "echoes/effort/M"},
		{`"bug"`, ""},
		{"bug", ""},
		{"echoes-team/a", ""},
		{"echoes/team/a", ""},
		{"frontend/intent", ""},
		{"echoes/intentional", ""},
		{strings.Repeat("x", 10000), ""},
	}
	for _, tt := range tests {
		v := Evaluate([]string{tt.label}, Options{})
		got := ""
		if len(v.NearMisses) == 1 {
			got = v.NearMisses[0].Suggestion
		}
		if got != tt.suggestion {
			t.Errorf("near miss of %.40q = %q, want %q", tt.label, got, tt.suggestion)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"intent", "intent", 0},
		{"intnet", "intent", 1},
		{"initative", "initiative", 1},
		{"", "abc", 3},
		{"abc", "", 3},
		{"kitten", "sitting", 3},
	} {
		if got := editDistance(tt.a, tt.b, 10); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if got := editDistance("kitten", "sitting", 2); got != 2 {
		t.Errorf("limited distance = %d, want the limit 2", got)
	}
}

func TestPrefixesValidate(t *testing.T) {
	for _, tt := range []struct {
		p    Prefixes
		want string // "" for valid
	}{
		{DefaultPrefixes, ""},
		{Prefixes{Intent: "why", Initiative: "what", Effort: "size"}, ""},
		{Prefixes{Intent: " ", Initiative: "what", Effort: "size"}, "--intent-prefix is empty"},
		{Prefixes{Intent: "x", Initiative: "what", Effort: " X "}, `--intent-prefix and --effort-prefix are the same prefix "x"`},
	} {
		err := tt.p.Validate()
		if (err == nil) != (tt.want == "") || err != nil && err.Error() != tt.want {
			t.Errorf("%+v.Validate() = %v, want %q", tt.p, err, tt.want)
		}
	}
}
