#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 12 item 7: DNS over TCP with many pipelined queries in one segment.
# A python3 sender in the guest namespace writes 215 queries in one 4 KiB
# write (TCP_NODELAY, one segment on the veth), then 1000 more in a burst,
# then allowed names pipelined; the net child must survive, answer every
# query in order (one outstanding per connection) and record them; dig
# +tcp and UDP still work afterwards.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init dig sqlite3 python3

NAME=dt$TOPO_ID
cat >"$POL" <<P
version: 1
name: dnstcp
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
P
gw_start tcp:53 --no-fs -v
netpid() { pgrep -P "$GW_PID" -x agentgw-net; } # worker 0 serves DNS
NET_PID=$(netpid)

cat >"$TOPO_DIR/pipe.py" <<'PY'
# usage: pipe.py SERVER COUNT NAME [CHUNK]: COUNT pipelined queries for NAME
# (an empty NAME is the root), written CHUNK bytes at a time; prints
# "answered N rcodes R ids-in-order B".
import socket, struct, sys
srv, count, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chunk = int(sys.argv[4]) if len(sys.argv) > 4 else 4096
def q(i):
    qn = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"
    m = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0) + qn + struct.pack(">HH", 1, 1)
    return struct.pack(">H", len(m)) + m
data = b"".join(q(i) for i in range(count))
s = socket.create_connection((srv, 53), timeout=20)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
for off in range(0, len(data), chunk):
    s.sendall(data[off:off + chunk])
buf, got, rcodes, inorder = b"", 0, set(), True
try:
    while got < count:
        r = s.recv(65536)
        if not r:
            break
        buf += r
        while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
            n = struct.unpack(">H", buf[:2])[0]
            m, buf = buf[2:2 + n], buf[2 + n:]
            inorder = inorder and struct.unpack(">H", m[:2])[0] == (got & 0xffff)
            rcodes.add(m[3] & 15)
            got += 1
except socket.timeout:
    pass
print("answered %d rcodes %s ids-in-order %s" % (got, ",".join(map(str, sorted(rcodes))), inorder))
PY

# 215 root-name queries are 19 bytes each: 4085 bytes, one write, one segment
out=$(in_guest python3 "$TOPO_DIR/pipe.py" "$GW_IP" 215 "" 2>&1)
[ "$out" = "answered 215 rcodes 5 ids-in-order True" ] &&
	ok "215 pipelined queries in one segment all answered REFUSED in order" ||
	bad "215 pipelined queries: $out"
kill -0 "$NET_PID" 2>/dev/null && ok "net child survived" || bad "net child died"
# denied names, many segments' worth at once
out=$(in_guest python3 "$TOPO_DIR/pipe.py" "$GW_IP" 1000 "x.denied.test" 65536 2>&1)
[ "$out" = "answered 1000 rcodes 3 ids-in-order True" ] &&
	ok "1000 pipelined denied queries answered NXDOMAIN in order" ||
	bad "1000 pipelined denied queries: $out"
# allowed names wait for upstream one at a time, still all answered
out=$(in_guest python3 "$TOPO_DIR/pipe.py" "$GW_IP" 100 "allowed.test" 2>&1)
[ "$out" = "answered 100 rcodes 0 ids-in-order True" ] &&
	ok "100 pipelined allowed queries answered NOERROR in order" ||
	bad "100 pipelined allowed queries: $out"
kill -0 "$NET_PID" 2>/dev/null && [ "$(netpid)" = "$NET_PID" ] && ok "net child still the same process" ||
	bad "net child gone"
ans=$(in_guest dig +tcp +short +time=3 +tries=1 allowed.test A)
[ "$ans" = "$ALLOWED_IP" ] && ok "dig +tcp allowed.test still answers" || bad "dig +tcp gave '$ans'"
ans=$(in_guest dig +short +time=3 +tries=1 allowed.test A)
[ "$ans" = "$ALLOWED_IP" ] && ok "UDP still answers" || bad "UDP gave '$ans'"

sql_poll 1000 "SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='x.denied.test' AND decision='deny'" 0.1
[ "${n:-0}" -ge 1000 ] && ok "audit: 1000 deny rows for x.denied.test" || bad "audit: ${n:-0} deny rows for x.denied.test"
n=$(sql "SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='allowed.test' AND decision='allow'")
[ "${n:-0}" -ge 100 ] && ok "audit: $n allow rows for allowed.test" || bad "audit: ${n:-0} allow rows for allowed.test"

gw_finish 30
