#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Issue 12 items 10 and 12, with `agentgw gateway` (net and fs children, no
# VM) in the test topology:
#   12: 70 `agentgw policy reload`s; the last one denies a workspace file
#       (fs child, read through 9P with diodcat from the guest) and allows a
#       new host (net child, curl). Both children must really apply it and
#       the audit must hold 70 applied reload rows (the fs child used to stop
#       taking policies after 64 while every reload row said allow). A
#       stopped (SIGSTOP) fs child makes `policy reload` exit 1 and the row
#       an error; 16 unanswered reloads make the next one refused.
#   each child holds only its own files (nothing inherited from the
#       supervisor: its epoll set, the audit database, a pipe)
#   10: kill -9 of the net child, then of the fs child: the gateway stops
#       (fails closed), says which child died of which signal on stderr, and
#       the lifecycle/stop row carries that reason (decision error).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/topo.sh

gw_test_init curl sqlite3 diodcat pgrep

NAME=gc$TOPO_ID
WS=$TOPO_DIR/ws
export AGENTGW_RUN_DIR=$TOPO_DIR/run
mkdir -p "$WS"
echo "top secret" >"$WS/secret.txt"
echo "public" >"$WS/readme.txt"
write_policy() { # generation final(0/1)
	{
		cat <<P
version: 1
name: children-$1
network:
  allow:
    - host: allowed.test
      ports: [80]
P
		[ "$2" = 1 ] && printf '    - host: other.test\n      ports: [80]\n'
		cat <<P
  dns: { upstream: [$DNS_IP] }
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
P
		[ "$2" = 1 ] && printf '  deny:\n    - { path: "secret.txt" }\n'
	} >"$POL"
}
start_gw() { GW_LOG=$1 gw_start "tcp:564 tcp:53" -v; } # log-file
# child_on PORT: the pid of the gateway child listening on TCP PORT
child_on() {
	ip netns exec "$NS_GW" ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2
}
gcat() { in_guest diodcat -t 5 -s "$GW_IP:564" -a / "$1" 2>&1; }
reloads() { sql "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='allow'"; }

echo "== 70 policy reloads reach both children"
write_policy 0 0
start_gw "$TOPO_DIR/gw1.log"
[ "$(gcat secret.txt)" = "top secret" ] && ok "before: secret.txt readable over 9P" ||
	bad "before: secret.txt: $(gcat secret.txt)"
code=$(in_guest curl -s -o /dev/null --max-time 8 -w '%{http_code}' --resolve "other.test:80:$OTHER_IP" http://other.test/)
[ "$code" = 403 ] && ok "before: other.test refused" || bad "before: other.test gave $code"

# Each child holds its own files only: one epoll set (its loop's, not the
# supervisor's, which it could change), nothing of the audit database,
# no pipe or file the supervisor's own parent gave it beyond stdio.
# Looked at once every child has its loop: under the sanitizers a second
# net worker can still be reading the CA bundle when the listeners are up.
for _ in $(seq 100); do
	ready=1
	for kid in $(pgrep -P "$GW_PID"); do
		ls -l /proc/"$kid"/fd/ 2>/dev/null | grep -q 'anon_inode:\[eventpoll\]' || ready=0
	done
	[ "$ready" = 1 ] && break
	sleep 0.1
done
for kid in $(pgrep -P "$GW_PID"); do
	fds=$(for f in /proc/"$kid"/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && readlink "$f"; done)
	ne=$(grep -c 'anon_inode:\[eventpoll\]' <<<"$fds")
	nd=$(grep -c 'audit\.db' <<<"$fds")
	np=$(grep -c '^pipe:\|gw1\.log' <<<"$fds")
	[ "$ne" = 1 ] && [ "$nd" = 0 ] && [ "$np" = 0 ] &&
		ok "child $kid inherits nothing: 1 epoll set, no audit database, no pipe or log beyond stdio" ||
		bad "child $kid: $ne epoll sets, $nd audit database files, $np pipes/logs: $(tr '\n' ' ' <<<"$fds")"
done
for i in $(seq 1 70); do
	write_policy "$i" "$([ "$i" = 70 ] && echo 1 || echo 0)"
	"$AGENTGW" policy reload "$NAME" >/dev/null || bad "policy reload $i failed"
	for _ in $(seq 300); do [ "$(reloads)" -ge "$i" ] 2>/dev/null && break; sleep 0.02; done
done
n=$(reloads)
[ "$n" = 70 ] && ok "audit: 70 reload rows say allow" || bad "audit: $n reload allow rows"
n=$(sql "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision!='allow'")
[ "$n" = 0 ] && ok "audit: no reload error rows" || bad "audit: $n reload error rows"
last=$(sql "SELECT json_extract(detail, '\$.name') FROM event WHERE kind='policy' AND op='reload' ORDER BY id DESC LIMIT 1")
[ "$last" = children-70 ] && ok "audit: the last applied reload is children-70" || bad "audit: last reload '$last'"
got=$(gcat secret.txt)
[ "$got" != "top secret" ] && ok "fs child applies the 70th policy: secret.txt refused" ||
	bad "fs child still runs an old policy: secret.txt readable after 70 reloads"
[ "$(gcat readme.txt)" = public ] && ok "readme.txt still readable" || bad "readme.txt: $(gcat readme.txt)"
sql_poll 1 "SELECT count(*) FROM event WHERE kind='fs' AND target='secret.txt' AND decision='deny'" &&
	ok "audit: fs deny row for secret.txt" || bad "audit: no fs deny row for secret.txt"
body=$(in_guest curl -sS --max-time 8 http://other.test/)
[ "$body" = other.test ] && ok "net child applies the 70th policy: other.test allowed" ||
	bad "net child: other.test gave '$body'"

echo "== a child that does not answer: the reload is not claimed"
fs=$(child_on 564)
kill -STOP "$fs"
write_policy 71 0
out=$("$AGENTGW" policy reload "$NAME" 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "not applied: not applied by the fs child within 5000 ms" <<<"$out" &&
	ok "policy reload exits 1 naming the silent fs child" || bad "policy reload with a stopped fs child: rc $rc: $out"
for _ in $(seq 60); do
	n=$(sql "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='error' AND reason='not applied by the fs child within 5000 ms' AND json_extract(detail, '\$.name')='children-71'")
	[ "$n" = 1 ] && break
	sleep 0.05
done
[ "$n" = 1 ] && ok "audit: reload row error, not applied by the fs child" || bad "audit: $n error rows for children-71"
# at most 16 reloads wait for the children; the next one is refused visibly
for i in $(seq 72 87); do
	write_policy "$i" 0
	kill -HUP "$GW_PID"
	sleep 0.15
done
n=$(sql "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='error' AND reason='earlier reloads not yet applied by the children'")
[ "${n:-0}" -ge 1 ] && ok "audit: a 17th waiting reload is refused" || bad "audit: no refused reload (${n:-0})"
kill -CONT "$fs"
write_policy 88 1
out=$("$AGENTGW" policy reload "$NAME" 2>&1)
rc=$?
[ "$rc" = 0 ] && grep -q "^applied" <<<"$out" && ok "after SIGCONT: policy reload applied again" ||
	bad "after SIGCONT: rc $rc: $out"
n=$(sql "SELECT count(*) FROM event WHERE kind='policy' AND op='reload' AND decision='allow' AND json_extract(detail, '\$.name')='children-71'")
[ "$n" = 0 ] && ok "audit: the late answer does not turn the error into allow" || bad "audit: children-71 allow rows: $n"
[ "$(gcat secret.txt)" != "top secret" ] && ok "fs child runs the last policy (secret.txt refused)" ||
	bad "fs child: secret.txt readable after the last reload"

# new_sid PREV: the id of the sandbox row the gateway just started, waiting
# up to 5 s for it (the supervisor forks its children before it writes the
# row, so the ports can be up while max(id) is still the previous one).
new_sid() {
	local id
	for _ in $(seq 100); do
		id=$(sql "SELECT ifnull(max(id), 0) FROM sandbox")
		[ "${id:-0}" -gt "$1" ] 2>/dev/null && { echo "$id"; return; }
		sleep 0.05
	done
	echo "$id"
}

echo "== kill -9 of a child: the stop row says why"
for child in net fs; do
	gw_stop
	write_policy 0 0
	prev=$(sql "SELECT ifnull(max(id), 0) FROM sandbox")
	start_gw "$TOPO_DIR/gw-$child.log"
	sid=$(new_sid "$prev")
	# the first net worker serves DNS (port 53), the fs child 9P (564)
	if [ "$child" = net ]; then pid=$(child_on 53); else pid=$(child_on 564); fi
	[ -n "$pid" ] || { bad "$child child not found"; continue; }
	kill -KILL "$pid"
	for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$GW_PID" 2>/dev/null; then
		bad "gateway still runs after its $child child was killed"
		continue
	fi
	wait "$GW_PID"
	rc=$?
	GW_PID=
	[ "$rc" = 1 ] && ok "$child: gateway exits 1 (fails closed)" || bad "$child: gateway exit $rc"
	want="$child child (pid $pid) killed by signal 9 (SIGKILL)"
	grep -qF "stopped: $want" "$TOPO_DIR/gw-$child.log" && ok "$child: stderr says '$want'" ||
		bad "$child: stderr lacks the reason: $(tail -n 3 "$TOPO_DIR/gw-$child.log")"
	row=$(sql "SELECT decision || '|' || reason FROM event WHERE sandbox_id=$sid AND kind='lifecycle' AND op='stop'")
	[ "$row" = "error|$want" ] && ok "$child: audit stop row: $row" || bad "$child: audit stop row '$row'"
done

# a normal stop keeps a reason-less allow row
prev=$(sql "SELECT ifnull(max(id), 0) FROM sandbox")
start_gw "$TOPO_DIR/gw-normal.log"
sid=$(new_sid "$prev")
gw_stop
row=$(sql "SELECT decision || '|' || ifnull(reason, '') FROM event WHERE sandbox_id=$sid AND kind='lifecycle' AND op='stop'")
[ "$row" = "allow|" ] && ok "normal stop: audit stop row allow without reason" || bad "normal stop row '$row'"

gw_finish 20 "$TOPO_DIR/gw1.log"
