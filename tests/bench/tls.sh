#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# HTTPS benchmark (issue 14): what TLS inspection costs, in the integration
# tests' topology (tests/lib/topo.sh). The same client (wrk, curl in the
# guest namespace) and server (nginx, HTTPS, allowed.test:443, 100-byte
# /small) for every row; only the gw namespace changes:
#   direct        no proxy: IPv4 forwarding on, no nftables table
#   passthrough   agentgw gateway, allowed.test:443 allowed, TLS passed
#                 through (decided on the SNI name, bytes relayed)
#   inspect       the same with `tls: inspect`: the guest's TLS ends at the
#                 gateway (leaf minted from the sandbox CA, cached), a new
#                 TLS connection upstream verified against upstream_ca, each
#                 request judged and audited
#   inspect-cred  inspect plus a credential injected in every request
#                 (x-api-key placeholder -> value, body scan)
#   squid-bump    squid-openssl intercepting port 443, peek then bump when
#                 the SNI is allowed, upstream verified, requests allowed by
#                 host: the same job (conf/squid-bump.sh and .conf)
# Metrics: new connections/s (wrk -H "Connection: close": one TLS
# handshake per request, both sides' with inspection), keep-alive
# requests/s (wrk), connection latency p50/p99 (curl time_total of LAT_N
# sequential requests, each on a new connection with a full handshake,
# --no-sessionid). Added latency = the row's figure minus direct's, and
# minus passthrough's for the inspected rows. The net child's CPU time per
# new connection (from /proc over the latency loop) is the figure that
# holds on a loaded machine: the gateway is one process, one core. Medians
# of RUNS interleaved
# runs; ratios to direct measured in the same run. Nothing is asserted.
# Env: BUILD, RUNS (5), SECS (3), CONNS (16), LAT_N (100), ROWS.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/topo.sh
. tests/bench/lib.sh
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
RUNS=${RUNS:-5}
SECS=${SECS:-3}
CONNS=${CONNS:-16}
LAT_N=${LAT_N:-100}
ROWS=${ROWS:-direct passthrough inspect inspect-cred squid-bump}
[ -x "$AGENTGW" ] || { echo "SKIP: build first ($AGENTGW)"; exit 77; }
for t in wrk curl nft; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed (tests/bench/deps.sh)"; exit 77; }
done

SRV_PID=
H=allowed.test
cleanup() {
	stop_srv
	topo_down
}
topo_up
trap cleanup EXIT
for ns in "$NS_GUEST" "$NS_GW" "$NS_NET"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" \
		net.ipv4.tcp_tw_reuse=1 >/dev/null
done
# Every row resolves the name the same way (the guest's hosts file).
echo "$ALLOWED_IP $H" >"/etc/netns/$NS_GUEST/hosts"
W=$TOPO_DIR/bench
mkdir -p "$W"
export AGENTGW_RUN_DIR=$W/run
export AGW_BENCH_KEY="sk-bench-$(head -c 16 /dev/urandom | xxd -p)"
CACERT=$TOPO_CA
HDR=()
. tests/bench/conf/squid-bump.sh
squid_bump_ready

# wrk sends the placeholder header for inspect-cred (wrk -H).
wrk_once() { # extra wrk args...; prints requests/s
	local out
	out=$(timeout $((SECS + 15)) ip netns exec "$NS_GUEST" wrk -t2 -c"$CONNS" -d"${SECS}s" \
		"${HDR[@]}" "$@" "https://$H/small" 2>&1)
	if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
		echo "  ($CUR_ROW: $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ' '))" >&2
	fi
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out"
}
# netcpu PID...: their user + system clock ticks together
# shellcheck disable=SC2086
netcpu() { [ $# -gt 0 ] && for p in "$@"; do cat "/proc/$p/stat"; done | awk '{ t += $14 + $15 } END { print t + 0 }'; }
measure_once() { # row
	local row=$1 net cpu0
	CUR_ROW=$row
	wrk_once -H "Connection: close" >>"$W/$row.cps"
	wrk_once >>"$W/$row.rps"
	# the net workers (one per CPU): a connection may go to any of them
	net=$([ -n "$SRV_PID" ] && pgrep -P "$SRV_PID" -x 'agentgw-net[0-9]*' | tr '\n' ' ')
	cpu0=$(netcpu $net)
	timeout 120 ip netns exec "$NS_GUEST" curl -sS --max-time 60 --no-sessionid --cacert "$CACERT" \
		"${HDR[@]}" -H "Connection: close" -w '\t%{http_code}\t%{time_total}\n' \
		"https://$H/small?[1-$LAT_N]" >"$W/$row.lat.raw"
	# the net child's CPU per new connection (clock ticks -> ms): what
	# the gateway itself spends, whatever the machine's load
	[ -n "$net" ] && awk -v a="$cpu0" -v b="$(netcpu $net)" -v n="$LAT_N" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.3f\n", (b - a) * 1000 / hz / n }' >>"$W/$row.cpu"
	bench_latency "$W" "$row" "$LAT_N"
}

start_gw() { # tls-mode with-credential
	{
		cat <<P
version: 1
name: benchtls
network:
  max_connections: 4096
  allow:
    - host: $H
      ports: [443]
      tls: $1
  tls: { upstream_ca: $TOPO_CA }
  dns: { upstream: [$DNS_IP] }
P
		[ "$2" = 1 ] && cat <<P
credentials:
  - { name: bench, env: BENCH_KEY, from: "env:AGW_BENCH_KEY", hosts: [$H], header: x-api-key }
P
	} >"$W/policy.yaml"
	ip netns exec "$NS_GW" "$AGENTGW" gateway --iface "$GUEST_IF" --policy "$W/policy.yaml" \
		--audit "$W/audit.db" --name "bt$TOPO_ID" --no-fs >"$W/gw.log" 2>&1 &
	SRV_PID=$!
	wait_port "$NS_GW" "$GW_IP" 15001 10 || { cat "$W/gw.log"; return 1; }
	# the guest folder is written just after the listeners exist
	for _ in $(seq 100); do [ -e "$AGENTGW_RUN_DIR/bt$TOPO_ID/guest/env" ] && break; sleep 0.05; done
	CACERT=$AGENTGW_RUN_DIR/bt$TOPO_ID/guest/ca.pem
	[ "$1" = inspect ] || CACERT=$TOPO_CA
	if [ "$2" = 1 ]; then
		HDR=(-H "x-api-key: $(sed -n 's/^BENCH_KEY=//p' "$AGENTGW_RUN_DIR/bt$TOPO_ID/guest/env")")
	fi
}

run_row() { # row
	local row=$1
	HDR=()
	CACERT=$TOPO_CA
	case "$row" in
	direct)
		in_gw sysctl -qw net.ipv4.ip_forward=1
		measure_once direct
		in_gw sysctl -qw net.ipv4.ip_forward=0
		;;
	passthrough) start_gw passthrough 0 && measure_once passthrough ;;
	inspect) start_gw inspect 0 && measure_once inspect ;;
	inspect-cred) start_gw inspect 1 && measure_once inspect-cred ;;
	squid-bump) squid_bump_row ;;
	*) echo "  unknown row $row" ;;
	esac
	stop_srv
}

declare -A res_cps res_rps res_p50 res_p99 res_cpu
echo "  (wrk -t2 -c$CONNS ${SECS}s over HTTPS; latency over $LAT_N new TLS connections a run; median of $RUNS interleaved runs)"
for row in $ROWS; do
	for m in cps rps p50 p99 cpu; do : >"$W/$row.$m"; done
done
for ((run = 1; run <= RUNS; run++)); do
	r0=$(date +%s)
	for row in $ROWS; do run_row "$row"; done
	echo "  run $run of $RUNS: $(($(date +%s) - r0)) s"
done
for row in $ROWS; do
	res_cps[$row]=$(median <"$W/$row.cps")
	res_rps[$row]=$(median <"$W/$row.rps")
	res_p50[$row]=$(median <"$W/$row.p50")
	res_p99[$row]=$(median <"$W/$row.p99")
	res_cpu[$row]=$(median <"$W/$row.cpu")
done
d() { awk -v a="$1" -v b="${2:-0}" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else printf "%+.3f", a - b }'; }
for row in $ROWS; do
	[ -s "$W/$row.cps" ] || continue
	printf '  %-13s conn/s %6s  keep-alive req/s %6s  p50 %7s ms (%s vs direct, %s vs passthrough)  p99 %7s ms (%s)  gateway CPU/conn %s ms\n' \
		"$row" "${res_cps[$row]}" "${res_rps[$row]}" "${res_p50[$row]}" \
		"$(d "${res_p50[$row]}" "${res_p50[direct]:-}")" "$(d "${res_p50[$row]}" "${res_p50[passthrough]:-}")" \
		"${res_p99[$row]}" "$(d "${res_p99[$row]}" "${res_p99[direct]:-}")" "${res_cpu[$row]}"
done
grep -qF "$AGW_BENCH_KEY" "$W/gw.log" "$W/audit.db" 2>/dev/null && echo "  WARNING: the bench key is in the log or the audit db"

ok() { [ -n "${1:-}" ] && [ "$1" != n/a ]; }
for row in $ROWS; do
	ok "${res_cps[$row]:-}" || continue
	bench_row tls "$row" "HTTPS new connections/s" 1/s "${res_cps[$row]}" direct "${res_cps[direct]:-}"
	bench_row tls "$row" "HTTPS keep-alive requests/s" 1/s "${res_rps[$row]}" direct "${res_rps[direct]:-}"
	bench_row tls "$row" "HTTPS connection latency p50" ms "${res_p50[$row]}" direct "${res_p50[direct]:-}"
	bench_row tls "$row" "HTTPS connection latency p99" ms "${res_p99[$row]}" direct "${res_p99[direct]:-}"
	ok "${res_cpu[$row]:-}" && bench_row tls "$row" "net child CPU per new HTTPS connection" ms \
		"${res_cpu[$row]}" passthrough "${res_cpu[passthrough]:-}"
done
exit 0
