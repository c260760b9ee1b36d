#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs every test: cmocka unit tests, fuzz corpus replays, integration tests
# (network namespaces, real clients) and e2e tests (real QEMU).
# Env: BUILD (build folder), ONLY (unit|fuzz|integration|e2e), CI.
# A test script exits 0 (pass), 77 (skip: prints why) or anything else (fail).
# Under CI=true a skip counts as a failure: CI runs as root with everything.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD AGENTGW="$PWD/$BUILD/agentgw"
logdir="$BUILD/test-logs"
mkdir -p "$logdir"
pass=0 fail=0 skip=0 failed=()

record() { # name rc
	case "$2" in
	0) pass=$((pass + 1)); echo "PASS $1" ;;
	77) if [ "${CI:-}" = true ]; then
		fail=$((fail + 1)); failed+=("$1 (skipped under CI)"); echo "FAIL $1 (skipped, not allowed under CI)"
	    else skip=$((skip + 1)); echo "SKIP $1"; fi ;;
	*) fail=$((fail + 1)); failed+=("$1"); echo "FAIL $1 (exit $2)" ;;
	esac
}

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

if want unit; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "== unit $(basename "$t")"
		"$t"
		record "unit/$(basename "$t")" $?
	done
fi

if want fuzz; then
	for r in "$BUILD"/fuzz/replay_*; do
		[ -x "$r" ] || continue
		name=${r##*/replay_}
		echo "== fuzz replay $name"
		"$r" "tests/fuzz/corpus/$name"
		record "fuzz/$name" $?
	done
fi

for suite in integration e2e; do
	want "$suite" || continue
	for t in tests/$suite/*.sh; do
		[ -f "$t" ] || continue
		name="$suite/$(basename "$t" .sh)"
		echo "== $name (log: $logdir/${name//\//_}.log)"
		timeout --kill-after=10 900 bash "$t" >"$logdir/${name//\//_}.log" 2>&1
		rc=$?
		if [ "$rc" != 0 ]; then
			# The failed checks first (CI keeps only part of the output),
			# then the log's end.
			grep -a -A 6 -m 10 '^FAIL' "$logdir/${name//\//_}.log" | sed 's/^/  | /'
			tail -n 40 "$logdir/${name//\//_}.log"
		fi
		record "$name" "$rc"
	done
done

echo
for f in "${failed[@]}"; do echo "failed: $f"; done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
