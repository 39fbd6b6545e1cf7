#!/usr/bin/env bash
# Measures `echoes-labels serve` under a burst, against the stand-in GitLab
# on 127.0.0.1 (internal/gitlabtest/standin), as issues 10, 14 and 15 set
# the targets. One service, two loads in a row, each of 2,000 deliveries in
# 10 s across 200 merge requests of its own (Merge Request Hook and Job Hook
# deliveries, each with an Idempotency-Key):
#
#   A. the load alone: every one answered 202 in under 1 s (p50/p99/max);
#   B. the same load while an unauthenticated flood runs beside it: 64
#      clients sending 8 MiB bodies with a wrong X-Gitlab-Signature (half
#      with a Content-Length, half chunked), bounded in time and count: the
#      good deliveries answered 202 with p99 under 1 s; the flood's answers
#      counted by status.
#
# In both, every failed label job whose labels now pass is retried exactly
# once (and no other), and the service's peak RSS stays under 64 MiB (after
# A, and over the whole run). Any missed target fails the script.
#
#   bench/serve.sh                          # the issues' load
#   DELIVERIES=500 MRS=50 bench/serve.sh    # smaller
#   FLOOD_CLIENTS=0 bench/serve.sh          # no flood (load B runs alone too)
#   SERVE_BIN=/path/to/echoes-labels bench/serve.sh   # another build
#
# Loopback only; every process stops by itself (the stand-in after
# -lifetime, the load after -settle, the flood after FLOOD_FOR or
# FLOOD_MAX requests). Installs GNU time if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
deliveries="${DELIVERIES:-2000}"
mrs="${MRS:-200}"
duration="${DURATION:-10s}"
flood_clients="${FLOOD_CLIENTS:-64}"
flood_bytes="${FLOOD_BYTES:-8388608}"
flood_for="${FLOOD_FOR:-11s}"
flood_max="${FLOOD_MAX:-20000}"

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

work=$(mktemp -d)
standin_pid=""
time_pid=""
flood_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$time_pid" ]; then
		child=$(pgrep -P "$time_pid" || true)
		if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; fi
	fi
	if [ -n "$flood_pid" ]; then kill "$flood_pid" 2>/dev/null || true; fi
	if [ -n "$standin_pid" ]; then kill "$standin_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
bin=$(bench_binary "$work" serve)
bench_tools "$work"

token="glpat-bench-serve-0123456789"
secret="bench-webhook-secret-0123456789"
mapfile -t mr_args < <("$work/serveload" -standin-args -mrs "$mrs"; "$work/serveload" -standin-args -mrs "$mrs" -iid-offset "$mrs")
"$work/standin" -token "$token" -project 42 -path group/project -lifetime 10m "${mr_args[@]}" \
	>"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
api=$(standin_api "$work/standin.out" "$work/standin.log")

echo "== starting echoes-labels serve (reconcile off: the webhook path is what is measured)"
ECHOES_LISTEN=127.0.0.1:0 ECHOES_GITLAB_URL="$api" ECHOES_GITLAB_TOKEN="$token" ECHOES_WEBHOOK_SECRET="$secret" \
	ECHOES_WATCH=group/project ECHOES_RECONCILE_INTERVAL=0 /usr/bin/time -v -o "$work/time.txt" "$bin" serve 2>"$work/serve.log" &
time_pid=$!
addr=""
for _ in $(seq 200); do
	addr=$(grep -o '"msg":"listening","addr":"[^"]*"' "$work/serve.log" 2>/dev/null | sed 's/.*"addr":"//; s/"$//' || true)
	[ -n "$addr" ] && break
	sleep 0.05
done
[ -n "$addr" ] || { echo "the service did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

load() { # name, iid offset, gate
	"$work/serveload" -webhook "http://$addr/webhook" -metrics "http://$addr/metrics" -standin "${api%/api/v4}" \
		-secret "$secret" -mrs "$mrs" -deliveries "$deliveries" -duration "$duration" \
		-id "bench-$1" -iid-offset "$2" -gate "$3"
}
status=0
echo "== A: $deliveries deliveries in $duration across $mrs merge requests"
load a 0 every | tee "$work/load_a.txt" || status=1
child=$(pgrep -P "$time_pid")
rss_a_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$child/status")

gate=every
if [ "$flood_clients" -gt 0 ]; then
	gate=p99
	echo "== B: the same load, on $mrs other merge requests, beside a flood of $flood_clients clients sending $((flood_bytes / 1048576)) MiB bodies with a wrong signature (for $flood_for or $flood_max requests)"
	"$work/serveload" -flood -webhook "http://$addr/webhook" -clients "$flood_clients" -flood-bytes "$flood_bytes" \
		-flood-for "$flood_for" -flood-max "$flood_max" >"$work/flood.txt" 2>&1 &
	flood_pid=$!
else
	echo "== B: the same load, on $mrs other merge requests (no flood: FLOOD_CLIENTS=0)"
	: >"$work/flood.txt"
fi
load b "$mrs" "$gate" | tee "$work/load_b.txt" || status=1
if [ -n "$flood_pid" ]; then
	wait "$flood_pid" || { echo "FAIL: the flood ended in error"; status=1; }
	flood_pid=""
	cat "$work/flood.txt"
fi

echo "== stopping (SIGTERM)"
child=$(pgrep -P "$time_pid")
started=$(date +%s.%N)
kill -TERM "$child"
wait "$time_pid" || { echo "FAIL: echoes-labels serve exited non-zero on SIGTERM"; status=1; }
time_pid=""
stopped=$(date +%s.%N)
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
lines=$(grep -c '"msg":"delivery","delivery":"bench-' "$work/serve.log" || true)
flood_lines=$(grep '"msg":"delivery"' "$work/serve.log" | grep -vc '"delivery":"bench-' || true)
secret_leaks=$(grep -c -e "$token" -e "$secret" "$work/serve.log" || true)
api_calls=$(curl -sf "${api%/api/v4}/_count" 2>/dev/null || grep -c ' (PRIVATE-TOKEN): ' "$work/standin.log")

cat <<REPORT

== results ($(nproc) cores, $(go env GOVERSION), $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg))
-- A: the load alone
$(cat "$work/load_a.txt")
peak RSS after A     $(awk "BEGIN { printf \"%.1f\", $rss_a_kb / 1024 }") MiB (target < 64 MiB)
-- B: the load $([ "$flood_clients" -gt 0 ] && echo "beside the flood" || echo "again, no flood")
$(cat "$work/load_b.txt")
$(cat "$work/flood.txt")
-- the whole run
GitLab API calls     $api_calls for $((2 * deliveries)) deliveries
delivery log lines   $lines for the $((2 * deliveries)) good deliveries (one each), $flood_lines for the flood; lines showing the token or secret: $secret_leaks
stop on SIGTERM      $(awk "BEGIN { printf \"%.2f\", $stopped - $started }") s, exit 0
peak RSS             $(awk "BEGIN { printf \"%.1f\", $rss_kb / 1024 }") MiB over A and B (target < 64 MiB)
REPORT

[ "$rss_a_kb" -lt $((64 * 1024)) ] || { echo "FAIL: peak RSS over 64 MiB after A"; status=1; }
[ "$rss_kb" -lt $((64 * 1024)) ] || { echo "FAIL: peak RSS over 64 MiB"; status=1; }
[ "$lines" = $((2 * deliveries)) ] || { echo "FAIL: $lines delivery lines for $((2 * deliveries)) deliveries"; status=1; }
[ "$secret_leaks" = 0 ] || { echo "FAIL: the log shows the token or the secret"; status=1; }
exit $status
