#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Workspace quota end to end (issue 15): with filesystem.max_bytes: 1M,
# writing 2 MB to /workspace in the guest fails with "No space left on
# device", the host file stays within the quota and the audit has the deny
# row "workspace quota". The workspace is root-owned: the fs child serves it
# as its dedicated uid (common/priv.h PRIV_FS_ID) with CAP_CHOWN,
# CAP_DAC_OVERRIDE and CAP_FOWNER, so new files still belong to root.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3

e2e_netns quota
mkdir -p "$tmp/ws"
echo hello-ws >"$tmp/ws/readme.txt"
chmod 700 "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-quota
mode: enforce
filesystem:
  workspace: ws
  max_bytes: 1M
  max_files: 100
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML

ip netns exec "$ns" timeout 300 "$AGENTGW" up -v --policy "$tmp/p.yaml" --name quota -- sh -c '
	cat /workspace/readme.txt
	dd if=/dev/zero of=/workspace/big bs=64k count=32 conv=fsync 2>&1 | grep -m1 -o "No space left on device" && echo dd-refused
	sync
	rm -f /workspace/big && echo x >/workspace/small && echo after-rm-ok
	exit 0' >"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out"
grep -v "^agentgw\[" "$tmp/err"
size=$(stat -c %s "$tmp/ws/big" 2>/dev/null || echo 0)
check "the command ran (exit 0)" [ "$rc" = 0 ]
check "root-owned /workspace is readable" grep -qx hello-ws "$tmp/out"
check "writing 2 MB past max_bytes 1M fails with ENOSPC in the guest" grep -qx dd-refused "$tmp/out"
check "the host file stays within the quota ($size bytes)" [ "$size" -le 1048576 ]
check "removing the file gives the room back" grep -qx after-rm-ok "$tmp/out"
check "new files in a root-owned workspace belong to root" [ "$(stat -c %u "$tmp/ws/small" 2>/dev/null)" = 0 ]
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }
check "audit: a deny row 'workspace quota' for big" \
	[ "$(q "select count(*) from event where kind='fs' and target='big' and decision='deny' and reason='workspace quota'")" -ge 1 ]
check "audit: the sandbox stopped cleanly (no seccomp kill)" \
	sh -c "! sqlite3 '$tmp/audit.db' \"select reason from event where kind='lifecycle'\" | grep -q SIGSYS"
e2e_finish
