package report

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/goldenfile"
)

// TestGolden pins what each format prints for the verdicts a developer
// meets; go test ./report -update rewrites testdata/ after a deliberate
// change, and the diff is the review.
func TestGolden(t *testing.T) {
	scenarios := []struct {
		name     string
		src      Source
		required bool
		labels   []string
	}{
		{"pass", FromAPI, false, []string{"echoes/intent/feature", "echoes/effort/M", "backend"}},
		{"fail-missing", FromAPI, false, []string{"backend", "priority::high"}},
		{"fail-near-miss", FromVariable, false, []string{"echoes/intnet/feature", "backend"}},
		{"effort-warning", FromAPI, false, []string{"echoes/intent/feature", "echoes/effort/XXL"}},
		{"effort-required-doubled", FromCommandLine, true, []string{"echoes/initiative/checkout", "echoes/effort/S", "echoes/effort/M"}},
	}
	formats := []struct {
		ext   string
		write func(*bytes.Buffer, Result) error
	}{
		{"text", func(b *bytes.Buffer, r Result) error { return Text(b, r, Options{}) }},
		{"json", func(b *bytes.Buffer, r Result) error { return JSON(b, r) }},
		{"junit", func(b *bytes.Buffer, r Result) error { return JUnit(b, r) }},
		{"note", func(b *bytes.Buffer, r Result) error { b.WriteString(Note(r, testMarker)); return nil }},
	}
	for _, sc := range scenarios {
		r := evaluated(sc.src, sc.required, sc.labels...)
		if sc.src == FromCommandLine {
			r.MergeRequest = MergeRequest{}
		}
		for _, f := range formats {
			var b bytes.Buffer
			if err := f.write(&b, r); err != nil {
				t.Fatal(err)
			}
			goldenfile.Check(t, filepath.Join("testdata", sc.name+"."+f.ext+".golden"), b.String())
		}
	}
}

// TestListsAreCapped checks the "and N more" of each format, beyond the
// memory bound: what the reader is told about what was left out.
func TestListsAreCapped(t *testing.T) {
	var labels []string
	for i := range 250 {
		labels = append(labels, fmt.Sprintf("echoes/intent/f%d", i), fmt.Sprintf("echoes/intnet/x%d", i), fmt.Sprintf("echoes/effort/L%d", i))
	}
	r := evaluated(FromAPI, true, labels...)

	var text bytes.Buffer
	if err := Text(&text, r, Options{Sections: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  intent:     echoes/intent/f0, ", "echoes/intent/f19, and 230 more\n",
		"  effort:     echoes/effort/L0, ", "echoes/effort/L19, and 230 more\n",
		"  misspelt?   echoes/intnet/x19 did you mean echoes/intent/x19?\n  misspelt?   and 230 more\n",
		"  … and 550 more\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	if n := strings.Count(text.String(), "misspelt?"); n != 21 {
		t.Errorf("%d misspelt? lines, want 20 and one saying how many more", n)
	}

	doc, _ := jsonDoc(t, r)
	l := doc.Labels
	if len(l.All) != 200 || l.AllOmitted != 550 || len(l.Intent) != 200 || l.IntentOmitted != 50 ||
		len(l.Effort) != 200 || l.EffortOmitted != 50 || len(l.Initiative) != 0 || l.InitiativeOmitted != 0 {
		t.Errorf("labels: %d all (+%d), %d intent (+%d), %d effort (+%d), %d initiative (+%d)", len(l.All), l.AllOmitted,
			len(l.Intent), l.IntentOmitted, len(l.Effort), l.EffortOmitted, len(l.Initiative), l.InitiativeOmitted)
	}
	if len(doc.NearMisses) != 200 || doc.NearMissesOmitted != 50 {
		t.Errorf("near misses: %d (+%d)", len(doc.NearMisses), doc.NearMissesOmitted)
	}
	if rl := doc.Rules[0]; len(rl.Labels) != 200 || rl.LabelsOmitted != 50 {
		t.Errorf("intent rule labels: %d (+%d)", len(rl.Labels), rl.LabelsOmitted)
	}
	if m := doc.Rules[1].Message; len(m) > 200 || !strings.Contains(m, "echoes/effort/L2, and 247 more)") {
		t.Errorf("the message about 250 effort labels is %q, want three named and 'and 247 more'", m)
	}

	var junit bytes.Buffer
	if err := JUnit(&junit, evaluated(FromAPI, false, labels[:90]...)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(junit.String(), "<system-out>labels: echoes/intent/f0, ") || !strings.Contains(junit.String(), "echoes/intent/f19, and 10 more</system-out>") {
		t.Errorf("JUnit passing case should list its labels, capped:\n%s", junit.String())
	}
}
