/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small cache of the upstream resolver's answers (gateway/net/res.c), so
 * that a burst of connections to one name costs one upstream lookup, not
 * one each. Keyed by (name, family), case-insensitive; only answers with
 * status RES_OK are kept (addresses, or none: NODATA), for the smallest TTL
 * of the answer clamped to [RCACHE_MIN_S, RCACHE_MAX_S]. Failures and
 * NXDOMAIN are never cached. Fixed size (a direct-mapped table; a newer
 * answer evicts an older one in its slot), never allocates after creation.
 * Caching does not widen what is allowed: every address still goes through
 * the policy and the private-range checks of its caller.
 */
#ifndef AGW_RCACHE_H
#define AGW_RCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "res.h"

#define RCACHE_SLOTS 512
#define RCACHE_MIN_S 1
#define RCACHE_MAX_S 60

struct rcache;

int rcache_new(struct rcache **out);
void rcache_free(struct rcache *c); /* NULL-safe */
/* Remember ans for name at time now_us (monotonic). Ignored when not RES_OK. */
void rcache_put(struct rcache *c, const char *name, const struct res_answer *ans, int64_t now_us);
/*
 * Copy a fresh answer for (name, family) into *ans, its TTLs lowered by the
 * time spent in the cache (at least 1). Returns false when there is none.
 */
bool rcache_get(struct rcache *c, const char *name, int family, int64_t now_us,
		struct res_answer *ans);

#endif
