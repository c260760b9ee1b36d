#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# 9P benchmark: the same client (build/bench/bench_fs: one connection, one
# request in flight) against `agentgw fs-serve` (policy checks and audit
# on) and against `diod` serving the same directory, on loopback. Prints
# stat/s, create+remove/s, sequential read and write MB/s, each the median
# of RUNS runs, and the ratio agentgw/diod. Also diodload against fs-serve
# (diodload only speaks to diod's synthetic "ctl" tree on diod itself).
# Env: BUILD, RUNS (default 3), SECS per phase (default 2).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
. tests/bench/lib.sh
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
CLIENT=$PWD/$BUILD/bench/bench_fs
RUNS=${RUNS:-3}
SECS=${SECS:-2}
for t in diod sqlite3; do
	command -v "$t" >/dev/null || { echo "skip: $t not installed"; exit 0; }
done
[ -x "$AGENTGW" ] && [ -x "$CLIENT" ] || { echo "fs bench: build first ($AGENTGW, $CLIENT)"; exit 1; }

tmp=$(mktemp -d /tmp/agw-bench-fs.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
ws=$tmp/ws
mkdir -p "$ws/bench"
head -c $((64 << 20)) /dev/zero >"$ws/bench/big"
head -c 1048576 /dev/zero >"$ws/zero"
: >"$ws/null"
cat >"$tmp/policy.yaml" <<EOF
version: 1
name: fs-bench
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
    - { path: "bench/**", access: [read, write, create, delete] }
    - { path: "null", access: [read, write] }
  deny:
    - { path: "**/.env" }
EOF

"$AGENTGW" fs-serve --policy "$tmp/policy.yaml" --listen 127.0.0.1:0 --audit "$tmp/audit.db" \
	--name bench >"$tmp/agw.out" 2>"$tmp/agw.err" &
pids+=($!)
for _ in $(seq 50); do grep -q '^listening ' "$tmp/agw.out" && break; sleep 0.1; done
agw_port=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/agw.out")
[ -n "$agw_port" ] || { echo "fs-serve did not start"; cat "$tmp/agw.err"; exit 1; }
diod_port=$((agw_port % 20000 + 30000))
diod -f -n -l "127.0.0.1:$diod_port" -e "$ws" -L "$tmp/diod.log" &
pids+=($!)
sleep 1

median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }
run() { # port aname -> appends key=value lines to $tmp/<label>.<key>
	local label=$1 port=$2 aname=$3
	for _ in $(seq "$RUNS"); do
		"$CLIENT" "127.0.0.1:$port" "$aname" bench "$SECS" >"$tmp/run.txt" 2>&1 || {
			echo "$label run failed: $(cat "$tmp/run.txt")"; return 1; }
		while IFS== read -r k v; do echo "$v" >>"$tmp/$label.$k"; done <"$tmp/run.txt"
	done
}
run agw "$agw_port" / || exit 1
run diod "$diod_port" "$ws" || exit 1

printf '%-22s %12s %12s %8s\n' metric agentgw diod ratio
for k in stat_per_s create_remove_per_s read_mb_per_s write_mb_per_s; do
	a=$(median <"$tmp/agw.$k")
	d=$(median <"$tmp/diod.$k")
	r=$(awk -v a="$a" -v d="$d" 'BEGIN { printf "%.2f", (d > 0 ? a / d : 0) }')
	printf '%-22s %12s %12s %8s\n' "$k" "$a" "$d" "$r"
	case $k in *mb_per_s) u=MB/s ;; *) u=1/s ;; esac
	bench_row 9p diod "${k%_per_s}" "$u" "$d" diod "$d"
	bench_row 9p agentgw "${k%_per_s}" "$u" "$a" diod "$d"
done
if command -v diodload >/dev/null; then
	echo "diodload vs agentgw fs-serve (16 connections, ${SECS}s): $(diodload -s "127.0.0.1:$agw_port" -r "$SECS" 2>&1 | tail -1)"
	echo "diodload -g vs agentgw fs-serve: $(diodload -g -s "127.0.0.1:$agw_port" -r "$SECS" 2>&1 | tail -1)"
fi
kill -TERM "${pids[0]}"
wait "${pids[0]}"
echo "audit rows written by fs-serve: $(sqlite3 "$tmp/audit.db" 'SELECT count(*) FROM event')"
