#!/usr/bin/env bash
# build-image.sh OUTDIR: build ./Dockerfile with buildah for linux/amd64 and
# linux/arm64, daemonless and without any registry, and write the
# multi-platform image twice, the way the release job pushes it, in
# containers/image's dir: layout (scripts/image-index.sh: the index's
# manifest.json, each platform's manifest, the blobs;
# `skopeo copy --all --preserve-digests dir:OUTDIR/gzip docker://…` pushes
# exactly these bytes):
#   OUTDIR/gzip  a Docker manifest list of Docker v2 schema 2 manifests, gzip
#                layers (buildah's own compressor at level 9): the default
#                tags, pullable by every Docker engine and containerd a
#                runner may have (zstd layers need Docker 23, and some
#                engines before 20.10 refuse an OCI manifest)
#   OUTDIR/zstd  an OCI image index of OCI manifests, zstd layers (buildah's,
#                level 19): the -zstd tags, smaller, for Docker >= 23 /
#                containerd >= 1.5
# The Go stage runs on this machine's platform and cross-compiles with
# GOARCH (no emulation); the target's stage only copies files in, so
# nothing of arm64 runs here. scripts/image-check.sh checks each platform's
# gzip layers against the 6.5 MiB budget; buildah's gzip at level 9 keeps
# them within it (bench/RESULTS.md and docs/DESIGN.md have the figures).
# Should that stop holding, zopfli-grade gzip (`pigz -11`, Debian's pigz;
# still plain gzip) measured 5.8% smaller, at the price of rewriting the
# manifests ourselves.
#
# STANDIN=1 (the default): the Dockerfile's public bases (golang, busybox)
# cannot be pulled here, so this script first makes local stand-ins from
# what the machine has and passes them as build args; the Dockerfile itself
# is the one users build:
#   builder: scratch + static busybox (Debian's busybox-static) + the host's
#            Go at /usr/local/go + a file:// GOPROXY made of the host's
#            module cache + the host's CA bundle (the host's platform)
#   base:    scratch + static busybox for the platform + /tmp: amd64's from
#            /bin/busybox, arm64's from BUSYBOX_ARM64 (default
#            .cache/tools/arm64/bin/busybox: Debian's busybox-static:arm64,
#            which scripts/ci-ship.sh install unpacks there), its applet
#            links made here, so nothing runs in it
# The stand-in's busybox is Debian's static glibc build (1.9 MiB, 1.0 MiB of
# gzip layer); the release's busybox:musl base cannot be measured here.
# STANDIN=0 (the release job): the Dockerfile's own bases, pulled.
#
# Needs: buildah, jq, and with stand-ins busybox-static and go.
# Environment: GOCACHE_DIR, a Go build cache the stand-in builder uses
# (default: a fresh one); REVISION (default: git rev-parse --short HEAD, else none), the
# commit --version names; PLATFORMS (default "linux/amd64 linux/arm64");
# BUILD_TIMEOUT seconds per buildah call (default 900); KEEP_STORAGE=1
# keeps the buildah storage for a look.
set -euo pipefail

OUT=${1:?usage: scripts/build-image.sh OUTDIR}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^const Number = "\(.*\)"$/\1/p' "$ROOT/version/version.go")
[[ -n $VERSION ]] || { echo "build-image: no const Number in version/version.go" >&2; exit 2; }
REVISION=${REVISION-$(git -C "$ROOT" rev-parse --short=7 HEAD 2>/dev/null || true)}
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}
STANDIN=${STANDIN:-1}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-900}
IMAGE=localhost/echoes-labels:$VERSION

tools=(buildah jq timeout)
[[ $STANDIN == 1 ]] && tools+=(go)
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || { echo "build-image: $tool is not installed: scripts/ci-ship.sh install (go: /usr/local/go)" >&2; exit 2; }
done

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

args=()
if [[ $STANDIN == 1 ]]; then
	hostarch=$(go env GOARCH)
	CA=/etc/ssl/certs/ca-certificates.crt
	[[ -f $CA ]] || { echo "build-image: $CA is missing: apt-get install -y ca-certificates" >&2; exit 2; }
	# base PLATFORM BUSYBOX: scratch, the static busybox, its applet links,
	# /tmp and the users, for that platform, made on this machine.
	base() {
		local platform=$1 busybox=$2 rootfs=$STATE/rootfs-${1//\//-} c
		if [[ ! -x $busybox ]] || ! file_is_static "$busybox"; then
			echo "build-image: need a static busybox for $platform at $busybox: scripts/ci-ship.sh install (Debian's busybox-static${platform#linux/amd64})" >&2
			exit 2
		fi
		mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,tmp,etc}
		cp "$busybox" "$rootfs/bin/busybox"
		# The applets are the same for one busybox version on every platform:
		# the host's static busybox lists them.
		/bin/busybox --list-full | while read -r applet; do
			[[ -e $rootfs/$applet || $applet == bin/busybox ]] || ln -s /bin/busybox "$rootfs/$applet"
		done
		chmod 1777 "$rootfs/tmp"
		printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65532:65532:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
		printf 'root:x:0:\nnogroup:x:65532:\n' >"$rootfs/etc/group"
		c=$(bh from scratch)
		bh copy "$c" "$rootfs" / >/dev/null
		local variant=()
		[[ $platform == linux/arm64 ]] && variant=(--variant v8) # as --platform linux/arm64 asks
		bh config --os linux --arch "${platform#linux/}" "${variant[@]}" --env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/sh "$c"
		bh commit --quiet --rm "$c" "localhost/echoes-standin/base-${platform#linux/}:local" >/dev/null
	}
	file_is_static() { ! ldd "$1" >/dev/null 2>&1; }
	[[ -x /bin/busybox ]] && file_is_static /bin/busybox || { echo "build-image: need Debian's static busybox at /bin/busybox: apt-get install -y busybox-static" >&2; exit 2; }

	# The modules the build needs, as a GOPROXY directory (the module
	# cache's download folder has the proxy's layout), so `go mod download`
	# in the builder needs no network.
	(cd "$ROOT" && go mod download)
	MODCACHE=$(go env GOMODCACHE)/cache/download
	for platform in $PLATFORMS; do
		case $platform in
		linux/"$hostarch") bb=/bin/busybox ;;
		linux/arm64) bb=${BUSYBOX_ARM64:-$ROOT/.cache/tools/arm64/bin/busybox} ;;
		*) echo "build-image: no stand-in busybox for $platform" >&2; exit 2 ;;
		esac
		echo "build-image: stand-in base for $platform (busybox from $bb)"
		base "$platform" "$bb"
	done

	echo "build-image: stand-in builder (Go $(go env GOVERSION) from $(go env GOROOT), linux/$hostarch)"
	c=$(bh from "localhost/echoes-standin/base-$hostarch:local")
	bh copy "$c" "$(go env GOROOT)" /usr/local/go >/dev/null
	bh copy "$c" "$MODCACHE" /goproxy >/dev/null
	bh copy "$c" "$CA" /etc/ssl/certs/ca-certificates.crt >/dev/null
	bh config --env PATH=/usr/local/go/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		--env GOPROXY=file:///goproxy --env GOSUMDB=off --env GOTOOLCHAIN=local \
		--env GOFLAGS=-mod=mod --env HOME=/root --env GOCACHE=/root/.cache/go-build "$c"
	bh commit --quiet --rm "$c" localhost/echoes-standin/go:local >/dev/null
	# BUILDPLATFORM given, as buildah 1.28 (Debian 12) leaves it empty in
	# FROM --platform and so looks for a stand-in of the target's platform.
	args+=(--pull-never --build-arg GO_IMAGE=localhost/echoes-standin/go:local --build-arg "BUILDPLATFORM=linux/$hostarch")
	GOCACHE_DIR=${GOCACHE_DIR:-$STATE/gocache}
	mkdir -p "$GOCACHE_DIR"
	args+=(--volume "$GOCACHE_DIR:/root/.cache/go-build")
fi

rm -rf "$OUT/gzip" "$OUT/zstd"
mkdir -p "$OUT"
gzips=() zstds=()
for platform in $PLATFORMS; do
	arch=${platform#linux/}
	base_arg=()
	[[ $STANDIN == 1 ]] && base_arg=(--build-arg "BASE_IMAGE=localhost/echoes-standin/base-$arch:local")
	echo "build-image: building $IMAGE for $platform from Dockerfile (echoes-labels $VERSION${REVISION:+ ($REVISION)})"
	bh bud --isolation chroot --layers=false --platform "$platform" "${args[@]}" "${base_arg[@]}" \
		--build-arg "VERSION=$VERSION" --build-arg "REVISION=$REVISION" \
		-f "$ROOT/Dockerfile" -t "$IMAGE-$arch" "$ROOT"
	bh push --quiet --format v2s2 --compression-format gzip --compression-level 9 "$IMAGE-$arch" "dir:$STATE/$arch-gzip"
	bh push --quiet --format oci --compression-format zstd --compression-level 19 "$IMAGE-$arch" "dir:$STATE/$arch-zstd"
	gzips+=("$STATE/$arch-gzip=$platform") zstds+=("$STATE/$arch-zstd=$platform")
done
bash "$ROOT/scripts/image-index.sh" "$OUT/gzip" gzip "${gzips[@]}"
bash "$ROOT/scripts/image-index.sh" "$OUT/zstd" zstd "${zstds[@]}"
echo "build-image: wrote $OUT/gzip (Docker manifest list, gzip) and $OUT/zstd (OCI index, zstd) for $PLATFORMS"
