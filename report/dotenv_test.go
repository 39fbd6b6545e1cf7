package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// gitlabDotenv reads a dotenv file as Ci::ParseDotenvArtifactService does:
// every line KEY=VALUE split at the first =, both stripped; a line that
// does not match fails the file; a key must be [a-zA-Z0-9_]+.
func gitlabDotenv(t *testing.T, file string) map[string]string {
	t.Helper()
	if len(file) >= 5120 {
		t.Fatalf("the file is %d bytes: GitLab's default dotenv_size is 5120", len(file))
	}
	line := regexp.MustCompile(`^(.*?)=(.*)$`)
	key := regexp.MustCompile(`^[a-zA-Z0-9_]+$`)
	out := map[string]string{}
	for _, l := range strings.SplitAfter(file, "\n") {
		if l == "" {
			continue // after the last line break
		}
		m := line.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
		if m == nil {
			t.Fatalf("GitLab refuses the whole file at line %q:\n%s", l, file)
		}
		k, v := strings.TrimSpace(m[1]), strings.TrimSpace(m[2])
		if !key.MatchString(k) {
			t.Fatalf("key %q is not a variable name", k)
		}
		if _, dup := out[k]; dup {
			t.Fatalf("key %q twice", k)
		}
		out[k] = v
	}
	if len(out) > 20 {
		t.Fatalf("%d variables: GitLab's default dotenv_variables is 20", len(out))
	}
	return out
}

func TestDotenvHostileNames(t *testing.T) {
	long := strings.Repeat("echoes/intent/é", 100) // 1,600 bytes alone
	many := make([]string, 0, 500)
	for range 500 {
		many = append(many, "echoes/effort/XS")
	}
	d := DotenvValues{Verdict: "fail",
		Intent:     []string{"echoes/intent/a\nECHOES_LABELS_VERDICT=pass", "echoes/intent/b\r\nX=1", "x\u2028Y=2", " padded ", "a,b", "$CI_JOB_TOKEN", "bad\xffutf8", "\x00", long},
		Initiative: []string{"echoes/initiative/ok"},
		Effort:     many,
	}
	var b bytes.Buffer
	if err := Dotenv(&b, d); err != nil {
		t.Fatal(err)
	}
	got := gitlabDotenv(t, b.String())
	if len(got) != 4 || got[DotenvVerdict] != "fail" {
		t.Fatalf("variables %v, want the four with verdict fail", got)
	}
	want := "echoes/intent/a_ECHOES_LABELS_VERDICT=pass,echoes/intent/b__X=1,x_Y=2,padded,a_b,_CI_JOB_TOKEN,bad\uFFFDutf8,_"
	if got[DotenvIntent] != want {
		t.Errorf("intent =\n%q\nwant\n%q", got[DotenvIntent], want)
	}
	if got[DotenvInitiative] != "echoes/initiative/ok" {
		t.Errorf("initiative = %q", got[DotenvInitiative])
	}
	if e := got[DotenvEffort]; len(e) > dotenvListBytes || !strings.HasPrefix(e, "echoes/effort/XS,") || strings.HasSuffix(e, ",") || strings.Count(e, ",")+1 != len(e)/len("echoes/effort/XS,")+1 {
		t.Errorf("effort list of %d bytes is not whole names within %d: %q…", len(e), dotenvListBytes, e[:40])
	}
	// Empty lists are empty values, still one line each.
	b.Reset()
	if err := Dotenv(&b, DotenvValues{Verdict: "error"}); err != nil {
		t.Fatal(err)
	}
	if got := gitlabDotenv(t, b.String()); len(got) != 4 || got[DotenvVerdict] != "error" || got[DotenvIntent] != "" {
		t.Errorf("an error's dotenv: %v", got)
	}
}
