#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ask mode in a real microvm (issue 17, "Done when"): `agentgw up -d` in the
# gw namespace of the shared topology with a policy in mode: ask; the guest
# runs `curl https://newhost.test/` (a name no rule lists, served with the
# test CA's certificate) while this test answers from the host:
#   - approve once (the DNS question, then the connection): the fetch
#     succeeds, verified against the test CA;
#   - deny with a reason: refused, the audit row carries the reason;
#   - no answer: refused after ask_timeout;
#   - always: the rule lands in the policy file with a comment naming who
#     and when, `policy check` accepts the file, and the next fetch (DNS
#     and connection) passes without asking;
#   - an explicit deny (evil.test) is never offered for approval.
# Every step checks what the guest saw and the audit rows.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/e2e.sh
e2e_require sqlite3 curl jq

. tests/lib/topo.sh

ASK_TIMEOUT=10
e2e_topo_sandbox ap
cp "$TOPO_CA" "$WS/ca.pem"
cat >"$S/p.yaml" <<YAML
version: 1
name: e2e-approvals
mode: ask
ask_timeout: $ASK_TIMEOUT
network:
  allow:
    - allowed.test
  deny:
    - host: evil.test
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
audit:
  database: audit.db
YAML

agw() { ip netns exec "$NS_GW" timeout 120 "$AGENTGW" "$@"; }
g() { agw exec "$NAME" -- "$@" </dev/null 2>&1; }
approvals() { agw approvals --json "$NAME"; }
# pending KIND SUBJECT: waits up to 30 s (TCG guests are slow); prints the id.
pending() { approval_wait "$1" "$2" 30; }
CURL="curl -sS --max-time 60 --cacert /workspace/ca.pem"

echo "== up -d"
e2e_up --workspace "$WS"

echo "== approve once: curl https://newhost.test/ succeeds"
g $CURL https://newhost.test/ >"$S/c1" &
c1=$!
if id=$(pending dns newhost.test); then
	ok "the DNS question waits as approval $id"
	agw approve "$id" once --sandbox "$NAME" >/dev/null || bad "approve $id once failed"
	e2e_audit "dns query under approval:$id" "kind='dns' AND op='query' AND target='newhost.test' AND decision='allow' AND rule='approval:$id'"
else bad "dns newhost.test never waited: $(approvals)"; fi
if id=$(pending connect newhost.test:443); then
	ok "the connection waits as approval $id"
	agw approve "$id" once --sandbox "$NAME" >/dev/null || bad "approve $id once failed"
else bad "connect newhost.test:443 never waited: $(approvals)"; fi
wait $c1
[ "$(cat "$S/c1")" = other.test ] && ok "curl https://newhost.test/ (verified with the test CA) succeeded" ||
	bad "curl https://newhost.test/ gave '$(cat "$S/c1")'"
e2e_audit "approval row: allow, approval:$id, who" "kind='net' AND op='approval' AND target='newhost.test:443' AND decision='allow' AND rule='approval:$id' AND reason LIKE 'approved (once) by root%'"
e2e_audit "net connect under approval:$id" "kind='net' AND op='connect' AND target='newhost.test:443' AND decision='allow' AND rule='approval:$id'"

# Each fetch by name asks the DNS question again (once approved one query);
# --resolve skips it, so the next steps ask only about the connection.
RES="--resolve newhost.test:443:$OTHER_IP"

echo "== deny: refused with the reason"
g $CURL $RES https://newhost.test/ >"$S/c2" &
c2=$!
if id=$(pending connect newhost.test:443); then
	agw deny "$id" --reason "not in this task" --sandbox "$NAME" >/dev/null || bad "deny $id failed"
else bad "second connection never waited"; fi
wait $c2 && bad "curl got through a deny: $(cat "$S/c2")" || ok "curl https://newhost.test/ refused after deny"
e2e_audit "deny row with the reason" "kind='net' AND op='approval' AND target='newhost.test:443' AND decision='deny' AND rule='approval:$id' AND reason LIKE '%: not in this task'"
e2e_audit "net connect deny under approval:$id" "kind='net' AND op='connect' AND target='newhost.test:443' AND decision='deny' AND rule='approval:$id'"

echo "== no answer: refused after ask_timeout ($ASK_TIMEOUT s)"
t0=$(date +%s)
g $CURL $RES https://newhost.test/ >"$S/c3" && bad "curl got through without an answer" ||
	ok "curl https://newhost.test/ refused without an answer"
t=$(($(date +%s) - t0))
[ $t -ge $((ASK_TIMEOUT - 1)) ] && ok "after ${t} s" || bad "refused after ${t} s, before ask_timeout"
e2e_audit "timeout row" "kind='net' AND op='approval' AND target='newhost.test:443' AND decision='deny' AND reason='approval timed out'"

echo "== an explicit deny is never offered"
g $CURL $RES https://evil.test/ >/dev/null && bad "evil.test got through" || ok "evil.test refused"
st=$(g dig +time=5 +tries=1 evil.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] && ok "dig evil.test in the guest -> NXDOMAIN at once" || bad "dig evil.test status '$st'"
[ "$(approvals)" = "[]" ] && ok "nothing offered for approval" || bad "pending: $(approvals)"
[ "$(e2e_sql "SELECT count(*) FROM event WHERE op='approval' AND target LIKE 'evil.test%'")" = 0 ] &&
	ok "audit: no approval row for evil.test" || bad "audit: approval rows for evil.test"

echo "== always: a rule in the policy file"
g $CURL $RES https://newhost.test/ >"$S/c4" &
c4=$!
if id=$(pending connect newhost.test:443); then
	agw approve "$id" always --sandbox "$NAME" >/dev/null || bad "approve $id always failed"
else bad "connection for always never waited"; fi
wait $c4
[ "$(cat "$S/c4")" = other.test ] && ok "fetched after always" || bad "always fetch gave '$(cat "$S/c4")'"
grep -q '{ host: "newhost.test", ports: \[443\] }' "$S/p.yaml" && ok "policy file has the rule" ||
	{ bad "policy file lacks the rule"; sed 's/^/     /' "$S/p.yaml"; }
grep -q "# added by \`agentgw approve $id always\`: root (uid 0), 20" "$S/p.yaml" && ok "with who and when" ||
	bad "no who/when comment"
"$AGENTGW" policy check "$S/p.yaml" >/dev/null && ok "policy check accepts the written file" || bad "policy check rejects it"
e2e_audit "policy reloaded" "kind='policy' AND op='reload' AND decision='allow'"
body=$(g $CURL https://newhost.test/)
[ "$body" = other.test ] && ok "next fetch (DNS and connection) passes without asking" || bad "next fetch gave '$body'"
e2e_audit "next connect decided by the written rule" "kind='net' AND op='connect' AND target='newhost.test:443' AND decision='allow' AND rule='network.allow[1]'"
[ "$(approvals)" = "[]" ] && ok "nothing pending at the end" || bad "pending at the end: $(approvals)"

echo "== down"
agw down "$NAME" >/dev/null && UP=0 && ok "down" || bad "down failed"
e2e_finish
