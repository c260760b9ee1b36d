#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest-side workspace figures (issue 19; printed, never asserted): the same
# file work, in one run, in the guest's own /tmp (tmpfs, guest RAM) and in
# /workspace (the fs gateway: a policy decision and an audit event per
# operation) over each transport in WS_TRANSPORTS (default "9p virtiofs"),
# side by side. One sandbox per transport, all up at once, the Debian image
# of the e2e tests (e2e_debian_image: tar, git, npm), run as the agent user
# inside tests/lib/topo.sh's namespaces (the fake npm registry is nginx in
# the topology's "internet"). A transport is chosen with
# AGENTGW_FS_TRANSPORT when `agentgw up` starts the sandbox; one the build
# does not have (up fails, or /workspace is not mounted with it) is skipped
# with a note.
#
# Work, each step timed in the guest (date +%s%N around it), repetitions
# interleaved (run 1 of every sandbox and place, then run 2, ...; the
# order of /tmp and /workspace alternates), medians; each ratio is to the
# /tmp of the same guest:
#   untar        tar -xf tree.tar: WS_BENCH_DIRS folders x WS_BENCH_FILES
#                files of 1-16 KiB (default 60 x 50 = 3,000 files, 25 MiB)
#   find, ls-lR  find DIR | wc -l; ls -lR DIR
#   cat, rm      cat every file; rm -rf DIR
#   git-*        a git repository of WS_BENCH_GIT_FILES files (default
#                10,000, 100 a folder, committed on the host): untar, then
#                git status twice (the first refreshes the index: every
#                file's stat; the second is warm), rm -rf
#   npm-ci       npm ci of a project with WS_BENCH_NPM_PKGS dependencies
#                (default 30, 10 files each) whose package-lock.json points
#                at tarballs on the fake registry (allowed.test); the npm
#                cache is a fresh folder in /tmp for every place
# WS_BENCH_DEBIAN=0: the initramfs image instead (busybox: no git, no npm;
# only the tree's steps).
# WS_QUICK=1: one run of a smaller set (20 x 30 files, a 2,000-file
# repository, 15 packages), about ten minutes under TCG; the defaults take
# about an hour under TCG with two transports. WS_BENCH_RUNS sets the
# repetitions (default 3, quick 1).
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ "${WS_QUICK:-0}" = 1 ]; then
	N=${WS_BENCH_RUNS:-1} DIRS=${WS_BENCH_DIRS:-20} FILES=${WS_BENCH_FILES:-30}
	GITN=${WS_BENCH_GIT_FILES:-2000} NPMN=${WS_BENCH_NPM_PKGS:-15}
else
	N=${WS_BENCH_RUNS:-3} DIRS=${WS_BENCH_DIRS:-60} FILES=${WS_BENCH_FILES:-50}
	GITN=${WS_BENCH_GIT_FILES:-10000} NPMN=${WS_BENCH_NPM_PKGS:-30}
fi
TRANSPORTS=${WS_TRANSPORTS:-9p virtiofs}
. tests/bench/lib.sh
. tests/lib/e2e.sh
DEBIAN=${WS_BENCH_DEBIAN:-1}
if [ "$DEBIAN" = 1 ]; then
	e2e_require sqlite3 git openssl mmdebstrap mkfs.ext4
else
	e2e_require sqlite3 git openssl
fi
. tests/lib/topo.sh

UPS=()
ws_cleanup() {
	local n
	for n in "${UPS[@]}"; do
		ip netns exec "$NS_GW" timeout 60 "$AGENTGW" down --rm "$n" >/dev/null 2>&1
	done
	topo_down
}
topo_up
trap ws_cleanup EXIT
trap 'exit 1' INT TERM HUP
S=$TOPO_DIR/sbx
export AGENTGW_RUN_DIR=$S/run AGENTGW_STATE_DIR=$S/state
mkdir -p "$S/in" "$AGENTGW_RUN_DIR"
e2e_image "$S" >/dev/null
SBX="sandbox: { vcpus: 1, memory: 1G }"
if [ "$DEBIAN" = 1 ]; then
	e2e_debian_image "$S" >/dev/null
	SBX="sandbox: { vcpus: 1, memory: 1G, image: e2e-debian, disk: 1G }"
fi

# ---- the inputs, made once on the host
mkdir -p "$S/gen/tree"
for ((d = 0; d < DIRS; d++)); do
	mkdir -p "$S/gen/tree/d$d"
	for ((f = 0; f < FILES; f++)); do
		head -c $((1024 * (1 + (d * FILES + f) % 16))) /dev/zero >"$S/gen/tree/d$d/f$f.txt"
	done
done
tar -C "$S/gen" -cf "$S/in/tree.tar" tree
mkdir -p "$S/gen/repo"
(
	cd "$S/gen/repo" || exit 1
	for ((d = 0; d < (GITN + 99) / 100; d++)); do
		mkdir -p "d$d"
		for ((f = 0; f < 100 && d * 100 + f < GITN; f++)); do
			echo "file $d/$f" >"d$d/f$f.txt"
		done
	done
	git init -q . && git add -A && git -c user.name=b -c user.email=b@b commit -qm gen
) || { echo "git repository generation failed"; exit 1; }
tar -C "$S/gen" -cf "$S/in/repo.tar" repo
# The fake registry: NPMN packages of 10 files on allowed.test, and a
# project whose lock file names their tarballs and integrity.
W=$TOPO_DIR/www/files
mkdir -p "$W/tgz" "$S/gen/proj"
deps="" lock=""
for ((i = 0; i < NPMN; i++)); do
	p=agw-p$i
	rm -rf "$S/gen/pkg" && mkdir -p "$S/gen/pkg/package/lib"
	echo "{\"name\":\"$p\",\"version\":\"1.0.0\",\"main\":\"index.js\"}" >"$S/gen/pkg/package/package.json"
	echo "module.exports = require('./lib/f0.js');" >"$S/gen/pkg/package/index.js"
	for ((f = 0; f < 8; f++)); do
		head -c $((512 * (1 + f))) /dev/zero | tr '\0' 'x' | sed "1s/^/module.exports = '$p $f';\n\/\//" \
			>"$S/gen/pkg/package/lib/f$f.js"
	done
	tar -C "$S/gen/pkg" -czf "$W/tgz/$p-1.0.0.tgz" package
	sri=sha512-$(openssl dgst -sha512 -binary "$W/tgz/$p-1.0.0.tgz" | base64 -w0)
	deps+="${deps:+,}\"$p\":\"1.0.0\""
	lock+=",\"node_modules/$p\":{\"version\":\"1.0.0\",\"resolved\":\"http://allowed.test/files/tgz/$p-1.0.0.tgz\",\"integrity\":\"$sri\"}"
done
echo "{\"name\":\"wsbench\",\"version\":\"1.0.0\",\"dependencies\":{$deps}}" >"$S/gen/proj/package.json"
echo "{\"name\":\"wsbench\",\"version\":\"1.0.0\",\"lockfileVersion\":3,\"requires\":true,\"packages\":{\"\":{\"name\":\"wsbench\",\"version\":\"1.0.0\",\"dependencies\":{$deps}}$lock}}" \
	>"$S/gen/proj/package-lock.json"
tar -C "$S/gen" -cf "$S/in/npm.tar" proj
rm -rf "$S/gen"

# One guest script: the steps of one run in each place given, in ms.
cat >"$S/in/bench.sh" <<'SH'
# ms: a clock in ms (busybox date has no %N: /proc/uptime, 10 ms steps).
ms() {
	case $(date +%N) in
	*[!0-9]* | "") read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000)) ;;
	*) echo $(($(date +%s%N) / 1000000)) ;;
	esac
}
# t CMD...: its time in ms, or "fail" (and its last lines on stderr).
t() {
	s=$(ms)
	if "$@" >/tmp/ws-step.out 2>&1; then
		e=$(ms)
		echo $((e - s))
	else
		echo fail
		echo "failed: $*: $(tail -3 /tmp/ws-step.out)" >&2
	fi
}
catall() { find "$1" -type f -exec cat {} + >/dev/null; }
npmci() {
	cd "$1/proj" && npm ci --no-audit --no-fund --no-update-notifier \
		--cache "$2" --registry http://allowed.test/files/npm/
}
run=$1
shift
for place in "$@"; do
	d=$place/b$run
	mkdir -p "$d"
	echo "$place untar $(t tar -xf /workspace/tree.tar -C "$d")"
	echo "$place find $(t sh -c "find $d/tree | wc -l")"
	echo "$place ls-lR $(t ls -lR "$d/tree")"
	echo "$place cat $(t catall "$d/tree")"
	echo "$place rm $(t rm -rf "$d/tree")"
	command -v git >/dev/null || { rm -rf "$d"; continue; } # the initramfs image
	echo "$place git-untar $(t tar -xf /workspace/repo.tar -C "$d")"
	echo "$place git-status-1 $(t git -C "$d/repo" status)"
	echo "$place git-status-2 $(t git -C "$d/repo" status)"
	echo "$place git-rm $(t rm -rf "$d/repo")"
	tar -xf /workspace/npm.tar -C "$d"
	echo "$place npm-ci $(t npmci "$d" "/tmp/npmcache-$run")"
	rm -rf "$d" "/tmp/npmcache-$run"
done
SH

agw() { ip netns exec "$NS_GW" timeout 3600 "$AGENTGW" "$@"; }
# ---- one sandbox per transport
LIVE=()
declare -A NOTE
for tr in $TRANSPORTS; do
	mkdir -p "$S/ws-$tr"
	cp "$S/in/"* "$S/ws-$tr/"
	chown -R 1000:1000 "$S/ws-$tr"
	cat >"$S/p-$tr.yaml" <<YAML
version: 1
name: bench-ws-$tr
$SBX
network:
  allow:
    - allowed.test
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws-$tr
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit-$tr.db
YAML
	n=bws$tr$TOPO_ID
	n=${n//-/}
	n=${n:0:12}
	if ! AGENTGW_FS_TRANSPORT=$tr agw up -d --policy "$S/p-$tr.yaml" --name "$n" >/dev/null 2>"$S/up-$tr.err"; then
		NOTE[$tr]="skipped: up failed ($(tail -1 "$S/up-$tr.err"))"
		continue
	fi
	UPS+=("$n")
	m=$(agw exec "$n" -- awk '$2 == "/workspace" { print $3 " " $4 }' /proc/mounts 2>/dev/null)
	want=$tr opt=
	case $tr in 9p) want=9p opt=trans=tcp ;; esac
	if [ "${m%% *}" != "$want" ] || [[ $m != *"$opt"* ]]; then
		NOTE[$tr]="skipped: /workspace is '${m:-not mounted}', not $want (this build lacks the transport)"
		agw down --rm "$n" >/dev/null 2>&1
		continue
	fi
	echo "  $tr: /workspace mounted: $m"
	LIVE+=("$tr:$n")
done
[ ${#LIVE[@]} -gt 0 ] || { echo "no transport came up: ${NOTE[*]}"; exit 1; }

for ((run = 1; run <= N; run++)); do
	for x in "${LIVE[@]}"; do
		tr=${x%%:*} n=${x#*:}
		if ((run % 2)); then places="/tmp /workspace"; else places="/workspace /tmp"; fi
		# shellcheck disable=SC2086
		agw exec "$n" -w /tmp -- sh /workspace/bench.sh "$run" $places \
			2>>"$S/res-$tr.err" | sed "s|^/workspace |$tr |" | tee -a "$S/res-$tr" | sed "s/^/  run $run: /"
	done
done

# ---- the table: each transport's ratio is to the /tmp of its own guest
# (same runs); the /tmp column is the median over every guest's runs.
cols="" files=()
for x in "${LIVE[@]}"; do cols+=" ${x%%:*}" files+=("$S/res-${x%%:*}"); done
med() { awk -v p="$1" -v s="$2" '$1 == p && $2 == s && $3 ~ /^[0-9]+$/ { print $3 }' "${@:3}" | median; }
printf '\n  %-13s %9s' step "/tmp ms"
for c in $cols; do printf ' %20s' "$c ms (x /tmp)"; done
echo
for step in untar find ls-lR cat rm git-untar git-status-1 git-status-2 git-rm npm-ci; do
	all=$(med /tmp "$step" "${files[@]}")
	[ "$all" = n/a ] && continue
	printf '  %-13s %9s' "$step" "$all"
	case $step in
	git-*) what="git repo, $GITN files" ;;
	npm-*) what="$NPMN packages" ;;
	*) what="$((DIRS * FILES)) files" ;;
	esac
	for c in $cols; do
		a=$(med /tmp "$step" "$S/res-$c")
		b=$(med "$c" "$step" "$S/res-$c")
		r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a + 0 > 0 && b ~ /^[0-9.]+$/) printf "%.1f", b / a; else print "-" }')
		printf ' %20s' "$b ($r)"
		bench_row ws "guest /workspace ($c, $what)" "$step" ms "$b" "guest /tmp" "$a"
	done
	echo
done
for c in $cols; do
	ops=$(sqlite3 "$S/audit-$c.db" "select count(*) from event where kind='fs'" 2>/dev/null)
	echo "  $c: fs audit rows written: ${ops:-?}; errors: $(grep -c . "$S/res-$c.err" 2>/dev/null)"
done
for tr in "${!NOTE[@]}"; do echo "  $tr: ${NOTE[$tr]}"; done
echo "  ($N runs, medians; tree $((DIRS * FILES)) files $(du -sm "$S/in/tree.tar" | cut -f1) MiB, git repo $GITN files, npm $NPMN packages)"
exit 0
