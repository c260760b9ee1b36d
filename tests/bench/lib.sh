# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Shared helpers for the benchmark scripts (sourced, not run): medians and
# the combined results table. Each area script appends rows with bench_row;
# run.sh prints them as one table and writes build/bench/results.json.
# A row: section, row (what was measured), metric, unit, value, reference
# name, reference value; the ratio is value / reference.

# median: of the numbers on stdin (mean of the middle two for an even count)
median() {
	sort -g | awk '{a[NR] = $1} END {
		if (!NR) print "n/a";
		else if (NR % 2) print a[(NR + 1) / 2];
		else printf "%.6g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# bench_row SECTION ROW METRIC UNIT VALUE [REFNAME REFVALUE]
# Appends to $BENCH_ROWS (set by run.sh; a scratch file when run alone).
bench_row() {
	local f=${BENCH_ROWS:-/dev/null}
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:--}" "${7:--}" >>"$f"
}
