#!/usr/bin/env bash
# Measures one sweep of `echoes-labels reconcile` over a group of 5,000 open
# merge requests, against the stand-in GitLab on 127.0.0.1
# (internal/gitlabtest/standin -group-mrs), as issue 14 sets the budget: at
# most 4 GitLab reads per merge request that needs a look (the merge
# request, its head pipeline's jobs, its label events, its status checks
# where the project has one of ours; list pages and the once-per-project
# lookups apart), each needed retry done exactly once, Retry-After and
# RateLimit-* honoured.
#
# The group: 10 projects of 500 merge requests, each with a head pipeline
# holding the label job; the first 4 projects have a status check named
# echoes-labels, answered for the head commit. In each project one merge
# request in 50 failed and got passing labels after its job ran, one in 50
# succeeded and lost a label after: each must be retried once (and its
# status check, where there is one, answered anew); the others need nothing.
#
#   1. the sweep alone: figures, and the gates above;
#   2. the same sweep while the stand-in answers one request in
#      RATE_EVERY (250) 429 with Retry-After: 1 and RateLimit-* headers:
#      each refused call must come again, no sooner than asked; the run
#      still completes (exit 0, retries once), within RATE_BOUND seconds.
#
#   bench/sweep.sh                          # the issue's sweep
#   MRS=1000 bench/sweep.sh                 # smaller
#   SERVE_BIN=/path/to/echoes-labels bench/sweep.sh   # another build
#
# Loopback only; every process stops by itself (the stand-in after
# -lifetime, reconcile under `timeout`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
mrs="${MRS:-5000}"
rate_every="${RATE_EVERY:-250}"
rate_bound="${RATE_BOUND:-90}"
limit="${SWEEP_TIMEOUT:-180}"

work=$(mktemp -d)
standin_pid=""
trap cleanup EXIT

echo "== building"
bin=$(bench_binary "$work" reconcile)
bench_tools "$work"

token="glpat-bench-sweep-0123456789"
status=0
results=""

# sweep NAME [stand-in flags…]: one stand-in, one reconcile, the report.
sweep() {
	local name=$1
	shift
	rm -f "$work/standin.out"
	"$work/standin" -token "$token" -lifetime 10m -group-mrs "$mrs" -group-path bench "$@" \
		>"$work/standin.out" 2>"$work/standin-$name.log" &
	standin_pid=$!
	local api
	api=$(standin_api "$work/standin.out" "$work/standin-$name.log")
	local started stopped rc=0
	started=$(date +%s.%N)
	ECHOES_GITLAB_URL="$api" ECHOES_GITLAB_TOKEN="$token" \
		timeout "$limit" "$bin" reconcile --watch group:bench --updated-within 0 2>"$work/reconcile-$name.log" || rc=$?
	stopped=$(date +%s.%N)
	wall=$(awk "BEGIN { printf \"%.2f\", $stopped - $started }")
	local done_line
	done_line=$(grep '"msg":"reconcile done"' "$work/reconcile-$name.log" | sed 's/.*"msg":"reconcile done",//; s/}$//' || true)
	local report rrc=0
	report=$("$work/serveload" -sweep-report "${api%/api/v4}" "${report_flags[@]}") || rrc=$?
	kill "$standin_pid" 2>/dev/null || true
	wait "$standin_pid" 2>/dev/null || true
	standin_pid=""
	local faults
	faults=$(grep -c '"msg":"gitlab fault; trying again"' "$work/reconcile-$name.log" || true)
	local block
	block=$(printf '%s\n' "reconcile           exit $rc, wall time $wall s ($mrs open merge requests)" \
		"summary line        ${done_line:-none}" "tries again logged  $faults (\"gitlab fault; trying again\")" "$report")
	echo "$block"
	results+=$'\n'"-- $name"$'\n'"$block"
	[ "$rc" = 0 ] || { echo "FAIL: reconcile exited $rc"; tail -5 "$work/reconcile-$name.log"; status=1; }
	[ "$rrc" = 0 ] || status=1
}

echo "== 1: one sweep of $mrs open merge requests"
report_flags=()
sweep plain
plain_wall=$wall

echo "== 2: the same, one request in $rate_every answered 429 (Retry-After: 1, RateLimit-*)"
report_flags=(-strict=false)
sweep rate-limited -rate-limit-every "$rate_every" -rate-limit-wait 1s
awk "BEGIN { exit !($wall < $rate_bound) }" || { echo "FAIL: the rate-limited sweep took $wall s (bound $rate_bound s)"; status=1; }

cat <<REPORT

== results ($(nproc) cores, $(go env GOVERSION), $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg))$results
-- wall time: $plain_wall s alone, $wall s with the 429s (bound $rate_bound s)
REPORT
exit $status
