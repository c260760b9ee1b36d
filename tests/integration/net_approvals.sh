#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ask mode without a VM (issue 17): `agentgw gateway` runs a policy with
# mode: ask; real clients in the guest namespace (dig, curl) wait while this
# test answers with `agentgw approve|deny`. Checks what the client saw, the
# pending list, the policy file, and the audit rows (approval rows with rule
# approval:<id> and who, and the action's own row under that rule).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 jq

NAME=ap$TOPO_ID
PROXY_PORT=15001
ASK_TIMEOUT=8 # above the DNS hold (4 s): the SERVFAIL case approves after it

cat >"$POL" <<P
version: 1
name: asktest
mode: ask
ask_timeout: $ASK_TIMEOUT
network:
  allow:
    - host: allowed.test
      ports: [443]
  deny:
    - host: evil.test
  dns: { upstream: [$DNS_IP] }
P

gcurl() { in_guest curl -sS --max-time 20 --cacert "$TOPO_CA" "$@"; }
approvals() { "$AGENTGW" approvals --json "$NAME"; }

# pending KIND SUBJECT: waits up to 10 s for that action to wait; prints its id.
pending() { approval_wait "$1" "$2" 10; }

gw_start "tcp:$PROXY_PORT udp:53" --proxy-port "$PROXY_PORT" -vv

echo "== the CLI without a sandbox, and with a bad id"
AGENTGW_RUN_DIR=$TOPO_DIR/none "$AGENTGW" approvals >/dev/null 2>"$TOPO_DIR/err"; rc=$?
[ $rc = 1 ] && grep -q "no running sandbox" "$TOPO_DIR/err" && ok "approvals: no running sandbox -> exit 1" ||
	bad "approvals without sandboxes: rc $rc, $(cat "$TOPO_DIR/err")"
"$AGENTGW" approve 999 once --sandbox "$NAME" >/dev/null 2>"$TOPO_DIR/err"; rc=$?
[ $rc = 1 ] && grep -q "no pending approval 999" "$TOPO_DIR/err" && ok "approve 999: unknown id -> exit 1" ||
	bad "approve 999: rc $rc, $(cat "$TOPO_DIR/err")"
"$AGENTGW" approve 1 >/dev/null 2>&1; rc=$?
[ $rc = 2 ] && ok "approve without a scope -> usage (2)" || bad "approve without a scope: rc $rc"
[ "$(approvals)" = "[]" ] && ok "nothing pending at start" || bad "pending at start: $(approvals)"

# A follower prints each waiting action once, as it starts waiting.
"$AGENTGW" approvals -f --json "$NAME" >"$TOPO_DIR/follow" 2>&1 &
follower=$!

echo "== DNS: the query waits, approve once"
in_guest dig +short +time=8 +tries=1 other.test A >"$TOPO_DIR/dig1" 2>&1 &
dig1=$!
if id=$(pending dns other.test); then
	ok "dns other.test waits as approval $id"
	"$AGENTGW" approve "$id" once --sandbox "$NAME" >/dev/null && ok "approve $id once" || bad "approve $id once failed"
else bad "dns other.test never waited: $(approvals)"; fi
wait $dig1
[ "$(cat "$TOPO_DIR/dig1")" = "$OTHER_IP" ] && ok "dig other.test answered $OTHER_IP after approval" ||
	bad "dig other.test gave '$(cat "$TOPO_DIR/dig1")'"
expect_sql "dns approval row (allow, rule approval:$id, who)" \
	"SELECT count(*) FROM event WHERE kind='dns' AND op='approval' AND target='other.test' AND decision='allow' AND rule='approval:$id' AND reason LIKE 'approved (once) by root%' AND detail LIKE '%\"scope\":\"once\"%'"
expect_sql "dns query row under approval:$id" \
	"SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='other.test' AND decision='allow' AND rule='approval:$id'"

echo "== HTTPS connection by name: approve once"
gcurl --resolve "other.test:443:$OTHER_IP" https://other.test/ >"$TOPO_DIR/c1" 2>&1 &
c1=$!
if id=$(pending connect other.test:443); then
	ok "connect other.test:443 waits as approval $id"
	sleep 0.5 # the connection stays held meanwhile
	"$AGENTGW" approve "$id" once --sandbox "$NAME" >/dev/null || bad "approve $id once failed"
else bad "connect other.test:443 never waited: $(approvals)"; fi
wait $c1
[ "$(cat "$TOPO_DIR/c1")" = other.test ] && ok "curl https://other.test/ succeeded after approval" ||
	bad "curl https://other.test/ gave '$(cat "$TOPO_DIR/c1")'"
expect_sql "net approval row" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='approval' AND target='other.test:443' AND decision='allow' AND rule='approval:$id'"
expect_sql "net connect under approval:$id" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='other.test:443' AND decision='allow' AND rule='approval:$id'"
[ "$(approvals)" = "[]" ] && ok "once left nothing behind" || bad "pending after once: $(approvals)"

echo "== other actions go on while one waits"
gcurl --resolve "other.test:443:$OTHER_IP" https://other.test/ >/dev/null 2>&1 &
c2=$!
id=$(pending connect other.test:443) || bad "second connect never waited"
body=$(gcurl https://allowed.test/)
[ "$body" = allowed.test ] && ok "allowed.test served while approval $id waits" || bad "allowed.test gave '$body' while waiting"

echo "== deny: refused with the reason"
"$AGENTGW" deny "$id" --reason "not today" --sandbox "$NAME" >/dev/null && ok "deny $id" || bad "deny $id failed"
wait $c2 && bad "curl https://other.test/ got through a deny" || ok "curl https://other.test/ refused after deny"
expect_sql "net approval deny row with the reason" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='approval' AND target='other.test:443' AND decision='deny' AND rule='approval:$id' AND reason LIKE 'denied by root%: not today'"
expect_sql "net connect deny under approval:$id" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='other.test:443' AND decision='deny' AND rule='approval:$id' AND reason LIKE '%not today'"
in_guest curl -s -o "$TOPO_DIR/h403" -w '%{http_code}' --max-time 20 --resolve "other.test:80:$OTHER_IP" \
	http://other.test/ >"$TOPO_DIR/code" 2>&1 &
h1=$!
if id=$(pending connect other.test:80); then
	"$AGENTGW" deny "$id" --sandbox "$NAME" >/dev/null || bad "deny $id (http) failed"
else bad "connect other.test:80 never waited"; fi
wait $h1
[ "$(cat "$TOPO_DIR/code")" = 403 ] && ok "plain HTTP denied by a person: 403" || bad "plain HTTP deny gave $(cat "$TOPO_DIR/code")"

echo "== nobody answers: denied after ask_timeout"
start=$(date +%s%N)
gcurl --resolve "other.test:443:$OTHER_IP" https://other.test/ >/dev/null 2>&1 && bad "unanswered connection got through" ||
	ok "unanswered connection refused"
ms=$((($(date +%s%N) - start) / 1000000))
[ $ms -ge $((ASK_TIMEOUT * 1000 - 500)) ] && [ $ms -lt $((ASK_TIMEOUT * 1000 + 4000)) ] &&
	ok "refused after ${ms} ms (ask_timeout ${ASK_TIMEOUT} s)" || bad "refused after ${ms} ms"
expect_sql "timeout row" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='approval' AND target='other.test:443' AND decision='deny' AND reason='approval timed out'"
expect_sql "net connect deny 'approval timed out'" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='other.test:443' AND decision='deny' AND reason='approval timed out'"

echo "== DNS held past 4 s: SERVFAIL, then the retry passes after approval"
st=$(in_guest dig +time=8 +tries=1 late.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = SERVFAIL ] && ok "dig late.test unanswered for 4 s -> SERVFAIL" || bad "held dig late.test status '$st'"
if id=$(pending dns late.test); then
	"$AGENTGW" approve "$id" once --sandbox "$NAME" >/dev/null || bad "approve $id failed"
	a=$(in_guest dig +short +time=3 +tries=1 late.test A)
	[ "$a" = 203.0.113.77 ] && ok "retry of late.test answered after approval" || bad "retry gave '$a'"
	expect_sql "late.test query under approval:$id" \
		"SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='late.test' AND decision='allow' AND rule='approval:$id'"
else bad "dns late.test not pending after SERVFAIL"; fi

echo "== an explicit deny is never asked"
gcurl --resolve "evil.test:443:$EVIL_IP" https://evil.test/ >/dev/null 2>&1 && bad "evil.test got through" ||
	ok "evil.test refused at once"
st=$(in_guest dig +time=3 +tries=1 evil.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] && ok "dig evil.test -> NXDOMAIN, not held" || bad "dig evil.test status '$st'"
[ "$(approvals)" = "[]" ] && ok "evil.test never offered for approval" || bad "pending: $(approvals)"
expect_event() { expect_sql "$*" "SELECT count(*) FROM event WHERE kind='$1' AND op='$2' AND target='$3' AND decision='$4' AND rule='$5'"; }
expect_event net connect evil.test:443 deny "network.deny[0]"
[ "$(sql "SELECT count(*) FROM event WHERE op='approval' AND target LIKE 'evil.test%'")" = 0 ] &&
	ok "audit: no approval row for evil.test" || bad "audit: evil.test has approval rows"

echo "== session: a rule for the sandbox's life"
in_guest dig +short +time=8 +tries=1 api.allowed.test A >"$TOPO_DIR/sdig" 2>&1 &
sdig=$!
gcurl --resolve "api.allowed.test:443:$ALLOWED_IP" https://api.allowed.test/ >"$TOPO_DIR/s1" 2>&1 &
s1=$!
if id=$(pending connect api.allowed.test:443) && pending dns api.allowed.test >/dev/null; then
	"$AGENTGW" approve "$id" session --sandbox "$NAME" >/dev/null || bad "approve $id session failed"
else bad "api.allowed.test never waited (connect and dns)"; fi
wait $s1
wait $sdig
[ "$(cat "$TOPO_DIR/sdig")" = "$ALLOWED_IP" ] && ok "the waiting DNS question was answered by the session rule too" ||
	bad "dig api.allowed.test gave '$(cat "$TOPO_DIR/sdig")'"
expect_sql "dns approval row under the connection's approval:$id" \
	"SELECT count(*) FROM event WHERE kind='dns' AND op='approval' AND target='api.allowed.test' AND decision='allow' AND rule='approval:$id'"
[ "$(cat "$TOPO_DIR/s1")" = allowed.test ] && ok "api.allowed.test fetched after session approval" ||
	bad "session fetch gave '$(cat "$TOPO_DIR/s1")'"
sleep 0.5
body=$(gcurl --resolve "api.allowed.test:443:$ALLOWED_IP" https://api.allowed.test/)
[ "$body" = allowed.test ] && ok "second fetch passes without asking" || bad "second fetch gave '$body'"
expect_sql "second connect decided by the session rule" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='api.allowed.test:443' AND decision='allow' AND rule='network.allow[1]'"
grep -q api.allowed.test "$POL" && bad "session rule written to the file" || ok "session rule not in the file"

echo "== always: the rule lands in the policy file"
gcurl --resolve "other.test:443:$OTHER_IP" https://other.test/ >"$TOPO_DIR/a1" 2>&1 &
a1=$!
if id=$(pending connect other.test:443); then
	"$AGENTGW" approve "$id" always --sandbox "$NAME" >/dev/null || bad "approve $id always failed"
else bad "other.test never waited for always"; fi
wait $a1
[ "$(cat "$TOPO_DIR/a1")" = other.test ] && ok "fetched after always" || bad "always fetch gave '$(cat "$TOPO_DIR/a1")'"
grep -q "{ host: \"other.test\", ports: \[443\] }" "$POL" && ok "policy file has the rule" ||
	{ bad "policy file lacks the rule:"; sed 's/^/     /' "$POL"; }
grep -q "# added by \`agentgw approve $id always\`: root (uid 0), 20" "$POL" && ok "with a comment naming who and when" ||
	bad "no who/when comment in the file"
"$AGENTGW" policy check "$POL" >/dev/null && ok "policy check accepts the written file" || bad "policy check rejects it"
sleep 0.5
body=$(gcurl --resolve "other.test:443:$OTHER_IP" https://other.test/)
[ "$body" = other.test ] && ok "next connection allowed without asking" || bad "next connection gave '$body'"
expect_sql "next connect decided by the written rule" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='other.test:443' AND decision='allow' AND rule LIKE 'network.allow[%]'"
[ "$(approvals)" = "[]" ] && ok "nothing pending at the end" || bad "pending at the end: $(approvals)"
kill "$follower" 2>/dev/null
wait "$follower" 2>/dev/null
n=$(jq -r '.id' "$TOPO_DIR/follow" 2>/dev/null | sort -un | wc -l)
[ "$n" -ge 8 ] && [ "$(wc -l <"$TOPO_DIR/follow")" = "$n" ] && ok "approvals -f printed each of $n waits once" ||
	bad "approvals -f printed: $(head -c 400 "$TOPO_DIR/follow")"

gw_stop
gw_finish 60
