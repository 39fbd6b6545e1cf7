#!/usr/bin/env bash
# Measures `echoes-labels serve` under a burst, against the stand-in GitLab
# on 127.0.0.1 (internal/gitlabtest/standin), as issue 10 sets the targets:
# 2,000 deliveries in 10 s across 200 merge requests, every one answered
# 202 in under 1 s (p50/p99/max), every failed label job whose labels now
# pass retried exactly once (and no other), peak RSS under 64 MiB.
#
#   bench/serve.sh                          # the issue's load
#   DELIVERIES=500 MRS=50 bench/serve.sh    # smaller
#   SERVE_BIN=/path/to/echoes-labels bench/serve.sh   # another build
#
# Loopback only; every process stops by itself (the stand-in after
# -lifetime, the load after -settle). Installs GNU time if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
deliveries="${DELIVERIES:-2000}"
mrs="${MRS:-200}"
duration="${DURATION:-10s}"

command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

work=$(mktemp -d)
standin_pid=""
time_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$time_pid" ]; then
		child=$(pgrep -P "$time_pid" || true)
		if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; fi
	fi
	if [ -n "$standin_pid" ]; then kill "$standin_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
bin="${SERVE_BIN:-}"
if [ -z "$bin" ]; then
	bin="$work/echoes-labels"
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w -X main.version=bench' -o "$bin" ./cmd/echoes-labels
fi
"$bin" serve --help >/dev/null 2>&1 || { echo "$bin has no serve command; set SERVE_BIN to a build that has" >&2; exit 2; }
go build -o "$work/standin" ./internal/gitlabtest/standin
go build -o "$work/serveload" ./bench/serveload

token="glpat-bench-serve-0123456789"
secret="bench-webhook-secret-0123456789"
mapfile -t mr_args < <("$work/serveload" -standin-args -mrs "$mrs")
"$work/standin" -token "$token" -project 42 -path group/project -lifetime 10m "${mr_args[@]}" \
	>"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
for _ in $(seq 100); do [ -s "$work/standin.out" ] && break; sleep 0.05; done
api=$(head -n1 "$work/standin.out")
[ -n "$api" ] || { echo "the stand-in did not start:" >&2; cat "$work/standin.log" >&2; exit 1; }

echo "== starting echoes-labels serve (reconcile off: the webhook path is what is measured)"
ECHOES_LISTEN=127.0.0.1:0 ECHOES_GITLAB_URL="$api" ECHOES_GITLAB_TOKEN="$token" ECHOES_WEBHOOK_SECRET="$secret" \
	ECHOES_RECONCILE_INTERVAL=0 /usr/bin/time -v -o "$work/time.txt" "$bin" serve 2>"$work/serve.log" &
time_pid=$!
addr=""
for _ in $(seq 100); do
	addr=$(grep -o '"msg":"listening","addr":"[^"]*"' "$work/serve.log" 2>/dev/null | sed 's/.*"addr":"//; s/"$//' || true)
	[ -n "$addr" ] && break
	sleep 0.05
done
[ -n "$addr" ] || { echo "the service did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

echo "== $deliveries deliveries in $duration across $mrs merge requests"
status=0
"$work/serveload" -webhook "http://$addr/webhook" -metrics "http://$addr/metrics" -standin "${api%/api/v4}" \
	-secret "$secret" -mrs "$mrs" -deliveries "$deliveries" -duration "$duration" | tee "$work/load.txt" || status=$?

echo "== stopping (SIGTERM)"
child=$(pgrep -P "$time_pid")
started=$(date +%s.%N)
kill -TERM "$child"
wait "$time_pid" || { echo "FAIL: echoes-labels serve exited non-zero on SIGTERM"; status=1; }
time_pid=""
stopped=$(date +%s.%N)
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
lines=$(grep -c '"msg":"delivery"' "$work/serve.log" || true)
secret_leaks=$(grep -c -e "$token" -e "$secret" "$work/serve.log" || true)
api_calls=$(curl -sf "${api%/api/v4}/_count" 2>/dev/null || grep -c ' (PRIVATE-TOKEN): ' "$work/standin.log")

cat <<REPORT

== results ($(nproc) cores, $(go env GOVERSION), $(uname -m))
$(cat "$work/load.txt")
GitLab API calls     $api_calls for $deliveries deliveries
delivery log lines   $lines (one per delivery); lines showing the token or secret: $secret_leaks
stop on SIGTERM      $(awk "BEGIN { printf \"%.2f\", $stopped - $started }") s, exit 0
peak RSS             $(awk "BEGIN { printf \"%.1f\", $rss_kb / 1024 }") MiB (target < 64 MiB)
REPORT

[ "$rss_kb" -lt $((64 * 1024)) ] || { echo "FAIL: peak RSS over 64 MiB"; status=1; }
[ "$lines" = "$deliveries" ] || { echo "FAIL: $lines delivery lines for $deliveries deliveries"; status=1; }
[ "$secret_leaks" = 0 ] || { echo "FAIL: the log shows the token or the secret"; status=1; }
exit $status
