#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `agentgw gateway --net-workers 2` (issue 16): two net worker processes
# with their own event loops accept from the one proxy listener; the first
# also serves DNS. Real clients in the guest namespace:
#   - two net processes, both confined (uid nobody, seccomp), each logging
#     as itself (net, net1), and both accept connections (200, 16 at once:
#     one worker is woken per connection, the second when the first is
#     busy);
#   - the DNS bindings are shared: after `dig allowed.test` (answered by
#     worker 0) 40 connections at once by address, carrying neither TLS nor
#     HTTP, are allowed "via binding" whichever worker took them (each after
#     a dig: the test DNS answers with TTL 0);
#   - network.max_connections is the sandbox's, not a worker's: reloaded to
#     6 (both workers apply it), with 6 held open (spread over both
#     workers) the 7th is refused;
#   - reloads are applied by both workers (two applied rows), and kill -9
#     of worker 1 stops the gateway.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 pgrep nc xargs

NAME=nw$TOPO_ID
export AGENTGW_RUN_DIR=$TOPO_DIR/run
cat >"$POL" <<P
version: 1
name: workers
network:
  allow:
    - host: allowed.test
      ports: [80, 443]
  dns: { upstream: [$DNS_IP] }
  max_connections: 100
P
gw_start "tcp:15001 udp:53" --no-fs --net-workers 2 -vv

echo "== two workers"
# each drops to nobody and confines itself once its sockets are open
for _ in $(seq 600); do
	[ "$(grep -c 'agentgw\[net1\?\] debug: net child ready' "$TOPO_DIR/gw.log")" = 2 ] && break
	sleep 0.05
done
[ "$(grep -c 'agentgw\[net1\?\] debug: net child ready' "$TOPO_DIR/gw.log")" = 2 ] &&
	ok "both workers ready" || bad "workers ready: $(grep 'child ready' "$TOPO_DIR/gw.log" | tr '\n' ' ')"
kids=$(pgrep -P "$GW_PID" | tr '\n' ' ')
set -- $kids
[ "$#" = 2 ] && [ "$(pgrep -P "$GW_PID" -x agentgw-net)" = "$1" ] && [ "$(pgrep -P "$GW_PID" -x agentgw-net1)" = "$2" ] &&
	ok "two net processes: $kids (agentgw-net, agentgw-net1)" || bad "children of the supervisor: '$kids'"
for k in $kids; do
	st=/proc/$k/status
	[ "$(awk '/^Uid:/ {print $2}' "$st")" = 65534 ] && [ "$(awk '/^Seccomp:/ {print $2}' "$st")" = 2 ] &&
		ok "worker $k: uid nobody, seccomp filter" || bad "worker $k: $(grep -E '^(Uid|Seccomp):' "$st" | tr '\n' ' ')"
done
# one worker is woken per connection (EPOLLEXCLUSIVE), the first idle one:
# the second takes connections when the first is busy, so 16 at once
seq 200 | in_guest xargs -P 16 -I{} curl -s -o /dev/null --max-time 5 \
	--resolve "allowed.test:80:$ALLOWED_IP" -H "Connection: close" "http://allowed.test/?{}"
n0=$(grep -c 'agentgw\[net\] debug: proxy .* peek -> ' "$TOPO_DIR/gw.log")
n1=$(grep -c 'agentgw\[net1\] debug: proxy .* peek -> ' "$TOPO_DIR/gw.log")
[ "$n0" -gt 0 ] && [ "$n1" -gt 0 ] && [ $((n0 + n1)) = 200 ] &&
	ok "200 connections, 16 at once: $n0 taken by net, $n1 by net1" || bad "connections per worker: net $n0, net1 $n1"

echo "== DNS bindings shared by the workers"
a=$(in_guest dig +short +time=3 +tries=1 allowed.test A)
[ "$a" = "$ALLOWED_IP" ] && ok "dig allowed.test: $a" || bad "dig allowed.test gave '$a'"
before=$(grep -c 'agentgw\[net1\] debug: proxy .* peek -> ' "$TOPO_DIR/gw.log")
# 40 at once, each after its own dig (the test DNS answers with TTL 0;
# worker 0 answers); neither TLS nor HTTP: only the binding can allow them,
# and nginx answers 400
in_guest bash -c 'for i in $(seq 40); do
	(dig +short +time=3 +tries=1 allowed.test A >/dev/null
	 printf "hello %s\r\n\r\n" "$i" | timeout 5 nc -q 2 '"$ALLOWED_IP"' 80 >/dev/null 2>&1) &
done; wait'
after=$(grep -c 'agentgw\[net1\] debug: proxy .* peek -> ' "$TOPO_DIR/gw.log")
expect_n() { # description expected query
	local n
	sql_poll "$2" "$3"
	[ "$n" = "$2" ] && ok "$1: $n" || {
		bad "$1: $n rows, want $2"
		sql "SELECT decision, reason, json_extract(detail, '$.via'), count(*) FROM event WHERE kind='net' AND op='connect' GROUP BY 1, 2, 3" | sed 's/^/     /'
	}
}
expect_n "connections allowed via binding" 40 \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='allow' AND target='$ALLOWED_IP:80' AND json_extract(detail, '$.via') = 'binding'"
[ $((after - before)) -gt 0 ] && ok "net1 took $((after - before)) of them (bindings from net's DNS answer)" ||
	bad "net1 took none of the 40 address-only connections"

echo "== max_connections counts every worker's sessions"
# a reload to 6 (applied by both workers before the next connection)
sed -i 's/max_connections: 100/max_connections: 6/' "$POL"
"$AGENTGW" policy reload "$NAME" >/dev/null 2>"$TOPO_DIR/reload.err" &&
	ok "policy reload to max_connections: 6: applied" || bad "policy reload: $(cat "$TOPO_DIR/reload.err")"
# 6 silent connections hold every slot (they wait in the peek state)
holders=()
for i in $(seq 6); do
	(sleep 4 | in_guest nc -w5 "$ALLOWED_IP" 443 >/dev/null 2>&1) &
	holders+=($!)
done
sleep 1
code=$(in_guest curl -s -o /dev/null --max-time 5 -w '%{http_code}' --resolve "allowed.test:80:$ALLOWED_IP" http://allowed.test/)
[ "$code" != 200 ] && ok "7th connection refused (curl: $code)" || bad "7th connection got through max_connections: 6"
expect_sql "net connect deny 'connection limit reached'" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='deny' AND reason='connection limit reached'"
wait "${holders[@]}"
code=$(in_guest curl -s -o /dev/null --max-time 5 -w '%{http_code}' --resolve "allowed.test:80:$ALLOWED_IP" http://allowed.test/)
[ "$code" = 200 ] && ok "slots free again once they closed" || bad "after the holders closed: $code"

echo "== a reload reaches both workers"
sed -i 's/max_connections: 6/max_connections: 7/' "$POL"
"$AGENTGW" policy reload "$NAME" >/dev/null 2>"$TOPO_DIR/reload.err" &&
	ok "policy reload: applied" || bad "policy reload: $(cat "$TOPO_DIR/reload.err")"
expect_n "applied reload rows" 2 "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='allow'"

echo "== a dead worker stops the gateway (fails closed)"
w1=$(pgrep -P "$GW_PID" -x agentgw-net1)
kill -9 "$w1"
for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
! kill -0 "$GW_PID" 2>/dev/null && ok "gateway stopped after kill -9 of net1" || bad "gateway still runs without net1"
wait "$GW_PID" 2>/dev/null
GW_PID=
grep -q "net1 child (pid $w1) killed by signal 9" "$TOPO_DIR/gw.log" && ok "the log names net1 and its signal" ||
	bad "no reason naming net1 in the log"
expect_sql "lifecycle stop row names net1" \
	"SELECT count(*) FROM event WHERE kind='lifecycle' AND op='stop' AND decision='error' AND reason LIKE 'net1 child%signal 9%'"

gw_finish 40
