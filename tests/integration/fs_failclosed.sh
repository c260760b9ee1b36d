#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fail closed for the fs child (issue 12, item 9): the audit database lives
# on a tiny tmpfs; when it fills up the writer fails, the supervisor tells
# the children, and 9P actions (diod's clients from the guest namespace)
# are refused. Their events are kept in the spill file and written once the
# disk has room: none of them may say 'allow' (they were refused), each is
# an error ("audit unavailable: action denied") or a deny. Real SQLite,
# real ENOSPC, the real supervisor and fs child (`agentgw gateway`).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init diodcat sqlite3 mount
gw_tiny_db
NAME=ffc$TOPO_ID
mkdir -p "$TOPO_DIR/ws"
echo readme >"$TOPO_DIR/ws/README"
cat >"$POL" <<P
version: 1
name: fsfailclosed
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
P
gw_start tcp:564 -vv
cat9() { in_guest timeout 15 diodcat -t 10 -s "$GW_IP:564" -a / README 2>&1; }
now_us() { echo $(($(date +%s%N) / 1000)); }

[ "$(cat9)" = readme ] && ok "healthy: README is read over 9P" || bad "healthy read failed"

# fill the disk; the next commit fails and the supervisor says so
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
for _ in $(seq 100); do
	grep -q "children deny new actions" "$TOPO_DIR/gw.log" && break
	cat9 >/dev/null
	sleep 0.1
done
grep -q "children deny new actions" "$TOPO_DIR/gw.log" && ok "supervisor logged the failure" ||
	bad "no failure log line"
sleep 0.3 # the fs child reads the state message
t0=$(now_us)
refused=0
for _ in 1 2 3; do
	out=$(cat9)
	[ "$out" != readme ] && refused=$((refused + 1))
done
t1=$(now_us)
[ "$refused" = 3 ] && ok "audit failing: 9P reads are refused" || bad "audit failing: $((3 - refused)) of 3 reads went through"

# room again: the spill is written, actions are allowed again
rm -f "$MNT/filler"
out=
for _ in $(seq 50); do
	out=$(cat9)
	[ "$out" = readme ] && break
	sleep 0.2
done
[ "$out" = readme ] && ok "recovered: README is read again" || bad "no recovery: '$out'"
sql_poll 3 "SELECT count(*) FROM event WHERE kind='fs' AND ts BETWEEN $t0 AND $t1" 0.1
[ "${n:-0}" -ge 3 ] && ok "the refused actions' rows are in the database after recovery ($n)" ||
	bad "rows of the refused actions missing (${n:-0})"
n=$(sql "SELECT count(*) FROM event WHERE kind='fs' AND ts BETWEEN $t0 AND $t1 AND decision NOT IN ('error', 'deny')")
[ "${n:-1}" = 0 ] && ok "none of them says allow" ||
	bad "$n rows of refused actions say: $(sql "SELECT DISTINCT op||' '||decision||' '||coalesce(reason,'') FROM event WHERE kind='fs' AND ts BETWEEN $t0 AND $t1 AND decision NOT IN ('error','deny')")"
n=$(sql "SELECT count(*) FROM event WHERE kind='fs' AND ts BETWEEN $t0 AND $t1 AND decision='error' AND reason LIKE 'audit unavailable%'")
[ "${n:-0}" -ge 3 ] && ok "each refusal is an error row: audit unavailable ($n)" || bad "error rows: ${n:-0}"

[ "$failures" != 0 ] && sql "select ts,kind,op,target,decision,reason from event where kind='fs'"
gw_finish 30
