# SPDX-License-Identifier: GPL-2.0-or-later
# Shared test topology for integration and e2e tests: three network
# namespaces made by the test itself and nothing outside them.
#
#   guest (gveth 10.77.0.2/30, fd77::2/64) <-> gw (gw0 10.77.0.1/30, fd77::1/64)
#   gw (up0 198.51.100.1/24) <-> net (nn0 198.51.100.2/24, 203.0.113.10-12)
#
# NS_NET is a fake internet: dnsmasq on 198.51.100.2:53 answering the test
# names and nginx serving HTTP and HTTPS (certificates from a test CA) on
# 203.0.113.10 (allowed.test, api.allowed.test), .11 (other.test, and
# newhost.test, a name no test policy lists) and .12 (evil.test); every
# server also serves TOPO_DIR/www/files/ as /files/ (static repositories
# and package indexes a test puts there). gwhost.test answers the gw
# namespace's own uplink address, late.test 203.0.113.77 (on no interface
# until a test adds it). Everything lives under TOPO_DIR.
#
# Usage:
#   source tests/lib/topo.sh
#   topo_up              # exits 77 when not root
#   trap topo_down EXIT
#   in_guest curl ...; in_gw ...; in_net ...
#   wait_port NS ADDR PORT [timeout-seconds]
#
# Exported: TOPO_ID NS_GUEST NS_GW NS_NET TOPO_DIR GUEST_IF GUEST_IP GW_IP
# GUEST_IP6 GW_IP6 UP_IF UP_IP NET_IP DNS_IP TOPO_CA
# ALLOWED_IP OTHER_IP EVIL_IP.
# KEEP_TOPO=1 keeps TOPO_DIR after topo_down (logs, certificates).
#
# Tests of `agentgw gateway` (no VM) share a harness, at the end of this file:
#   gw_test_init curl sqlite3    # SKIP (77) without a tool, $AGENTGW or root;
#                                # topo_up; EXIT runs `cleanup` if the test
#                                # defines one (calling gw_stop), else gw_cleanup
#   NAME=xx$TOPO_ID              # also POL, DB (defaults under TOPO_DIR)
#   gw_start "tcp:15001 udp:53" -vv   # GW_PID; waits for those listeners
#   ok "what"; bad "what"; sql QUERY; expect_sql "what" QUERY
#   sql_poll 3 QUERY && ok "($n rows)"   # waits up to 60 steps for >= 3
#   id=$(approval_wait connect host:443)  # with the test's approvals()
#   gw_stop; gw_finish 30        # log tail and exit 1 on failures

TOPO_ID=${TOPO_ID:-$$}
NS_GUEST=agw-guest-$TOPO_ID
NS_GW=agw-gw-$TOPO_ID
NS_NET=agw-net-$TOPO_ID
GUEST_IF=gw0
GUEST_IP=10.77.0.2
GW_IP=10.77.0.1
GUEST_IP6=fd77::2
GW_IP6=fd77::1
UP_IF=up0
UP_IP=198.51.100.1
NET_IP=198.51.100.2
DNS_IP=198.51.100.2
ALLOWED_IP=203.0.113.10
OTHER_IP=203.0.113.11
EVIL_IP=203.0.113.12
TOPO_DIR=${TOPO_DIR:-}
TOPO_CA=${TOPO_CA:-}
export TOPO_ID NS_GUEST NS_GW NS_NET GUEST_IF GUEST_IP GW_IP GUEST_IP6 GW_IP6 \
	UP_IF UP_IP NET_IP DNS_IP ALLOWED_IP OTHER_IP EVIL_IP TOPO_DIR TOPO_CA

in_guest() { ip netns exec "$NS_GUEST" "$@"; }
in_gw() { ip netns exec "$NS_GW" "$@"; }
in_net() { ip netns exec "$NS_NET" "$@"; }

# wait_port NS ADDR PORT [timeout]: waits until a TCP listener on ADDR:PORT
# exists inside namespace NS. Returns 1 on timeout.
wait_port() {
	local ns=$1 addr=$2 port=$3 t=${4:-10} i
	for ((i = 0; i < t * 20; i++)); do
		if ip netns exec "$ns" ss -Hltn "src $addr:$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	echo "topo: nothing listens on $addr:$port in $ns after ${t}s" >&2
	return 1
}

# wait_udp NS ADDR PORT [timeout]: same for a UDP socket.
wait_udp() {
	local ns=$1 addr=$2 port=$3 t=${4:-10} i
	for ((i = 0; i < t * 20; i++)); do
		if ip netns exec "$ns" ss -Hlun "src $addr:$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	echo "topo: no UDP socket on $addr:$port in $ns after ${t}s" >&2
	return 1
}

_topo_die() {
	echo "topo: $*" >&2
	topo_down
	exit 1
}

# Certificates: one CA, one leaf per server with its names as SANs.
_topo_certs() {
	local d=$TOPO_DIR/pki leaf names
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$d/ca.key" -out "$TOPO_DIR/ca.pem" -days 2 \
		-subj "/CN=agentgw test CA $TOPO_ID" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || return 1
	for leaf in allowed.test other.test evil.test; do
		names="DNS:$leaf"
		[ "$leaf" = allowed.test ] && names="$names,DNS:api.allowed.test"
		[ "$leaf" = other.test ] && names="$names,DNS:newhost.test"
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-keyout "$d/$leaf.key" -out "$d/$leaf.csr" -subj "/CN=$leaf" \
			2>/dev/null || return 1
		printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
			"$names" >"$d/$leaf.ext"
		openssl x509 -req -in "$d/$leaf.csr" -CA "$TOPO_DIR/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/$leaf.ext" -out "$d/$leaf.pem" \
			2>/dev/null || return 1
	done
}

_topo_nginx_server() { # ip name extra-names
	local ip=$1 name=$2 extra=$3 port
	for port in 80 443; do
		cat <<EOF
	server {
		listen $ip:$port$([ $port = 443 ] && echo " ssl");
		server_name $name $extra;
$([ $port = 443 ] && printf '\t\tssl_certificate %s;\n\t\tssl_certificate_key %s;\n' \
	"$TOPO_DIR/pki/$name.pem" "$TOPO_DIR/pki/$name.key")
		root $TOPO_DIR/www;
		location = / { return 200 "$name\n"; }
		location /docs/ { return 200 "$name docs \$uri\n"; }
		location /admin { return 200 "$name admin\n"; }
		location = /big { }
		location = /small { }
		location /files/ { }
		location /gz/ { alias $TOPO_DIR/www/files/; gzip on; gzip_types *; gzip_min_length 1; }
		location / { return 404 "$name not found\n"; }
	}
EOF
	done
}

_topo_nginx() {
	local c=$TOPO_DIR/nginx.conf
	mkdir -p "$TOPO_DIR/www" "$TOPO_DIR/nginx-tmp"
	truncate -s 64M "$TOPO_DIR/www/big"
	head -c 100 /dev/zero | tr '\0' 'x' >"$TOPO_DIR/www/small"
	{
		cat <<EOF
user root;
worker_processes 2;
worker_rlimit_nofile 16384;
pid $TOPO_DIR/nginx.pid;
error_log $TOPO_DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
	access_log $TOPO_DIR/nginx-access.log;
	default_type text/plain;
	client_body_temp_path $TOPO_DIR/nginx-tmp/body;
	proxy_temp_path $TOPO_DIR/nginx-tmp/proxy;
	fastcgi_temp_path $TOPO_DIR/nginx-tmp/fastcgi;
	uwsgi_temp_path $TOPO_DIR/nginx-tmp/uwsgi;
	scgi_temp_path $TOPO_DIR/nginx-tmp/scgi;
	keepalive_requests 100000;
	sendfile on;
EOF
		_topo_nginx_server "$ALLOWED_IP" allowed.test api.allowed.test
		_topo_nginx_server "$OTHER_IP" other.test newhost.test
		_topo_nginx_server "$EVIL_IP" evil.test ""
		echo "}"
	} >"$c"
	in_net nginx -e "$TOPO_DIR/nginx-error.log" -p "$TOPO_DIR" -c "$c" ||
		return 1
}

_topo_dnsmasq() {
	# Only the listed names exist: --address=/#/ makes every other name
	# NXDOMAIN, host/txt records are answered before it.
	in_net dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
		--user=root --group=root \
		--listen-address="$DNS_IP" --bind-interfaces --port=53 \
		--pid-file="$TOPO_DIR/dnsmasq.pid" \
		--log-queries=extra --log-facility="$TOPO_DIR/dnsmasq.log" \
		--host-record=allowed.test,"$ALLOWED_IP" \
		--host-record=api.allowed.test,"$ALLOWED_IP" \
		--host-record=other.test,"$OTHER_IP" \
		--host-record=newhost.test,"$OTHER_IP" \
		--host-record=evil.test,"$EVIL_IP" \
		--host-record=rebind.test,127.0.0.1 \
		--host-record=lan.test,192.168.50.5 \
		--host-record=gwhost.test,"$UP_IP" \
		--host-record=late.test,203.0.113.77 \
		--host-record=v6only.test,2001:db8::10 \
		--txt-record=secret.evil.test,"exfiltrated-secret" \
		--address=/#/ || return 1
}

# _topo_sweep: removes the namespaces of earlier runs that were killed
# before their trap could run (their dnsmasq and nginx would stay up
# forever): /run/agw-topo/ID names each run's owner, the test's shell; the
# namespaces of an owner that is gone go, with what runs in them. An owner
# pid now used by another process keeps its namespaces (the safe side).
_topo_sweep() {
	local f id owner ns
	for f in /run/agw-topo/*; do
		[ -f "$f" ] || continue
		owner=$(head -n1 "$f" 2>/dev/null)
		case "$owner" in '' | *[!0-9]*) continue ;; esac
		kill -0 "$owner" 2>/dev/null && continue
		id=${f##*/}
		for ns in "agw-guest-$id" "agw-gw-$id" "agw-net-$id"; do
			if [ -e "/run/netns/$ns" ]; then
				ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
				ip netns del "$ns" 2>/dev/null
			fi
			rm -rf "/etc/netns/$ns"
		done
		rm -f "$f"
		echo "topo: removed the namespaces of run $id, which ended without cleaning up" >&2
	done
}

topo_up() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root"
		exit 77
	fi
	local t
	for t in ip dnsmasq nginx openssl ss; do
		if ! command -v "$t" >/dev/null; then
			echo "SKIP: $t not installed (run scripts/deps.sh)"
			exit 77
		fi
	done
	_topo_sweep
	TOPO_DIR=$(mktemp -d /tmp/agw-topo-XXXXXX) || exit 1
	TOPO_CA=$TOPO_DIR/ca.pem
	export TOPO_DIR TOPO_CA
	_TOPO_UP=1

	ip netns add "$NS_GUEST" || _topo_die "cannot create $NS_GUEST"
	ip netns add "$NS_GW" || _topo_die "cannot create $NS_GW"
	ip netns add "$NS_NET" || _topo_die "cannot create $NS_NET"
	mkdir -p "/etc/netns/$NS_GUEST" "/etc/netns/$NS_GW"
	mkdir -p /run/agw-topo && echo "$$" >"/run/agw-topo/$TOPO_ID" # its owner, for _topo_sweep
	echo "nameserver $GW_IP" >"/etc/netns/$NS_GUEST/resolv.conf"
	echo "nameserver $DNS_IP" >"/etc/netns/$NS_GW/resolv.conf"

	# Interfaces are created inside the namespaces, so their names can
	# never clash with the host's or with a parallel run's.
	{
		ip -n "$NS_GW" link add "$GUEST_IF" type veth peer name gveth netns "$NS_GUEST" &&
			ip -n "$NS_GW" link add "$UP_IF" type veth peer name nn0 netns "$NS_NET" &&
			ip -n "$NS_GUEST" link set lo up &&
			ip -n "$NS_GW" link set lo up &&
			ip -n "$NS_NET" link set lo up &&
			ip -n "$NS_GUEST" addr add "$GUEST_IP/30" dev gveth &&
			ip -n "$NS_GUEST" addr add "$GUEST_IP6/64" dev gveth nodad &&
			ip -n "$NS_GW" addr add "$GW_IP/30" dev "$GUEST_IF" &&
			ip -n "$NS_GW" addr add "$GW_IP6/64" dev "$GUEST_IF" nodad &&
			ip -n "$NS_GW" addr add "$UP_IP/24" dev "$UP_IF" &&
			ip -n "$NS_NET" addr add "$NET_IP/24" dev nn0 &&
			ip -n "$NS_NET" addr add "$ALLOWED_IP/32" dev nn0 &&
			ip -n "$NS_NET" addr add "$OTHER_IP/32" dev nn0 &&
			ip -n "$NS_NET" addr add "$EVIL_IP/32" dev nn0 &&
			ip -n "$NS_GUEST" link set gveth up &&
			ip -n "$NS_GW" link set "$GUEST_IF" up &&
			ip -n "$NS_GW" link set "$UP_IF" up &&
			ip -n "$NS_NET" link set nn0 up &&
			ip -n "$NS_GUEST" route add default via "$GW_IP" &&
			ip -n "$NS_GUEST" -6 route add default via "$GW_IP6" &&
			ip -n "$NS_GW" route add default via "$NET_IP" &&
			ip -n "$NS_NET" route add 10.77.0.0/30 via "$UP_IP"
	} || _topo_die "cannot set up links and addresses"

	_topo_certs || _topo_die "cannot make test certificates"
	_topo_dnsmasq || _topo_die "cannot start dnsmasq (see $TOPO_DIR/dnsmasq.log)"
	_topo_nginx || _topo_die "cannot start nginx (see $TOPO_DIR/nginx-error.log)"
	wait_udp "$NS_NET" "$DNS_IP" 53 10 || _topo_die "dnsmasq did not come up"
	for t in "$ALLOWED_IP" "$OTHER_IP" "$EVIL_IP"; do
		wait_port "$NS_NET" "$t" 443 10 || _topo_die "nginx did not come up"
	done
	return 0
}

_topo_kill_pidfile() {
	local f=$1 pid i
	[ -f "$f" ] || return 0
	pid=$(head -n1 "$f" 2>/dev/null)
	case "$pid" in '' | *[!0-9]*) return 0 ;; esac
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

topo_down() {
	local ns
	[ -n "${TOPO_DIR:-}" ] && [ -d "$TOPO_DIR" ] && {
		_topo_kill_pidfile "$TOPO_DIR/nginx.pid"
		_topo_kill_pidfile "$TOPO_DIR/dnsmasq.pid"
	}
	for ns in "$NS_GUEST" "$NS_GW" "$NS_NET"; do
		# Whatever a test left running in the namespace would keep it
		# alive; kill only processes inside our own namespaces.
		if [ -e "/run/netns/$ns" ]; then
			ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
			ip netns del "$ns" 2>/dev/null
		fi
		rm -rf "/etc/netns/$ns"
	done
	rm -f "/run/agw-topo/$TOPO_ID"
	if [ -n "${TOPO_DIR:-}" ] && [ -d "$TOPO_DIR" ]; then
		if [ "${KEEP_TOPO:-0}" = 1 ]; then
			echo "topo: kept $TOPO_DIR" >&2
		else
			rm -rf "$TOPO_DIR"
		fi
	fi
	return 0
}


# ---- agentgw gateway harness (integration tests) ----

# gw_test_init TOOL...: the common head of a gateway test. SKIPs (exit 77)
# unless every TOOL is installed and $AGENTGW (default $BUILD/agentgw) is
# built, then topo_up (which SKIPs without root). Sets AGENTGW, GW_PID=,
# failures=0, DB=$TOPO_DIR/audit.db, POL=$TOPO_DIR/policy.yaml, and traps
# EXIT to the test's own `cleanup` when it defines one (it must call gw_stop
# and topo_down), else to gw_cleanup. Exits on a failed set-up. Defines the
# checks ok WHAT and bad WHAT (counts failures) only here: e2e.sh, sourced
# beside this file by some tests, has its own.
gw_test_init() {
	local t
	# shellcheck disable=SC2317 # called by the test
	ok() { echo "ok   $*"; }
	# shellcheck disable=SC2317
	bad() { echo "FAIL $*"; failures=$((failures + 1)); }
	AGENTGW=${AGENTGW:-$PWD/${BUILD:-build}/agentgw}
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
	done
	[ -x "$AGENTGW" ] || { echo "SKIP: $AGENTGW not built"; exit 77; }
	GW_PID=
	MNT=
	failures=0
	topo_up
	if declare -F cleanup >/dev/null; then
		trap cleanup EXIT
	else
		trap gw_cleanup EXIT
	fi
	DB=$TOPO_DIR/audit.db
	POL=$TOPO_DIR/policy.yaml
}

# gw_started: how many sandbox rows named $NAME the audit database holds
# (0 without a database; never creates one; unlike sql, which would).
gw_started() {
	local n=
	[ -f "$DB" ] && n=$(sqlite3 -cmd '.timeout 2000' "file:$DB?mode=ro" \
		"SELECT count(*) FROM sandbox WHERE name = '$NAME'" 2>/dev/null)
	echo "${n:-0}"
}

# gw_start WAITS [FLAG...]: starts `agentgw gateway --iface $GUEST_IF
# --policy $POL --audit $DB --name $NAME FLAG...` in the gw namespace in the
# background, output appended to $GW_LOG (default $TOPO_DIR/gw.log). GW_PID
# is the supervisor itself (ip netns exec execs). GW_WRAP, if set, is a
# command put before agentgw inside the namespace (split on blanks), e.g.
# GW_WRAP="prlimit --nofile=48". WAITS lists the listeners on $GW_IP to wait
# for, 10 s each: "tcp:PORT udp:PORT ...". When one does not come up, prints
# the log and exits 1. Then waits for the supervisor's new sandbox row in
# $DB (up to 10 s): it comes after the retention pruning.
gw_start() {
	local waits=$1 log=${GW_LOG:-$TOPO_DIR/gw.log} w started
	shift
	started=$(gw_started)
	# shellcheck disable=SC2086,SC2153 # GW_WRAP is a command line; the test sets NAME
	ip netns exec "$NS_GW" ${GW_WRAP:-} "$AGENTGW" gateway --iface "$GUEST_IF" --policy "$POL" \
		--audit "$DB" --name "$NAME" "$@" >>"$log" 2>&1 &
	GW_PID=$!
	for w in $waits; do
		case $w in
		tcp:*) wait_port "$NS_GW" "$GW_IP" "${w#tcp:}" 10 ;;
		udp:*) wait_udp "$NS_GW" "$GW_IP" "${w#udp:}" 10 ;;
		*) echo "gw_start: bad wait '$w'" >&2 && false ;;
		esac || {
			cat "$log"
			echo "gateway did not start"
			exit 1
		}
	done
	# The listeners are bound before the supervisor has its audit database
	# (retention applied): wait for its sandbox row too.
	for _ in $(seq 200); do
		[ "$(gw_started)" -gt "$started" ] && return 0
		kill -0 "$GW_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$log"
	echo "gateway did not report it started"
	exit 1
}

# gw_stop: stops the gateway of GW_PID if any (SIGTERM, up to 5 s, then
# SIGKILL), reaps it and clears GW_PID.
gw_stop() {
	[ -n "${GW_PID:-}" ] || return 0
	kill -TERM "$GW_PID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$GW_PID" 2>/dev/null
	wait "$GW_PID" 2>/dev/null
	GW_PID=
}

# gw_tiny_db: puts the audit database on a 2 MiB tmpfs of its own
# (MNT=$TOPO_DIR/small, DB=$MNT/audit.db), for tests that fill the disk;
# gw_cleanup unmounts it. SKIPs (exit 77) when the mount fails.
gw_tiny_db() {
	MNT=$TOPO_DIR/small
	mkdir -p "$MNT"
	mount -t tmpfs -o size=2m tmpfs "$MNT" || { MNT=; echo "SKIP: cannot mount tmpfs"; exit 77; }
	DB=$MNT/audit.db
}

# gw_cleanup: the EXIT trap of a gateway test without its own: gw_stop,
# unmount gw_tiny_db's tmpfs, topo_down.
gw_cleanup() {
	gw_stop
	[ -n "${MNT:-}" ] && umount "$MNT" 2>/dev/null
	topo_down
}

# sql QUERY: the result of QUERY on the audit database $DB (nothing on error).
sql() { sqlite3 -cmd '.timeout 2000' "$DB" "$1" 2>/dev/null; }

# sql_poll MIN QUERY [STEP]: runs QUERY up to 60 times, STEP seconds apart
# (default 0.05), until it returns a number >= MIN. Leaves the last result
# in n (a caller with an n of its own declares `local n`). Returns 1 when
# the number never reached MIN.
sql_poll() {
	for _ in $(seq 60); do
		n=$(sql "$2")
		[ "${n:-0}" -ge "$1" ] 2>/dev/null && return 0
		sleep "${3:-0.05}"
	done
	return 1
}

# expect_sql DESCRIPTION QUERY: polls up to 3 s until QUERY returns >= 1:
# ok "audit: DESCRIPTION", else bad and the last 6 events. Returns 1 then.
expect_sql() {
	local n
	sql_poll 1 "$2" && { ok "audit: $1"; return 0; }
	bad "audit: $1"
	sql "SELECT kind,op,target,decision,rule,reason,detail FROM event ORDER BY id DESC LIMIT 6" | sed 's/^/     /'
	return 1
}

# approval_wait KIND SUBJECT [SECONDS]: prints the id of the first pending
# approval of KIND (dns, connect, fs...) for SUBJECT in the output of the
# test's own `approvals` function (`agentgw approvals --json NAME`, run as
# the test reaches its sandbox), polling every 0.1 s up to SECONDS (default
# 10). Returns 1 when none came.
approval_wait() {
	local id
	for _ in $(seq $((${3:-10} * 10))); do
		id=$(approvals 2>/dev/null | jq -r --arg k "$1" --arg s "$2" \
			'.[] | select(.kind == $k and .subject == $s) | .id' | head -1)
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}

# gw_finish LINES [LOG]: the end of a gateway test: with failures, the last
# LINES of LOG (default $TOPO_DIR/gw.log) and exit 1; else "all checks
# passed".
gw_finish() {
	if [ "$failures" != 0 ]; then
		echo "--- gateway log (tail)"
		tail -n "$1" "${2:-$TOPO_DIR/gw.log}"
		echo "$failures check(s) failed"
		exit 1
	fi
	echo "all checks passed"
}
