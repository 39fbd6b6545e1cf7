#!/usr/bin/env bash
# Measures a check's start-up in interleaved pairs (bench/pairs): the
# offline check (--labels) against a Go hello world (bench/hello), and a
# plain check over the API against the floor (bench/floor: one GET, one
# JSON decode), all built as released, on the stand-in on 127.0.0.1.
#
#   bench/startup.sh                 # this tree, RUNS=200 rounds of each pair
#   BIN=/tmp/el bench/startup.sh     # another build of echoes-labels
#   BASE=/tmp/old bench/startup.sh   # also this build against BASE, offline and
#                                    # online: one change at a time
#
# It prints one line per pair: median of the per-round ratios, ratio of
# the medians, and both medians. Only the ratios mean anything on a shared
# machine; nothing here fails on a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs="${RUNS:-200}"
work=$(mktemp -d)
standin_pid=""
trap cleanup EXIT

bin="${BIN:-}"
if [ -z "$bin" ]; then
	bin="$work/echoes-labels"
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=bench' -o "$bin" ./cmd/echoes-labels
fi
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/hello" ./bench/hello
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/floor" ./bench/floor
go build -o "$work/standin" ./internal/gitlabtest/standin
go build -o "$work/pairs" ./bench/pairs

token="glpat-bench-0123456789abcdef"
"$work/standin" -token "$token" -project 42 -lifetime 30m \
	-mr "7=backend,echoes/intent/feature,echoes/effort/M" >"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
api=$(standin_api "$work/standin.out" "$work/standin.log")
export CI_API_V4_URL="$api" CI_MERGE_REQUEST_PROJECT_ID=42 CI_MERGE_REQUEST_IID=7
export ECHOES_GITLAB_TOKEN="$token" NO_COLOR=1

"$bin" >/dev/null
"$work/floor" >/dev/null
pair() { # pair NAME A B
	"$work/pairs" -runs "$runs" -warmup 5 -a-name "$1" -a-exec -a "$2" -b-exec -b "$3" >"$work/p.json"
	jq -r --arg n "$1" '"\($n): ratio \(.ratio) (of medians \(.ratio_of_medians), of CPU \(.cpu_ratio)); \(.a.median_ms) ms against \(.b.median_ms) ms"' "$work/p.json"
}
echo "== $runs interleaved rounds of each pair, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), binary $(stat -c %s "$bin") bytes"
pair "offline/hello" "$bin --labels backend,echoes/intent/feature" "$work/hello"
pair "online/floor" "$bin" "$work/floor"
pair "floor/hello" "$work/floor" "$work/hello"
if [ -n "${BASE:-}" ]; then
	pair "offline: this/BASE" "$bin --labels backend,echoes/intent/feature" "$BASE --labels backend,echoes/intent/feature"
	pair "online: this/BASE" "$bin" "$BASE"
fi
