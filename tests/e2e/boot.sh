#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Boots the real guest image in a QEMU microvm (TCG when there is no KVM)
# with `agentgw vm-run` and checks what a user would: commands run through
# the control protocol with their output, stdin, stderr, exit status and
# signals; a PTY works; the modules and the control port are there; the
# guest powers off cleanly and no QEMU process is left. Builds the image
# first (the first build downloads the Debian kernel, ~70 MB).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed"; exit 77; }
[ -x "$AGENTGW" ] || { echo "FAIL: $AGENTGW not built"; exit 1; }
if [ ! -x "$(dirname "$AGENTGW")/guest/agentgw-init" ]; then
	make -s BUILD="$BUILD" guest || { echo "FAIL: cannot build agentgw-init"; exit 1; }
fi

tmp=$(mktemp -d /tmp/agentgw-boot.XXXXXX)
state="$tmp/state"
no_qemu() { ! pgrep -f "path=$state/ctl.sock" >/dev/null; }
cleanup() {
	local p
	for p in $(pgrep -f "path=$state/ctl.sock"); do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
check() { # description, command...
	local what=$1
	shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fails=$((fails + 1)); fi
}

t0=$(date +%s.%N)
img=$("$AGENTGW" image build --add curl openssl dig nc) || { echo "FAIL: image build"; exit 1; }
echo "image: $img ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s)"
vmrun() { "$AGENTGW" vm-run --image "$img" --state-dir "$state" --mem 256 "$@"; }

# 1. Output and exit status, several execs in one boot, guest facts.
vmrun -v -e 'echo hello; exit 3' \
	-e 'grep -c . /proc/modules; cat /sys/class/virtio-ports/*/name; ls -d /workspace; uname -r' \
	-e 'echo to-stderr >&2; echo to-stdout' >"$tmp/out1" 2>"$tmp/err1"
rc=$?
cat "$tmp/err1"
check "last exec's exit status is returned (0)" [ "$rc" = 0 ]
check "first exec printed hello" grep -qx hello "$tmp/out1"
check "first exec exited 3" grep -q "exit 3 signal 0" "$tmp/err1"
check "fourteen modules loaded (fuse and virtiofs too)" grep -qx 14 "$tmp/out1"
check "control port named agentgw.ctl" grep -qx agentgw.ctl "$tmp/out1"
check "/workspace exists" grep -qx /workspace "$tmp/out1"
check "Debian kernel runs" grep -qx '6\..*-amd64' "$tmp/out1"
check "stdout and stderr stay apart" sh -c "grep -qx to-stdout '$tmp/out1' && grep -qx to-stderr '$tmp/err1' && ! grep -q to-stderr '$tmp/out1'"
check "guest powered off by itself" grep -q "powered off" "$tmp/err1"
check "tcg or kvm reported" grep -Eq "accelerator (tcg|kvm)" "$tmp/err1"
check "no QEMU left after power-off" no_qemu
grep -E "guest ready|first exec|rss" "$tmp/err1" | sed 's/^/measured: /'

# 2. Exit status, stdin, signals, a missing program, a PTY, concurrent execs.
vmrun -e 'exit 3' >/dev/null 2>&1
check "exit status 3 comes back" [ $? = 3 ]
printf 'line one\nline two\n' | vmrun -i -- sh -c 'wc -l; cat >/dev/null' >"$tmp/out2"
check "stdin reaches the command and EOF ends it" grep -qx 2 "$tmp/out2"
vmrun -- sh -c 'kill -TERM $$' >/dev/null 2>&1
check "death by SIGTERM is 143" [ $? = 143 ]
vmrun -- /no/such/program >/dev/null 2>"$tmp/err3"
rc=$?
check "a missing program is 127 with a message" sh -c "[ $rc = 127 ] && grep -q 'No such file' '$tmp/err3'"
vmrun -t -- sh -c 'tty; stty size' >"$tmp/out4" 2>&1
check "PTY: a terminal of 24x80" sh -c "grep -q '^/dev/pts/' '$tmp/out4' && grep -q '^24 80' '$tmp/out4'"
vmrun -P -e 'sleep 2; echo slow; exit 2' -e 'echo fast; exit 4' >"$tmp/out5" 2>/dev/null
rc=$?
check "two execs at once: the fast one finishes first" sh -c "[ \"\$(tr '\n' ' ' <'$tmp/out5')\" = 'fast slow ' ]"
check "two execs at once: highest status (4) returned" [ "$rc" = 4 ]
check "no QEMU left" no_qemu

if [ "$fails" != 0 ]; then
	echo "$fails checks failed"
	[ -f "$state/console.log" ] && tail -n 30 "$state/console.log"
	exit 1
fi
echo "all checks passed"
