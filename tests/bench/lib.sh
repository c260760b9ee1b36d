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

# stop_srv: stops the server of SRV_PID if any (SIGTERM, up to 5 s, then
# SIGKILL), reaps it and clears SRV_PID.
stop_srv() {
	local i
	[ -n "${SRV_PID:-}" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
}

# bench_latency DIR ROW WANT: from DIR/ROW.lat.raw (curl -w
# '\t%{http_code}\t%{time_total}\n' lines) appends the p50 and p99 in ms of
# the 200 answers to DIR/ROW.p50 and DIR/ROW.p99; says so when fewer than
# WANT were 200.
bench_latency() {
	local dir=$1 row=$2 n
	awk -F'\t' '$2 == 200 { printf "%.4f\n", $3 * 1000 }' "$dir/$row.lat.raw" | sort -g >"$dir/$row.lat"
	n=$(wc -l <"$dir/$row.lat")
	[ "$n" -lt "$3" ] && echo "  ($row: only $n of $3 latency samples were 200)" >&2
	awk '{a[NR]=$1} END {if (NR) print a[int((NR + 1) * 0.50)]}' "$dir/$row.lat" >>"$dir/$row.p50"
	awk '{i = int(NR * 0.99 + 0.5); if (i < 1) i = 1; a[NR]=$1} END {if (NR) print a[i]}' \
		"$dir/$row.lat" >>"$dir/$row.p99"
}

# bench_haproxy_start TABLE: HAProxy in TCP mode in the gw namespace
# (conf/haproxy.cfg, port 3130, log $TOPO_DIR/gw.log) with an nft table
# TABLE redirecting the guest's port 80 to it, as net.sh sets it up; for
# the tools/ scripts. Sets GW_PID; exits 1 when it does not come up.
bench_haproxy_start() {
	sed -e "s|@DIR@|$TOPO_DIR|g" -e "s|@GW_IP@|$GW_IP|g" -e "s|@PORT@|3130|g" \
		tests/bench/conf/haproxy.cfg >"$TOPO_DIR/haproxy.cfg"
	ip netns exec "$NS_GW" haproxy -db -f "$TOPO_DIR/haproxy.cfg" >"$TOPO_DIR/gw.log" 2>&1 &
	GW_PID=$!
	wait_port "$NS_GW" "$GW_IP" 3130 10 || { cat "$TOPO_DIR/gw.log"; exit 1; }
	printf 'table ip %s {\n chain pre {\n  type nat hook prerouting priority dstnat; policy accept;\n  iifname "%s" tcp dport 80 redirect to :3130\n }\n}\n' \
		"$1" "$GUEST_IF" | in_gw nft -f -
}
