// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DNS bindings table (see dnsb.h): a flat array scanned linearly. A sandbox
 * resolves few distinct names, so a scan of a few thousand entries costs
 * less than keeping two hash indexes consistent. A shared table is one
 * MAP_SHARED mapping (header, then the entries) that the net workers
 * inherit across fork, its operations under a process-shared mutex.
 */
#include "dnsb.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

struct dnsb_ent {
	char name[DNSB_NAME_MAX + 1];
	int family;
	uint8_t addr[16];
	int64_t expires;
	bool used;
};

struct dnsb {
	pthread_mutex_t mu; /* shared tables only */
	bool shared;
	size_t max, n, maplen;
	struct dnsb_ent v[];
};

static void dnsb_lock(struct dnsb *b)
{
	if (b->shared)
		pthread_mutex_lock(&b->mu);
}

static void dnsb_unlock(struct dnsb *b)
{
	if (b->shared)
		pthread_mutex_unlock(&b->mu);
}

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
	b = calloc(1, sizeof(*b) + max * sizeof(b->v[0]));
	if (!b)
		return -AGW_ENOMEM;
	b->max = max;
	*out = b;
	return 0;
}

int dnsb_new_shared(size_t max, struct dnsb **out)
{
	size_t len = sizeof(struct dnsb) + max * sizeof(struct dnsb_ent);
	pthread_mutexattr_t ma;
	struct dnsb *b;
	int rc;

	*out = NULL;
	if (!max)
		return -AGW_EINVAL;
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return -AGW_ENOMEM;
	/* zero-filled by the kernel */
	pthread_mutexattr_init(&ma);
	rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutex_init(&b->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc) {
		munmap(b, len);
		return -rc;
	}
	b->shared = true;
	b->max = max;
	b->maplen = len;
	*out = b;
	return 0;
}

void dnsb_free(struct dnsb *b)
{
	if (!b)
		return;
	if (b->shared)
		munmap(b, b->maplen); /* the mutex lives on in the other mappings */
	else
		free(b);
}

void dnsb_add(struct dnsb *b, const char *name, int family, const uint8_t *addr, int64_t expires)
{
	struct dnsb_ent *victim = NULL;
	size_t alen = dnsb_alen(family);

	if (strlen(name) > DNSB_NAME_MAX)
		return;
	dnsb_lock(b);
	for (size_t i = 0; i < b->n; i++) {
		struct dnsb_ent *e = &b->v[i];

		if (e->family == family && memcmp(e->addr, addr, alen) == 0 &&
		    strcmp(e->name, name) == 0) {
			if (expires > e->expires)
				e->expires = expires;
			dnsb_unlock(b);
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
	dnsb_unlock(b);
}

size_t dnsb_addrs(struct dnsb *b, const char *name, int family, int64_t now,
		  uint8_t (*out)[16], size_t max)
{
	size_t k = 0;

	dnsb_lock(b);
	for (size_t i = 0; i < b->n && k < max; i++) {
		const struct dnsb_ent *e = &b->v[i];

		if (e->family == family && e->expires > now && strcmp(e->name, name) == 0)
			memcpy(out[k++], e->addr, 16);
	}
	dnsb_unlock(b);
	return k;
}

size_t dnsb_names(struct dnsb *b, int family, const uint8_t *addr, int64_t now,
		  char (*out)[DNSB_NAME_MAX + 1], size_t max)
{
	size_t k = 0, alen = dnsb_alen(family);

	dnsb_lock(b);
	for (size_t i = 0; i < b->n && k < max; i++) {
		const struct dnsb_ent *e = &b->v[i];

		if (e->family == family && e->expires > now && memcmp(e->addr, addr, alen) == 0)
			memcpy(out[k++], e->name, sizeof(e->name));
	}
	dnsb_unlock(b);
	return k;
}

size_t dnsb_count(struct dnsb *b)
{
	size_t n;

	dnsb_lock(b);
	n = b->n;
	dnsb_unlock(b);
	return n;
}
