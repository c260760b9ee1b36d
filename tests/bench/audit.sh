#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit writer throughput: sustained events/s committed with batching (one
# transaction per 1000 events or 50 ms), 500,000 realistic events, 1 and 2
# producer threads, median of 3 runs each. The target is >= 100,000 events/s.
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
. tests/bench/lib.sh
bin="$BUILD/bench/bench_audit"
[ -x "$bin" ] || { echo "audit: $bin not built (make check-build)"; exit 1; }
for p in 1 2; do
	rates=()
	for run in 1 2 3; do
		line=$("$bin" -n 500000 -p "$p") || { echo "audit: bench_audit failed"; exit 1; }
		echo "  run $run: $line"
		rates+=("$(sed -n 's/.* s, \([0-9]*\) events\/s.*/\1/p' <<<"$line")")
	done
	median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p)
	echo "audit writer, $p producer(s): median $median events/s (target >= 100000)"
	bench_row audit "writer, $p producer(s)" "events/s into SQLite" 1/s "$median" target 100000
done
