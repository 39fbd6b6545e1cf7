#!/usr/bin/env bash
# Test of scripts/fuzz.sh's verdicts, with a stand-in `go` that prints what
# Go's fuzzing prints in each case (the lines are Go 1.26's): a crasher
# fails at once, Go's deadline race at the end of -fuzztime passes, another
# fuzzing engine failure is retried once, anything else fails at once. Runs in a throwaway copy with one fake target; takes a
# second. Prints "N passed, N failed".
# The expect conditions are eval'd later, in single quotes on purpose.
# shellcheck disable=SC2016,SC2034,SC2097,SC2098
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/echoes-test-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

mkdir -p "$WORK/scripts" "$WORK/pkg"
cp "$ROOT/scripts/fuzz.sh" "$WORK/scripts/"
printf 'package pkg\n\nfunc FuzzThing(f *testing.F) {}\n' >"$WORK/pkg/thing_test.go"

# The stand-in go: SCENARIO says what each fuzzing run prints; runs are
# counted in $WORK/runs, replays of a written input in $WORK/replays.
cat >"$WORK/go" <<'EOF'
#!/usr/bin/env bash
set -u
case " $* " in
*" -fuzz "*)
	n=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$WORK/runs"
	echo "fuzz: elapsed: 0s, gathering baseline coverage: 0/5 completed"
	first_only=1
	case $SCENARIO in
	deadline-late | early-twice | other) first_only=0 ;;
	esac
	if [[ $first_only == 1 && $n -gt 1 ]]; then echo PASS; exit 0; fi
	case $SCENARIO in
	deadline-late)
		printf -- '--- FAIL: FuzzThing (5.10s)\n    context deadline exceeded\nFAIL\nexit status 1\nFAIL\tpkg\t5.1s\n'
		;;
	early-once | early-twice)
		printf -- '--- FAIL: FuzzThing (1.20s)\n    context deadline exceeded\nFAIL\nexit status 1\nFAIL\tpkg\t1.2s\n'
		;;
	crasher | hung-passes-replay)
		mkdir -p "$WORK/pkg/testdata/fuzz/FuzzThing"
		echo "go test fuzz v1" >"$WORK/pkg/testdata/fuzz/FuzzThing/0123abcd"
		[[ $SCENARIO == hung-passes-replay ]] && printf -- '--- FAIL: FuzzThing (3.02s)\n    fuzzing process hung or terminated unexpectedly: exit status 2\n'
		[[ $SCENARIO == crasher ]] && printf -- '--- FAIL: FuzzThing (0.21s)\n    --- FAIL: FuzzThing (0.00s)\n        thing_test.go:9: boom\n'
		printf '    Failing input written to testdata/fuzz/FuzzThing/0123abcd\n    To re-run:\n    go test -run=FuzzThing/0123abcd\nFAIL\n'
		;;
	other)
		printf 'pkg/thing.go:3:1: syntax error: non-declaration statement outside function body\nFAIL\tpkg [build failed]\n'
		;;
	esac
	exit 1
	;;
*" -run ^FuzzThing/0123abcd\$ "*)
	echo x >>"$WORK/replays"
	[[ $SCENARIO == crasher ]] && exit 1
	exit 0
	;;
esac
echo "stand-in go: unexpected call: $*" >&2
exit 3
EOF
chmod +x "$WORK/go"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
bad() { failed=$((failed + 1)); echo "FAIL - $*"; }

# run SCENARIO: run fuzz.sh; sets rc, out, runs, replays.
run() {
	rm -rf "$WORK/runs" "$WORK/replays" "$WORK/pkg/testdata"
	rc=0
	out=$(cd "$WORK" && WORK=$WORK SCENARIO=$1 GO="$WORK/go" FUZZTIME=5s bash scripts/fuzz.sh 2>&1) || rc=$?
	runs=$(cat "$WORK/runs" 2>/dev/null || echo 0)
	replays=0
	if [[ -f $WORK/replays ]]; then replays=$(wc -l <"$WORK/replays"); fi
}
expect() { # expect WHAT COND
	if eval "$2"; then ok "$1"; else bad "$1 ($2; exit $rc, $runs runs):"; sed 's/^/    | /' <<<"$out"; fi
}

run deadline-late
expect "deadline race after the whole fuzztime: passes, no retry" '[[ $rc == 0 && $runs == 1 ]]'
expect "deadline race: names Go's issue" 'grep -qF "FuzzThing (./pkg): fuzzed for 5s; Go then reported \"context deadline exceeded\" (go.dev/issue/75804" <<<"$out"'
expect "deadline race: counted" 'grep -qF "(0 retried after a fuzz engine failure, 1 ended by go.dev/issue/75804)" <<<"$out"'

run early-once
expect "deadline before the time is up: passes after one retry" '[[ $rc == 0 && $runs == 2 ]]'
expect "deadline before the time is up: says it is the engine" 'grep -qF "FuzzThing (./pkg): fuzz engine failure, not a crash; retrying once" <<<"$out"'
expect "deadline before the time is up: counted as retried" 'grep -qF "(1 retried after a fuzz engine failure, 0 ended" <<<"$out"'

run early-twice
expect "engine failing twice: fails after one retry" '[[ $rc == 1 && $runs == 2 ]]'
expect "engine failing twice: says so" 'grep -qF "failed again on the retry (engine)" <<<"$out"'

run crasher
expect "crasher: fails at once, no retry" '[[ $rc == 1 && $runs == 1 && $replays == 1 ]]'
expect "crasher: says commit it" 'grep -qF "CRASHER. Commit the file under ./pkg/testdata/fuzz/FuzzThing/" <<<"$out"'
expect "crasher: the input is kept" '[[ -f $WORK/pkg/testdata/fuzz/FuzzThing/0123abcd ]]'
expect "crasher: not called an engine failure" '! grep -qF "retrying" <<<"$out"'

run hung-passes-replay
expect "worker hung, input passes replay: retried, passes" '[[ $rc == 0 && $runs == 2 && $replays == 1 ]]'
expect "worker hung, input passes replay: the blamed input is removed" '[[ ! -e $WORK/pkg/testdata/fuzz/FuzzThing/0123abcd ]]'
expect "worker hung, input passes replay: says it is the engine" 'grep -qF "fuzz engine failure, not a crash; retrying once" <<<"$out"'

run other
expect "build error: fails at once, no retry" '[[ $rc == 1 && $runs == 1 ]]'
expect "build error: not called a fuzzing finding" 'grep -qF "failed (not a fuzzing finding)" <<<"$out"'

echo "test-fuzz: $passed passed, $failed failed"
[[ $failed == 0 ]]
