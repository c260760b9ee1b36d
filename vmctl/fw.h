/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-sandbox nftables table `inet agentgw_<name>`, built with libnftnl
 * and sent over one netlink socket (libmnl) as one atomic batch. It
 * redirects the sandbox interface's DNS and TCP to the gateway's ports,
 * lets through only the gateway's own services, and logs every other
 * packet from the sandbox to an NFLOG group before dropping it. Only the
 * supervisor calls these (CAP_NET_ADMIN); they act on the calling thread's
 * network namespace and never touch any other table.
 *
 * The table, for iface IF, gateway G, guest A (rules only match iifname IF
 * or oifname IF, so other traffic of the host is untouched):
 *
 *   chain prerouting  nat hook prerouting priority dstnat (-100)
 *     ipv4 udp dport 53           redirect to :dns_port
 *     ipv4 tcp dport 53           redirect to :dns_port
 *     ipv4 tcp ip daddr != G      redirect to :proxy_port (SO_ORIGINAL_DST)
 *   chain guard  filter hook prerouting priority dstnat+10 (-90)
 *     ipv6                         log "agw:<name>:v6" drop
 *     ip saddr != A (A set)        log "agw:<name>:spoof" drop
 *     fib daddr type != local      log "agw:<name>:fwd" drop
 *   chain input  filter hook input priority filter (0)
 *     ct state established,related accept
 *     ipv6                         log "agw:<name>:v6" drop
 *     ip daddr G udp dport dns_port accept
 *     ip daddr G tcp dport dns_port accept
 *     ip daddr G tcp dport proxy_port ct status dnat accept
 *     ip daddr G tcp dport p9_port accept      (when p9_port != 0)
 *     ip daddr G icmp type echo-request accept
 *     log "agw:<name>:in" drop
 *   chain forward  filter hook forward priority filter (0)
 *     iifname IF log "agw:<name>:fwd" drop
 *     oifname IF drop
 *
 * The guard chain makes a packet to a non-local address (e.g. ICMP or UDP
 * to the outside) logged and dropped whether or not the host forwards; the
 * proxy port only takes redirected connections, so a direct connection to
 * it cannot make the proxy connect to itself.
 *
 * NFLOG prefixes are "agw:<name>:<why>" with <why> one of in, fwd, v6,
 * spoof; at most FW_PREFIX_MAX bytes with the NUL.
 */
#ifndef AGW_FW_H
#define AGW_FW_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "agw.h"

#define FW_NAME_MAX 32
#define FW_TABLE_PREFIX "agentgw_"
#define FW_LOG_PREFIX "agw:"
#define FW_PREFIX_MAX 64
/* Bytes of each logged packet copied to NFLOG (enough for IP + L4 ports). */
#define FW_LOG_SNAPLEN 128

struct fw_config {
	const char *name;	   /* sandbox name: [a-z0-9_-]{1,32}; table agentgw_<name> */
	const char *iface;	   /* the sandbox interface (tap or veth), 1..15 bytes */
	struct in_addr gw_addr;	   /* gateway address on iface (network order) */
	struct in_addr guest_addr; /* guest address; INADDR_ANY: no anti-spoof rule */
	uint16_t dns_port;	   /* gateway's DNS port (UDP and TCP), host order */
	uint16_t proxy_port;	   /* gateway's transparent TCP port */
	uint16_t p9_port;	   /* gateway's 9P port; 0: no 9P rule */
	uint16_t nflog_group;	   /* NFLOG group for dropped packets */
};

/* True when name matches [a-z0-9_-]{1,32}. */
bool fw_name_valid(const char *name);

/*
 * Replaces the table of c->name with a fresh one as one atomic batch: a
 * stale table of the same name is deleted in the same transaction, so the
 * ruleset is never without the table once it existed. Returns 0,
 * -AGW_EINVAL for a bad name, interface, address or port, or -errno from
 * the kernel (e.g. -EPERM without CAP_NET_ADMIN, -ENOENT when a needed nf
 * module is missing). Blocks for one netlink round trip.
 */
int fw_apply(const struct fw_config *c);

/*
 * Deletes table inet agentgw_<name>. Returns 0 also when it did not exist,
 * -AGW_EINVAL for a bad name, or -errno. Blocks for one netlink round trip.
 */
int fw_remove(const char *name);

/*
 * Whether table inet agentgw_<name> exists. False for a bad name or when
 * the kernel cannot be asked. Blocks for one netlink round trip.
 */
bool fw_exists(const char *name);

/*
 * Writes the NFLOG prefix "agw:<name>:<why>" into out[cap]. Returns 0,
 * -AGW_EINVAL for a bad name, -AGW_ETOOBIG when it does not fit.
 */
int fw_log_prefix(const char *name, const char *why, char *out, size_t cap);

#endif
