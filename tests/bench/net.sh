#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Network gateway benchmark: new connections per second (one HTTP request
# each), per-connection latency (p50, p99) and bulk download throughput,
# through `agentgw gateway` (client in the guest namespace, every byte via
# the transparent proxy) against a direct connection (client in the gw
# namespace, straight to nginx) in the same topology. Prints a table with
# the ratio gateway/direct. Medians of RUNS runs (default 3).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
CLIENT=$PWD/$BUILD/bench/bench_net
RUNS=${RUNS:-3}
CONNS=${CONNS:-2000}
PAR=${PAR:-4}
[ -x "$AGENTGW" ] && [ -x "$CLIENT" ] || { echo "SKIP: build first ($AGENTGW, $CLIENT)"; exit 77; }
GW_PID=
cleanup() {
	[ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	topo_down
}
topo_up
trap cleanup EXIT
cat >"$TOPO_DIR/policy.yaml" <<P
version: 1
name: bench
network:
  max_connections: 4096
  allow:
    - host: allowed.test
      ports: [80]
      http: [{ methods: [GET], paths: ["/small", "/big"] }]
  dns: { upstream: [$DNS_IP] }
P
in_gw "$AGENTGW" gateway --iface "$GUEST_IF" --policy "$TOPO_DIR/policy.yaml" \
	--audit "$TOPO_DIR/audit.db" --name "bn$TOPO_ID" >"$TOPO_DIR/gw.log" 2>&1 &
GW_PID=$!
wait_port "$NS_GW" "$GW_IP" 15001 10 || { cat "$TOPO_DIR/gw.log"; exit 1; }
# warm the DNS binding cache (the proxy reuses the guest's answers)
in_guest dig +short allowed.test >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p"; }

run() { # ns-runner mode -> lines
	local who=$1 what=$2 i
	for ((i = 0; i < RUNS; i++)); do
		case "$what" in
		conns) $who "$CLIENT" conns "$ALLOWED_IP" 80 allowed.test /small "$CONNS" "$PAR" ;;
		bulk) $who "$CLIENT" bulk "$ALLOWED_IP" 80 allowed.test /big ;;
		esac
	done
}

g_c=$(run in_guest conns) d_c=$(run in_gw conns)
g_b=$(run in_guest bulk) d_b=$(run in_gw bulk)
echo "$g_c" | grep -q failed\ 0 || echo "warning: failed connections through the gateway: $g_c"

row() { # name gw direct unit
	awk -v n="$1" -v g="$2" -v d="$3" -v u="$4" \
		'BEGIN { printf "| %-22s | %10s | %10s | %-5s | %6.2f |\n", n, g, d, u, (d > 0 ? g / d : 0) }'
}
echo "| metric                 |    gateway |     direct | unit  |  ratio |"
echo "|------------------------|------------|------------|-------|--------|"
row "new connections (x$PAR)" "$(echo "$g_c" | field cps | median)" "$(echo "$d_c" | field cps | median)" "1/s"
row "latency p50" "$(echo "$g_c" | field p50_ms | median)" "$(echo "$d_c" | field p50_ms | median)" "ms"
row "latency p99" "$(echo "$g_c" | field p99_ms | median)" "$(echo "$d_c" | field p99_ms | median)" "ms"
row "bulk 64 MiB download" "$(echo "$g_b" | field mbps | median)" "$(echo "$d_b" | field mbps | median)" "MB/s"
ev=$(sqlite3 "$TOPO_DIR/audit.db" "SELECT count(*) FROM event WHERE kind='http'" 2>/dev/null)
echo "(audit rows for http requests during the run: ${ev:-?})"
