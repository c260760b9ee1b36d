#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Policy engine: host lookups per second and nanoseconds per lookup against
# policies of 10, 1,000, 10,000 and 100,000 rules (bench_policy). Median of
# three runs is left to the reader: each run prints its own table.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin="$BUILD/bench/bench_policy"
[ -x "$bin" ] || { echo "policy bench: $bin not built (make check-build)"; exit 1; }
for run in 1 2 3; do
	echo "run $run:"
	"$bin" "${POLICY_BENCH_ITERS:-2000000}"
done
