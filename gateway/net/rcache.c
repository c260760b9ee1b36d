// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rcache: direct-mapped table of resolver answers (see rcache.h). The slot
 * is FNV-1a over the lower-cased name and the family; a slot holds one
 * entry, checked by name and family on lookup, so a collision only costs a
 * miss. Names longer than a DNS name are never cached.
 */
#include "rcache.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define RCACHE_NAME_MAX 254

struct rcache_ent {
	char name[RCACHE_NAME_MAX + 1]; /* lower case; "" = empty slot */
	int64_t stored_us, expires_us;
	struct res_answer ans;
};

struct rcache {
	struct rcache_ent slot[RCACHE_SLOTS];
};

int rcache_new(struct rcache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -AGW_ENOMEM;
}

void rcache_free(struct rcache *c)
{
	free(c);
}

/* Lower-case name into buf; false when it does not fit. */
static bool rcache_key(const char *name, char *buf)
{
	size_t n = strlen(name);

	if (n == 0 || n > RCACHE_NAME_MAX)
		return false;
	for (size_t i = 0; i <= n; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	if (n > 1 && buf[n - 1] == '.') /* trailing dot: the same name */
		buf[n - 1] = '\0';
	return true;
}

static struct rcache_ent *rcache_slot(struct rcache *c, const char *key, int family)
{
	uint32_t h = 2166136261u;

	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ (uint32_t)family) * 16777619u;
	return &c->slot[h % RCACHE_SLOTS];
}

void rcache_put(struct rcache *c, const char *name, const struct res_answer *ans, int64_t now_us)
{
	char key[RCACHE_NAME_MAX + 1];
	struct rcache_ent *e;
	uint32_t ttl = RCACHE_MAX_S;

	if (ans->status != RES_OK || (ans->family != AF_INET && ans->family != AF_INET6) ||
	    ans->n > RES_MAX_ADDRS || !rcache_key(name, key))
		return;
	for (size_t i = 0; i < ans->n; i++)
		if (ans->ttl[i] < ttl)
			ttl = ans->ttl[i];
	if (ttl < RCACHE_MIN_S)
		ttl = RCACHE_MIN_S;
	e = rcache_slot(c, key, ans->family);
	memcpy(e->name, key, sizeof(key));
	e->ans = *ans;
	e->ans.error = NULL;
	e->stored_us = now_us;
	e->expires_us = now_us + (int64_t)ttl * 1000000;
}

bool rcache_get(struct rcache *c, const char *name, int family, int64_t now_us,
		struct res_answer *ans)
{
	char key[RCACHE_NAME_MAX + 1];
	struct rcache_ent *e;
	uint32_t aged;

	if (!rcache_key(name, key))
		return false;
	e = rcache_slot(c, key, family);
	if (!e->name[0] || e->ans.family != family || strcmp(e->name, key))
		return false;
	if (now_us >= e->expires_us || now_us < e->stored_us) {
		e->name[0] = '\0';
		return false;
	}
	*ans = e->ans;
	aged = (uint32_t)((now_us - e->stored_us) / 1000000);
	for (size_t i = 0; i < ans->n; i++)
		ans->ttl[i] = ans->ttl[i] > aged + 1 ? ans->ttl[i] - aged : 1;
	return true;
}
