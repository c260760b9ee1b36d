// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fs child's socket loop: the listener, peer filtering, one fsd_conn per
 * client (a socket plus its p9_conn), reading with backpressure (stop
 * reading while replies are queued), writing, and closing (connections are
 * freed in the loop's before-sleep hook, never inside a callback).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "ev.h"
#include "gateway/fs/fsd.h"
#include "gateway/fs/fsd_vu.h"
#include "log.h"
#include "priv.h"
#include "policies/pol.h"

#define FSD_RX_MAX (256u * 1024u)

struct fsd;

struct fsd_conn {
	struct fsd *d;
	struct fsd_conn *next; /* live list, or dead list once closed */
	int fd;
	struct p9_conn *p9;
	bool dead;
};

struct fsd {
	const struct fsd_config *cfg;
	struct ev_loop *loop;
	struct p9_srv *srv;
	struct fsd_vu *vu;
	int lfd;
	struct fsd_conn *live, *dead;
	unsigned nconns, max_conns;
	struct sockaddr_storage allow;
	bool have_allow;
	uint8_t *rx;
	int rc;
	uint32_t ask_next;
};

/* p9_ask_fn: ids are the fs child's own, unique among its open asks. */
static int fsd_ask(void *ctx, uint32_t *id, const char *path, unsigned acc, const char *rule)
{
	struct fsd *d = ctx;

	if (!d->cfg->ask)
		return -AGW_EINVAL;
	if (++d->ask_next == 0)
		d->ask_next = 1;
	*id = d->ask_next;
	return d->cfg->ask(d->cfg->ctl_ctx, *id, path, acc, rule);
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon, *h = s;
	size_t hl;
	long port;
	char *end;

	memset(ss, 0, sizeof(*ss));
	if (!s)
		return -AGW_EINVAL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -AGW_EINVAL;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -AGW_EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -AGW_EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -AGW_EINVAL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return 0;
	}
	return -AGW_EINVAL;
}

static void addr_str(const struct sockaddr_storage *ss, char *out, size_t cap, bool port)
{
	char h[64], sv[8]; /* numeric: an IPv6 address with scope, a port */

	if (getnameinfo((const struct sockaddr *)ss, sizeof(*ss), h, sizeof(h), sv, sizeof(sv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, cap, "?");
	else if (!port)
		snprintf(out, cap, "%s", h);
	else if (ss->ss_family == AF_INET6)
		snprintf(out, cap, "[%s]:%s", h, sv);
	else
		snprintf(out, cap, "%s:%s", h, sv);
}

int fsd_listen(const char *addr, int *fd)
{
	struct sockaddr_storage ss = {0};
	socklen_t len = 0;
	int s = -1, one = 1, rc;

	*fd = -1;
	rc = parse_addr(addr, &ss, &len);
	if (rc < 0)
		return rc;
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	(void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, len) < 0 || listen(s, 64) < 0) {
		rc = -errno;
		close(s);
		return rc;
	}
	*fd = s;
	return 0;
}

/* Same address? IPv4-mapped IPv6 peers compare as IPv4. */
static bool peer_allowed(const struct fsd *d, const struct sockaddr_storage *p)
{
	const struct sockaddr_storage *a = &d->allow;
	struct in_addr v4;

	if (!d->have_allow)
		return true;
	if (p->ss_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)p)->sin6_addr;

		if (a->ss_family == AF_INET6)
			return memcmp(x, &((const struct sockaddr_in6 *)a)->sin6_addr,
				      sizeof(*x)) == 0;
		if (!IN6_IS_ADDR_V4MAPPED(x))
			return false;
		memcpy(&v4, &x->s6_addr[12], 4);
	} else {
		v4 = ((const struct sockaddr_in *)p)->sin_addr;
	}
	return a->ss_family == AF_INET &&
	       v4.s_addr == ((const struct sockaddr_in *)a)->sin_addr.s_addr;
}

static void conn_close(struct fsd_conn *fc)
{
	struct fsd *d = fc->d;
	struct fsd_conn **pp = &d->live;

	if (fc->dead)
		return;
	fc->dead = true;
	ev_del_fd(d->loop, fc->fd);
	while (*pp && *pp != fc)
		pp = &(*pp)->next;
	if (*pp)
		*pp = fc->next;
	fc->next = d->dead;
	d->dead = fc;
	d->nconns--;
}

static void conn_destroy(struct fsd_conn *fc)
{
	p9_conn_free(fc->p9);
	if (fc->fd >= 0)
		close(fc->fd);
	free(fc);
}

static void reap(struct ev_loop *loop, void *ctx)
{
	struct fsd *d = ctx;

	while (d->dead) {
		struct fsd_conn *fc = d->dead;

		d->dead = fc->next;
		conn_destroy(fc);
	}
}

/* Write what is queued; then pick the events to wait for. Returns <0 to close. */
static int conn_flush(struct fsd_conn *fc)
{
	for (;;) {
		size_t len;
		const uint8_t *out = p9_conn_output(fc->p9, &len);
		ssize_t n;
		int rc;

		if (len == 0) {
			/* Replies drained: requests held back by backpressure may go on. */
			rc = p9_conn_process(fc->p9);
			if (rc < 0)
				return rc;
			out = p9_conn_output(fc->p9, &len);
			if (len == 0)
				break;
		}
		n = send(fc->fd, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p9_conn_consume(fc->p9, (size_t)n);
	}
	{
		size_t len;
		unsigned mask = 0;

		p9_conn_output(fc->p9, &len);
		if (len)
			mask |= EV_WRITE;
		if (p9_conn_room(fc->p9))
			mask |= EV_READ;
		if (ev_fd_mask(fc->d->loop, fc->fd) != mask)
			ev_mod_fd(fc->d->loop, fc->fd, mask);
	}
	return 0;
}

static void conn_event(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fsd_conn *fc = ctx;
	struct fsd *d = fc->d;
	int rc = 0;

	if (events & EV_READ) {
		size_t room = AGW_MIN(p9_conn_room(fc->p9), FSD_RX_MAX);
		ssize_t n = room ? recv(fd, d->rx, room, MSG_DONTWAIT) : 0;

		if (room && n == 0) {
			conn_close(fc);
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			conn_close(fc);
			return;
		}
		if (n > 0)
			rc = p9_conn_input(fc->p9, d->rx, (size_t)n);
	}
	if (rc >= 0)
		rc = conn_flush(fc);
	if (rc < 0)
		conn_close(fc);
}

static void accept_resume(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct fsd *d = ctx;

	ev_mod_fd(loop, d->lfd, EV_READ);
}

static void accept_event(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fsd *d = ctx;

	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss = {0};
		socklen_t sl = sizeof(ss);
		char peer[80];
		struct fsd_conn *fc = NULL;
		int s;

		memset(&ss, 0, sizeof(ss));
		s = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (s < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Out of descriptors: the listener would stay readable and
				 * spin; pause accepting for a moment instead. */
				log_warn("fs: accept: %s; pausing for 100 ms", strerror(errno));
				ev_mod_fd(d->loop, fd, 0);
				if (!ev_timer_add(d->loop, 100, accept_resume, d))
					ev_mod_fd(d->loop, fd, EV_READ);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				log_warn("fs: accept: %s", strerror(errno));
			}
			return;
		}
		addr_str(&ss, peer, sizeof(peer), true);
		if (!peer_allowed(d, &ss)) {
			log_warn("fs: refused connection from %s (only %s may connect)", peer,
				 d->cfg->allow_peer);
			p9_srv_event(d->srv, "connect", NULL, "deny", "peer address not allowed",
				     peer);
			close(s);
			continue;
		}
		if (d->nconns >= d->max_conns) {
			log_warn("fs: refused connection from %s: %u connections open", peer,
				 d->nconns);
			p9_srv_event(d->srv, "connect", NULL, "error", "too many connections",
				     peer);
			close(s);
			continue;
		}
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fc = calloc(1, sizeof(*fc));
		if (!fc || p9_conn_new(d->srv, peer, &fc->p9) < 0 ||
		    ev_add_fd(d->loop, s, EV_READ, conn_event, fc) < 0) {
			if (fc)
				p9_conn_free(fc->p9);
			free(fc);
			close(s);
			continue;
		}
		fc->d = d;
		fc->fd = s;
		fc->next = d->live;
		d->live = fc;
		d->nconns++;
		log_debug("fs: connection from %s", peer);
	}
}

static void stop_signal(struct ev_loop *loop, int signo, void *ctx)
{
	log_info("fs: signal %d, stopping", signo);
	ev_stop(loop);
}

static int conn_flush(struct fsd_conn *fc);

/* A person answered: the connection holding that request goes on. */
static void fsd_deliver(struct fsd *d, const struct fsd_answer *a)
{
	for (struct fsd_conn *fc = d->live; fc; fc = fc->next) {
		int rc = p9_conn_answer(fc->p9, a->id, a->allow, a->approval, a->why);

		if (rc == 0)
			continue;
		if (rc < 0 || conn_flush(fc) < 0)
			conn_close(fc);
		return;
	}
}

static void ctl_event(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fsd *d = ctx;
	const struct pol *np = NULL;
	struct fsd_answer ans = {0};

	if (d->cfg->on_ctl(d->cfg->ctl_ctx, fd, &np, &ans) < 0) {
		ev_stop(loop);
		return;
	}
	if (ans.have)
		fsd_deliver(d, &ans);
	if (np) {
		p9_srv_set_policy(d->srv, np);
		log_info("fs: policy replaced");
	}
}

int fsd_run(const struct fsd_config *c)
{
	struct fsd d = {.cfg = c, .lfd = -1};
	struct p9_srv_config sc = {0};
	struct sockaddr_storage ss = {0};
	socklen_t sl = 0;
	struct stat st;
	const char *ws = c->pol ? pol_workspace(c->pol) : NULL;
	char bound[80];
	int root = -1, rc, own_lfd = -1, own_vfd = -1;

	if (!ws || !c->emit)
		return -AGW_EINVAL;
	if (c->allow_peer) {
		char tmp[96];

		snprintf(tmp, sizeof(tmp), strchr(c->allow_peer, ':') ? "[%s]:0" : "%s:0",
			 c->allow_peer);
		if (parse_addr(tmp, &d.allow, &sl) < 0)
			return -AGW_EINVAL;
		d.have_allow = true;
	}
	root = open(ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		rc = -errno;
		log_error("fs: cannot open workspace %s: %s", ws, strerror(errno));
		goto out;
	}
	if (fstat(root, &st) < 0) {
		rc = -errno;
		goto out;
	}
	/* Never uid 0: a root-owned workspace is served by a dedicated uid
	 * that keeps only the capabilities to act on root's files. */
	if (c->drop_to_owner &&
	    (rc = st.st_uid != 0 ? priv_drop_ids(st.st_uid, st.st_gid)
				 : priv_drop_caps(PRIV_FS_ID, PRIV_FS_ID, PRIV_FS_CAPS)) < 0) {
		log_error("fs: cannot become the workspace owner %u: %s", (unsigned)st.st_uid,
			  agw_strerror(rc));
		goto out;
	}
	sc.root_fd = root;
	sc.pol = c->pol;
	sc.emit = c->emit;
	sc.emit_ctx = c->emit_ctx;
	sc.audit_ok = c->audit_ok;
	sc.sandbox_id = c->sandbox_id;
	sc.owner_uid = c->owner_uid == (uid_t)-1 ? st.st_uid : c->owner_uid;
	sc.owner_gid = c->owner_gid == (gid_t)-1 ? st.st_gid : c->owner_gid;
	sc.max_msize = c->max_msize;
	sc.ask = c->ask ? fsd_ask : NULL;
	sc.ask_ctx = &d;
	rc = p9_srv_new(&sc, &d.srv);
	if (rc < 0)
		goto out;
	d.max_conns = c->max_conns ? c->max_conns : 64;
	d.rx = malloc(FSD_RX_MAX);
	if (!d.rx) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	d.lfd = c->listen_fd;
	if (d.lfd < 0 && !c->listen_addr && (c->vu_fd >= 0 || c->vu_path)) {
		/* virtio-fs only: no TCP listener */
	} else if (d.lfd < 0) {
		rc = fsd_listen(c->listen_addr, &own_lfd);
		if (rc < 0) {
			log_error("fs: cannot listen on %s: %s",
				  c->listen_addr ? c->listen_addr : "", agw_strerror(rc));
			goto out;
		}
		d.lfd = own_lfd;
	} else {
		(void)fcntl(d.lfd, F_SETFL, fcntl(d.lfd, F_GETFL) | O_NONBLOCK);
	}
	rc = ev_new(&d.loop);
	if (rc < 0)
		goto out;
	if ((d.lfd >= 0 && (rc = ev_add_fd(d.loop, d.lfd, EV_READ, accept_event, &d)) < 0) ||
	    (rc = ev_signal_add(d.loop, SIGTERM, stop_signal, &d)) < 0 ||
	    (rc = ev_signal_add(d.loop, SIGINT, stop_signal, &d)) < 0 ||
	    (rc = ev_before_sleep(d.loop, reap, &d)) < 0)
		goto out;
	if (c->ctl_fd >= 0 && c->on_ctl &&
	    (rc = ev_add_fd(d.loop, c->ctl_fd, EV_READ, ctl_event, &d)) < 0)
		goto out;
	if (c->vu_fd < 0 && c->vu_path && (rc = fsd_vu_listen(c->vu_path, &own_vfd)) < 0) {
		log_error("fs: cannot listen on %s for virtio-fs: %s", c->vu_path,
			  agw_strerror(rc));
		goto out;
	}
	if ((c->vu_fd >= 0 || own_vfd >= 0) &&
	    (rc = fsd_vu_new(d.loop, d.srv, c->vu_fd >= 0 ? c->vu_fd : own_vfd, &d.vu)) < 0)
		goto out;
	sl = sizeof(ss);
	if (d.lfd < 0)
		snprintf(bound, sizeof(bound), "no TCP");
	else if (getsockname(d.lfd, (struct sockaddr *)&ss, &sl) == 0)
		addr_str(&ss, bound, sizeof(bound), true);
	else
		snprintf(bound, sizeof(bound), "?");
	log_info("fs: serving %s on %s (peer %s)%s", ws, bound,
		 c->allow_peer ? c->allow_peer : "any", d.vu ? " and virtio-fs" : "");
	/* Last: the listener and the loop are set up, so the allow-list
	 * needs no socket() at all. */
	if (c->drop_to_owner) {
		rc = priv_landlock(root, false);
		if (rc == -EOPNOTSUPP) {
			log_warn("fs: landlock unavailable: only openat2 keeps the fs child "
				 "in the workspace");
			rc = 0;
		}
		if (rc < 0) {
			log_error("fs: cannot confine to the workspace with landlock: %s",
				  agw_strerror(rc));
			goto out;
		}
		rc = priv_seccomp(PRIV_CHILD_FS);
		if (rc < 0) {
			log_error("fs: cannot install the seccomp filter: %s", agw_strerror(rc));
			goto out;
		}
	}
	if (c->on_ready)
		c->on_ready(c->ready_ctx, bound);
	rc = ev_run(d.loop);
out:
	fsd_vu_free(d.vu);
	if (own_vfd >= 0)
		close(own_vfd);
	while (d.live)
		conn_close(d.live);
	while (d.dead) {
		struct fsd_conn *fc = d.dead;

		d.dead = fc->next;
		conn_destroy(fc);
	}
	ev_free(d.loop);
	if (own_lfd >= 0)
		close(own_lfd);
	p9_srv_free(d.srv);
	free(d.rx);
	if (root >= 0)
		close(root);
	return rc;
}
