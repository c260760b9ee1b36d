#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Plain-HTTP holes in the transparent proxy, on the same topology as
# net_gateway.sh (agentgw gateway in the gw namespace, nginx and dnsmasq as
# the fake internet): a fake Upgrade that nginx does not honour must not
# turn the connection into an unchecked raw relay; CONNECT and method
# override headers are refused; a denied pipelined request gets its 403 as
# soon as the earlier responses are complete; a name with only AAAA records
# is a clean, audited refusal; a denial's 403 carries a JSON body naming
# the rule, the reason and the host. Every case checks the client's view and the
# audit rows in SQLite.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

PY_PID=
cleanup() {
	[ -n "$PY_PID" ] && kill "$PY_PID" 2>/dev/null
	gw_stop
	topo_down
}
gw_test_init curl dig sqlite3 nc python3

NAME=nh$TOPO_ID

cat >"$POL" <<P
version: 1
name: nethttp
network:
  allow:
    - host: allowed.test
      ports: [80]
      http: [{ methods: [GET, HEAD], paths: ["/", "/docs/**"] }]
    - host: api.allowed.test
      ports: [80]
    - host: v6only.test
      ports: [80, 443]
    - host: allowed.test
      ports: [8080]
      http: [{ methods: [GET], paths: ["/ws", "/docs/**"] }]
  dns: { upstream: [$DNS_IP] }
P

# A second upstream on allowed.test:8080 that, unlike nginx here, really
# upgrades (GET /ws: 101, then echoes raw bytes as "raw:..."), answers
# other requests with 200 "py METHOD PATH", and keeps connections open
# after the client's FIN (so nothing depends on the server closing).
cat >"$TOPO_DIR/up8080.py" <<'PY'
import socket, sys, threading, time
def serve(c):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            d = c.recv(4096)
            if not d:
                time.sleep(30)
                return
            buf += d
        head, buf = buf.split(b"\r\n\r\n", 1)
        method, path = head.split(b" ")[:2]
        if path == b"/ws" and b"upgrade: websocket" in head.lower():
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n\r\n")
            while True:
                if buf:
                    c.sendall(b"raw:" + buf)
                buf = c.recv(4096)
                if not buf:
                    time.sleep(30)
                    return
        body = b"py " + method + b" " + path + b"\n"
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
in_net python3 "$TOPO_DIR/up8080.py" "$ALLOWED_IP" >"$TOPO_DIR/up8080.log" 2>&1 &
PY_PID=$!
wait_port "$NS_NET" "$ALLOWED_IP" 8080 10 || { cat "$TOPO_DIR/up8080.log"; exit 1; }

gw_start "tcp:15001 udp:53" -vv

# raw REQUEST-BYTES: sends them to allowed.test:80 from the guest, prints
# the reply; the sender half-closes after 3 s of silence at most.
raw() { printf "$1" | in_guest timeout 10 nc -q3 -w5 "$ALLOWED_IP" 80 2>/dev/null; }

echo "== fake Upgrade is not a raw relay"
# nginx answers /docs/a with 200 and does not upgrade: the pipelined POST
# /admin is still a request and must be judged
out=$(raw 'GET /docs/a HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nPOST /admin HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 1\r\n\r\nx')
if echo "$out" | grep -q 'allowed.test docs /docs/a' && echo "$out" | grep -q '403 Forbidden' &&
	! echo "$out" | grep -q 'allowed.test admin'; then
	ok "Upgrade without 101: pipelined POST /admin -> 403"
else bad "fake Upgrade gave: $out"; fi
expect_sql "upgrade GET /docs/a allowed" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/docs/a' AND decision='allow' AND rule='network.allow[0]'"
expect_sql "pipelined POST /admin denied by network.allow[0]" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/admin' AND decision='deny' AND rule='network.allow[0]' AND detail LIKE '%\"method\":\"POST\"%'"
grep -q 'POST /admin' "$TOPO_DIR/nginx-access.log" && bad "nginx saw POST /admin" || ok "nginx never saw POST /admin"

echo "== a real 101 switches to raw relay"
out=$(printf 'GET /ws HTTP/1.1\r\nHost: allowed.test:8080\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nPOST /admin raw-frame' |
	in_guest timeout 10 nc -q2 -w5 "$ALLOWED_IP" 8080 2>/dev/null)
echo "$out" | grep -q '^HTTP/1.1 101' && echo "$out" | grep -q 'raw:POST /admin raw-frame' &&
	ok "GET /ws -> 101, then bytes relayed raw" || bad "real upgrade gave: $out"
expect_sql "upgrade GET /ws allowed by network.allow[3]" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/ws' AND decision='allow' AND rule='network.allow[3]'"
expect_sql "no request judged after the 101" \
	"SELECT count(*)=0 FROM event WHERE kind='http' AND target='allowed.test/admin' AND detail LIKE '%\"port\":8080%'"

echo "== CONNECT is refused"
out=$(raw 'CONNECT api.allowed.test:80 HTTP/1.1\r\nHost: api.allowed.test:80\r\n\r\n')
echo "$out" | grep -q '403 Forbidden' && ok "CONNECT api.allowed.test:80 -> 403" || bad "CONNECT gave: $out"
expect_sql "CONNECT denied" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target LIKE 'api.allowed.test%' AND decision='deny' AND reason LIKE '%CONNECT%'"

echo "== a denial an agent can read: 403 with a JSON body"
hdr=$TOPO_DIR/403.hdr
body=$(in_guest curl -s -D "$hdr" --max-time 8 -X POST -d x http://allowed.test/admin)
grep -qi '^content-type: application/json' "$hdr" && ok "403 Content-Type application/json" ||
	bad "403 headers: $(cat "$hdr")"
python3 - "$body" <<'PY' && ok "403 body: $body" || bad "403 body not the denial JSON: $body"
import json, sys
j = json.loads(sys.argv[1])
assert j == {"error": "denied by agentgw", "rule": "network.allow[0]",
             "reason": j["reason"], "host": "allowed.test"}, j
assert j["reason"]
PY
expect_sql "POST /admin denied, row as before" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/admin' AND decision='deny' AND rule='network.allow[0]' AND detail LIKE '%\"method\":\"POST\"%' AND detail LIKE '%\"port\":80%'"
# a request without Host names no rule: rule null, host the address
body=$(printf 'GET / HTTP/1.0\r\n\r\n' | in_guest timeout 10 nc -q3 -w5 "$ALLOWED_IP" 80 2>/dev/null | sed '1,/^\r$/d')
python3 - "$body" "$ALLOWED_IP" <<'PY' && ok "no Host: rule null, reason says why" || bad "no Host gave: $body"
import json, sys
j = json.loads(sys.argv[1])
assert j["rule"] is None and j["reason"] == "HTTP request without Host", j
assert j["host"].startswith(sys.argv[2]), j
PY

echo "== method override headers"
for h in X-HTTP-Method-Override X-HTTP-Method X-Method-Override; do
	code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 -H "$h: DELETE" http://allowed.test/docs/o)
	[ "$code" = 403 ] && ok "GET /docs/o with $h: DELETE -> 403" || bad "$h gave $code"
done
expect_sql "override denied and audited" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/docs/o' AND decision='deny' AND reason LIKE '%override%'"
# also on a later request of a keep-alive connection
out=$(in_guest curl -s --max-time 8 -w '%{http_code}\n' http://allowed.test/docs/k \
	-H 'X-HTTP-Method-Override: PUT' http://allowed.test/docs/k2 2>&1)
echo "$out" | tail -1 | grep -q 403 && ok "override on a keep-alive request -> 403" || bad "keep-alive override gave: $out"
expect_sql "keep-alive override denied" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/docs/k2' AND decision='deny' AND reason LIKE '%override%'"

echo "== 403 of a later request does not wait for upstream"
t0=$(date +%s%N)
out=$(in_guest curl -s --max-time 8 -w '%{http_code}\n' http://allowed.test/docs/a http://allowed.test/admin)
ms=$((($(date +%s%N) - t0) / 1000000))
echo "$out" | head -1 | grep -q 'allowed.test docs /docs/a' && echo "$out" | tail -1 | grep -q 403 &&
	ok "keep-alive: /docs/a 200 then /admin 403" || bad "keep-alive gave: $out"
# the drain timeout is 5 s and nginx keeps idle connections 75 s
[ "$ms" -lt 4000 ] && ok "403 after the first response without waiting (${ms} ms)" ||
	bad "403 took ${ms} ms (waited for upstream close or the drain timeout)"
expect_sql "keep-alive /admin denied by network.allow[0]" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/admin' AND decision='deny' AND rule='network.allow[0]' AND detail LIKE '%\"method\":\"GET\"%'"
# upstream that keeps the connection open after our FIN: the 403 must not
# wait for the 5 s drain timeout
t0=$(date +%s%N)
out=$(in_guest curl -s --max-time 8 -w '%{http_code}\n' http://allowed.test:8080/docs/a http://allowed.test:8080/admin)
ms=$((($(date +%s%N) - t0) / 1000000))
echo "$out" | head -1 | grep -q 'py GET /docs/a' && echo "$out" | tail -1 | grep -q 403 && [ "$ms" -lt 4000 ] &&
	ok "server that does not close: /docs/a 200 then /admin 403 in ${ms} ms" ||
	bad "server that does not close: ${ms} ms: $out"
expect_sql "8080 /admin denied by network.allow[3]" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='request' AND target='allowed.test/admin' AND decision='deny' AND rule='network.allow[3]'"
# pipelined in one write: both responses come back, then the 403
out=$(raw 'GET /docs/p1 HTTP/1.1\r\nHost: allowed.test\r\n\r\nHEAD /docs/p2 HTTP/1.1\r\nHost: allowed.test\r\n\r\nGET /docs/p3 HTTP/1.1\r\nHost: allowed.test\r\n\r\nDELETE /docs/p4 HTTP/1.1\r\nHost: allowed.test\r\n\r\n')
echo "$out" | grep -q 'allowed.test docs /docs/p1' && echo "$out" | grep -q 'allowed.test docs /docs/p3' &&
	[ "$(echo "$out" | grep -c '^HTTP/1.1 200')" = 3 ] && echo "$out" | tail -1 | grep -q '"rule":"network.allow\[0\]"' &&
	ok "pipelined GET, HEAD, GET answered, then DELETE 403" || bad "pipelined gave: $out"

echo "== name with only an IPv6 address"
t0=$(date +%s%N)
code=$(in_guest curl -s -o /dev/null -w '%{http_code}' --max-time 8 --resolve "v6only.test:80:$ALLOWED_IP" http://v6only.test/)
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$code" = 403 ] && [ "$ms" -lt 4000 ] && ok "http://v6only.test/ -> 403 in ${ms} ms" || bad "v6only http gave $code in ${ms} ms"
expect_sql "v6only.test:80 connect error 'no IPv4 address'" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='v6only.test:80' AND decision='error' AND reason='no IPv4 address'"
t0=$(date +%s%N)
in_guest curl -sS --max-time 8 --cacert "$TOPO_CA" --resolve "v6only.test:443:$ALLOWED_IP" https://v6only.test/ >/dev/null 2>&1 &&
	bad "https://v6only.test/ got through"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 4000 ] && ok "https://v6only.test/ refused in ${ms} ms" || bad "https://v6only.test/ took ${ms} ms"
expect_sql "v6only.test:443 connect error 'no IPv4 address'" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='v6only.test:443' AND decision='error' AND reason='no IPv4 address'"

echo "== the gateway is still serving"
body=$(in_guest curl -sS --max-time 8 http://allowed.test/docs/end)
[ "$body" = "allowed.test docs /docs/end" ] && ok "GET /docs/end after all of the above" || bad "final GET gave '$body'"

gw_finish 40
