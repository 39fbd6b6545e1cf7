#!/usr/bin/env bash
# Measures echoes-labels against the hand-written job it replaces, in one
# run, on the same stand-in GitLab on 127.0.0.1 (internal/gitlabtest/standin):
#
#   curl -sf -H "PRIVATE-TOKEN: …" "$CI_API_V4_URL/projects/$ID/merge_requests/$IID" \
#     | jq -e '[.labels[] | select(test("^echoes/(intent|initiative)"; "i"))] | length > 0'
#
# and prints: median wall time of each and their ratio (target: echoes-labels
# at most half of curl|jq), API requests per check (target: 1), peak RSS
# (target: ≤ 20 MiB) and the stripped static binary's size (target: ≤ 17 MiB:
# client-go v2 about 5 MiB, issue 8; serve with prometheus/client_golang
# about 3.3 MiB, issue 10). It fails on a missed budget: requests, size, RSS,
# and the wall-time ratio. Then bench/memory.sh checks peak RSS on the
# largest answers within the body cap (≤ 100 MiB in every format); MEMORY=0
# skips it.
#
#   bench/run.sh              # RUNS=200 timed runs of each
#   RUNS=50 bench/run.sh      # quicker
#   NOISE=5000 bench/run.sh   # a merge request with 5,000 labels
#
# Installs curl, jq and hyperfine from Debian's packages if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${RUNS:-200}"
noise="${NOISE:-0}"

need=()
for tool in curl jq hyperfine /usr/bin/time; do
	command -v "$tool" >/dev/null || need+=("$(basename "$tool")")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing ${need[*]}"
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
standin_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$standin_pid" ]; then kill "$standin_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=bench' -o "$work/echoes-labels" ./cmd/echoes-labels
go build -o "$work/standin" ./internal/gitlabtest/standin
size=$(stat -c %s "$work/echoes-labels")

token="glpat-bench-0123456789abcdef"
# It prints its API root on stdout's first line and logs each request to
# stderr; it stops by itself after -lifetime should this script be killed.
"$work/standin" -token "$token" -project 42 -noise "$noise" -lifetime 30m \
	-mr "7=backend,echoes/intent/feature,echoes/effort/M" >"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
for _ in $(seq 100); do
	[ -s "$work/standin.out" ] && break
	sleep 0.05
done
api=$(head -n1 "$work/standin.out")
root=${api%/api/v4}
[ -n "$api" ] || { echo "the stand-in did not start:" >&2; cat "$work/standin.log" >&2; exit 1; }

export CI_API_V4_URL="$api" CI_MERGE_REQUEST_PROJECT_ID=42 CI_MERGE_REQUEST_IID=7
export ECHOES_GITLAB_TOKEN="$token" NO_COLOR=1
export BENCH_TOKEN="$token"
ours="$work/echoes-labels"
# shellcheck disable=SC2016 # expanded by the shell hyperfine starts
theirs='curl -sf -H "PRIVATE-TOKEN: $BENCH_TOKEN" "$CI_API_V4_URL/projects/$CI_MERGE_REQUEST_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID" | jq -e '\''[.labels[] | select(test("^echoes/(intent|initiative)"; "i"))] | length > 0'\'' >/dev/null'

echo "== both pass on the stand-in"
"$ours" >/dev/null
bash -c "$theirs"

echo "== API requests for one plain check"
curl -sf "$root/_reset" >/dev/null
"$ours" >/dev/null
requests=$(curl -sf "$root/_count")
echo "echoes-labels made $requests request(s)"

echo "== wall time, $runs runs each (hyperfine)"
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/api.json" --command-name echoes-labels "$ours" >/dev/null
hyperfine --warmup 10 --runs "$runs" --export-json "$work/curl.json" --command-name 'curl|jq' "$theirs" >/dev/null
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/offline.json" --command-name 'echoes-labels --labels' \
	"$ours --labels backend,echoes/intent/feature" >/dev/null
ms() { jq -r '.results[0].median * 1000 | . * 100 | round / 100' "$1"; }
ours_ms=$(ms "$work/api.json")
theirs_ms=$(ms "$work/curl.json")
offline_ms=$(ms "$work/offline.json")
# hyperfine runs curl|jq through a shell (as a CI job does) and subtracts
# the shell's start-up; echoes-labels runs directly (-N).

echo "== peak RSS (median of 21 runs, /usr/bin/time)"
rss() {
	for _ in $(seq 21); do
		/usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
		cat "$work/rss"
	done | sort -n | sed -n 11p
}
ours_rss=$(rss "$ours")
curl_rss=$(rss curl -sf -o /dev/null -H "PRIVATE-TOKEN: $token" "$api/projects/42/merge_requests/7")
curl -sf -H "PRIVATE-TOKEN: $token" "$api/projects/42/merge_requests/7" >"$work/mr.json"
jq_rss=$(rss jq -e '[.labels[] | select(test("^echoes/(intent|initiative)"; "i"))] | length > 0' "$work/mr.json")

ratio=$(jq -n "$ours_ms / $theirs_ms * 100 | round / 100")
cat <<REPORT

== results ($(nproc) cores, $(go env GOVERSION), $(uname -m); labels on the MR: $((noise + 3)))
wall time, median of $runs:
  echoes-labels (API)        $ours_ms ms
  curl | jq (API)            $theirs_ms ms
  ratio                      $ratio   (target ≤ 0.5)
  echoes-labels --labels     $offline_ms ms (no GitLab)
API requests per check       $requests   (target 1)
peak RSS                     echoes-labels $(awk "BEGIN { printf \"%.1f\", $ours_rss / 1024 }") MiB (target ≤ 20); curl $((curl_rss / 1024)) MiB, jq $((jq_rss / 1024)) MiB
binary, static and stripped  $(awk "BEGIN { printf \"%.2f\", $size / 1048576 }") MiB = $size bytes (target ≤ 17 MiB)
REPORT

fail=0
[ "$requests" = 1 ] || { echo "FAIL: $requests requests for one check, want 1"; fail=1; }
[ "$size" -le $((17 * 1048576)) ] || { echo "FAIL: binary over 17 MiB"; fail=1; }
[ "$ours_rss" -le $((20 * 1024)) ] || { echo "FAIL: peak RSS over 20 MiB"; fail=1; }
[ "$(jq -n "$ratio <= 0.5")" = true ] || { echo "FAIL: wall-time ratio $ratio, target ≤ 0.5"; fail=1; }

if [ "${MEMORY:-1}" != 0 ]; then
	echo
	echo "== memory on huge answers (bench/memory.sh)"
	bench/memory.sh || fail=1
fi
exit $fail
