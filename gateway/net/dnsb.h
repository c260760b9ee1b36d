/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sandbox's DNS bindings: which addresses the gateway told the guest a
 * name has, until when. The proxy uses them for connections that carry no
 * name (no SNI, not HTTP): the original destination must be bound to a name
 * the policy allows. Also a fresh-answer cache for the proxy's own lookups.
 * Bounded (oldest expiry evicted first). A private table is for one
 * thread; a shared one (dnsb_new_shared) is for the net workers of one
 * sandbox, processes forked after it was made: one worker adds (the one
 * serving DNS), every worker reads. Never blocks but on the table's own
 * short lock.
 */
#ifndef AGW_DNSB_H
#define AGW_DNSB_H

#include <stddef.h>
#include <stdint.h>

#include "agw.h"

#define DNSB_NAME_MAX 253

struct dnsb;

/* New table holding at most max bindings. Returns 0 and *out, or
 * -AGW_ENOMEM / -AGW_EINVAL (max 0). */
int dnsb_new(size_t max, struct dnsb **out);
/* Like dnsb_new, in memory shared with the processes forked after it
 * (MAP_SHARED): what one adds the others see. */
int dnsb_new_shared(size_t max, struct dnsb **out);
/* NULL-safe; a shared table stays for the processes that still map it. */
void dnsb_free(struct dnsb *b);

/* Records name -> addr (family AF_INET: 4 bytes used, AF_INET6: 16) until
 * expires (monotonic ms). An existing binding gets the later expiry. */
void dnsb_add(struct dnsb *b, const char *name, int family, const uint8_t *addr, int64_t expires);

/* Fresh addresses of name (at most max) into out; returns the count. */
size_t dnsb_addrs(struct dnsb *b, const char *name, int family, int64_t now,
		  uint8_t (*out)[16], size_t max);

/* Names with a fresh binding to addr (at most max), copied into out.
 * Returns the count. */
size_t dnsb_names(struct dnsb *b, int family, const uint8_t *addr, int64_t now,
		  char (*out)[DNSB_NAME_MAX + 1], size_t max);

/* Number of bindings stored (fresh or not). */
size_t dnsb_count(struct dnsb *b);

#endif
