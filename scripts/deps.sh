#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages agentgw needs to build, test and run.
# Idempotent: when every package is present it returns at once.
set -eu
pkgs=(
  # build
  build-essential pkg-config clang libclang-rt-14-dev
  libyaml-dev libsqlite3-dev sqlite3 libcmocka-dev libssl-dev
  libnftnl-dev libmnl-dev libnl-3-dev libnl-route-3-dev
  libc-ares-dev libjansson-dev libnetfilter-log-dev
  # run
  nftables iproute2 qemu-system-x86 busybox-static kmod cpio zstd xz-utils
  # images with a root filesystem (agentgw image build --distro debian)
  mmdebstrap uidmap e2fsprogs
  # images from OCI layouts and docker save archives (agentgw image build --oci)
  umoci skopeo
  # integration tests: real clients and servers
  curl openssl dnsutils dnsmasq-base nginx-light netcat-openbsd diod
  procps psmisc file iputils-ping jq strace
)
missing=()
for p in "${pkgs[@]}"; do
  case "$p" in \#*) continue ;; esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "deps: need root to install: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# An old or empty package list makes apt-get install fail; refresh it once.
if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi
