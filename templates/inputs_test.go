package templates

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// reservedJobNames are the keys a GitLab CI file reserves at its top level,
// which no job can be named: the "Job names" list of GitLab's docs (image,
// services, stages, types, before_script, after_script, variables, cache,
// include, and pages:deploy in a deploy stage) and the other keys of its
// root entry (default, workflow, spec). A job_name among them would turn
// the job into that keyword and break the including pipeline with a
// confusing error; the input's regex refuses it at include time instead.
var reservedJobNames = []string{
	"after_script", "before_script", "cache", "default", "image", "include",
	"pages:deploy", "services", "spec", "stages", "types", "variables", "workflow",
}

// The characters a job_name may have: letters and digits first (so not a
// hidden .job), then also space and _./:- (nothing that needs quoting in the
// template's "$[[ inputs.job_name ]]": key).
const (
	jobNameFirst = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	jobNameRest  = jobNameFirst + " _./:-"
)

// jobNameOK is what the job_name regex must mean, written plainly.
func jobNameOK(s string) bool {
	if s == "" || !strings.ContainsRune(jobNameFirst, rune(s[0])) || slices.Contains(reservedJobNames, s) {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune(jobNameRest, r) {
			return false
		}
	}
	return true
}

// jobNameRegexLines returns the job_name regex as the lines of the YAML
// double-quoted scalar in templates/echoes-labels.yml: each line ends with a
// backslash, which YAML drops together with the line break and the next
// line's indentation, so the regex is the lines joined, indentation left
// out (no line starts with a space that belongs to the regex). GitLab runs input
// regexes with RE2, which has no look-ahead, so "not a reserved word" is
// spelled out over a trie of the words. A name is accepted by one of:
//
//  1. a first character no reserved word starts with, other than a
//     lowercase letter (a capital or a digit), then anything allowed;
//  2. a lowercase first letter and, later, a character no reserved word
//     has (a capital, a digit, a space, . / or -);
//  3. made of a-z _ : only, it leaves every reserved word at some
//     character, then goes on with a-z _ : (one line per first letter; the
//     class at each step is a-z _ : without the character that would
//     continue the word);
//  4. made of a-z _ : only, it stops before the end of a reserved word.
func jobNameRegexLines(words []string) []string {
	// Each reserved word is made of lower (a-z _ :) and starts with a-z;
	// every other character a name may have is in other.
	const lower = "abcdefghijklmnopqrstuvwxyz_:"
	const other = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ./-"
	type node struct {
		kids map[byte]*node
		end  bool
	}
	root := &node{kids: map[byte]*node{}}
	for _, w := range words {
		n := root
		for i := 0; i < len(w); i++ {
			if strings.IndexByte(lower, w[i]) < 0 || (i == 0 && (w[i] == '_' || w[i] == ':')) {
				panic("reserved word " + w + " has a character this construction does not expect")
			}
			k, ok := n.kids[w[i]]
			if !ok {
				k = &node{kids: map[byte]*node{}}
				n.kids[w[i]] = k
			}
			n = k
		}
		n.end = true
	}
	keys := func(n *node) []byte {
		var ks []byte
		for k := range n.kids {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	// leave is the regex for leaving the words below n at some character:
	// a character of set that continues no word, or a continuing character
	// followed by leaving further down. A word's end leaves with any
	// character of lower (the name is longer than the word).
	var leave func(n *node, set string) string
	leave = func(n *node, set string) string {
		alts := []string{charClass(set, keys(n))}
		for _, k := range keys(n) {
			alts = append(alts, regexp.QuoteMeta(string(k))+leave(n.kids[k], lower))
		}
		if len(alts) == 1 {
			return alts[0]
		}
		return "(" + strings.Join(alts, "|") + ")"
	}
	// stop is the regex for the endings s (maybe empty) such that the
	// string of n followed by s stops inside the words without being one;
	// false when there is none.
	var stop func(n *node) (string, bool)
	stop = func(n *node) (string, bool) {
		var alts []string
		for _, k := range keys(n) {
			if sub, ok := stop(n.kids[k]); ok {
				alts = append(alts, regexp.QuoteMeta(string(k))+sub)
			}
		}
		switch {
		case len(alts) == 0:
			return "", !n.end
		case n.end:
			return "(" + strings.Join(alts, "|") + ")", true
		default:
			return "(" + strings.Join(alts, "|") + ")?", true
		}
	}
	first := charClass(lower[:26], keys(root))
	lines := []string{
		"^(",
		"  " + charClass(other[:36], nil) + charClass(lower+other, nil) + "*|",
		"  [a-z]" + charClass(lower+other, nil) + "*" + charClass(other, nil) + charClass(lower+other, nil) + "*|",
		"  (" + first + "|",
	}
	for i, k := range keys(root) {
		sep := "|"
		if i == len(root.kids)-1 {
			sep = ""
		}
		kid := root.kids[k]
		if len(kid.kids) < 2 {
			lines = append(lines, "    "+regexp.QuoteMeta(string(k))+leave(kid, lower)+sep)
			continue
		}
		// Words sharing their first letter (image, include): one line each.
		lines = append(lines, "    "+regexp.QuoteMeta(string(k))+"("+charClass(lower, keys(kid))+"|")
		for j, g := range keys(kid) {
			end := "|"
			if j == len(kid.kids)-1 {
				end = ")" + sep
			}
			lines = append(lines, "      "+regexp.QuoteMeta(string(g))+leave(kid.kids[g], lower)+end)
		}
	}
	lines = append(lines, "  )"+charClass(lower, nil)+"*|")
	var stops []string
	for _, k := range keys(root) {
		if s, ok := stop(root.kids[k]); ok {
			stops = append(stops, "  "+regexp.QuoteMeta(string(k))+s+"|")
		}
	}
	if len(stops) == 0 {
		lines[len(lines)-1] = strings.TrimSuffix(lines[len(lines)-1], "|")
	} else {
		stops[len(stops)-1] = strings.TrimSuffix(stops[len(stops)-1], "|")
		lines = append(lines, stops...)
	}
	return append(lines, ")$")
}

// jobNameRegexYAML is jobNameRegexLines as it sits in the template.
func jobNameRegexYAML() string {
	lines := jobNameRegexLines(reservedJobNames)
	var b strings.Builder
	b.WriteString("      regex: \"")
	for i, l := range lines {
		if i > 0 {
			b.WriteString("        ")
		}
		b.WriteString(l)
		if i < len(lines)-1 {
			b.WriteString("\\\n")
		}
	}
	b.WriteString("\"\n")
	return b.String()
}

// charClass is a bracket expression for the characters of set not in
// minus, with runs of letters and digits as ranges and _ : space . / -
// last, '-' at the very end.
func charClass(set string, minus []byte) string {
	in := func(c byte) bool { return strings.IndexByte(set, c) >= 0 && !slices.Contains(minus, c) }
	var b strings.Builder
	b.WriteByte('[')
	for _, r := range []string{"AZ", "az", "09"} {
		for c := r[0]; c <= r[1]; c++ {
			if !in(c) {
				continue
			}
			e := c
			for e < r[1] && in(e+1) {
				e++
			}
			switch {
			case e-c >= 2:
				fmt.Fprintf(&b, "%c-%c", c, e)
			case e > c:
				fmt.Fprintf(&b, "%c%c", c, e)
			default:
				b.WriteByte(c)
			}
			c = e
		}
	}
	for _, c := range []byte(" _./:-") {
		if in(c) {
			b.WriteByte(c)
		}
	}
	b.WriteByte(']')
	return b.String()
}

// specInputs is spec:inputs of template, Component or ReconcileComponent.
func specInputs(t *testing.T, template []byte) map[string]inputSpec {
	t.Helper()
	var h struct {
		Spec struct {
			Inputs map[string]inputSpec `yaml:"inputs"`
		} `yaml:"spec"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(template)).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h.Spec.Inputs
}

func TestJobNameRegexIsGenerated(t *testing.T) {
	got := specInputs(t, Component)["job_name"].Regex
	var want string
	for _, l := range jobNameRegexLines(reservedJobNames) {
		want += strings.TrimLeft(l, " ") // YAML drops the indentation
	}
	if got != want || !bytes.Contains(Component, []byte(jobNameRegexYAML())) {
		t.Fatalf("job_name's regex is not the one jobNameRegexLines makes for reservedJobNames; put this in templates/echoes-labels.yml:\n%s", jobNameRegexYAML())
	}
}

// TestJobNameRegexMeansJobNameOK checks the regex (as RE2, GitLab's engine)
// against the plain rule: every reserved word, every string one edit away
// from one, and random strings made mostly of their letters.
func TestJobNameRegexMeansJobNameOK(t *testing.T) {
	re := regexp.MustCompile(specInputs(t, Component)["job_name"].Regex)
	var cases []string
	alphabet := jobNameRest + "\n\"$[]é"
	for _, w := range reservedJobNames {
		cases = append(cases, w, strings.ToUpper(w), " "+w, w+" ", w+"\n", "."+w)
		for i := 0; i <= len(w); i++ {
			cases = append(cases, w[:i], w[i:])
			for _, c := range alphabet {
				cases = append(cases, w[:i]+string(c)+w[i:]) // insertion
				if i < len(w) {
					cases = append(cases, w[:i]+string(c)+w[i+1:]) // substitution
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	letters := strings.Join(reservedJobNames, "") + "-. 9X"
	for range 20000 {
		b := make([]byte, 1+rng.IntN(14))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		cases = append(cases, string(b))
	}
	bad := 0
	for _, s := range cases {
		if got, want := re.MatchString(s), jobNameOK(s); got != want && bad < 20 {
			bad++
			t.Errorf("job_name %q: regex says %v, the rule says %v", s, got, want)
		}
	}
	for _, s := range []string{"echoes-labels", "labels", "pages", "images", "Image", "cache-check", "spec2", "lint: labels", "deploy/labels"} {
		if !re.MatchString(s) {
			t.Errorf("job_name %q is refused", s)
		}
	}
}

// TestTimeoutRegexRefusesZero checks the timeout input's regex against the
// binary's rule (a positive Go duration) for every duration spelled from
// the units and a few numbers, and for malformed values.
func TestTimeoutRegexRefusesZero(t *testing.T) {
	in := specInputs(t, Component)
	re := regexp.MustCompile(in["timeout"].Regex)
	wait := regexp.MustCompile(in["wait"].Regex)
	units := []string{"ns", "us", "µs", "μs", "ms", "s", "m", "h"}
	numbers := []string{"0", "00", "0.0", "0.000", "1", "01", "0.5", "10", "1.0", "30"}
	var parts []string
	for _, n := range numbers {
		for _, u := range units {
			parts = append(parts, n+u)
		}
	}
	checked := 0
	for _, a := range parts {
		for _, b := range append([]string{""}, parts...) {
			v := a + b
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("test bug: %q is not a Go duration: %v", v, err)
			}
			want := d > 0
			if d == 0 && strings.ContainsAny(v, "123456789") {
				// Below a nanosecond, which Go rounds to 0: the regex
				// cannot see that, and the binary refuses it (exit 2).
				want = true
			}
			if got := re.MatchString(v); got != want {
				t.Errorf("timeout %q (%v): regex says %v, want %v", v, d, got, want)
			}
			if !wait.MatchString(v) {
				t.Errorf("wait %q is refused, but any non-negative duration is a wait", v)
			}
			checked++
		}
	}
	for _, v := range []string{"", "0", "30", " 30s", "30s ", "30s\n", "\n30s", "-1s", "+1s", "1d", "1.s", ".5s", "1e3s", "s", "1 s"} {
		if re.MatchString(v) {
			t.Errorf("timeout %q passes the regex", v)
		}
	}
	if checked < 1000 {
		t.Fatalf("checked only %d durations", checked)
	}
}

// TestComponentRefusesBadInputs includes the component as GitLab would,
// with values the inputs' regexes must refuse and values they must take.
func TestComponentRefusesBadInputs(t *testing.T) {
	refused := map[string][]string{
		"timeout":  {"0s", "0.0s", "0m0s", "0h0m0.000s", "0ms", "00ns", "30", "30s\n", "1d"},
		"wait":     {"-1s", "2 m", "2m\n"},
		"job_name": append(slices.Clone(reservedJobNames), ".hidden", "", "a\"b", "job\n"),
		"drafts":   {"Warn", "fail", ""},
	}
	for input, values := range refused {
		for _, v := range values {
			_, err := parseConfig(Component, map[string]string{input: v})
			if err == nil {
				cf, _ := parseConfig(Component, map[string]string{input: v})
				err = cf.inputErr
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("input %q", input)) {
				t.Errorf("%s: %q was not refused by its regex (error: %v)", input, v, err)
			}
		}
	}
	taken := map[string][]string{
		"timeout":  {"30s", "1m30s", "0m1s", "0.5s", "100ms", "1h"},
		"wait":     {"0s", "2m", "1m30s"},
		"job_name": {"echoes-labels", "labels", "images", "Image", "pages", "check: labels"},
		"drafts":   {"enforce", "warn"},
		"enforce":  {"true", "false"},
	}
	for input, values := range taken {
		for _, v := range values {
			cf, err := parseConfig(Component, map[string]string{input: v})
			if err == nil {
				err = cf.inputErr
			}
			if err != nil {
				t.Errorf("%s: %q was refused: %v", input, v, err)
			}
		}
	}
}
