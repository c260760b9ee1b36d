#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `agentgw doctor`: every check prints one line (ok|warn|FAIL) and a fix
# when not ok; the exit code is 1 exactly when a line says FAIL; --json gives
# one object per check that jq parses and that agrees with the text; the
# results agree with what this script finds on the machine itself (root,
# /dev/kvm, QEMU's version); it fails the checks it should when QEMU is not
# in PATH, the image cache is empty, or it runs as an unprivileged user; and
# it leaves the host's nftables ruleset exactly as it was.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
[ -x "$AGENTGW" ] || { echo "FAIL: $AGENTGW not built (make check-build)"; exit 1; }
command -v jq >/dev/null || { echo "SKIP: jq not installed (scripts/deps.sh)"; exit 77; }
CHECKS="root kvm tun nftables nflog openat2 qemu image audit-db state-dir cgroups"
dir=$(mktemp -d /tmp/agw-doctor-XXXXXX)
export AGENTGW_STATE_DIR=$dir/state # doctor probes a KVM boot here when /dev/kvm works
trap 'rm -rf "$dir"' EXIT
fails=0
check() { # description, command...
	local what=$1
	shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
# status NAME FILE: the status word of check NAME in a text report.
status() { sed -nE "s/^  (ok|warn|FAIL) +$1 .*/\1/p" "$2"; }
jstatus() { jq -r --arg c "$1" 'select(.check == $c) | .status' "$2"; }

ruleset_before=
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null; then
	ruleset_before=$(nft list ruleset | sha256sum)
fi

# --- the report on this machine, as it is
"$AGENTGW" doctor >"$dir/text" 2>"$dir/err"
rc=$?
cat "$dir/text"
check "exit code is 0 or 1 (got $rc)" test "$rc" = 0 -o "$rc" = 1
for c in $CHECKS; do
	check "one '$c' line with ok|warn|FAIL" test "$(grep -cE "^  (ok|warn|FAIL) +$c " "$dir/text")" = 1
done
nfail=$(grep -cE '^  FAIL ' "$dir/text")
check "exit 1 exactly when a line says FAIL ($nfail FAIL, exit $rc)" \
	test "$([ "$nfail" -gt 0 ] && echo 1 || echo 0)" = "$rc"
nnotok=$(grep -cE '^  (warn|FAIL) ' "$dir/text")
check "a fix under each of the $nnotok warn/FAIL lines" \
	test "$(grep -cE '^ +fix: .+' "$dir/text")" = "$nnotok"
check "summary line counts the lines" \
	grep -qE "^$(grep -cE '^  ok ' "$dir/text") ok, $(grep -cE '^  warn ' "$dir/text") warn, $nfail FAIL" "$dir/text"
check "nothing on stderr" test ! -s "$dir/err"

# --- the results match the machine
if [ "$(id -u)" = 0 ]; then want=ok; else want=FAIL; fi
check "root is $want for uid $(id -u)" test "$(status root "$dir/text")" = "$want"
# KVM is usable when /dev/kvm opens read-write and KVM_GET_API_VERSION is 12.
want=
if [ ! -e /dev/kvm ]; then
	want=warn
elif command -v python3 >/dev/null; then
	if python3 -c 'import fcntl, os; fd = os.open("/dev/kvm", os.O_RDWR); exit(fcntl.ioctl(fd, 0xAE00) != 12)' 2>/dev/null; then
		want=ok
	else
		want=warn
	fi
fi
if [ "$want" = ok ]; then
	# /dev/kvm works, but only a boot shows whether it runs the guest: the
	# line must agree with the probe's verdict (cached in the state dir).
	verdict=$(sed -n 's/^verdict=\([a-z]*\).*/\1/p' "$AGENTGW_STATE_DIR/accel-probe" 2>/dev/null)
	case $verdict in
	kvm) check "kvm ok: the probe booted the guest under KVM" grep -qE '^  ok +kvm +KVM boots the guest' "$dir/text" ;;
	tcg) check "kvm warn: /dev/kvm opens but the probe boot failed" \
		grep -qE '^  warn +kvm +/dev/kvm opens but cannot boot the guest .*TCG' "$dir/text" ;;
	*) check "kvm warn: nothing to probe with (no image or not root)" grep -qE '^  warn +kvm .*probe' "$dir/text" ;;
	esac
elif [ -n "$want" ]; then
	check "kvm is $want (/dev/kvm $([ -e /dev/kvm ] || echo "absent")$([ -e /dev/kvm ] && echo "present"))" \
		test "$(status kvm "$dir/text")" = "$want"
fi
if [ "$want" = warn ]; then
	check "kvm line names TCG" grep -qE '^  warn +kvm .*TCG' "$dir/text"
fi
if command -v qemu-system-x86_64 >/dev/null; then
	qv=$(qemu-system-x86_64 --version | sed -nE 's/.*version ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' | head -n1)
	check "qemu line reports version $qv" grep -qE "^  (ok|warn) +qemu +QEMU $qv " "$dir/text"
else
	check "qemu is FAIL without qemu-system-x86_64" test "$(status qemu "$dir/text")" = FAIL
fi
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null; then
	check "nftables ok as root (nft is installed)" test "$(status nftables "$dir/text")" = ok
fi

# --- --json: one object per check, same answers
"$AGENTGW" doctor --json >"$dir/json" 2>/dev/null
jrc=$?
check "--json exits like the text report ($jrc)" test "$jrc" = "$rc"
check "--json parses with jq" sh -c "jq -e . '$dir/json' >/dev/null"
check "--json has one object per check" \
	test "$(jq -r .check "$dir/json" | tr '\n' ' ')" = "$CHECKS "
check "--json statuses are ok|warn|FAIL" \
	test "$(jq -r 'select(.status != "ok" and .status != "warn" and .status != "FAIL") | .check' "$dir/json")" = ""
check "--json fix is null exactly when ok" \
	test "$(jq -r 'select((.status == "ok") != (.fix == null)) | .check' "$dir/json")" = ""
check "--json messages are not empty" \
	test "$(jq -r 'select((.message | length) == 0) | .check' "$dir/json")" = ""
for c in $CHECKS; do
	check "--json $c agrees with the text" test "$(jstatus "$c" "$dir/json")" = "$(status "$c" "$dir/text")"
done

# --- made to fail: no QEMU in PATH, an empty image cache
mkdir -p "$dir/empty"
env PATH=/nonexistent AGENTGW_IMAGE_DIR="$dir/empty" "$AGENTGW" doctor >"$dir/broken" 2>&1
brc=$?
check "exit 1 without QEMU and image" test "$brc" = 1
check "qemu FAIL without QEMU in PATH" test "$(status qemu "$dir/broken")" = FAIL
check "qemu fix says apt-get install qemu-system-x86" \
	sh -c "grep -A1 -E '^  FAIL +qemu ' '$dir/broken' | grep -q 'fix: apt-get install qemu-system-x86'"
check "image FAIL with an empty cache" test "$(status image "$dir/broken")" = FAIL
check "image FAIL names the cache folder" grep -qE "^  FAIL +image .*$dir/empty" "$dir/broken"
check "image fix says agentgw image build" \
	sh -c "grep -A1 -E '^  FAIL +image ' '$dir/broken' | grep -qE 'fix: .*agentgw image build'"

# --- made to fail: an image whose kernel is not a PVH-bootable ELF
mkdir -p "$dir/fake/img1"
ln -s img1 "$dir/fake/current"
head -c 4096 /dev/urandom >"$dir/fake/img1/vmlinux"
: >"$dir/fake/img1/initramfs.cpio"
env AGENTGW_IMAGE_DIR="$dir/fake" "$AGENTGW" doctor >"$dir/badimg" 2>&1
check "image FAIL for a kernel that is not an ELF with a PVH note" \
	grep -qE "^  FAIL +image .*$dir/fake/img1/vmlinux is not an ELF kernel with a PVH entry" "$dir/badimg"
check "bad image fix says agentgw image build --force" \
	sh -c "grep -A1 -E '^  FAIL +image ' '$dir/badimg' | grep -q 'fix: agentgw image build --force'"

# --- made to fail: an unprivileged user (when root, drop to nobody)
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	cp "$AGENTGW" "$dir/agentgw"
	chmod 755 "$dir" "$dir/agentgw"
	mkdir -m 755 "$dir/ro"
	(cd / && setpriv --reuid=65534 --regid=65534 --clear-groups \
		env HOME=/nonexistent XDG_STATE_HOME="$dir/ro/state" "$dir/agentgw" doctor) \
		>"$dir/user" 2>&1
	urc=$?
	check "exit 1 as nobody" test "$urc" = 1
	check "root FAIL as nobody, fix says sudo" \
		sh -c "grep -A1 -E '^  FAIL +root ' '$dir/user' | grep -q 'fix: run with sudo'"
	check "audit-db FAIL when its folder cannot be created" \
		test "$(status audit-db "$dir/user")" = FAIL
	check "audit-db FAIL names the folder" grep -qE "^  FAIL +audit-db .*$dir/ro/state/agentgw" "$dir/user"
else
	echo "note: not root; the unprivileged run above already covers it"
fi

# --- usage
"$AGENTGW" doctor --help >"$dir/help" 2>&1
check "--help exits 0" test $? = 0
check "--help mentions --json" grep -q -- --json "$dir/help"
"$AGENTGW" doctor --bogus >/dev/null 2>&1
check "unknown option exits 2" test $? = 2
check "agentgw --help lists doctor" sh -c "'$AGENTGW' --help | grep -qE '^  doctor '"

if [ -n "$ruleset_before" ]; then
	check "host nftables ruleset unchanged" test "$(nft list ruleset | sha256sum)" = "$ruleset_before"
	check "no agentgw_doctor table on the host" sh -c "! nft list tables | grep -q agentgw_doctor"
fi

[ "$fails" = 0 ] || { echo "$fails checks failed"; exit 1; }
echo "all doctor checks passed"
