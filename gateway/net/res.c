// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Upstream resolution with c-ares on the ev loop (see res.h). c-ares tells
 * us which sockets to watch through its socket-state callback; we map them
 * to ev registrations and feed readiness back with ares_process_fd(). One
 * ev timer tracks ares_timeout(). Requests carry a cancelled flag because
 * c-ares cannot cancel a single query; answers produced while res_lookup()
 * is still on the stack are delivered from a 0 ms timer instead.
 */
#include "res.h"

#include <arpa/inet.h>
#include <ares.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "rcache.h"

struct res_req {
	struct res *r;
	res_cb *cb;
	void *ctx;
	int family;
	bool in_lookup;
	bool done;
	uint64_t defer_timer;
	struct res_answer ans;
	struct res_req *next, *prev;
	char name[256]; /* for the cache; "" when too long */
};

struct res {
	struct ev_loop *loop;
	ares_channel ch;
	uint64_t timer;
	size_t pending;
	struct res_req *reqs;
	struct rcache *cache;
	bool freeing;
};

static void res_rearm(struct res *r);

static void res_fd_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct res *r = ctx;

	(void)loop;
	ares_process_fd(r->ch, (events & (EV_READ | EV_ERROR)) ? fd : ARES_SOCKET_BAD,
			(events & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	res_rearm(r);
}

static void res_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct res *r = data;
	unsigned mask = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	if (r->freeing)
		return;
	if (!mask) {
		ev_del_fd(r->loop, fd);
		return;
	}
	if (ev_mod_fd(r->loop, fd, mask) == 0)
		return;
	if (ev_add_fd(r->loop, fd, mask, res_fd_cb, r))
		log_warn("resolver: cannot watch fd %d", fd);
}

static void res_timer_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct res *r = ctx;

	(void)loop;
	(void)id;
	r->timer = 0;
	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	res_rearm(r);
}

static void res_rearm(struct res *r)
{
	struct timeval tv, *t;

	if (r->freeing)
		return;
	ev_timer_del(r->loop, r->timer);
	r->timer = 0;
	t = ares_timeout(r->ch, NULL, &tv);
	if (!t)
		return;
	r->timer = ev_timer_add(r->loop, (int64_t)t->tv_sec * 1000 + t->tv_usec / 1000 + 1,
				res_timer_cb, r);
}

int res_new(struct ev_loop *loop, const char *const *servers, size_t n, struct res **out)
{
	struct ares_options opts = {0};
	struct res *r = NULL;
	char csv[1024] = "";
	size_t off = 0;
	int rc, optmask;
	static bool lib_ready;

	*out = NULL;
	if (!lib_ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
			return -AGW_EPROTO;
		lib_ready = true;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -AGW_ENOMEM;
	r->loop = loop;
	if (rcache_new(&r->cache) < 0) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	opts.sock_state_cb = res_sock_state;
	opts.sock_state_cb_data = r;
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.lookups = (char *)(uintptr_t) "b";
	opts.timeout = 2000;
	opts.tries = 2;
	optmask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS |
		  ARES_OPT_TRIES;
	if (ares_init_options(&r->ch, &opts, optmask) != ARES_SUCCESS) {
		r->ch = NULL;
		rc = -AGW_EPROTO;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(csv + off, sizeof(csv) - off, "%s%s", i ? "," : "", servers[i]);

		if (w < 0 || (size_t)w >= sizeof(csv) - off) {
			rc = -AGW_EINVAL;
			goto out;
		}
		off += (size_t)w;
	}
	if (n && ares_set_servers_ports_csv(r->ch, csv) != ARES_SUCCESS) {
		rc = -AGW_EINVAL;
		goto out;
	}
	*out = r;
	r = NULL;
	rc = 0;
out:
	res_free(r);
	return rc;
}

static void res_unlink(struct res_req *q)
{
	struct res *r = q->r;

	if (q->prev)
		q->prev->next = q->next;
	else
		r->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->next = q->prev = NULL;
	r->pending--;
}

static void res_deliver(struct res_req *q)
{
	res_cb *cb = q->cb;
	void *ctx = q->ctx;
	struct res_answer ans = q->ans;

	res_unlink(q);
	free(q);
	if (cb)
		cb(&ans, ctx);
}

static void res_defer_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	(void)loop;
	(void)id;
	res_deliver(ctx);
}

static void res_ares_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct res_req *q = arg;
	struct res *r = q->r;

	(void)timeouts;
	q->done = true;
	q->ans.family = q->family;
	q->ans.n = 0;
	if (status == ARES_SUCCESS) {
		int nrr = RES_MAX_ADDRS, prc;

		if (q->family == AF_INET) {
			struct ares_addrttl a[RES_MAX_ADDRS];

			prc = ares_parse_a_reply(abuf, alen, NULL, a, &nrr);
			for (int i = 0; prc == ARES_SUCCESS && i < nrr; i++) {
				memcpy(q->ans.addr[q->ans.n], &a[i].ipaddr, 4);
				q->ans.ttl[q->ans.n++] = a[i].ttl < 0 ? 0 : (uint32_t)a[i].ttl;
			}
		} else {
			struct ares_addr6ttl a[RES_MAX_ADDRS];

			prc = ares_parse_aaaa_reply(abuf, alen, NULL, a, &nrr);
			for (int i = 0; prc == ARES_SUCCESS && i < nrr; i++) {
				memcpy(q->ans.addr[q->ans.n], &a[i].ip6addr, 16);
				q->ans.ttl[q->ans.n++] = a[i].ttl < 0 ? 0 : (uint32_t)a[i].ttl;
			}
		}
		if (prc == ARES_SUCCESS || prc == ARES_ENODATA) {
			q->ans.status = RES_OK;
		} else {
			q->ans.status = RES_FAIL;
			q->ans.error = ares_strerror(prc);
		}
	} else if (status == ARES_ENOTFOUND) {
		q->ans.status = RES_NXDOMAIN;
	} else if (status == ARES_ENODATA) {
		q->ans.status = RES_OK;
	} else {
		q->ans.status = RES_FAIL;
		q->ans.error = ares_strerror(status);
	}
	if (r->freeing) {
		res_unlink(q);
		free(q);
		return;
	}
	if (q->name[0])
		rcache_put(r->cache, q->name, &q->ans, agw_mono_us());
	if (q->in_lookup) {
		q->defer_timer = ev_timer_add(r->loop, 0, res_defer_cb, q);
		if (!q->defer_timer)
			q->cb = NULL; /* lost; caller sees NULL from res_lookup */
		return;
	}
	res_deliver(q);
}

struct res_req *res_lookup(struct res *r, const char *name, int family, res_cb *cb, void *ctx)
{
	struct res_req *q;

	if (r->pending >= RES_MAX_PENDING || (family != AF_INET && family != AF_INET6))
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->r = r;
	q->cb = cb;
	q->ctx = ctx;
	q->family = family;
	q->next = r->reqs;
	if (r->reqs)
		r->reqs->prev = q;
	r->reqs = q;
	r->pending++;
	if (strlen(name) < sizeof(q->name))
		strcpy(q->name, name);
	/* A fresh cached answer comes back from the loop like any other. */
	if (q->name[0] && rcache_get(r->cache, name, family, agw_mono_us(), &q->ans)) {
		q->done = true;
		q->defer_timer = ev_timer_add(r->loop, 0, res_defer_cb, q);
		if (q->defer_timer)
			return q;
		res_unlink(q);
		free(q);
		return NULL;
	}
	q->in_lookup = true;
	ares_query(r->ch, name, 1 /* C_IN */, family == AF_INET ? 1 : 28, res_ares_cb, q);
	if (!q->done) {
		q->in_lookup = false;
		res_rearm(r);
		return q;
	}
	q->in_lookup = false;
	if (!q->defer_timer) {
		res_unlink(q);
		free(q);
		return NULL;
	}
	return q;
}

void res_cancel(struct res_req *req)
{
	if (req)
		req->cb = NULL;
}

size_t res_pending(const struct res *r)
{
	return r->pending;
}

void res_free(struct res *r)
{
	if (!r)
		return;
	/* Deferred deliveries own a timer; drop them first. */
	for (struct res_req *q = r->reqs, *nx; q; q = nx) {
		nx = q->next;
		if (q->defer_timer) {
			ev_timer_del(r->loop, q->defer_timer);
			res_unlink(q);
			free(q);
		}
	}
	if (r->ch) {
		/* c-ares sockets leave the loop before ares closes them. */
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		int bits = ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);

		/* The ARES_GETSOCK_* macros shift a signed 1 into bit 31. */
		for (unsigned i = 0; i < ARES_GETSOCK_MAXNUM; i++)
			if ((unsigned)bits & ((1u << i) | (1u << (i + ARES_GETSOCK_MAXNUM))))
				ev_del_fd(r->loop, socks[i]);
		r->freeing = true;
		ares_destroy(r->ch);
	}
	ev_timer_del(r->loop, r->timer);
	rcache_free(r->cache);
	free(r);
}
