#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real tools in the Debian image against the fake internet of
# tests/lib/topo.sh (dnsmasq and nginx in their own namespace), as the agent
# user: `git clone` of a repository served over HTTP, `npm install` from a
# registry (a packument and a tarball), `pip install` from a simple index,
# all from allowed.test; the same three against other.test, which the
# policy does not allow, fail, and the audit database has the denials.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/lib/e2e.sh
e2e_require sqlite3 mmdebstrap mkfs.ext4 git python3 curl
. tests/lib/topo.sh

E2E_DOWN_FLAGS=--rm
e2e_topo_sandbox rn
export AGENTGW_STATE_DIR=$S/state
chown 1000:1000 "$WS"
e2e_debian_image "$S"

# The fake internet's files: a git repository (dumb HTTP), an npm registry
# and a Python simple index, served by every test server under /files/.
W=$TOPO_DIR/www/files
mkdir -p "$W/npm" "$W/tgz" "$W/simple/agw-hello" "$W/whl" "$TOPO_DIR/src" "$TOPO_DIR/pkg/package"
(
	cd "$TOPO_DIR/src" && git init -q && echo hello-git >README &&
		git add README && git -c user.name=t -c user.email=t@test commit -qm init
) || { echo "FAIL: making the test repository"; exit 1; }
git clone -q --bare "$TOPO_DIR/src" "$W/repo.git" && git -C "$W/repo.git" update-server-info
echo '{"name":"agw-hello","version":"1.0.0","main":"index.js"}' >"$TOPO_DIR/pkg/package/package.json"
echo 'module.exports = "hello-npm";' >"$TOPO_DIR/pkg/package/index.js"
tar -C "$TOPO_DIR/pkg" -czf "$W/tgz/agw-hello-1.0.0.tgz" package
sha=$(sha1sum "$W/tgz/agw-hello-1.0.0.tgz" | cut -d' ' -f1)
cat >"$W/npm/agw-hello" <<JSON
{"name":"agw-hello","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"agw-hello","version":"1.0.0","main":"index.js","dist":{"tarball":"http://allowed.test/files/tgz/agw-hello-1.0.0.tgz","shasum":"$sha"}}}}
JSON
python3 - "$W/whl/agw_hello-1.0-py3-none-any.whl" <<'PY'
import sys, zipfile
files = {
    "agw_hello.py": "MSG = 'hello-pip'\n",
    "agw_hello-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: agw-hello\nVersion: 1.0\n",
    "agw_hello-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: agentgw-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files["agw_hello-1.0.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + "agw_hello-1.0.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, t in files.items():
        z.writestr(n, t)
PY
echo '<a href="/files/whl/agw_hello-1.0-py3-none-any.whl">agw_hello-1.0-py3-none-any.whl</a>' >"$W/simple/agw-hello/index.html"
check "the fake internet serves the files" sh -c "ip netns exec '$NS_NET' curl -sf http://$ALLOWED_IP/files/repo.git/info/refs -H 'Host: allowed.test' | grep -q refs/heads"

cat >"$S/p.yaml" <<YAML
version: 1
name: e2e-rootfs-net
sandbox: { vcpus: 2, memory: 2G, image: e2e-debian, disk: 1G }
network:
  allow:
    - allowed.test
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML
agw() { ip netns exec "$NS_GW" timeout 180 "$AGENTGW" "$@"; }
g() { agw exec "$NAME" -w /home/agent -- sh -c "$1" </dev/null 2>&1; }
# last WHAT WANT OUTPUT: the output's last line is WANT, else show it all.
last() {
	if [ "$(printf '%s\n' "$3" | tail -1)" = "$2" ]; then ok "$1"; else bad "$1"; printf '%s\n' "$3" | tail -20; fi
}

t0=$(date +%s.%N)
agw up -d --policy "$S/p.yaml" --name "$NAME" >/dev/null 2>"$S/up.err"
rc=$?
t1=$(date +%s.%N)
check "up -d of the debian image in the gw namespace" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { cat "$S/up.err"; e2e_finish; }
UP=1
echo "time: up -d to ready $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

NPM="npm --no-audit --no-fund --no-update-notifier --loglevel=error"
PIP="pip install --user --break-system-packages --disable-pip-version-check --no-cache-dir --retries 0 --timeout 15"
# First from the host the policy does not allow (nothing is cached or
# installed yet), then from the allowed one.
g 'git clone -q http://other.test/files/repo.git r2' >"$S/deny.out"
check "git clone from a host the policy does not allow fails" [ $? != 0 ]
g "mkdir -p n2 && cd n2 && $NPM install --fetch-retries=0 --registry http://other.test/files/npm/ agw-hello" >>"$S/deny.out"
check "npm install from it fails" [ $? != 0 ]
g "$PIP --trusted-host other.test --index-url http://other.test/files/simple/ agw-hello" >>"$S/deny.out"
check "pip install from it fails" [ $? != 0 ]
t0=$(date +%s.%N)
out=$(g 'git clone -q http://allowed.test/files/repo.git r && cat r/README')
last "git clone from an allowed host (as agent)" hello-git "$out"
out=$(g "mkdir -p n && cd n && $NPM install --registry http://allowed.test/files/npm/ agw-hello && node -e 'console.log(require(\"agw-hello\"))'")
last "npm install from an allowed registry" hello-npm "$out"
out=$(g "$PIP --trusted-host allowed.test --index-url http://allowed.test/files/simple/ agw-hello && python3 -c 'import agw_hello; print(agw_hello.MSG)'")
last "pip install from an allowed index" hello-pip "$out"
t1=$(date +%s.%N)
echo "time: git clone + npm install + pip install $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

check "audit: other.test denied at DNS" [ "$(e2e_sql "select count(*) from event where kind='dns' and target='other.test' and decision='deny'")" -ge 3 ]
check "audit: allowed.test connections allowed" [ "$(e2e_sql "select count(*) from event where kind='net' and op='connect' and target='allowed.test:80' and decision='allow'")" -ge 3 ]
check "audit: the clone ran as an exec" [ "$(e2e_sql "select count(*) from event where kind='exec' and target like '%git clone -q http://allowed.test%'")" -ge 1 ]
e2e_finish
