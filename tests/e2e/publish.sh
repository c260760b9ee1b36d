#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `up -p [HOST_IP:]HOST_PORT:GUEST_PORT` (issue 18, item 8), in a network
# namespace made here: a server started in the guest (busybox httpd)
# answers on the published host port through the gateway's relay, a 3 MB
# file intact; ps shows the ports; every connection has a net/inbound
# allow row and a net/close row with the bytes; a port not published is
# not reachable, and one the guest does not serve gives an inbound error
# row; a bad -p is one line, exit 2.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 curl jq
e2e_netns pub
export AGENTGW_STATE_DIR=$tmp/state
mkdir -p "$AGENTGW_STATE_DIR" "$tmp/ws"
cp /var/lib/agentgw/accel-probe "$AGENTGW_STATE_DIR/" 2>/dev/null
echo hello-published >"$tmp/ws/index.html"
head -c 3000000 /dev/urandom >"$tmp/ws/big.bin"
chown -R nobody: "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: pub
network:
  allow: [allowed.test]
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
audit:
  database: audit.db
YAML
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }
in_ns() { ip netns exec "$ns" "$@"; }

err=$("$AGENTGW" up --policy "$tmp/p.yaml" -p 8080 -- true 2>&1)
check "bad -p: exit 2, one line" sh -c '[ "$1" = 2 ] && [ "$(printf "%s\n" "$2" | wc -l)" = 1 ] && printf "%s" "$2" | grep -q "HOST_PORT:GUEST_PORT"' _ $? "$err"

in_ns "$AGENTGW" up -d --policy "$tmp/p.yaml" --name pub -p 18080:8000 -p 127.0.0.1:18081:8001 \
	-p 18082:8002 >/dev/null 2>"$tmp/up.err" || { cat "$tmp/up.err"; bad "up -d -p"; e2e_finish; }
check "ps --json shows the ports" \
	[ "$("$AGENTGW" ps --json | jq -r '.[] | select(.name == "pub") | .ports')" = "127.0.0.1:18080->8000,127.0.0.1:18081->8001,127.0.0.1:18082->8002" ]
"$AGENTGW" exec pub -- sh -c 'busybox httpd -p 8000 -h /workspace && echo httpd-up' >"$tmp/httpd" 2>&1
check "the guest serves HTTP on 8000" grep -q httpd-up "$tmp/httpd"
body=$(in_ns curl -s --max-time 20 http://127.0.0.1:18080/index.html)
check "curl on the published port reaches the guest's server" [ "$body" = hello-published ]
in_ns curl -s --max-time 60 -o "$tmp/big.out" http://127.0.0.1:18080/big.bin
check "3 MB come through the relay intact" cmp -s "$tmp/ws/big.bin" "$tmp/big.out"
check "an unpublished port is not reachable" sh -c "! ip netns exec '$ns' curl -s --max-time 5 http://127.0.0.1:18090/ >/dev/null"
in_ns curl -s --max-time 10 http://127.0.0.1:18082/ >/dev/null
sleep 1
"$AGENTGW" down pub
check "audit: net/inbound allow for the HTTP connection" \
	[ "$(q "select count(*) from event where kind='net' and op='inbound' and decision='allow' and dst like '10.77.%:8000' and src like '127.0.0.1:%'")" -ge 1 ]
check "audit: net/close with the bytes of the 3 MB" \
	[ "$(q "select max(bytes_up) from event where kind='net' and op='close' and dst like '%:8000'")" -gt 3000000 ]
check "audit: a port the guest does not serve is an inbound error" \
	[ "$(q "select count(*) from event where kind='net' and op='inbound' and decision='error' and dst like '%:8002'")" -ge 1 ]
check "no process left in the namespace" [ -z "$(ip netns pids "$ns")" ]
e2e_finish
