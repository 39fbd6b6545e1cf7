#!/usr/bin/env bash
# Image test: build the image for linux/amd64 and linux/arm64 with
# scripts/build-image.sh, run the amd64 image in both forms the way a GitLab
# job does (the job's script through /bin/sh), run the arm64 image's binary
# under user-mode emulation (qemu-aarch64, Debian's qemu-user: --version and
# an offline check), check the configuration, and check with
# scripts/image-check.sh what a runner pulls: the default form (a Docker
# manifest list of v2s2 manifests, gzip layers) within IMAGE_MAX_SIZE
# (default 6.5MiB) for each platform, the -zstd form (an OCI index)
# well-formed (its size is printed, it has no budget of its own). Prints
# "N passed, N failed". Bounded by TEST_TIMEOUT seconds per buildah call
# (default 120) and build-image.sh's own bound. IMAGE_DIR: test the gzip/
# and zstd/ layouts build-image.sh wrote there, built with REVISION, instead
# of building.
# Needs buildah, busybox-static (and busybox-static:arm64), jq, qemu-user
# (scripts/ci-ship.sh install).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAX=${IMAGE_MAX_SIZE:-6.5MiB}
T=${TEST_TIMEOUT:-120}
REVISION=${REVISION:-test123}
export REVISION
VERSION="echoes-labels $(sed -n 's/^const Number = "\(.*\)"$/\1/p' "$ROOT/version/version.go") ($REVISION)"
command -v qemu-aarch64 >/dev/null || { echo "image-test: qemu-aarch64 is not installed: apt-get install -y qemu-user (or scripts/ci-ship.sh install)" >&2; exit 2; }

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

if [[ -n ${IMAGE_DIR:-} ]]; then
	# Layouts build-image.sh wrote already (with this REVISION): test those.
	mkdir -p "$WORK/image" && cp -r "$IMAGE_DIR/gzip" "$IMAGE_DIR/zstd" "$WORK/image/"
else
	start=$(date +%s)
	bash "$ROOT/scripts/build-image.sh" "$WORK/image"
	echo "image-test: build took $(($(date +%s) - start))s"
fi

c=$(bh from --quiet --arch amd64 "dir:$WORK/image/gzip")
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
check "default tags: Docker manifest list (linux/amd64, linux/arm64) of v2s2 manifests, gzip layers within $MAX each" "$rc" "0"

z=$(bh from --quiet --arch amd64 "dir:$WORK/image/zstd")
check "-zstd image: echoes-labels --version through sh -c" "$(bh run --isolation chroot "$z" -- sh -c 'echoes-labels --version' 2>&1 || echo "exit $?")" "$VERSION"
rc=0
bash "$ROOT/scripts/image-check.sh" "$WORK/image/zstd" zstd || rc=$?
check "-zstd tags: OCI index (linux/amd64, linux/arm64) of OCI manifests, zstd layers" "$rc" "0"

# The arm64 image: its binary, out of its layers, run under qemu-aarch64.
arm=$WORK/arm64
mkdir -p "$arm"
index=$WORK/image/gzip/manifest.json
m=$WORK/image/gzip/$(jq -r '.manifests[] | select(.platform.architecture == "arm64") | .digest | sub("^sha256:"; "")' "$index").manifest.json
for layer in $(jq -r '.layers[].digest | sub("^sha256:"; "")' "$m"); do
	tar -xzf "$WORK/image/gzip/$layer" -C "$arm" usr/local/bin/echoes-labels 2>/dev/null || true
done
bin=$arm/usr/local/bin/echoes-labels
check "arm64 binary" "$(file -b "$bin" 2>/dev/null | grep -o 'ARM aarch64, .*statically linked' | sed 's/, version 1 (SYSV)//')" "ARM aarch64, statically linked"
check "arm64: echoes-labels --version under qemu-aarch64" "$(qemu-aarch64 "$bin" --version 2>&1 || echo "exit $?")" "$VERSION"
check "arm64: an offline check passes under qemu-aarch64" "$(qemu-aarch64 "$bin" --labels echoes/intent/feature --no-color 2>&1 | grep -c PASS; echo "exit ${PIPESTATUS[0]}")" "1
exit 0"
check "arm64: an offline check fails under qemu-aarch64" "$(qemu-aarch64 "$bin" --labels backend --no-color >/dev/null 2>&1; echo "exit $?")" "exit 1"

echo "image-test: $passed passed, $failed failed"
[[ $failed == 0 ]]
