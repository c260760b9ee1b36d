#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Profiles `agentgw gateway` under one benchmark load (not part of
# `make bench`): the topology of tests/lib/topo.sh, agentgw on the guest
# link as in tests/bench/net.sh, the load from the guest namespace, and
# `perf record -g` on every agentgw process for the load's duration.
# Prints the top of `perf report` (self time by symbol, then by process)
# and keeps perf.data under $OUT.
#   LOAD=cps   wrk, one request per connection (new connections/s)
#   LOAD=rps   wrk, keep-alive
#   LOAD=dns   dnsperf, one allowed name
#   LOAD=bulk  curl, 64 MiB downloads one after the other
# PEER=haproxy: the same load and profile for HAProxy in TCP mode
# (tests/bench/conf/haproxy.cfg, nft redirect as in net.sh; cps and rps).
# Both print the context switches of the profiled processes per request.
# Env: BUILD, LOAD (cps), SECS (8), AUDIT (disk|shm), OUT (build/.../bench/profile),
# PEER (agentgw|haproxy)
set -u
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib/topo.sh
. tests/bench/lib.sh
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
LOAD=${LOAD:-cps}
PEER=${PEER:-agentgw}
SECS=${SECS:-8}
AUDIT=${AUDIT:-disk}
OUT=${OUT:-$PWD/$BUILD/bench/profile}
command -v perf >/dev/null || { echo "SKIP: perf not installed (apt-get install linux-perf)"; exit 77; }
mkdir -p "$OUT"
GW_PID=
SHM=
cleanup() {
	[ -n "$GW_PID" ] && kill -TERM "$GW_PID" 2>/dev/null && wait "$GW_PID" 2>/dev/null
	[ -n "$SHM" ] && rm -rf "$SHM"
	topo_down
}
topo_up
trap cleanup EXIT
for ns in "$NS_GUEST" "$NS_GW" "$NS_NET"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.ipv4.tcp_tw_reuse=1
done
cat >"$TOPO_DIR/policy.yaml" <<P
version: 1
name: bench
network:
  max_connections: 4096
  allow:
    - host: allowed.test
      ports: [80]
  dns: { upstream: [$DNS_IP] }
P
db=$TOPO_DIR/audit.db
if [ "$PEER" = haproxy ]; then
	bench_haproxy_start agw_pf
	pids=$GW_PID
else
	if [ "$AUDIT" = shm ]; then SHM=$(mktemp -d /dev/shm/agw-prof.XXXXXX); db=$SHM/audit.db; fi
	ip netns exec "$NS_GW" "$AGENTGW" gateway --iface "$GUEST_IF" --policy "$TOPO_DIR/policy.yaml" \
		--audit "$db" --name "pf$TOPO_ID" --no-fs >"$TOPO_DIR/gw.log" 2>&1 &
	GW_PID=$!
	wait_port "$NS_GW" "$GW_IP" 15001 10 && wait_udp "$NS_GW" "$GW_IP" 53 10 || { cat "$TOPO_DIR/gw.log"; exit 1; }
	pids=$(pgrep -d, -f "pf$TOPO_ID") # the supervisor and its children (their argv names the sandbox)
fi
echo "$PEER pids: $pids"
# Context switches of every thread of the profiled processes.
ctxsw() {
	local p t n=0
	for p in ${pids//,/ }; do
		for t in /proc/"$p"/task/*/status; do
			n=$((n + $(awk '/ctxt_switches/ {s += $2} END {print s + 0}' "$t" 2>/dev/null || echo 0)))
		done
	done
	echo "$n"
}
echo "allowed.test A" >"$TOPO_DIR/q"
case $LOAD in
cps) load=(wrk -t2 -c16 -d"${SECS}s" -H "Host: allowed.test" -H "Connection: close" "http://$ALLOWED_IP/small") ;;
rps) load=(wrk -t2 -c16 -d"${SECS}s" -H "Host: allowed.test" "http://$ALLOWED_IP/small") ;;
dns) load=(dnsperf -s "$GW_IP" -d "$TOPO_DIR/q" -l "$SECS" -c 4 -q 64 -t 2) ;;
bulk) load=(bash -c 'end=$((SECONDS + $1)); while [ $SECONDS -lt $end ]; do
	curl -s -o /dev/null -w "%{speed_download}\n" -H "Host: allowed.test" "http://$2/big"; done' - "$SECS" "$ALLOWED_IP") ;;
*) echo "LOAD: cps, rps, dns or bulk"; exit 2 ;;
esac
perf record -q -F 1999 -g -p "$pids" -o "$OUT/perf-$PEER-$LOAD.data" -- sleep "$((SECS + 1))" 2>/dev/null &
perf_pid=$!
# user and system CPU ticks of every thread: "tid comm utime stime"
ticks() {
	local p t
	for p in ${pids//,/ }; do
		for t in /proc/"$p"/task/*; do
			awk -v t="${t##*/}" '{sub(/^[^)]*\) /, ""); print t, $12, $13}' "$t"/stat 2>/dev/null |
				sed "s/^/$(tr -d ' ' <"$t"/comm) /"
		done
	done
}
ticks >"$TOPO_DIR/ticks0"
cs0=$(ctxsw)
ip netns exec "$NS_GUEST" "${load[@]}" >"$TOPO_DIR/load.out"
cs1=$(ctxsw)
ticks >"$TOPO_DIR/ticks1"
grep -E 'Requests/sec|Queries per second|errors' "$TOPO_DIR/load.out"
[ "$LOAD" = bulk ] && echo "downloads: $(wc -l <"$TOPO_DIR/load.out"), median $(sort -n "$TOPO_DIR/load.out" |
	awk '{v[NR] = $1} END {printf "%.0f MB/s", v[int((NR + 1) / 2)] / 1e6}')"
done_n=$(awk '/requests in/ {print $1} /Queries completed/ {print $3}' "$TOPO_DIR/load.out")
[ -n "$done_n" ] && [ "$done_n" -gt 0 ] &&
	echo "context switches per request: $(awk -v a="$cs0" -v b="$cs1" -v n="$done_n" 'BEGIN {printf "%.2f", (b - a) / n}')" &&
	echo "CPU per request by thread (us, user + system):" &&
	awk -v n="$done_n" -v hz="$(getconf CLK_TCK)" 'NR == FNR {u[$2] = $3; s[$2] = $4; next}
		{du = ($3 - u[$2]) * 1e6 / hz / n; ds = ($4 - s[$2]) * 1e6 / hz / n; tu += du; ts += ds
		 if (du + ds > 0) printf "  %-16s %6.1f + %6.1f\n", $1 "/" $2, du, ds}
		END {printf "  %-16s %6.1f + %6.1f\n", "total", tu, ts}' "$TOPO_DIR/ticks0" "$TOPO_DIR/ticks1"
wait "$perf_pid"
echo "--- self time by process/thread"
perf report -i "$OUT/perf-$PEER-$LOAD.data" --no-children --sort pid --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
echo "--- self time by symbol"
perf report -i "$OUT/perf-$PEER-$LOAD.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -${TOP:-40}
[ "$PEER" = agentgw ] && echo "events in the audit database: $(sqlite3 "$db" 'SELECT count(*) FROM event' 2>/dev/null)"
