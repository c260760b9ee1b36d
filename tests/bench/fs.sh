#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# 9P benchmark: the same client (build/bench/bench_fs: one TCP connection,
# one request in flight, msize 256 KiB requested) against `agentgw
# fs-serve` (the fs child: policy check and audit event for every
# operation, audit database on disk) and against `diod` exporting the same
# directory, both on loopback. Metrics: metadata ops/s (walk + getattr +
# clunk of one file; lcreate + clunk + walk + remove of a new file) and
# sequential read / write MB/s, each the median of RUNS runs; agentgw and
# diod alternate run by run so a change in load hits both. Ratio: to diod.
# diod is run as its man page suggests for a private export without
# authentication: `diod -f -n -e DIR -l ADDR:PORT` (foreground, no munge
# auth, default worker threads), run as root like the fs child.
# Env: BUILD, RUNS (default 5), SECS per phase (default 2).
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
. tests/bench/lib.sh
AGENTGW=${AGENTGW:-$PWD/$BUILD/agentgw}
CLIENT=$PWD/$BUILD/bench/bench_fs
RUNS=${RUNS:-5}
SECS=${SECS:-2}
for t in diod sqlite3 ss; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed (tests/bench/deps.sh)"; exit 77; }
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
cat >"$tmp/policy.yaml" <<EOF
version: 1
name: fs-bench
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
    - { path: "bench/**", access: [read, write, create, delete] }
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
for _ in $(seq 100); do
	ss -Hltn "src 127.0.0.1:$diod_port" | grep -q . && break
	sleep 0.05
done

run_once() { # label port aname -> appends each key's value to $tmp/<label>.<key>
	local label=$1 port=$2 aname=$3
	"$CLIENT" "127.0.0.1:$port" "$aname" bench "$SECS" >"$tmp/run.txt" 2>&1 || {
		echo "$label run failed: $(cat "$tmp/run.txt")"; return 1; }
	while IFS='=' read -r k v; do echo "$v" >>"$tmp/$label.$k"; done <"$tmp/run.txt"
}
for ((i = 1; i <= RUNS; i++)); do
	run_once agw "$agw_port" / || exit 1
	run_once diod "$diod_port" "$ws" || exit 1
done

echo "  msize granted: agentgw $(median <"$tmp/agw.msize"), diod $(median <"$tmp/diod.msize") (256 KiB asked)"
printf '  %-26s %12s %12s %8s\n' metric agentgw diod ratio
for k in stat_per_s create_remove_per_s read_mb_per_s write_mb_per_s; do
	a=$(median <"$tmp/agw.$k")
	d=$(median <"$tmp/diod.$k")
	r=$(awk -v a="$a" -v d="$d" 'BEGIN { printf "%.2f", (d > 0 ? a / d : 0) }')
	case $k in
	stat_per_s) m="stat (walk+getattr+clunk)" u=1/s ;;
	create_remove_per_s) m="create+remove" u=1/s ;;
	read_mb_per_s) m="sequential read" u=MB/s ;;
	write_mb_per_s) m="sequential write" u=MB/s ;;
	esac
	printf '  %-26s %12s %12s %8s\n' "$m" "$a" "$d" "$r"
	bench_row 9p diod "$m" "$u" "$d" diod "$d"
	bench_row 9p agentgw "$m" "$u" "$a" diod "$d"
done
kill -TERM "${pids[0]}"
wait "${pids[0]}"
echo "  audit rows written by fs-serve: $(sqlite3 "$tmp/audit.db" 'SELECT count(*) FROM event')"
