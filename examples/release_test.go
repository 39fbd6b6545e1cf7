// Package examples holds what the README's "Try it locally" runs: a merge
// request webhook delivery in GitLab's shape and try-serve.sh. Its tests
// check the release the source says against CHANGELOG.md and every pin.
package examples

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/version"
)

var (
	// A release heading of Keep a Changelog: "## [1.2.3] - 2026-12-02".
	releaseHeading = regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`)
	// A version the README pins: component@1.2.3, image:1.2.3 (or
	// :1.2.3-zstd), ref: 1.2.3, and a raw URL's /-/raw/1.2.3/.
	pinned = regexp.MustCompile(`(?:@|:|ref: |/raw/)v?(\d+\.\d+\.\d+)\b`)
)

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPinsAreTheRelease fails when the source's version is not the newest
// release of CHANGELOG.md, or when the README, docs/SERVE.md or deploy/
// pin another: a user copying an include or a manifest would otherwise ask
// for a release that does not exist, or an old one. scripts/release.sh
// changes all of them at once.
func TestPinsAreTheRelease(t *testing.T) {
	changelog := read(t, "CHANGELOG.md")
	if !strings.Contains(changelog, "\n## [Unreleased]\n") {
		t.Error("CHANGELOG.md has no \"## [Unreleased]\" section (Keep a Changelog)")
	}
	releases := releaseHeading.FindAllStringSubmatch(changelog, -1)
	if len(releases) == 0 {
		t.Fatal("CHANGELOG.md has no release heading such as \"## [1.0.0] - 2026-12-02\"")
	}
	newest := releases[0][1]
	if version.Number != newest {
		t.Errorf("version.Number is %s, but the newest release in CHANGELOG.md is %s: cut releases with scripts/release.sh, which changes both", version.Number, newest)
	}
	if !strings.Contains(changelog, "\n["+newest+"]: https://") {
		t.Errorf("CHANGELOG.md has no link for [%s] at the bottom", newest)
	}
	files := []string{"README.md", "docs/SERVE.md"}
	deploy, err := filepath.Glob(filepath.Join("..", "deploy", "*.yaml"))
	if err != nil || len(deploy) == 0 {
		t.Fatalf("no deploy/*.yaml (%v)", err)
	}
	for _, d := range deploy {
		files = append(files, filepath.Join("deploy", filepath.Base(d)))
	}
	for _, name := range files {
		pins := pinned.FindAllStringSubmatch(read(t, name), -1)
		if name == "README.md" && len(pins) == 0 {
			t.Fatal("README.md pins no version (component@X.Y.Z, image:X.Y.Z): update this test if that is intended")
		}
		for _, p := range pins {
			if p[1] != version.Number {
				t.Errorf("%s pins %q in %q, but the release is %s: pin %s (scripts/release.sh does)", name, p[1], p[0], version.Number, version.Number)
			}
		}
	}
}

// TestChangelogReleasesNewestFirst keeps the newest release at the top,
// where TestPinsAreTheRelease reads it.
func TestChangelogReleasesNewestFirst(t *testing.T) {
	releases := releaseHeading.FindAllStringSubmatch(read(t, "CHANGELOG.md"), -1)
	for i := 1; i < len(releases); i++ {
		if !newer(releases[i-1][1], releases[i][1]) {
			t.Errorf("CHANGELOG.md lists %s above %s: newest first", releases[i-1][1], releases[i][1])
		}
	}
}

// newer says whether version a is after b (both X.Y.Z).
func newer(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		if len(pa[i]) != len(pb[i]) {
			return len(pa[i]) > len(pb[i])
		}
		if pa[i] != pb[i] {
			return pa[i] > pb[i]
		}
	}
	return false
}

// TestREADMEIsShortAndStartsWithTheCommands keeps the README a first read:
// at most 320 lines, the include a platform team adds and the two commands
// that work on a fresh machine (run the tool offline, run the tests) on
// its first screen.
func TestREADMEIsShortAndStartsWithTheCommands(t *testing.T) {
	readme := read(t, "README.md")
	if n := strings.Count(readme, "\n"); n > 320 {
		t.Errorf("README.md has %d lines, want at most 320", n)
	}
	lines := strings.Split(readme, "\n")
	first := strings.Join(lines[:min(len(lines), 30)], "\n")
	for _, want := range []string{"include:", "./echoes-labels --labels", "go test ./..."} {
		if !strings.Contains(first, want) {
			t.Errorf("the README's first 30 lines lack %q", want)
		}
	}
}
