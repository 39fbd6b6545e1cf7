#!/usr/bin/env bash
# image-check.sh DIR gzip|zstd [MAX]: check an image in containers/image's
# dir: layout (scripts/build-image.sh, the release job) before it is pushed,
# and print what a runner pulls:
#   - a multi-platform index (gzip: a Docker manifest list; zstd: an OCI
#     image index) naming exactly the platforms of PLATFORMS (default
#     "linux/amd64 linux/arm64"), each instance's manifest file hashing to
#     its digest, its config saying that platform; or one image's manifest
#   - each image: gzip, a Docker v2 schema 2 manifest with gzip layers
#     (every Docker engine and containerd pulls it); zstd, an OCI manifest
#     with zstd layers
#   - each layer's bytes start with that compressor's magic number, and each
#     blob's sha256 is the digest the manifest names
#   - each platform's compressed layers add up to at most MAX (1234, 6.5MiB,
#     6656KiB): the budget is what one runner pulls
# Exit 0 when all hold, 1 when one does not (a line says which), 2 on misuse.
# Needs jq, sha256sum, od.
set -euo pipefail

dir=${1:-} kind=${2:-} max=${3:-}
usage() { echo "usage: scripts/image-check.sh DIR gzip|zstd [MAX, e.g. 6.5MiB]" >&2; exit 2; }
[[ -n $dir && -n $kind ]] || usage
for tool in jq sha256sum od; do
	command -v "$tool" >/dev/null || { echo "image-check: $tool is not installed: apt-get install -y jq coreutils" >&2; exit 2; }
done
[[ -f $dir/manifest.json ]] || { echo "image-check: $dir/manifest.json is missing: write the image with buildah push … dir:$dir" >&2; exit 2; }

case $kind in
gzip)
	want_manifest=application/vnd.docker.distribution.manifest.v2+json
	want_index=application/vnd.docker.distribution.manifest.list.v2+json
	want_layer=application/vnd.docker.image.rootfs.diff.tar.gzip
	magic=1f8b08
	;;
zstd)
	want_manifest=application/vnd.oci.image.manifest.v1+json
	want_index=application/vnd.oci.image.index.v1+json
	want_layer=application/vnd.oci.image.layer.v1.tar+zstd
	magic=28b52ffd
	;;
*) usage ;;
esac

max_bytes=""
if [[ -n $max ]]; then
	# A whole number of bytes, or a number of MiB or KiB with an optional
	# fraction (6.5MiB = 6815744 bytes, rounded down to a byte).
	if [[ $max =~ ^([0-9]+)B?$ ]]; then
		max_bytes=${BASH_REMATCH[1]}
	elif [[ $max =~ ^([0-9]+(\.[0-9]+)?)(MiB|KiB)$ ]]; then
		unit=1024
		[[ ${BASH_REMATCH[3]} == MiB ]] && unit=1048576
		max_bytes=$(awk -v n="${BASH_REMATCH[1]}" -v u="$unit" 'BEGIN { printf "%d", n * u }')
	else
		echo "image-check: MAX \"$max\" is not a size: give bytes or a number with MiB or KiB, such as 6.5MiB or 6656KiB" >&2
		exit 2
	fi
fi

bad=0
fail() { echo "image-check: FAIL $*"; bad=1; }

# check_image MANIFEST NAME: one platform's image.
check_image() {
	local m=$1 name=$2 got total=0 n=0 digest mediatype size blob
	got=$(jq -r '.mediaType // "none"' "$m")
	[[ $got == "$want_manifest" ]] || fail "$name: manifest type is $got, want $want_manifest"
	while read -r digest mediatype size; do
		n=$((n + 1))
		blob=$dir/${digest#sha256:}
		[[ $mediatype == "$want_layer" ]] || fail "$name layer $n: type $mediatype, want $want_layer"
		if [[ ! -f $blob ]]; then fail "$name layer $n: blob $digest is not in $dir"; continue; fi
		[[ $(stat -c %s "$blob") == "$size" ]] || fail "$name layer $n: blob is $(stat -c %s "$blob") bytes, the manifest says $size"
		[[ $(sha256sum <"$blob" | cut -d' ' -f1) == "${digest#sha256:}" ]] || fail "$name layer $n: blob does not hash to $digest"
		[[ $(od -An -tx1 -N${#magic} "$blob" | tr -d ' \n' | cut -c1-${#magic}) == "$magic" ]] || fail "$name layer $n: not $kind data (no $magic magic number)"
		printf 'image-check: %s layer %d: %9d bytes %s\n' "$name" "$n" "$size" "$mediatype"
		total=$((total + size))
	done < <(jq -r '.layers[] | "\(.digest) \(.mediaType) \(.size)"' "$m")
	[[ $n -gt 0 ]] || fail "$m lists no layers"
	echo "image-check: $name: $kind: $n layers, $total bytes ($(awk -v b="$total" 'BEGIN { printf "%.2f", b / 1048576 }') MiB) compressed"
	if [[ -n $max_bytes ]] && ((total > max_bytes)); then
		fail "$name: $kind layers are $total bytes, over the $max ($max_bytes-byte) budget by $((total - max_bytes)) bytes"
	fi
}

m=$dir/manifest.json
top=$(jq -r '.mediaType // "none"' "$m")
if [[ $top == "$want_index" ]]; then
	want_platforms=$(tr ' ' '\n' <<<"${PLATFORMS:-linux/amd64 linux/arm64}" | sort | paste -sd' ')
	got_platforms=$(jq -r '.manifests[].platform | "\(.os)/\(.architecture)"' "$m" | sort | paste -sd' ')
	[[ $got_platforms == "$want_platforms" ]] || fail "the index names the platforms \"$got_platforms\", want \"$want_platforms\""
	while read -r digest mediatype size platform; do
		f=$dir/${digest#sha256:}.manifest.json
		if [[ ! -f $f ]]; then fail "$platform: manifest $digest is not in $dir"; continue; fi
		[[ $(sha256sum <"$f" | cut -d' ' -f1) == "${digest#sha256:}" ]] || fail "$platform: manifest does not hash to $digest"
		[[ $(stat -c %s "$f") == "$size" ]] || fail "$platform: manifest is $(stat -c %s "$f") bytes, the index says $size"
		[[ $mediatype == "$want_manifest" ]] || fail "$platform: the index says type $mediatype, want $want_manifest"
		config=$dir/$(jq -r '.config.digest | sub("^sha256:"; "")' "$f")
		[[ -f $config ]] && cfg_platform=$(jq -r '"\(.os)/\(.architecture)"' "$config") || cfg_platform=missing
		[[ $cfg_platform == "$platform" ]] || fail "$platform: the image's config says $cfg_platform"
		check_image "$f" "$platform"
	done < <(jq -r '.manifests[] | "\(.digest) \(.mediaType) \(.size) \(.platform.os)/\(.platform.architecture)"' "$m")
elif [[ $top == "$want_manifest" ]]; then
	check_image "$m" "image"
else
	fail "$kind image: manifest type is $top, want $want_index (or one image's $want_manifest)"
fi
exit $bad
