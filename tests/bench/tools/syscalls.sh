#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Counts the system calls `agentgw gateway` makes per proxied request (not
# part of `make bench`): the topology of tests/lib/topo.sh, agentgw on the
# guest link as in tests/bench/net.sh, `strace -c -f` attached to the
# supervisor and the net child while one curl in the guest makes N
# sequential requests, each on a new connection (MODE=close) or all on
# one keep-alive connection (MODE=keepalive). Prints each process's
# summary and the upstream resolver's query count for the same requests.
# MODE=dns: N queries for one allowed name with dnsperf instead.
# Also prints the upstream resolver's round trip from the gw namespace
# (what a resolver cache would save per new connection).
# PEER=haproxy: the same for HAProxy in TCP mode (tests/bench/conf/
# haproxy.cfg, nft redirect as in net.sh) instead of agentgw (close and
# keepalive only): what a transparent relay that decides nothing costs.
# Env: BUILD, N (500), MODE (close|keepalive|dns), PEER (agentgw|haproxy)
set -u
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib/topo.sh
. tests/bench/lib.sh
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
N=${N:-500}
MODE=${MODE:-close}
PEER=${PEER:-agentgw}
command -v strace >/dev/null || { echo "SKIP: strace not installed"; exit 77; }
GW_PID=
ST_PIDS=()
cleanup() {
	local p
	for p in "${ST_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
	[ -n "$GW_PID" ] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	topo_down
}
topo_up
trap cleanup EXIT
cat >"$TOPO_DIR/policy.yaml" <<P
version: 1
name: bench
network:
  allow:
    - host: allowed.test
      ports: [80]
  dns: { upstream: [$DNS_IP] }
P
if [ "$PEER" = haproxy ]; then
	bench_haproxy_start agw_sc
	PIDS=$GW_PID
else
	ip netns exec "$NS_GW" "$AGENTGW" gateway --iface "$GUEST_IF" --policy "$TOPO_DIR/policy.yaml" \
		--audit "$TOPO_DIR/audit.db" --name "sc$TOPO_ID" --no-fs >"$TOPO_DIR/gw.log" 2>&1 &
	GW_PID=$!
	wait_port "$NS_GW" "$GW_IP" 15001 10 || { cat "$TOPO_DIR/gw.log"; exit 1; }
	PIDS=$(pgrep -f "sc$TOPO_ID")
fi
for p in $PIDS; do
	strace -c -f -p "$p" -o "$TOPO_DIR/strace.$p" 2>/dev/null &
	ST_PIDS+=($!)
done
sleep 1
q0=$(grep -c 'query\[A\] allowed.test' "$TOPO_DIR/dnsmasq.log")
case $MODE in
close | keepalive)
	hdr=()
	[ "$MODE" = close ] && hdr=(-H "Connection: close")
	ip netns exec "$NS_GUEST" curl -s -o /dev/null "${hdr[@]}" \
		--resolve "allowed.test:80:$ALLOWED_IP" "http://allowed.test/small?[1-$N]"
	;;
dns)
	echo "allowed.test A" >"$TOPO_DIR/q"
	ip netns exec "$NS_GUEST" dnsperf -s "$GW_IP" -d "$TOPO_DIR/q" -n "$N" -c 1 -q 8 |
		grep -E 'Queries (completed|lost)'
	;;
*) echo "MODE: close, keepalive or dns"; exit 2 ;;
esac
sleep 1
for p in "${ST_PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
wait "${ST_PIDS[@]}" 2>/dev/null
ST_PIDS=()
q1=$(grep -c 'query\[A\] allowed.test' "$TOPO_DIR/dnsmasq.log")
for f in "$TOPO_DIR"/strace.*; do
	p=${f##*.}
	echo "== pid $p ($(tr '\0' ' ' </proc/"$p"/cmdline 2>/dev/null | cut -c1-60)), $N requests, MODE=$MODE"
	awk -v n="$N" 'NR <= 2 { print; next } /^-/ { next }
		{ printf "%s   (%.1f per request)\n", $0, $4 / n }' "$f" | head -24
done
echo "upstream A queries for allowed.test during the $N requests: $((q1 - q0))"
echo "allowed.test A" >"$TOPO_DIR/q1"
echo "upstream resolver round trip from the gw namespace (dnsperf, 1 query in flight): $(
	ip netns exec "$NS_GW" dnsperf -s "$DNS_IP" -d "$TOPO_DIR/q1" -n 2000 -c 1 -q 1 |
		sed -n 's/^ *Average Latency (s): *\([0-9.]*\).*/\1/p' | awk '{ printf "%.3f ms", $1 * 1000 }')"
