// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * DNS bindings table (see dnsb.h): a flat array scanned linearly. A sandbox
 * resolves few distinct names, so a scan of a few thousand entries costs
 * less than keeping two hash indexes consistent. A shared table is one
 * MAP_SHARED mapping (mutex, count, entries) that the net workers inherit
 * across fork, its operations under that process-shared mutex.
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

/* The table itself: in the process's heap, or in the shared mapping. */
struct dnsb_tab {
	pthread_mutex_t mu; /* shared tables only */
	size_t n;
	struct dnsb_ent v[];
};

/*
 * This process's handle. What bounds every access (max, the mapping's
 * length) is kept here, never read from shared memory: a worker that
 * scribbled over the table cannot make another process (or the
 * supervisor, which unmaps its copy) read or unmap outside it.
 */
struct dnsb {
	bool shared;
	size_t max, maplen;
	struct dnsb_tab *t;
};

static void dnsb_lock(struct dnsb *b)
{
	if (b->shared)
		pthread_mutex_lock(&b->t->mu);
}

static void dnsb_unlock(struct dnsb *b)
{
	if (b->shared)
		pthread_mutex_unlock(&b->t->mu);
}

/* entries in use, never more than this process's max */
static size_t dnsb_n(const struct dnsb *b)
{
	return AGW_MIN(b->t->n, b->max);
}

/* e names name (a shared entry may lack its NUL: compared within size) */
static bool dnsb_is(const struct dnsb_ent *e, const char *name)
{
	return strncmp(e->name, name, sizeof(e->name)) == 0;
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
	b = calloc(1, sizeof(*b));
	if (!b)
		return -AGW_ENOMEM;
	b->t = calloc(1, sizeof(*b->t) + max * sizeof(b->t->v[0]));
	if (!b->t) {
		free(b);
		return -AGW_ENOMEM;
	}
	b->max = max;
	*out = b;
	return 0;
}

int dnsb_new_shared(size_t max, struct dnsb **out)
{
	size_t len = sizeof(struct dnsb_tab) + max * sizeof(struct dnsb_ent);
	pthread_mutexattr_t ma;
	struct dnsb *b;
	int rc;

	*out = NULL;
	if (!max)
		return -AGW_EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -AGW_ENOMEM;
	b->t = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->t == MAP_FAILED) {
		free(b);
		return -AGW_ENOMEM;
	}
	/* zero-filled by the kernel */
	pthread_mutexattr_init(&ma);
	rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutex_init(&b->t->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc) {
		munmap(b->t, len);
		free(b);
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
		munmap(b->t, b->maplen); /* the table lives on in the other mappings */
	else
		free(b->t);
	free(b);
}

void dnsb_add(struct dnsb *b, const char *name, int family, const uint8_t *addr, int64_t expires)
{
	struct dnsb_ent *victim = NULL;
	size_t alen = dnsb_alen(family), n;

	if (strlen(name) > DNSB_NAME_MAX)
		return;
	dnsb_lock(b);
	n = dnsb_n(b);
	for (size_t i = 0; i < n; i++) {
		struct dnsb_ent *e = &b->t->v[i];

		if (e->family == family && memcmp(e->addr, addr, alen) == 0 && dnsb_is(e, name)) {
			if (expires > e->expires)
				e->expires = expires;
			dnsb_unlock(b);
			return;
		}
		if (!victim || e->expires < victim->expires)
			victim = e;
	}
	if (n < b->max) {
		victim = &b->t->v[n];
		b->t->n = n + 1;
	}
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
	size_t k = 0, n;

	dnsb_lock(b);
	n = dnsb_n(b);
	for (size_t i = 0; i < n && k < max; i++) {
		const struct dnsb_ent *e = &b->t->v[i];

		if (e->family == family && e->expires > now && dnsb_is(e, name))
			memcpy(out[k++], e->addr, 16);
	}
	dnsb_unlock(b);
	return k;
}

size_t dnsb_names(struct dnsb *b, int family, const uint8_t *addr, int64_t now,
		  char (*out)[DNSB_NAME_MAX + 1], size_t max)
{
	size_t k = 0, alen = dnsb_alen(family), n;

	dnsb_lock(b);
	n = dnsb_n(b);
	for (size_t i = 0; i < n && k < max; i++) {
		const struct dnsb_ent *e = &b->t->v[i];

		if (e->family == family && e->expires > now && memcmp(e->addr, addr, alen) == 0) {
			memcpy(out[k], e->name, sizeof(e->name));
			out[k++][DNSB_NAME_MAX] = '\0';
		}
	}
	dnsb_unlock(b);
	return k;
}

size_t dnsb_count(struct dnsb *b)
{
	size_t n;

	dnsb_lock(b);
	n = dnsb_n(b);
	dnsb_unlock(b);
	return n;
}
