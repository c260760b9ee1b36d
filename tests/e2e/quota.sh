#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 15, the gateway children's confinement and the workspace quota, on a
# running sandbox (`up -d`, `exec`, `down`) whose workspace is root-owned:
# - /proc of each gateway child: Seccomp 2 (filter), NoNewPrivs 1; the net
#   child is nobody with no capability; the fs child is never uid 0: it is
#   the dedicated uid (common/priv.h PRIV_FS_ID) with exactly CAP_CHOWN,
#   CAP_DAC_OVERRIDE and CAP_FOWNER, and new files still belong to root.
# - filesystem.max_bytes: 1M: writing 2 MB to /workspace fails in the guest
#   with "No space left on device", the host file stays within the quota,
#   the audit has the deny row "workspace quota"; removing the file gives
#   the room back.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3

e2e_netns quota
name=q$$
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
agw() { ip netns exec "$ns" timeout 300 "$AGENTGW" "$@"; }
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

agw up -d --policy "$tmp/p.yaml" --name "$name" >/dev/null 2>"$tmp/up.err"
check "up -d works" [ $? = 0 ]
sup=$(cat "$AGENTGW_RUN_DIR/$name/pid" 2>/dev/null)
net= fs=
for k in $(pgrep -P "${sup:-0}"); do
	case "$(status "$k" Uid)" in
	"$(id -u nobody)") net=$k ;;
	1999999999) fs=$k ;;
	esac
done
check "the net child ($net) runs as nobody" [ -n "$net" ]
check "the fs child ($fs) of a root-owned workspace runs as uid 1999999999" [ -n "$fs" ]
for k in $net $fs; do
	check "child $k: Seccomp 2 (filter)" [ "$(status "$k" Seccomp)" = 2 ]
	check "child $k: NoNewPrivs 1" [ "$(status "$k" NoNewPrivs)" = 1 ]
done
check "net child: no capability" [ "$(status "${net:-0}" CapEff)" = 0000000000000000 ]
check "fs child: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER only (effective, bounding)" \
	sh -c "[ '$(status "${fs:-0}" CapEff)' = 000000000000000b ] && [ '$(status "${fs:-0}" CapBnd)' = 000000000000000b ]"

agw exec "$name" -- sh -c '
	cat /workspace/readme.txt
	dd if=/dev/zero of=/workspace/big bs=64k count=32 conv=fsync 2>&1 |
		grep -m1 -o "No space left on device" && echo dd-refused
	exit 0' </dev/null >"$tmp/out" 2>&1
cat "$tmp/out"
size=$(stat -c %s "$tmp/ws/big" 2>/dev/null || echo missing)
check "root-owned /workspace is readable" grep -qx hello-ws "$tmp/out"
check "writing 2 MB past max_bytes 1M fails with ENOSPC in the guest" grep -qx dd-refused "$tmp/out"
check "the host file stays within the quota ($size bytes)" [ "$size" != missing ] && [ "$size" -le 1048576 ]
check "new files in a root-owned workspace belong to root" [ "$(stat -c %u "$tmp/ws/big" 2>/dev/null)" = 0 ]
agw exec "$name" -- sh -c 'rm /workspace/big && dd if=/dev/zero of=/workspace/half bs=64k count=8 conv=fsync 2>/dev/null && echo room-back' \
	</dev/null >"$tmp/out2" 2>&1
check "removing the file gives the room back" grep -qx room-back "$tmp/out2"
check "both children still alive (nothing hit the allow-list)" kill -0 "${net:-0}" "${fs:-0}"
agw down "$name" >/dev/null 2>&1
check "down works" [ $? = 0 ]
# the audit writer batches: read the rows once the sandbox is down
check "audit: a deny row 'workspace quota' for big" \
	[ "$(q "select count(*) from event where kind='fs' and target='big' and decision='deny' and reason='workspace quota'")" -ge 1 ]
check "audit: no child killed by seccomp" \
	sh -c "! sqlite3 '$tmp/audit.db' \"select reason from event where kind='lifecycle'\" | grep -qi 'SIGSYS\|seccomp'"
e2e_finish
