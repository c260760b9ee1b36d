/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Address classification and formatting for the gateway's SSRF and
 * DNS-rebinding checks: which special-purpose range (RFC 6890 and friends)
 * an IPv4 or IPv6 socket address is in. Pure, no I/O, never blocks.
 *
 * Documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
 * 2001:db8::/32) are deliberately PUBLIC: the integration tests' fake
 * internet lives there inside network namespaces, and treating them as
 * special would make every test connection a refusal.
 */
#ifndef AGW_ADDR_H
#define AGW_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "agw.h"

enum addr_class {
	ADDR_PUBLIC = 0,
	ADDR_PRIVATE,	  /* 10/8, 172.16/12, 192.168/16 */
	ADDR_LOOPBACK,	  /* 127/8, ::1 */
	ADDR_LINKLOCAL,	  /* 169.254/16, fe80::/10 */
	ADDR_CGNAT,	  /* 100.64/10 */
	ADDR_MULTICAST,	  /* 224/4, ff00::/8 */
	ADDR_UNSPECIFIED, /* 0/8, ::/128 */
	ADDR_V4MAPPED,	  /* ::ffff:0:0/96 */
	ADDR_BROADCAST,	  /* 255.255.255.255 */
	ADDR_RESERVED,	  /* 240/4, 192.0.0/24, 198.18/15, ::/96, 2001::/32, fec0::/10,
			     IPv6 outside 2000::/3 otherwise unclassified, bad family */
	ADDR_ULA,	  /* fc00::/7 */
	ADDR_GATEWAY,	  /* assigned to the gateway's own network namespace: never
			     returned by addr_classify, see hostaddr.h */
};

/*
 * Class of an AF_INET or AF_INET6 address (port ignored). 64:ff9b::/96
 * (NAT64) and 2002::/16 (6to4) return the class of the embedded IPv4
 * address; other families and NULL return ADDR_RESERVED.
 */
enum addr_class addr_classify(const struct sockaddr *sa);

/* Short stable name ("public", "private", ...); never NULL. */
const char *addr_class_str(enum addr_class c);

/*
 * Formats "1.2.3.4:443" or "[::1]:443" (":port" omitted when port is 0:
 * "1.2.3.4", "[::1]")
 * into out[cap]. Returns 0, -AGW_ETOOBIG when it does not fit (out is then
 * ""), -AGW_EINVAL for another family.
 */
int addr_format(const struct sockaddr *sa, char *out, size_t cap);

#endif
