#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bulk downloads through the proxy: once a response body is large, the net
# child moves upstream's bytes to the client with splice through a pipe
# instead of reading them (prx_splice_in). Real curl in the guest
# namespace, nginx in the net namespace, random files (so a lost, doubled
# or reordered block changes the checksum):
#   - a 40 MiB Content-Length body, alone and followed by more requests on
#     the same keep-alive connection (the framing must end exactly there)
#   - a denied request pipelined after it: the whole body, then the 403
#   - a chunked body (nginx gzip: chunk framing between the data)
#   - HTTPS passthrough (raw relay) of the same file
#   - a client that stops reading mid-body and goes away (no stuck session)
# and the audit: one close row per connection with the bytes, the request
# rows; the net child's open files back to where they were (no pipe left
# behind), and strace seeing splice used (when strace is installed).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/topo.sh

gw_test_init curl sqlite3 sha256sum
NAME=bk$TOPO_ID
cat >"$POL" <<P
version: 1
name: bulk
network:
  allow:
    - host: allowed.test
      ports: [80]
      http: [{ methods: [GET], paths: ["/files/**", "/gz/**", "/small"] }]
    - host: allowed.test
      ports: [443]
  dns: { upstream: [$DNS_IP] }
P
mkdir -p "$TOPO_DIR/www/files"
head -c $((40 << 20)) /dev/urandom >"$TOPO_DIR/www/files/r40"
head -c $((3 << 20)) /dev/urandom >"$TOPO_DIR/www/files/r3"
S40=$(sha256sum <"$TOPO_DIR/www/files/r40" | cut -d' ' -f1)
S3=$(sha256sum <"$TOPO_DIR/www/files/r3" | cut -d' ' -f1)
gw_start "tcp:15001 udp:53"
# the net workers (one per CPU): any of them may take a download
NETPID=$(pgrep -P "$GW_PID" -x 'agentgw-net[0-9]*' | tr '\n' ' ')
nfds() { local p; for p in $NETPID; do ls /proc/"$p"/fd 2>/dev/null; done | wc -l; }
RES=(--resolve "allowed.test:80:$ALLOWED_IP" --resolve "allowed.test:443:$ALLOWED_IP")
gc() { in_guest curl -sS --max-time 30 "${RES[@]}" "$@"; }
# the baseline once the net child is fully set up (under the sanitizers it
# still opens files after its listeners are up): after one request is over
gc -o /dev/null http://allowed.test/small
sql_poll 1 "SELECT count(*) FROM event WHERE kind = 'net' AND op = 'close'" 0.1
fd0=$(nfds)
ST=
if command -v strace >/dev/null && [ -n "$NETPID" ]; then
	# shellcheck disable=SC2046 # one -p per worker
	strace -f -e trace=splice -o "$TOPO_DIR/splice.trace" $(printf -- '-p %s ' $NETPID) 2>/dev/null &
	ST=$!
	sleep 0.5
fi

# 1. one 40 MiB body
got=$(gc http://allowed.test/files/r40 | sha256sum | cut -d' ' -f1)
[ "$got" = "$S40" ] && ok "40 MiB body arrives intact" || bad "40 MiB body: checksum $got"

# 2. keep-alive: the big body, then a 3 MiB one, then a small one, one connection
out=$(gc -w '%{http_code} %{num_connects}\n' -o "$TOPO_DIR/o1" http://allowed.test/files/r40 \
	-o "$TOPO_DIR/o2" http://allowed.test/files/r3 -o "$TOPO_DIR/o3" http://allowed.test/small)
s1=$(sha256sum <"$TOPO_DIR/o1" | cut -d' ' -f1)
s2=$(sha256sum <"$TOPO_DIR/o2" | cut -d' ' -f1)
conns=$(awk '{c += $2} END {print c}' <<<"$out")
if [ "$s1" = "$S40" ] && [ "$s2" = "$S3" ] && [ "$(cat "$TOPO_DIR/o3")" = "$(cat "$TOPO_DIR/www/small")" ] &&
	[ "$(awk '{print $1}' <<<"$out" | sort -u)" = 200 ] && [ "$conns" = 1 ]; then
	ok "keep-alive: 40 MiB, 3 MiB and a small body on one connection, each intact"
else
	bad "keep-alive after a bulk body: codes/connects '$out', sums ok? $([ "$s1" = "$S40" ]) $([ "$s2" = "$S3" ])"
fi

# 3. a denied request after the big body on the same connection
out=$(gc -w '%{http_code} %{num_connects}\n' -o "$TOPO_DIR/o1" http://allowed.test/files/r40 \
	-o "$TOPO_DIR/o4" http://allowed.test/admin)
s1=$(sha256sum <"$TOPO_DIR/o1" | cut -d' ' -f1)
if [ "$s1" = "$S40" ] && [ "$(tr '\n' ' ' <<<"$out")" = "200 1 403 0 " ] && grep -q '"error"' "$TOPO_DIR/o4"; then
	ok "the whole 40 MiB body, then the 403 for the denied request on the same connection"
else
	bad "denied after a bulk body: '$out' $(head -c 200 "$TOPO_DIR/o4")"
fi

# 4. chunked (gzip) body
got=$(gc --compressed -D "$TOPO_DIR/h5" http://allowed.test/gz/r40 | sha256sum | cut -d' ' -f1)
if [ "$got" = "$S40" ] && grep -qi '^transfer-encoding: chunked' "$TOPO_DIR/h5"; then
	ok "chunked 40 MiB body (gzip) arrives intact"
else
	bad "chunked body: checksum $got, headers $(tr -d '\r' <"$TOPO_DIR/h5" | tr '\n' ' ')"
fi

# 5. HTTPS passthrough: the raw relay
got=$(gc --cacert "$TOPO_CA" https://allowed.test/files/r40 | sha256sum | cut -d' ' -f1)
[ "$got" = "$S40" ] && ok "40 MiB over HTTPS passthrough arrives intact" || bad "HTTPS passthrough: checksum $got"

# 6. a client that stops reading and goes away
in_guest curl -sS --max-time 2 --limit-rate 1M "${RES[@]}" -o /dev/null http://allowed.test/files/r40 2>/dev/null
got=$(gc -o /dev/null -w '%{http_code}' http://allowed.test/small)
[ "$got" = 200 ] && ok "after a client gave up mid-body, the next request is served" || bad "after an abandoned download: $got"

if [ -n "$ST" ]; then
	sleep 0.3
	kill -INT "$ST" 2>/dev/null
	wait "$ST" 2>/dev/null
	n=$(grep -c '^[0-9]* *splice(' "$TOPO_DIR/splice.trace")
	[ "$n" -gt 100 ] && ok "splice moved the bulk bodies ($n calls)" || bad "splice calls seen: $n"
fi

# every connection closed: its rows, and no pipe or socket left open
sql_poll 8 "SELECT count(*) FROM event WHERE kind = 'net' AND op = 'close'" 0.1
[ "$n" = 8 ] && ok "audit: a close row for each of the 8 connections" || bad "close rows: $n of 8"
n=$(sql "SELECT count(*) FROM event WHERE kind = 'net' AND op = 'close' AND bytes_down >= $((40 << 20))")
[ "$n" -ge 5 ] && ok "audit: the bulk connections' close rows count the 40 MiB ($n)" || bad "close rows with >= 40 MiB down: $n"
n=$(sql "SELECT count(*) FROM event WHERE kind = 'http' AND op = 'request' AND decision = 'allow'")
[ "$n" = 9 ] && ok "audit: 9 allowed request rows" || bad "allowed request rows: $n"
expect_sql "the denied request" "SELECT count(*) FROM event WHERE kind = 'http' AND decision = 'deny' AND target LIKE '%/admin%'"
for _ in $(seq 50); do [ "$(nfds)" -le "$fd0" ] && break; sleep 0.1; done
[ -n "$NETPID" ] && [ "$(nfds)" -le "$fd0" ] && ok "the net workers' open files back to $fd0" ||
	bad "net workers (pids '$NETPID') have $(nfds) open files, $fd0 before"
gw_finish 30
