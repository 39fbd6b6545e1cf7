package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/app"
	"gitlab.com/echoeshq/echoes-labels/cienv"
)

// The application routes to two sibling commands and turns every error
// into two lines and an exit code, in one place.
func TestMainRoutesAndExplains(t *testing.T) {
	const token = "glpat-app-test-0123456789"
	for _, tt := range []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		out, err string // substrings of stdout and stderr
	}{
		{"the check is the default command", []string{"--labels", "echoes/intent/feature"}, nil, 0, "PASS", ""},
		{"check by name", []string{"check", "--labels", "backend"}, nil, 1, "FAIL", ""},
		{"version", []string{"--version"}, nil, 0, "echoes-labels v9.9.9\n", ""},
		{"help is the check's", []string{"help"}, nil, 0, "--labels", ""},
		{"serve's help", []string{"serve", "--help"}, nil, 0, "--webhook-secret", ""},
		{"an unknown flag", []string{"--nope"}, nil, 2, "", "fix: see echoes-labels --help"},
		{"an unknown short flag is not offered -h", []string{"-l", "x"}, nil, 2, "", "unknown flag -l: the only short flag is -h (help); the others are long, such as --labels"},
		{"version as a command", []string{"version"}, nil, 2, "", "fix: to print the version: echoes-labels --version"},
		{"serve with nothing set names both missing settings", []string{"serve"}, nil, 2, "", "--webhook-secret"},
		{"a token pasted into a flag's value is masked", []string{"--timeout", token},
			map[string]string{"ECHOES_GITLAB_TOKEN": token}, 2, "", "[MASKED]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := app.Main(context.Background(), tt.args, app.Deps{Stdout: &stdout, Stderr: &stderr,
				Env: cienv.Map(tt.env), Version: "v9.9.9"})
			if code != tt.code || !strings.Contains(stdout.String(), tt.out) || !strings.Contains(stderr.String(), tt.err) {
				t.Fatalf("exit %d, want %d with %q and %q\n--- stdout\n%s--- stderr\n%s", code, tt.code, tt.out, tt.err, &stdout, &stderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), token) {
				t.Fatal("the token was printed")
			}
			if code == 2 && strings.Count(stderr.String(), "\n") != 2 {
				t.Errorf("want one cause line and one fix line:\n%s", &stderr)
			}
		})
	}
}

// A typo stays readable and gets the command meant; labels split by a
// space get the one value --labels takes; a secret-like argument is masked.
func TestUsageFixes(t *testing.T) {
	for _, tt := range []struct {
		args       []string
		cause, fix string
	}{
		{[]string{"serv"}, "unexpected argument serv", `did you mean "echoes-labels serve"?`},
		{[]string{"chek", "--labels", "x"}, "unexpected argument chek", `did you mean "echoes-labels check"?`},
		{[]string{"--labels", "echoes/intent/feature", "backend"}, "unexpected argument backend", "--labels takes one comma-separated value"},
		{[]string{"0123456789abcdef0123456789abcdef"}, "unexpected argument [MASKED]", "see echoes-labels --help"},
	} {
		var stdout, stderr bytes.Buffer
		code := app.Main(context.Background(), tt.args, app.Deps{Stdout: &stdout, Stderr: &stderr, Env: cienv.Map(nil)})
		if code != 2 || !strings.Contains(stderr.String(), tt.cause) || !strings.Contains(stderr.String(), "fix: "+tt.fix) {
			t.Errorf("%q: exit %d, want 2 with %q and %q:\n%s", tt.args, code, tt.cause, tt.fix, &stderr)
		}
	}
}

// The services' help says what each flag does in a line or two and leaves
// the details to docs/SERVE.md: it fits a screen.
func TestServiceHelpFitsAScreen(t *testing.T) {
	t.Setenv("COLUMNS", "80")
	for _, command := range []string{"serve", "reconcile"} {
		var stdout bytes.Buffer
		code := app.Main(context.Background(), []string{command, "--help"}, app.Deps{Stdout: &stdout, Stderr: &bytes.Buffer{},
			Env: cienv.Map(nil), Version: "v9.9.9"})
		if n := strings.Count(stdout.String(), "\n"); code != 0 || n > 60 || !strings.Contains(stdout.String(), "docs/SERVE.md") {
			t.Errorf("%s --help: exit %d, %d lines (want at most 60, pointing to docs/SERVE.md):\n%s", command, code, n, stdout.String())
		}
	}
}
