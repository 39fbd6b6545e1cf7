package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/version"
)

// TestVersionWithoutVCS builds the binary the way this project's CI and a
// tarball do, with no VCS stamp, and with a stamped revision, as the image
// does: the release is said either way, never "dev".
func TestVersionWithoutVCS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"plain", []string{"-buildvcs=false"}, "echoes-labels " + version.Number},
		{"stamped", []string{"-buildvcs=false", "-ldflags", "-X main.revision=0123456789abcdef"}, "echoes-labels " + version.Number + " (0123456)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(dir, tt.name)
			build := goBuild(append(tt.flags, "-o", bin, ".")...)
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out, err := exec.Command(bin, "--version").Output()
			if err != nil {
				t.Fatalf("--version: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("--version = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVersionFromAClone: go build in a clone stamps the commit.
func TestVersionFromAClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	rev, err := exec.Command("git", "rev-parse", "--short=7", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git clone (%v): the VCS stamp cannot be tested here", err)
	}
	top, _ := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		t.Skip("a git worktree (.git is a file): Go stamps no VCS data there")
	}
	bin := filepath.Join(t.TempDir(), "echoes-labels")
	if out, err := goBuild("-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	want := regexp.MustCompile(`^echoes-labels ` + regexp.QuoteMeta(version.Number) + ` \(` + strings.TrimSpace(string(rev)) + `(, modified)?\)$`)
	if got := strings.TrimSpace(string(out)); !want.MatchString(got) {
		t.Errorf("--version = %q, want %s", got, want)
	}
}

// goBuild is go build with the flags given winning over GOFLAGS.
func goBuild(args ...string) *exec.Cmd {
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	return cmd
}
