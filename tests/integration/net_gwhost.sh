#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 12 item 6: the gateway host itself is not reachable through a
# policy-allowed name. dnsmasq answers gwhost.test with the gw namespace's
# own uplink address (198.51.100.1, a "public" documentation address) and a
# listener runs on 0.0.0.0:8080 in the gw namespace. From the guest:
#   - DNS hands out no address of the gateway host (audit: reason says so);
#   - curl through the proxy (name known, address forged) gets a 403 and the
#     connect row says deny "resolves to a gateway host address";
#   - a connection without a name to that address is refused as well;
#   - an address added to the gw namespace while the gateway runs is refused
#     at once (rtnetlink), and allowed again once removed;
#   - a cidr rule naming the address lets the same request through.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 python3 nc

NAME=gh$TOPO_ID
LATE_IP=203.0.113.77
export AGENTGW_RUN_DIR=$TOPO_DIR/run
write_policy() { # [extra allow rule lines]
	cat >"$POL" <<P
version: 1
name: gwhost
network:
  allow:
    - host: gwhost.test
      ports: [8080]
    - host: late.test
      ports: [8080]
${1:-}
  dns: { upstream: [$DNS_IP] }
P
}

# the service on the gateway host that the agent must not reach
mkdir -p "$TOPO_DIR/gwsrv"
echo "gateway-host-secret" >"$TOPO_DIR/gwsrv/index.html"
in_gw python3 -m http.server 8080 --bind 0.0.0.0 --directory "$TOPO_DIR/gwsrv" \
	>"$TOPO_DIR/gwsrv.log" 2>&1 &
wait_port "$NS_GW" 0.0.0.0 8080 10 || { echo "FAIL: no listener in gw"; exit 1; }

write_policy
gw_start udp:53 --no-fs -vv

# DNS: the allowed name gets no address of the gateway host
ans=$(in_guest dig +short +time=3 +tries=1 gwhost.test A)
[ -z "$ans" ] && ok "dns: gwhost.test gets no A record of the gateway host" ||
	bad "dns: gwhost.test answered '$ans'"
expect_sql "dns row for gwhost.test says the gateway host's address was removed" \
	"SELECT count(*) FROM event WHERE kind='dns' AND target='gwhost.test' AND reason='addresses of the gateway host removed' AND detail LIKE '%filtered%$UP_IP%'"

# proxy: the agent knows the address (or forges one); the gateway resolves
# the name itself and must refuse its own address
for dst in "$UP_IP" "$ALLOWED_IP"; do
	out=$(in_guest curl -s --max-time 8 -w '\n%{http_code}' --resolve "gwhost.test:8080:$dst" \
		http://gwhost.test:8080/)
	code=${out##*$'\n'}
	if [ "$code" = 403 ] && ! grep -q gateway-host-secret <<<"$out"; then
		ok "proxy: http://gwhost.test:8080/ via $dst refused (403)"
	else
		bad "proxy: http://gwhost.test:8080/ via $dst gave $code: $(head -c 200 <<<"$out")"
	fi
done
expect_sql "net connect gwhost.test:8080 deny, reason names the gateway host" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='gwhost.test:8080' AND decision='deny' AND reason='resolves to a gateway host address'"
grep -q '"GET / ' "$TOPO_DIR/gwsrv.log" && bad "the gateway host's service saw a request" ||
	ok "the gateway host's service saw no request"

# without a name (neither TLS nor HTTP: decided on the address after the
# peek timeout) the gateway's address is refused too, bound name or not
out=$( (printf 'hello\n'; sleep 7) | in_guest nc -w 9 "$UP_IP" 8080 2>&1)
grep -qi "bad request\|HTTP/" <<<"$out" && bad "raw: $UP_IP:8080 answered: $(head -c 100 <<<"$out")" ||
	ok "raw: a connection without a name to $UP_IP:8080 gets nothing"
expect_sql "net connect $UP_IP:8080 deny: address of the gateway host" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='$UP_IP:8080' AND decision='deny' AND reason='address of the gateway host'"

# an address added while the gateway runs is refused at once
ans=$(in_guest dig +short +time=3 +tries=1 late.test A)
[ "$ans" = "$LATE_IP" ] && ok "dns: late.test answered while $LATE_IP is not the gateway's" ||
	bad "dns: late.test before: '$ans'"
ip -n "$NS_GW" addr add "$LATE_IP/32" dev lo || bad "cannot add $LATE_IP in gw"
ans=$(in_guest dig +short +time=3 +tries=1 late.test A)
[ -z "$ans" ] && ok "dns: late.test refused once $LATE_IP is on the gateway host" ||
	bad "dns: late.test after adding the address: '$ans'"
code=$(in_guest curl -s -o /dev/null --max-time 8 -w '%{http_code}' \
	--resolve "late.test:8080:$ALLOWED_IP" http://late.test:8080/)
[ "$code" = 403 ] && ok "proxy: late.test refused (403) after the address was added" ||
	bad "proxy: late.test after adding the address gave $code"
expect_sql "net connect late.test:8080 deny (gateway host)" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='late.test:8080' AND decision='deny' AND reason='resolves to a gateway host address'"
ip -n "$NS_GW" addr del "$LATE_IP/32" dev lo
ans=$(in_guest dig +short +time=3 +tries=1 late.test A)
[ "$ans" = "$LATE_IP" ] && ok "dns: late.test answered again once the address is gone" ||
	bad "dns: late.test after removing the address: '$ans'"

# a cidr rule naming the address lets it through
write_policy "    - cidr: $UP_IP/32
      ports: [8080]"
"$AGENTGW" policy reload "$NAME" >/dev/null 2>&1 || kill -HUP "$GW_PID"
expect_sql "policy reload applied" "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='allow'"
sleep 0.3
ans=$(in_guest dig +short +time=3 +tries=1 gwhost.test A)
[ "$ans" = "$UP_IP" ] && ok "dns: with a cidr rule gwhost.test answers $UP_IP" ||
	bad "dns: with a cidr rule gwhost.test answered '$ans'"
body=$(in_guest curl -sS --max-time 8 http://gwhost.test:8080/)
[ "$body" = gateway-host-secret ] && ok "proxy: with a cidr rule the gateway host's service is reached" ||
	bad "proxy: with a cidr rule gave '$body'"
expect_sql "net connect gwhost.test:8080 allow after the cidr rule" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='gwhost.test:8080' AND decision='allow'"

gw_finish 30
