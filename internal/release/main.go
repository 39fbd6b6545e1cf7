// Command release cuts a release in the source, for scripts/release.sh:
// it moves CHANGELOG.md's [Unreleased] entries under a dated heading for
// the version (or into that heading, re-dated, when the newest release is
// that version and not tagged yet), fixes the compare links, sets
// version.Number and rewrites the pins of the README, docs/SERVE.md and
// deploy/. It refuses a minor or patch release whose entries have an
// "Upgrading" section: a change that breaks a configuration is a major
// release.
//
//	go run ./internal/release X.Y.Z [YYYY-MM-DD]
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/release X.Y.Z [YYYY-MM-DD]")
		os.Exit(2)
	}
	date := time.Now().UTC().Format(time.DateOnly)
	if len(os.Args) == 3 {
		date = os.Args[2]
	}
	if err := run(".", os.Args[1], date); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

var (
	semver        = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)
	releaseHead   = regexp.MustCompile(`^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$`)
	versionConst  = regexp.MustCompile(`(?m)^const Number = "(\d+\.\d+\.\d+)"$`)
	linkDef       = regexp.MustCompile(`^\[[^\]]+\]: `)
	unreleasedRef = regexp.MustCompile(`(?m)^\[Unreleased\]: (\S+)/-/compare/(\S+)\.\.\.(\S+)$`)
)

func run(root, version, date string) error {
	if !semver.MatchString(version) {
		return fmt.Errorf("%q is not X.Y.Z (no v: the CI/CD catalog's rule)", version)
	}
	if _, err := time.Parse(time.DateOnly, date); err != nil {
		return fmt.Errorf("%q is not a date YYYY-MM-DD", date)
	}
	path := func(name string) string { return filepath.Join(root, name) }
	src, err := os.ReadFile(path("version/version.go"))
	if err != nil {
		return err
	}
	m := versionConst.FindSubmatch(src)
	if m == nil {
		return errors.New("version/version.go has no `const Number = \"X.Y.Z\"`")
	}
	old := string(m[1])
	changelog, err := os.ReadFile(path("CHANGELOG.md"))
	if err != nil {
		return err
	}
	cut, err := Cut(string(changelog), version, date)
	if err != nil {
		return err
	}
	writes := map[string]string{
		"CHANGELOG.md":       cut,
		"version/version.go": versionConst.ReplaceAllString(string(src), `const Number = "`+version+`"`),
	}
	pinned, _ := filepath.Glob(path("deploy/*.yaml"))
	for i := range pinned {
		pinned[i], _ = filepath.Rel(root, pinned[i])
	}
	for _, name := range append([]string{"README.md", "docs/SERVE.md"}, pinned...) {
		b, err := os.ReadFile(path(name))
		if err != nil {
			return err
		}
		writes[name] = Repin(string(b), old, version)
	}
	for name, text := range writes {
		if err := os.WriteFile(path(name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Repin replaces each pin of version old (component@X, image :X, ref: X,
// /-/raw/X/) with version new.
func Repin(text, old, new string) string {
	pin := regexp.MustCompile(`(@|:|ref: |/raw/)` + regexp.QuoteMeta(old) + `\b`)
	return pin.ReplaceAllString(text, "${1}"+new)
}

// Cut moves the [Unreleased] entries of a Keep a Changelog text under
// "## [version] - date". When the newest release already is version (cut
// but not tagged), the entries join its sections and it takes the new date.
func Cut(text, version, date string) (string, error) {
	lines := strings.Split(text, "\n")
	u := slices.Index(lines, "## [Unreleased]")
	if u < 0 {
		return "", errors.New(`CHANGELOG.md has no "## [Unreleased]" heading`)
	}
	next := func(from int) int { // the next "## " heading or link definition
		for i := from; i < len(lines); i++ {
			if strings.HasPrefix(lines[i], "## ") || linkDef.MatchString(lines[i]) {
				return i
			}
		}
		return len(lines)
	}
	r := next(u + 1)
	entries := parse(lines[u+1 : r])
	var prev string
	if r < len(lines) {
		if m := releaseHead.FindStringSubmatch(lines[r]); m != nil {
			prev = m[1]
		}
	}
	recut := prev == version
	if !recut {
		if len(entries.sections) == 0 {
			return "", errors.New("[Unreleased] has no entries: there is nothing to release")
		}
		if prev != "" && !newer(version, prev) {
			return "", fmt.Errorf("%s is not after the newest release, %s", version, prev)
		}
		if prev != "" && entries.has("Upgrading") && major(version) == major(prev) {
			return "", fmt.Errorf("[Unreleased] has an Upgrading section, so this breaks configurations: release %d.0.0, not %s", major(prev)+1, version)
		}
	}
	var out []string
	out = append(out, lines[:u+1]...)
	out = append(out, "", "## ["+version+"] - "+date, "")
	rest := r
	if recut {
		end := next(r + 1)
		release := parse(lines[r+1 : end])
		release.merge(entries)
		out = append(out, release.lines()...)
		rest = end
	} else {
		out = append(out, entries.lines()...)
	}
	out = append(out, lines[rest:]...)
	cut := strings.Join(out, "\n")
	// Links: [Unreleased] compares from this release; a new release
	// compares from the one before (or is its tag, the first).
	ref := unreleasedRef.FindStringSubmatch(cut)
	if ref == nil {
		return "", errors.New("CHANGELOG.md has no \"[Unreleased]: https://…/-/compare/X...main\" link")
	}
	cut = strings.Replace(cut, ref[0], "[Unreleased]: "+ref[1]+"/-/compare/"+version+"..."+ref[3], 1)
	if !recut {
		link := "[" + version + "]: " + ref[1] + "/-/tags/" + version
		if prev != "" {
			link = "[" + version + "]: " + ref[1] + "/-/compare/" + prev + "..." + version
		}
		cut = strings.Replace(cut, "[Unreleased]: "+ref[1]+"/-/compare/"+version+"..."+ref[3],
			"[Unreleased]: "+ref[1]+"/-/compare/"+version+"..."+ref[3]+"\n"+link, 1)
	}
	return cut, nil
}

// section is a "### Heading" and its lines.
type section struct {
	heading string
	body    []string
}

// entries are a release's text: what comes before its first "###", then
// its sections.
type entries struct {
	preamble []string
	sections []section
}

func parse(lines []string) entries {
	var e entries
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "### "):
			e.sections = append(e.sections, section{heading: l})
		case len(e.sections) == 0:
			e.preamble = append(e.preamble, l)
		default:
			s := &e.sections[len(e.sections)-1]
			s.body = append(s.body, l)
		}
	}
	e.preamble = trim(e.preamble)
	for i := range e.sections {
		e.sections[i].body = trim(e.sections[i].body)
	}
	return e
}

// kind is a section's first word: "### Upgrading from 1.0.0" is Upgrading.
func kind(heading string) string {
	f := strings.Fields(strings.TrimPrefix(heading, "### "))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func (e entries) has(k string) bool {
	return slices.ContainsFunc(e.sections, func(s section) bool { return kind(s.heading) == k })
}

// merge adds o's entries at the end of e's section of the same kind, or as
// a section of their own after e's.
func (e *entries) merge(o entries) {
	e.preamble = append(e.preamble, o.preamble...)
	for _, s := range o.sections {
		i := slices.IndexFunc(e.sections, func(t section) bool { return kind(t.heading) == kind(s.heading) })
		if i < 0 {
			e.sections = append(e.sections, s)
			continue
		}
		e.sections[i].body = append(e.sections[i].body, s.body...)
	}
}

func (e entries) lines() []string {
	var out []string
	if len(e.preamble) > 0 {
		out = append(append(out, e.preamble...), "")
	}
	for _, s := range e.sections {
		out = append(append(append(out, s.heading), s.body...), "")
	}
	return out
}

func trim(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func parts(v string) [3]int {
	m := semver.FindStringSubmatch(v)
	var p [3]int
	for i := range p {
		p[i], _ = strconv.Atoi(m[i+1])
	}
	return p
}

func major(v string) int { return parts(v)[0] }

func newer(a, b string) bool {
	pa, pb := parts(a), parts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			return pa[i] > pb[i]
		}
	}
	return false
}
