#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Images with a real root filesystem, end to end: a Debian bookworm image
# (mmdebstrap, nodejs npm git python3 bash) booted with the policy's
# sandbox section (vcpus 2, memory 2G, image); as uid 1000 (agent) nproc is
# 2, MemTotal >= 1.8 GiB, node and python3 (ssl, sqlite3) run; exec -e,
# --env-file, -w and --user root; a file in /home/agent survives down/up
# of the same name, a second sandbox of the image does not see it, rm
# deletes it; an unknown image fails before anything starts.
#
# The image is built once into the shared image cache (e2e_debian_image:
# build/images, or $AGENTGW_SHARED_IMAGE_DIR) and reused by later runs, the
# other rootfs tests and the sanitizer pass: its root disk is cached by its
# inputs only. Prints the timings.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 mmdebstrap mkfs.ext4

e2e_netns rootfs
e2e_debian_image "$tmp"
shared=$E2E_DEBIAN
ln -s "$shared" "$tmp/images/names/e2e-other"
"$AGENTGW" image ls >"$tmp/ls"
cat "$tmp/ls"
check "image ls lists the image with its packages" grep -Eq "^e2e-debian +rootfs .*nodejs,npm,git,python3" "$tmp/ls"
"$AGENTGW" image rm e2e-other
check "image rm removes the name, keeps the files" sh -c "[ ! -e '$tmp/images/names/e2e-other' ] && [ -f '$shared/rootfs.ext4' ]"

mkdir -p "$tmp/ws"
echo hello-ws >"$tmp/ws/readme.txt"
# The fs child serves the workspace as its owner and the guest sees the
# host's uids: a workspace of host uid 1000 is the agent's own.
chown -R 1000:1000 "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-rootfs
sandbox: { vcpus: 2, memory: 2G, image: e2e-debian, disk: 1G }
network:
  allow: [allowed.test]
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML
A() { ip netns exec "$ns" "$AGENTGW" "$@"; }
X() { timeout 120 "$AGENTGW" exec "$@"; }

# An unknown image is an error before anything starts.
sed 's/image: e2e-debian/image: no-such-image/' "$tmp/p.yaml" >"$tmp/bad.yaml"
A up -d --policy "$tmp/bad.yaml" --name deb0 >/dev/null 2>"$tmp/bad.err"
check "unknown image: up fails" [ $? != 0 ]
check "unknown image: the error names it" grep -q "no image 'no-such-image'" "$tmp/bad.err"
check "unknown image: no sandbox state left" [ ! -e "$AGENTGW_RUN_DIR/deb0" ]
A up -d --policy "$tmp/p.yaml" --image nope2 --name deb0 >/dev/null 2>"$tmp/bad.err"
check "up --image overrides the policy" grep -q "no image 'nope2'" "$tmp/bad.err"

t0=$(date +%s.%N)
timeout 300 ip netns exec "$ns" "$AGENTGW" up -d -v --policy "$tmp/p.yaml" --name deb1 >/dev/null 2>"$tmp/up1.err"
rc=$?
t1=$(date +%s.%N)
check "up -d of the debian image" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { cat "$tmp/up1.err"; e2e_finish; }
echo "time: up -d to ready $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s (boot_ms $(grep -h '^boot_ms' "$AGENTGW_RUN_DIR/deb1/info" 2>/dev/null))"

X deb1 -- sh -c 'id -u; id -un; nproc; awk "/MemTotal/{print \$2}" /proc/meminfo; echo "$HOME"' >"$tmp/o1" 2>&1
cat "$tmp/o1"
check "runs as uid 1000 by default" [ "$(sed -n 1p "$tmp/o1")" = 1000 ]
check "user is agent" [ "$(sed -n 2p "$tmp/o1")" = agent ]
check "nproc is 2 (sandbox.vcpus)" [ "$(sed -n 3p "$tmp/o1")" = 2 ]
check "MemTotal >= 1.8 GiB (sandbox.memory 2G)" [ "$(sed -n 4p "$tmp/o1")" -ge 1887436 ]
check "HOME is /home/agent" [ "$(sed -n 5p "$tmp/o1")" = /home/agent ]
t0=$(date +%s.%N)
check "node -e runs" [ "$(X deb1 -- node -e 'console.log(6*7)' 2>&1)" = 42 ]
t1=$(date +%s.%N)
echo "time: node -e $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
check "python3 imports ssl and sqlite3" [ "$(X deb1 -- python3 -c 'import ssl, sqlite3; print("py-ok")' 2>&1)" = py-ok ]
check "git runs" sh -c "'$AGENTGW' exec deb1 -- git --version | grep -q '^git version'"
check "/workspace is served" [ "$(X deb1 -- cat /workspace/readme.txt)" = hello-ws ]
fst=$(sed -n 's/^fs=//p' "$AGENTGW_RUN_DIR/deb1/info" | tail -1)
check "/workspace is mounted over the transport ps shows (${fst:-none})" \
	[ "$(X deb1 -- awk '$2 == "/workspace" { print $3 }' /proc/mounts)" = "$([ "$fst" = 9p ] && echo 9p || echo virtiofs)" ]
X deb1 -- sh -c 'echo from-agent >/workspace/new.txt'
check "agent writes /workspace" [ "$(cat "$tmp/ws/new.txt" 2>/dev/null)" = from-agent ]
check "the root disk is read-only under the overlay, writes land in the upper layer" \
	sh -c "'$AGENTGW' exec deb1 --user root -- sh -c 'touch /usr/local/x && grep -q \" / overlay \" /proc/mounts'"

# exec's environment, directory and user.
printf 'A=from-file\n# comment\n\nB=two words\n' >"$tmp/envf"
X deb1 -e FOO=bar -e X=1 --env-file "$tmp/envf" -w /tmp -- sh -c 'echo "$FOO $X $A $B $PWD $PATH"' >"$tmp/o2" 2>&1
check "exec -e, --env-file, -w" grep -qx "bar 1 from-file two words /tmp /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$tmp/o2"
check "exec --user root" [ "$(X deb1 --user root -- id -u)" = 0 ]
X deb1 --user nosuchuser -- true 2>"$tmp/o3"
check "exec --user of an unknown user fails with its name" grep -q "user nosuchuser" "$tmp/o3"

# State persists across down/up of the same name, per sandbox.
X deb1 -- sh -c 'echo kept >/home/agent/state.txt'
A down deb1
check "down deb1" [ $? = 0 ]
A ps -a >"$tmp/ps"
check "ps -a lists deb1 as stopped" grep -Eq '^deb1 +stopped' "$tmp/ps"
t0=$(date +%s.%N)
timeout 300 ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name deb1 >/dev/null 2>"$tmp/up2.err" || cat "$tmp/up2.err"
t1=$(date +%s.%N)
echo "time: up -d (resume) $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
check "a file in /home/agent survives down and up" [ "$(X deb1 -- cat /home/agent/state.txt 2>&1)" = kept ]
timeout 300 ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name deb2 >/dev/null 2>"$tmp/up3.err" || cat "$tmp/up3.err"
check "a second sandbox of the image does not see it" sh -c "! '$AGENTGW' exec deb2 -- test -e /home/agent/state.txt"
check "and the second sandbox runs" [ "$(X deb2 -- id -un)" = agent ]
A down deb2
A down deb1
A rm deb1
check "rm deletes the disk" [ ! -e "$tmp/sandboxes/deb1" ]
timeout 300 ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name deb1 >/dev/null 2>&1
check "after rm, up starts afresh" sh -c "! '$AGENTGW' exec deb1 -- test -e /home/agent/state.txt"
A down --rm deb1
A rm deb2
A ps -a >"$tmp/ps"
check "ps -a lists nothing after rm" sh -c "! grep -Eq '^deb[12] ' '$tmp/ps'"

q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }
check "audit: the node exec is recorded" [ "$(q "select count(*) from event where kind='exec' and target like 'node -e%'")" -ge 1 ]
e2e_finish
