#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 12 item 10 with a real sandbox: `up -- sleep` runs a command in the
# guest; kill -9 of the gateway's net child makes the sandbox fail closed,
# and both `up`'s stderr and the lifecycle/stop row say which child died of
# which signal (the row: decision error). Then the same with `up -d` and
# the fs child: the row is the only witness once the sandbox is gone. Last,
# a child dead of SIGSYS (the seccomp allow-list's kill, issue 15): the row
# says "seccomp".
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 pgrep

e2e_netns cd
e2e_policy e2e-child-death
q() { sqlite3 -cmd '.timeout 2000' "$tmp/audit.db" "$1" 2>/dev/null; }
sup_pid() { cat "$AGENTGW_RUN_DIR/$1/pid" 2>/dev/null; }
# child_of SUP ROLE: the supervisor's child by its name (agentgw-net is the
# first net worker, agentgw-fs the fs child)
child_of() { pgrep -P "$1" -x "agentgw-$2"; }
wait_ready() { # name: until the guest runs commands
	local i
	for i in $(seq 600); do
		[ -n "$(sup_pid "$1")" ] &&
			[ "$(ip netns exec "$ns" "$AGENTGW" exec "$1" -- echo up </dev/null 2>/dev/null)" = up ] &&
			return 0
		sleep 0.2
	done
	return 1
}

# ---- up -- CMD, net child killed ----
name=cd$$
ip netns exec "$ns" timeout 300 "$AGENTGW" up --policy "$tmp/p.yaml" --name "$name" -- sleep 600 \
	</dev/null >"$tmp/up.out" 2>"$tmp/up.err" &
up=$!
if wait_ready "$name"; then
	sup=$(sup_pid "$name")
	net=$(child_of "$sup" net)
	kill -KILL "$net"
	for _ in $(seq 300); do kill -0 "$up" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$up" 2>/dev/null; then
		bad "up still runs 30 s after its net child was killed"
		kill -TERM "$up"
	fi
	wait "$up"
	rc=$?
	want="net child (pid $net) killed by signal 9 (SIGKILL)"
	check "up exits non-zero (fails closed)" [ "$rc" != 0 ]
	check "up's stderr says '$want'" grep -qF "stopped: $want" "$tmp/up.err"
	check "audit: lifecycle/stop row is error with that reason" \
		[ "$(q "select e.decision || '|' || e.reason from event e join sandbox s on s.id = e.sandbox_id where s.name='$name' and e.kind='lifecycle' and e.op='stop'")" = "error|$want" ]
else
	bad "sandbox $name did not become ready"
	cat "$tmp/up.err"
	kill -TERM "$up" 2>/dev/null
	wait "$up"
fi

# ---- up -d, fs child killed ----
name=cf$$
if ip netns exec "$ns" timeout 300 "$AGENTGW" up -d --policy "$tmp/p.yaml" --name "$name" \
	>/dev/null 2>"$tmp/up2.err" && wait_ready "$name"; then
	sup=$(sup_pid "$name")
	fs=$(child_of "$sup" fs)
	kill -KILL "$fs"
	for _ in $(seq 300); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	check "the supervisor stops after its fs child was killed" sh -c "! kill -0 $sup 2>/dev/null"
	want="fs child (pid $fs) killed by signal 9 (SIGKILL)"
	check "audit: lifecycle/stop row of the detached sandbox says '$want'" \
		[ "$(q "select e.decision || '|' || e.reason from event e join sandbox s on s.id = e.sandbox_id where s.name='$name' and e.kind='lifecycle' and e.op='stop'")" = "error|$want" ]
	ip netns exec "$ns" "$AGENTGW" down "$name" >/dev/null 2>&1
else
	bad "detached sandbox $name did not become ready"
	cat "$tmp/up2.err"
fi

# ---- up -d, net child dies of SIGSYS (what its seccomp allow-list does) ----
name=cs$$
if ip netns exec "$ns" timeout 300 "$AGENTGW" up -d --policy "$tmp/p.yaml" --name "$name" \
	>/dev/null 2>"$tmp/up3.err" && wait_ready "$name"; then
	sup=$(sup_pid "$name")
	net=$(child_of "$sup" net)
	kill -SYS "$net"
	for _ in $(seq 300); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	check "the supervisor stops after its net child died of SIGSYS" sh -c "! kill -0 $sup 2>/dev/null"
	want="net child (pid $net) killed by signal 31 (SIGSYS): seccomp: a system call outside its allow-list (the kernel log names it)"
	check "audit: lifecycle/stop row says it was seccomp" \
		[ "$(q "select e.decision || '|' || e.reason from event e join sandbox s on s.id = e.sandbox_id where s.name='$name' and e.kind='lifecycle' and e.op='stop'")" = "error|$want" ]
	ip netns exec "$ns" "$AGENTGW" down "$name" >/dev/null 2>&1
else
	bad "detached sandbox $name did not become ready"
	cat "$tmp/up3.err"
fi

e2e_finish
