#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench`: runs every tests/bench/<area>.sh and collects their tables.
# Figures are medians of several runs; each row is also given as a ratio to
# its reference measured in the same run. Results: build/bench/results.json.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export BUILD AGENTGW="$PWD/$BUILD/agentgw"
mkdir -p "$BUILD/bench"
echo "agentgw benchmarks — $(date -u +%Y-%m-%dT%H:%MZ) — $(uname -srm), $(nproc) cores"
rc=0
for s in tests/bench/*.sh; do
	[ "$(basename "$s")" = run.sh ] && continue
	echo
	echo "## $(basename "$s" .sh)"
	bash "$s" || { echo "bench $(basename "$s") failed"; rc=1; }
done
exit $rc
