#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench`: installs the bench-only packages (tests/bench/deps.sh), runs
# every tests/bench/<area>.sh, then prints one combined table of the rows
# they recorded (tests/bench/lib.sh bench_row): row, metric, value,
# reference, ratio. Figures are medians of several runs; each ratio is to a
# reference measured in the same run. Results: $BUILD/bench/results.json
# and the table as Markdown in $BUILD/bench/results.md (for RESULTS.md).
# Env: BUILD, ONLY (space-separated area names, e.g. "net fs").
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
export BUILD AGENTGW="$PWD/$BUILD/agentgw"
mkdir -p "$BUILD/bench"
export BENCH_ROWS=$PWD/$BUILD/bench/rows.tsv
: >"$BENCH_ROWS"
json=$BUILD/bench/results.json
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
machine="$(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "agentgw benchmarks — $started — $machine — ${cpu:-unknown cpu} — load average at start: $load_start"
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
	# ws boots Debian guests and works on 9P under TCG: up to an hour
	# (WS_QUICK=1: minutes); every other area fits in 10 minutes.
	lim=600
	[ "$area" = ws ] && lim=${WS_TIMEOUT:-5400}
	timeout --kill-after=10 "$lim" bash "$s"
	case $? in
	0) ;;
	77) echo "bench $area skipped" ;;
	*) echo "bench $area failed"; rc=1 ;;
	esac
	echo "($area: $(($(date +%s) - a0)) s)"
done

# ---- the combined table (also $BUILD/bench/results.md) and its JSON
md=$BUILD/bench/results.md
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
echo
echo "## summary — $started — $machine — ${cpu:-unknown cpu} — $(($(date +%s) - t0)) s, load average at start: $load_start, at end: $load_end"
echo
awk -F'\t' '
function num(x) { return x ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ }
function fmt(x) {
	if (!num(x)) return x
	if (x + 0 >= 1000) return sprintf("%.0f", x)
	if (x + 0 >= 10) return sprintf("%.1f", x)
	return sprintf("%.3g", x)
}
BEGIN {
	printf "| %-6s | %-24s | %-27s | %10s | %-4s | %-26s | %5s |\n", "area", "row", "metric", "value", "unit", "reference", "ratio"
	printf "|--------|--------------------------|-----------------------------|------------|------|----------------------------|-------|\n"
}
{
	ref = ($6 == "-" || $7 == "-" || $7 == "") ? "-" : $6 " " fmt($7)
	ratio = (num($5) && num($7) && $7 + 0 > 0) ? sprintf("%.2f", $5 / $7) : "-"
	printf "| %-6s | %-24s | %-27s | %10s | %-4s | %-26s | %5s |\n", $1, $2, $3, fmt($5), $4, ref, ratio
}' "$BENCH_ROWS"
echo
echo "(ratio = value / reference; for latency and times lower is better, for rates higher is better)"
} | tee "$md"

# JSON: one object per row, numbers as numbers where they parse.
awk -F'\t' -v started="$started" -v machine="$machine" -v cpu="$cpu" -v l0="$load_start" -v l1="$load_end" '
function q(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function n(x) { return (x ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) ? x + 0 : "null" }
BEGIN { printf "{\n  \"date\": %s,\n  \"machine\": %s,\n  \"cpu\": %s,\n  \"load_average_start\": %s,\n  \"load_average_end\": %s,\n  \"rows\": [", q(started), q(machine), q(cpu), q(l0), q(l1) }
{
	ratio = (n($5) != "null" && n($7) != "null" && $7 + 0 > 0) ? sprintf("%.4f", $5 / $7) : "null"
	printf "%s\n    {\"area\": %s, \"row\": %s, \"metric\": %s, \"unit\": %s, \"value\": %s, \"reference\": %s, \"reference_value\": %s, \"ratio\": %s}",
		(NR > 1 ? "," : ""), q($1), q($2), q($3), q($4), n($5), ($6 == "-" ? "null" : q($6)), n($7), ratio
}
END { printf "\n  ]\n}\n" }' "$BENCH_ROWS" >"$json"
echo "results: $json, $md"
exit $rc
