#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's "Run Claude Code in agentgw", end to end: the image built with
# the README's line (Debian, node, npm install -g @anthropic-ai/claude-code
# from the npm registry this machine reaches), booted with a copy of
# examples/claude-code.yaml; `claude --version` runs as agent (uid 1000).
# The image is built once into the shared image cache, like rootfs.sh's.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 mmdebstrap mkfs.ext4

# The line the README gives, word for word.
packages=nodejs,npm,git,ca-certificates,bash
run='npm install -g @anthropic-ai/claude-code'
check "the README gives this image build line" \
	sh -c "grep -qF -- '--packages $packages \\' README.md && grep -qF -- \"--run '$run'\" README.md"
e2e_netns cc
t0=$(date +%s.%N)
shared=$(AGENTGW_IMAGE_DIR=${AGENTGW_SHARED_IMAGE_DIR:-} "$AGENTGW" image build --name claude-code \
	--distro debian --packages "$packages" --run "$run" 2>"$tmp/build.err")
rc=$?
t1=$(date +%s.%N)
grep '^image:' "$tmp/build.err"
[ "$rc" = 0 ] && [ -f "$shared/rootfs.ext4" ] || { cat "$tmp/build.err"; echo "FAIL: claude-code image build"; exit 1; }
echo "time: image build (or cache hit) $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
mkdir -p "$tmp/images/names"
ln -s "$shared" "$tmp/images/names/claude-code"

cp examples/claude-code.yaml "$tmp/p.yaml"
mkdir -p "$tmp/ws"
chown 1000:1000 "$tmp/ws"
t0=$(date +%s.%N)
timeout 300 ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --workspace "$tmp/ws" --name cc \
	>/dev/null 2>"$tmp/up.err"
rc=$?
t1=$(date +%s.%N)
check "up -d with examples/claude-code.yaml" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { cat "$tmp/up.err"; e2e_finish; }
echo "time: up -d to ready $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
timeout 120 "$AGENTGW" exec cc -- sh -c 'id -un; claude --version' >"$tmp/out" 2>&1
cat "$tmp/out"
check "runs as agent" [ "$(sed -n 1p "$tmp/out")" = agent ]
check "claude --version prints a version" grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+ \(Claude Code\)' "$tmp/out"
ip netns exec "$ns" "$AGENTGW" down --rm cc
check "down --rm leaves no disk" [ ! -e "$tmp/sandboxes/cc" ]
e2e_finish
