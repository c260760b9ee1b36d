#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fail closed: the audit database lives on a tiny tmpfs (mounted under this
# test's own temp dir); when it fills up the writer fails, the supervisor
# tells the net child, and new actions are denied (DNS SERVFAIL, TCP
# closed) until the disk has room again. Real SQLite, real ENOSPC.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 mount
gw_tiny_db
NAME=fc$TOPO_ID
cat >"$POL" <<P
version: 1
name: failclosed
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
P
gw_start udp:53 -vv

status() { in_guest dig +time=3 +tries=1 "$1" A | sed -n 's/.*status: \([A-Z]*\).*/\1/p'; }

[ "$(status allowed.test)" = NOERROR ] && ok "healthy: allowed.test resolves" || bad "healthy DNS failed"
body=$(in_guest curl -sS --max-time 8 http://allowed.test/)
[ "$body" = allowed.test ] && ok "healthy: http://allowed.test/ works" || bad "healthy HTTP gave '$body'"

# fill the disk; the next commit fails
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
for i in $(seq 20); do status allowed.test >/dev/null; sleep 0.1; done
st=$(status allowed.test)
[ "$st" = SERVFAIL ] && ok "audit failing: allowed.test -> SERVFAIL" || bad "audit failing: DNS status '$st'"
# past DNS (the agent knows the address): the proxy must refuse on its own
code=$(in_guest curl -sS --max-time 8 -o /dev/null -w '%{http_code}' --resolve "allowed.test:80:$ALLOWED_IP" http://allowed.test/ 2>/dev/null)
[ "$code" != 200 ] && ok "audit failing: new connection refused (HTTP ${code:-none})" ||
	bad "audit failing: HTTP still allowed"
grep -q "children deny new actions" "$TOPO_DIR/gw.log" && ok "supervisor logged the failure" ||
	bad "no failure log line"

# room again: the writer catches up and actions are allowed again
rm -f "$MNT/filler"
st=
for i in $(seq 50); do
	st=$(status allowed.test)
	[ "$st" = NOERROR ] && break
	sleep 0.2
done
[ "$st" = NOERROR ] && ok "recovered: allowed.test resolves again" || bad "no recovery: status '$st'"
body=$(in_guest curl -sS --max-time 8 http://allowed.test/)
[ "$body" = allowed.test ] && ok "recovered: HTTP works again" || bad "after recovery HTTP gave '$body'"
# While failing, the writer rejects every event; the supervisor keeps them
# in its spill file (state dir, tmpfs) and writes them once the disk has room:
# the denied actions' own rows are not lost.
# at most 2 kinds: at least 2 is both
sql_poll 2 "SELECT count(DISTINCT kind) FROM event WHERE decision='error' AND reason LIKE 'audit unavailable%' AND kind IN ('dns', 'net')" 0.1
[ "${n:-0}" = 2 ] && ok "the denied DNS query and connection are in the database after recovery" ||
	bad "denied actions' rows missing after recovery (kinds: ${n:-0})"
grep -q "spilled events written" "$TOPO_DIR/gw.log" && ok "supervisor wrote the spilled events" ||
	bad "no 'spilled events written' log line"
sql_poll 2 "SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='allow'"
[ "${n:-0}" -ge 2 ] && ok "audit rows of the allowed connections before and after ($n)" ||
	bad "missing connect rows ($n)"

kill -TERM "$GW_PID"
wait "$GW_PID" 2>/dev/null
GW_PID=
[ ! -e "/run/agentgw/$NAME" ] && ok "no spill file or state dir left after exit" ||
	bad "left behind: $(ls -A "/run/agentgw/$NAME" 2>&1)"

[ "$failures" != 0 ] &&
	sqlite3 "$DB" "select kind,op,target,decision,reason from event where decision != 'allow'" | sort | uniq -c
gw_finish 40
