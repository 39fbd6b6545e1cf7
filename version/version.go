// Package version is the release this source is. scripts/release.sh bumps
// Number when it cuts a release; examples/release_test.go fails while
// Number is not the newest release of CHANGELOG.md, or while the README,
// docs/SERVE.md or deploy/ pin another.
package version

import "runtime/debug"

// Number is the release, X.Y.Z (no "v": the CI/CD catalog's rule for the
// tag that publishes it).
const Number = "2.0.0"

// String is what --version prints after the program's name: the release,
// and the commit it was built from when that is known, "2.0.0 (0dfcaec)",
// or "2.0.0 (0dfcaec, modified)" from a work tree with uncommitted changes.
// revision is a commit stamped at build time (-ldflags -X, for builds
// without the repository such as the image's); else Go's VCS stamp is read
// from info (go build in a clone). With neither, the release alone.
func String(revision string, info *debug.BuildInfo) string {
	modified := false
	if revision == "" && info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if revision == "" {
		return Number
	}
	if len(revision) > 7 {
		revision = revision[:7]
	}
	if modified {
		return Number + " (" + revision + ", modified)"
	}
	return Number + " (" + revision + ")"
}
