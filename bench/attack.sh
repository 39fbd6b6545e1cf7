#!/usr/bin/env bash
# The attacks of issue 20 ("Bounded against strangers") on
# `echoes-labels serve`, each against a fresh service (--health-listen on)
# and the stand-in GitLab, on 127.0.0.1 only; the attackers connect from
# 127.0.1.N (one address each). Beside each attack, what GitLab (or the kubelet) sends comes
# every 250 ms and must be answered 2xx within 2 s, every one; the
# service's peak RSS (VmHWM) must stay under deploy/'s 128 MiB.
#
#   health      9,000 connections to --health-listen sending partial headers
#   slow        16 connections trickling 1 MiB bodies at ~50 B/s (signed status checks beside)
#   busy        256 connections sending 1 MiB bodies at 10 KiB/s, above the minimum rate (same)
#   share       64 clients sending 1 MiB chunked bodies, wrong signature, at full speed (same)
#   many        64 connections from 32 addresses (127.0.2.1-32), each body's first 520 KiB at once
#               (it holds 1 MiB of the 16 MiB pool), then 10 KiB/s, just above the minimum rate (same)
#   idle        4,000 idle TCP connections to --listen (deliveries with the secret beside)
#   pipeline    16 clients sending authenticated 19 MB pipeline events (24,000 builds)
#   pipelining  one connection pipelining 20,000 requests with a wrong secret (log bytes counted)
#
#   bench/attack.sh                  # all of them, about 3 minutes
#   bench/attack.sh idle slow        # some
#   ATTACK_FOR=20s bench/attack.sh   # longer (at most 2m each)
#   SERVE_BIN=/path/to/echoes-labels bench/attack.sh   # another build (the figures before a change)
#
# Every process stops by itself: the stand-in after -lifetime, each attack
# after ATTACK_FOR, each service on SIGTERM once its attack is over.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
attack_for="${ATTACK_FOR:-10s}"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(health slow busy share many idle pipeline pipelining)
ulimit -n "$(ulimit -Hn)"

work=$(mktemp -d)
standin_pid=""
serve_pid=""
trap cleanup EXIT

echo "== building"
bin=$(bench_binary "$work" serve)
bench_tools "$work"

token="glpat-bench-attack-0123456789"
secret="bench-webhook-secret-0123456789"
"$work/standin" -token "$token" -project 1 -path gitlabhq/gitlab-test -lifetime 15m \
	-mr 1=echoes/intent/feature -pipeline 1=build:success,echoes-labels:failed \
	>"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
api=$(standin_api "$work/standin.out" "$work/standin.log")

status=0
results=()
n=0
for s in "${scenarios[@]}"; do
	# Each attack from an address of its own: the tens of thousands of
	# connections one leaves in TIME_WAIT take the ports of its address.
	n=$((n + 1))
	log="$work/serve-$s.log"
	ECHOES_LISTEN=127.0.0.1:0 ECHOES_HEALTH_LISTEN=127.0.0.3:0 ECHOES_GITLAB_URL="$api" ECHOES_GITLAB_TOKEN="$token" \
		ECHOES_WEBHOOK_SECRET="$secret" ECHOES_RECONCILE_INTERVAL=0 ECHOES_SHUTDOWN_DELAY=0 ECHOES_WATCH=gitlabhq,gitlab-org \
		"$bin" serve 2>"$log" &
	serve_pid=$!
	addr="" health=""
	for _ in $(seq 200); do
		addr=$(grep -o '"msg":"listening","addr":"[^"]*"' "$log" 2>/dev/null | sed 's/.*"addr":"//; s/"$//' || true)
		health=$(grep -o '"msg":"health endpoints listening","addr":"[^"]*"' "$log" 2>/dev/null | sed 's/.*"addr":"//; s/"$//' || true)
		[ -n "$addr" ] && [ -n "$health" ] && curl -sf "http://$health/readyz" >/dev/null 2>&1 && break
		sleep 0.05
	done
	[ -n "$addr" ] || { echo "the service did not start:" >&2; cat "$log" >&2; exit 1; }
	args=(-webhook "http://$addr/webhook" -health "http://$health" -secret "$secret" -attack-for "$attack_for" -target "http://$addr/webhook"
		-from "127.0.1.$n")
	case "$s" in
	health) args+=(-attack health -target "http://$health/readyz" -conns 9000 -good health) ;;
	slow) args+=(-attack slow -conns 16 -good signed) ;;
	busy) args+=(-attack busy -conns 256 -good signed) ;;
	share) args+=(-attack share -conns 64 -good signed) ;;
	many) args+=(-attack many -conns 64 -good signed -from 127.0.2.1) ;;
	idle) args+=(-attack idle -conns 4000 -good hook) ;;
	pipeline) args+=(-attack pipeline -conns 16 -good hook) ;;
	pipelining) args+=(-attack pipelining -requests 20000 -good hook) ;;
	*) echo "unknown scenario $s" >&2; exit 2 ;;
	esac
	echo "== $s"
	log_before=$(wc -c <"$log")
	out=$("$work/serveload" "${args[@]}" 2>&1) || { status=1; out="$out"$'\n'"FAIL: $s"; }
	sleep 1 # the last window's count of lines left out
	rss_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$serve_pid/status")
	kill -TERM "$serve_pid"
	wait "$serve_pid" || { echo "FAIL: serve exited non-zero on SIGTERM ($s)"; status=1; }
	serve_pid=""
	log_bytes=$(($(wc -c <"$log") - log_before))
	lines=$(grep -c '"msg":"delivery"' "$log" || true)
	suppressed=$({ grep -o '"msg":"delivery lines not logged","outcome":"[a-z_]*","suppressed":[0-9]*' "$log" || true; } | awk -F: '{n += $NF} END {print n + 0}')
	echo "$out"
	rss=$(awk "BEGIN { printf \"%.1f\", $rss_kb / 1024 }")
	echo "service             peak RSS $rss MiB (limit 128); log $log_bytes bytes during the attack, $lines delivery lines, $suppressed left out and counted"
	results+=("$s: peak RSS $rss MiB, log $log_bytes B")
	[ "$rss_kb" -lt $((128 * 1024)) ] || { echo "FAIL: peak RSS over 128 MiB ($s)"; status=1; }
done

echo
echo "== results ($(nproc) cores, $(go env GOVERSION), load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${results[@]}"
exit $status
