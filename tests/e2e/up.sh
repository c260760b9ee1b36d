#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `agentgw up` end to end, in a network namespace made here: a real microvm
# (TCG without KVM) behind the gateway. Checks from inside the guest: eth0
# and resolv.conf come from the kernel command line, the gateway answers
# ping, a name outside the policy gets NXDOMAIN, /workspace (9P through the
# fs gateway) can be read, .env cannot, writes outside out/ fail with
# EACCES and inside succeed; the command's exit status comes back; the audit
# database has each of these; afterwards no tap, no nftables table and no
# QEMU remain.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3

e2e_netns up
mkdir -p "$tmp/ws/out"
echo secret >"$tmp/ws/.env"
echo hello-ws >"$tmp/ws/readme.txt"
# The workspace belongs to an unprivileged user: the fs child serves it as
# that user, so a file only root may read stays unreadable whatever the policy.
chown -R nobody: "$tmp/ws"
echo root-only >"$tmp/ws/rootonly.txt"
chmod 600 "$tmp/ws/rootonly.txt"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-up
mode: enforce
network:
  allow:
    - allowed.test
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

ip netns exec "$ns" timeout 300 "$AGENTGW" up -v --policy "$tmp/p.yaml" --name e2e -- sh -c '
	ip -4 addr show eth0 | grep -o "inet [0-9./]*"
	echo "resolv: $(cat /etc/resolv.conf)"
	gw=$(cut -d" " -f2 /etc/resolv.conf)
	ping -c1 -W5 "$gw" >/dev/null && echo ping-ok
	nslookup denied.example 2>&1 | grep -q NXDOMAIN && echo dns-denied
	cat /workspace/readme.txt
	cat /workspace/.env 2>&1 | grep -q "Permission denied" && echo env-denied
	(echo y >/workspace/nope) 2>&1 | grep -q "Permission denied" && echo write-denied
	echo x >/workspace/out/new && echo write-ok
	cat /workspace/rootonly.txt 2>&1 | grep -q "Permission denied" && echo os-denied
	exit 5' >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
grep -v "^agentgw\[" "$tmp/err"
check "command's exit status 5 comes back" [ "$rc" = 5 ]
check "eth0 has the guest address of a /30" grep -q "^inet 10\.77\.[0-9]*\.[0-9]*/30" "$tmp/out"
check "resolv.conf points at the gateway" grep -q "^resolv: nameserver 10\.77\." "$tmp/out"
check "the gateway answers ping" grep -qx ping-ok "$tmp/out"
check "a name outside the policy is NXDOMAIN" grep -qx dns-denied "$tmp/out"
check "/workspace is readable over 9P" grep -qx hello-ws "$tmp/out"
check ".env cannot be read" grep -qx env-denied "$tmp/out"
check "writes outside out/ fail with EACCES" grep -qx write-denied "$tmp/out"
check "writes in out/ work" sh -c "grep -qx write-ok '$tmp/out' && [ \"\$(cat '$tmp/ws/out/new')\" = x ]"
check "new files belong to the workspace owner" [ "$(stat -c %U "$tmp/ws/out/new" 2>/dev/null)" = nobody ]
check "a file the owner cannot read stays unreadable (fs child runs as the owner)" grep -qx os-denied "$tmp/out"
check "tcg or kvm reported" grep -Eq "guest ready in [0-9]+ ms \((tcg|kvm)\)" "$tmp/err"
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }
check "audit: fs read allowed" [ "$(q "select count(*) from event where kind='fs' and target='readme.txt' and decision='allow'")" -ge 1 ]
check "audit: .env denied" [ "$(q "select count(*) from event where kind='fs' and target='.env' and decision='deny'")" -ge 1 ]
check "audit: create outside out/ denied" [ "$(q "select count(*) from event where kind='fs' and op='create' and target='nope' and decision='deny'")" -ge 1 ]
check "audit: dns denied" [ "$(q "select count(*) from event where kind='dns' and target='denied.example' and decision='deny'")" -ge 1 ]
"$AGENTGW" policy suggest --db "$tmp/audit.db" >"$tmp/suggest.yaml"
check "policy suggest proposes the denied name" grep -qx '    - host: "denied.example"' "$tmp/suggest.yaml"
check "policy suggest proposes creating the denied file" grep -Eqx '    - \{ path: "nope", access: \[(write, )?create\] \}' "$tmp/suggest.yaml"
check "policy suggest leaves the explicit .env deny alone" sh -c "grep -q '^#   fs .* \.env  (filesystem.deny\[0\])' '$tmp/suggest.yaml' && ! grep -q 'path: \".env\"' '$tmp/suggest.yaml'"
check "the suggestion starts with version: 1" [ "$(head -1 "$tmp/suggest.yaml")" = "version: 1" ]
cp "$tmp/suggest.yaml" "$tmp/suggested-policy.yaml"
check "the suggestion is a valid policy" "$AGENTGW" policy check "$tmp/suggested-policy.yaml"
check "audit: sandbox stopped" [ -n "$(q "select stopped_at from sandbox where name='e2e'")" ]
check "no tap left" sh -c "! ip -n '$ns' link show agw-e2e >/dev/null 2>&1"
check "no nftables table left" sh -c "! ip netns exec '$ns' nft list tables | grep -q agentgw"
check "no process left in the namespace" [ -z "$(ip netns pids "$ns")" ]
e2e_finish
