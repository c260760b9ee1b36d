#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Sandbox lifecycle end to end, in a network namespace made here, with the
# state dirs under a private AGENTGW_RUN_DIR: `up -d` returns once the guest
# is ready; `ps` (and --json) shows it; `exec` passes stdout, stderr, stdin
# and the exit status (also 127 and 128+signal) and each exec is an audit
# row; `logs` prints the console; `down` leaves no tap, nftables table,
# process or state dir. Then kill -9 of the supervisor: QEMU and the tap go
# with it (the guest has no path out), `ps` says dead, exec fails, and the
# next `up -d` of the same name cleans up (table too, sandbox row closed)
# and works; `down` again.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 jq

e2e_netns lc
name=lc$$
e2e_policy e2e-lifecycle enforce
echo hello-ws >"$tmp/ws/readme.txt"
agw() { ip netns exec "$ns" timeout 200 "$AGENTGW" "$@"; }
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }
ms() { date +%s%3N; }
tap=agw-$name
tap=${tap:0:15}
gone() {
	! ip -n "$ns" link show "$tap" >/dev/null 2>&1 &&
		! ip netns exec "$ns" nft list tables | grep -q "agentgw_$name" &&
		[ -z "$(ip netns pids "$ns")" ] && [ ! -e "$AGENTGW_RUN_DIR/$name" ]
}

# ---- up -d, ps, exec, logs, down ----
t0=$(ms)
out=$(agw up -d --policy "$tmp/p.yaml" --name "$name" 2>"$tmp/up.err")
rc=$?
t1=$(ms)
check "up -d returns 0 and prints the name" [ "$rc" = 0 ] && [ "$out" = "$name" ]
[ "$rc" = 0 ] || cat "$tmp/up.err"
check "a second up of the same name is refused" sh -c "! ip netns exec $ns '$AGENTGW' up -d --policy '$tmp/p.yaml' --name $name 2>/dev/null"
# Nothing of the supervisor's in the processes it forks: the VM runner
# keeps the tap (for QEMU) but not the audit database; the gateway
# children hold neither, and the supervisor lets go of the tap after the
# fork (gw_children.sh checks their files in detail).
fdlist() { for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null; }
sup=$(cat "$AGENTGW_RUN_DIR/$name/pid" 2>/dev/null)
runner=$(sed -n 's/^runner=//p' "$AGENTGW_RUN_DIR/$name/info" 2>/dev/null)
kids=$(pgrep -P "${sup:-0}" | grep -vx "${runner:-0}" | tr '\n' ' ')
runner_fds_ok() {
	[ -n "$runner" ] && fdlist "$runner" | grep -q /dev/net/tun && ! fdlist "$runner" | grep -q 'audit\.db'
}
kids_no_tap() {
	local k
	[ -n "$kids" ] || return 1
	for k in $kids; do fdlist "$k" | grep -q /dev/net/tun && return 1; done
	return 0
}
check "the VM runner holds the tap and nothing of the audit database" runner_fds_ok
check "no gateway child holds the tap ($kids)" kids_no_tap
check "the supervisor holds no tap (the runner's copy is QEMU's)" \
	sh -c "[ -n '$sup' ] && [ -d /proc/$sup/fd ] && ! ls -l /proc/$sup/fd | grep -q /dev/net/tun"
agw ps >"$tmp/ps"
check "ps shows it running with its guest address and accelerator" \
	grep -Eq "^$name +running .* 10\.77\.[0-9]+\.[0-9]+ +(tcg|kvm) " "$tmp/ps"
check "ps --json parses and says running" \
	[ "$(agw ps --json | jq -r ".[] | select(.name == \"$name\") | .state")" = running ]
agw exec "$name" -- sh -c 'cat /workspace/readme.txt; echo to-stderr >&2; exit 7' \
	</dev/null >"$tmp/o" 2>"$tmp/e"
rc=$?
t2=$(ms)
check "exec returns the command's exit status" [ "$rc" = 7 ]
check "exec passes stdout" grep -qx hello-ws "$tmp/o"
check "exec passes stderr" grep -qx to-stderr "$tmp/e"
check "exec passes stdin" [ "$(echo piped | agw exec "$name" -- cat)" = piped ]
# A regular file as stdin: epoll cannot watch it; it is always readable.
head -c 200000 /dev/urandom >"$tmp/in.bin"
check "exec passes a regular file as stdin, whole" \
	[ "$(agw exec "$name" -- md5sum <"$tmp/in.bin" | cut -d' ' -f1)" = "$(md5sum <"$tmp/in.bin" | cut -d' ' -f1)" ]
agw exec "$name" -- no-such-program </dev/null 2>/dev/null
check "a missing program is status 127" [ $? = 127 ]
agw exec "$name" -- sh -c 'kill -TERM $$' </dev/null
check "a killed command is 128+signal" [ $? = 143 ]
sleep 1
check "audit: exec row with target, exit status and duration" \
	[ "$(q "select count(*) from event where kind='exec' and op='run' and decision='allow' and target='sh -c ''cat /workspace/readme.txt; echo to-stderr >&2; exit 7''' and json_extract(detail,'\$.exit')=7 and duration_us > 0")" = 1 ]
check "audit: signal exec row" [ "$(q "select count(*) from event where kind='exec' and json_extract(detail,'\$.signal')=15")" = 1 ]
check "audit: lifecycle start" [ "$(q "select count(*) from event where kind='lifecycle' and op='start'")" -ge 1 ]
check "logs shows the guest console" sh -c "ip netns exec $ns '$AGENTGW' logs $name | grep -q 'agentgw-init: ready'"
# ---- policy reload of a running sandbox ----
cp "$tmp/p.yaml" "$tmp/p.orig"
sed -i 's/^    - allowed.test$/    - allowed.test\n    - other.test/' "$tmp/p.yaml"
agw policy reload "$name" >/dev/null
check "policy reload of a running sandbox returns 0" [ $? = 0 ]
sleep 1
check "audit: policy reload row" [ "$(q "select count(*) from event where kind='policy' and op='reload' and decision='allow'")" = 1 ]
echo "network: [oops" >>"$tmp/p.yaml"
agw policy reload "$name" 2>"$tmp/reload.err"
check "a broken policy is refused with exit 2 and its position" sh -c "[ $? = 2 ] && grep -q 'p.yaml:[0-9]*:[0-9]*:' '$tmp/reload.err'"
cp "$tmp/p.orig" "$tmp/p.yaml"
check "the sandbox still runs after the refused reload" [ "$(agw exec "$name" -- echo still </dev/null)" = still ]
agw policy reload nosuch$$ 2>/dev/null
check "reload of an unknown sandbox fails" [ $? = 1 ]

agw down "$name"
check "down returns 0" [ $? = 0 ]
check "after down: no tap, no table, no process, no state dir" gone
check "audit: lifecycle stop and sandbox row closed" \
	[ "$(q "select count(*) from sandbox where name='$name' and stopped_at is not null")" = 1 ]

# ---- kill -9 of the supervisor ----
agw up -d --policy "$tmp/p.yaml" --name "$name" >/dev/null 2>"$tmp/up2.err" || cat "$tmp/up2.err"
sup=$(cat "$AGENTGW_RUN_DIR/$name/pid" 2>/dev/null)
qemu=$(sed -n 's/^qemu=//p' "$AGENTGW_RUN_DIR/$name/info" 2>/dev/null)
check "second up -d recorded supervisor and QEMU pids" [ -n "$sup" ] && [ -n "$qemu" ]
kill -9 "$sup"
for _ in $(seq 50); do kill -0 "$qemu" 2>/dev/null || break; sleep 0.1; done
check "QEMU dies with the supervisor" sh -c "! kill -0 $qemu 2>/dev/null || grep -q Z /proc/$qemu/stat"
# the last holder of the tap fd may exit a moment after QEMU (slow under the sanitizers)
for _ in $(seq 50); do ip -n "$ns" link show "$tap" >/dev/null 2>&1 || break; sleep 0.1; done
check "the tap is gone: the guest has no path out" sh -c "! ip -n $ns link show $tap >/dev/null 2>&1"
check "ps says dead" [ "$(agw ps --json | jq -r ".[] | select(.name == \"$name\") | .state")" = dead ]
agw exec "$name" -- true </dev/null 2>/dev/null
check "exec into a dead sandbox fails" [ $? != 0 ]
out=$(agw up -d --policy "$tmp/p.yaml" --name "$name" 2>"$tmp/up3.err")
check "up -d of the same name cleans up and works" [ "$out" = "$name" ]
grep -q "cleaned up the leftovers" "$tmp/up3.err"
check "... and says it cleaned up" [ $? = 0 ]
check "exec works in the new sandbox" [ "$(agw exec "$name" -- echo again </dev/null)" = again ]
check "the dead sandbox's row was closed" \
	[ "$(q "select count(*) from sandbox where name='$name' and stopped_at is null")" = 1 ]
agw down "$name"
check "after the last down: nothing left" gone
echo "timing: up -d ready in $((t1 - t0)) ms, first exec done $((t2 - t1)) ms later"
e2e_finish
