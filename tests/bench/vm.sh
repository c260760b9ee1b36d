#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Microvm figures (printed, never asserted), median of VM_BENCH_RUNS
# sandboxes (default 5), each in a network namespace made here with its own
# AGENTGW_RUN_DIR:
#   - `agentgw up -d` until it returns (guest ready), and until the first
#     `agentgw exec NAME -- true` has returned, measured from the start of
#     `up -d`: the whole sandbox (tap, nftables, net and fs children, QEMU,
#     guest boot, exec service);
#   - resident memory (RSS, kB) of each process of the idle sandbox, 2 s after
#     that exec: supervisor, net child, fs child, the runner that waits on
#     QEMU, QEMU itself, and their sum;
#   - `agentgw down`;
#   - the same up -d and first exec with the Debian test image (a root
#     filesystem on virtio-blk under an overlay, tests/lib/e2e.sh
#     e2e_debian_image; VM_BENCH_DEBIAN_RUNS, default 3, 0 to skip) against
#     the initramfs image's figure.
# The reference for the times is the bare VM: `agentgw vm-run -e true` on the
# same image (QEMU, guest boot and one exec; no tap, gateway or 9P; its own
# "first exec done N ms after start", i.e. from QEMU's start); memory
# rows are shown against the sandbox total. Accelerator: KVM when /dev/kvm
# is usable, TCG otherwise (named in the row).
set -u
cd "$(dirname "$0")/../.." || exit 1
N=${VM_BENCH_RUNS:-5}
. tests/bench/lib.sh
. tests/lib/e2e.sh
e2e_require

e2e_netns bvm
e2e_policy bench-vm
# nsenter, not ip netns exec: that mounts a fresh sysfs without /sys/fs/cgroup,
# and the sandbox's cgroup is part of what is measured.
agw() { nsenter --net=/run/netns/"$ns" timeout 120 "$AGENTGW" "$@"; }
ms() { date +%s%3N; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
for f in up first down sup net fs runner qemu total; do : >"$tmp/$f"; done
img=
accel='?'
for ((i = 1; i <= N; i++)); do
	name=bv$$-$i
	t0=$(ms)
	agw up -d --policy "$tmp/p.yaml" --name "$name" >/dev/null 2>"$tmp/up.err" ||
		{ echo "  up -d failed: $(tail -3 "$tmp/up.err")"; continue; }
	t1=$(ms)
	agw exec "$name" -- true </dev/null || echo "  exec failed"
	t2=$(ms)
	echo $((t1 - t0)) >>"$tmp/up"
	echo $((t2 - t0)) >>"$tmp/first"
	sleep 2
	sup=$(cat "$AGENTGW_RUN_DIR/$name/pid" 2>/dev/null)
	qemu=$(pgrep -x -P "$(pgrep -d, -P "$sup")" qemu-system-x86 | head -n1)
	runner=$(ps -o ppid= -p "$qemu" 2>/dev/null | tr -d ' ')
	net=$(ip netns exec "$ns" ss -Hlunp 'sport = :53' | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)
	fs=$(ip netns exec "$ns" ss -Hltnp 'sport = :564' | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1)
	accel=$(agw ps 2>/dev/null | awk -v n="$name" '$1 == n { for (i = 1; i <= NF; i++) if ($i == "tcg" || $i == "kvm") print $i }')
	[ -z "$img" ] && img=$(tr '\0' '\n' <"/proc/$qemu/cmdline" | sed -n 's|/vmlinux$||p' | head -n1)
	tot=0
	for r in sup net fs runner qemu; do
		v=$(rss "${!r:-0}")
		echo "${v:-0}" >>"$tmp/$r"
		tot=$((tot + ${v:-0}))
	done
	echo "$tot" >>"$tmp/total"
	t3=$(ms)
	agw down "$name" >/dev/null 2>&1 || echo "  down failed"
	echo $(($(ms) - t3)) >>"$tmp/down"
	echo "  run $i: up -d $((t1 - t0)) ms, first exec $((t2 - t0)) ms, rss total $tot kB (pids: supervisor $sup, net $net, fs $fs, runner $runner, qemu $qemu)"
done

# The jail's cost: the same sandboxes with QEMU unjailed (AGENTGW_NO_JAIL=1,
# which exists for this comparison) and no cgroup around them.
: >"$tmp/first_nojail"
: >"$tmp/qemu_nojail"
for ((i = 1; i <= N; i++)); do
	name=bn$$-$i
	t0=$(ms)
	AGENTGW_NO_JAIL=1 ip netns exec "$ns" timeout 120 "$AGENTGW" up -d --policy "$tmp/p.yaml" --name "$name" >/dev/null 2>&1 ||
		{ echo "  unjailed up -d failed"; continue; }
	agw exec "$name" -- true </dev/null || echo "  exec failed"
	echo $(($(ms) - t0)) >>"$tmp/first_nojail"
	sleep 2
	qemu=$(pgrep -f "qemu-system.*$AGENTGW_RUN_DIR/$name/vm/" | head -n1)
	rss "${qemu:-0}" >>"$tmp/qemu_nojail"
	agw down "$name" >/dev/null 2>&1
done

# the bare VM on the same image: QEMU + guest + one exec, no sandbox around it
: >"$tmp/bare"
: >"$tmp/bare_rss"
if [ -n "$img" ]; then
	for ((i = 1; i <= N; i++)); do
		"$AGENTGW" vm-run -v --image "$img" --state-dir "$tmp/st" -e true >/dev/null 2>"$tmp/vr.log" ||
			{ tail -3 "$tmp/vr.log"; continue; }
		sed -n 's/.*first exec done \([0-9]*\) ms.*/\1/p' "$tmp/vr.log" >>"$tmp/bare"
		sed -n 's/.*qemu rss \([0-9]*\) kB.*/\1/p' "$tmp/vr.log" >>"$tmp/bare_rss"
	done
fi
bare=$(median <"$tmp/bare")
row="sandbox ($accel)"
printf '  %-28s %8s ms   (bare VM, vm-run, QEMU start to first exec: %s ms)\n' "up -d returns" "$(median <"$tmp/up")" "$bare"
printf '  %-28s %8s ms\n' "up -d to first exec" "$(median <"$tmp/first")" "down" "$(median <"$tmp/down")"
bench_row vm "$row" "up -d to first exec" ms "$(median <"$tmp/first")" "bare VM (vm-run)" "$bare"
bench_row vm "$row" "up -d returns (guest ready)" ms "$(median <"$tmp/up")" "bare VM (vm-run)" "$bare"
bench_row vm "$row" "down" ms "$(median <"$tmp/down")"
bench_row vm "$row" "up -d to first exec, QEMU jailed + cgroup" ms "$(median <"$tmp/first")" "QEMU unjailed" "$(median <"$tmp/first_nojail")"
bench_row vm "$row" "RSS QEMU, jailed" kB "$(median <"$tmp/qemu")" "QEMU unjailed" "$(median <"$tmp/qemu_nojail")"
printf '  %-28s %8s ms   (QEMU unjailed, no cgroup: %s ms)\n' "jail's cost: first exec" "$(median <"$tmp/first")" "$(median <"$tmp/first_nojail")"
total=$(median <"$tmp/total")
for r in sup net fs runner qemu total; do
	case $r in
	sup) m="RSS supervisor" ;; net) m="RSS net child" ;; fs) m="RSS fs child" ;;
	runner) m="RSS QEMU runner" ;; qemu) m="RSS QEMU" ;; total) m="RSS idle sandbox total" ;;
	esac
	printf '  %-28s %8s kB\n' "$m" "$(median <"$tmp/$r")"
	bench_row vm "$row" "$m" kB "$(median <"$tmp/$r")" "sandbox total" "$total"
done
printf '  %-28s %8s kB   (QEMU of the bare VM after its exec)\n' "bare vm-run QEMU RSS" "$(median <"$tmp/bare_rss")"

# The Debian image: same policy and resources, its root disk and a fresh
# writable disk per run.
ND=${VM_BENCH_DEBIAN_RUNS:-3}
if [ "$ND" -gt 0 ] && command -v mmdebstrap >/dev/null; then
	e2e_debian_image "$tmp" >/dev/null
	sed 's/^name: bench-vm$/name: bench-vm-debian\nsandbox: { image: e2e-debian, disk: 1G }/' "$tmp/p.yaml" >"$tmp/pd.yaml"
	: >"$tmp/dup"
	: >"$tmp/dfirst"
	for ((i = 1; i <= ND; i++)); do
		name=bd$$-$i
		t0=$(ms)
		agw up -d --policy "$tmp/pd.yaml" --name "$name" >/dev/null 2>"$tmp/up.err" ||
			{ echo "  debian up -d failed: $(tail -3 "$tmp/up.err")"; continue; }
		t1=$(ms)
		agw exec "$name" -- true </dev/null || echo "  debian exec failed"
		t2=$(ms)
		echo $((t1 - t0)) >>"$tmp/dup"
		echo $((t2 - t0)) >>"$tmp/dfirst"
		agw down --rm "$name" >/dev/null 2>&1 || echo "  debian down failed"
		echo "  debian run $i: up -d $((t1 - t0)) ms, first exec $((t2 - t0)) ms"
	done
	printf '  %-28s %8s ms   (initramfs image: %s ms)\n' "Debian image: to first exec" "$(median <"$tmp/dfirst")" "$(median <"$tmp/first")"
	bench_row vm "$row" "up -d to first exec, Debian image" ms "$(median <"$tmp/dfirst")" "initramfs image" "$(median <"$tmp/first")"
	bench_row vm "$row" "up -d returns, Debian image" ms "$(median <"$tmp/dup")" "initramfs image" "$(median <"$tmp/up")"
fi
