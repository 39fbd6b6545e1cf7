#!/usr/bin/env bash
# Image test: build the image with scripts/build-image.sh, run both forms
# the way a GitLab job does (the job's script through /bin/sh), check the
# configuration, and check with scripts/image-check.sh what a runner pulls:
# the default form (Docker v2s2 manifest, gzip layers) within IMAGE_MAX_SIZE
# (default 6.5MiB), the -zstd form well-formed (its size is printed, it has no
# budget of its own). Prints "N passed, N failed". Bounded by TEST_TIMEOUT
# seconds per buildah call (default 120) and build-image.sh's own bound.
# Needs buildah, busybox-static, jq (scripts/ci-ship.sh install).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAX=${IMAGE_MAX_SIZE:-6.5MiB}
T=${TEST_TIMEOUT:-120}
VERSION=${VERSION:-image-test}
export VERSION

WORK=$(mktemp -d "${TMPDIR:-/tmp}/echoes-image-test.XXXXXX")
B=(--root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs)
cleanup() { buildah "${B[@]}" rm --all >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
bh() { timeout "$T" buildah "${B[@]}" "$@"; }

passed=0 failed=0
check() { # check WHAT GOT WANT
	if [[ $2 == "$3" ]]; then passed=$((passed + 1)); echo "ok   - $1: $2"
	else failed=$((failed + 1)); echo "FAIL - $1: got \"$2\", want \"$3\""; fi
}

start=$(date +%s)
bash "$ROOT/scripts/build-image.sh" "$WORK/image"
echo "image-test: build took $(($(date +%s) - start))s"

c=$(bh from --quiet "dir:$WORK/image/gzip")
run() { bh run --isolation chroot "$c" -- "$@" 2>&1 || echo "exit $?"; }

check "echoes-labels --version through sh -c" "$(run sh -c 'echoes-labels --version')" "$VERSION"
check "binary on PATH at" "$(run sh -c 'command -v echoes-labels')" "/usr/local/bin/echoes-labels"
check "runs as user" "$(run sh -c 'id -u')" "65532"
check "CA certificates" "$(run sh -c 'test -s /etc/ssl/certs/ca-certificates.crt && grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt >/dev/null && echo present')" "present"
check "binary is static" "$(run sh -c 'test ! -e /lib/ld-musl-x86_64.so.1 -a ! -e /lib64/ld-linux-x86-64.so.2 && echoes-labels --labels echoes/intent/feature --no-color >/dev/null && echo runs-without-libc')" "runs-without-libc"
check "a failing check exits 1 in the image" "$(run sh -c 'echoes-labels --labels backend --no-color >/dev/null; echo $?')" "1"
check "entrypoint" "$(bh inspect --format '{{.OCIv1.Config.Entrypoint}}' "$c")" "[]"
check "cmd" "$(bh inspect --format '{{.OCIv1.Config.Cmd}}' "$c")" "[echoes-labels]"
check "user" "$(bh inspect --format '{{.OCIv1.Config.User}}' "$c")" "65532:65532"

echo "image-test: binary $(run sh -c 'wc -c </usr/local/bin/echoes-labels') bytes uncompressed"
rc=0
bash "$ROOT/scripts/image-check.sh" "$WORK/image/gzip" gzip "$MAX" || rc=$?
check "default tags: Docker v2s2 manifest, gzip layers within $MAX" "$rc" "0"

z=$(bh from --quiet "dir:$WORK/image/zstd")
check "-zstd image: echoes-labels --version through sh -c" "$(bh run --isolation chroot "$z" -- sh -c 'echoes-labels --version' 2>&1 || echo "exit $?")" "$VERSION"
rc=0
bash "$ROOT/scripts/image-check.sh" "$WORK/image/zstd" zstd || rc=$?
check "-zstd tags: OCI manifest, zstd layers" "$rc" "0"

echo "image-test: $passed passed, $failed failed"
[[ $failed == 0 ]]
