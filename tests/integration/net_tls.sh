#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TLS inspection and credential injection (issue 14) on the net_gateway.sh
# topology: `agentgw gateway` in the gw namespace with a policy that
# inspects api.allowed.test:8443 (a python3 HTTPS upstream with the topology
# CA's certificate that logs the headers it got and answers with a hash of
# x-api-key, never the key), allowed.test:443 (nginx) and evil.test:8444
# (a self-signed upstream that must not verify), and passes other.test
# through. network.tls.upstream_ca is the topology CA. The client is curl in
# the guest namespace with --cacert the sandbox CA from the guest folder.
# Checks: the upstream gets the real secret in x-api-key and nowhere else;
# the placeholder in another header, the URL, the body, to another
# inspected host, over plain HTTP, in a DNS name or in a passthrough
# ClientHello is refused and audited as a leak; an HTTPS path outside the
# rule gets the 403 JSON and an audit row; an upstream that does not verify
# is refused and audited; two keep-alive requests give two rows with
# status, bytes and duration; the secret is nowhere in the audit database,
# the gateway's log or the guest folder.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

PY_PIDS=
cleanup() {
	for p in $PY_PIDS; do kill "$p" 2>/dev/null; done
	gw_stop
	topo_down
}
gw_test_init curl dig sqlite3 python3 openssl

NAME=tl$TOPO_ID
export AGENTGW_RUN_DIR=$TOPO_DIR/run
SECRET="sk-test-$(head -c 16 /dev/urandom | xxd -p)"
export AGW_TEST_SECRET=$SECRET
GUEST_DIR=$AGENTGW_RUN_DIR/$NAME/guest

cat >"$POL" <<P
version: 1
name: tlsi
network:
  allow:
    - host: api.allowed.test
      ports: [8443]
      tls: inspect
      http: [{ methods: [GET, POST], paths: ["/v1/**"] }]
    - host: allowed.test
      ports: [443]
      tls: inspect
    - host: other.test
      ports: [80, 443]
    - host: evil.test
      ports: [8444]
      tls: inspect
  tls:
    upstream_ca: $TOPO_CA
  dns: { upstream: [$DNS_IP] }
credentials:
  - name: testkey
    env: TEST_API_KEY
    from: env:AGW_TEST_SECRET
    hosts: [api.allowed.test]
    header: x-api-key
P

# The echo upstream: logs every request head to up.log, answers 200 with
# "METHOD PATH key-sha256=<hex of x-api-key> body=<n>" (keep-alive).
cat >"$TOPO_DIR/echo.py" <<'PY'
import hashlib, http.server, socketserver, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        with open(sys.argv[4], "a") as f:
            f.write(self.requestline + "\n" + str(self.headers) + "body=" + body.decode("latin1") + "\n--\n")
        k = self.headers.get("x-api-key") or ""
        out = ("%s %s key-sha256=%s body=%d\n" % (self.command, self.path,
               hashlib.sha256(k.encode()).hexdigest(), len(body))).encode()
        if self.path.startswith("/v1/echo"): # a debug endpoint that echoes the key
            out = b"x" * 20000 + ("key=%s\n" % k).encode()
        if self.path.startswith("/v1/split"): # ... in two writes, 0.5 s apart
            out = ("key=%s\n" % k).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out[:16])
            self.wfile.flush()
            import time; time.sleep(0.5)
            self.wfile.write(out[16:])
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = handle_one
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
s = S((sys.argv[1], int(sys.argv[2])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[3] + ".pem", sys.argv[3] + ".key")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
# evil.test:8444 presents a self-signed certificate (not from any CA we trust)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$TOPO_DIR/selfsigned.key" -out "$TOPO_DIR/selfsigned.pem" -subj /CN=evil.test \
	-addext subjectAltName=DNS:evil.test 2>/dev/null
in_net python3 "$TOPO_DIR/echo.py" "$ALLOWED_IP" 8443 "$TOPO_DIR/pki/allowed.test" "$TOPO_DIR/up.log" \
	>"$TOPO_DIR/echo.err" 2>&1 &
PY_PIDS="$PY_PIDS $!"
in_net python3 "$TOPO_DIR/echo.py" "$EVIL_IP" 8444 "$TOPO_DIR/selfsigned" "$TOPO_DIR/evil.log" \
	>"$TOPO_DIR/evil.err" 2>&1 &
PY_PIDS="$PY_PIDS $!"
wait_port "$NS_NET" "$ALLOWED_IP" 8443 10 || { cat "$TOPO_DIR/echo.err"; exit 1; }
wait_port "$NS_NET" "$EVIL_IP" 8444 10 || { cat "$TOPO_DIR/evil.err"; exit 1; }

gw_start "tcp:15001 udp:53" -vv
# the guest folder is written just after the listeners exist
for _ in $(seq 100); do [ -e "$GUEST_DIR/env" ] && break; sleep 0.05; done

echo "== the guest folder"
if [ -s "$GUEST_DIR/ca.pem" ] && openssl x509 -in "$GUEST_DIR/ca.pem" -noout -subject 2>/dev/null |
	grep -q "agentgw sandbox $NAME CA"; then ok "guest/ca.pem is the sandbox CA"; else bad "no CA in $GUEST_DIR"; fi
openssl x509 -in "$GUEST_DIR/ca.pem" -noout -text 2>/dev/null | grep -A1 'Basic Constraints: critical' | grep -q 'CA:TRUE' &&
	ok "CA: basicConstraints CA:TRUE critical" || bad "CA extensions"
[ "$(stat -c %a "$GUEST_DIR/ca.pem" 2>/dev/null)" = 644 ] && [ "$(stat -c %a "$GUEST_DIR/env" 2>/dev/null)" = 644 ] &&
	ok "ca.pem and env are 0644" || bad "guest folder modes"
PH=$(sed -n 's/^TEST_API_KEY=//p' "$GUEST_DIR/env")
case "$PH" in agw-placeholder-testkey-[0-9a-f]*) ok "env: TEST_API_KEY=$PH" ;; *) bad "env file: $(cat "$GUEST_DIR/env")" ;; esac
grep -rqF "$SECRET" "$GUEST_DIR" && bad "the secret is in the guest folder" || ok "the secret is not in the guest folder"
grep -rq 'PRIVATE KEY' "$AGENTGW_RUN_DIR" && bad "a private key is on disk" || ok "no private key under the run folder"

CA=$GUEST_DIR/ca.pem
gcurl() { in_guest curl -sS --max-time 10 --cacert "$CA" "$@"; }
WANT_HASH=$(printf %s "$SECRET" | sha256sum | cut -d' ' -f1)

echo "== injection"
out=$(gcurl -H "x-api-key: $PH" https://api.allowed.test:8443/v1/messages 2>&1)
echo "$out" | grep -q "GET /v1/messages key-sha256=$WANT_HASH" && ok "upstream got the real secret in x-api-key" ||
	bad "injection: $out"
grep -qF "x-api-key: $SECRET" "$TOPO_DIR/up.log" && ok "up.log: x-api-key carried the secret" || bad "up.log: $(cat "$TOPO_DIR/up.log")"
grep -qF "$PH" "$TOPO_DIR/up.log" && bad "the placeholder reached the upstream" || ok "the placeholder never reached the upstream"
expect_sql "http row: GET /v1/messages allowed, status 200, credential testkey, bytes, duration" \
	"SELECT count(*) FROM event WHERE kind='http' AND target='api.allowed.test/v1/messages' AND decision='allow' AND rule='network.allow[0]' AND detail LIKE '%\"status\":200%' AND detail LIKE '%\"credential\":\"testkey\"%' AND detail LIKE '%\"tls\":\"inspect\"%' AND bytes_up>0 AND bytes_down>0 AND duration_us>0"
expect_sql "connect row says tls inspect" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='api.allowed.test:8443' AND decision='allow' AND detail LIKE '%\"tls\":\"inspect\"%'"

echo "== an upstream that echoes the key"
out=$(gcurl -H "x-api-key: $PH" https://api.allowed.test:8443/v1/echo 2>&1)
echo "$out" | grep -qF "$SECRET" && bad "the echoed secret reached the guest" || ok "the echoed secret never reached the guest"
echo "$out" | grep -q 'key=' && bad "the response with the key was forwarded: $(echo "$out" | tail -c 200)" ||
	ok "the response holding the key was cut ($(echo "$out" | tail -n1 | cut -c1-60))"
out=$(gcurl -H "x-api-key: $PH" https://api.allowed.test:8443/v1/split 2>&1)
echo "$out" | grep -qF "${SECRET:0:12}" && bad "the first part of a split key reached the guest: $out" ||
	ok "a key split over two upstream writes: not even its first part reached the guest"
expect_sql "http/response deny: the upstream's response held the credential" \
	"SELECT count(*) FROM event WHERE kind='http' AND op='response' AND decision='deny' AND target='api.allowed.test:8443' AND reason LIKE '%value of credential ''testkey''%'"

echo "== keep-alive: two requests, two rows"
out=$(gcurl -w '%{num_connects}\n' -H "x-api-key: $PH" https://api.allowed.test:8443/v1/ka1 \
	-H "x-api-key: $PH" https://api.allowed.test:8443/v1/ka2 2>&1)
echo "$out" | grep -q 'GET /v1/ka1' && echo "$out" | grep -q 'GET /v1/ka2' &&
	[ "$(echo "$out" | grep -c "key-sha256=$WANT_HASH")" = 2 ] && echo "$out" | sed -n 4p | grep -qx 0 &&
	ok "two requests on one connection, both injected" || bad "keep-alive: $out"
sql_poll 2 "SELECT count(*) FROM event WHERE kind='http' AND target IN ('api.allowed.test/v1/ka1','api.allowed.test/v1/ka2') AND decision='allow' AND detail LIKE '%\"status\":200%'" &&
	ok "audit: two http rows with status 200" || bad "keep-alive rows: $n"

echo "== HTTPS method/path rules"
out=$(gcurl -i https://api.allowed.test:8443/admin 2>&1)
echo "$out" | head -1 | grep -q '^HTTP/1.1 403' && echo "$out" | grep -qi '^content-type: application/json' &&
	echo "$out" | tail -1 | grep -q '"error":"denied by agentgw","rule":"network.allow\[0\]"' &&
	echo "$out" | tail -1 | grep -q '"host":"api.allowed.test"' &&
	ok "GET /admin -> 403 JSON naming network.allow[0]" || bad "path rule: $out"
expect_sql "GET /admin denied by network.allow[0]" \
	"SELECT count(*) FROM event WHERE kind='http' AND target='api.allowed.test/admin' AND decision='deny' AND rule='network.allow[0]'"
code=$(gcurl -o /dev/null -w '%{http_code}' -X DELETE https://api.allowed.test:8443/v1/x 2>&1)
[ "$code" = 403 ] && ok "DELETE /v1/x -> 403" || bad "DELETE gave $code"
code=$(gcurl -o /dev/null -w '%{http_code}' --path-as-is https://api.allowed.test:8443/v1/../admin 2>&1)
[ "$code" = 403 ] && ok "/v1/../admin -> 403 (same normalisation as plain HTTP)" || bad "dot segment gave $code"
code=$(gcurl -o /dev/null -w '%{http_code}' -H 'Host: other.test' https://api.allowed.test:8443/v1/x 2>&1)
[ "$code" = 403 ] && ok "Host other than the SNI name -> 403" || bad "Host mismatch gave $code"
out=$(gcurl https://allowed.test/docs/x 2>&1)
[ "$out" = "allowed.test docs /docs/x" ] && ok "inspected nginx (no http rules): any path" || bad "allowed.test gave $out"
grep -q 'GET /admin' "$TOPO_DIR/up.log" && bad "upstream saw /admin" || ok "upstream never saw /admin"

echo "== leaks of the placeholder"
leak() { # what expected-target-like curl-args...
	local what=$1 like=$2 out
	shift 2
	out=$(gcurl -i "$@" 2>&1)
	if echo "$out" | grep -q '^HTTP/1.1 403' && echo "$out" | grep -q 'credential leak attempt'; then
		ok "$what -> 403 credential leak attempt"
	else
		bad "$what: $out"
	fi
	expect_sql "$what audited as a leak" \
		"SELECT count(*) FROM event WHERE kind='http' AND target LIKE '$like' AND decision='deny' AND reason LIKE 'credential leak attempt: placeholder of ''testkey''%'"
}
leak "placeholder in another header" 'api.allowed.test/v1/h%' -H "x-other: $PH" https://api.allowed.test:8443/v1/h
leak "placeholder in the URL" 'api.allowed.test/v1/u%' "https://api.allowed.test:8443/v1/u?k=$PH"
leak "placeholder to another inspected host" 'allowed.test/docs/o%' -H "x-api-key: $PH" https://allowed.test/docs/o
leak "placeholder over plain HTTP" 'other.test/%' -H "x-api-key: $PH" http://other.test/
head -c 3000 /dev/zero | tr '\0' a >"$TOPO_DIR/body"
printf '%s' "$PH" >>"$TOPO_DIR/body"
leak "placeholder in the body" 'api.allowed.test/v1/b%' -H "x-api-key: $PH" --data-binary "@$TOPO_DIR/body" https://api.allowed.test:8443/v1/b
grep -q 'POST /v1/b' "$TOPO_DIR/up.log" && grep -A30 'POST /v1/b' "$TOPO_DIR/up.log" | grep -qF "$PH" &&
	bad "the body with the placeholder reached upstream" || ok "upstream never got the body with the placeholder"
out=$(in_guest dig +time=3 +tries=1 @"$GW_IP" "$PH.other.test" A 2>&1)
echo "$out" | grep -q 'status: REFUSED' && ok "DNS name with the placeholder -> REFUSED" || bad "dns leak: $out"
expect_sql "DNS leak audited" \
	"SELECT count(*) FROM event WHERE kind='dns' AND decision='deny' AND reason LIKE 'credential leak attempt: placeholder of ''testkey'' in a DNS name'"
in_guest curl -sS --max-time 8 --cacert "$TOPO_CA" --resolve "$PH.other.test:443:$OTHER_IP" "https://$PH.other.test/" >/dev/null 2>&1 &&
	bad "a ClientHello with the placeholder got through"
expect_sql "passthrough ClientHello with the placeholder refused" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='deny' AND reason LIKE 'credential leak attempt: placeholder of ''testkey'' in the TLS ClientHello'"
out=$(in_guest curl -sS --max-time 8 --cacert "$TOPO_CA" https://other.test/ 2>&1)
[ "$out" = other.test ] && ok "passthrough other.test still works (its own certificate)" || bad "passthrough gave $out"

echo "== upstream certificate that does not verify"
out=$(gcurl -i https://evil.test:8444/ 2>&1)
echo "$out" | head -1 | grep -q '^HTTP/1.1 403' && echo "$out" | grep -q 'upstream certificate does not verify' &&
	ok "evil.test:8444 (self-signed) -> 403 naming the reason" || bad "evil.test: $out"
expect_sql "net/tls deny row with the verification error" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='tls' AND target='evil.test:8444' AND decision='deny' AND reason LIKE 'upstream certificate does not verify:%'"
[ -s "$TOPO_DIR/evil.log" ] && bad "evil.test got a request" || ok "nothing was sent to evil.test"

echo "== the secret is nowhere"
gw_stop
sqlite3 "$DB" .dump | grep -qF "$SECRET" && bad "the secret is in the audit database" || ok "audit database: no secret"
grep -qF "$SECRET" "$TOPO_DIR/gw.log" && bad "the secret is in the gateway log" || ok "gateway log: no secret"
[ -e "$GUEST_DIR" ] && bad "guest folder left behind after stop" || ok "guest folder removed at stop"

echo "== a credential that cannot be read stops the start"
sed -i "s|from: env:AGW_TEST_SECRET|from: \"command:sh -c 'echo \$AGW_TEST_SECRET; exit 4'\"|" "$POL"
out=$(in_gw timeout 20 "$AGENTGW" gateway --iface "$GUEST_IF" --policy "$POL" --audit "$DB" --name "$NAME" 2>&1)
rc=$?
[ "$rc" != 0 ] && echo "$out" | grep -q "credential 'testkey'.*exited with status 4" &&
	ok "failing command: start refused naming the credential (exit $rc)" || bad "failing command: rc $rc: $out"
echo "$out" | grep -qF "$SECRET" && bad "the start error shows the secret" || ok "the start error does not show the secret"
[ -e "$GUEST_DIR" ] && bad "guest folder left behind by a failed start" || ok "no guest folder after a failed start"

gw_finish 60
