#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Self-test of tests/lib/topo.sh: the fake internet answers DNS and HTTPS
# from the gateway namespace, the guest reaches the gateway, and topo_down
# leaves no namespace, netns config or process behind.
set -u
cd "$(dirname "$0")/../.."
source tests/lib/topo.sh
for t in dig curl; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
trap topo_down EXIT
topo_up

fail() { echo "FAIL: $*"; exit 1; }

a=$(in_gw dig +short +time=2 +tries=1 @"$DNS_IP" allowed.test A)
[ "$a" = "$ALLOWED_IP" ] || fail "allowed.test A = '$a'"
a=$(in_gw dig +short +time=2 +tries=1 @"$DNS_IP" api.allowed.test A)
[ "$a" = "$ALLOWED_IP" ] || fail "api.allowed.test A = '$a'"
a=$(in_gw dig +short +time=2 +tries=1 @"$DNS_IP" rebind.test A)
[ "$a" = 127.0.0.1 ] || fail "rebind.test A = '$a'"
a=$(in_gw dig +short +time=2 +tries=1 @"$DNS_IP" v6only.test AAAA)
[ "$a" = 2001:db8::10 ] || fail "v6only.test AAAA = '$a'"
a=$(in_gw dig +short +time=2 +tries=1 @"$DNS_IP" secret.evil.test TXT)
[ "$a" = '"exfiltrated-secret"' ] || fail "secret.evil.test TXT = '$a'"
st=$(in_gw dig +time=2 +tries=1 @"$DNS_IP" nosuch.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] || fail "nosuch.test status '$st'"
st=$(in_gw dig +time=2 +tries=1 @"$DNS_IP" x.allowed.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] || fail "x.allowed.test status '$st'"
grep -q 'query\[A\] allowed.test' "$TOPO_DIR/dnsmasq.log" || fail "dnsmasq.log has no query"

# The gw namespace's resolv.conf points at the fake internet.
in_gw getent hosts other.test | grep -q "$OTHER_IP" || fail "getent other.test in gw"

body=$(in_gw curl -sS --max-time 5 --cacert "$TOPO_CA" --resolve "allowed.test:443:$ALLOWED_IP" https://allowed.test/)
[ "$body" = allowed.test ] || fail "https allowed.test body '$body'"
body=$(in_gw curl -sS --max-time 5 --cacert "$TOPO_CA" https://other.test/)
[ "$body" = other.test ] || fail "https other.test body '$body'"
body=$(in_gw curl -sS --max-time 5 http://evil.test/admin)
[ "$body" = "evil.test admin" ] || fail "http evil.test/admin body '$body'"
body=$(in_gw curl -sS --max-time 5 http://allowed.test/docs/x)
[ "$body" = "allowed.test docs /docs/x" ] || fail "http /docs/x body '$body'"
n=$(in_gw curl -sS --max-time 5 http://allowed.test/small | wc -c)
[ "$n" = 100 ] || fail "/small is $n bytes"
n=$(in_gw curl -sS --max-time 20 -o /dev/null -w '%{size_download}' --cacert "$TOPO_CA" https://allowed.test/big)
[ "$n" = 67108864 ] || fail "/big is $n bytes"
# Certificate names: api.allowed.test is on the allowed.test leaf; the
# evil.test server does not hold a certificate for allowed.test.
in_gw curl -sS --max-time 5 --cacert "$TOPO_CA" --resolve "api.allowed.test:443:$ALLOWED_IP" \
	https://api.allowed.test/ >/dev/null || fail "api.allowed.test TLS"
if in_gw curl -sS --max-time 5 --cacert "$TOPO_CA" --resolve "allowed.test:443:$EVIL_IP" \
	https://allowed.test/ >/dev/null 2>&1; then
	fail "evil.test server accepted as allowed.test"
fi

# Guest side: reaches the gateway over IPv4 and IPv6; its resolver is the gateway.
in_guest ping -c1 -W2 "$GW_IP" >/dev/null || fail "guest cannot ping $GW_IP"
in_guest ping -6 -c1 -W2 "$GW_IP6" >/dev/null || fail "guest cannot ping $GW_IP6"
grep -q "nameserver $GW_IP" "/etc/netns/$NS_GUEST/resolv.conf" || fail "guest resolv.conf"
in_guest cat /etc/resolv.conf | grep -q "nameserver $GW_IP" || fail "guest ns resolv.conf not bound"

dir=$TOPO_DIR
pids="$(cat "$TOPO_DIR/nginx.pid") $(cat "$TOPO_DIR/dnsmasq.pid")"
trap - EXIT
topo_down
topo_down # idempotent
for ns in "$NS_GUEST" "$NS_GW" "$NS_NET"; do
	ip netns list | grep -qw "$ns" && fail "namespace $ns remains"
	[ -e "/etc/netns/$ns" ] && fail "/etc/netns/$ns remains"
done
[ -e "$dir" ] && fail "$dir remains"
for p in $pids; do
	kill -0 "$p" 2>/dev/null && fail "process $p still running"
done
echo "PASS: topology up, DNS and HTTPS answer, torn down cleanly"
