#!/usr/bin/env bash
# build-image.sh OUTDIR: build ./Dockerfile with buildah, daemonless and
# without any registry, and write the image twice, the way the release job
# pushes it, in containers/image's dir: layout (manifest.json + one file per
# blob; `skopeo copy --preserve-digests dir:OUTDIR/gzip docker://…` pushes
# exactly these bytes):
#   OUTDIR/gzip  Docker v2 schema 2 manifest, gzip layers (buildah's own
#                compressor at level 9): the default tags, pullable by every
#                Docker engine and containerd a runner may have (zstd layers
#                need Docker 23, and some engines before 20.10 refuse an OCI
#                manifest)
#   OUTDIR/zstd  OCI manifest, zstd layers (buildah's, level 19): the
#                -zstd tags, smaller, for Docker >= 23 / containerd >= 1.5
# Only standard tools: buildah compresses, scripts/image-check.sh (jq)
# checks. No program of ours is needed: buildah's gzip at level 9 keeps the
# default tags within their 6.5 MiB budget (issue 13; it was 7 MiB for the
# 16.7 MiB binary with prometheus/client_golang) for the 14.4 MiB binary
# (measured, one image: 4.48 MiB with the 8.1 MiB binary; 5.59 MiB with a
# 13.3 MiB one linking client-go v2; 6.78 MiB with serve and
# prometheus/client_golang, issue 10, which broke the earlier 6 MiB budget;
# bench/RESULTS.md has today's figure). Should that stop holding,
# zopfli-grade gzip (`pigz -11`, Debian's pigz; still plain gzip, pullable
# everywhere) measured 5.8% smaller (5.27 MiB for the 13.3 MiB binary), at
# the price of rewriting the manifest ourselves. For the -zstd tags,
# buildah's zstd (the same at levels 19 and 20: its best) gives 5.18 MiB
# there, against 4.60 MiB with the zstd CLI at -19: no budget rests on
# them, so no program of ours for that either.
#
# The Dockerfile's public bases (golang, busybox) cannot be pulled here, so
# this script first makes local stand-ins from what the machine has and
# passes them as build args; the Dockerfile itself is the one users build:
#   builder: scratch + static busybox (Debian's busybox-static) + the host's
#            Go at /usr/local/go + a file:// GOPROXY made of the host's
#            module cache + the host's CA bundle
#   base:    scratch + static busybox + /tmp
# The stand-in's busybox is Debian's static glibc build (1.9 MiB, 1.0 MiB of
# gzip layer); the release's busybox:musl base cannot be measured here.
#
# Needs: buildah, busybox-static, go (apt-get install -y buildah busybox-static).
# Environment: VERSION (default: git describe, else dev); BUILD_TIMEOUT
# seconds per buildah call (default 900); KEEP_STORAGE=1 keeps the buildah
# storage for a look.
set -euo pipefail

OUT=${1:?usage: scripts/build-image.sh OUTDIR}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${VERSION:-$(git -C "$ROOT" describe --tags --always --dirty 2>/dev/null || echo dev)}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
IMAGE=localhost/echoes-labels:$VERSION

for tool in buildah go timeout; do
	command -v "$tool" >/dev/null || { echo "build-image: $tool is not installed: apt-get install -y buildah busybox-static (go: /usr/local/go)" >&2; exit 2; }
done
BUSYBOX=/bin/busybox
[[ -x $BUSYBOX ]] || BUSYBOX=$(command -v busybox || true)
if [[ -z $BUSYBOX ]] || ldd "$BUSYBOX" >/dev/null 2>&1; then
	echo "build-image: need a static busybox for the stand-in bases: apt-get install -y busybox-static" >&2
	exit 2
fi
CA=/etc/ssl/certs/ca-certificates.crt
[[ -f $CA ]] || { echo "build-image: $CA is missing: apt-get install -y ca-certificates" >&2; exit 2; }
GOROOT=$(go env GOROOT)

STATE=$(mktemp -d "${TMPDIR:-/tmp}/echoes-image.XXXXXX")
cleanup() {
	if [[ ${KEEP_STORAGE:-} == 1 ]]; then echo "build-image: storage kept in $STATE"; return; fi
	buildah "${B[@]}" rm --all >/dev/null 2>&1 || true
	rm -rf "$STATE"
}
trap cleanup EXIT
# Own storage, vfs (no overlay or fuse needed), chroot isolation (no
# namespaces needed): this runs as root in a plain container or VM.
B=(--root "$STATE/storage" --runroot "$STATE/run" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot
bh() { timeout "$BUILD_TIMEOUT" buildah "${B[@]}" "$@"; }

# The modules the build needs, as a GOPROXY directory (the module cache's
# download folder has the proxy's layout), so `go mod download` in the
# builder needs no network.
(cd "$ROOT" && go mod download)
MODCACHE=$(go env GOMODCACHE)/cache/download

echo "build-image: stand-in base (busybox from $BUSYBOX)"
c=$(bh from scratch)
bh copy "$c" "$BUSYBOX" /bin/busybox >/dev/null
bh run "$c" -- /bin/busybox mkdir -p /usr/bin /sbin /usr/sbin /tmp /etc
bh run "$c" -- /bin/busybox --install -s
bh run "$c" -- /bin/sh -c 'chmod 1777 /tmp && echo "root:x:0:0:root:/root:/bin/sh" >/etc/passwd && echo "nobody:x:65532:65532:nobody:/nonexistent:/bin/false" >>/etc/passwd && echo "root:x:0:" >/etc/group && echo "nogroup:x:65532:" >>/etc/group'
bh config --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh "$c"
bh commit --quiet --rm "$c" localhost/echoes-standin/base:local >/dev/null

echo "build-image: stand-in builder (Go $(go env GOVERSION) from $GOROOT)"
c=$(bh from localhost/echoes-standin/base:local)
bh copy "$c" "$GOROOT" /usr/local/go >/dev/null
bh copy "$c" "$MODCACHE" /goproxy >/dev/null
bh copy "$c" "$CA" /etc/ssl/certs/ca-certificates.crt >/dev/null
bh config --env PATH=/usr/local/go/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--env GOPROXY=file:///goproxy --env GOSUMDB=off --env GOTOOLCHAIN=local \
	--env GOFLAGS=-mod=mod --env HOME=/root --env GOCACHE=/root/.cache/go-build "$c"
bh commit --quiet --rm "$c" localhost/echoes-standin/go:local >/dev/null

echo "build-image: building $IMAGE from Dockerfile"
mkdir -p "$STATE/gocache"
bh bud --isolation chroot --pull-never --layers=false \
	--build-arg GO_IMAGE=localhost/echoes-standin/go:local \
	--build-arg BASE_IMAGE=localhost/echoes-standin/base:local \
	--build-arg "VERSION=$VERSION" \
	--volume "$STATE/gocache:/root/.cache/go-build" \
	-f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT"

rm -rf "$OUT/gzip" "$OUT/zstd"
mkdir -p "$OUT"
bh push --quiet --format v2s2 --compression-format gzip --compression-level 9 "$IMAGE" "dir:$OUT/gzip"
bh push --quiet --format oci --compression-format zstd --compression-level 19 "$IMAGE" "dir:$OUT/zstd"
echo "build-image: wrote $OUT/gzip (Docker v2s2, gzip) and $OUT/zstd (OCI, zstd) from $IMAGE"
