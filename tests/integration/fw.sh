#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The sandbox nftables table (vmctl/fw.c) in the shared topology, with real
# clients in the guest namespace and stand-ins for the gateway in NS_GW: a
# dnsmasq forwarder on the DNS port and nc listeners on the proxy port.
# Checks that the guest's DNS to any server reaches the gateway's DNS port
# (UDP and TCP), that its TCP to the outside reaches the proxy port with the
# TLS SNI or HTTP Host intact, and that everything else (UDP to other ports,
# ICMP out, direct connections to the gateway's other ports, IPv6) is
# dropped and counted by the table's logging rules. fw_apply/fw_remove are
# driven through the test_fw binary's --apply/--remove mode.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
FW=$PWD/$BUILD/tests/test_fw
source tests/lib/topo.sh
for t in dig curl nc nft; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
if [ ! -x "$FW" ]; then
	echo "SKIP: $FW not built (make BUILD=$BUILD check-build)"
	exit 77
fi
trap topo_down EXIT
topo_up

DNS_PORT=5353 PROXY_PORT=15001 P9_PORT=5640 GROUP=7 NAME=topo
fail() {
	echo "FAIL: $*"
	in_gw nft list table inet agentgw_$NAME 2>&1 | sed 's/^/  /'
	exit 1
}

# Counter of the rule in CHAIN whose log prefix is PREFIX.
drops() { # chain prefix
	in_gw nft list chain inet "agentgw_$NAME" "$1" |
		sed -n "s/.*counter packets \([0-9]*\) .*log prefix \"$2\".*/\1/p" | head -n1
}

# Stand-in for the gateway's DNS server: forwards to the fake internet.
in_gw dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll --user=root --group=root \
	--listen-address="$GW_IP" --bind-interfaces --port=$DNS_PORT --server="$DNS_IP" \
	--pid-file="$TOPO_DIR/gwdns.pid" --log-facility="$TOPO_DIR/gwdns.log" --log-queries ||
	fail "cannot start the DNS stand-in"
wait_udp "$NS_GW" "$GW_IP" $DNS_PORT 10 || fail "DNS stand-in not listening"

# Before the table: the gateway does not forward, the guest's DNS goes nowhere.
a=$(in_guest dig +short +time=1 +tries=1 allowed.test 2>/dev/null)
[ "$a" != "$ALLOWED_IP" ] || fail "guest resolved allowed.test without the table"

in_gw "$FW" --apply $NAME "$GUEST_IF" "$GW_IP" "$GUEST_IP" $DNS_PORT $PROXY_PORT $P9_PORT $GROUP ||
	fail "fw_apply"
in_gw "$FW" --exists $NAME || fail "table missing after apply"

# DNS: the guest's resolver (the gateway's :53), any other server, TCP.
a=$(in_guest dig +short +time=2 +tries=1 allowed.test)
[ "$a" = "$ALLOWED_IP" ] || fail "guest resolv.conf DNS: '$a'"
a=$(in_guest dig +short +time=2 +tries=1 @8.8.8.8 other.test)
[ "$a" = "$OTHER_IP" ] || fail "UDP DNS to 8.8.8.8 not redirected: '$a'"
a=$(in_guest dig +tcp +short +time=2 +tries=1 @9.9.9.9 evil.test)
[ "$a" = "$EVIL_IP" ] || fail "TCP DNS to 9.9.9.9 not redirected: '$a'"
grep -q "from $GUEST_IP" "$TOPO_DIR/gwdns.log" || grep -q 'query\[A\] evil.test' "$TOPO_DIR/gwdns.log" ||
	fail "DNS stand-in saw no query"

# TCP to the outside reaches the proxy port, SNI and Host intact.
proxy_capture() { # out-file client-command...
	local out=$1 pid i
	shift
	in_gw timeout 10 nc -l "$GW_IP" $PROXY_PORT >"$out" &
	pid=$!
	wait_port "$NS_GW" "$GW_IP" $PROXY_PORT 5 || return 1
	in_guest "$@" >/dev/null 2>&1
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}
proxy_capture "$TOPO_DIR/tls.bin" curl -sS --max-time 2 --cacert "$TOPO_CA" https://allowed.test/ ||
	fail "proxy listener"
grep -aq allowed.test "$TOPO_DIR/tls.bin" || fail "no ClientHello with SNI allowed.test at the proxy port"
proxy_capture "$TOPO_DIR/http.txt" curl -sS --max-time 2 http://other.test/admin || fail "proxy listener"
grep -q '^GET /admin HTTP/1.1' "$TOPO_DIR/http.txt" || fail "no GET /admin at the proxy port"
grep -qi '^Host: other.test' "$TOPO_DIR/http.txt" || fail "no Host: other.test at the proxy port"
# Even with a forged name the connection still lands on the proxy, never on nginx.
proxy_capture "$TOPO_DIR/forged.txt" curl -sS --max-time 2 -H 'Host: allowed.test' "http://$EVIL_IP/" ||
	fail "proxy listener"
grep -qi '^Host: allowed.test' "$TOPO_DIR/forged.txt" || fail "direct-IP connection did not reach the proxy"
if grep -q "GET / " "$TOPO_DIR/nginx-access.log" 2>/dev/null; then
	fail "a guest connection reached nginx directly"
fi

# Dropped and counted: UDP to other ports, ICMP out, other gateway ports, IPv6.
fwd0=$(drops guard agw:$NAME:fwd) in0=$(drops input agw:$NAME:in) v60=$(drops guard agw:$NAME:v6)
in_guest sh -c "printf x | nc -u -w1 $ALLOWED_IP 1234"
in_guest dig +short +time=1 +tries=1 -p 5353 @"$DNS_IP" allowed.test >/dev/null 2>&1
in_guest ping -c1 -W1 "$ALLOWED_IP" >/dev/null 2>&1 && fail "ICMP to the outside went through"
in_guest curl -sS --max-time 2 "http://$GW_IP:8080/" >/dev/null 2>&1 && fail "gateway :8080 reachable"
in_guest curl -sS --max-time 2 "http://$GW_IP:$PROXY_PORT/" >/dev/null 2>&1 &&
	fail "direct connection to the proxy port accepted"
in_guest ping -6 -c1 -W1 "$GW_IP6" >/dev/null 2>&1 && fail "IPv6 to the gateway went through"
in_guest ping -c1 -W2 "$GW_IP" >/dev/null 2>&1 || fail "ICMP echo to the gateway dropped"
fwd1=$(drops guard agw:$NAME:fwd) in1=$(drops input agw:$NAME:in) v61=$(drops guard agw:$NAME:v6)
[ "$((fwd1 - fwd0))" -ge 3 ] || fail "forward drops counted $fwd0 -> $fwd1, want +3 (udp, dns :5353, icmp)"
[ "$((in1 - in0))" -ge 2 ] || fail "input drops counted $in0 -> $in1, want +2 (tcp :8080, :$PROXY_PORT)"
[ "$((v61 - v60))" -ge 1 ] || fail "IPv6 drops counted $v60 -> $v61"

# Applying again (a stale table on restart) keeps exactly one table.
in_gw "$FW" --apply $NAME "$GUEST_IF" "$GW_IP" "$GUEST_IP" $DNS_PORT $PROXY_PORT $P9_PORT $GROUP ||
	fail "second fw_apply"
[ "$(in_gw nft list tables | grep -c "agentgw_$NAME")" = 1 ] || fail "table count after re-apply"
a=$(in_guest dig +short +time=2 +tries=1 allowed.test)
[ "$a" = "$ALLOWED_IP" ] || fail "DNS after re-apply: '$a'"

in_gw "$FW" --remove $NAME || fail "fw_remove"
in_gw "$FW" --exists $NAME && fail "table still there after remove"
in_gw "$FW" --remove $NAME || fail "second fw_remove not idempotent"
[ -z "$(in_gw nft list tables)" ] || fail "tables left in NS_GW: $(in_gw nft list tables)"
a=$(in_guest dig +short +time=1 +tries=1 @8.8.8.8 allowed.test 2>/dev/null)
[ "$a" != "$ALLOWED_IP" ] || fail "guest DNS to 8.8.8.8 still redirected after remove"
echo "PASS: redirects, drops and counters as designed; table removed"
