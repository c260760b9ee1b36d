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
# One sandbox on the shared topology (tests/lib/topo.sh, sourced after this):
#   e2e_topo_sandbox dn             # topo_up, NAME, S, WS, DB, run dir, image; EXIT: down, topo_down
#   e2e_on_exit() { ...; }          # optional: the test's own clean-up, run first on exit
#   e2e_up --workspace "$WS"        # `up -d --policy $S/p.yaml` in $NS_GW; UP=1, or exit 1
#   e2e_sql QUERY; e2e_audit "what" WHERE   # the audit database $DB
#   e2e_finish "$S/supervisor.log"  # with failures, that log's tail first
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

# e2e_finish [LOG]: "all checks passed", or with failed checks the last 40
# lines of LOG (when given), the count, and exit 1.
e2e_finish() {
	if [ "$fails" != 0 ]; then
		if [ -n "${1:-}" ]; then
			echo "--- $(basename "$1") (tail)"
			tail -n 40 "$1" 2>/dev/null
		fi
		echo "$fails checks failed"
		exit 1
	fi
	echo "all checks passed"
}

# e2e_topo_sandbox PREFIX: the head of a test of one sandbox on the shared
# topology (source tests/lib/topo.sh first): topo_up (SKIPs without root),
# the sandbox's name NAME=PREFIX$TOPO_ID (cut to 12 characters), UP=0, its
# folder S=$TOPO_DIR/sbx with the workspace WS=$S/ws (made here), the run
# dir AGENTGW_RUN_DIR=$S/run (exported) and the pinned image (e2e_image),
# and DB=$S/audit.db for the policy's `audit: { database: audit.db }`. The
# EXIT trap is e2e_topo_cleanup; INT, TERM and HUP exit 1 (through it).
e2e_topo_sandbox() {
	NAME=$1$TOPO_ID
	NAME=${NAME:0:12}
	UP=0
	topo_up
	trap e2e_topo_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	S=$TOPO_DIR/sbx
	WS=$S/ws
	DB=$S/audit.db
	export AGENTGW_RUN_DIR=$S/run
	mkdir -p "$WS" "$AGENTGW_RUN_DIR"
	e2e_image "$S"
}

# e2e_topo_cleanup: the EXIT trap of e2e_topo_sandbox: the test's own
# e2e_on_exit when it defines one, `agentgw down $E2E_DOWN_FLAGS NAME` in
# $NS_GW while UP=1 (E2E_DOWN_FLAGS: e.g. --rm), then topo_down.
e2e_topo_cleanup() {
	declare -F e2e_on_exit >/dev/null && e2e_on_exit
	if [ "${UP:-0}" = 1 ]; then
		# shellcheck disable=SC2086 # E2E_DOWN_FLAGS is a list of flags
		ip netns exec "$NS_GW" timeout 60 "$AGENTGW" down ${E2E_DOWN_FLAGS:-} "$NAME" >/dev/null 2>&1
	fi
	topo_down
}

# e2e_up [FLAG...]: `agentgw up -d --policy $S/p.yaml --name $NAME FLAG...`
# in $NS_GW (cut off after 120 s), stderr in $S/up.err. When it prints the
# name: UP=1, E2E_UP_MS (the milliseconds to ready) and ok. Else bad, the
# errors, and exit 1 (the EXIT trap cleans up).
e2e_up() {
	local out rc t0
	t0=$(date +%s%3N)
	out=$(ip netns exec "$NS_GW" timeout 120 "$AGENTGW" up -d --policy "$S/p.yaml" --name "$NAME" "$@" \
		2>"$S/up.err")
	rc=$?
	E2E_UP_MS=$(($(date +%s%3N) - t0))
	if [ "$rc" = 0 ] && [ "$out" = "$NAME" ]; then
		UP=1
		ok "up -d ready in $E2E_UP_MS ms"
		return 0
	fi
	bad "up -d failed (exit $rc, output '$out')"
	cat "$S/up.err"
	exit 1
}

# e2e_sql QUERY: the result of QUERY on the audit database $DB, waiting up
# to 3 s for the writer's lock (nothing on error).
e2e_sql() { sqlite3 -cmd '.timeout 3000' "$DB" "$1" 2>/dev/null; }

# e2e_audit DESCRIPTION WHERE: polls $DB up to E2E_AUDIT_WAIT seconds
# (default 5) for an event row matching WHERE: ok "audit: DESCRIPTION", else
# bad with the latest 6 rows, and returns 1.
e2e_audit() {
	local n
	for _ in $(seq $((${E2E_AUDIT_WAIT:-5} * 20))); do
		n=$(e2e_sql "SELECT count(*) FROM event WHERE $2")
		[ "${n:-0}" -ge 1 ] 2>/dev/null && { ok "audit: $1"; return 0; }
		sleep 0.05
	done
	bad "audit: $1 (no row where $2)"
	e2e_sql "SELECT kind,op,target,decision,rule,reason FROM event ORDER BY id DESC LIMIT 6" | sed 's/^/     /'
	return 1
}
