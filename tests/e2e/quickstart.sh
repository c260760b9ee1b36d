#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README.md's quickstart, run as written: the `up` line (without its
# `make &&`: e2e_require builds) in a copy of the clone whose build/ is
# this build, with the guest shell fed from a pipe, and the "from another
# terminal" lines (audit tail -f, audit query --decision deny, sqlite3)
# taken verbatim from the README. They must find the sandbox's denials
# without --db: audit tail -f shows them and follows a new one, audit query
# lists them while the sandbox runs and after it stopped, sqlite3 opens the
# database the README names. `up` says where the audit log is and `ps`
# shows it. Runs in a network namespace with its own run and state dirs.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3 jq
repo=$PWD

# The README's commands: the quickstart's first block, then the block after
# "from another terminal".
readme_block() { # N: the Nth ```sh block of the Quickstart section
	awk -v want="$1" '/^## Quickstart/ { on = 1; next } /^## / { on = 0 }
		on && /^```sh/ { n++; inb = 1; next } on && /^```/ { inb = 0; next }
		on && inb && n == want' README.md
}
up_cmd=$(readme_block 1 | head -1)
up_cmd=${up_cmd#make && }
mapfile -t other < <(readme_block 2)
tail_cmd=${other[0]} query_cmd=${other[1]} sqlite_cmd=${other[2]}
case "$up_cmd $tail_cmd $query_cmd $sqlite_cmd" in
*"agentgw up --policy examples/strict.yaml"*"audit tail -f"*"audit query --decision deny"*sqlite3*) ;;
*) echo "FAIL: the README's quickstart commands moved: '$up_cmd' '${other[*]}'"; exit 1 ;;
esac

e2e_netns qs
export AGENTGW_STATE_DIR=$tmp/state
mkdir -p "$AGENTGW_STATE_DIR"
# Keep this host's accelerator verdict: no probe boot for the test.
cp /var/lib/agentgw/accel-probe "$AGENTGW_STATE_DIR/" 2>/dev/null
clone=$tmp/clone
mkdir -p "$clone/src"
cp -r "$repo/examples" "$clone/"
rm -f "$clone"/examples/*.db*
ln -s "$(dirname "$AGENTGW")" "$clone/build"
echo "KEY=secret" >"$clone/.env"
cd "$clone" || exit 1

deny1=qs-$$-one.example deny2=qs-$$-two.example
mkfifo "$tmp/in"
exec 3<>"$tmp/in"
ip netns exec "$ns" timeout 300 bash -c "$up_cmd" <"$tmp/in" >"$tmp/out" 2>"$tmp/err" 3>&- &
up_pid=$!
echo "nslookup $deny1 >/dev/null 2>&1; cat /workspace/.env >/dev/null 2>&1; echo guest-step1" >&3
for _ in $(seq 600); do grep -q guest-step1 "$tmp/out" 2>/dev/null && break; sleep 0.2; done
check "the guest shell ran the commands" grep -q guest-step1 "$tmp/out"
check "up says where the audit log is" grep -q "audit log $clone/examples/agentgw-audit.db" "$tmp/err"
name=$(sed -n "s/^agentgw up: sandbox '\([^']*\)'.*/\1/p" "$tmp/err")
check "ps shows the audit database" \
	[ "$("$AGENTGW" ps --json | jq -r ".[] | select(.name == \"$name\") | .audit_db")" = "$clone/examples/agentgw-audit.db" ]

timeout 60 bash -c "$tail_cmd" >"$tmp/tail" 2>"$tmp/tail.err" 3>&- &
tail_pid=$!
bash -c "$query_cmd" >"$tmp/query" 2>"$tmp/query.err" 3>&-
check "'$query_cmd' exits 0" [ $? = 0 ]
check "audit query finds the denied name" grep -q "dns .*$deny1 .*deny" "$tmp/query"
check "audit query finds the denied .env read" grep -Eq "fs .*\.env .*deny" "$tmp/query"
check "audit query names the database it read" grep -q "agentgw-audit.db (sandbox '$name')" "$tmp/query.err"
sleep 1
echo "nslookup $deny2 >/dev/null 2>&1; echo guest-step2" >&3
for _ in $(seq 100); do grep -q "$deny2" "$tmp/tail" 2>/dev/null && break; sleep 0.2; done
kill "$tail_pid" 2>/dev/null
wait "$tail_pid" 2>/dev/null
check "audit tail -f shows the earlier denial" grep -q "$deny1" "$tmp/tail"
check "audit tail -f follows a new denial" grep -q "$deny2" "$tmp/tail"

exec 3>&-
wait "$up_pid"
rc=$?
check "up ends with the shell (exit 0)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || { echo "up: exit $rc"; cat "$tmp/err"; }
out=$(bash -c "$sqlite_cmd" 2>&1)
check "'$sqlite_cmd' lists the denials" sh -c "printf '%s\n' \"\$1\" | grep -q '$deny1' && printf '%s\n' \"\$1\" | grep -q '$deny2'" _ "$out"
bash -c "$query_cmd" >"$tmp/query2" 2>"$tmp/query2.err"
check "after the sandbox stopped, audit query still reads its database" grep -q "$deny2" "$tmp/query2"
check "... and says it is not running" grep -q "sandbox '$name', not running" "$tmp/query2.err"
check "audit query --sandbox NAME finds it after down" \
	sh -c "'$AGENTGW' audit query --sandbox '$name' --decision deny 2>/dev/null | grep -q '$deny1'"
cd "$repo" || exit 1
e2e_finish
