/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Summary of a raw IPv4 or IPv6 packet as the kernel hands it to NFLOG:
 * family, final upper-layer protocol, addresses, ports and ICMP type. Used
 * to turn each packet the firewall drops into one `net`/`drop` audit event.
 * Pure: no I/O, no globals, never blocks; safe on any bytes (fuzzed).
 */
#ifndef AGW_PKT_H
#define AGW_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "agw.h"

/* IPv6 extension headers followed before giving up with -AGW_EPARSE. */
#define PKT_MAX_EXT_HDRS 8

/* Room for "[ffff:...:ffff]:65535" plus NUL. */
#define PKT_ADDR_STRLEN 56

union pkt_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;	  /* family AF_INET, port in network order */
	struct sockaddr_in6 sin6; /* family AF_INET6, port in network order */
};

struct pkt_info {
	int family;	    /* AF_INET or AF_INET6 */
	uint8_t proto;	    /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or another number */
	union pkt_addr src; /* address and port (0 when the protocol has none) */
	union pkt_addr dst;
	uint16_t sport; /* host order; valid when has_ports */
	uint16_t dport;
	uint8_t icmp_type; /* valid when has_icmp */
	uint8_t icmp_code;
	bool has_ports;	   /* TCP, UDP, UDP-Lite, SCTP or DCCP with its ports present */
	bool has_icmp;	   /* ICMP or ICMPv6 with type and code present */
	bool fragment;	   /* a non-first fragment: no upper-layer header */
	uint8_t tcp_flags; /* TCP flags byte; 0 when not TCP or not captured */
	uint32_t ip_len;   /* total length claimed by the IP header */
};

/*
 * Fills *pi from the packet bytes pkt[0..len) (starting at the IP header).
 * Returns 0 when everything the protocol defines (addresses, ports or ICMP
 * type) was present; -AGW_ETRUNC when the IP header parsed but the
 * upper-layer header is cut short (pi then holds family, proto and
 * addresses, has_ports/has_icmp false); -AGW_EPARSE when the IP header
 * itself is truncated or malformed, or the IPv6 extension-header chain is
 * longer than PKT_MAX_EXT_HDRS (pi is zeroed). Never blocks.
 */
int pkt_summarize(const uint8_t *pkt, size_t len, struct pkt_info *pi);

/* "tcp", "udp", "icmp", "icmpv6", "udplite", "sctp", "dccp", "esp", "ah",
 * "gre", or "other". Never NULL; static storage. */
const char *pkt_proto_name(uint8_t proto);

/*
 * Formats the destination (or source) as "1.2.3.4:53", "[fd77::1]:443", or
 * without ":port" when the packet has no ports, into out[cap]. Returns 0 or
 * -AGW_ETOOBIG (out is then "").
 */
int pkt_format_dst(const struct pkt_info *pi, char *out, size_t cap);
int pkt_format_src(const struct pkt_info *pi, char *out, size_t cap);

/*
 * Writes a JSON object describing the packet into out[cap], e.g.
 * {"proto":"udp","src":"10.77.0.2:40000","dst":"8.8.8.8:53","len":60}
 * with "icmp_type"/"icmp_code" for ICMP, "fragment":true for fragments and
 * "flags" for TCP. Returns 0 or -AGW_ETOOBIG (out is then "").
 */
int pkt_format_json(const struct pkt_info *pi, char *out, size_t cap);

#endif
