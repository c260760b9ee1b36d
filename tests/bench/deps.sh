#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages only `make bench` needs (load generators and
# the proxies agentgw is compared against), so `make test` never pulls them.
# Idempotent: returns at once when everything is present. The proxies'
# packages would start their system services on install; a temporary
# policy-rc.d (exit 101) keeps them stopped: the benchmark runs its own
# instances inside network namespaces with the configs in tests/bench/conf/.
set -eu
pkgs=(wrk dnsperf haproxy squid-openssl tinyproxy curl diod sqlite3 dnsmasq-base nginx qemu-system-x86)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "bench deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "bench deps: need root to install: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$prc"
	chmod 755 "$prc"
	made_prc=1
fi
rc=0
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
	apt-get update && apt-get install -y --no-install-recommends "${missing[@]}" || rc=1
fi
[ "$made_prc" = 1 ] && rm -f "$prc"
exit $rc
