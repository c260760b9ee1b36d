#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Network benchmark: agentgw's transparent proxy against the tools people
# would use instead, in the integration tests' namespace topology
# (tests/lib/topo.sh). The same client (wrk, curl, dnsperf in the guest
# namespace) and the same server (nginx, dnsmasq in the net namespace) for
# every row; only what sits in the gw namespace on the guest link changes:
#   direct      no proxy: IPv4 forwarding on in the gw namespace only, no
#               nftables table (the reference and the limit)
#   haproxy     HAProxy in TCP mode, transparent: nft redirect + SO_ORIGINAL_DST
#               (conf/haproxy.cfg)
#   haproxy1    the same with one thread (nbthread 1), as agentgw runs one
#               event loop per sandbox (not in the default ROWS)
#   squid       squid in intercept mode, HTTP only (conf/squid.conf)
#   tinyproxy   explicit forward proxy, the client uses it (conf/tinyproxy.conf)
#   agentgw     `agentgw gateway --iface gw0 --policy P --audit DB --no-fs`:
#               its own nftables table, DNS and transparent proxy, the policy
#               allows allowed.test port 80, audit database on disk (ext4)
#   agentgw-shmaudit  the same with the audit database on tmpfs (/dev/shm):
#               agentgw cannot turn auditing off (--audit is always a SQLite
#               file; ":memory:" is refused, it needs WAL), so this row shows
#               what the disk writes cost, and direct is the "audit off" bound
# Metrics: new connections/s (wrk -H "Connection: close", 100-byte
# response), keep-alive requests/s (wrk), 64 MiB downloads MB/s (curl, the
# median of BULK_N in a row),
# connection latency p50/p99 (curl time_total of LAT_N sequential requests,
# each on a new connection; connect + request + response). The added
# latency is the row's figure minus direct's (printed as +x). DNS:
# queries/s (dnsperf, one allowed name) against agentgw's DNS and against
# dnsmasq forwarding to the same upstream on the same address, with its
# default cache (the reference) and with --cache-size=0 (agentgw's DNS has
# no cache: every query goes upstream). Each figure is the median of RUNS
# runs; the runs are interleaved (every row once, then again), so a change
# in load hits all rows alike; the ratio is to the reference (direct, or
# dnsmasq) measured in this run. CPU per operation: the proxy's processes'
# CPU time (/proc utime+stime, children included) during each wrk/dnsperf
# run divided by the requests or queries it served; on a loaded machine it
# is steadier than throughput (another process's load slows every row but
# costs the proxy no CPU). Also per operation: the proxy's system share of
# that CPU, the whole machine's busy CPU (client, server and proxy), and
# from them the budget a proxy has for 1.1x HAProxy's rate on this machine
# (see "The CPU budget" below). Every load is bounded in time; nothing is
# asserted.
#   agentgw-ref  the agentgw row with another build, $AGENTGW_REF (an older
#               commit's binary): before/after comparisons in one run
# Env: BUILD, RUNS (5), SECS per wrk/dnsperf run (3), CONNS wrk connections
# (16), LAT_N (200), BULK_N 64 MiB downloads per run (5, their median), ROWS (space-separated subset of the rows above),
# AGENTGW_REF (the agentgw-ref row's binary), BENCH_KEEP (a folder that
# gets every run's figures: <row>.<metric>, one line per run, in run order).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/topo.sh
. tests/bench/lib.sh
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
CONF=$PWD/tests/bench/conf
RUNS=${RUNS:-5}
SECS=${SECS:-3}
CONNS=${CONNS:-16}
LAT_N=${LAT_N:-200}
BULK_N=${BULK_N:-5}
ROWS=${ROWS:-direct haproxy squid tinyproxy agentgw agentgw-shmaudit}
[ -x "$AGENTGW" ] || { echo "SKIP: build first ($AGENTGW)"; exit 77; }
for t in wrk curl dnsperf nft; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed (tests/bench/deps.sh)"; exit 77; }
done

SRV_PID=
HOSTNAME_T=allowed.test
URL_HOST=http://$HOSTNAME_T
SHM=
cleanup() {
	stop_srv
	[ -n "$SHM" ] && rm -rf "$SHM"
	# every run's figures, one file per row and metric, for per-run ratios
	[ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" && cp "$W"/*.{cps,rps,mbps,p50,p99,qps,cpu*,sys*,mach*} "$BENCH_KEEP"/ 2>/dev/null
	topo_down
}
topo_up
trap cleanup EXIT

# Connection churn: many short connections from one client address.
for ns in "$NS_GUEST" "$NS_GW" "$NS_NET"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" \
		net.ipv4.tcp_tw_reuse=1 >/dev/null
done
W=$TOPO_DIR/bench
mkdir -p "$W"
# squid and tinyproxy drop root: let them reach their folders below
chmod 711 "$TOPO_DIR" "$W"
echo "$HOSTNAME_T A" >"$W/queries"
# wrk through an explicit proxy: absolute-URI requests to the proxy's port
printf 'wrk.path = "%s/small"\n' "$URL_HOST" >"$W/proxy-small.lua"

fill() { # template -> stdout, @...@ fields filled in
	sed -e "s|@DIR@|$W|g" -e "s|@GW_IP@|$GW_IP|g" -e "s|@GUEST_NET@|10.77.0.0/30|g" \
		-e "s|@DNS_IP@|$DNS_IP|g" -e "s|@PORT@|$2|g" "$1"
}

# nft redirect of the guest's TCP port 80 to a local port (haproxy, squid).
redirect_on() {
	in_gw nft -f - <<EOF
table ip agw_bench {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "$GUEST_IF" tcp dport 80 redirect to :$1
	}
}
EOF
}
redirect_off() { in_gw nft delete table ip agw_bench 2>/dev/null; return 0; }

# ---- measurements; PROXY_OPT is set for the explicit proxy
PROXY_OPT=()
# CPU ticks of the proxy under test, SRV_PID and its children: utime+stime,
# or with "sys" stime alone (the kernel's share: system calls, and the
# TCP/IP work softirqs do in the proxy's context).
srv_ticks() { # [sys]
	local p t=0 v
	[ -n "$SRV_PID" ] || { echo 0; return; }
	for p in "$SRV_PID" $(pgrep -P "$SRV_PID"); do
		v=$(awk -v s="${1:-}" '{sub(/^.*\) /, ""); print (s == "sys" ? 0 : $12) + $13}' \
			"/proc/$p/stat" 2>/dev/null) && t=$((t + ${v:-0}))
	done
	echo "$t"
}
# Busy CPU ticks of the whole machine (every CPU: user, nice, system, irq,
# softirq; not steal): client, server, proxy and the kernel's network work.
mach_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# cpu_per N T0 OUT [TICKS-CMD]: microseconds of proxy CPU (or of what
# TICKS-CMD counts) per operation since T0 ticks
cpu_per() {
	local t1
	[ "${1:-0}" -gt 0 ] 2>/dev/null || return 0
	[ -n "$SRV_PID" ] || [ "${4:-srv_ticks}" = mach_ticks ] || return 0
	t1=$(${4:-srv_ticks})
	awk -v n="$1" -v d="$((t1 - $2))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f\n", d * 1e6 / hz / n }' >>"$3"
}
# cpu_all N T0 TS0 TM0 ROW KIND: the proxy's CPU, its system share and the
# machine's busy CPU per operation, to ROW.cpuKIND, .sysKIND, .machKIND
cpu_all() {
	cpu_per "$1" "$2" "$W/$5.cpu$6"
	cpu_per "$1" "$3" "$W/$5.sys$6" "srv_ticks sys"
	cpu_per "$1" "$4" "$W/$5.mach$6" mach_ticks
}
WRK_N=0
wrk_once() { # extra wrk args...; prints requests/s, total requests in WRK_N
	local out
	out=$(timeout $((SECS + 15)) ip netns exec "$NS_GUEST" wrk -t2 -c"$CONNS" -d"${SECS}s" \
		-H "Host: $HOSTNAME_T" "$@" 2>&1)
	if grep -qE 'Socket errors|Non-2xx' <<<"$out"; then
		echo "  ($CUR_ROW: $(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr -s ' ' | tr '\n' ' '))" >&2
	fi
	WRK_N=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<<"$out")
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out"
}
wrk_target() { # path -> args for wrk
	if [ ${#PROXY_OPT[@]} -gt 0 ]; then
		echo "-s $W/proxy-$1.lua http://$GW_IP:8888/"
	else
		echo "http://$ALLOWED_IP/$1"
	fi
}
curl_g() { # curl in the guest, against allowed.test (via the proxy if any)
	timeout 60 ip netns exec "$NS_GUEST" curl -sS --max-time 30 \
		--resolve "$HOSTNAME_T:80:$ALLOWED_IP" "${PROXY_OPT[@]}" "$@"
}

# One run of every net metric for a row; appends to $W/<row>.<metric>.
measure_once() { # row
	local row=$1 v t0 ts0 tm0
	CUR_ROW=$row
	t0=$(srv_ticks) ts0=$(srv_ticks sys) tm0=$(mach_ticks)
	# shellcheck disable=SC2046
	wrk_once -H "Connection: close" $(wrk_target small) >>"$W/$row.cps"
	cpu_all "$WRK_N" "$t0" "$ts0" "$tm0" "$row" cps
	t0=$(srv_ticks) ts0=$(srv_ticks sys) tm0=$(mach_ticks)
	# shellcheck disable=SC2046
	wrk_once $(wrk_target small) >>"$W/$row.rps"
	cpu_all "$WRK_N" "$t0" "$ts0" "$tm0" "$row" rps
	# BULK_N downloads in a row (one ~60 ms download alone is at the
	# mercy of one scheduling hiccup): the run's figure is their median
	t0=$(srv_ticks) ts0=$(srv_ticks sys)
	curl_g -o /dev/null -w '%{speed_download}\n' "$URL_HOST/big?[1-$BULK_N]" |
		awk '{ printf "%.1f\n", $1 / 1e6 }' | median >>"$W/$row.mbps"
	cpu_per "$((BULK_N * 67))" "$t0" "$W/$row.cpumb" # per MB (64 MiB = 67 MB)
	cpu_per "$((BULK_N * 67))" "$ts0" "$W/$row.sysmb" "srv_ticks sys"
	# LAT_N sequential requests, one new connection each, in one curl
	# process: time_total = connect + request + response + close
	curl_g -H "Connection: close" -H "Proxy-Connection: close" \
		-w '\t%{http_code}\t%{time_total}\n' "$URL_HOST/small?[1-$LAT_N]" >"$W/$row.lat.raw"
	bench_latency "$W" "$row" "$LAT_N"
}
dnsperf_once() { # server [row] -> queries/s; with row, CPU per query to $W/row.cpuqps
	local out t0
	t0=$(srv_ticks)
	out=$(timeout $((SECS + 15)) ip netns exec "$NS_GUEST" dnsperf -s "$1" -d "$W/queries" \
		-l "$SECS" -c 4 -q 64 -t 2 2>&1)
	[ -n "${2:-}" ] && cpu_per "$(sed -n 's/^ *Queries completed: *\([0-9]*\).*/\1/p' <<<"$out")" \
		"$t0" "$W/$2.cpuqps"
	# the share of SERVFAIL answers (agentgw: denied, audit unavailable)
	[ -n "${2:-}" ] && awk '/Queries completed:/ { c = $3 } /SERVFAIL/ { for (i = 1; i < NF; i++)
		if ($i == "SERVFAIL") f = $(i + 1) } END { if (c) printf "%.1f\n", 100 * f / c }' \
		<<<"$out" >>"$W/$2.sfail"
	sed -n 's/^ *Queries per second: *\([0-9.]*\).*/\1/p' <<<"$out"
}

start_gw() { # audit-db [binary]
	cat >"$W/policy.yaml" <<P
version: 1
name: bench
network:
  max_connections: 4096
  allow:
    - host: $HOSTNAME_T
      ports: [80]
  dns: { upstream: [$DNS_IP] }
P
	ip netns exec "$NS_GW" "${2:-$AGENTGW}" gateway --iface "$GUEST_IF" --policy "$W/policy.yaml" \
		--audit "$1" --name "bn$TOPO_ID" --no-fs >"$W/gw.log" 2>&1 &
	SRV_PID=$!
	wait_port "$NS_GW" "$GW_IP" 15001 10 && wait_udp "$NS_GW" "$GW_IP" 53 10 ||
		{ cat "$W/gw.log"; return 1; }
}
start_dnsmasq() { # extra dnsmasq args: a forwarder of the same upstream, where agentgw's DNS listens
	ip netns exec "$NS_GW" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
		--user=root --group=root --listen-address="$GW_IP" --bind-interfaces \
		--port=53 --server="$DNS_IP" --keep-in-foreground --pid-file="$W/dnsmasq.pid" "$@" &
	SRV_PID=$!
	wait_udp "$NS_GW" "$GW_IP" 53 10
}

# One run of one row: start the peer, measure, stop it. Rows are
# interleaved run by run (direct, haproxy, ..., direct, haproxy, ...), so a
# change in the machine's load hits every row alike, not one row.
run_row() { # row
	local row=$1
	PROXY_OPT=()
	case "$row" in
	direct)
		in_gw sysctl -qw net.ipv4.ip_forward=1
		measure_once direct
		in_gw sysctl -qw net.ipv4.ip_forward=0
		;;
	dnsmasq)
		start_dnsmasq && dnsperf_once "$GW_IP" dnsmasq >>"$W/dnsmasq.qps"
		stop_srv
		;;
	dnsmasq-nocache)
		start_dnsmasq --cache-size=0 && dnsperf_once "$GW_IP" dnsmasq-nocache >>"$W/dnsmasq-nocache.qps"
		stop_srv
		;;
	haproxy | haproxy1)
		command -v haproxy >/dev/null || { echo "  haproxy: not installed"; return; }
		# haproxy1: one thread, as agentgw's one event loop per sandbox
		fill "$CONF/haproxy.cfg" 3130 |
			if [ "$row" = haproxy1 ]; then sed '/^global/a\	nbthread 1'; else cat; fi >"$W/haproxy.cfg"
		ip netns exec "$NS_GW" haproxy -db -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
		SRV_PID=$!
		if wait_port "$NS_GW" "$GW_IP" 3130 10 && redirect_on 3130; then measure_once "$row"
		else cat "$W/haproxy.log"; fi
		redirect_off
		stop_srv
		;;
	squid)
		command -v squid >/dev/null || { echo "  squid: not installed"; return; }
		mkdir -p "$W/squid" && chown proxy: "$W/squid" 2>/dev/null
		fill "$CONF/squid.conf" 3129 >"$W/squid.conf"
		ip netns exec "$NS_GW" squid -N -f "$W/squid.conf" >"$W/squid.out" 2>&1 &
		SRV_PID=$!
		if wait_port "$NS_GW" "$GW_IP" 3129 20 && redirect_on 3129; then measure_once squid
		else cat "$W/squid.out" "$W/squid/cache.log" 2>/dev/null | tail -20; fi
		redirect_off
		stop_srv
		;;
	tinyproxy)
		command -v tinyproxy >/dev/null || { echo "  tinyproxy: not installed"; return; }
		mkdir -p "$W/tinyproxy" && chmod 777 "$W/tinyproxy"
		fill "$CONF/tinyproxy.conf" 8888 >"$W/tinyproxy.conf"
		ip netns exec "$NS_GW" tinyproxy -d -c "$W/tinyproxy.conf" >"$W/tinyproxy.out" 2>&1 &
		SRV_PID=$!
		PROXY_OPT=(-x "http://$GW_IP:8888")
		if wait_port "$NS_GW" "$GW_IP" 8888 10; then measure_once tinyproxy
		else cat "$W/tinyproxy.out"; fi
		stop_srv
		;;
	agentgw)
		if start_gw "$W/audit.db"; then
			measure_once agentgw
			sleep 1 # let the audit writer catch up before the DNS load
			dnsperf_once "$GW_IP" agentgw >>"$W/agentgw.qps"
		fi
		stop_srv
		gw_rows=$(sqlite3 "$W/audit.db" "SELECT count(*) FROM event" 2>/dev/null)
		;;
	agentgw-ref)
		[ -x "${AGENTGW_REF:-}" ] || { echo "  agentgw-ref: set AGENTGW_REF to a binary"; return; }
		if start_gw "$W/audit-ref.db" "$AGENTGW_REF"; then
			measure_once agentgw-ref
			sleep 1
			dnsperf_once "$GW_IP" agentgw-ref >>"$W/agentgw-ref.qps"
		fi
		stop_srv
		;;
	agentgw-shmaudit)
		SHM=$(mktemp -d /dev/shm/agw-bench.XXXXXX)
		if start_gw "$SHM/audit.db"; then
			measure_once agentgw-shmaudit
			sleep 1
			dnsperf_once "$GW_IP" agentgw-shmaudit >>"$W/agentgw-shmaudit.qps"
		fi
		stop_srv
		rm -rf "$SHM"
		SHM=
		;;
	*) echo "  unknown row $row" ;;
	esac
}

# Every per-run figure: $W/<row>.<metric>, one line per run; res_<metric>[row]
# is its median.
METRICS="cps rps mbps p50 p99 qps cpucps cpurps cpuqps sfail syscps sysrps machcps machrps cpumb sysmb"
declare -A res_cps res_rps res_mbps res_p50 res_p99 res_qps res_cpucps res_cpurps res_cpuqps res_sfail \
	res_syscps res_sysrps res_machcps res_machrps res_cpumb res_sysmb # one per metric, by name for shellcheck
echo "  (wrk -t2 -c$CONNS ${SECS}s; dnsperf -c4 -q64 ${SECS}s; latency over $LAT_N new connections a run; median of $RUNS interleaved runs)"
DNS_ROWS=
for row in $ROWS; do
	case $row in direct) DNS_ROWS="dnsmasq dnsmasq-nocache" ;; esac
done
for row in $ROWS $DNS_ROWS; do
	for m in $METRICS; do : >"$W/$row.$m"; done
done
gw_rows=
for ((run = 1; run <= RUNS; run++)); do
	r0=$(date +%s)
	for row in $ROWS $DNS_ROWS; do run_row "$row"; done
	echo "  run $run of $RUNS: $(($(date +%s) - r0)) s"
done
[ -n "$gw_rows" ] && echo "  (agentgw audit rows in the last run's database: $gw_rows)"
for row in $ROWS $DNS_ROWS; do
	for m in $METRICS; do printf -v "res_${m}[$row]" '%s' "$(median <"$W/$row.$m")"; done
	res_qps[$row]=$(awk '$1 != "n/a" { printf "%.0f\n", $1 }' <<<"${res_qps[$row]}")
done
for row in $ROWS; do
	[ -s "$W/$row.cps" ] || continue
	printf '  %-17s conn/s %6.0f  keep-alive req/s %6.0f  64MiB %6.1f MB/s  p50 %6.3f ms (+%.3f)  p99 %6.3f ms (+%.3f)\n' \
		"$row" "${res_cps[$row]}" "${res_rps[$row]}" "${res_mbps[$row]}" \
		"${res_p50[$row]}" "$(awk -v a="${res_p50[$row]}" -v b="${res_p50[direct]:-0}" 'BEGIN {print a - b}')" \
		"${res_p99[$row]}" "$(awk -v a="${res_p99[$row]}" -v b="${res_p99[direct]:-0}" 'BEGIN {print a - b}')"
done
for row in $ROWS; do
	[ "${res_cpucps[$row]:-n/a}" != n/a ] &&
		printf '  %-17s proxy CPU per new connection %6s us, per keep-alive request %6s us\n' \
			"$row" "${res_cpucps[$row]}" "${res_cpurps[$row]}"
done
ok() { [ -n "${1:-}" ] && [ "$1" != n/a ]; }
for row in $ROWS; do
	ok "${res_machcps[$row]:-}" || continue
	printf '  %-17s machine CPU per new connection %6s us (proxy %s, its system share %s; busy %s%%); per keep-alive request %6s us (proxy %s, system %s)\n' \
		"$row" "${res_machcps[$row]}" "${res_cpucps[$row]:-n/a}" "${res_syscps[$row]:-n/a}" \
		"$(awk -v m="${res_machcps[$row]}" -v r="${res_cps[$row]}" -v n="$(nproc)" 'BEGIN { printf "%.0f", m * r / 1e4 / n }')" \
		"${res_machrps[$row]}" "${res_cpurps[$row]:-n/a}" "${res_sysrps[$row]:-n/a}"
done
# The CPU budget (issue 16's "why it cannot go lower"). Where the proxy, the
# client and the server share the machine's cores and keep them busy (the
# "busy" share above), rates go inversely with the machine's CPU per
# operation. 1.1x HAProxy's rate needs the machine to spend 1/1.1 of what it
# spends with HAProxy: the proxy may cost HAProxy's CPU minus 1/11 of the
# machine's (the budget). What is left of it once the row's own system CPU
# (system calls, and the TCP/IP work softirqs do in its context) is paid is
# the room for everything it does in user space.
budget() { # what key row
	local row=$3 hm="res_mach$2[haproxy]" hc="res_cpu$2[haproxy]" rs="res_sys$2[$3]" rc="res_cpu$2[$3]"
	ok "${!hm:-}" && ok "${!hc:-}" && ok "${!rs:-}" && ok "${!rc:-}" || return 0
	awk -v what="$1" -v row="$row" -v m="${!hm}" -v c="${!hc}" -v s="${!rs}" -v t="${!rc}" 'BEGIN {
		b = c - m * (1 - 1 / 1.1)
		printf "  %-17s 1.1x haproxy needs <= %.1f us per %s; its system CPU is %.1f: %.1f us left for user space, where it spends %.1f\n",
			row, b, what, s, b - s, t - s
	}'
}
for row in $ROWS; do
	case $row in direct | haproxy) continue ;; esac
	budget "new connection" cps "$row"
	budget "keep-alive request" rps "$row"
done
# Bulk: one stream is not CPU-bound the way many connections are (the
# machine is not kept busy), so no budget: the proxy's CPU per MB, which
# splice lowers, and its system share.
for row in $ROWS; do
	ok "${res_cpumb[$row]:-}" || continue
	printf '  %-17s 64 MiB downloads: proxy CPU per MB %s us (system %s)\n' "$row" "${res_cpumb[$row]}" \
		"${res_sysmb[$row]:-n/a}"
done
for row in $DNS_ROWS agentgw agentgw-ref agentgw-shmaudit; do
	[ -n "${res_qps[$row]:-}" ] && printf '  %-17s DNS queries/s %8s  CPU per query %6s us  SERVFAIL %5s%%\n' \
		"$row" "${res_qps[$row]}" "${res_cpuqps[$row]:-n/a}" "${res_sfail[$row]:-n/a}"
done

# ---- rows for the combined table (reference: direct / dnsmasq, same run)
for row in $ROWS; do
	ok "${res_cps[$row]:-}" || continue
	bench_row net "$row" "new connections/s" 1/s "${res_cps[$row]}" direct "${res_cps[direct]:-}"
	bench_row net "$row" "keep-alive requests/s" 1/s "${res_rps[$row]}" direct "${res_rps[direct]:-}"
	bench_row net "$row" "64 MiB download" MB/s "${res_mbps[$row]}" direct "${res_mbps[direct]:-}"
	bench_row net "$row" "connection latency p50" ms "${res_p50[$row]}" direct "${res_p50[direct]:-}"
	bench_row net "$row" "connection latency p99" ms "${res_p99[$row]}" direct "${res_p99[direct]:-}"
done
for row in $ROWS; do
	ok "${res_cpucps[$row]:-}" || continue
	bench_row net "$row" "CPU per new connection" us "${res_cpucps[$row]}" haproxy "${res_cpucps[haproxy]:-}"
	bench_row net "$row" "CPU per keep-alive request" us "${res_cpurps[$row]}" haproxy "${res_cpurps[haproxy]:-}"
	ok "${res_syscps[$row]:-}" &&
		bench_row net "$row" "system CPU per new connection" us "${res_syscps[$row]}" haproxy "${res_syscps[haproxy]:-}"
done
for row in $ROWS; do
	ok "${res_machcps[$row]:-}" || continue
	bench_row net "$row" "machine CPU per new connection" us "${res_machcps[$row]}" haproxy "${res_machcps[haproxy]:-}"
	bench_row net "$row" "machine CPU per keep-alive request" us "${res_machrps[$row]}" haproxy "${res_machrps[haproxy]:-}"
done
for row in dnsmasq dnsmasq-nocache agentgw agentgw-ref agentgw-shmaudit; do
	ok "${res_qps[$row]:-}" || continue
	bench_row dns "$row" "queries/s (allowed name)" 1/s "${res_qps[$row]}" dnsmasq "${res_qps[dnsmasq]:-}"
	ok "${res_cpuqps[$row]:-}" &&
		bench_row dns "$row" "CPU per query" us "${res_cpuqps[$row]}" dnsmasq "${res_cpuqps[dnsmasq]:-}"
done
# Audit on vs off: agentgw cannot run without its audit database, so the
# proxy with the database on disk and on tmpfs is compared to direct (no
# proxy, nothing recorded): the upper bound of "audit off".
for row in agentgw agentgw-shmaudit; do
	ok "${res_cps[$row]:-}" || continue
	case $row in agentgw) r="proxy, audit db on disk" ;; *) r="proxy, audit db on tmpfs" ;; esac
	bench_row audit "$r" "new connections/s" 1/s "${res_cps[$row]}" "direct (no audit)" "${res_cps[direct]:-}"
	bench_row audit "$r" "keep-alive requests/s" 1/s "${res_rps[$row]}" "direct (no audit)" "${res_rps[direct]:-}"
	bench_row audit "$r" "DNS queries/s" 1/s "${res_qps[$row]:-}" "dnsmasq-nocache" "${res_qps[dnsmasq-nocache]:-}"
done
exit 0
