package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"gitlab.com/echoeshq/echoes-labels/check"
)

// hostileNames each try one way to make GitLab's Markdown pipeline turn
// label text into a link, a mention, markup or a quick action.
var hostileNames = []string{
	"@all", "@root please", "#1", "!1", "~label", `~"quoted label"`, "%milestone", `%"quoted milestone"`,
	"&1", "$1", "^alert1", "[+ added +]", "{+ added +}", "[- removed -]", "{- removed -}", ":smile:",
	"group/project#1", "group/project!1", "gitlab-org/gitlab~123",
	"<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<!-- c", "-->", "<!-- -->",
	"[link](http://evil.example)", "![img](http://evil.example/x.png)", "<http://evil.example>",
	"www.evil.com", "http://x", "https://evil.example/path", "mailto:a@b.example", "a@b.example",
	"`", "``", "a`b", "``code``", "` x `", "|a|b|", "*bold* _em_ **x**", "\\`", "&amp; &lt;",
	"\n/label ~x", "/label ~x", "x\n/merge", "x\r/close", "x\u2028/approve", "\u200b/unlabel", "x\u200b@all",
	"a\nb\r\nc", strings.Repeat("@all ", 300), strings.Repeat("`", 700),
}

// markdown renders like GitLab: GFM with relaxed autolinks (www.), and raw
// HTML passed through so that any that leaks from label text shows.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM, extension.NewLinkify(
		extension.WithLinkifyAllowedProtocols([]string{"http:", "https:", "ftp:", "mailto:"}))),
	goldmark.WithRendererOptions(html.WithUnsafe()),
)

var (
	codeElem = regexp.MustCompile(`(?s)<code>.*?</code>`)
	anyTag   = regexp.MustCompile(`<[^>]*>`)
	okTag    = regexp.MustCompile(`^</?(p|ul|li|strong|a)>$|^<a href="[^"]*">$`)
	href     = regexp.MustCompile(`<a href="([^"]*)"`)
	emoji    = regexp.MustCompile(`:[a-zA-Z0-9_+-]+:`)
)

const testMarker = "<!-- echoes-labels:sticky-note -->"

// hostileResults put name where each part of the note quotes a label: the
// fix of a near miss, the message of a doubled or wrongly sized effort.
func hostileResults(name string) []Result {
	var out []Result
	for _, labels := range [][]string{
		{"echoes/intnet/" + name, "echoes/effort/" + name},
		{"echoes/intent/x", "echoes/effort/" + name, "echoes/effort/M"},
		{"echoes/intent/x", "echoes/effort/" + name},
	} {
		for _, required := range []bool{true, false} { // a failure, or a pass with a warning
			out = append(out, Result{Labels: labels, Source: FromAPI,
				Verdict: check.Evaluate(labels, check.Options{RequireEffort: required})})
		}
	}
	// The labels that exist, listed with the quick action to paste, and a
	// warning's reason: label text too.
	labels := []string{"backend"}
	out = append(out, Result{Labels: labels, Source: FromAPI, NotEnforced: name,
		Verdict:   check.Evaluate(labels, check.Options{RequireEffort: true}),
		Available: &Available{Intent: []string{"echoes/intent/" + name, name}, Effort: []string{"echoes/effort/" + name}}})
	return out
}

func TestNoteLabelTextIsInert(t *testing.T) {
	for _, name := range hostileNames {
		for _, r := range hostileResults(name) {
			note := Note(r, testMarker)
			assertNoteInert(t, name, note, []string{"https://docs.echoeshq.com/developer-guide", "https://docs.echoeshq.com/weighing-efforts"})
		}
	}
}

func TestNoteDocsURLIsInertUnlessPlain(t *testing.T) {
	labels := []string{"backend"}
	v := check.Evaluate(labels, check.Options{})
	for _, base := range hostileNames {
		r := Result{Labels: labels, Source: FromAPI, Verdict: v, Docs: Docs{Base: base}}
		var want []string
		if u := r.Docs.For(check.RuleIntentOrInitiative); plainURL().MatchString(u) {
			want = []string{u} // a plain https URL stays a link: ours to choose
		}
		assertNoteInert(t, base, Note(r, testMarker), want)
	}
	// A plain https base stays a link, to that page only.
	r := Result{Labels: labels, Source: FromAPI, Verdict: v, Docs: Docs{Base: "https://wiki.example.com:8443/echoes/"}}
	assertNoteInert(t, "", Note(r, testMarker), []string{"https://wiki.example.com:8443/echoes/developer-guide"})
}

// assertNoteInert renders note as GitLab would and fails if anything but
// the links in want became a link, if raw HTML other than the marker
// came through, or if Markdown outside code spans carries a sigil.
func assertNoteInert(t *testing.T, name, note string, want []string) {
	t.Helper()
	for _, line := range strings.Split(note, "\n") {
		if strings.HasPrefix(line, "/") {
			t.Fatalf("a line starts with / (a quick action) for %q:\n%s", name, note)
		}
	}
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(note), &buf); err != nil {
		t.Fatal(err)
	}
	rendered := buf.String()
	outside := codeElem.ReplaceAllString(strings.Replace(rendered, testMarker, "", 1), "")
	for _, tag := range anyTag.FindAllString(outside, -1) {
		if !okTag.MatchString(tag) {
			t.Fatalf("raw HTML %q in the rendered note for %q:\n%s\n%s", tag, name, note, rendered)
		}
	}
	var links []string
	for _, m := range href.FindAllStringSubmatch(outside, -1) {
		links = append(links, m[1])
	}
	if len(links) > 0 || len(want) > 0 {
		for _, l := range links {
			if !contains(want, l) {
				t.Fatalf("a link to %q in the note for %q:\n%s\n%s", l, name, note, rendered)
			}
		}
	}
	if len(links) != strings.Count(note, "Details: <") {
		t.Fatalf("%d links, want each docs link whole, once per rule shown, in the note for %q:\n%s\n%s", len(links), name, note, rendered)
	}
	text := anyTag.ReplaceAllString(outside, "")
	for _, l := range want {
		text = strings.ReplaceAll(text, l, "")
	}
	if i := strings.IndexAny(text, "@#!~%&$^[]{}<>`|*_\\"); i >= 0 {
		t.Fatalf("%q outside code in the rendered note for %q:\n%s", text[i:], name, rendered)
	}
	if m := emoji.FindString(text); m != "" || strings.Contains(text, "www.") || strings.Contains(text, "://") {
		t.Fatalf("emoji or link text %q outside code for %q:\n%s", m+text, name, rendered)
	}
	// The same on the Markdown text itself, which is what GitLab's
	// reference filters and quick actions read.
	plain := strings.Replace(stripCodeSpans(note), testMarker, "", 1)
	for _, l := range want {
		plain = strings.ReplaceAll(plain, "<"+l+">", "")
	}
	if i := strings.IndexAny(plain, "@#!~%&$^[]{}<>`|_\\"); i >= 0 {
		t.Fatalf("%q outside code spans in the note for %q:\n%s", plain[i:], name, note)
	}
	if m := emoji.FindString(plain); m != "" || strings.Contains(plain, "www.") || strings.Contains(plain, "://") {
		t.Fatalf("emoji or link %q outside code spans for %q:\n%s", m, name, note)
	}
}

// stripCodeSpans removes CommonMark code spans: a run of n backticks up to
// the next run of exactly n. An unclosed run is left in, to be caught.
func stripCodeSpans(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := run(s, i)
		end := -1
		for j := i + n; j < len(s); {
			if s[j] == '`' {
				m := run(s, j)
				if m == n {
					end = j + m
					break
				}
				j += m
				continue
			}
			j++
		}
		if end < 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		i = end
	}
	return b.String()
}

func run(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestCodeSpan(t *testing.T) {
	for _, s := range []string{"a", "`", "a`", "`a", "a``b", " a ", " ", "a\nb", "x ` y", "```"} {
		got := codeSpan(s)
		var buf bytes.Buffer
		if err := markdown.Convert([]byte("x "+got), &buf); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?s)<code>(.*?)</code>`).FindStringSubmatch(buf.String())
		if m == nil {
			t.Fatalf("codeSpan(%q) = %q is no code span: %s", s, got, buf.String())
		}
		want := strings.ReplaceAll(s, "\n", `\x0a`)
		if m[1] != want {
			t.Errorf("codeSpan(%q) = %q renders as %q, want %q", s, got, m[1], want)
		}
	}
}

func FuzzNote(f *testing.F) {
	for _, s := range hostileNames[:20] {
		f.Add(s, "https://docs.example.com")
		f.Add("x", s)
	}
	f.Fuzz(func(t *testing.T, name, base string) {
		for _, r := range hostileResults(name) {
			r.Docs = Docs{Base: base}
			var want []string
			for _, rule := range []string{check.RuleIntentOrInitiative, check.RuleEffort} {
				if u := r.Docs.For(rule); plainURL().MatchString(u) {
					want = append(want, u)
				}
			}
			assertNoteInert(t, name, Note(r, testMarker), want)
		}
	})
}
