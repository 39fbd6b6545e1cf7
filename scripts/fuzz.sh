#!/usr/bin/env bash
# Runs every fuzz target briefly: FUZZTIME each (default 5s), so a CI run
# spends about a minute here. A crasher is written to the package's
# testdata/fuzz/ and fails the script; commit it as a regression test.
#   scripts/fuzz.sh            # all targets, 5s each
#   FUZZTIME=2m scripts/fuzz.sh  # longer, by hand
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"

# Each interesting input is minimised in at most 200 runs, so a short run
# spends its time fuzzing, not shrinking (the default is 60s per input).
targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
count=0
for file in $targets; do
	pkg="./$(dirname "${file#./}")"
	# shellcheck disable=SC2013 # function names have no spaces
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "== $name ($pkg, $fuzztime)"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 200x "$pkg"
		count=$((count + 1))
	done
done
if [ "$count" -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi
echo "fuzzed $count targets for $fuzztime each"
