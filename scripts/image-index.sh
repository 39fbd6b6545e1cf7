#!/usr/bin/env bash
# image-index.sh OUT gzip|zstd DIR=OS/ARCH...: join single-platform images,
# each written by `buildah push … dir:DIR`, into one multi-platform image in
# containers/image's dir: layout at OUT: manifest.json is the index (gzip: a
# Docker manifest list, which every Docker engine pulls; zstd: an OCI image
# index), each platform's manifest is OUT/<hex of its digest>.manifest.json,
# as the dir: transport keeps an index's instances, and the blobs of all
# platforms lie beside them. `skopeo copy --all --preserve-digests dir:OUT
# docker://…` pushes exactly these bytes; scripts/image-check.sh checks them.
# The manifests are copied byte for byte, so their digests are buildah's.
# Needs jq, sha256sum.
set -euo pipefail

out=${1:-} kind=${2:-}
usage() { echo "usage: scripts/image-index.sh OUT gzip|zstd DIR=linux/amd64 DIR=linux/arm64 ..." >&2; exit 2; }
[[ -n $out && $# -ge 3 ]] || usage
shift 2
case $kind in
gzip) index_type=application/vnd.docker.distribution.manifest.list.v2+json ;;
zstd) index_type=application/vnd.oci.image.index.v1+json ;;
*) usage ;;
esac

rm -rf "$out"
mkdir -p "$out"
entries=()
for arg in "$@"; do
	src=${arg%%=*} platform=${arg#*=}
	[[ $src != "$arg" && $platform == */* ]] || usage
	os=${platform%%/*} arch=${platform#*/}
	[[ -f $src/manifest.json ]] || { echo "image-index: $src/manifest.json is missing: write the image with buildah push … dir:$src" >&2; exit 2; }
	config=$src/$(jq -r '.config.digest | sub("^sha256:"; "")' "$src/manifest.json")
	got=$(jq -r '"\(.os)/\(.architecture)"' "$config")
	[[ $got == "$platform" ]] || { echo "image-index: $src is an image for $got, not $platform" >&2; exit 1; }
	for f in "$src"/*; do
		case ${f##*/} in manifest.json | version) ;; *) cp -n "$f" "$out/" ;; esac
	done
	digest=$(sha256sum <"$src/manifest.json" | cut -d' ' -f1)
	cp "$src/manifest.json" "$out/$digest.manifest.json"
	[[ -f $out/version ]] || cp "$src/version" "$out/version"
	variant=null
	[[ $arch == arm64 ]] && variant='"v8"'
	entries+=("$(jq -c --arg d "sha256:$digest" --argjson size "$(stat -c %s "$src/manifest.json")" \
		--arg os "$os" --arg arch "$arch" --argjson variant "$variant" \
		'{mediaType: .mediaType, size: $size, digest: $d,
		  platform: ({architecture: $arch, os: $os} + (if $variant then {variant: $variant} else {} end))}' \
		"$src/manifest.json")")
done
printf '%s\n' "${entries[@]}" | jq -s --arg t "$index_type" '{schemaVersion: 2, mediaType: $t, manifests: .}' >"$out/manifest.json"
echo "image-index: wrote $out ($kind: $(jq -r '[.manifests[].platform | "\(.os)/\(.architecture)"] | join(", ")' "$out/manifest.json"))"
