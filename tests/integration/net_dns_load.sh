#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sustained DNS load (dnsperf, 4 clients x 64 queries in flight, 8 s)
# against the gateway's DNS: the net child answers cached names faster than
# the audit writer commits. The gateway must slow down (backpressure: the
# supervisor stops reading, the net child pauses its intake) rather than
# deny: SERVFAIL stays under 5% of the answers, and every answered query
# has its audit row (none lost). Real dnsperf, dnsmasq upstream, SQLite.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init dnsperf dig sqlite3
NAME=dl$TOPO_ID
SECS=${SECS:-8}
cat >"$POL" <<P
version: 1
name: dnsload
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
P
gw_start udp:53 --no-fs

# warm the resolver cache: the load is answered without upstream trips
in_guest dig +time=3 +tries=2 @"$GW_IP" allowed.test A >/dev/null
sql_poll 1 "SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='allowed.test'" ||
	bad "no audit row for the warm-up query"
base=$n
for _ in $(seq 1000); do echo "allowed.test A"; done >"$TOPO_DIR/queries"
out=$(timeout $((SECS + 20)) ip netns exec "$NS_GUEST" dnsperf -s "$GW_IP" -d "$TOPO_DIR/queries" \
	-l "$SECS" -c 4 -q 64 -t 2 2>&1)
num() { sed -n "s/^ *$1: *\([0-9]*\).*/\1/p" <<<"$out" | head -1; }
sent=$(num "Queries sent")
done_=$(num "Queries completed")
noerr=$(grep -o 'NOERROR [0-9]*' <<<"$out" | awk '{print $2}')
sfail=$(grep -o 'SERVFAIL [0-9]*' <<<"$out" | awk '{print $2}')
noerr=${noerr:-0} sfail=${sfail:-0}
echo "     dnsperf: sent ${sent:-?} completed ${done_:-?} NOERROR $noerr SERVFAIL $sfail"
if [ "${done_:-0}" -lt 1000 ]; then
	bad "dnsperf completed too few queries (${done_:-none}): $out"
else
	ok "dnsperf: $done_ queries answered in ${SECS}s"
	pct=$((sfail * 100 / done_))
	[ "$((sfail * 20))" -lt "$done_" ] && ok "SERVFAIL share under 5% ($pct%)" ||
		bad "SERVFAIL share $pct% ($sfail of $done_): the gateway denied under load"
fi

# every answered query has its row once the writer caught up (up to 30 s
# on a loaded machine; stopping would only give it 5 s before SIGKILL)
q="SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='allowed.test'"
for _ in $(seq 300); do
	n=$(sql "$q")
	[ "${n:-0}" -ge $((base + noerr + sfail)) ] && break
	sleep 0.1
done
gw_stop
rows=$(sql "SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='allowed.test'")
allow=$(sql "SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='allowed.test' AND decision='allow'")
rows=$((${rows:-0} - base)) allow=$((${allow:-0} - base))
echo "     audit rows: $rows (allow $allow)"
[ "$allow" -ge "$noerr" ] && ok "an allow row for each NOERROR answer ($allow >= $noerr)" ||
	bad "answers without their row: $noerr NOERROR, $allow allow rows"
[ "$rows" -ge "$((noerr + sfail))" ] && [ "$rows" -le "${sent:-0}" ] &&
	ok "rows between answered and sent ($((noerr + sfail)) <= $rows <= ${sent:-0})" ||
	bad "rows $rows not between answered $((noerr + sfail)) and sent ${sent:-0}"
grep -q "events are lost" "$TOPO_DIR/gw.log" && bad "the supervisor lost events" ||
	ok "no events lost (log)"

gw_finish 40
