#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The network gateway end to end without a VM: `agentgw gateway` runs in the
# gw namespace on the guest veth; real clients in the guest namespace (dig,
# curl, nc, ping) talk to the fake internet (dnsmasq, nginx) through it.
# Every case checks what the client saw AND the audit row (kind, op, target,
# decision, rule) in the SQLite database.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 nc ping

NAME=nt$TOPO_ID
PROXY_PORT=15001

write_policy() { # mode [extra allow rule lines]
	cat >"$POL" <<P
version: 1
name: nettest
mode: $1
network:
  allow:
    - host: allowed.test
      ports: [443]
    - host: allowed.test
      ports: [80]
      http: [{ methods: [GET, HEAD], paths: ["/", "/docs/**", "/small", "/big"] }]
    - host: api.allowed.test
      ports: [80, 443]
    - host: rebind.test
      ports: [80]
    - host: lan.test
      ports: [80]
${2:-}
  deny:
    - host: evil.test
  dns: { upstream: [$DNS_IP] }
P
}

# expect_event KIND OP TARGET DECISION [RULE]: polls up to 3 s for the row.
expect_event() {
	local n q="SELECT count(*) FROM event WHERE kind='$1' AND op='$2' AND target='$3' AND decision='$4'"
	[ -n "${5:-}" ] && q="$q AND rule='$5'"
	sql_poll 1 "$q" && { ok "audit: $*"; return 0; }
	bad "audit: no event $* ; have:"
	sql "SELECT kind,op,target,decision,rule,reason FROM event WHERE target LIKE '%${3%%[:/]*}%' ORDER BY id DESC LIMIT 5" | sed 's/^/     /'
	return 1
}

gcurl() { in_guest curl -sS --max-time 8 --cacert "$TOPO_CA" "$@"; }

write_policy enforce
gw_start "tcp:$PROXY_PORT udp:53" --proxy-port "$PROXY_PORT" -vv

echo "== privileges"
# The net child parses everything the guest sends: it must not be root.
nobody=$(id -u nobody)
# The child drops its privileges once set up (loading the TLS roots first),
# which can come after the gateway says ready (slow under the sanitizers):
# give it up to 10 s.
for _ in $(seq 100); do
	netuids=$(for c in $(pgrep -P "$GW_PID"); do awk '/^Uid:/ {print $2 "/" $3 "/" $4 "/" $5}' "/proc/$c/status"; done)
	seccomp=$(for c in $(pgrep -P "$GW_PID"); do awk '/^Seccomp:/ {print $2}' "/proc/$c/status"; done | sort -u)
	grep -qx "$nobody/$nobody/$nobody/$nobody" <<<"$netuids" && [ "$seccomp" = 2 ] && break
	sleep 0.1
done
grep -qx "$nobody/$nobody/$nobody/$nobody" <<<"$netuids" && ok "the net child runs as nobody (uids $nobody)" ||
	bad "no child of the supervisor runs as nobody: $netuids"
[ "$seccomp" = 2 ] && ok "the gateway's children run under a seccomp filter" ||
	bad "children's seccomp modes: $seccomp"

echo "== DNS"
a=$(in_guest dig +short +time=3 +tries=1 allowed.test A)
[ "$a" = "$ALLOWED_IP" ] && ok "dig allowed.test -> $a" || bad "dig allowed.test gave '$a'"
expect_event dns query allowed.test allow "network.allow[0]"
# dnsmasq answers with TTL 0; the gateway answers at least 1, at most ttl_max
ttl=$(in_guest dig +noall +answer +time=3 +tries=1 allowed.test A | awk '{print $2; exit}')
[ "${ttl:-0}" -ge 1 ] && [ "${ttl:-0}" -le 300 ] && ok "answer TTL $ttl within [1, 300]" || bad "answer TTL '$ttl'"
expect_sql "dns detail lists the answer" \
	"SELECT count(*) FROM event WHERE kind='dns' AND target='allowed.test' AND detail LIKE '%\"qtype\":\"A\",\"answers\":[\"$ALLOWED_IP\"]%'"
# any resolver the guest names is redirected to the gateway
a=$(in_guest dig +short +time=3 +tries=1 @192.0.2.53 api.allowed.test A)
[ "$a" = "$ALLOWED_IP" ] && ok "dig @192.0.2.53 api.allowed.test (redirected) -> $a" || bad "redirected dig gave '$a'"
expect_event dns query api.allowed.test allow "network.allow[2]"
st=$(in_guest dig +time=3 +tries=1 evil.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] && ok "dig evil.test -> NXDOMAIN" || bad "dig evil.test status '$st'"
expect_event dns query evil.test deny "network.deny[0]"
st=$(in_guest dig +time=3 +tries=1 nowhere.example A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] && ok "dig nowhere.example (no rule) -> NXDOMAIN" || bad "dig nowhere.example status '$st'"
expect_event dns query nowhere.example deny
st=$(in_guest dig +time=3 +tries=1 TXT secret.evil.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = REFUSED ] && ok "dig TXT secret.evil.test -> REFUSED" || bad "dig TXT status '$st'"
expect_event dns query secret.evil.test deny
st=$(in_guest dig +tcp +time=3 +tries=1 TXT allowed.test | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = REFUSED ] && ok "dig +tcp TXT allowed.test -> REFUSED" || bad "dig +tcp TXT allowed.test status '$st'"
a=$(in_guest dig +tcp +short +time=3 +tries=1 allowed.test A)
[ "$a" = "$ALLOWED_IP" ] && ok "dig +tcp allowed.test -> $a" || bad "dig +tcp allowed.test gave '$a'"
a=$(in_guest dig +short +time=3 +tries=1 rebind.test A)
[ -z "$a" ] && ok "dig rebind.test: loopback answer removed" || bad "dig rebind.test gave '$a'"
expect_event dns query rebind.test allow "network.allow[3]"
st=$(in_guest dig +time=3 +tries=1 'foo!bar.allowed.test' A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = REFUSED ] && ok "dig foo!bar.allowed.test (not a host name) -> REFUSED" || bad "non-hostname status '$st'"
expect_sql "dns deny 'not a host name'" \
	"SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND decision='deny' AND reason='not a host name'"
# malformed datagram: answered FORMERR or dropped, and the server lives on
printf '\x12\x34\x01\x00\x00\x05garbage' | in_guest nc -u -w1 "$GW_IP" 53 >/dev/null 2>&1
a=$(in_guest dig +short +time=3 +tries=1 allowed.test A)
[ "$a" = "$ALLOWED_IP" ] && ok "DNS survives a malformed datagram" || bad "DNS dead after garbage"

echo "== HTTPS by name"
body=$(gcurl https://allowed.test/)
[ "$body" = allowed.test ] && ok "curl https://allowed.test/ -> $body" || bad "https allowed.test gave '$body'"
expect_event net connect allowed.test:443 allow "network.allow[0]"
expect_event net close allowed.test:443 allow "network.allow[0]"
expect_sql "close event has bytes and duration" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='close' AND target='allowed.test:443' AND bytes_up>0 AND bytes_down>0 AND duration_us>=0"

echo "== denied name at connect"
if gcurl --resolve "evil.test:443:$EVIL_IP" https://evil.test/ >/dev/null 2>&1; then
	bad "curl https://evil.test/ got through"
else ok "curl https://evil.test/ (forced address) refused"; fi
expect_event net connect evil.test:443 deny "network.deny[0]"

echo "== direct IP without a name"
if in_guest curl -sS --max-time 8 "http://$OTHER_IP/" >/dev/null 2>&1 &&
	[ "$(in_guest curl -s --max-time 8 "http://$OTHER_IP/")" = other.test ]; then
	bad "direct http://$OTHER_IP/ reached other.test"
else ok "direct http://$OTHER_IP/ refused"; fi
expect_event net connect "$OTHER_IP:80" deny
if echo hello | in_guest nc -w3 "$OTHER_IP" 443 >/dev/null 2>&1 && false; then :; fi
expect_event net connect "$OTHER_IP:443" deny

echo "== no-name connection to an address the guest resolved"
# neither TLS nor HTTP (an SSH banner): decided on the address alone
out=$(printf 'SSH-2.0-agentgw-test\r\n' | in_guest timeout 8 nc -w2 "$ALLOWED_IP" 443 2>&1; echo "rc=$?")
expect_event net connect "$ALLOWED_IP:443" allow "network.allow[0]"

echo "== forged SNI"
body=$(gcurl --resolve "allowed.test:443:$EVIL_IP" https://allowed.test/)
[ "$body" = allowed.test ] && ok "SNI allowed.test sent to $EVIL_IP reached allowed.test" || bad "forged SNI gave '$body'"
expect_sql "dialed $ALLOWED_IP, original $EVIL_IP recorded" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='allowed.test:443' AND decision='allow' AND rule='network.allow[0]' AND dst='$ALLOWED_IP:443' AND detail LIKE '%orig_dst\":\"$EVIL_IP:443%'"

echo "== forged Host on plain HTTP"
body=$(in_guest curl -sS --max-time 8 -H 'Host: allowed.test' "http://$EVIL_IP/docs/x")
[ "$body" = "allowed.test docs /docs/x" ] && ok "Host allowed.test to $EVIL_IP reached allowed.test" || bad "forged Host gave '$body'"
expect_event http request allowed.test/docs/x allow "network.allow[1]"

echo "== HTTP method/path rules"
code=$(in_guest curl -s -o "$TOPO_DIR/403.txt" -w '%{http_code}' --max-time 8 http://allowed.test/admin)
[ "$code" = 403 ] && grep -q 'network.allow\[1\]' "$TOPO_DIR/403.txt" &&
	ok "GET /admin -> 403 naming network.allow[1]" || bad "GET /admin gave $code: $(cat "$TOPO_DIR/403.txt")"
expect_event http request allowed.test/admin deny "network.allow[1]"
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 -X POST -d x=1 http://allowed.test/docs/x)
[ "$code" = 403 ] && ok "POST /docs/x -> 403" || bad "POST /docs/x gave $code"
expect_event http request allowed.test/docs/x deny "network.allow[1]"
# keep-alive: the second request on the same connection is judged too
out=$(in_guest curl -s --max-time 8 -w '%{http_code}\n' http://allowed.test/docs/a http://allowed.test/admin)
echo "$out" | head -1 | grep -q 'allowed.test docs /docs/a' && echo "$out" | tail -1 | grep -q 403 &&
	ok "keep-alive: /docs/a 200 then /admin 403" || bad "keep-alive gave: $out"
# a Host that changes on the same connection is refused (the upstream
# connection is bound to the first name)
out=$(printf 'GET /docs/a HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET / HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n' |
	in_guest timeout 8 nc -w3 "$ALLOWED_IP" 80)
echo "$out" | grep -q 'allowed.test docs /docs/a' && echo "$out" | grep -q '403 Forbidden' &&
	ok "Host change mid-connection -> 403" || bad "Host change gave: $out"
expect_sql "http deny for the changed Host" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='api.allowed.test/' AND decision='deny'"
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 http://api.allowed.test/anything)
[ "$code" = 404 ] && ok "api.allowed.test (no http rules) any path passes (404 from nginx)" || bad "api.allowed.test gave $code"

echo "== special-purpose addresses"
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 --resolve "rebind.test:80:$OTHER_IP" http://rebind.test/)
[ "$code" = 403 ] && ok "rebind.test (127.0.0.1) refused" || bad "rebind.test gave $code"
expect_event net connect rebind.test:80 deny "network.allow[3]"
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 --resolve "lan.test:80:$OTHER_IP" http://lan.test/)
[ "$code" = 403 ] && ok "lan.test (192.168.50.5) refused" || bad "lan.test gave $code"
expect_event net connect lan.test:80 deny "network.allow[4]"

echo "== dropped traffic"
echo x | in_guest nc -u -w1 "$ALLOWED_IP" 9999 >/dev/null 2>&1
expect_event net drop "$ALLOWED_IP:9999" deny
in_guest ping -c1 -W1 "$ALLOWED_IP" >/dev/null 2>&1 && bad "ping $ALLOWED_IP answered" || ok "ping $ALLOWED_IP dropped"
expect_event net drop "$ALLOWED_IP" deny
in_guest curl -s --max-time 3 "http://[2001:db8::10]/" >/dev/null 2>&1 && bad "IPv6 got through" || ok "IPv6 dropped"
# the guest's IPv6 never gets past neighbour discovery: its packets are
# dropped (and recorded) at the gateway
expect_sql "IPv6 packets recorded as net/drop" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='drop' AND decision='deny' AND detail LIKE '%\"proto\":\"icmpv6\"%' AND src LIKE '%:%'"

echo "== policy reload (SIGHUP / agentgw policy reload)"
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 --resolve "other.test:80:$OTHER_IP" http://other.test/)
[ "$code" = 403 ] && ok "other.test refused before reload" || bad "other.test before reload gave $code"
write_policy enforce "    - host: other.test
      ports: [80]"
# `agentgw policy reload NAME` checks the file and signals the supervisor
# through /run/agentgw/NAME/pid; SIGHUP directly while the verb is not wired
if "$AGENTGW" policy reload --help 2>&1 | grep -q 'policy reload NAME'; then
	"$AGENTGW" policy reload "$NAME" && ok "agentgw policy reload $NAME" || bad "agentgw policy reload failed"
else
	echo "note: 'agentgw policy reload' not wired into cmd_policy yet; using SIGHUP"
	kill -HUP "$GW_PID"
fi
sql_poll 1 "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='allow'"
expect_event policy reload "$(realpath "$POL")" allow
sleep 0.2
body=$(in_guest curl -sS --max-time 8 http://other.test/)
[ "$body" = other.test ] && ok "other.test allowed after reload" || bad "other.test after reload gave '$body'"
expect_event net connect other.test:80 allow "network.allow[5]"
# an invalid policy is rejected and the old one stays
echo "version: 1
network: { alow: [] }" >"$POL"
if "$AGENTGW" policy reload --help 2>&1 | grep -q 'policy reload NAME'; then
	"$AGENTGW" policy reload "$NAME" 2>"$TOPO_DIR/reload.err"
	rc=$?
	[ "$rc" = 2 ] && grep -q "policy.yaml:2:.*alow" "$TOPO_DIR/reload.err" &&
		ok "agentgw policy reload rejects the bad file (exit 2, file:line:col)" ||
		bad "policy reload of a bad file: exit $rc: $(cat "$TOPO_DIR/reload.err")"
fi
kill -HUP "$GW_PID" # the supervisor must reject it too
expect_event policy reload "$(realpath "$POL")" error
body=$(in_guest curl -sS --max-time 8 http://other.test/)
[ "$body" = other.test ] && ok "old policy kept after a bad reload" || bad "after bad reload gave '$body'"

echo "== connection limit"
write_policy enforce "    - host: other.test
      ports: [80]
  max_connections: 1"
kill -HUP "$GW_PID"
expect_sql "reload with max_connections: 1" \
	"SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='allow' AND detail LIKE '%$(sha256sum "$POL" | cut -c1-64)%'"
# one silent connection holds the only slot (it waits in the peek state)
(sleep 3 | in_guest nc -w4 "$ALLOWED_IP" 443 >/dev/null 2>&1) &
holder=$!
sleep 0.5
if gcurl https://allowed.test/ >/dev/null 2>&1; then
	bad "second connection got through max_connections: 1"
else ok "second connection refused at max_connections: 1"; fi
expect_sql "net connect deny 'connection limit reached'" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='deny' AND reason='connection limit reached'"
wait "$holder" 2>/dev/null

echo "== audit mode"
write_policy audit
kill -HUP "$GW_PID"
sleep 0.5
a=$(in_guest dig +short +time=3 +tries=1 evil.test A)
[ "$a" = "$EVIL_IP" ] && ok "audit mode: dig evil.test answered" || bad "audit mode dig evil.test gave '$a'"
expect_event dns query evil.test would_deny "network.deny[0]"
body=$(gcurl https://evil.test/)
[ "$body" = evil.test ] && ok "audit mode: https://evil.test/ passes" || bad "audit mode evil.test gave '$body'"
expect_event net connect evil.test:443 would_deny "network.deny[0]"
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 http://allowed.test/admin)
[ "$code" = 200 ] && ok "audit mode: /admin passes" || bad "audit mode /admin gave $code"
expect_event http request allowed.test/admin would_deny "network.allow[1]"

echo "== shutdown"
gw_stop
if in_gw nft list table inet "agentgw_$NAME" >/dev/null 2>&1; then
	bad "nftables table left behind"
else ok "nftables table removed"; fi
expect_sql "sandbox row closed" "SELECT count(*) FROM sandbox WHERE name='$NAME' AND stopped_at IS NOT NULL"

gw_finish 60
