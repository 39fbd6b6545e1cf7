package report

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"gitlab.com/echoeshq/echoes-labels/check"
)

// sgr is the escape sequence the report writes itself with colour on, and
// section the markers of a collapsed GitLab log section, with Sections on.
var (
	sgr     = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	section = regexp.MustCompile(`(?s)^\x1b\[0Ksection_start:-?\d+:echoes_labels_details\[collapsed=true\]\r\x1b\[0K(.*?)\x1b\[0Ksection_end:-?\d+:echoes_labels_details\r\x1b\[0K\n`)
)

// lineStarts are the lines the report is made of; a label that smuggled a
// line break in would start a line of its own.
var lineStarts = []string{
	"Echoes labels", "  read:", "  intent:", "  initiative:", "  effort:", "  misspelt?", "✔ PASS", "✖ FAIL",
	"  ✖ ", "  ⚠ ", "    fix: ", "    details: ", "To pass: ",
}

// logSafe fails when out could corrupt a CI log: invalid UTF-8, a control
// character other than \n, a bidi override, a line separator, or a line
// that is none of the report's own.
func logSafe(t *testing.T, out string) {
	t.Helper()
	noControls(t, out)
	knownLines(t, out)
}

func noControls(t *testing.T, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("invalid UTF-8 in the report:\n%q", out)
	}
	for _, r := range out {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' || r == '\ufeff') {
			t.Fatalf("raw %U in the report:\n%q", r, out)
		}
	}
}

func knownLines(t *testing.T, out string) {
	t.Helper()
	verdicts := 0
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		known := false
		for _, s := range lineStarts {
			known = known || strings.HasPrefix(line, s)
		}
		if !known {
			t.Fatalf("a line the report does not write: %q in\n%s", line, out)
		}
		if strings.HasPrefix(line, "✔ PASS") || strings.HasPrefix(line, "✖ FAIL") {
			verdicts++
		}
	}
	if verdicts != 1 {
		t.Fatalf("%d verdict lines, want 1:\n%s", verdicts, out)
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{
		"echoes/intent/feature\nbackend",
		"echoes/intnet/\x1b[31mred\x1b[0m\necho/effort/\u202eLX",
		"bug\r✔ PASS Echoes can tell why this change exists.",
		"echoes/effort/\n\nechoes/effort/\u2028XL",
		"echoes/initiative/" + strings.Repeat("é", 10000),
		"\xff\xfe\x00",
	} {
		f.Add(s, "group/pro\x1bject", false, true)
		f.Add(s, "42", true, false)
	}
	f.Fuzz(func(t *testing.T, joined, project string, requireEffort, fromAPI bool) {
		labels := strings.Split(joined, "\n")
		r := Result{Labels: labels, Source: FromCommandLine,
			Verdict: check.Evaluate(labels, check.Options{RequireEffort: requireEffort})}
		if fromAPI {
			r.Source, r.MergeRequest = FromAPI, MergeRequest{Project: project, IID: 7}
		}
		r.MergeRequest.WebURL, r.EventType = project, project
		var plain, coloured, sectioned strings.Builder
		if err := Text(&plain, r, Options{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(plain.String(), "\x1b") {
			t.Fatalf("ESC with colour off:\n%q", plain.String())
		}
		logSafe(t, plain.String())
		if err := Text(&coloured, r, Options{Colour: true}); err != nil {
			t.Fatal(err)
		}
		stripped := sgr.ReplaceAllString(coloured.String(), "")
		if stripped != plain.String() {
			t.Fatalf("with colour on, the report differs by more than SGR sequences:\n%q\n%q", coloured.String(), plain.String())
		}
		// In a GitLab job the details go first, in a collapsed section:
		// its markers are the only escapes, and the report follows intact.
		if err := Text(&sectioned, r, Options{Sections: true, Start: time.Unix(1764115200, 0), End: time.Unix(1764115260, 0)}); err != nil {
			t.Fatal(err)
		}
		m := section.FindStringSubmatchIndex(sectioned.String())
		if m == nil {
			t.Fatalf("no details section at the start:\n%q", sectioned.String())
		}
		details, rest := sectioned.String()[m[2]:m[3]], sectioned.String()[m[1]:]
		noControls(t, details)
		if got, want := strings.Count(details, "\n"), len(r.DetailLines())+1; got != want {
			t.Fatalf("%d lines in the details section, want %d (header and one a detail):\n%s", got, want, details)
		}
		if rest != plain.String() {
			t.Fatalf("after the section, the report differs:\n%q\n%q", rest, plain.String())
		}
	})
}
