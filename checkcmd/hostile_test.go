package checkcmd_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// hostileLabels could corrupt a job log if printed raw: colours, cursor
// moves, a fake PASS line, a carriage return, bidi overrides, line
// separators, invalid UTF-8; none of them is an intent or initiative.
var hostileLabels = []string{
	"echoes/intnet/\x1b[31mred\x1b[0m",
	"\x1b[2J\x1b[H✔ PASS Echoes can tell why this change exists.",
	"bug\n✔ PASS Echoes can tell why this change exists.",
	"wip\r✔ PASS",
	"echoes/effort/\u202eLX",
	"echo/intent/a\u2028b",
	"\x07bell\x7fdel\u0085nel",
	"bad\xffutf8",
}

// longInitiative is a valid label of 10,000 characters.
var longInitiative = "echoes/initiative/" + strings.Repeat("x", 10000)

// assertLogSafe checks a report's stdout for raw escapes and for lines the
// report does not write itself.
func assertLogSafe(t *testing.T, r result) {
	t.Helper()
	if strings.ContainsRune(r.stdout, 0x1b) {
		t.Errorf("an ESC byte reached stdout with NO_COLOR:\n%q", r.stdout)
	}
	if !utf8.ValidString(r.stdout) {
		t.Errorf("invalid UTF-8 on stdout:\n%q", r.stdout)
	}
	for _, c := range r.stdout {
		if (c < ' ' && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u202e' {
			t.Errorf("raw %U on stdout:\n%q", c, r.stdout)
			break
		}
	}
	passLines := 0
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "✔ PASS") {
			passLines++
		}
		if len(line) > 5000 {
			t.Errorf("a %d-byte line: long labels should be cut", len(line))
		}
	}
	if want := map[bool]int{true: 1, false: 0}[r.code == 0]; passLines != want {
		t.Errorf("%d lines start with PASS, want %d (exit %d): a label forged one\n%s", passLines, want, r.code, r.stdout)
	}
}

func TestHostileLabelsOnTheCommandLine(t *testing.T) {
	// argv cannot carry invalid UTF-8 through every shell, but exec can.
	r := run(t, map[string]string{"NO_COLOR": "1", "GITLAB_CI": "true"}, "--labels", strings.Join(hostileLabels, ","))
	if r.code != 1 {
		t.Fatalf("no Echoes label among the hostile ones, want exit 1:\n%s", r)
	}
	assertLogSafe(t, r)
	if !strings.Contains(r.stdout, `echoes/intnet/\x1b[31mred\x1b[0m did you mean echoes/intent/\x1b[31mred\x1b[0m?`) {
		t.Errorf("the near miss should be shown with its escapes made visible:\n%s", r.stdout)
	}

	r = run(t, map[string]string{"NO_COLOR": "1"}, "--labels", strings.Join(append(hostileLabels, longInitiative), ","))
	if r.code != 0 || !strings.Contains(r.stdout, "initiative: echoes/initiative/xxx") || !strings.Contains(r.stdout, "x…\n") {
		t.Fatalf("want a pass showing the long initiative cut short:\n%.3000s", r)
	}
	assertLogSafe(t, r)
}

func TestHostileLabelsFromTheAPI(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	srv.SetLabels(42, "group/project", 7, append([]string{"nul\x00byte"}, hostileLabels...)...)
	srv.SetLabels(42, "group/project", 8, append([]string{longInitiative}, hostileLabels...)...)
	env := with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret)

	r := run(t, env)
	if r.code != 1 {
		t.Fatalf("no Echoes label, want exit 1:\n%s", r)
	}
	assertLogSafe(t, r)

	// The 10,000-character initiative counts, but is shown cut short.
	r = run(t, with(env, "CI_MERGE_REQUEST_IID", "8"))
	if r.code != 0 || !strings.Contains(r.stdout, "initiative: echoes/initiative/xxx") || !strings.Contains(r.stdout, "x…\n") {
		t.Fatalf("want a pass showing the long initiative cut short:\n%.3000s", r)
	}
	if strings.Count(r.stdout, "\n✔ PASS") != 1 {
		t.Errorf("want exactly one PASS line:\n%s", r.stdout)
	}
}

func TestFiveThousandLabels(t *testing.T) {
	noise := make([]string, 0, 5000)
	for i := 0; len(noise) < 4999; i++ {
		noise = append(noise, fmt.Sprintf("team/backend/component-%d", i))
	}
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	srv.SetLabels(42, "group/project", 7, append(noise[:4999:4999], "echoes/initiative/last")...)
	srv.SetLabels(42, "group/project", 8, append(noise[:4999:4999], "echoes/intentional")...)
	env := with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "ECHOES_TIMEOUT", "10s")

	r := run(t, env)
	if r.code != 0 || !strings.Contains(r.stdout, "initiative: echoes/initiative/last\n") {
		t.Fatalf("5,000 labels, the initiative last: want a pass naming it\n%.2000s", r)
	}
	r = run(t, with(env, "CI_MERGE_REQUEST_IID", "8"))
	if r.code != 1 || !strings.Contains(r.stdout, "✖ FAIL") {
		t.Fatalf("5,000 labels, none of them Echoes': want a fail\n%.2000s", r)
	}
	// One read each, and the project's labels for the failure's report.
	if srv.Count() != 3 {
		t.Errorf("%d requests for two checks, want 3", srv.Count())
	}
	if n := strings.Count(r.stdout, "\n"); n > 20 {
		t.Errorf("the report of 5,000 unrelated labels is %d lines long", n)
	}
}

// The machine-readable reports carry hostile labels too: JSON must parse
// and give the labels back exactly (invalid UTF-8 aside, which JSON cannot
// hold), with no raw escapes; the JUnit file must be well-formed XML.
func TestHostileLabelsInJSONAndJUnit(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	labels := append([]string{"nul\x00byte", longInitiative}, hostileLabels...)
	srv.SetLabels(42, "group/project", 7, labels...)
	srv.SetLabels(42, "group/project", 8, hostileLabels...)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "NO_COLOR", "<unset>"), "--format", "json", "--junit", junit)
	if r.code != 0 {
		t.Fatalf("the long initiative passes: %s", r)
	}
	// JSON strings cannot hold a raw control character, so a report that
	// parses has line breaks only from its own indentation.
	if strings.ContainsRune(r.stdout, 0x1b) {
		t.Errorf("raw ESC in the JSON report, though in colour:\n%q", r.stdout)
	}
	var got struct {
		Verdict string `json:"verdict"`
		Labels  struct {
			All []string `json:"all"`
		} `json:"labels"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%q", err, r.stdout)
	}
	if got.Verdict != "pass" || len(got.Labels.All) != len(labels) {
		t.Fatalf("verdict %q with %d labels, want pass with %d", got.Verdict, len(got.Labels.All), len(labels))
	}
	for i, l := range labels {
		if utf8.ValidString(l) && got.Labels.All[i] != l {
			t.Errorf("label %d came back as %q, want %q", i, got.Labels.All[i], l)
		}
	}
	wellFormed(t, junit)

	// A failure puts the hostile near misses in the JUnit failure text.
	r = run(t, with(mrEnv(srv, "8"), "ECHOES_GITLAB_TOKEN", secret), "--junit", junit)
	if r.code != 1 {
		t.Fatalf("no Echoes label: %s", r)
	}
	wellFormed(t, junit)
}

func wellFormed(t *testing.T, path string) {
	t.Helper()
	data := readFile(t, path)
	if !bytes.Contains(data, []byte("<testsuite")) {
		t.Fatalf("not a JUnit report:\n%s", data)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("the JUnit file is not well-formed XML: %v\n%q", err, data)
		}
	}
}

// In a GitLab job with colour, the only escapes are the report's own: SGR
// colours and the markers of the collapsed details section, which lists
// every label.
func TestHostileLabelsInAGitLabJobWithColour(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	srv.SetLabels(42, "group/project", 7, append([]string{"nul\x00byte"}, hostileLabels...)...)
	r := run(t, with(mrEnv(srv, "7"), "ECHOES_GITLAB_TOKEN", secret, "NO_COLOR", "<unset>"))
	if r.code != 1 {
		t.Fatalf("no Echoes label, want exit 1:\n%s", r)
	}
	if !strings.Contains(r.stdout, "section_start:") || !strings.Contains(r.stdout, "\x1b[") {
		t.Fatalf("want colour and a details section in a GitLab job:\n%q", r.stdout)
	}
	own := regexp.MustCompile(`\x1b\[[0-9;]*m|\x1b\[0Ksection_(start|end):\d+:[a-z_]+(\[collapsed=true\])?\r\x1b\[0K`)
	r.stdout = own.ReplaceAllString(r.stdout, "")
	assertLogSafe(t, r)
	if !strings.Contains(r.stdout, "other      nul\\x00byte\n") {
		t.Errorf("the details should list every label, escaped:\n%s", r.stdout)
	}
}
