#!/usr/bin/env bash
# Peak memory of the real binary on the largest answers GitLab (or anything
# posing as it) can send within gitlabapi's 4 MiB body cap, and on the
# longest CI_MERGE_REQUEST_LABELS Linux lets a process have (issue 9: under
# 100 MiB in every format). Each shape is run in every format: the log
# (text), --format json, --junit FILE and --comment (the note, written to
# the stand-in, which every failing shape exercises). Peak RSS is
# /usr/bin/time's %M, the worst of MEMORY_RUNS runs. It fails on any run over
# 100 MiB, on a wrong exit code, and when the stand-in's answer is not
# within 12 KiB of the cap (so the largest answer really is what is run).
#
#   bench/memory.sh                  # MEMORY_RUNS=3
#   MEMORY_RUNS=1 bench/memory.sh    # quicker
#
# bench/run.sh calls it at its end; it needs only /usr/bin/time and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs="${MEMORY_RUNS:-3}"
budget_kib=$((100 * 1024))
cap=$((4 << 20)) # gitlabapi's maxBody

for tool in curl /usr/bin/time; do
	command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq curl time >/dev/null; break; }
done

work=$(mktemp -d)
standin_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap and between shapes
stop_standin() {
	if [ -n "$standin_pid" ]; then
		kill "$standin_pid" 2>/dev/null || true
		wait "$standin_pid" 2>/dev/null || true
		standin_pid=""
	fi
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_standin
	rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/echoes-labels" ./cmd/echoes-labels
go build -o "$work/standin" ./internal/gitlabtest/standin
ours="$work/echoes-labels"
token="glpat-bench-0123456789abcdef"

# start_standin NOISE_BYTES FORMAT LABELS: one merge request, !7, with
# noise labels filling NOISE_BYTES of JSON before LABELS.
start_standin() {
	: >"$work/standin.out"
	"$work/standin" -token "$token" -project 42 -noise-bytes "$1" -noise-format "$2" -lifetime 10m \
		-mr "7=$3" >"$work/standin.out" 2>"$work/standin.log" &
	standin_pid=$!
	api=$(standin_api "$work/standin.out" "$work/standin.log")
	body=$(curl -sf -H "PRIVATE-TOKEN: $token" "$api/projects/42/merge_requests/7" | wc -c)
	labels=$(curl -sf -H "PRIVATE-TOKEN: $token" "$api/projects/42/merge_requests/7" | tr -cd , | wc -c)
	labels=$((labels + 1)) # commas outside the list are few; near enough for a table
}

fail=0
results=()
# measure NAME WANT_EXIT ENV... -- ARGS...: the worst peak RSS of RUNS runs,
# with ENV alone (bench/run.sh exports the API variables, which would
# otherwise turn the CI_MERGE_REQUEST_LABELS runs into API reads).
measure() {
	local name=$1 want=$2 worst=0 code told=""
	shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	for _ in $(seq "$runs"); do
		code=0
		env -i PATH="$PATH" HOME="$HOME" "${envs[@]}" /usr/bin/time -f %M -o "$work/rss" "$ours" "$@" >"$work/out" 2>"$work/err" || code=$?
		rss=$(tail -n1 "$work/rss")
		[ "$rss" -gt "$worst" ] && worst=$rss
		if [ "$code" != "$want" ] && [ -z "$told" ]; then
			echo "FAIL: $name exited $code, want $want:"; head -c 600 "$work/out" "$work/err"; fail=1; told=1
		fi
	done
	local mib
	mib=$(awk "BEGIN { printf \"%.1f\", $worst / 1024 }")
	results+=("$(printf '%-58s %6s MiB' "$name" "$mib")")
	echo "  $name: $mib MiB"
	if [ "$worst" -gt "$budget_kib" ]; then
		echo "FAIL: $name peaked at $mib MiB, over 100 MiB"; fail=1
	fi
}

# expect REGEX FILE WHAT: FILE matches REGEX (an empty REGEX: skipped).
expect() {
	[ -z "$1" ] || grep -Eq -- "$1" "$2" || { echo "FAIL: $3 lacks /$1/:"; head -c 2000 "$2"; fail=1; }
}

api_env() {
	echo "CI_API_V4_URL=$api" CI_MERGE_REQUEST_PROJECT_ID=42 CI_MERGE_REQUEST_IID=7 "ECHOES_GITLAB_TOKEN=$token" NO_COLOR=1 ECHOES_COMMENT_KEY=bench
}

# Shapes of the largest answer: noise format, what it is, the merge
# request's own labels, the exit code every format should give, and what
# the log and the JSON must say of the capped lists (empty: nothing).
shapes=(
	'""|empty labels, the densest answer|echoes/intent/feature,echoes/effort/M|0||'
	'%x|short labels, all different|echoes/intent/feature,echoes/effort/M|0||'
	'echoes/intnet/%x|near misses, no intent|echoes/effort/M|1|misspelt\?   and [0-9]+ more|"near_misses_omitted": [0-9]+'
	'echoes/effort/%x|effort labels|echoes/intent/feature|1|effort labels \(echoes/effort/0, echoes/effort/1, echoes/effort/2, and [0-9]+ more\)|"effort_omitted": [0-9]+'
	'echoes/intent/%x|intent labels|echoes/effort/M|0|intent: +echoes/intent/0, .*, and [0-9]+ more|"intent_omitted": [0-9]+'
)
room=8192 # for the answer's other fields (about 4.2 KB)
for shape in "${shapes[@]}"; do
	IFS='|' read -r format what own exit in_text in_json <<<"$shape"
	[ "$format" = '""' ] && format=""
	start_standin $((cap - room)) "$format" "$own"
	echo "== $what: $labels labels, answer $body bytes (cap $cap)"
	if [ "$body" -gt "$cap" ] || [ "$body" -lt $((cap - 12288)) ]; then
		echo "FAIL: the answer is $body bytes, want within 12 KiB under the cap $cap"; fail=1
	fi
	# shellcheck disable=SC2046 # api_env is words
	{
		measure "API, $what, text" "$exit" $(api_env) -- --require-effort
		expect "$in_text" "$work/out" "the log"
		measure "API, $what, json" "$exit" $(api_env) -- --require-effort --format json
		expect "$in_json" "$work/out" "the JSON"
		measure "API, $what, --junit" "$exit" $(api_env) -- --require-effort --junit "$work/junit.xml"
		expect '<testsuites' "$work/junit.xml" "the JUnit file"
		measure "API, $what, --comment" "$exit" $(api_env) -- --require-effort --comment
		# A failing check writes its note (a passing one writes none).
		[ "$exit" = 0 ] || expect '(POST|PUT) /api/v4/projects/42/merge_requests/7/notes.*: 20[01]' "$work/standin.log" "the stand-in's log"
		measure "API, $what, json + --junit + --comment" "$exit" $(api_env) -- --require-effort --format json --junit "$work/junit.xml" --comment
	}
	stop_standin
done

echo "== an answer past the cap"
start_standin $((cap + 65536)) "" "echoes/intent/feature"
# shellcheck disable=SC2046
measure "API, answer of $body bytes (past the cap): exit 3" 3 $(api_env) -- --junit "$work/junit.xml"
grep -q "more than 4 MiB" "$work/err" || { echo "FAIL: the error does not name the cap:"; cat "$work/err"; fail=1; }
stop_standin

# Linux refuses to start a process with one variable (or argument) longer
# than 128 KiB (MAX_ARG_STRLEN, "Argument list too long"), so about ten
# thousand near misses is the most CI_MERGE_REQUEST_LABELS can carry; the
# 200,000 near misses of an answer within the cap are run above.
max_arg=131072
vars=$(awk -v max=$((max_arg - 64)) 'BEGIN { s = "echoes/intnt/0"; for (i = 1; length(s) < max - 20; i++) s = s ",echoes/intnt/" i; print s }')
n=$(tr -cd , <<<"$vars" | wc -c)
n=$((n + 1))
echo "== CI_MERGE_REQUEST_LABELS: $n near misses, ${#vars} bytes"
ci_env=(CI_MERGE_REQUEST_PROJECT_ID=42 CI_MERGE_REQUEST_IID=7 CI_PIPELINE_SOURCE=merge_request_event
	CI_MERGE_REQUEST_EVENT_TYPE=detached "CI_MERGE_REQUEST_LABELS=$vars" GITLAB_CI=true CI=true) # in colour, with the details section
measure "CI_MERGE_REQUEST_LABELS, $n near misses, text" 1 "${ci_env[@]}" --
expect "misspelt\?   and $((n - 20)) more" "$work/out" "the log"
expect "… and $((n - 200)) more" "$work/out" "the log's details section"
measure "CI_MERGE_REQUEST_LABELS, $n near misses, json" 1 "${ci_env[@]}" -- --format json
measure "CI_MERGE_REQUEST_LABELS, $n near misses, --junit" 1 "${ci_env[@]}" -- --junit "$work/junit.xml"
measure "--labels, $n near misses, json + --junit" 1 NO_COLOR=1 -- --labels "$vars" --format json --junit "$work/junit.xml"

echo
echo "== peak RSS, worst of $runs runs ($(nproc) cores, $(go env GOVERSION), $(uname -m); budget 100 MiB)"
printf '%s\n' "${results[@]}"
exit $fail
