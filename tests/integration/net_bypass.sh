#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ways past the transparent proxy's name checks (issue 12, items 4, 5, 8
# and 11), on the topology of net_gateway.sh: agentgw gateway in the gw
# namespace, nginx and dnsmasq as the fake internet, real clients (python3
# sockets for hand-made ClientHellos and byte streams, curl, openssl) in the
# guest namespace. The guest has resolved allowed.test and api.allowed.test
# (203.0.113.10, one nginx with both names), so their address is bound to
# allowed names: every case below would be relayed raw on that binding if
# the proxy fell back to the address when it cannot read a name.
#
# Each case checks what the client got AND its audit row (decision, target,
# reason), found by the client's source port.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 python3 openssl

NAME=nb$TOPO_ID
A=$ALLOWED_IP

cat >"$POL" <<P
version: 1
name: netbypass
network:
  allow:
    - host: allowed.test
      ports: [443]
    - host: allowed.test
      ports: [80]
      http: [{ methods: [GET, HEAD], paths: ["/", "/docs/**"] }]
    - host: api.allowed.test
      ports: [80, 443, 2525]
  dns: { upstream: [$DNS_IP] }
P

# A server that speaks first (like SMTP) on api.allowed.test:2525: its
# client is silent until the banner, so the proxy must connect at the peek
# deadline on the address alone and still let the client's reply through.
cat >"$TOPO_DIR/smtp.py" <<'PY'
import socket, sys, threading
def serve(c):
    c.sendall(b"220 smtp.test ESMTP\r\n")
    line = b""
    while not line.endswith(b"\n"):
        d = c.recv(1024)
        if not d:
            break
        line += d
    c.sendall(b"250 ok: " + line)
    c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 2525))
s.listen(8)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
in_net python3 "$TOPO_DIR/smtp.py" "$ALLOWED_IP" >"$TOPO_DIR/smtp.log" 2>&1 &
wait_port "$NS_NET" "$ALLOWED_IP" 2525 10 || { cat "$TOPO_DIR/smtp.log"; exit 1; }

# cli.py IP PORT MODE [ARG] [DELAY]: one TCP connection from the guest.
# Prints "port=N" (its source port), "first=HEX" (the first reply bytes, or
# "none" when the connection ended without a byte), "all=HEX" (up to 64
# reply bytes) and the reply text.
# Modes: hello NAME... (a ClientHello with one server_name extension listing
# the names; "-" for none), dup (two server_name extensions), late (a valid
# ClientHello after DELAY s of silence), split (its first 11 bytes, DELAY s,
# the rest), raw BYTES (printf-style escapes, sent after DELAY s), probe
# (connect and close).
cat >"$TOPO_DIR/cli.py" <<'PY'
import codecs, os, socket, struct, sys, time

def ext(t, d):
    return struct.pack(">HH", t, len(d)) + d

def sni(names):
    lst = b"".join(b"\x00" + struct.pack(">H", len(n)) + n for n in names)
    return ext(0, struct.pack(">H", len(lst)) + lst)

def hello(sni_exts):
    exts = b"".join(sni_exts) + ext(10, b"\x00\x04\x00\x17\x00\x1d") + \
        ext(11, b"\x01\x00") + ext(13, b"\x00\x04\x04\x03\x08\x04")
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x04\xc0\x2b\xc0\x2f" + \
        b"\x01\x00" + struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs

ip, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else ""
delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0
s = socket.create_connection((ip, port), timeout=5)
print("port=%d" % s.getsockname()[1], flush=True)
parts = []
if mode == "hello":
    names = [n.encode("latin-1").decode("unicode_escape").encode("latin-1")
             for n in arg.split(",")] if arg != "-" else []
    parts = [hello([sni(names)] if names else [])]
elif mode == "dup":
    parts = [hello([sni([b"allowed.test"]), sni([b"allowed.test"])])]
elif mode == "late":
    parts = [hello([sni([b"allowed.test"])])]
elif mode == "split":
    h = hello([sni([b"allowed.test"])])
    parts = [h[:11], h[11:]]
elif mode == "raw":
    parts = [codecs.escape_decode(arg.encode())[0]]
try:
    if mode in ("late", "raw") and delay:
        time.sleep(delay)
    for i, p in enumerate(parts):
        if i:
            time.sleep(delay)
        s.sendall(p)
    if mode == "probe":
        s.close()
        sys.exit(0)
    out = b""
    s.settimeout(4)
    while len(out) < 65536:
        d = s.recv(65536)
        if not d:
            break
        out += d
except OSError:
    pass
print("first=" + (out[:5].hex() if out else "none"))
print("all=" + (out[:64].hex() if out else "none"))
print(out.decode("latin-1"))
PY
cli() { in_guest timeout 20 python3 "$TOPO_DIR/cli.py" "$@" 2>&1; }
port_of() { sed -n 's/^port=//p' <<<"$1" | head -1; }
first_of() { sed -n 's/^first=//p' <<<"$1" | head -1; }
# is_alert OUT: the whole reply is the gateway's own fatal access_denied
# alert record (15 03 0x 00 02 02 31): nothing came from the server.
is_alert() { grep -qx '15030[1-3]00020231' <<<"$(sed -n 's/^all=//p' <<<"$1" | head -1)"; }

gw_start "tcp:15001 udp:53" -vv

# expect_row DESCRIPTION PORT KIND OP TARGET DECISION REASON-LIKE: polls up
# to 3 s for the row of the connection from guest source port PORT.
expect_row() {
	local n q="SELECT count(*) FROM event WHERE src='$GUEST_IP:$2' AND kind='$3' AND op='$4' AND target='$5' AND decision='$6' AND reason LIKE '$7'"
	sql_poll 1 "$q" && { ok "audit: $1"; return 0; }
	bad "audit: $1 (want $3/$4 $5 $6 '$7'); rows of port $2:"
	sql "SELECT kind,op,target,decision,reason FROM event WHERE src='$GUEST_IP:$2'" | sed 's/^/     /'
	return 1
}

# The guest resolves the allowed names: 203.0.113.10 is now bound (for the
# answer's TTL plus 60 s; bind again before the cases that need it).
bind_names() {
	local n a
	for n in allowed.test api.allowed.test; do
		a=$(in_guest dig +short +time=3 +tries=1 "$n" A)
		[ "$a" = "$A" ] || { bad "dig $n gave '$a'"; exit 1; }
	done
}
bind_names

# The slow cases wait past the 5 s peek deadline: start them first.
cli "$A" 443 late "" 6 >"$TOPO_DIR/late.out" &
late_pid=$!
cli "$A" 443 split "" 6 >"$TOPO_DIR/split.out" &
split_pid=$!
cli "$A" 80 raw 'GET / HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n' 6 >"$TOPO_DIR/latehttp.out" &
latehttp_pid=$!
cli "$A" 2525 raw 'EHLO guest.test\r\n' 6 >"$TOPO_DIR/smtp.out" &
smtp_pid=$!

echo "== TLS: a well-formed SNI is the control"
out=$(cli "$A" 443 hello allowed.test)
p=$(port_of "$out")
[[ "$(first_of "$out")" == 160303* ]] && ok "ClientHello with SNI allowed.test -> ServerHello" ||
	bad "valid ClientHello got '$(first_of "$out")'"
expect_row "valid SNI allowed" "$p" net connect allowed.test:443 allow %

echo "== TLS without one well-formed SNI is denied, never relayed on the binding"
tls_case() { # description mode arg reason-like
	local out p
	out=$(cli "$A" 443 "$2" "$3")
	p=$(port_of "$out")
	is_alert "$out" && ok "$1: refused with an access_denied alert, nothing relayed" ||
		bad "$1: got reply bytes $(first_of "$out") (relayed to nginx?)"
	expect_row "$1 denied" "$p" net connect "$A:443" deny "$4"
}
tls_case "two server_name extensions" dup "" "%malformed or ambiguous%"
tls_case "two host names in one SNI list" hello "allowed.test,api.allowed.test" "%malformed or ambiguous%"
tls_case "NUL in the SNI" hello 'allowed.test\x00.evil.test' "%malformed or ambiguous%"
tls_case "invalid host character in the SNI" hello "allowed.test;evil" "%malformed or ambiguous%"
tls_case "IP literal as SNI" hello "$A" "%malformed or ambiguous%"
tls_case "no SNI" hello - "TLS without SNI"
out=$(in_guest timeout 10 openssl s_client -connect "$A:443" -noservername -CAfile "$TOPO_CA" </dev/null 2>&1)
grep -q 'no peer certificate available' <<<"$out" && grep -q 'has read 7 bytes' <<<"$out" &&
	grep -q 'alert access denied' <<<"$out" &&
	ok "openssl s_client -noservername: no handshake, access_denied alert" || bad "openssl -noservername: $(grep -m2 'Cipher is\|read' <<<"$out")"
expect_sql "openssl without SNI denied" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='$A:443' AND decision='deny' AND reason='TLS without SNI' AND detail LIKE '%tls-no-sni%'"

echo "== plain HTTP without a readable Host on every request is denied"
bind_names
http_case() { # description bytes reason-like http-target
	local out p
	out=$(cli "$A" 80 raw "$2")
	p=$(port_of "$out")
	if grep -q '^HTTP/1.1 403' <<<"$out" && ! grep -q 'allowed.test admin\|^allowed.test$\|400 Bad' <<<"$out"; then
		ok "$1: 403, nothing from nginx"
	else bad "$1: got: $(head -c 300 <<<"$out")"; fi
	expect_row "$1: request denied" "$p" http request "$4" deny "$3"
	expect_row "$1: connection denied" "$p" net connect "$A:80" deny "$3"
}
http_case "leading empty line" '\r\nGET /admin HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n' \
	"malformed HTTP request head" "$A:80/"
http_case "HTTP/1.1 without Host" 'GET /admin HTTP/1.1\r\n\r\n' "malformed HTTP request head" "$A:80/"
http_case "HTTP/1.0 without Host, then a pipelined request" \
	'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /admin HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n' \
	"HTTP request without Host" "$A:80/"
http_case "IP-literal Host, then a pipelined request for another Host" \
	"GET / HTTP/1.1\r\nHost: $A\r\n\r\nGET /admin HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n" \
	"HTTP Host is an IP address" "$A/"
http_case "Host naming another port" 'GET /admin HTTP/1.1\r\nHost: api.allowed.test:8080\r\n\r\n' \
	"Host port differs from the connection%" "api.allowed.test/admin"
grep -q 'GET /admin' "$TOPO_DIR/nginx-access.log" && bad "nginx saw GET /admin" || ok "nginx never saw GET /admin"

echo "== address-only connections stay neither TLS nor HTTP"
bind_names
out=$(cli "$A" 443 raw 'SSH-2.0-agentgw-test\r\n')
p=$(port_of "$out")
expect_row "SSH banner on the bound address allowed" "$p" net connect "$A:443" allow %
out=$(cli "$A" 80 raw 'SSH-2.0-agentgw-test\r\nGET /admin HTTP/1.1\r\nHost: api.allowed.test\r\n\r\n')
p=$(port_of "$out")
[ "$(first_of "$out")" = none ] && ok "HTTP request after an SSH banner: closed, nothing relayed" ||
	bad "HTTP after a banner got: $(head -c 200 <<<"$out")"
expect_row "HTTP inside an address-only connection denied" "$p" net connect "$A:80" deny "%inside a connection allowed by address only%"

echo "== encoded paths are decided as servers read them"
for path in '/docs/..%2fadmin' '/docs/..%2Fadmin' '/docs/%2e%2e%2fadmin' '/docs/..;/admin' \
	'/docs/..%5cadmin' '/docs/%2e%2e/admin' '/docs/./x'; do
	body=$(in_guest curl -s --path-as-is --max-time 8 -w '\n%{http_code}' "http://allowed.test$path")
	code=$(tail -n1 <<<"$body")
	[ "$code" = 403 ] && ! grep -q 'allowed.test admin\|allowed.test docs' <<<"$body" &&
		ok "GET $path -> 403" || bad "GET $path gave $code: $body"
	expect_sql "GET $path denied" \
		"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test$path' AND decision='deny'"
done
out=$(cli "$A" 80 raw 'GET /docs/..\\admin HTTP/1.1\r\nHost: allowed.test\r\n\r\n')
grep -q '^HTTP/1.1 403' <<<"$out" && ! grep -q 'allowed.test admin' <<<"$out" &&
	ok "GET /docs/..\\admin (raw backslash) -> 403" || bad "raw backslash gave: $out"
expect_row "raw backslash denied" "$(port_of "$out")" http request "$A:80/" deny "malformed HTTP request head"
body=$(in_guest curl -s --max-time 8 http://allowed.test/docs/a%20b)
[ "$body" = "allowed.test docs /docs/a b" ] && ok "GET /docs/a%20b (plain escape) passes" || bad "GET /docs/a%20b gave '$body'"

echo "== Upgrade: only websocket"
body=$(in_guest curl -s --http2 --max-time 8 -w '\n%{http_code}' http://allowed.test/docs/h2c)
[ "$(tail -n1 <<<"$body")" = 403 ] && ok "curl --http2 (Upgrade: h2c) -> 403" || bad "h2c upgrade gave: $body"
expect_sql "h2c upgrade denied" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/docs/h2c' AND decision='deny' AND reason LIKE '%other than websocket%'"
out=$(cli "$A" 80 raw 'GET /docs/ws HTTP/1.1\r\nHost: allowed.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
grep -q 'allowed.test docs /docs/ws' <<<"$out" && ok "websocket Upgrade request passes" || bad "websocket upgrade gave: $out"
expect_row "websocket upgrade request allowed" "$(port_of "$out")" http request allowed.test/docs/ws allow %

echo "== a port probe leaves a row"
out=$(cli "$A" 443 probe)
expect_row "connect-and-close probe recorded" "$(port_of "$out")" net connect "$A:443" deny "client closed before sending anything"

echo "== after the peek deadline"
wait "$late_pid" "$split_pid" "$latehttp_pid" "$smtp_pid"
out=$(cat "$TOPO_DIR/smtp.out")
grep -q '^220 smtp.test' <<<"$out" && grep -q '250 ok: EHLO guest.test' <<<"$out" &&
	ok "server speaks first: banner, then the client's EHLO went through" ||
	bad "server-first protocol gave: $(head -c 200 <<<"$out")"
expect_row "server-first connection allowed on the bound address" "$(port_of "$out")" net connect "$A:2525" allow %
out=$(cat "$TOPO_DIR/late.out")
[ "$(first_of "$out")" = none ] && ok "ClientHello 6 s after connect: no ServerHello" ||
	bad "late ClientHello got reply $(first_of "$out")"
expect_row "late ClientHello denied" "$(port_of "$out")" net connect "$A:443" deny "TLS on a connection allowed by address only"
out=$(cat "$TOPO_DIR/split.out")
is_alert "$out" && ok "ClientHello split by a 6 s pause: no ServerHello, access_denied alert" ||
	bad "split ClientHello got reply $(first_of "$out")"
expect_row "split ClientHello denied" "$(port_of "$out")" net connect "$A:443" deny "incomplete TLS ClientHello"
out=$(cat "$TOPO_DIR/latehttp.out")
[ "$(first_of "$out")" = none ] && ok "HTTP request 6 s after connect: nothing relayed" ||
	bad "late HTTP request got: $(head -c 200 <<<"$out")"
expect_row "late HTTP request denied" "$(port_of "$out")" net connect "$A:80" deny "HTTP on a connection allowed by address only"

echo "== the gateway is still serving"
body=$(in_guest curl -sS --max-time 8 http://allowed.test/docs/end)
[ "$body" = "allowed.test docs /docs/end" ] && ok "GET /docs/end after all of the above" || bad "final GET gave '$body'"

gw_finish 40
