#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What a new user meets first (issue 18), on a real microvm in a network
# namespace made here:
#  - a missing workspace is one line from `up`, before anything starts;
#  - Ctrl-C on `up` prints "interrupted", exits 130, and the stop row says so;
#  - a non-root user sees the sandbox running in `ps`, and `exec`, `shell`,
#    `logs`, `policy reload` say "needs root";
#  - `exec` does not store secret-shaped arguments in the audit target;
#  - the guest has no IPv6 (nothing ff02:: in an audit-mode log);
#  - `up -d -- CMD` runs CMD and the sandbox stops with it; `shell` errors
#    say "agentgw shell"; after `policy reload` the new policy's text is logged.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 setpriv
e2e_netns ux
chmod 755 "$tmp"
export AGENTGW_STATE_DIR=$tmp/state
mkdir -p "$AGENTGW_STATE_DIR" "$tmp/ws/out"
cp /var/lib/agentgw/accel-probe "$AGENTGW_STATE_DIR/" 2>/dev/null
chown -R nobody: "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: ux
mode: audit
network:
  allow: [allowed.test]
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }

# 1. missing workspace: one line, exit 2, nothing started
sed 's/workspace: ws/workspace: nope/' "$tmp/p.yaml" >"$tmp/nows.yaml"
t0=$(date +%s%N)
ip netns exec "$ns" "$AGENTGW" up --policy "$tmp/nows.yaml" --name nows -- true 2>"$tmp/nows.err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$tmp/nows.err"
check "missing workspace: exit 2" [ "$rc" = 2 ]
check "missing workspace: one line naming it" sh -c "[ \$(wc -l <'$tmp/nows.err') = 1 ] && grep -q 'filesystem.workspace $tmp/nope: No such file or directory' '$tmp/nows.err'"
check "missing workspace: refused before anything starts (${ms} ms, no state dir)" \
	sh -c "[ $ms -lt 2000 ] && [ ! -e '$AGENTGW_RUN_DIR/nows' ] && [ ! -e '$AGENTGW_RUN_DIR/nows.failed' ]"

# 2. Ctrl-C on up (SIGINT to its process group, as a terminal sends it)
ip netns exec "$ns" setsid "$AGENTGW" up --policy "$tmp/p.yaml" --name intr -- sleep 120 \
	</dev/null >"$tmp/intr.out" 2>"$tmp/intr.err" &
pid=$!
for _ in $(seq 600); do "$AGENTGW" ps 2>/dev/null | grep -q '^intr .*running' && break; sleep 0.2; done
kill -INT -- "-$pid"
wait "$pid"
rc=$?
cat "$tmp/intr.err"
check "^C: exit 130" [ "$rc" = 130 ]
check "^C: says interrupted, last and once, and no log lines" \
	sh -c "[ \"\$(tail -1 '$tmp/intr.err')\" = 'agentgw up: interrupted' ] && [ \$(grep -c interrupted '$tmp/intr.err') = 1 ] && ! grep -q '^agentgw\[' '$tmp/intr.err'"
check "^C: the stop row's reason is interrupted" \
	[ "$(q "select e.reason from event e join sandbox s on s.id = e.sandbox_id where s.name = 'intr' and e.kind = 'lifecycle' and e.op = 'stop'")" = interrupted ]

# 3. a sandbox in the background
ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name ux >/dev/null 2>"$tmp/up.err" ||
	{ cat "$tmp/up.err"; bad "up -d"; e2e_finish; }
asnobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env AGENTGW_RUN_DIR="$AGENTGW_RUN_DIR" AGENTGW_STATE_DIR="$AGENTGW_STATE_DIR" "$AGENTGW" "$@"; }
asnobody ps >"$tmp/ps" 2>&1
check "non-root ps: running" grep -q '^ux  *running' "$tmp/ps"
for verb in "exec ux -- true" "shell ux" "logs ux" "policy reload ux"; do
	# shellcheck disable=SC2086
	err=$(asnobody $verb 2>&1 </dev/null)
	rc=$?
	check "non-root $verb: exit 1, 'needs root'" sh -c '[ "$1" = 1 ] && printf "%s" "$2" | grep -q "needs root" && [ "$(printf "%s\n" "$2" | wc -l)" = 1 ]' _ "$rc" "$err"
done
check "shell errors say 'agentgw shell'" sh -c "'$AGENTGW' shell nosuch </dev/null 2>&1 | grep -q '^agentgw shell: no sandbox'"

secret=sk-ant-api03-$$ABCDEFGHIJKLMNOP
"$AGENTGW" exec ux -- sh -c "true --token=hunter$$" >/dev/null
"$AGENTGW" exec ux -- env "ANTHROPIC_API_KEY=$secret" true
"$AGENTGW" exec ux -- sh -c "echo $secret >/dev/null"
"$AGENTGW" exec ux -- sh -c 'cat /proc/net/if_inet6 2>/dev/null | wc -l; ip -6 addr 2>/dev/null | wc -l; sleep 3' >"$tmp/v6"
cp "$tmp/p.yaml" "$tmp/p.orig.yaml"
echo "# reloaded-$$" >>"$tmp/p.yaml"
"$AGENTGW" policy reload ux >/dev/null
sleep 1
cp "$tmp/p.orig.yaml" "$tmp/p.yaml"
"$AGENTGW" down ux
check "policy reload: the new policy's text is in the log" \
	[ "$(q "select count(*) from event where kind='policy' and op='text' and json_extract(detail, '\$.text') like '%# reloaded-$$%' and json_extract(detail, '\$.sha256') = (select json_extract(detail, '\$.sha256') from event where kind='policy' and op='reload' and decision='allow')")" = 1 ]
check "exec targets are recorded" [ "$(q "select count(*) from event where kind='exec' and target like 'env ''ANTHROPIC_API_KEY=***'' true'")" = 1 ]
check "no secret in the audit database" [ "$(q "select count(*) from event where target like '%$secret%' or target like '%hunter$$%'")" = 0 ]
check "--token= value redacted" [ "$(q "select count(*) from event where kind='exec' and target = 'sh -c ''true --token=***'''")" = 1 ]
check "the guest has no IPv6" [ "$(tr '\n' ' ' <"$tmp/v6")" = "0 0 " ]
check "no IPv6 multicast in the audit log" [ "$(q "select count(*) from event where target like 'ff02%' or target like '[ff02%'")" = 0 ]

# 4. up -d -- CMD: CMD runs, then the sandbox stops
ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name dcmd -- sh -c 'echo hi >/workspace/out/dcmd' >"$tmp/dcmd.out" 2>"$tmp/dcmd.err"
rc=$?
check "up -d -- CMD is accepted and prints the name" sh -c "[ $rc = 0 ] && grep -qx dcmd '$tmp/dcmd.out'"
for _ in $(seq 150); do [ -e "$AGENTGW_RUN_DIR/dcmd" ] || break; sleep 0.2; done
check "CMD ran in the sandbox" [ "$(cat "$tmp/ws/out/dcmd" 2>/dev/null)" = hi ]
check "the sandbox stopped with CMD" [ ! -e "$AGENTGW_RUN_DIR/dcmd" ]
check "CMD is audited" [ "$(q "select count(*) from event e join sandbox s on s.id = e.sandbox_id where s.name = 'dcmd' and e.kind = 'exec'")" -ge 1 ]
check "no process left in the namespace" [ -z "$(ip netns pids "$ns")" ]
e2e_finish
