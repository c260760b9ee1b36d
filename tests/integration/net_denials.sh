#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Denials an agent can read, with real clients in the guest namespace
# against `agentgw gateway` (topology of tests/lib/topo.sh):
#   - DNS: dig shows an Extended DNS Error (RFC 8914) with the reason as
#     EXTRA-TEXT: 15 Blocked on a policy denial (NXDOMAIN kept), 18
#     Prohibited on a refused query type (REFUSED kept), 15 on answers
#     whose addresses were removed; over UDP and TCP; no OPT at all when the
#     query had no EDNS (RFC 6891); none on allowed names.
#   - TLS passthrough: openssl s_client gets a fatal access_denied alert
#     (SNI not allowed, denied by rule, no SNI; TLS 1.3 and 1.2) instead of
#     a bare close; an allowed name still verifies.
#   - plain HTTP: curl gets the 403 JSON body.
# Audit rows are those of before: checked in SQLite. Also audit.retention_days:
# events older than it (written 10 days ago into the database first) are
# pruned when the gateway starts, and the chain still verifies.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl dig sqlite3 openssl python3
BENCH=$PWD/${BUILD:-build}/bench/bench_audit
[ -x "$BENCH" ] || { echo "SKIP: $BENCH not built (make check-build)"; exit 77; }

NAME=nd$TOPO_ID
cat >"$POL" <<P
version: 1
name: denials
network:
  allow:
    - host: allowed.test
      ports: [80, 443]
    - host: rebind.test
      ports: [80]
  deny:
    - host: evil.test
  dns: { upstream: [$DNS_IP] }
audit:
  retention_days: 7
P
"$BENCH" -n 200 --db "$DB" --keep --ago 864000 >/dev/null
"$BENCH" -n 100 --db "$DB" --keep >/dev/null
old=$(sql "SELECT COUNT(*) FROM event WHERE ts < (strftime('%s','now') - 7 * 86400) * 1000000")
gw_start "tcp:15001 udp:53" -vv

echo "== audit.retention_days applied at start"
[ "$old" = 200 ] && [ "$(sql "SELECT COUNT(*) FROM event WHERE ts < (strftime('%s','now') - 7 * 86400) * 1000000")" = 0 ] &&
	ok "retention_days: 7: the 200 events of 10 days ago are gone" || bad "old events: $old before, $(sql "SELECT COUNT(*) FROM event WHERE ts < (strftime('%s','now') - 7 * 86400) * 1000000") after"
[ "$(sql "SELECT COUNT(*) FROM event WHERE sandbox_id <= 4")" = 100 ] && ok "the 100 recent events stay" ||
	bad "recent events: $(sql "SELECT COUNT(*) FROM event WHERE sandbox_id <= 4")"
out=$("$AGENTGW" audit verify --db "$DB") && ok "audit verify after the prune: $(head -1 <<<"$out")" || bad "audit verify: $out"

gdig() { in_guest dig +time=3 +tries=1 "$@"; }
status() { sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$1"; }

echo "== DNS: Extended DNS Errors"
out=$(gdig evil.test A)
[ "$(status "$out")" = NXDOMAIN ] && grep -q '; EDE: 15 (Blocked): (denied by agentgw: .*; rule network.deny\[0\])' <<<"$out" &&
	ok "dig evil.test: NXDOMAIN, $(grep EDE <<<"$out")" || bad "dig evil.test gave: $out"
expect_sql "dns query evil.test deny network.deny[0]" \
	"SELECT count(*) FROM event WHERE kind='dns' AND op='query' AND target='evil.test' AND decision='deny' AND rule='network.deny[0]'"
out=$(gdig nowhere.example A)
[ "$(status "$out")" = NXDOMAIN ] && grep -q '; EDE: 15 (Blocked): (denied by agentgw: ' <<<"$out" &&
	! grep -q '; rule ' <<<"$(grep EDE <<<"$out")" &&
	ok "dig nowhere.example (no rule): $(grep EDE <<<"$out")" || bad "dig nowhere.example gave: $out"
out=$(gdig TXT allowed.test)
[ "$(status "$out")" = REFUSED ] && grep -q '; EDE: 18 (Prohibited): (denied by agentgw: query type not allowed)' <<<"$out" &&
	ok "dig TXT allowed.test: REFUSED, EDE 18" || bad "dig TXT allowed.test gave: $out"
expect_sql "dns query allowed.test TXT deny 'query type not allowed'" \
	"SELECT count(*) FROM event WHERE kind='dns' AND target='allowed.test' AND decision='deny' AND reason='query type not allowed'"
out=$(gdig +tcp evil.test A)
[ "$(status "$out")" = NXDOMAIN ] && grep -q '; EDE: 15 (Blocked)' <<<"$out" &&
	ok "dig +tcp evil.test: EDE 15 over TCP" || bad "dig +tcp evil.test gave: $out"
out=$(gdig rebind.test A)
[ "$(status "$out")" = NOERROR ] && grep -q 'ANSWER: 0' <<<"$out" &&
	grep -q '; EDE: 15 (Blocked): (denied by agentgw: special-purpose addresses removed)' <<<"$out" &&
	ok "dig rebind.test: loopback removed, EDE 15 says so" || bad "dig rebind.test gave: $out"
out=$(gdig +noedns evil.test A)
[ "$(status "$out")" = NXDOMAIN ] && ! grep -q 'OPT PSEUDOSECTION\|EDE' <<<"$out" &&
	ok "dig +noedns evil.test: NXDOMAIN, no OPT record (RFC 6891)" || bad "dig +noedns gave: $out"
out=$(gdig allowed.test A)
[ "$(status "$out")" = NOERROR ] && grep -q "$ALLOWED_IP" <<<"$out" && ! grep -q EDE <<<"$out" &&
	ok "dig allowed.test: answer, no EDE" || bad "dig allowed.test gave: $out"

echo "== TLS passthrough: access_denied alert"
# s_client ... NAME ADDR [OPTS]: the handshake's output (stdin closed)
sclient() {
	local name=$1 addr=$2
	shift 2
	in_guest timeout 10 openssl s_client -connect "$addr:443" "$@" \
		${name:+-servername "$name"} -CAfile "$TOPO_CA" </dev/null 2>&1
}
for v in -tls1_3 -tls1_2; do
	out=$(sclient other.test "$OTHER_IP" "$v")
	grep -q 'alert access denied' <<<"$out" && grep -q 'alert number 49' <<<"$out" &&
		ok "s_client $v other.test (not allowed): access_denied alert" ||
		bad "s_client $v other.test gave: $(tail -5 <<<"$out")"
done
expect_sql "net connect other.test:443 deny" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='other.test:443' AND decision='deny'"
out=$(sclient evil.test "$EVIL_IP")
grep -q 'alert number 49' <<<"$out" && ok "s_client evil.test (deny rule): access_denied alert" ||
	bad "s_client evil.test gave: $(tail -5 <<<"$out")"
expect_sql "net connect evil.test:443 deny network.deny[0]" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='evil.test:443' AND decision='deny' AND rule='network.deny[0]'"
out=$(sclient "" "$OTHER_IP" -noservername)
grep -q 'alert number 49' <<<"$out" && ok "s_client without SNI: access_denied alert" ||
	bad "s_client -noservername gave: $(tail -5 <<<"$out")"
expect_sql "net connect $OTHER_IP:443 deny 'TLS without SNI'" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='$OTHER_IP:443' AND decision='deny' AND reason='TLS without SNI'"
out=$(sclient allowed.test "$ALLOWED_IP")
grep -q 'Verify return code: 0 (ok)' <<<"$out" && ! grep -q 'alert' <<<"$out" &&
	ok "s_client allowed.test: verified handshake" || bad "s_client allowed.test gave: $(tail -5 <<<"$out")"

echo "== plain HTTP: 403 JSON"
body=$(in_guest curl -s --max-time 8 --resolve "other.test:80:$OTHER_IP" http://other.test/x)
python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["error"]=="denied by agentgw" and j["host"]=="other.test" and j["rule"] is None and j["reason"], j' "$body" &&
	ok "curl http://other.test/x: $body" || bad "curl http://other.test/x gave: $body"
expect_sql "net connect other.test:80 deny" \
	"SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND target='other.test:80' AND decision='deny'"

out=$("$AGENTGW" audit verify --db "$DB") && ok "audit verify at the end: every chain sound" || bad "audit verify: $out"

gw_finish 40
