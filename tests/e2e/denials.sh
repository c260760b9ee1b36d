#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Denials an agent can read, inside a real microvm (TCG without KVM) on the
# shared test topology (tests/lib/topo.sh), with the guest's own clients:
#   - dig in the guest shows the Extended DNS Error of a denied name;
#   - curl in the guest gets the 403 JSON body of a denied plain request;
#   - the guest's /run/agentgw/denials gets a JSON line for each of them
#     within 5 s (agentgw-init appends what the supervisor feeds over the
#     control channel), matching the audit rows;
#   - rows of other sandboxes written into the same audit database meanwhile
#     never show up there;
#   - a flood of denials is cut to the feed's rate, with a {"dropped":N}
#     line, while every denial still has its audit row.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/e2e.sh
e2e_require sqlite3 curl dig

. tests/lib/topo.sh

e2e_topo_sandbox dn
cat >"$S/p.yaml" <<YAML
version: 1
name: e2e-denials
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
# feed_has WHAT PATTERN: polls the guest's denials file up to 5 s for PATTERN.
feed_has() {
	local t0=$(date +%s%3N)
	for _ in $(seq 25); do
		if g cat /run/agentgw/denials | grep -q "$2"; then
			ok "$1 in /run/agentgw/denials after $(($(date +%s%3N) - t0)) ms"
			return 0
		fi
		sleep 0.2
	done
	bad "$1 not in /run/agentgw/denials within 5 s: $(g cat /run/agentgw/denials | tail -3)"
}

echo "== up -d"
e2e_up
SID=$(e2e_sql "SELECT id FROM sandbox WHERE name='$NAME'")

echo "== DNS: the EDE in the guest, the line in its feed"
out=$(g dig +time=3 +tries=1 evil.test A)
grep -q 'status: NXDOMAIN' <<<"$out" && grep -q '; EDE: 15 (Blocked): (denied by agentgw: ' <<<"$out" &&
	ok "guest dig evil.test: NXDOMAIN with $(grep EDE <<<"$out")" || bad "guest dig evil.test gave: $out"
feed_has "dns evil.test" '"kind":"dns","op":"query","target":"evil.test","rule":"network.deny\[0\]"'

echo "== HTTP: 403 JSON in the guest, the line in its feed"
body=$(g curl -s --max-time 15 --resolve "other.test:80:$OTHER_IP" http://other.test/x)
grep -q '^{"error":"denied by agentgw","rule":null,"reason":"[^"]*","host":"other.test"}$' <<<"$body" &&
	ok "guest curl http://other.test/x: $body" || bad "guest curl gave: $body"
feed_has "net other.test:80" '"target":"other.test:80"'

echo "== only this sandbox's rows"
# Another sandbox's denials, written to the same database now, must not
# reach this guest: the feed comes from this supervisor's own events.
BENCH=$PWD/$BUILD/bench/bench_audit
if [ -x "$BENCH" ]; then
	"$BENCH" -n 300 --db "$DB" --keep >/dev/null
	other=$(e2e_sql "SELECT COUNT(*) FROM event e JOIN sandbox s ON s.id = e.sandbox_id WHERE s.name LIKE 'bench%' AND decision = 'deny'")
	sleep 1
	n=$(g cat /run/agentgw/denials | grep -c 'api[0-9]*\.example\.com\|src/module')
	[ "${other:-0}" -gt 0 ] && [ "$n" = 0 ] &&
		ok "$other denials of other sandboxes in the database, none in the guest's feed" ||
		bad "other sandboxes' rows in the feed: $n (of $other)"
else
	echo "note: $BENCH not built; the other-sandbox check is skipped"
fi

echo "== a flood is bounded"
before=$(g cat /run/agentgw/denials | wc -l)
g sh -c 'i=0; while [ $i -lt 400 ]; do echo "f$i.evil.test"; i=$((i+1)); done >/tmp/names; dig +time=2 +tries=1 -f /tmp/names A >/dev/null'
sleep 2
lines=$(g cat /run/agentgw/denials | wc -l)
rows=$(e2e_sql "SELECT COUNT(*) FROM event WHERE sandbox_id = $SID AND kind = 'dns' AND target LIKE 'f%.evil.test' AND decision = 'deny'")
[ "$rows" = 400 ] && ok "400 denied queries, 400 audit rows" || bad "audit rows for the flood: $rows"
new=$((lines - before))
if g cat /run/agentgw/denials | grep -q '^{"dropped":[0-9]*}$'; then
	[ "$new" -lt 400 ] && ok "the feed took $new lines of 400 and said how many it dropped" ||
		bad "the feed took $new lines"
else
	echo "note: the flood was slower than the feed's rate; nothing dropped ($new lines)"
	[ "$new" -le 401 ] && ok "the feed took $new lines" || bad "the feed took $new lines"
fi
check "every line of the feed is JSON" sh -c "ip netns exec '$NS_GW' '$AGENTGW' exec '$NAME' -- cat /run/agentgw/denials | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"

echo "== down"
cp "$AGENTGW_RUN_DIR/$NAME/supervisor.log" "$S/supervisor.log" 2>/dev/null
agw down "$NAME" && UP=0
check "audit verify: every chain sound" "$AGENTGW" audit verify --db "$DB"

e2e_finish "$S/supervisor.log"
