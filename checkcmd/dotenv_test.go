package checkcmd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readDotenv reads the file as GitLab does: KEY=VALUE lines, split at the
// first =, stripped.
func readDotenv(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no dotenv report: %v", err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("line %q: GitLab refuses the file:\n%s", l, b)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// The dotenv report is written on every exit, with the verdict a later
// job can read.
func TestDotenvOnEveryExit(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature", "echoes/intent/bug\nECHOES_LABELS_VERDICT=pass", "echoes/effort/M")
	srv.SetLabels(42, "group/project", 8, "backend")
	srv.SetDraft(42, "group/project", 8, true)
	srv.SetAuthor(42, "group/project", 9, "dependabot")
	env := filepath.Join(t.TempDir(), "out", "labels.env")

	for _, c := range []struct {
		name    string
		env     map[string]string
		args    []string
		code    int
		verdict string
		intent  string
	}{
		{"pass, with a hostile label", nil, apiArgs(srv, "7", "--require-effort"), 0, "pass", "echoes/intent/feature,echoes/intent/bug_ECHOES_LABELS_VERDICT=pass"},
		{"fail", nil, apiArgs(srv, "8"), 1, "fail", ""},
		{"warn", map[string]string{"ECHOES_DRAFTS": "warn"}, apiArgs(srv, "8"), 4, "warn", ""},
		{"skipped author", nil, apiArgs(srv, "9", "--skip-authors", "dependabot*"), 0, "skipped", ""},
		{"nothing to check", map[string]string{"CI": "true"}, nil, 0, "skipped", ""},
		{"offline", nil, []string{"--labels", "echoes/intent/x,echoes/initiative/y"}, 0, "pass", "echoes/intent/x"},
		{"API error", nil, apiArgs(srv, "404"), 3, "error", ""},
		{"bad setting", nil, []string{"--labels", "x", "--format", "yaml"}, 2, "error", ""},
		{"unknown flag", nil, []string{"--labels", "x", "--bogus"}, 2, "error", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(env)
			r := runIn(t, with(c.env, "ECHOES_DOTENV", env), nil, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", r.code, c.code, r)
			}
			got := readDotenv(t, env)
			if len(got) != 4 || got["ECHOES_LABELS_VERDICT"] != c.verdict || got["ECHOES_LABELS_INTENT"] != c.intent {
				t.Errorf("dotenv %v, want verdict %s, intent %q", got, c.verdict, c.intent)
			}
		})
	}
	if r := runIn(t, nil, nil, "--labels", "x", "--dotenv", "dir/"); r.code != 2 || !strings.Contains(r.stderr, "--dotenv/ECHOES_DOTENV") {
		t.Errorf("--dotenv naming a directory: want exit 2, got:\n%s", r)
	}
}
