#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Out of file descriptors: the gateway runs with a small RLIMIT_NOFILE and
# the guest opens more connections than it can hold. The proxy must shed the
# excess (spare-fd trick, paused accept), stay alive, and serve new
# connections once the flood is gone.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	gw_stop
	topo_down
}
gw_test_init curl nc prlimit sqlite3

NAME=em$TOPO_ID
cat >"$POL" <<P
version: 1
name: emfile
network:
  allow: [allowed.test]
  dns: { upstream: [$DNS_IP] }
P
GW_WRAP="prlimit --nofile=48" gw_start tcp:15001 -v
in_guest dig +short allowed.test >/dev/null

# 120 silent connections to a bound address: each waits in the peek state
# (more than every net worker together can hold: one per CPU, 48 fds each)
for i in $(seq 120); do
	(sleep 4 | in_guest nc -w5 "$ALLOWED_IP" 80 >/dev/null 2>&1) &
	pids+=($!)
done
sleep 1.5
grep -q "out of file descriptors" "$TOPO_DIR/gw.log" && ok "proxy hit EMFILE and said so" ||
	bad "no EMFILE in the log"
kill -0 "$GW_PID" 2>/dev/null && ok "gateway still running" || bad "gateway died"
# a connection shed for want of fds still leaves its connect row
sql_poll 1 "SELECT count(*) FROM event WHERE kind='net' AND op='connect' AND decision='deny' AND reason='out of file descriptors' AND target='$ALLOWED_IP:80'"
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

gw_finish 30
