#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# QEMU's jail and the sandbox's cgroup, read from /proc of two running
# sandboxes: QEMU's uid and gid are not 0 and differ between sandboxes, it
# has no capabilities (effective, permitted, bounding), no_new_privs, a
# seccomp filter (QEMU's -sandbox), its own pid, mount and network
# namespaces and a root that holds no /home, /root or /etc/shadow; the
# supervisor, the gateway children and QEMU are in the sandbox's cgroup
# with memory, CPU and pids limits set; a memory hog and a process flood in
# one guest leave the other sandbox and the host responsive; down removes the
# cgroups. Runs `up` with nsenter --net (ip netns exec would hide
# /sys/fs/cgroup behind a fresh sysfs).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require nsenter

e2e_netns jail
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-jail
network:
  allow: [allowed.test]
audit:
  database: audit.db
YAML
agw() { nsenter --net=/run/netns/"$ns" timeout 300 "$AGENTGW" "$@"; }
status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
qemu_of() { pgrep -f "qemu-system.*$AGENTGW_RUN_DIR/$1/vm/" | head -n1; }

# Names with our pid: the cgroups are global, and another run may use j1 too.
J1=j1-$$ J2=j2-$$
for n in $J1 $J2; do
	agw up -d --policy "$tmp/p.yaml" --name "$n" >/dev/null 2>"$tmp/up.$n" ||
		{ cat "$tmp/up.$n"; bad "up -d $n"; e2e_finish; }
done
cgmode=$("$AGENTGW" doctor --json | jq -r 'select(.check=="cgroups") | .message')
q1=$(qemu_of $J1) q2=$(qemu_of $J2)
check "both QEMUs found" [ -n "$q1" ] && [ -n "$q2" ]
u1=$(status "$q1" Uid) u2=$(status "$q2" Uid)
echo "QEMU uids: $u1 $u2"
check "QEMU's uid is not 0" [ "${u1:-0}" -ge 2000000000 ] && [ "${u2:-0}" -ge 2000000000 ]
check "QEMU's uid differs between sandboxes" [ "$u1" != "$u2" ]
check "QEMU's gid is its uid" [ "$(status "$q1" Gid)" = "$u1" ]
check "QEMU has no supplementary groups" [ -z "$(status "$q1" Groups)" ]
for f in CapEff CapPrm CapBnd CapAmb; do
	check "QEMU's $f is 0" [ "$(status "$q1" $f)" = 0000000000000000 ]
done
check "QEMU has no_new_privs" [ "$(status "$q1" NoNewPrivs)" = 1 ]
check "QEMU runs under seccomp (filter mode)" [ "$(status "$q1" Seccomp)" = 2 ]
check "QEMU's command line has -sandbox with every deny" \
	grep -q "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny" <(tr '\0' ' ' <"/proc/$q1/cmdline")
check "QEMU is pid 1 of its own pid namespace" [ "$(awk '$1 == "NSpid:" { print $3 }' "/proc/$q1/status")" = 1 ]
for nsk in mnt net ipc uts pid; do
	check "QEMU has its own $nsk namespace" [ "$(readlink "/proc/$q1/ns/$nsk")" != "$(readlink "/proc/self/ns/$nsk")" ]
done
check "QEMU's root has no /home, /root or /etc/shadow" \
	sh -c "[ ! -e /proc/$q1/root/home ] && [ ! -e /proc/$q1/root/root ] && [ ! -e /proc/$q1/root/etc/shadow ]"
check "QEMU's /etc holds only ld.so.cache" [ "$(ls "/proc/$q1/root/etc")" = ld.so.cache ]
check "QEMU's /dev: null, zero, urandom" [ "$(ls "/proc/$q1/root/dev" | tr '\n' ' ')" = "null urandom zero " ]
check "QEMU's /usr is read-only" grep -qE " /usr [^ ]+ ro," "/proc/$q1/mountinfo"
check "the guest still works" agw exec $J1 -- true

# cgroups
echo "cgroups: $cgmode"
sup1=$(cat "$AGENTGW_RUN_DIR/$J1/pid")
cgj1=agentgw/$J1-$sup1
cgpath() { # pid controller
	awk -F: -v c="$2" '($2 == c || ($1 == 0 && c == "")) { print $3 }' "/proc/$1/cgroup"
}
if grep -q "v1" <<<"$cgmode"; then
	check "QEMU is in memory:/$cgj1" [ "$(cgpath "$q1" memory)" = "/$cgj1" ]
	check "QEMU is in pids:/$cgj1" [ "$(cgpath "$q1" pids)" = "/$cgj1" ]
	check "QEMU is in cpu:/$cgj1" [ "$(cgpath "$q1" cpu)" = "/$cgj1" ]
	check "memory limit: 512 MiB guest + 1 GiB" [ "$(cat /sys/fs/cgroup/memory/$cgj1/memory.limit_in_bytes)" = $(((512 + 1024) << 20)) ]
	check "cpu: 1.5 CPUs" [ "$(cat /sys/fs/cgroup/cpu/$cgj1/cpu.cfs_quota_us)" = 150000 ]
	check "pids limit 512" [ "$(cat /sys/fs/cgroup/pids/$cgj1/pids.max)" = 512 ]
	procs=/sys/fs/cgroup/pids/$cgj1/cgroup.procs
elif grep -q "v2" <<<"$cgmode"; then
	check "QEMU is in /$cgj1" [ "$(cgpath "$q1" "")" = "/$cgj1" ]
	check "memory.max: 512 MiB guest + 1 GiB" [ "$(cat /sys/fs/cgroup/$cgj1/memory.max)" = $(((512 + 1024) << 20)) ]
	check "cpu.max: 1.5 CPUs" [ "$(cat /sys/fs/cgroup/$cgj1/cpu.max)" = "150000 100000" ]
	check "pids.max 512" [ "$(cat /sys/fs/cgroup/$cgj1/pids.max)" = 512 ]
	procs=/sys/fs/cgroup/$cgj1/cgroup.procs
else
	bad "no cgroup hierarchy on this host ($cgmode)"
	procs=/dev/null
fi
kids=$(pgrep -P "$sup1" | tr '\n' ' ')
check "the supervisor and its children ($kids) are in the sandbox's cgroup" \
	sh -c "for p in $sup1 $kids; do grep -qx \$p $procs || exit 1; done"

# A memory hog, a process flood and a fork bomb in j1: j2 and the host stay
# responsive. The fork bomb comes last: its survivors keep a TCG guest busy
# for minutes, so j1 is only stopped after it.
agw exec $J1 -- sh -c 'awk "BEGIN { s = \"x\"; while (1) s = s s }"; true' >/dev/null 2>&1
check "j2 answers after j1's memory hog" agw exec $J2 -- echo alive
check "j1 survives its own memory hog" agw exec $J1 -- echo alive
agw exec $J1 -- sh -c 'i=0; while [ $i -lt 3000 ]; do sleep 15 & i=$((i + 1)); done; wait' >/dev/null 2>&1 &
flood=$!
sleep 5
t0=$(date +%s)
check "j2 answers during j1's process flood" agw exec $J2 -- echo alive
check "the host answers during it: agentgw ps within 10 s" timeout 10 "$AGENTGW" ps
echo "j2 exec during the flood: $(($(date +%s) - t0)) s"
wait "$flood"
check "j1 answers after its flood" agw exec $J1 -- echo alive
check "j1's QEMU is still the same process" [ -d "/proc/$q1" ]
rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$q1/status")
echo "j1's QEMU RSS after all that: $rss kB"
timeout -s KILL 30 nsenter --net=/run/netns/"$ns" "$AGENTGW" exec $J1 -- sh -c 'b() { b | b & }; b' >/dev/null 2>&1 &
bomb=$!
sleep 8
t0=$(date +%s)
check "j2 answers during j1's fork bomb" agw exec $J2 -- echo alive
check "the host answers during it: agentgw ps within 10 s" timeout 10 "$AGENTGW" ps
echo "j2 exec during the fork bomb: $(($(date +%s) - t0)) s"
check "the host's pids are untouched: j1's cgroup holds $(wc -l <"$procs") processes" [ "$(wc -l <"$procs")" -lt 20 ]
wait "$bomb" 2>/dev/null

for n in $J1 $J2; do agw down "$n" >/dev/null 2>&1; done
check "QEMUs are gone after down" sh -c "[ ! -d /proc/$q1 ] && [ ! -d /proc/$q2 ]"
check "the sandboxes' cgroups are removed" \
	sh -c "! ls -d /sys/fs/cgroup/*/$cgj1 /sys/fs/cgroup/$cgj1 2>/dev/null | grep -q ."
e2e_finish
