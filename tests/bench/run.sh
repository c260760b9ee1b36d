#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench`: installs the bench-only packages (tests/bench/deps.sh), runs
# every tests/bench/<area>.sh, then prints one combined table of the rows
# they recorded (tests/bench/lib.sh bench_row): row, metric, value,
# reference, ratio. Figures are medians of several runs; each ratio is to a
# reference measured in the same run. Results: $BUILD/bench/results.json.
# Env: BUILD, ONLY (space-separated area names, e.g. "net fs").
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD AGENTGW="$PWD/$BUILD/agentgw"
mkdir -p "$BUILD/bench"
export BENCH_ROWS=$PWD/$BUILD/bench/rows.tsv
: >"$BENCH_ROWS"
json=$BUILD/bench/results.json
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
machine="$(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo "agentgw benchmarks — $started — $machine — ${cpu:-unknown cpu}"
bash tests/bench/deps.sh || echo "bench deps: install failed; rows needing them are skipped"
rc=0
t0=$(date +%s)
for s in tests/bench/*.sh; do
	area=$(basename "$s" .sh)
	case "$area" in run | deps | lib) continue ;; esac
	if [ -n "${ONLY:-}" ] && ! grep -qw "$area" <<<"$ONLY"; then continue; fi
	echo
	echo "## $area"
	a0=$(date +%s)
	timeout --kill-after=10 600 bash "$s"
	case $? in
	0) ;;
	77) echo "bench $area skipped" ;;
	*) echo "bench $area failed"; rc=1 ;;
	esac
	echo "($area: $(($(date +%s) - a0)) s)"
done

# ---- the combined table and its JSON
echo
echo "## summary — $started — $machine ($(($(date +%s) - t0)) s)"
awk -F'\t' '
function num(x) { return x ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ }
function fmt(x) {
	if (!num(x)) return x
	if (x + 0 >= 1000) return sprintf("%.0f", x)
	if (x + 0 >= 10) return sprintf("%.1f", x)
	return sprintf("%.3g", x)
}
BEGIN {
	printf "| %-5s | %-17s | %-26s | %12s | %-5s | %-22s | %6s |\n", "area", "row", "metric", "value", "unit", "reference", "ratio"
	printf "|-------|-------------------|----------------------------|--------------|-------|------------------------|--------|\n"
}
{
	ref = ($6 == "-" || $7 == "-" || $7 == "") ? "-" : $6 " " fmt($7)
	ratio = (num($5) && num($7) && $7 + 0 > 0) ? sprintf("%.2f", $5 / $7) : "-"
	printf "| %-5s | %-17s | %-26s | %12s | %-5s | %-22s | %6s |\n", $1, $2, $3, fmt($5), $4, ref, ratio
}' "$BENCH_ROWS"
echo "(ratio = value / reference; for latency lower is better, for rates higher is better)"

# JSON: one object per row, numbers as numbers where they parse.
awk -F'\t' -v started="$started" -v machine="$machine" -v cpu="$cpu" '
function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function n(x) { return (x ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) ? x + 0 : "null" }
BEGIN { printf "{\n  \"date\": %s,\n  \"machine\": %s,\n  \"cpu\": %s,\n  \"rows\": [", q(started), q(machine), q(cpu) }
{
	ratio = (n($5) != "null" && n($7) != "null" && $7 + 0 > 0) ? sprintf("%.4f", $5 / $7) : "null"
	printf "%s\n    {\"area\": %s, \"row\": %s, \"metric\": %s, \"unit\": %s, \"value\": %s, \"reference\": %s, \"reference_value\": %s, \"ratio\": %s}",
		(NR > 1 ? "," : ""), q($1), q($2), q($3), q($4), n($5), ($6 == "-" ? "null" : q($6)), n($7), ratio
}
END { printf "\n  ]\n}\n" }' "$BENCH_ROWS" >"$json"
echo "results: $json"
exit $rc
