// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Published ports (supervisor/pub.h): listeners on the host, a byte relay per
 * connection to the guest, in the supervisor's event loop. A connection is
 * two half-connections with a buffer each way; a side is read only while
 * its buffer towards the other side is empty (backpressure), EOF is passed
 * on with shutdown(SHUT_WR). Finished connections are freed before the
 * loop sleeps, never inside a callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "ev.h"
#include "supervisor/pub.h"

#define PUB_BUF (64 * 1024)

struct pub_half {
	int fd;
	bool eof;	 /* read side saw EOF */
	bool shut;	 /* we shut down its write side */
	size_t len, off; /* bytes waiting to be written TO this fd */
	uint8_t *buf;
	uint64_t bytes; /* written to this fd */
};

struct pub_conn {
	struct pub *p;
	const struct pub_spec *spec;
	struct pub_half c, g; /* client (host side), guest */
	bool connecting, dead;
	int64_t t0;
	char src[64], dst[64];
};

struct pub_lsn {
	struct pub *p;
	struct pub_spec spec;
	int fd;
};

struct pub {
	struct ev_loop *loop;
	struct in_addr guest;
	pub_emit_fn *emit;
	void *ctx;
	struct pub_lsn lsn[PUB_MAX];
	size_t nlsn;
	struct pub_conn *conns[PUB_CONNS_MAX];
	bool hook;
};

int pub_parse(const char *s, struct pub_spec *out)
{
	char buf[64], *parts[3], *save = NULL, *t, *end;
	unsigned long v[2];
	int n = 0;

	if (!s || strlen(s) >= sizeof(buf))
		return -AGW_EPARSE;
	snprintf(buf, sizeof(buf), "%s", s);
	for (t = strtok_r(buf, ":", &save); t && n < 3; t = strtok_r(NULL, ":", &save))
		parts[n++] = t;
	if (t || n < 2 || s[strlen(s) - 1] == ':' || strstr(s, "::"))
		return -AGW_EPARSE;
	memset(out, 0, sizeof(*out));
	if (n == 3) {
		if (inet_pton(AF_INET, parts[0], &out->host_ip) != 1)
			return -AGW_EPARSE;
	} else {
		out->host_ip.s_addr = htonl(INADDR_LOOPBACK);
	}
	for (int i = 0; i < 2; i++) {
		const char *p = parts[n - 2 + i];

		errno = 0;
		v[i] = strtoul(p, &end, 10);
		if (errno || end == p || *end || p[0] == '-' || p[0] == '+' || v[i] < 1 ||
		    v[i] > 65535)
			return -AGW_EPARSE;
	}
	out->host_port = (uint16_t)v[0];
	out->guest_port = (uint16_t)v[1];
	return 0;
}

size_t pub_str(const struct pub_spec *p, char *buf, size_t cap)
{
	char ip[INET_ADDRSTRLEN];
	int n;

	inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
	n = snprintf(buf, cap, "%s:%u->%u", ip, p->host_port, p->guest_port);
	return n < 0 ? 0 : (size_t)n;
}

static void pub_event(struct pub_conn *k, const char *op, const char *decision, const char *reason)
{
	struct aud_event ev = {0};
	char target[64], detail[96], hp[48];

	pub_str(k->spec, hp, sizeof(hp));
	snprintf(target, sizeof(target), "%s", k->dst);
	snprintf(detail, sizeof(detail), "{\"published\":\"%s\"}", hp);
	ev.kind = "net";
	ev.op = op;
	ev.target = target;
	ev.decision = decision;
	ev.reason = reason;
	ev.src = k->src;
	ev.dst = k->dst;
	ev.detail = detail;
	ev.bytes_up = ev.bytes_down = ev.duration_us = -1;
	if (!strcmp(op, "close")) {
		ev.bytes_up = (int64_t)k->c.bytes;   /* out of the sandbox */
		ev.bytes_down = (int64_t)k->g.bytes; /* into it */
		ev.duration_us = agw_mono_us() - k->t0;
	}
	k->p->emit(k->p->ctx, &ev);
}

static void pub_kill(struct pub_conn *k, const char *why)
{
	if (k->dead)
		return;
	k->dead = true;
	if (!k->connecting)
		pub_event(k, "close", "allow", why);
	ev_del_fd(k->p->loop, k->c.fd);
	ev_del_fd(k->p->loop, k->g.fd);
}

/* Masks from the buffers: read a side only while what it sends has gone out. */
static void pub_masks(struct pub_conn *k)
{
	unsigned cm = 0, gm = 0;

	if (!k->c.eof && k->g.len == 0)
		cm |= EV_READ;
	if (k->c.len)
		cm |= EV_WRITE;
	if (!k->g.eof && k->c.len == 0)
		gm |= EV_READ;
	if (k->g.len)
		gm |= EV_WRITE;
	ev_mod_fd(k->p->loop, k->c.fd, cm);
	ev_mod_fd(k->p->loop, k->g.fd, gm);
}

/* Flush `to`'s buffer; pass EOF on once it is empty. Returns -1 on error. */
static int pub_flush(struct pub_half *to, const struct pub_half *from)
{
	while (to->len) {
		ssize_t w = send(to->fd, to->buf + to->off, to->len, MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		to->off += (size_t)w;
		to->len -= (size_t)w;
		to->bytes += (uint64_t)w;
	}
	to->off = 0;
	if (from->eof && !to->shut) {
		shutdown(to->fd, SHUT_WR);
		to->shut = true;
	}
	return 0;
}

/* Read from `from` into `to`'s buffer. Returns -1 on error. */
static int pub_pull(struct pub_half *from, struct pub_half *to)
{
	ssize_t r;

	if (from->eof || to->len)
		return 0;
	r = recv(from->fd, to->buf, PUB_BUF, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (r == 0)
		from->eof = true;
	to->len = (size_t)r;
	to->off = 0;
	return 0;
}

static void pub_conn_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct pub_conn *k = ctx;
	bool is_c = fd == k->c.fd;
	struct pub_half *me = is_c ? &k->c : &k->g, *other = is_c ? &k->g : &k->c;

	(void)loop;
	if (k->dead)
		return;
	if (k->connecting && !is_c) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(k->g.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err == EINPROGRESS)
			return;
		if (err) {
			pub_event(k, "inbound", "error", strerror(err));
			pub_kill(k, NULL);
			return;
		}
		k->connecting = false;
		pub_event(k, "inbound", "allow", NULL);
		pub_masks(k);
		return;
	}
	if ((events & EV_READ) && pub_pull(me, other) < 0) {
		pub_kill(k, strerror(errno));
		return;
	}
	if (events & EV_ERROR && !(events & EV_READ)) {
		pub_kill(k, "connection reset");
		return;
	}
	if (pub_flush(other, me) < 0 || pub_flush(me, other) < 0) {
		pub_kill(k, strerror(errno));
		return;
	}
	if (k->c.eof && k->g.eof && !k->c.len && !k->g.len) {
		pub_kill(k, NULL);
		return;
	}
	pub_masks(k);
}

static void pub_conn_free(struct pub_conn *k)
{
	if (!k)
		return;
	if (k->c.fd >= 0)
		close(k->c.fd);
	if (k->g.fd >= 0)
		close(k->g.fd);
	free(k->c.buf);
	free(k->g.buf);
	free(k);
}

static void pub_reap(struct ev_loop *loop, void *ctx)
{
	struct pub *p = ctx;

	(void)loop;
	for (size_t i = 0; i < PUB_CONNS_MAX; i++)
		if (p->conns[i] && p->conns[i]->dead) {
			pub_conn_free(p->conns[i]);
			p->conns[i] = NULL;
		}
}

static void pub_accept_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct pub_lsn *l = ctx;
	struct pub *p = l->p;
	struct sockaddr_in peer, to = {.sin_family = AF_INET};
	socklen_t pl = sizeof(peer);
	struct pub_conn *k = NULL;
	size_t slot = PUB_CONNS_MAX;
	char ip[INET_ADDRSTRLEN];
	int c, g = -1;

	(void)events;
	c = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	for (size_t i = 0; i < PUB_CONNS_MAX && slot == PUB_CONNS_MAX; i++)
		if (!p->conns[i])
			slot = i;
	k = calloc(1, sizeof(*k));
	if (!k)
		goto fail;
	k->p = p;
	k->spec = &l->spec;
	k->c.fd = c;
	k->g.fd = -1;
	k->t0 = agw_mono_us();
	inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
	snprintf(k->src, sizeof(k->src), "%s:%u", ip, ntohs(peer.sin_port));
	inet_ntop(AF_INET, &p->guest, ip, sizeof(ip));
	snprintf(k->dst, sizeof(k->dst), "%s:%u", ip, l->spec.guest_port);
	if (slot == PUB_CONNS_MAX) {
		k->dead = true; /* no row per refused connection beyond the cap: one error row */
		pub_event(k, "inbound", "error", "too many published connections");
		goto fail;
	}
	k->c.buf = malloc(PUB_BUF);
	k->g.buf = malloc(PUB_BUF);
	g = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!k->c.buf || !k->g.buf || g < 0)
		goto fail;
	k->g.fd = g;
	to.sin_addr = p->guest;
	to.sin_port = htons(l->spec.guest_port);
	if (connect(g, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS) {
		pub_event(k, "inbound", "error", strerror(errno));
		goto fail;
	}
	k->connecting = true;
	if (ev_add_fd(loop, c, 0, pub_conn_cb, k) < 0 ||
	    ev_add_fd(loop, g, EV_WRITE, pub_conn_cb, k) < 0) {
		ev_del_fd(loop, c);
		goto fail;
	}
	p->conns[slot] = k;
	return;
fail:
	if (k) {
		pub_conn_free(k);
	} else {
		close(c);
	}
}

int pub_new(struct ev_loop *loop, const struct pub_spec *v, size_t n, struct in_addr guest,
	    pub_emit_fn *emit, void *ctx, struct pub **out, char *err, size_t errcap)
{
	struct pub *p = NULL;
	int rc = 0, one = 1;
	char hp[48];

	*out = NULL;
	if (n > PUB_MAX)
		return -AGW_ETOOBIG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -AGW_ENOMEM;
	p->loop = loop;
	p->guest = guest;
	p->emit = emit;
	p->ctx = ctx;
	for (size_t i = 0; i < n; i++) {
		struct pub_lsn *l = &p->lsn[i];
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr = v[i].host_ip,
					.sin_port = htons(v[i].host_port)};

		l->p = p;
		l->spec = v[i];
		l->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		p->nlsn = i + 1;
		pub_str(&v[i], hp, sizeof(hp));
		if (l->fd < 0 ||
		    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(l->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l->fd, 64) < 0) {
			rc = -errno;
			snprintf(err, errcap, "-p %s: %s", hp, strerror(errno));
			goto out;
		}
		if ((rc = ev_add_fd(loop, l->fd, EV_READ, pub_accept_cb, l)) < 0) {
			snprintf(err, errcap, "-p %s: %s", hp, agw_strerror(rc));
			goto out;
		}
	}
	if ((rc = ev_before_sleep(loop, pub_reap, p)) < 0) {
		snprintf(err, errcap, "-p: %s", agw_strerror(rc));
		goto out;
	}
	p->hook = true;
	*out = p;
	p = NULL;
out:
	pub_free(p);
	return rc;
}

void pub_free(struct pub *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < PUB_CONNS_MAX; i++)
		if (p->conns[i]) {
			pub_kill(p->conns[i], "sandbox stopped");
			pub_conn_free(p->conns[i]);
		}
	for (size_t i = 0; i < p->nlsn; i++)
		if (p->lsn[i].fd >= 0) {
			ev_del_fd(p->loop, p->lsn[i].fd);
			close(p->lsn[i].fd);
		}
	if (p->hook)
		ev_before_sleep_del(p->loop, pub_reap, p);
	free(p);
}
