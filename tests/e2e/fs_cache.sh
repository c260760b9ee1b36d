#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# virtio-fs caching has a bound (docs/fs.md, "virtio-fs caching"): a change
# made on the host is seen by the guest within 1 s (FUSE_SRV_TTL_MS) plus
# the loop's step, however the guest cached the file before:
#   - contents: the guest reads f (its pages and attributes now cached),
#     then the host rewrites f with other contents and another size; the
#     guest re-reads it every 50 ms until it sees the new text;
#   - a new name: the guest looks up n and gets ENOENT (a cached negative
#     entry), then the host creates n; the guest retries until it exists;
#   - a removal: the host deletes g, which the guest has just read.
# The guest starts each wait by touching a marker that the host watches
# for (writes always reach the gateway at once), so the time measured in
# the guest covers the host's change. Each open reached the gateway: the
# audit has a read row per re-read. Runs on virtio-fs (skips when the host
# cannot: auto picked 9P).
set -u
cd "$(dirname "$0")/../.."
. tests/lib/e2e.sh
e2e_require sqlite3

e2e_netns fsc
name=fc$$
mkdir -p "$tmp/ws"
echo one >"$tmp/ws/f"
echo gone >"$tmp/ws/g"
chown -R nobody: "$tmp/ws"
cat >"$tmp/p.yaml" <<'YAML'
version: 1
name: e2e-fs-cache
filesystem:
  workspace: ws
  allow:
    - { path: "**", access: [read, write, create, delete] }
audit:
  database: audit.db
YAML
agw() { ip netns exec "$ns" timeout 300 "$AGENTGW" "$@"; }
q() { sqlite3 "$tmp/audit.db" "$1" 2>/dev/null; }

agw up -d --fs-transport virtiofs --policy "$tmp/p.yaml" --name "$name" >/dev/null 2>"$tmp/up.err"
rc=$?
if [ $rc != 0 ] && grep -q "says virtiofs, but" "$tmp/up.err"; then
	echo "SKIP: $(tail -1 "$tmp/up.err")"
	e2e_cleanup
	exit 77
fi
check "up -d over virtio-fs works" [ $rc = 0 ]

# The guest's side: $1 is the wait; prints "NAME MS" when it saw the change.
cat >"$tmp/ws/wait.sh" <<'SH'
ms() { read -r up _ </proc/uptime; echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000)); }
cd /workspace || exit 9
case $1 in
contents) cat f >/dev/null; cat f; seen() { [ "$(cat f)" = "two, longer" ]; } ;;
newname) cat n 2>/dev/null; ls n 2>/dev/null; seen() { [ -e n ] && [ "$(cat n)" = new ]; } ;;
removed) cat g >/dev/null; seen() { [ ! -e g ]; } ;;
esac
s=$(ms)
: >"go.$1"
while ! seen; do
	[ $(($(ms) - s)) -gt 5000 ] && { echo "$1 never"; exit 1; }
	sleep 0.05
done
echo "$1 $(($(ms) - s))"
SH
# host_change WHAT CMD: once the guest's marker appears, run CMD at once.
host_change() {
	local i
	for i in $(seq 3000); do
		[ -e "$tmp/ws/go.$1" ] && { eval "$2"; return 0; }
		sleep 0.01
	done
	return 1
}
for what in contents newname removed; do
	case $what in
	contents) change='printf "two, longer\n" >"$tmp/ws/f"' ;;
	newname) change='echo new >"$tmp/ws/n"' ;;
	removed) change='rm -f "$tmp/ws/g"' ;;
	esac
	host_change "$what" "$change" &
	hc=$!
	agw exec "$name" -- sh /workspace/wait.sh "$what" </dev/null >"$tmp/$what.out" 2>&1
	wait $hc
	cat "$tmp/$what.out"
	t=$(awk -v w="$what" '$1 == w { print $2 }' "$tmp/$what.out")
	check "$what: the guest sees the host's change ($t ms)" [ -n "$t" ] && [ "$t" != never ]
	# 1 s for the cached entry or attributes, 50 ms per step, the rest for
	# the host's 10 ms poll and a loaded TCG guest
	check "$what: within the documented bound (1 s + 0.5 s slack)" [ -n "$t" ] && [ "$t" != never ] && [ "$t" -le 1500 ]
done
check "the first read of f saw the old contents" grep -qx one "$tmp/contents.out"
agw down "$name" >/dev/null 2>&1
check "audit: every re-read of f reached the gateway (read rows >= 3)" \
	[ "$(q "select count(*) from event where kind='fs' and op='read' and target='f'")" -ge 3 ]
e2e_finish
