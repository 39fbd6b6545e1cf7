package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/version"
)

const changelog = `# Changelog

## [Unreleased]

### Fixed
- a fix

### Added
- a feature

## [2.0.0] - 2026-12-07

The first.

### Upgrading from 1.0.0
- write group:42

### Added
- serve

## 1.0.0 - 2026-12-02 (never tagged)

[Unreleased]: https://gitlab.com/g/p/-/compare/2.0.0...main
[2.0.0]: https://gitlab.com/g/p/-/tags/2.0.0
`

func TestCutANewRelease(t *testing.T) {
	got, err := Cut(changelog, "2.1.0", "2026-12-09")
	if err != nil {
		t.Fatal(err)
	}
	want := `# Changelog

## [Unreleased]

## [2.1.0] - 2026-12-09

### Fixed
- a fix

### Added
- a feature

## [2.0.0] - 2026-12-07
`
	if !strings.HasPrefix(got, want) {
		t.Errorf("got\n%s\nwant it to start with\n%s", got, want)
	}
	if !strings.HasSuffix(got, "[Unreleased]: https://gitlab.com/g/p/-/compare/2.1.0...main\n[2.1.0]: https://gitlab.com/g/p/-/compare/2.0.0...2.1.0\n[2.0.0]: https://gitlab.com/g/p/-/tags/2.0.0\n") {
		t.Errorf("links:\n%s", got[strings.Index(got, "[Unreleased]:"):])
	}
}

func TestRecutAnUntaggedRelease(t *testing.T) {
	got, err := Cut(changelog, "2.0.0", "2026-12-09")
	if err != nil {
		t.Fatal(err)
	}
	want := `# Changelog

## [Unreleased]

## [2.0.0] - 2026-12-09

The first.

### Upgrading from 1.0.0
- write group:42

### Added
- serve
- a feature

### Fixed
- a fix

## 1.0.0 - 2026-12-02 (never tagged)

[Unreleased]: https://gitlab.com/g/p/-/compare/2.0.0...main
[2.0.0]: https://gitlab.com/g/p/-/tags/2.0.0
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCutRefuses(t *testing.T) {
	breaking := strings.Replace(changelog, "### Fixed\n- a fix", "### Upgrading\n- rename a flag", 1)
	empty := strings.Replace(strings.Replace(changelog, "### Fixed\n- a fix\n", "", 1), "### Added\n- a feature\n", "", 1)
	for _, tt := range []struct {
		name, text, version, want string
	}{
		{"a breaking change in a minor release", breaking, "2.1.0", "release 3.0.0, not 2.1.0"},
		{"an older version", changelog, "1.9.0", "not after the newest release, 2.0.0"},
		{"nothing to release", empty, "2.0.1", "nothing to release"},
		{"no Unreleased heading", "# Changelog\n", "2.0.1", "no \"## [Unreleased]\""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Cut(tt.text, tt.version, "2026-12-09")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
	if _, err := Cut(breaking, "3.0.0", "2026-12-09"); err != nil {
		t.Errorf("a major release with an Upgrading section: %v", err)
	}
}

func TestRepin(t *testing.T) {
	in := "x@2.0.0 image: r/e:2.0.0-zstd ref: 2.0.0 /-/raw/2.0.0/t.yml busybox 2.0.0 e:2.0.01"
	want := "x@2.1.0 image: r/e:2.1.0-zstd ref: 2.1.0 /-/raw/2.1.0/t.yml busybox 2.0.0 e:2.0.01"
	if got := Repin(in, "2.0.0", "2.1.0"); got != want {
		t.Errorf("Repin = %q, want %q", got, want)
	}
}

// TestRunOnTheRepository cuts a release in a copy of the files it changes
// and checks that the pins the examples test reads all moved.
func TestRunOnTheRepository(t *testing.T) {
	dir := t.TempDir()
	files := []string{"CHANGELOG.md", "version/version.go", "README.md", "docs/SERVE.md"}
	deploy, _ := filepath.Glob("../../deploy/*.yaml")
	for _, d := range deploy {
		files = append(files, "deploy/"+filepath.Base(d))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "CHANGELOG.md" { // something to release
			b = []byte(strings.Replace(string(b), "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n- a fix\n", 1))
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := run(dir, "99.0.0", "2099-01-02"); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		before, _ := os.ReadFile(filepath.Join("../..", f))
		if !strings.Contains(string(before), version.Number) && f != "CHANGELOG.md" {
			continue // pins nothing
		}
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if !strings.Contains(string(b), "99.0.0") {
			t.Errorf("%s does not say 99.0.0 after the cut", f)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "CHANGELOG.md"))
	if !strings.Contains(string(b), "\n## [99.0.0] - 2099-01-02\n\n### Fixed\n- a fix\n") {
		t.Errorf("CHANGELOG.md after the cut:\n%s", b)
	}
}
