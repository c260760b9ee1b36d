#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Policy engine: host lookups per second and nanoseconds per lookup against
# policies of 10, 1,000, 10,000 and 100,000 rules (bench_policy). Each run
# prints its own table; the combined table gets the median of three runs,
# as a ratio to the 10-rule policy.
set -eu
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
. tests/bench/lib.sh
bin="$BUILD/bench/bench_policy"
[ -x "$bin" ] || { echo "policy bench: $bin not built (make check-build)"; exit 1; }
out=$(mktemp /tmp/agw-bench-policy.XXXXXX)
trap 'rm -f "$out"' EXIT
for run in 1 2 3; do
	echo "run $run:"
	"$bin" "${POLICY_BENCH_ITERS:-2000000}" | tee -a "$out"
done
# combined table: median lookups/s per policy size, ratio to the 10-rule one
ref=$(awk '$1 == 10 { print $4 }' "$out" | median)
for n in $(awk '$1 ~ /^[0-9]+$/ { print $1 }' "$out" | sort -nu); do
	bench_row policy "$n rules" "host lookups/s" 1/s \
		"$(awk -v n="$n" '$1 == n { print $4 }' "$out" | median)" "10 rules" "$ref"
done
