#!/usr/bin/env bash
# gofuzz-detect.sh: time for Go's coverage-guided fuzzer (go test -fuzz) to
# find each pre-fix switch, the column rsrsim bench cannot measure in-process.
#
#   bash fuzz/gofuzz-detect.sh [attempts] [fuzztime] [switch ...]
#
# Defaults: 3 attempts per switch, 60s each, every switch. For each attempt
# it clears FuzzDetect's generated corpus (so attempts do not share what an
# earlier one learned), runs
#
#   RSRSIM_FUZZ_BUG=<switch> go test ./fuzz -run '^$' -fuzz '^FuzzDetect$' \
#       -fuzztime <fuzztime> -parallel 1
#
# and records whether it failed with the switch's signature, the wall time
# and the CPU time (user + system of go test and its fuzzing processes,
# the coordinator's start-up and coverage warm-up included). Go's fuzzer
# takes no seed, so attempts differ run to run; the medians are over
# attempts, and an attempt that hit the fuzz time counts with it (">=").
# Prints a markdown table. Run it from the module root with nothing else
# busy; it builds the test binary once first so build time is not counted.
set -euo pipefail

attempts=${1:-3}
fuzztime=${2:-60s}
shift $(( $# > 2 ? 2 : $# )) || true
if [ $# -gt 0 ]; then
	switches=("$@")
else
	mapfile -t switches < <(go run ./cmd/rsrsim list --json bugs | sed -n 's/.*"name": *"\([^"]*\)".*/\1/p')
fi
if [ ${#switches[@]} -eq 0 ]; then
	echo "gofuzz-detect: no switches to measure" >&2
	exit 2
fi

cache="$(go env GOCACHE)/fuzz/github.com/oxide-sim/rsrsim/fuzz/FuzzDetect"
crashers="fuzz/testdata/fuzz/FuzzDetect"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$crashers"' EXIT

# build (and cache) the instrumented test binary once
RSRSIM_FUZZ_BUG= go test ./fuzz -run '^$' -fuzz '^FuzzDetect$' -fuzztime 1x -parallel 1 >/dev/null 2>&1 || true

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

echo "| switch | found | median wall-s | max wall-s | median CPU-s | max CPU-s |"
echo "|---|---|---|---|---|---|"
for sw in "${switches[@]}"; do
	found=0
	: >"$tmp/wall"
	: >"$tmp/cpu"
	for _ in $(seq 1 "$attempts"); do
		rm -rf "$cache" "$crashers"
		start=$(date +%s.%N)
		/usr/bin/time -f '%U %S' -o "$tmp/time" env RSRSIM_FUZZ_BUG="$sw" \
			go test ./fuzz -run '^$' -fuzz '^FuzzDetect$' -fuzztime "$fuzztime" -parallel 1 >"$tmp/out" 2>&1 || true
		end=$(date +%s.%N)
		if grep -q "DETECTED $sw" "$tmp/out"; then
			found=$((found + 1))
		fi
		awk -v a="$start" -v b="$end" 'BEGIN {print b - a}' >>"$tmp/wall"
		awk '{print $1 + $2}' "$tmp/time" >>"$tmp/cpu"
	done
	ge=""
	if [ "$found" -lt "$attempts" ]; then ge="≥"; fi
	printf '| %s | %d/%d | %s%.1f | %.1f | %s%.1f | %.1f |\n' "$sw" "$found" "$attempts" \
		"$ge" "$(median <"$tmp/wall")" "$(sort -g "$tmp/wall" | tail -1)" \
		"$ge" "$(median <"$tmp/cpu")" "$(sort -g "$tmp/cpu" | tail -1)"
done
