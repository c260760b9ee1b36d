# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the e2e tests (and the microvm benchmark): what they need before
# a sandbox can boot, the guest image with the test programs pinned in a
# private image dir, and the ok/FAIL check helpers.
#
# Usage (from the repository root):
#   . tests/lib/e2e.sh
#   e2e_require sqlite3 curl        # SKIP (exit 77) without root, QEMU or a tool
#   e2e_image "$tmp"                # build the image, export AGENTGW_IMAGE_DIR
#   e2e_netns up                    # or all at once: $tmp, $ns, run dir, image
#   e2e_policy e2e-x [enforce]      # $tmp/p.yaml: allowed.test, $tmp/ws readable
#   check "what" COMMAND...; ok "what"; bad "what"
#   e2e_finish                      # "all checks passed" or exit 1
#
#   e2e_debian_image DIR            # the shared Debian test image as DIR/images/names/e2e-debian
#
# Sets BUILD, AGENTGW and fails (count of failed checks).

BUILD=${BUILD:-build}
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
E2E_IMAGE_ADD=(curl openssl dig nc)
fails=0

e2e_require() {
	local t
	[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, tap, nftables)"; exit 77; }
	for t in qemu-system-x86_64 "$@"; do
		command -v "$t" >/dev/null || { echo "SKIP: $t not installed (run scripts/deps.sh)"; exit 77; }
	done
	[ -x "$AGENTGW" ] || make -s BUILD="$BUILD" "$BUILD/agentgw" || exit 1
	[ -x "$(dirname "$AGENTGW")/guest/agentgw-init" ] || make -s BUILD="$BUILD" guest || exit 1
}

# e2e_image DIR: builds (or finds) the image with the test programs and
# points DIR/images/current at it, so an image build elsewhere meanwhile
# cannot swap the image under this test. Sets E2E_IMAGE.
e2e_image() {
	E2E_IMAGE=$("$AGENTGW" image build --add "${E2E_IMAGE_ADD[@]}" 2>/dev/null) && [ -d "$E2E_IMAGE" ] ||
		{ echo "FAIL: image build"; exit 1; }
	mkdir -p "$1/images"
	ln -sfn "$E2E_IMAGE" "$1/images/current"
	export AGENTGW_IMAGE_DIR=$1/images
}

# e2e_debian_image DIR: builds (once: the root disk is cached by its
# inputs in the shared image cache, build/images or
# $AGENTGW_SHARED_IMAGE_DIR) the Debian image the rootfs tests share and
# names it e2e-debian in DIR/images, the test's private cache. Sets
# E2E_DEBIAN (its folder); prints the build's progress and time.
E2E_DEBIAN_PACKAGES=nodejs,npm,git,python3,python3-pip,bash,ca-certificates
e2e_debian_image() {
	local t0 t1 rc
	t0=$(date +%s.%N)
	E2E_DEBIAN=$(AGENTGW_IMAGE_DIR=${AGENTGW_SHARED_IMAGE_DIR:-} "$AGENTGW" image build --name e2e-debian \
		--distro debian --packages "$E2E_DEBIAN_PACKAGES" 2>"$1/debian-build.err")
	rc=$?
	t1=$(date +%s.%N)
	grep '^image:' "$1/debian-build.err"
	[ "$rc" = 0 ] && [ -f "$E2E_DEBIAN/rootfs.ext4" ] ||
		{ cat "$1/debian-build.err"; echo "FAIL: debian image build"; exit 1; }
	echo "time: debian image build (or cache hit) $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
	mkdir -p "$1/images/names"
	ln -sfn "$E2E_DEBIAN" "$1/images/names/e2e-debian"
}

# e2e_netns TAG: a private temp dir ($tmp) with the run dir
# (AGENTGW_RUN_DIR) and the pinned image, and an empty network namespace
# ($ns, lo up) for the sandbox's tap; on exit every process left in the
# namespace is killed and both are removed.
e2e_netns() {
	ns=agw$1$$
	tmp=$(mktemp -d "/tmp/agentgw-$1.XXXXXX")
	export AGENTGW_RUN_DIR=$tmp/run
	trap e2e_cleanup EXIT
	e2e_image "$tmp"
	ip netns add "$ns" && ip -n "$ns" link set lo up || { echo "FAIL: cannot make netns $ns"; exit 1; }
}

e2e_cleanup() {
	local p
	for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	# QEMU runs in a network namespace of its own (vmctl/jail.h): find it by its state dir.
	pkill -9 -f -- "$tmp/run/" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}

# e2e_policy NAME [MODE]: writes $tmp/p.yaml, the policy the e2e tests and
# the microvm benchmark share: the network allows allowed.test, the workspace
# is $tmp/ws (made here) and all of it is readable, the audit database is
# $tmp/audit.db. MODE (e.g. enforce) adds a `mode:` line.
e2e_policy() {
	mkdir -p "$tmp/ws"
	{
		printf 'version: 1\nname: %s\n' "$1"
		[ -n "${2:-}" ] && printf 'mode: %s\n' "$2"
		cat <<'YAML'
network:
  allow:
    - allowed.test
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
audit:
  database: audit.db
YAML
	} >"$tmp/p.yaml"
}

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # description, command...
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

e2e_finish() {
	[ "$fails" = 0 ] || { echo "$fails checks failed"; exit 1; }
	echo "all checks passed"
}
