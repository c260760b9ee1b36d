// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DNS bindings table (see dnsb.h): a flat array scanned linearly. A sandbox
 * resolves few distinct names, so a scan of a few thousand entries costs
 * less than keeping two hash indexes consistent.
 */
#include "dnsb.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct dnsb_ent {
	char name[DNSB_NAME_MAX + 1];
	int family;
	uint8_t addr[16];
	int64_t expires;
	bool used;
};

struct dnsb {
	size_t max, n;
	struct dnsb_ent *v;
};

static size_t dnsb_alen(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

int dnsb_new(size_t max, struct dnsb **out)
{
	struct dnsb *b;

	*out = NULL;
	if (!max)
		return -AGW_EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -AGW_ENOMEM;
	b->v = calloc(max, sizeof(*b->v));
	if (!b->v) {
		free(b);
		return -AGW_ENOMEM;
	}
	b->max = max;
	*out = b;
	return 0;
}

void dnsb_free(struct dnsb *b)
{
	if (!b)
		return;
	free(b->v);
	free(b);
}

void dnsb_add(struct dnsb *b, const char *name, int family, const uint8_t *addr, int64_t expires)
{
	struct dnsb_ent *victim = NULL;
	size_t alen = dnsb_alen(family);

	if (strlen(name) > DNSB_NAME_MAX)
		return;
	for (size_t i = 0; i < b->n; i++) {
		struct dnsb_ent *e = &b->v[i];

		if (e->family == family && memcmp(e->addr, addr, alen) == 0 &&
		    strcmp(e->name, name) == 0) {
			if (expires > e->expires)
				e->expires = expires;
			return;
		}
		if (!victim || e->expires < victim->expires)
			victim = e;
	}
	if (b->n < b->max)
		victim = &b->v[b->n++];
	memset(victim, 0, sizeof(*victim));
	strcpy(victim->name, name);
	victim->family = family;
	memcpy(victim->addr, addr, alen);
	victim->expires = expires;
	victim->used = true;
}

size_t dnsb_addrs(const struct dnsb *b, const char *name, int family, int64_t now,
		  uint8_t (*out)[16], size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n && k < max; i++) {
		const struct dnsb_ent *e = &b->v[i];

		if (e->family == family && e->expires > now && strcmp(e->name, name) == 0)
			memcpy(out[k++], e->addr, 16);
	}
	return k;
}

size_t dnsb_names(const struct dnsb *b, int family, const uint8_t *addr, int64_t now,
		  const char **out, size_t max)
{
	size_t k = 0, alen = dnsb_alen(family);

	for (size_t i = 0; i < b->n && k < max; i++) {
		const struct dnsb_ent *e = &b->v[i];

		if (e->family == family && e->expires > now && memcmp(e->addr, addr, alen) == 0)
			out[k++] = e->name;
	}
	return k;
}

size_t dnsb_count(const struct dnsb *b)
{
	return b->n;
}
