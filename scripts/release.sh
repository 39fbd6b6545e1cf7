#!/usr/bin/env bash
# release.sh X.Y.Z: cut release X.Y.Z in the source, then say how to ship it.
#   - refuses when the work tree has changes or the tag X.Y.Z exists
#   - go run ./internal/release: CHANGELOG.md's [Unreleased] entries go under
#     "## [X.Y.Z] - today" (into it, re-dated, when X.Y.Z is the newest
#     release and not tagged yet), the compare links follow, version.Number
#     becomes X.Y.Z, and the README, docs/SERVE.md and deploy/ pin X.Y.Z;
#     a minor or patch release whose entries say "Upgrading" is refused
#     (a change that breaks a configuration is a major release)
#   - runs the tests that hold those together, and commits "Release X.Y.Z"
# It creates no tag: pushing the tag, once the commit is on the default
# branch, starts the tag pipeline (.gitlab-ci.yml), which builds and pushes
# the image :X.Y.Z and :X.Y.Z-zstd and whose release job publishes the
# GitLab release and the component in the CI/CD catalog.
set -euo pipefail
cd "$(dirname "$0")/.."

v=${1:-}
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "usage: scripts/release.sh X.Y.Z (no v: the CI/CD catalog's rule)" >&2; exit 2; }
if [[ -n $(git status --porcelain) ]]; then
	echo "release: the work tree has changes: commit or stash them first" >&2
	exit 1
fi
git fetch --tags --quiet 2>/dev/null || echo "release: could not fetch tags; checking the local ones only" >&2
if git rev-parse -q --verify "refs/tags/$v" >/dev/null; then
	echo "release: the tag $v exists: a release is never cut twice; cut the next version" >&2
	exit 1
fi

go run ./internal/release "$v"
go test -count=1 ./version ./examples ./cmd/echoes-labels ./templates
git commit -q -am "Release $v"
echo "release: committed \"Release $v\" ($(git rev-parse --short HEAD)):"
git show --stat --format= HEAD
cat <<NEXT
Next: merge it to the default branch, then tag that commit and push the tag:
  git tag -a $v -m "echoes-labels $v" <commit on the default branch> && git push origin $v
The tag pipeline checks the tag against version.Number, builds and pushes the image :$v and
:$v-zstd (linux/amd64 and linux/arm64), and its release job publishes the component.
NEXT
