#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Microvm figures (printed, never asserted): guest image build time (warm
# cache), time from start to the guest's HELLO and to the first exec's exit,
# power-off time and QEMU's resident memory, as the median of N boots
# (default 5) with `agentgw vm-run` (no network). Accelerator: KVM when
# /dev/kvm is usable, TCG otherwise.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
N=${VM_BENCH_RUNS:-5}
. tests/bench/lib.sh
command -v qemu-system-x86_64 >/dev/null || { echo "skipped: no qemu-system-x86_64"; exit 0; }
[ -x "$(dirname "$AGENTGW")/guest/agentgw-init" ] || make -s BUILD="$BUILD" guest || exit 1
tmp=$(mktemp -d /tmp/agentgw-vmbench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT


for set in "minimal:" "test-clients:curl openssl dig nc"; do
	name=${set%%:*}
	add=${set#*:}
	s=$(date +%s%N)
	# shellcheck disable=SC2086
	img=$("$AGENTGW" image build ${add:+--add $add} 2>/dev/null) || { echo "image build failed"; exit 1; }
	build_ms=$((($(date +%s%N) - s) / 1000000))
	size=$(du -m "$img/initramfs.cpio" | cut -f1)
	: >"$tmp/ready" ; : >"$tmp/first" ; : >"$tmp/rss" ; : >"$tmp/off"
	for i in $(seq "$N"); do
		"$AGENTGW" vm-run -v --image "$img" --state-dir "$tmp/st" -e true 2>"$tmp/log" >/dev/null || { cat "$tmp/log"; continue; }
		accel=$(sed -n 's/.*accelerator \([a-z]*\);.*/\1/p' "$tmp/log")
		sed -n 's/.*guest ready in \([0-9]*\) ms.*/\1/p' "$tmp/log" >>"$tmp/ready"
		sed -n 's/.*first exec done \([0-9]*\) ms.*/\1/p' "$tmp/log" >>"$tmp/first"
		sed -n 's/.*qemu rss \([0-9]*\) kB.*/\1/p' "$tmp/log" >>"$tmp/rss"
		sed -n 's/.*powered off in \([0-9]*\) ms.*/\1/p' "$tmp/log" >>"$tmp/off"
	done
	printf '%-14s accel %-4s initramfs %4s MB  warm image check %5d ms  ready %5s ms  first exec %5s ms  power-off %4s ms  qemu rss %6s kB  (median of %d)\n' \
		"$name" "${accel:-?}" "$size" "$build_ms" "$(median <"$tmp/ready")" "$(median <"$tmp/first")" \
		"$(median <"$tmp/off")" "$(median <"$tmp/rss")" "$N"
	bench_row vm "$name (${accel:-?})" "start to guest ready" ms "$(median <"$tmp/ready")"
	bench_row vm "$name (${accel:-?})" "start to first exec done" ms "$(median <"$tmp/first")"
	bench_row vm "$name (${accel:-?})" "QEMU resident memory" kB "$(median <"$tmp/rss")"
done
