/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sandbox's DNS server, on UDP and TCP at the gateway address: A and
 * AAAA for names the policy allows are resolved upstream (res_) and
 * answered with capped TTLs, and recorded as DNS bindings (dnsb_); names no
 * rule allows get NXDOMAIN; names the policy asks about (verdict ask)
 * wait for a person up to DNSS_ASK_HOLD_MS, then SERVFAIL (an approval
 * that comes later lets the retry through); other query types and
 * non-host names get REFUSED; malformed messages are counted and get FORMERR when a header is
 * there. Every answered query is an audit event, sent before the answer.
 * Runs on the net child's loop; never blocks.
 */
#ifndef AGW_DNSS_H
#define AGW_DNSS_H

#include "netd.h"

#define DNSS_MAX_PENDING 256 /* queries waiting for upstream */
#define DNSS_MAX_TCP 64	     /* TCP connections */
#define DNSS_TCP_IDLE_MS 10000
#define DNSS_BIND_GRACE_S 60
/* A query asked of a person is held at most this long, below the 5 s a
 * stub resolver waits, then answered SERVFAIL (see dnss.c). */
#define DNSS_ASK_HOLD_MS 4000
#define DNSS_TTL_MAX                                                                               \
	300 /* TTL cap when the policy gives none (answers get at least 1) */ /* bindings outlive  \
										 the TTL by this   \
										 much */

struct dnss;

/* Starts serving on the given sockets (either may be -1; dnss takes
 * ownership of both). Returns 0 and *out, or -AGW_ENOMEM / -errno. */
int dnss_new(struct netd *n, int udp_fd, int tcp_fd, struct dnss **out);
/* Stops, closes the sockets and connections, cancels lookups. NULL-safe. */
void dnss_free(struct dnss *d);
/* Stops (on false) or resumes reading UDP queries and accepting TCP
 * connections; what comes meanwhile waits in the kernel. NULL-safe. */
void dnss_intake(struct dnss *d, bool on);

#endif
