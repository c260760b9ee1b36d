#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The audit row count per connection, exactly: the net child sends its
# events in one message per loop pass (netd.c), and nothing may be lost,
# merged or repeated on the way. Real clients in the guest namespace
# (curl, dig) through `agentgw gateway` to nginx and dnsmasq in the net
# namespace: N sequential new connections, one keep-alive connection with
# K requests, P connections at once (many events in one pass), D
# connections with a denied Host, Q DNS queries. Then the audit database
# must hold exactly the expected rows per kind/op/decision (packet drops
# aside: the link's own chatter), before and
# after the gateway stops.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 xargs
NAME=ar$TOPO_ID
N=40 K=15 P=32 D=10 Q=25
cat >"$POL" <<P
version: 1
name: auditrows
network:
  allow:
    - host: allowed.test
      ports: [80]
  dns: { upstream: [$DNS_IP] }
P
gw_start "tcp:15001 udp:53"

RES=(--resolve "allowed.test:80:$ALLOWED_IP" --resolve "other.test:80:$ALLOWED_IP")
gc() { in_guest curl -sS --max-time 10 "${RES[@]}" "$@"; }
codes() { sort | uniq -c | awk '{printf "%s:%s ", $2, $1}'; }

# N sequential connections (one curl, Connection: close each)
got=$(gc -H "Connection: close" -o /dev/null -w '%{http_code}\n' "http://allowed.test/?[1-$N]" | codes)
[ "$got" = "200:$N " ] && ok "$N new connections answered" || bad "new connections: $got"
# one connection, K requests
got=$(gc -o /dev/null -w '%{http_code} %{num_connects}\n' "http://allowed.test/?[1-$K]" |
	awk '{c += $2} $1 == 200 {n++} END {print n, c}')
[ "$got" = "$K 1" ] && ok "$K keep-alive requests on one connection" || bad "keep-alive: $got (200s, connects)"
# P at once
got=$(seq "$P" | xargs -P "$P" -I{} ip netns exec "$NS_GUEST" curl -sS --max-time 10 "${RES[@]}" \
	-H "Connection: close" -o /dev/null -w '%{http_code}\n' "http://allowed.test/?p={}" | codes)
[ "$got" = "200:$P " ] && ok "$P concurrent connections answered" || bad "concurrent: $got"
# D denied (other.test is not allowed: 403 from the gateway)
got=$(gc -H "Connection: close" -o /dev/null -w '%{http_code}\n' "http://other.test/?[1-$D]" | codes)
[ "$got" = "403:$D " ] && ok "$D denied connections refused" || bad "denied: $got"
# Q DNS queries
got=0
for _ in $(seq "$Q"); do
	in_guest dig +short +time=3 +tries=1 @"$GW_IP" allowed.test A | grep -qx "$ALLOWED_IP" && got=$((got + 1))
done
[ "$got" = "$Q" ] && ok "$Q DNS queries answered" || bad "DNS: $got of $Q answered"

ALLOW=$((N + 1 + P))
REQ=$((N + K + P))
# kind op decision count, as expected
expected="dns|query|allow|$Q
http|request|allow|$REQ
http|request|deny|$D
net|close|allow|$ALLOW
net|connect|allow|$ALLOW
net|connect|deny|$D"
Q_ROWS="SELECT kind, op, decision, count(*) FROM event WHERE kind IN ('dns', 'net', 'http') AND op != 'drop'
	GROUP BY kind, op, decision ORDER BY kind, op, decision"
check_rows() { # when
	local rows
	rows=$(sql "$Q_ROWS")
	if [ "$rows" = "$expected" ]; then
		ok "audit rows exactly as expected $1 ($ALLOW connect+close allow, $REQ requests, $D denied, $Q queries)"
	else
		bad "audit rows $1: got"
		echo "$rows" | sed 's/^/     /'
		echo "   expected"
		echo "$expected" | sed 's/^/     /'
	fi
}
# running: every pass's batch reaches the database (the writer commits
# every 50 ms); wait for the last close row, then nothing more may come
sql_poll "$ALLOW" "SELECT count(*) FROM event WHERE kind = 'net' AND op = 'close'" 0.1
sleep 0.5
check_rows "while running"
gw_stop
check_rows "after the gateway stopped"
gw_finish 40
