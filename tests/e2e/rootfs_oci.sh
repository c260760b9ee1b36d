#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Images from OCI image layouts, end to end: the test makes a two-layer OCI
# layout itself (tar + sha256sum + JSON it writes) from the shared Debian
# test image's root: layer 1 is that root plus /opt/l1/{keep,gone}.txt and
# /opt/opq/old.txt; layer 2 adds /opt/l2/new.txt, deletes gone.txt by a
# whiteout (.wh.gone.txt) and makes /opt/opq opaque (.wh..wh..opq) with
# fresh.txt. 'image build --oci DIR:TAG' (umoci) is booted by a policy
# naming the image; in the guest layer 2's files exist, gone.txt is absent,
# /opt/opq holds only fresh.txt, commands run as agent. The same layout
# saved as a 'docker save' archive builds and boots too (skopeo). Broken
# layouts fail with one specific line: not an OCI layout, no such tag,
# missing blob, digest mismatch, unsupported media type; a media type with a
# newline and an escape sequence is shown on that one line as '?'.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 mmdebstrap mkfs.ext4 debugfs umoci skopeo tar sha256sum

e2e_netns rootfsoci
e2e_debian_image "$tmp"

# ---- the layout ----
oci=$tmp/oci
mkdir -p "$oci/blobs/sha256" "$tmp/l1" "$tmp/l2/opt/l2" "$tmp/l2/opt/l1" "$tmp/l2/opt/opq"
debugfs -R "rdump / $tmp/l1" "$E2E_DEBIAN/rootfs.ext4" >/dev/null 2>&1
check "the debian root is extracted" [ -x "$tmp/l1/bin/bash" ]
mkdir -p "$tmp/l1/opt/l1" "$tmp/l1/opt/opq"
echo keep >"$tmp/l1/opt/l1/keep.txt"
echo gone >"$tmp/l1/opt/l1/gone.txt"
echo old >"$tmp/l1/opt/opq/old.txt"
echo new >"$tmp/l2/opt/l2/new.txt"
: >"$tmp/l2/opt/l1/.wh.gone.txt"
: >"$tmp/l2/opt/opq/.wh..wh..opq"
echo fresh >"$tmp/l2/opt/opq/fresh.txt"
tar --numeric-owner -C "$tmp/l1" -cf "$tmp/layer1.tar" .
tar --numeric-owner --owner=0 --group=0 -C "$tmp/l2" -cf "$tmp/layer2.tar" .
rm -rf "$tmp/l1"
blob() { # FILE -> prints its digest hex, stores it as a blob
	local h
	h=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "$oci/blobs/sha256/$h"
	echo "$h"
}
size() { stat -c %s "$1"; }
h1=$(blob "$tmp/layer1.tar")
h2=$(blob "$tmp/layer2.tar")
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]}}' \
	"$h1" "$h2" >"$tmp/config.json"
hc=$(blob "$tmp/config.json")
L=application/vnd.oci.image.layer.v1.tar
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%s},{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
	"$hc" "$(size "$tmp/config.json")" "$L" "$h1" "$(size "$tmp/layer1.tar")" "$L" "$h2" "$(size "$tmp/layer2.tar")" >"$tmp/manifest.json"
hm=$(blob "$tmp/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
	"$hm" "$(size "$tmp/manifest.json")" >"$oci/index.json"
rm -f "$tmp/layer1.tar" "$tmp/layer2.tar"

# ---- broken layouts: one specific line each, nothing built ----
oci_bad() { # NAME SPEC -> the error in $tmp/bad.err
	"$AGENTGW" image build --name "$1" --oci "$2" >/dev/null 2>"$tmp/bad.err"
	echo $? >"$tmp/bad.rc"
}
one_line() { [ "$(wc -l <"$tmp/bad.err")" = 1 ] && [ "$(cat "$tmp/bad.rc")" != 0 ]; }
mkdir -p "$tmp/notoci"
oci_bad b1 "$tmp/notoci"
check "not a layout: one line, fails" one_line
check "not a layout: says so" grep -q "not an OCI image layout" "$tmp/bad.err"
oci_bad b2 "$oci:nosuchtag"
check "unknown tag: says so" grep -q "no image tagged 'nosuchtag'" "$tmp/bad.err"
# Hard-linked copies: a file to change is removed and written anew.
cp -al "$oci" "$tmp/oci-miss"
rm "$tmp/oci-miss/blobs/sha256/$h2"
oci_bad b3 "$tmp/oci-miss:v1"
check "missing blob: one line, names it" sh -c "$(declare -f one_line); tmp='$tmp'; one_line && grep -q 'missing blob sha256:$h2 (layer 2)' '$tmp/bad.err'"
cp -al "$oci" "$tmp/oci-bad"
rm "$tmp/oci-bad/blobs/sha256/$hc"
sed 's/"amd64"/"AMD64"/' "$tmp/config.json" >"$tmp/oci-bad/blobs/sha256/$hc" # same size
oci_bad b4 "$tmp/oci-bad:v1"
check "digest mismatch: names the blob" grep -q "digest mismatch in blob sha256:$hc (config)" "$tmp/bad.err"
cp -al "$oci" "$tmp/oci-zst"
rm "$tmp/oci-zst/index.json"
sed "s#$L\",\"digest\":\"sha256:$h2#$L+zstd\",\"digest\":\"sha256:$h2#" "$tmp/manifest.json" >"$tmp/m2.json"
hm2=$(sha256sum "$tmp/m2.json" | cut -d' ' -f1)
cp "$tmp/m2.json" "$tmp/oci-zst/blobs/sha256/$hm2"
sed "s/$hm\",\"size\":[0-9]*/$hm2\",\"size\":$(size "$tmp/m2.json")/" "$oci/index.json" >"$tmp/oci-zst/index.json"
oci_bad b5 "$tmp/oci-zst:v1"
check "unsupported layer type: says so" grep -q "layer 2: unsupported media type '$L+zstd'" "$tmp/bad.err"
# A hostile layout: a media type holding a newline and an escape sequence
# (JSON \n and \u001b) must not reach the terminal as a second line or as
# a control sequence: one line, each control byte shown as '?'.
cp -al "$oci" "$tmp/oci-esc"
rm "$tmp/oci-esc/index.json"
sed "s#$L\",\"digest\":\"sha256:$h2#$L\\\\nforged\\\\u001b[2J\",\"digest\":\"sha256:$h2#" "$tmp/manifest.json" >"$tmp/m3.json"
hm3=$(sha256sum "$tmp/m3.json" | cut -d' ' -f1)
cp "$tmp/m3.json" "$tmp/oci-esc/blobs/sha256/$hm3"
sed "s/$hm\",\"size\":[0-9]*/$hm3\",\"size\":$(size "$tmp/m3.json")/" "$oci/index.json" >"$tmp/oci-esc/index.json"
oci_bad b6 "$tmp/oci-esc:v1"
check "control bytes in a media type: one line, fails" one_line
check "control bytes in a media type: shown as '?'" grep -qF "unsupported media type '$L?forged?[2J'" "$tmp/bad.err"
check "control bytes in a media type: no escape byte printed" sh -c '! grep -q "$(printf "\033")" "$1"' - "$tmp/bad.err"
check "no broken image got a name" sh -c "! ls '$tmp/images/names' | grep -q '^b[0-9]'"

# ---- build and boot ----
# Into this test's own cache (the layout is new each run), with the shared
# cache's kernel .deb rather than a second download.
[ -d "$(dirname "$E2E_DEBIAN")/debs" ] && [ ! -e "$tmp/images/debs" ] &&
	ln -s "$(dirname "$E2E_DEBIAN")/debs" "$tmp/images/debs"
t0=$(date +%s.%N)
"$AGENTGW" image build --name e2e-oci --oci "$oci:v1" >"$tmp/oci.out" 2>"$tmp/oci.err"
rc=$?
t1=$(date +%s.%N)
grep '^image:' "$tmp/oci.err"
echo "time: image build --oci $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
check "image build --oci DIR:TAG" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { cat "$tmp/oci.err"; e2e_finish; }
"$AGENTGW" image build --name e2e-oci --oci "$oci:v1" >/dev/null 2>"$tmp/oci2.err"
check "a second build is a cache hit (keyed by the manifest digest)" grep -q "root filesystem up to date" "$tmp/oci2.err"
"$AGENTGW" image ls >"$tmp/ls"
check "image ls shows the manifest digest" grep -Eq "^e2e-oci +rootfs .* oci sha256:${hm:0:12}" "$tmp/ls"

mkdir -p "$tmp/ws"
chown 1000:1000 "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-rootfs-oci
sandbox: { vcpus: 1, memory: 1G, image: e2e-oci, disk: 1G }
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML
A() { ip netns exec "$ns" "$AGENTGW" "$@"; }
X() { timeout 120 "$AGENTGW" exec "$@"; }
timeout 300 ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name oci1 >/dev/null 2>"$tmp/up.err"
rc=$?
check "up -d of the OCI image" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { cat "$tmp/up.err"; e2e_finish; }
X oci1 -- sh -c 'id -un; cat /opt/l1/keep.txt /opt/l2/new.txt; test -e /opt/l1/gone.txt && echo gone-present; ls -A /opt/opq | tr "\n" " "; echo; ls -A /opt/l1 | tr "\n" " "; echo' >"$tmp/o1" 2>&1
cat "$tmp/o1"
check "commands run as agent" [ "$(sed -n 1p "$tmp/o1")" = agent ]
check "layer 1's file is there" [ "$(sed -n 2p "$tmp/o1")" = keep ]
check "layer 2's file is there" [ "$(sed -n 3p "$tmp/o1")" = new ]
check "the whiteout deleted gone.txt" sh -c "! grep -q gone-present '$tmp/o1'"
check "the opaque dir holds only layer 2's content" [ "$(sed -n 4p "$tmp/o1")" = "fresh.txt " ]
check "no whiteout files are left" [ "$(sed -n 5p "$tmp/o1")" = "keep.txt " ]
A down --rm oci1

# ---- the same image as a docker save archive ----
if skopeo copy --quiet "oci:$oci:v1" "docker-archive:$tmp/saved.tar:e2e/oci:v1" 2>"$tmp/sk.err"; then
	"$AGENTGW" image build --name e2e-oci-tar --oci "$tmp/saved.tar" >/dev/null 2>"$tmp/tar.err"
	rc=$?
	check "image build --oci ARCHIVE.tar (docker save format)" [ "$rc" = 0 ]
	[ "$rc" = 0 ] || cat "$tmp/tar.err"
	sed -i 's/image: e2e-oci,/image: e2e-oci-tar,/' "$tmp/p.yaml"
	timeout 300 ip netns exec "$ns" "$AGENTGW" up -d --policy "$tmp/p.yaml" --name oci2 >/dev/null 2>"$tmp/up2.err" || cat "$tmp/up2.err"
	X oci2 -- sh -c 'id -un; cat /opt/l2/new.txt; ls -A /opt/opq; test -e /opt/l1/gone.txt || echo no-gone' >"$tmp/o2" 2>&1
	check "archive image: agent, layer 2, whiteout, opaque dir" \
		[ "$(tr '\n' ' ' <"$tmp/o2")" = "agent new fresh.txt no-gone " ]
	A down --rm oci2
	echo 'not a tar' >"$tmp/junk.tar"
	oci_bad b6 "$tmp/junk.tar"
	check "a junk archive: one line, says so" sh -c "$(declare -f one_line); tmp='$tmp'; one_line && grep -q 'not a docker save archive' '$tmp/bad.err'"
else
	cat "$tmp/sk.err"
	check "skopeo makes a docker save archive" false
fi
e2e_finish
