#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Out of file descriptors: the gateway runs with a small RLIMIT_NOFILE and
# the guest opens more connections than it can hold. The proxy must shed the
# excess (spare-fd trick, paused accept), stay alive, and serve new
# connections once the flood is gone.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

AGENTGW=${AGENTGW:-$PWD/${BUILD:-build}/agentgw}
for t in curl nc prlimit sqlite3; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$AGENTGW" ] || { echo "SKIP: $AGENTGW not built"; exit 77; }

GW_PID=
pids=()
failures=0
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	if [ -n "$GW_PID" ]; then
		kill -TERM "$GW_PID" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$GW_PID" 2>/dev/null
		wait "$GW_PID" 2>/dev/null
	fi
	topo_down
}
topo_up
trap cleanup EXIT
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; failures=$((failures + 1)); }

cat >"$TOPO_DIR/policy.yaml" <<P
version: 1
name: emfile
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
P
ip netns exec "$NS_GW" prlimit --nofile=48 "$AGENTGW" gateway --iface "$GUEST_IF" \
	--policy "$TOPO_DIR/policy.yaml" --audit "$TOPO_DIR/audit.db" --name "em$TOPO_ID" -v \
	>"$TOPO_DIR/gw.log" 2>&1 &
GW_PID=$!
wait_port "$NS_GW" "$GW_IP" 15001 10 || { cat "$TOPO_DIR/gw.log"; exit 1; }
in_guest dig +short allowed.test >/dev/null

# 60 silent connections to a bound address: each waits in the peek state
for i in $(seq 60); do
	(sleep 4 | in_guest nc -w5 "$ALLOWED_IP" 80 >/dev/null 2>&1) &
	pids+=($!)
done
sleep 1.5
grep -q "out of file descriptors" "$TOPO_DIR/gw.log" && ok "proxy hit EMFILE and said so" ||
	bad "no EMFILE in the log"
kill -0 "$GW_PID" 2>/dev/null && ok "gateway still running" || bad "gateway died"
# a connection shed for want of fds still leaves its connect row
n=0
for _ in $(seq 60); do
	n=$(sqlite3 -cmd '.timeout 2000' "$TOPO_DIR/audit.db" "SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='deny' AND reason='out of file descriptors' AND target='$ALLOWED_IP:80'" 2>/dev/null)
	[ "${n:-0}" -ge 1 ] && break
	sleep 0.05
done
[ "${n:-0}" -ge 1 ] && ok "shed connections recorded ($n net/connect deny rows)" || bad "no row for a shed connection"
# the clients end (stdin EOF, then nc's idle timeout); their sessions close
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()
body=
for _ in $(seq 40); do
	body=$(in_guest curl -s --max-time 3 http://allowed.test/)
	[ "$body" = allowed.test ] && break
	sleep 0.5
done
[ "$body" = allowed.test ] && ok "serves new connections after the flood" || bad "after flood: '$body'"

if [ "$failures" != 0 ]; then
	tail -n 30 "$TOPO_DIR/gw.log"
	exit 1
fi
echo "all checks passed"
