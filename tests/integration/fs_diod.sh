#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `agentgw fs-serve` against diod's own 9P clients (diodls, diodcat,
# diodload) on loopback: listings, reads, the .env denial, writes through
# diodload, a refused peer, and the audit rows they leave (sqlite3).
set -u
cd "$(dirname "$0")/../.."
AGENTGW=${AGENTGW:-$PWD/build/agentgw}
for t in diodls diodcat diodload sqlite3; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not installed (scripts/deps.sh)"; exit 77; }
done
[ -x "$AGENTGW" ] || { echo "FAIL: $AGENTGW not built"; exit 1; }

tmp=$(mktemp -d /tmp/agw-fs-diod.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- server log"; cat "$tmp"/*.err 2>/dev/null | tail -20; exit 1; }

ws=$tmp/ws
mkdir -p "$ws/src/lib" "$ws/docs"
printf 'hello from the workspace\n' >"$ws/README"
printf 'SECRET_TOKEN=hunter2\n' >"$ws/.env"
printf 'int main(void) { return 0; }\n' >"$ws/src/main.c"
printf 'API_KEY=x\n' >"$ws/src/.env"
printf 'lib\n' >"$ws/src/lib/util.c"
# diodload attaches and opens "zero" (reads) and "null" (writes) at the root.
head -c 1048576 /dev/zero >"$ws/zero"
: >"$ws/null"
cat >"$tmp/policy.yaml" <<EOF
version: 1
name: fs-diod-test
mode: enforce
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read] }
    - { path: "src/**", access: [read, write, create, delete] }
    - { path: "null", access: [read, write] }
  deny:
    - { path: "**/.env" }
EOF
db=$tmp/audit.db

PORT=
start() { # name out-file args... -> sets PORT (not in a subshell: pids must stay)
	local name=$1 out=$2
	shift 2
	"$AGENTGW" fs-serve --policy "$tmp/policy.yaml" --listen 127.0.0.1:0 --audit "$db" \
		--name "$name" "$@" >"$out" 2>"$out.err" &
	pids+=($!)
	for _ in $(seq 50); do
		grep -q '^listening ' "$out" 2>/dev/null && break
		sleep 0.1
	done
	PORT=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out")
}
start fs-diod "$tmp/out" --allow-peer 127.0.0.1
port=$PORT
[ -n "$port" ] || fail "fs-serve did not start"
srv=127.0.0.1:$port
echo "fs-serve on $srv"

# listing
ls_out=$(diodls -t 10 -s "$srv" -a / 2>&1) || fail "diodls /: $ls_out"
for n in README src docs .env zero; do
	grep -qx -- "$n" <<<"$ls_out" || fail "diodls / does not list $n: $ls_out"
done
ls_src=$(diodls -t 10 -l -s "$srv" -a / src 2>&1) || fail "diodls -l src: $ls_src"
grep -q 'main.c' <<<"$ls_src" || fail "diodls -l src misses main.c: $ls_src"
echo "ok: listings"

# reads
got=$(diodcat -t 10 -s "$srv" -a / README 2>&1) || fail "diodcat README: $got"
[ "$got" = "hello from the workspace" ] || fail "README content: $got"
got=$(diodcat -t 10 -s "$srv" -a / src/main.c 2>&1) || fail "diodcat src/main.c: $got"
grep -q 'int main' <<<"$got" || fail "src/main.c content: $got"
echo "ok: reads"

# denials: .env at the root and deeper, never any of its bytes
for f in .env src/.env; do
	if got=$(diodcat -t 10 -s "$srv" -a / "$f" 2>&1); then fail "diodcat $f succeeded: $got"; fi
	grep -q 'hunter2\|API_KEY' <<<"$got" && fail "diodcat $f leaked content"
	grep -qi 'permission denied' <<<"$got" || fail "diodcat $f: expected permission denied, got: $got"
done
echo "ok: .env denied"

# load: reads of zero, writes to null, then getattrs
load=$(diodload -s "$srv" -n 2 -r 1 2>&1) || fail "diodload: $load"
grep -q ' ops/s' <<<"$load" || fail "diodload output: $load"
ops=$(sed -n 's/.*diodload: \([0-9]*\) ops\/s.*/\1/p' <<<"$load")
[ "${ops:-0}" -gt 0 ] || fail "diodload did no I/O: $load"
gload=$(diodload -s "$srv" -n 2 -r 1 -g 2>&1) || fail "diodload -g: $gload"
echo "ok: diodload: $load / getattr: $gload"

# a peer that is not allowed
start fs-refuse "$tmp/out2" --allow-peer 127.0.0.9
port2=$PORT
[ -n "$port2" ] || fail "second fs-serve did not start"
if got=$(diodls -t 5 -s "127.0.0.1:$port2" -a / 2>&1); then fail "refused peer could list: $got"; fi
echo "ok: peer refused"

# SIGHUP reloads the policy: README becomes unreadable
sed -i 's|    - { path: "\*\*/.env" }|    - { path: "**/.env" }\n    - { path: "README" }|' "$tmp/policy.yaml"
grep -q '"README"' "$tmp/policy.yaml" || fail "could not edit the policy"
kill -HUP "${pids[0]}"
for _ in $(seq 50); do grep -q 'policy reloaded' "$tmp/out.err" && break; sleep 0.1; done
grep -q 'policy reloaded' "$tmp/out.err" || fail "no reload after SIGHUP"
if got=$(diodcat -t 10 -s "$srv" -a / README 2>&1); then fail "README readable after reload: $got"; fi
got=$(diodcat -t 10 -s "$srv" -a / src/main.c 2>&1) || fail "src/main.c after reload: $got"
echo "ok: SIGHUP reload"

# examples/strict.yaml as shipped: its workspace is the policy's folder
mkdir -p "$tmp/strict/src"
cp examples/strict.yaml "$tmp/strict/strict.yaml"
printf 'TOKEN=strict-secret\n' >"$tmp/strict/.env"
printf 'code\n' >"$tmp/strict/src/x.c"
"$AGENTGW" fs-serve --policy "$tmp/strict/strict.yaml" --listen 127.0.0.1:0 \
	--audit "$tmp/strict.db" --name strict >"$tmp/out3" 2>"$tmp/out3.err" &
pids+=($!)
for _ in $(seq 50); do grep -q '^listening ' "$tmp/out3" 2>/dev/null && break; sleep 0.1; done
port3=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/out3")
[ -n "$port3" ] || fail "fs-serve with examples/strict.yaml did not start"
if got=$(diodcat -t 10 -s "127.0.0.1:$port3" -a / .env 2>&1); then fail "strict: .env readable: $got"; fi
grep -q strict-secret <<<"$got" && fail "strict: .env leaked"
got=$(diodcat -t 10 -s "127.0.0.1:$port3" -a / src/x.c 2>&1) || fail "strict: src/x.c: $got"
[ "$got" = code ] || fail "strict: src/x.c content: $got"
echo "ok: examples/strict.yaml denies .env"

# stop the servers so the audit writer flushes, then check the rows
for p in "${pids[@]}"; do kill -TERM "$p"; done
for p in "${pids[@]}"; do wait "$p" || fail "fs-serve exited with $?"; done
pids=()

q() { sqlite3 "$db" "$1"; }
sid=$(q "SELECT id FROM sandbox WHERE name='fs-diod'")
[ -n "$sid" ] || fail "no sandbox row"
[ "$(q "SELECT stopped_at IS NOT NULL FROM sandbox WHERE id=$sid")" = 1 ] || fail "sandbox not stopped"
[ "$(q "SELECT policy_name FROM sandbox WHERE id=$sid")" = fs-diod-test ] || fail "policy name"
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid AND kind='fs' AND op='open' AND target='.env' AND decision='deny' AND rule='filesystem.deny[0]'")
[ "$n" -ge 1 ] || fail "no deny row for .env: $(q "SELECT op,target,decision,rule FROM event")"
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid AND op='open' AND target='src/.env' AND decision='deny'")
[ "$n" -ge 1 ] || fail "no deny row for src/.env"
n=$(q "SELECT bytes_down FROM event WHERE sandbox_id=$sid AND op='read' AND target='README' AND decision='allow' LIMIT 1")
[ "$n" = 25 ] || fail "README read row: bytes_down=$n"
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid AND op='write' AND target='null' AND bytes_up > 0")
[ "$n" -ge 1 ] || fail "no write row for null"
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid AND op='readdir' AND target='.' AND decision='allow'")
[ "$n" -ge 1 ] || fail "no readdir row"
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid AND kind='policy' AND op='reload' AND decision='allow'")
[ "$n" = 1 ] || fail "no policy reload row"
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid AND op='open' AND target='README' AND decision='deny' AND rule='filesystem.deny[1]'")
[ "$n" -ge 1 ] || fail "no README deny row after the reload"
sid2=$(q "SELECT id FROM sandbox WHERE name='fs-refuse'")
n=$(q "SELECT count(*) FROM event WHERE sandbox_id=$sid2 AND op='connect' AND decision='deny' AND src LIKE '127.0.0.1:%'")
[ "$n" -ge 1 ] || fail "no deny row for the refused peer"
n=$(sqlite3 "$tmp/strict.db" "SELECT count(*) FROM event WHERE kind='fs' AND op='open' AND target='.env' AND decision='deny' AND rule LIKE 'filesystem.deny[%]'")
[ "$n" -ge 1 ] || fail "strict: no audited .env denial"
echo "ok: audit rows"
q "SELECT op, target, decision, coalesce(rule,''), coalesce(bytes_up,''), coalesce(bytes_down,'') FROM event WHERE sandbox_id=$sid AND op NOT IN ('attach') LIMIT 20"
echo PASS
