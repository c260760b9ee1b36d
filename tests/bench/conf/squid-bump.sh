# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The squid-bump row of tests/bench/tls.sh (sourced by it; uses its W,
# SRV_PID, CACERT, measure_once and lib.sh's stop_srv): Debian's
# squid-openssl doing the job of `tls: inspect` (conf/squid-bump.conf) in the
# gw namespace, the guest's port 443 redirected to it by an nftables table
# of its own. The client verifies squid's minted certificates against
# squid's CA, as it verifies agentgw's against the sandbox CA.
#   squid_bump_ready   once: 0 when squid can bump here (its CA, certificate
#                      database and configuration made), else says why
#   squid_bump_row     one run of the row
SQUID_BUMP_OK=0

squid_bump_ready() {
	if ! command -v squid >/dev/null || ! squid -v 2>/dev/null | grep -q -- '--with-openssl' ||
		[ ! -x /usr/lib/squid/security_file_certgen ]; then
		echo "  squid-bump: skipped, needs squid built with OpenSSL (squid-openssl; tests/bench/deps.sh)"
		return 1
	fi
	mkdir -p "$W/squid"
	chmod 711 "$TOPO_DIR" "$W" # squid drops root to proxy
	chmod 644 "$TOPO_CA"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$W/squid-ca.key" -out "$W/squid-ca.pem" -days 2 -subj "/CN=squid bench CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		2>/dev/null &&
		/usr/lib/squid/security_file_certgen -c -s "$W/squid/ssl_db" -M 16MB >/dev/null 2>&1 &&
		chown -R proxy: "$W/squid" "$W/squid-ca.key" "$W/squid-ca.pem" ||
		{ echo "  squid-bump: skipped, cannot make its CA or certificate database"; return 1; }
	sed -e "s|@DIR@|$W|g" -e "s|@GW_IP@|$GW_IP|g" -e "s|@GUEST_NET@|10.77.0.0/30|g" \
		-e "s|@DNS_IP@|$DNS_IP|g" -e "s|@CA@|$TOPO_CA|g" \
		"$(dirname "${BASH_SOURCE[0]}")/squid-bump.conf" >"$W/squid-bump.conf"
	SQUID_BUMP_OK=1
}

squid_bump_row() {
	[ "$SQUID_BUMP_OK" = 1 ] || return 0
	ip netns exec "$NS_GW" squid -N -f "$W/squid-bump.conf" >"$W/squid.out" 2>&1 &
	SRV_PID=$!
	if wait_port "$NS_GW" "$GW_IP" 3131 20 && in_gw nft -f - <<EOF; then
table ip agw_squid_bump {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "$GUEST_IF" tcp dport 443 redirect to :3131
	}
}
EOF
		CACERT=$W/squid-ca.pem
		# Not counted: squid starts its certificate helpers on the first bump.
		timeout 60 ip netns exec "$NS_GUEST" curl -s --max-time 30 --cacert "$CACERT" -o /dev/null \
			"https://allowed.test/small"
		measure_once squid-bump
	else
		tail -20 "$W/squid.out" "$W/squid/cache.log" 2>/dev/null
	fi
	in_gw nft delete table ip agw_squid_bump 2>/dev/null
}
