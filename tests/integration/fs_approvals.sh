#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ask mode for the filesystem (issue 17): `agentgw gateway` serves a
# workspace whose policy asks about everything outside docs/; diod's 9P
# client in the guest namespace reads a file while this test answers with
# `agentgw approve` / `agentgw deny`. The held 9P request does not stop the
# connection: another client reads docs/ meanwhile. Checks what the client
# got, the pending list and the audit rows (fs/approval, and the operation
# under rule approval:<id>).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init diodcat sqlite3 jq
NAME=fap$TOPO_ID
mkdir -p "$TOPO_DIR/ws/docs"
echo readme >"$TOPO_DIR/ws/docs/README"
echo asked >"$TOPO_DIR/ws/asked.txt"
echo other >"$TOPO_DIR/ws/other.txt"
echo once >"$TOPO_DIR/ws/once.txt"
echo secret >"$TOPO_DIR/ws/secret.txt"
cat >"$POL" <<P
version: 1
name: fsask
mode: ask
ask_timeout: 20
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws
  allow:
    - { path: "docs/**", access: [read] }
  deny:
    - { path: secret.txt }
P
gw_start tcp:564 -vv
cat9() { in_guest timeout 25 diodcat -t 25 -s "$GW_IP:564" -a / "$1" 2>&1; }
approvals() { "$AGENTGW" approvals --json "$NAME"; }
pending() { approval_wait fs "$1" 10; } # subject -> id (waits up to 10 s)

[ "$(cat9 docs/README)" = readme ] && ok "docs/README read without asking" || bad "docs/README not readable"

echo "== a read waits; another client goes on; approve session"
cat9 asked.txt >"$TOPO_DIR/r1" &
r1=$!
if id=$(pending asked.txt); then
	ok "read of asked.txt waits as approval $id"
	[ "$(cat9 docs/README)" = readme ] && ok "docs/README read while $id waits" || bad "docs/README blocked while waiting"
	"$AGENTGW" approve "$id" session --sandbox "$NAME" >/dev/null || bad "approve $id session failed"
else bad "asked.txt never waited: $(approvals)"; fi
wait $r1
[ "$(cat "$TOPO_DIR/r1")" = asked ] && ok "asked.txt read after approval" || bad "asked.txt gave '$(cat "$TOPO_DIR/r1")'"
expect_sql "fs approval row" \
	"SELECT count(*) FROM event WHERE kind='fs' AND op='approval' AND target='asked.txt' AND decision='allow' AND rule='approval:$id' AND detail LIKE '%\"access\":\"read\"%'"
# The session rule may reach the fs child before the answer does: then the
# held read runs again under that rule.
expect_sql "the read under approval:$id or its session rule" \
	"SELECT count(*) FROM event WHERE kind='fs' AND target='asked.txt' AND op='read' AND decision='allow' AND (rule='approval:$id' OR rule='filesystem.allow[1]')"
[ "$(cat9 asked.txt)" = asked ] && ok "second read passes on the session rule" || bad "second read failed"

echo "== approve once: this operation only"
cat9 once.txt >"$TOPO_DIR/r3" &
r3=$!
if id=$(pending once.txt); then
	"$AGENTGW" approve "$id" once --sandbox "$NAME" >/dev/null || bad "approve $id once failed"
else bad "once.txt never waited"; fi
wait $r3
[ "$(cat "$TOPO_DIR/r3")" = once ] && ok "once.txt read after approve once" || bad "once.txt gave '$(cat "$TOPO_DIR/r3")'"
expect_sql "the read under approval:$id" \
	"SELECT count(*) FROM event WHERE kind='fs' AND target='once.txt' AND op='read' AND decision='allow' AND rule='approval:$id'"
cat9 once.txt >/dev/null &
r4=$!
id2=$(pending once.txt) && ok "the next read of once.txt asks again ($id2)" || bad "once.txt not asked again"
"$AGENTGW" deny --all --sandbox "$NAME" >/dev/null
wait $r4

echo "== deny"
cat9 other.txt >"$TOPO_DIR/r2" &
r2=$!
if id=$(pending other.txt); then
	"$AGENTGW" deny "$id" --reason "private" --sandbox "$NAME" >/dev/null || bad "deny $id failed"
else bad "other.txt never waited"; fi
wait $r2 && bad "other.txt read after deny: $(cat "$TOPO_DIR/r2")" || ok "other.txt refused after deny"
grep -qi "permission denied" "$TOPO_DIR/r2" && ok "the client saw EACCES" || bad "client saw: $(cat "$TOPO_DIR/r2")"
expect_sql "fs deny under approval:$id with the reason" \
	"SELECT count(*) FROM event WHERE kind='fs' AND target='other.txt' AND op<>'approval' AND decision='deny' AND rule='approval:$id' AND reason LIKE '%: private'"

echo "== an explicit deny is never asked"
cat9 secret.txt >/dev/null && bad "secret.txt read" || ok "secret.txt refused at once"
[ "$(approvals)" = "[]" ] && ok "secret.txt not offered" || bad "pending: $(approvals)"

gw_stop
gw_finish 40
