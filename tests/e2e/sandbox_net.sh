#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The acceptance test: a real microvm (TCG without KVM) started with
# `agentgw up -d` inside the gw namespace of the shared test topology
# (tests/lib/topo.sh: dnsmasq and nginx with a test CA in the net namespace),
# and real clients inside the guest (curl, openssl, dig, nc, busybox). Each
# check looks at what the guest saw AND at the matching row of the SQLite
# audit database:
#   - an allowed name works over HTTPS (verified against the test CA) and
#     plain HTTP; a denied name gets NXDOMAIN and its forced connection is
#     refused; a bare IP is refused; a forged SNI reaches the address the
#     gateway resolved, a forged Host is refused; UDP to a non-DNS port and
#     IPv6 go nowhere (UDP: net/drop rows; the guest has no IPv6 stack);
#   - /workspace over 9P: reads work, writes outside out/ fail with EACCES,
#     writes in out/ work, .env cannot be read (also through a symlink),
#     symlinks to /etc made on the host or in the guest never reach the
#     host's /etc;
#   - `agentgw down` leaves no tap, nftables table, process or state dir.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/e2e.sh
e2e_require sqlite3 nc curl openssl dig

. tests/lib/topo.sh

UDP_PID=
e2e_on_exit() { [ -n "$UDP_PID" ] && kill "$UDP_PID" 2>/dev/null; }
e2e_topo_sandbox sn
mkdir -p "$WS/out" "$WS/sub" "$S/outside"
echo hello-ws >"$WS/readme.txt"
echo SECRET-ENV >"$WS/.env"
echo SECRET-SUB-ENV >"$WS/sub/.env"
cp "$TOPO_CA" "$WS/ca.pem"
echo outside-marker >"$S/outside/marker"
ln -s /etc "$WS/etc-link"
ln -s "$S/outside" "$WS/outside-link"
ln -s .env "$WS/env-link"
cat >"$S/p.yaml" <<YAML
version: 1
name: e2e-sandbox-net
mode: enforce
network:
  allow:
    - allowed.test
    - api.allowed.test
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
    - { path: "out/**", access: [read, write, create, delete] }
  deny:
    - { path: "**/.env" }
audit:
  database: audit.db
YAML

agw() { ip netns exec "$NS_GW" timeout 120 "$AGENTGW" "$@"; }
# g CMD...: runs CMD in the guest, stdout and stderr together.
g() { agw exec "$NAME" -- "$@" </dev/null 2>&1; }
gsh() { g sh -c "$1"; }
# shellcheck disable=SC2034 # read by e2e_audit
E2E_AUDIT_WAIT=3 # e2e_audit polls up to 3 s for a row
# audit_none DESCRIPTION WHERE: no event row matches WHERE (after a 1 s settle).
audit_none() {
	local n
	sleep 1
	n=$(e2e_sql "SELECT count(*) FROM event WHERE $2")
	[ "${n:-1}" = 0 ] && ok "audit: $1" || bad "audit: $1 ($n rows where $2)"
}
# ev KIND OP TARGET DECISION [RULE]: the WHERE clause for one row.
ev() {
	local w="kind='$1' AND op='$2' AND target='$3' AND decision='$4'"
	[ -n "${5:-}" ] && w="$w AND rule='$5'"
	echo "$w"
}
tap=agw-$NAME
tap=${tap:0:15}
gone() {
	! ip -n "$NS_GW" link show "$tap" >/dev/null 2>&1 &&
		! ip netns exec "$NS_GW" nft list tables 2>/dev/null | grep -q "agentgw_$NAME" &&
		[ -z "$(ip netns pids "$NS_GW")" ] && [ ! -e "$AGENTGW_RUN_DIR/$NAME" ]
}

echo "== up -d in the gw namespace"
t0=$(date +%s%3N)
e2e_up --workspace "$WS"
CURL="curl -sS --max-time 15 --cacert /workspace/ca.pem"

echo "== allowed name"
a=$(g dig +short +time=3 +tries=1 allowed.test A)
[ "$a" = "$ALLOWED_IP" ] && ok "dig allowed.test -> $a" || bad "dig allowed.test gave '$a'"
e2e_audit "dns allowed.test allowed" "$(ev dns query allowed.test allow 'network.allow[0]')"
body=$(g $CURL https://allowed.test/)
[ "$body" = allowed.test ] && ok "https://allowed.test/ (verified with the test CA) -> $body" ||
	bad "https://allowed.test/ gave '$body'"
e2e_audit "net connect allowed.test:443 allowed" "$(ev net connect allowed.test:443 allow 'network.allow[0]') AND detail LIKE '%\"via\":\"tls\"%'"
e2e_audit "net close allowed.test:443 with bytes both ways" \
	"$(ev net close allowed.test:443 allow) AND bytes_up > 0 AND bytes_down > 0"
body=$(g curl -sS --max-time 15 http://allowed.test/)
[ "$body" = allowed.test ] && ok "http://allowed.test/ -> $body" || bad "http://allowed.test/ gave '$body'"
e2e_audit "net connect allowed.test:80 allowed" "$(ev net connect allowed.test:80 allow 'network.allow[0]')"
body=$(g $CURL https://api.allowed.test/)
[ "$body" = allowed.test ] && ok "https://api.allowed.test/ -> $body" || bad "https://api.allowed.test/ gave '$body'"
e2e_audit "net connect api.allowed.test:443 allowed" "$(ev net connect api.allowed.test:443 allow 'network.allow[1]')"
out=$(gsh 'echo | openssl s_client -connect allowed.test:443 -servername allowed.test -CAfile /workspace/ca.pem 2>&1')
grep -q "Verify return code: 0 (ok)" <<<"$out" && ok "openssl s_client verifies allowed.test" ||
	bad "openssl s_client: $(grep -m1 -i 'verify\|error' <<<"$out")"

echo "== denied name"
st=$(g dig +time=3 +tries=1 other.test A | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
[ "$st" = NXDOMAIN ] && ok "dig other.test -> NXDOMAIN" || bad "dig other.test status '$st'"
e2e_audit "dns other.test denied" "$(ev dns query other.test deny)"
out=$(g curl -sS --max-time 15 https://other.test/)
rc=$?
[ "$rc" = 6 ] && ok "curl https://other.test/ cannot resolve (exit 6)" || bad "curl https://other.test/: exit $rc: $out"
out=$(g $CURL --resolve "other.test:443:$OTHER_IP" https://other.test/)
rc=$?
[ "$rc" != 0 ] && [ "$out" != other.test ] && ok "curl --resolve other.test:443:$OTHER_IP refused (exit $rc)" ||
	bad "forced other.test got through: $out"
e2e_audit "net connect other.test:443 denied" "$(ev net connect other.test:443 deny)"
out=$(g curl -sS --max-time 15 --resolve "other.test:80:$OTHER_IP" http://other.test/)
[ "$out" != other.test ] && ok "http://other.test/ (forced address) refused" || bad "http://other.test/ got through"
e2e_audit "net other.test:80 denied" "kind IN ('net','http') AND target LIKE 'other.test%' AND decision='deny' AND target NOT LIKE '%:443'"

echo "== direct IP"
out=$(g curl -sS --max-time 15 "http://$OTHER_IP/")
rc=$?
# plain HTTP naming an address gets the proxy's 403 (no name to judge)
[ "$out" != other.test ] && { [ "$rc" != 0 ] || grep -q '"error":"denied by agentgw"' <<<"$out"; } &&
	ok "http://$OTHER_IP/ refused (exit $rc: ${out:0:60})" || bad "http://$OTHER_IP/ gave '$out'"
e2e_audit "net connect $OTHER_IP:80 denied" "$(ev net connect "$OTHER_IP:80" deny)"
out=$(g curl -sS -k --max-time 15 "https://$OTHER_IP/")
rc=$?
[ "$rc" != 0 ] && [ "$out" != other.test ] && ok "https://$OTHER_IP/ refused (exit $rc)" || bad "https://$OTHER_IP/ gave '$out'"
e2e_audit "net connect $OTHER_IP:443 denied" "$(ev net connect "$OTHER_IP:443" deny)"

echo "== forged SNI and Host"
body=$(g $CURL --resolve "allowed.test:443:$EVIL_IP" https://allowed.test/)
[ "$body" = allowed.test ] && ok "SNI allowed.test sent to $EVIL_IP reached allowed.test" ||
	bad "forged SNI gave '$body'"
e2e_audit "dialed $ALLOWED_IP (the gateway's answer), $EVIL_IP recorded as the original" \
	"$(ev net connect allowed.test:443 allow 'network.allow[0]') AND dst='$ALLOWED_IP:443' AND detail LIKE '%\"orig_dst\":\"$EVIL_IP:443\"%'"
body=$(g curl -sS --max-time 15 -H 'Host: allowed.test' "http://$EVIL_IP/")
[ "$body" = allowed.test ] && ok "Host allowed.test sent to $EVIL_IP reached allowed.test" ||
	bad "forged Host to $EVIL_IP gave '$body'"
e2e_audit "plain HTTP to $EVIL_IP dialed $ALLOWED_IP" \
	"kind='net' AND op='connect' AND target='allowed.test:80' AND decision='allow' AND dst='$ALLOWED_IP:80' AND detail LIKE '%\"orig_dst\":\"$EVIL_IP:80\"%'"
out=$(g curl -sS --max-time 15 -o /dev/null -w '%{http_code}' -H 'Host: other.test' "http://$ALLOWED_IP/")
[ "$out" != 200 ] && ok "Host other.test to $ALLOWED_IP refused ($out)" || bad "Host other.test to $ALLOWED_IP got 200"
e2e_audit "Host other.test to $ALLOWED_IP denied" \
	"kind IN ('net','http') AND target LIKE 'other.test%' AND decision='deny' AND (dst='$ALLOWED_IP:80' OR detail LIKE '%$ALLOWED_IP:80%')"
out=$(g curl -sS -k --max-time 15 --resolve "other.test:443:$ALLOWED_IP" https://other.test/)
rc=$?
[ "$rc" != 0 ] && ok "SNI other.test to $ALLOWED_IP refused (exit $rc)" || bad "SNI other.test to $ALLOWED_IP gave '$out'"
e2e_audit "SNI other.test to $ALLOWED_IP denied" \
	"$(ev net connect other.test:443 deny) AND detail LIKE '%\"orig_dst\":\"$ALLOWED_IP:443\"%'"

echo "== UDP and IPv6 go nowhere"
: >"$S/udp.out"
in_net timeout 20 nc -u -l "$ALLOWED_IP" 9999 >"$S/udp.out" 2>/dev/null &
UDP_PID=$!
wait_udp "$NS_NET" "$ALLOWED_IP" 9999 5 || bad "UDP listener in the net namespace did not start"
# /usr/bin/nc is OpenBSD netcat from the image; busybox sh would run its
# own nc applet (no -u) for a bare "nc".
gsh "echo udp-probe | /usr/bin/nc -u -w1 $ALLOWED_IP 9999" >/dev/null
sleep 1
[ ! -s "$S/udp.out" ] && ok "UDP to $ALLOWED_IP:9999 never arrived" || bad "UDP arrived: $(cat "$S/udp.out")"
kill "$UDP_PID" 2>/dev/null
wait "$UDP_PID" 2>/dev/null
UDP_PID=
e2e_audit "UDP to $ALLOWED_IP:9999 is net/drop" "$(ev net drop "$ALLOWED_IP:9999" deny)"
out=$(gsh "echo tcp-probe | /usr/bin/nc -w3 $ALLOWED_IP 22")
[ -z "$out" ] && ok "TCP to $ALLOWED_IP:22 (no rule for the port) gets nothing" || bad "TCP to port 22 gave '$out'"
e2e_audit "net connect $ALLOWED_IP:22 denied" "$(ev net connect "$ALLOWED_IP:22" deny)"
ll=$(ip -n "$NS_GW" -6 -o addr show dev "$tap" scope link 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
if [ -n "$ll" ]; then
	out=$(g ping -6 -c2 -W2 "$ll%eth0")
	rc=$?
	[ "$rc" != 0 ] && ok "ping -6 the tap's own link-local $ll gets no answer" || bad "IPv6 ping of $ll answered: $out"
else
	bad "the tap has no IPv6 link-local address to probe"
fi
out=$(gsh "ip -6 route add default dev eth0 2>&1; curl -sS -6 --max-time 4 http://[2001:db8::10]/ 2>&1")
rc=$?
[ "$rc" != 0 ] && ok "curl -6 http://[2001:db8::10]/ fails" || bad "curl -6 got: $out"
# The guest kernel runs with ipv6.disable=1 (it cannot use IPv6): both
# probes fail inside the guest, and not one IPv6 packet reaches the tap
# (the gateway would drop and record it: tests/integration/fw.sh).
out=$(gsh "cat /proc/net/if_inet6 2>&1 | head -n1")
[ -z "$out" ] || grep -q "No such file" <<<"$out" && ok "the guest has no IPv6 stack" || bad "the guest has IPv6: $out"
audit_none "no IPv6 packet from the guest reached the gateway" \
	"kind='net' AND op='drop' AND dst LIKE '%:%:%'"

echo "== workspace over 9P"
out=$(g cat /workspace/readme.txt)
[ "$out" = hello-ws ] && ok "/workspace/readme.txt readable" || bad "read readme.txt gave '$out'"
e2e_audit "fs read readme.txt allowed" "kind='fs' AND target='readme.txt' AND decision='allow' AND op IN ('read','open')"
out=$(gsh 'echo y >/workspace/nope')
grep -q "Permission denied" <<<"$out" && ok "create outside out/ fails with EACCES" || bad "create outside out/: '$out'"
[ ! -e "$WS/nope" ] && ok "... and nothing appeared on the host" || bad "host has ws/nope"
e2e_audit "fs create nope denied" "$(ev fs create nope deny)"
out=$(gsh 'echo more >>/workspace/readme.txt')
grep -q "Permission denied" <<<"$out" && ok "append to readme.txt fails with EACCES" || bad "append outside out/: '$out'"
[ "$(cat "$WS/readme.txt")" = hello-ws ] && ok "... and the host file is unchanged" || bad "readme.txt changed on the host"
e2e_audit "fs open readme.txt for write denied" "$(ev fs open readme.txt deny)"
out=$(gsh 'mkdir /workspace/newdir')
grep -q "Permission denied" <<<"$out" && ok "mkdir outside out/ fails with EACCES" || bad "mkdir outside out/: '$out'"
e2e_audit "fs mkdir newdir denied" "$(ev fs mkdir newdir deny)"
out=$(gsh 'echo x >/workspace/out/new && mkdir /workspace/out/d && echo y >/workspace/out/d/f && rm /workspace/out/d/f && echo all-done')
[ "$out" = all-done ] && [ "$(cat "$WS/out/new")" = x ] && [ -d "$WS/out/d" ] && [ ! -e "$WS/out/d/f" ] &&
	ok "create, write, mkdir, unlink in out/ work (seen on the host)" || bad "out/ writes: '$out'"
e2e_audit "fs create out/new allowed" "$(ev fs create out/new allow 'filesystem.allow[1]')"
e2e_audit "fs write out/new with bytes" "$(ev fs write out/new allow) AND bytes_up >= 2"
e2e_audit "fs unlink out/d/f allowed" "$(ev fs unlink out/d/f allow)"
out=$(g cat /workspace/.env)
grep -q "Permission denied" <<<"$out" && ! grep -q SECRET <<<"$out" && ok ".env cannot be read" || bad "cat .env gave '$out'"
e2e_audit "fs .env denied by filesystem.deny[0]" "kind='fs' AND target='.env' AND decision='deny' AND rule='filesystem.deny[0]'"
out=$(g cat /workspace/sub/.env)
grep -q "Permission denied" <<<"$out" && ! grep -q SECRET <<<"$out" && ok "sub/.env cannot be read" || bad "cat sub/.env gave '$out'"
e2e_audit "fs sub/.env denied" "kind='fs' AND target='sub/.env' AND decision='deny'"
n0=$(e2e_sql "SELECT count(*) FROM event WHERE kind='fs' AND target='.env' AND decision='deny'")
out=$(g cat /workspace/env-link)
grep -q "Permission denied" <<<"$out" && ! grep -q SECRET <<<"$out" && ok "a host symlink env-link -> .env cannot be read" || bad "cat env-link gave '$out'"
e2e_audit "reading through env-link is one more deny on .env" \
	"kind='fs' AND target='.env' AND decision='deny' AND (SELECT count(*) FROM event WHERE kind='fs' AND target='.env' AND decision='deny') > ${n0:-0}"

echo "== symlinks never reach the host"
out=$(g readlink /workspace/etc-link)
[ "$out" = /etc ] && ok "host symlink etc-link is visible as -> /etc" || bad "readlink etc-link gave '$out'"
[ -f /etc/shadow ] || bad "host has no /etc/shadow to probe with"
out=$(g cat /workspace/etc-link/shadow)
rc=$?
[ "$rc" != 0 ] && ! grep -q '^root:' <<<"$out" && ok "cat /workspace/etc-link/shadow fails (the host's /etc is not reached)" ||
	bad "etc-link/shadow gave: $(head -c 80 <<<"$out")"
# The guest kernel resolves a 9P symlink itself (readlink, then its own
# lookup), so etc-link/passwd is the guest's own /etc/passwd: never the host's.
out=$(g cat /workspace/etc-link/passwd)
if [ "$out" != "$(cat /etc/passwd)" ] && [ "$out" = "$(g cat /etc/passwd)" ]; then
	ok "cat /workspace/etc-link/passwd gives the guest's own /etc/passwd, not the host's"
else
	bad "etc-link/passwd gave: $(head -c 80 <<<"$out")"
fi
out=$(g cat /workspace/outside-link/marker)
rc=$?
[ "$rc" != 0 ] && ! grep -q outside-marker <<<"$out" && ok "host symlink to a folder outside the workspace leads nowhere" ||
	bad "outside-link/marker gave '$out'"
out=$(gsh 'ln -s /etc /workspace/out/g-etc && readlink /workspace/out/g-etc')
[ "$out" = /etc ] && [ -L "$WS/out/g-etc" ] && [ "$(readlink "$WS/out/g-etc")" = /etc ] &&
	ok "guest symlink out/g-etc -> /etc created (stored as a symlink on the host)" || bad "guest ln -s in out/: '$out'"
e2e_audit "fs symlink out/g-etc allowed with its target" \
	"$(ev fs symlink out/g-etc allow) AND detail LIKE '%\"target\":\"/etc\"%'"
out=$(g cat /workspace/out/g-etc/shadow)
rc=$?
[ "$rc" != 0 ] && ! grep -q '^root:' <<<"$out" && ok "cat /workspace/out/g-etc/shadow fails" ||
	bad "out/g-etc/shadow gave: $(head -c 80 <<<"$out")"
out=$(gsh "ln -s $S/outside /workspace/out/g-out && cat /workspace/out/g-out/marker")
rc=$?
[ "$rc" != 0 ] && ! grep -q outside-marker <<<"$out" && ok "guest symlink to a host folder leads nowhere" ||
	bad "out/g-out/marker gave '$out'"
out=$(gsh 'ln -s /etc /workspace/g-etc')
grep -q "Permission denied" <<<"$out" && [ ! -e "$WS/g-etc" ] && [ ! -L "$WS/g-etc" ] &&
	ok "guest symlink outside out/ fails with EACCES" || bad "ln -s outside out/: '$out'"
e2e_audit "fs symlink g-etc denied" "$(ev fs symlink g-etc deny)"
e2e_audit "no fs event was allowed through a symlink" \
	"1=(SELECT count(*)=0 FROM event WHERE kind='fs' AND decision='allow' AND (target LIKE 'etc-link/%' OR target LIKE 'outside-link/%' OR target LIKE 'out/g-etc/%' OR target LIKE 'out/g-out/%'))"

echo "== exec rows"
e2e_audit "exec rows for the guest commands" "kind='exec' AND op='run' AND decision='allow' AND target LIKE 'curl %'"

echo "== down"
cp "$AGENTGW_RUN_DIR/$NAME/supervisor.log" "$S/supervisor.log" 2>/dev/null
agw down "$NAME"
rc=$?
[ "$rc" = 0 ] && UP=0
check "down returns 0" [ "$rc" = 0 ]
check "after down: no tap, no nftables table, no process, no state dir" gone
e2e_audit "sandbox row closed" "1=(SELECT count(*) FROM sandbox WHERE name='$NAME' AND stopped_at IS NOT NULL)"
echo "timing: up -d $E2E_UP_MS ms, whole test $(($(date +%s%3N) - t0)) ms"

e2e_finish "$S/supervisor.log"
