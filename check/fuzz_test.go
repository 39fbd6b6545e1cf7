package check

import (
	"strings"
	"testing"
)

// matchesRule is the documented prefix rule, written out again on its own:
// the trimmed label is the prefix (any case) alone, or the prefix followed
// by "/", ":" or "::" and a value.
func matchesRule(name, prefix string) bool {
	name = strings.TrimSpace(name)
	if len(name) < len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return false
	}
	rest := name[len(prefix):]
	return rest == "" || rest[0] == '/' || rest[0] == ':'
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"echoes/intent", "echoes/intent/feature", "Echoes/Intent::feature", "echoes/intentional",
		" echoes/effort: XL ", "echoes/initiative/", "echoes/effort::", "\x1b[31mechoes/intent", "",
		"echoes/intent/\u202e", "ECHOES/EFFORT/m", "echoes/\u212aey", strings.Repeat("echoes/intent/", 500),
	} {
		f.Add(s, "")
		f.Add(s, "why")
	}
	f.Fuzz(func(t *testing.T, name, intentPrefix string) {
		p := Prefixes{Intent: intentPrefix}.WithDefaults()
		l := Classify(name, p)
		if l.Name != name {
			t.Fatalf("Name = %q, want the label as given %q", l.Name, name)
		}
		want := Other
		for _, k := range p.byKind() {
			if matchesRule(name, k.prefix) {
				want = k.kind
				break
			}
		}
		if l.Kind != want {
			t.Fatalf("Classify(%q) with %+v = %v, the prefix rule says %v", name, p, l.Kind, want)
		}
		if l.Kind == Other && l.Value != "" {
			t.Fatalf("an Other label has value %q", l.Value)
		}
		if l.Value != strings.TrimSpace(l.Value) || !strings.Contains(name, l.Value) {
			t.Fatalf("value %q is not the trimmed rest of %q", l.Value, name)
		}
	})
}

func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"echoes/intent/feature\nbackend",
		"echoes/intnet/feature\necheos/effort/XXL",
		"echoes/initiative/q3\nechoes/effort/S\nechoes/effort::M",
		"echoes/effort/huge\necho/intent:x\nEchoes/Initative",
		"\x1b[2J\necheos/intent/\x00\n" + strings.Repeat("x", 10000),
		"",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, joined string, requireEffort bool) {
		labels := strings.Split(joined, "\n")
		p := DefaultPrefixes
		v := Evaluate(labels, Options{RequireEffort: requireEffort})

		var intents, initiatives, efforts int
		for _, name := range labels {
			switch Classify(name, p).Kind {
			case Intent:
				intents++
			case Initiative:
				initiatives++
			case Effort:
				efforts++
			}
		}
		if len(v.Intents) != intents || len(v.Initiatives) != initiatives || len(v.Efforts) != efforts {
			t.Fatalf("verdict sorted %d/%d/%d labels, Classify says %d/%d/%d",
				len(v.Intents), len(v.Initiatives), len(v.Efforts), intents, initiatives, efforts)
		}
		for _, nm := range v.NearMisses {
			if Classify(nm.Label, p).Kind != Other {
				t.Fatalf("%q is an Echoes label, not a near miss", nm.Label)
			}
			var prefix string
			for _, k := range p.byKind() {
				if k.kind == nm.Kind {
					prefix = k.prefix
				}
			}
			// The prefix matches in any case (the documented rule): a label
			// typed "Echoes/Intent" in quotes is suggested as typed.
			if prefix == "" || len(nm.Suggestion) < len(prefix) || !strings.EqualFold(nm.Suggestion[:len(prefix)], prefix) {
				t.Fatalf("near miss %q of kind %v suggests %q, which does not start with its prefix", nm.Label, nm.Kind, nm.Suggestion)
			}
			if Classify(nm.Suggestion, p).Kind != nm.Kind || nm.Suggestion != strings.TrimSpace(nm.Suggestion) {
				t.Fatalf("near miss %q suggests %q, which is not a trimmed label of kind %v", nm.Label, nm.Suggestion, nm.Kind)
			}
			// The rest is kept, but for a separator typed wrong before it
			// ("echoes-intent.f" → "echoes/intent/f") or the invisible
			// characters, quotes and spaces taken out around it.
			rest := nm.Suggestion[len(prefix):]
			kept := false
			for _, typed := range []string{strings.TrimSpace(nm.Label), strings.TrimSpace(visibleName(nm.Label))} {
				kept = kept || strings.HasSuffix(typed, rest) || rest != "" && rest[0] == '/' && strings.HasSuffix(typed, rest[1:])
			}
			if !kept {
				t.Fatalf("suggestion %q lost the rest of %q", nm.Suggestion, nm.Label)
			}
		}

		effortOK := efforts == 1
		if effortOK {
			_, effortOK = Size(v.Efforts[0].Value)
		}
		wantPass := intents+initiatives > 0 && (!requireEffort || effortOK)
		if v.Pass() != wantPass {
			t.Fatalf("Pass() = %v, want %v (intents %d, initiatives %d, efforts %d, required %v)",
				v.Pass(), wantPass, intents, initiatives, efforts, requireEffort)
		}
		for _, r := range v.Rules {
			if (r.Outcome == Passed) != (r.Message == "") || (r.Outcome == Passed) != (r.Problem == "") {
				t.Fatalf("rule %s: outcome %v with problem %q and message %q", r.Rule, r.Outcome, r.Problem, r.Message)
			}
		}
	})
}

// osa is the optimal-string-alignment distance by the textbook full matrix,
// the reference for editDistance.
func osa(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func FuzzEditDistance(f *testing.F) {
	f.Add("intnet", "intent", 3)
	f.Add("kitten", "sitting", 2)
	f.Add("echoes/initative", "echoes/initiative", 3)
	f.Add("", "abc", 1)
	f.Add("héllo\xff", "hello", 5)
	f.Add(strings.Repeat("a", 100), strings.Repeat("a", 99)+"b", 3)
	f.Fuzz(func(t *testing.T, a, b string, limit int) {
		if len(a) > 300 || len(b) > 300 {
			return // the reference is quadratic in memory
		}
		limit = 1 + (limit&0x7fffffff)%8
		if got, want := editDistance(a, b, limit), min(osa(a, b), limit); got != want {
			t.Fatalf("editDistance(%q, %q, %d) = %d, want %d", a, b, limit, got, want)
		}
	})
}
