#!/usr/bin/env bash
# Measures echoes-labels against the hand-written job it replaces, in one
# run, on the same stand-in GitLab on 127.0.0.1 (internal/gitlabtest/standin):
#
#   curl -sf -H "PRIVATE-TOKEN: …" "$CI_API_V4_URL/projects/$ID/merge_requests/$IID" \
#     | jq -e '[.labels[] | select(test("^echoes/(intent|initiative)"; "i"))] | length > 0'
#
# Gates (issue 13): only what does not depend on the machine fails the run:
#   - API requests for one plain check, counted by the stand-in: 1
#   - the stripped static binary (CGO_ENABLED=0 -trimpath -s -w): ≤ 15 MiB
#   - peak RSS of a plain check (median of 21 runs, /usr/bin/time): ≤ 16 MiB
# Timings are reported on every run and fail it only past a loose regression
# bound. bench/pairs runs each pair of commands alternately (A, B, B, A, …,
# so a machine slowing down mid-run hits both alike) and judges the median
# of the per-round ratios:
#   - plain check over the API / curl|jq (same stand-in, same run): target
#     ≤ 0.5, fails past 1.0; curl|jq runs through /bin/sh -c with the
#     shell's start-up (`sh -c :`, interleaved too) subtracted, echoes-labels
#     directly
#   - offline check (--labels) / a Go hello world built the same way
#     (bench/hello): target ≤ 2.5, fails past 5; both run directly
# Then bench/memory.sh checks peak RSS on the largest answers within the body
# cap (≤ 100 MiB in every format); MEMORY=0 skips it.
#
#   bench/run.sh              # RUNS=200 timed rounds of each pair
#   RUNS=30 bench/run.sh      # quicker (.ci/run)
#   NOISE=5000 bench/run.sh   # a merge request with 5,000 labels
#
# Installs curl, jq and GNU time from Debian's packages if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs="${RUNS:-200}"
noise="${NOISE:-0}"

need=()
for tool in curl jq /usr/bin/time; do
	command -v "$tool" >/dev/null || need+=("$(basename "$tool")")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing ${need[*]}"
	apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

work=$(mktemp -d)
standin_pid=""
trap cleanup EXIT

echo "== building"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/echoes-labels" ./cmd/echoes-labels
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/hello" ./bench/hello
go build -o "$work/standin" ./internal/gitlabtest/standin
go build -o "$work/pairs" ./bench/pairs
size=$(stat -c %s "$work/echoes-labels")

token="glpat-bench-0123456789abcdef"
# It prints its API root on stdout's first line and logs each request to
# stderr; it stops by itself after -lifetime should this script be killed.
"$work/standin" -token "$token" -project 42 -noise "$noise" -lifetime 30m \
	-mr "7=backend,echoes/intent/feature,echoes/effort/M" >"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
api=$(standin_api "$work/standin.out" "$work/standin.log")
root=${api%/api/v4}

export CI_API_V4_URL="$api" CI_MERGE_REQUEST_PROJECT_ID=42 CI_MERGE_REQUEST_IID=7
export ECHOES_GITLAB_TOKEN="$token" NO_COLOR=1
export BENCH_TOKEN="$token"
ours="$work/echoes-labels"
# shellcheck disable=SC2016 # expanded by the shell bench/pairs starts
theirs='curl -sf -H "PRIVATE-TOKEN: $BENCH_TOKEN" "$CI_API_V4_URL/projects/$CI_MERGE_REQUEST_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID" | jq -e '\''[.labels[] | select(test("^echoes/(intent|initiative)"; "i"))] | length > 0'\'' >/dev/null'

echo "== both pass on the stand-in"
"$ours" >/dev/null
bash -c "$theirs"

echo "== API requests for one plain check"
curl -sf "$root/_reset" >/dev/null
"$ours" >/dev/null
requests=$(curl -sf "$root/_count")
echo "echoes-labels made $requests request(s)"

echo "== wall time, $runs interleaved rounds of each pair (bench/pairs)"
"$work/pairs" -runs "$runs" -warmup 5 \
	-a-name echoes-labels -a-exec -a "$ours" \
	-b-name 'curl|jq' -b "$theirs" >"$work/api.json"
"$work/pairs" -runs "$runs" -warmup 5 \
	-a-name 'echoes-labels --labels' -a-exec -a "$ours --labels backend,echoes/intent/feature" \
	-b-name hello -b-exec -b "$work/hello" >"$work/offline.json"
get() { jq -r "$2" "$1"; }
ours_ms=$(get "$work/api.json" .a.median_ms)
theirs_ms=$(get "$work/api.json" .b.median_ms)
shell_ms=$(get "$work/api.json" .shell_median_ms)
api_ratio=$(get "$work/api.json" .ratio)
api_rom=$(get "$work/api.json" .ratio_of_medians)
api_cpu=$(get "$work/api.json" .cpu_ratio)
offline_ms=$(get "$work/offline.json" .a.median_ms)
hello_ms=$(get "$work/offline.json" .b.median_ms)
offline_ratio=$(get "$work/offline.json" .ratio)
offline_rom=$(get "$work/offline.json" .ratio_of_medians)
offline_cpu=$(get "$work/offline.json" .cpu_ratio)

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

# Budgets: the gates, then the timing targets (reported) and bounds (gates).
max_size=$((15 * 1048576))
max_rss_kib=$((16 * 1024))
api_target=0.5 api_bound=1.0
offline_target=2.5 offline_bound=5
mark() { # mark RATIO TARGET: whether RATIO is within TARGET (never a failure)
	if [ "$(jq -n "$1 <= $2")" = true ]; then echo "within target"; else echo "OVER TARGET (reported, not a failure)"; fi
}
cat <<REPORT

== results ($(nproc) cores, $(go env GOVERSION), $(uname -m), load $(cut -d' ' -f1-3 /proc/loadavg); labels on the MR: $((noise + 3)))
gates:
  API requests per check     $requests   (gate: 1)
  binary, static, stripped   $(awk "BEGIN { printf \"%.2f\", $size / 1048576 }") MiB = $size bytes (gate: ≤ 15 MiB)
  peak RSS, median of 21     echoes-labels $(awk "BEGIN { printf \"%.1f\", $ours_rss / 1024 }") MiB (gate: ≤ 16 MiB); curl $((curl_rss / 1024)) MiB, jq $((jq_rss / 1024)) MiB
timings, $runs interleaved rounds (medians; ratio = median of the rounds' ratios):
  echoes-labels (API)        $ours_ms ms
  curl | jq (API)            $theirs_ms ms (sh -c : start-up of $shell_ms ms subtracted)
  ratio                      $api_ratio (ratio of medians $api_rom, of CPU time $api_cpu): target ≤ $api_target, gate ≤ $api_bound; $(mark "$api_ratio" "$api_target")
  echoes-labels --labels     $offline_ms ms (no GitLab)
  Go hello world, same build $hello_ms ms
  ratio                      $offline_ratio (ratio of medians $offline_rom, of CPU time $offline_cpu): target ≤ $offline_target, gate ≤ $offline_bound; $(mark "$offline_ratio" "$offline_target")
REPORT

fail=0
[ "$requests" = 1 ] || { echo "FAIL: $requests requests for one check, want 1"; fail=1; }
[ "$size" -le "$max_size" ] || { echo "FAIL: binary of $size bytes, over 15 MiB ($max_size bytes)"; fail=1; }
[ "$ours_rss" -le "$max_rss_kib" ] || { echo "FAIL: peak RSS of $ours_rss KiB, over 16 MiB"; fail=1; }
[ "$(jq -n "$api_ratio <= $api_bound")" = true ] || { echo "FAIL: echoes-labels / curl|jq = $api_ratio, past the regression bound $api_bound (target ≤ $api_target)"; fail=1; }
[ "$(jq -n "$offline_ratio <= $offline_bound")" = true ] || { echo "FAIL: --labels / hello world = $offline_ratio, past the regression bound $offline_bound (target ≤ $offline_target)"; fail=1; }

if [ "${MEMORY:-1}" != 0 ]; then
	echo
	echo "== memory on huge answers (bench/memory.sh)"
	bench/memory.sh || fail=1
fi
exit $fail
