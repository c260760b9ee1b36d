#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest-side workspace figures (printed, never asserted): the same file work
# run inside one sandbox in the guest's own /tmp (RAM) and in /workspace
# (the fs gateway: a policy decision per operation, audited), side by side.
# The tree is generated here, the same every run: WS_BENCH_DIRS directories
# (default 60) of WS_BENCH_FILES files each (default 50), 1-16 KiB, packed
# as tree.tar into the workspace. Work, each timed in the guest with
# /proc/uptime (10 ms steps) around it, median of WS_BENCH_RUNS (default 3):
#   tar -xf tree.tar; find DIR | wc -l; ls -lR DIR; cat every file; rm -rf DIR.
# The ratio is /workspace to /tmp.
# Then the same work in a Debian image (the e2e tests' e2e-debian, built
# once) as the user agent: /home/agent (the overlay on the sandbox's own
# virtio-blk disk) side by side with /workspace; plus 'git status' (the
# first after untar refreshes the index, the second is warm) in a git
# repository of WS_BENCH_GIT_FILES files (default 10000, 100 per folder)
# made here on the host, untarred into each place. WS_BENCH_DEBIAN=0 skips
# this part.
set -u
cd "$(dirname "$0")/../.." || exit 1
N=${WS_BENCH_RUNS:-3}
DIRS=${WS_BENCH_DIRS:-60}
FILES=${WS_BENCH_FILES:-50}
. tests/bench/lib.sh
. tests/lib/e2e.sh
e2e_require

e2e_netns bws
mkdir -p "$tmp/ws/gen"
for ((d = 0; d < DIRS; d++)); do
	mkdir -p "$tmp/ws/gen/tree/d$d"
	for ((f = 0; f < FILES; f++)); do
		head -c $((1024 * (1 + (d * FILES + f) % 16))) /dev/zero >"$tmp/ws/gen/tree/d$d/f$f.txt"
	done
done
tar -C "$tmp/ws/gen" -cf "$tmp/ws/tree.tar" tree
rm -rf "$tmp/ws/gen"
chown -R nobody: "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: bench-ws
network:
  allow: [allowed.test]
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML
agw() { ip netns exec "$ns" timeout 900 "$AGENTGW" "$@"; }
name=bws$$
agw up -d --policy "$tmp/p.yaml" --name "$name" >/dev/null 2>"$tmp/up.err" ||
	{ echo "up -d failed: $(tail -3 "$tmp/up.err")"; exit 1; }
# One guest script: for each place and run, time each step in ms.
cat >"$tmp/ws/bench.sh" <<'SH'
ms() { read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000)); }
t() { s=$(ms); "$@" >/dev/null 2>&1; e=$(ms); echo $((e - s)); }
catall() { find "$1" -type f -exec cat {} + >/dev/null; }
runs=$1
shift
for run in $(seq "$runs"); do
	for place in "$@"; do
		d=$place/w$run
		mkdir -p "$d"
		echo "$place untar $(t tar -xf /workspace/tree.tar -C "$d")"
		echo "$place find $(t sh -c "find $d | wc -l")"
		echo "$place ls-lR $(t ls -lR "$d")"
		echo "$place cat $(t catall "$d")"
		echo "$place rm $(t rm -rf "$d")"
	done
done
SH
agw exec "$name" -- sh /workspace/bench.sh "$N" /tmp /workspace >"$tmp/res" 2>"$tmp/res.err" || { cat "$tmp/res.err"; }
cat "$tmp/res"
ops=$(sqlite3 "$tmp/audit.db" "select count(*) from event where kind='fs'" 2>/dev/null)
agw down "$name" >/dev/null 2>&1
for step in untar find ls-lR cat rm; do
	a=$(awk -v s="$step" '$1 == "/tmp" && $2 == s { print $3 }' "$tmp/res" | median)
	b=$(awk -v s="$step" '$1 == "/workspace" && $2 == s { print $3 }' "$tmp/res" | median)
	printf '  %-8s /tmp %6s ms   /workspace %6s ms\n' "$step" "$a" "$b"
	bench_row ws "guest /workspace (9P, $((DIRS * FILES)) files)" "$step" ms "$b" "guest /tmp" "$a"
done
echo "  fs audit rows written: ${ops:-?}"

[ "${WS_BENCH_DEBIAN:-1}" = 0 ] && exit 0

# ---- a Debian image: /home/agent (own disk) vs /workspace, as agent ----
GITN=${WS_BENCH_GIT_FILES:-10000}
e2e_debian_image "$tmp" >/dev/null || { echo "debian image build failed"; exit 1; }
mkdir -p "$tmp/gen/repo"
(
	cd "$tmp/gen/repo" || exit 1
	for ((d = 0; d < (GITN + 99) / 100; d++)); do
		mkdir -p "d$d"
		for ((f = 0; f < 100 && d * 100 + f < GITN; f++)); do
			echo "file $d/$f" >"d$d/f$f.txt"
		done
	done
	git init -q . && git add -A && git -c user.name=b -c user.email=b@b commit -qm gen
) || { echo "git repo generation failed"; exit 1; }
tar -C "$tmp/gen" -cf "$tmp/ws/repo.tar" repo
rm -rf "$tmp/gen"
cat >"$tmp/ws/git.sh" <<'SH'
ms() { read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000)); }
t() { s=$(ms); "$@" >/dev/null 2>&1; e=$(ms); echo $((e - s)); }
runs=$1
shift
for run in $(seq "$runs"); do
	for place in "$@"; do
		d=$place/g$run
		mkdir -p "$d"
		echo "$place git-untar $(t tar -xf /workspace/repo.tar -C "$d")"
		echo "$place git-status-1 $(t git -C "$d/repo" status)"
		echo "$place git-status-2 $(t git -C "$d/repo" status)"
		echo "$place git-rm $(t rm -rf "$d")"
	done
done
SH
chown -R 1000:1000 "$tmp/ws"
sed 's/^name: bench-ws$/name: bench-ws-debian\nsandbox: { vcpus: 1, memory: 1G, image: e2e-debian, disk: 2G }/' \
	"$tmp/p.yaml" >"$tmp/pd.yaml"
dname=bwsd$$
agw up -d --policy "$tmp/pd.yaml" --name "$dname" >/dev/null 2>"$tmp/upd.err" ||
	{ echo "up -d (debian) failed: $(tail -3 "$tmp/upd.err")"; exit 1; }
agw exec "$dname" -- sh /workspace/bench.sh "$N" /home/agent /workspace >"$tmp/resd" 2>"$tmp/resd.err" ||
	cat "$tmp/resd.err"
agw exec "$dname" -- sh /workspace/git.sh "$N" /home/agent /workspace >>"$tmp/resd" 2>"$tmp/resg.err" ||
	cat "$tmp/resg.err"
cat "$tmp/resd"
agw down --rm "$dname" >/dev/null 2>&1
for step in untar find ls-lR cat rm git-untar git-status-1 git-status-2 git-rm; do
	a=$(awk -v s="$step" '$1 == "/home/agent" && $2 == s { print $3 }' "$tmp/resd" | median)
	b=$(awk -v s="$step" '$1 == "/workspace" && $2 == s { print $3 }' "$tmp/resd" | median)
	case $step in
	git-*) what="git repo, $GITN files" ;;
	*) what="$((DIRS * FILES)) files" ;;
	esac
	printf '  %-12s /home/agent %6s ms   /workspace %6s ms\n' "$step" "$a" "$b"
	bench_row ws "debian guest /workspace (9P, $what)" "$step" ms "$b" "guest /home/agent (overlay on virtio-blk)" "$a"
done
