// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transparent proxy sessions, the connection core (see prx.h and
 * prx_int.h): accepting, the session's state and timers, relaying and
 * teardown. What a connection is and where it may go is decided in
 * prx_decide.c, plain HTTP is judged in prx_http.c, inspected TLS runs in
 * prx_tls.c. A session is two half-connections (client and upstream), each
 * with the buffer of bytes read from it and not yet written to the other,
 * and a state that changes only in prx_set_state(), which logs the change
 * and arms that state's timer. Sessions that reach PRX_DEAD have their fds
 * closed at once and their memory freed in the loop's before-sleep hook,
 * never inside a callback; every session leaves a connect row, also one
 * closed before it sent anything.
 */
#include "prx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "deny.h"
#include "dnsb.h"
#include "hostaddr.h"
#include "log.h"
#include "tlsi.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

static const char *const prx_state_names[] = {"peek",	 "ask",	  "resolve", "connect",
					      "tls",	 "relay", "drain",   "dead"};

static void prx_cli_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);

/* ---- state, timers, teardown ---- */

static void prx_timer_cb(struct ev_loop *loop, uint64_t id, void *ctx);

static int64_t prx_state_ms(const struct prx_sess *s, enum prx_state st)
{
	switch (st) {
	case PRX_PEEK:
		return PRX_PEEK_MS;
	case PRX_ASK:
		/* The supervisor answers at ask_timeout; this only guards
		 * against an answer that never comes. */
		return (int64_t)pol_ask_timeout(s->pol->p) * 1000 + PRX_ASK_SLACK_MS;
	case PRX_RESOLVE:
		return PRX_RESOLVE_MS;
	case PRX_CONNECT:
	case PRX_TLS:
		return PRX_CONNECT_MS;
	case PRX_RELAY:
		return PRX_IDLE_MS;
	case PRX_DRAIN:
		return PRX_DRAIN_MS;
	default:
		return 0;
	}
}

void prx_close_fd(struct prx_sess *s, struct prx_half *h)
{
	if (h->ssl) {
		tlsi_ssl_free(h->ssl);
		h->ssl = NULL;
	}
	if (h->fd < 0)
		return;
	ev_close_fd(s->px->n->loop, h->fd); /* never shared: no EPOLL_CTL_DEL */
	h->fd = -1;
}

static void prx_record_close(struct prx_sess *s)
{
	struct aud_event ev;

	if (!s->opened)
		return;
	s->opened = false;
	netd_event_init(&ev, "net", "close");
	ev.target = s->target;
	ev.decision = pol_verdict_str(s->dec.verdict);
	ev.rule = s->dec.rule[0] ? s->dec.rule : NULL;
	ev.reason = s->close_reason;
	ev.src = s->src_s;
	ev.dst = s->dial_s;
	ev.bytes_up = s->cli.bytes;
	ev.bytes_down = s->up.bytes;
	ev.duration_us = agw_mono_us() - s->start_us;
	netd_audit(s->px->n, &ev);
}

static void prx_pipe_close(struct prx_sess *s)
{
	for (int i = 0; i < 2; i++)
		if (s->pipe[i] >= 0) {
			close(s->pipe[i]);
			s->pipe[i] = -1;
		}
	s->pipe_len = 0;
}

void prx_set_state(struct prx_sess *s, enum prx_state st, const char *why)
{
	struct prx *px = s->px;
	int64_t ms;

	if (s->state == PRX_DEAD)
		return;
	log_debug("proxy %s -> %s: %s -> %s (%s)", s->src_s, s->target[0] ? s->target : s->odst_s,
		  prx_state_names[s->state], prx_state_names[st], why ? why : "");
	s->state = st;
	ev_timer_del(px->n->loop, s->timer);
	s->timer = 0;
	if (st == PRX_DEAD) {
		if (!s->close_reason)
			s->close_reason = why;
		if (s->req) {
			res_cancel(s->req);
			s->req = NULL;
		}
		netd_ask_cancel(px->n, s->ask);
		s->ask = NULL;
		prx_rqi_flush(s, "connection closed before the response");
		prx_close_fd(s, &s->cli);
		prx_close_fd(s, &s->up);
		prx_pipe_close(s);
		if (!s->decided) {
			/* Every connect attempt leaves a row, also a port probe
			 * that closed before sending anything: nothing was
			 * dialed for it. */
			memset(&s->dec, 0, sizeof(s->dec));
			s->dec.verdict = POL_DENY;
			prx_audit_connect(s, "deny", s->close_reason ? s->close_reason : "closed");
		}
		prx_record_close(s);
		if (s->prev)
			s->prev->next = s->next;
		else
			px->sess = s->next;
		if (s->next)
			s->next->prev = s->prev;
		px->nsess--;
		__atomic_sub_fetch(px->n->conns, 1, __ATOMIC_RELAXED);
		s->prev = NULL;
		s->next = px->dead;
		px->dead = s;
		return;
	}
	ms = prx_state_ms(s, st);
	s->timer = ev_timer_add(px->n->loop, ms, prx_timer_cb, s);
	if (!s->timer)
		prx_set_state(s, PRX_DEAD, "out of memory");
}

void prx_kill(struct prx_sess *s, const char *why)
{
	prx_set_state(s, PRX_DEAD, why);
}


static void prx_timer_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct prx_sess *s = ctx;
	int64_t idle;

	(void)id;
	s->timer = 0;
	switch (s->state) {
	case PRX_PEEK:
		/* Deadline: a silent client is decided on its address (the
		 * server may speak first; its first bytes are still judged
		 * when they come); bytes still undecided are refused. */
		prx_peek_decide(s, true);
		break;
	case PRX_RELAY:
		idle = ev_now_ms(loop) - s->last_ms;
		if (idle < PRX_IDLE_MS) {
			s->timer = ev_timer_add(loop, PRX_IDLE_MS - idle, prx_timer_cb, s);
			if (!s->timer)
				prx_kill(s, "out of memory");
			return;
		}
		prx_kill(s, "idle timeout");
		break;
	case PRX_RESOLVE:
		prx_kill(s, "resolve timeout");
		break;
	case PRX_ASK:
		s->dec.verdict = POL_DENY;
		prx_deny(s, "approval timed out");
		break;
	case PRX_CONNECT:
		prx_kill(s, "connect timeout");
		break;
	case PRX_TLS:
		prx_kill(s, "TLS handshake timeout");
		break;
	default:
		prx_kill(s, "timeout");
		break;
	}
}

static void prx_sess_free(struct prx_sess *s)
{
	netd_pol_put(s->pol);
	if (s->inspect && s->cli.buf) /* may hold an injected secret */
		explicit_bzero(s->cli.buf, PRX_BUF);
	free(s->rqi);
	if (s->vtail)
		explicit_bzero(s->vtail, CRED_VALUE_MAX);
	free(s->vtail);
	free(s->cli.buf);
	free(s->up.buf);
	free(s->reply);
	prx_pipe_close(s);
	free(s);
}

static void prx_reap(struct ev_loop *loop, void *ctx)
{
	struct prx *px = ctx;

	(void)loop;
	while (px->dead) {
		struct prx_sess *s = px->dead;

		px->dead = s->next;
		prx_sess_free(s);
	}
}

/* ---- audit helpers ---- */

int prx_audit(struct prx_sess *s, struct aud_event *ev)
{
	if (strcmp(ev->decision, "allow") && strcmp(ev->decision, "would_deny")) {
		netd_audit(s->px->n, ev);
		return -EACCES;
	}
	return netd_audit_action(s->px->n, ev);
}

/* Records the connect decision; returns 0 when the connection may go on. */
int prx_audit_connect(struct prx_sess *s, const char *decision, const char *reason)
{
	struct aud_event ev;
	char detail[512];
	int rc;

	netd_event_init(&ev, "net", "connect");
	snprintf(detail, sizeof(detail), "{\"via\":\"%s\",\"orig_dst\":\"%s\"%s%s%s%s}",
		 s->via, s->odst_s, s->name[0] ? ",\"name\":\"" : "", s->name,
		 s->name[0] ? "\"" : "", s->inspect ? ",\"tls\":\"inspect\"" : "");
	ev.target = s->target;
	ev.decision = decision;
	ev.rule = s->dec.rule[0] ? s->dec.rule : NULL;
	ev.reason = reason;
	ev.src = s->src_s;
	ev.dst = s->dial_s[0] ? s->dial_s : s->odst_s;
	ev.detail = detail;
	s->decided = true;
	rc = prx_audit(s, &ev);
	if (rc == 0)
		s->opened = true;
	return rc;
}

/* ---- relay ---- */

static int prx_read(struct prx_sess *s, struct prx_half *h)
{
	ssize_t r;

	if (h->off > 0) {
		memmove(h->buf, h->buf + h->off, h->len - h->off);
		h->len -= h->off;
		h->fwd -= h->off < h->fwd ? h->off : h->fwd;
		h->off = 0;
	}
	if (h->len >= PRX_BUF)
		return -EAGAIN;
	if (h->ssl) {
		size_t keep = h == &s->cli ? PRX_INJECT_ROOM : 0;
		unsigned want;

		if (PRX_BUF - h->len < TLSI_REC_PLAIN + keep)
			return -EAGAIN;
		r = tlsi_read(h->ssl, h->buf + h->len, PRX_BUF - h->len - keep, &want);
		h->xwant = want == EV_WRITE ? EV_WRITE : 0;
		if (r == -EAGAIN)
			return -EAGAIN;
		if (r < 0)
			return -EIO;
	} else {
		do
			r = recv(h->fd, h->buf + h->len, PRX_BUF - h->len, 0);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
	}
	if (r == 0) {
		h->rd_eof = true;
		return 0;
	}
	h->len += (size_t)r;
	h->bytes += r;
	s->last_ms = ev_now_ms(s->px->n->loop);
	return (int)r;
}

ssize_t prx_send(struct prx_half *h, const void *buf, size_t len)
{
	ssize_t w;

	if (h->ssl) {
		unsigned want;

		w = tlsi_write(h->ssl, buf, len, &want);
		h->xwant = want == EV_READ ? EV_READ : 0;
		return w;
	}
	do
		w = send(h->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : w;
}

/* Writes h's bytes [off, limit) to dst. Returns 0 or -errno (not EAGAIN). */
static int prx_write(struct prx_sess *s, struct prx_half *dst, struct prx_half *h, size_t limit)
{
	while (h->off < limit) {
		ssize_t w = prx_send(dst, h->buf + h->off, limit - h->off);

		if (w < 0) {
			if (w == -EAGAIN)
				return 0;
			return (int)w;
		}
		h->off += (size_t)w;
		s->last_ms = ev_now_ms(s->px->n->loop);
	}
	if (h->off == h->len)
		h->off = h->len = h->fwd = 0;
	return 0;
}

/*
 * Splice (bulk downloads): plain TCP on both sides, in RELAY, after
 * PRX_BUF bytes came down, with the buffer empty and what comes next
 * needing no look (prx_resp_opaque). The pipe is made on first use.
 */
static bool prx_splice_ok(struct prx_sess *s)
{
	if (s->state != PRX_RELAY || s->no_splice || s->up.ssl || s->cli.ssl || s->vhold ||
	    s->up.len || s->up.bytes < PRX_BUF || s->up.rd_eof || s->cli.wr_shut ||
	    !prx_resp_opaque(s))
		return false;
	if (s->pipe[0] >= 0)
		return true;
	if (pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		s->pipe[0] = s->pipe[1] = -1;
		s->no_splice = true;
		return false;
	}
	fcntl(s->pipe[1], F_SETPIPE_SZ, PRX_PIPE_BYTES); /* a smaller one still works */
	return true;
}

/* Moves upstream bytes into the pipe: like prx_read (count, 0 at EOF,
 * -EAGAIN, -errno); -ENOSYS when splice cannot be used on these sockets
 * (nothing moved: read instead). */
static int prx_splice_in(struct prx_sess *s)
{
	uint64_t want = AGW_MIN(prx_resp_opaque(s), (uint64_t)PRX_PIPE_BYTES);
	ssize_t r;

	do
		r = splice(s->up.fd, NULL, s->pipe[1], NULL, (size_t)want,
			   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		if (errno == EINVAL) {
			s->no_splice = true;
			return -ENOSYS;
		}
		return errno == EAGAIN ? -EAGAIN : -errno;
	}
	if (r == 0) {
		s->up.rd_eof = true;
		return 0;
	}
	s->pipe_len += (size_t)r;
	s->up.bytes += r;
	s->last_ms = ev_now_ms(s->px->n->loop);
	prx_resp_moved(s, (size_t)r);
	return (int)r;
}

/* Sends what is in the pipe to the client. 0 or -errno (not EAGAIN). */
static int prx_splice_out(struct prx_sess *s)
{
	while (s->pipe_len) {
		ssize_t w = splice(s->pipe[0], NULL, s->cli.fd, NULL, s->pipe_len,
				   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		s->pipe_len -= (size_t)w;
		s->last_ms = ev_now_ms(s->px->n->loop);
	}
	return 0;
}

static size_t prx_limit(const struct prx_sess *s)
{
	return s->http || s->guarded ? s->cli.fwd : s->cli.len;
}

static size_t prx_up_limit(const struct prx_sess *s)
{
	size_t l = s->http ? s->up.fwd : s->up.len;

	/* Inspected with credentials: what could begin a value waits. */
	if (s->vhold && s->up.len - s->vhold < l)
		l = s->up.len - s->vhold;
	return l;
}

/* Room to read into h: TLS reads want a whole record's room (and the
 * client side keeps room for a credential to grow a head). */
static bool prx_can_read(const struct prx_sess *s, const struct prx_half *h)
{
	size_t need = h->ssl ? TLSI_REC_PLAIN + (h == &s->cli ? PRX_INJECT_ROOM : 0) : 1;

	if (h == &s->up && s->pipe_len) /* the pipe goes out first */
		return false;
	return !h->rd_eof && PRX_BUF - (h->len - h->off) >= need;
}

static void prx_shut_wr(struct prx_half *h)
{
	tlsi_shutdown(h->ssl);
	shutdown(h->fd, SHUT_WR);
	h->wr_shut = true;
}

void prx_pump(struct prx_sess *s)
{
	struct ev_loop *loop = s->px->n->loop;
	unsigned cm = 0, um = 0;
	bool up_drained, cli_drained;

	if (s->state != PRX_RELAY && s->state != PRX_DRAIN)
		return;
	if (s->up.fd >= 0) {
		if (prx_write(s, &s->up, &s->cli, prx_limit(s))) {
			prx_kill(s, "upstream write failed");
			return;
		}
		/* At EOF an unfinished head can never be approved. */
		if (s->cli.rd_eof && s->http && s->cli.off == s->cli.fwd &&
		    s->hstate != PRX_H_UPWAIT)
			s->cli.off = s->cli.len = s->cli.fwd = 0;
		if (s->cli.rd_eof && s->cli.off == s->cli.len && !s->up.wr_shut)
			prx_shut_wr(&s->up);
	}
	/* The pipe holds upstream's bytes that came before anything in the
	 * buffer (it is filled only while the buffer is empty). */
	if ((s->pipe_len && prx_splice_out(s)) ||
	    (s->up.buf && !s->pipe_len && prx_write(s, &s->cli, &s->up, prx_up_limit(s)))) {
		prx_kill(s, "client write failed");
		return;
	}
	/* Upstream closed: held client bytes (an unfinished head, what
	 * followed an Upgrade request, first bytes not judged yet) can never
	 * be sent. */
	if ((s->http || s->guarded) && s->up.rd_eof && s->cli.off == s->cli.fwd)
		s->cli.off = s->cli.len = s->cli.fwd = 0;
	up_drained = (!s->up.buf || s->up.off == prx_up_limit(s)) && !s->pipe_len;
	if (s->state == PRX_DRAIN) {
		/* The 403 follows once every approved request is answered
		 * (or upstream closed). */
		if (s->up.fd >= 0 && (s->up.rd_eof || prx_resp_done(s))) {
			prx_close_fd(s, &s->up);
			s->up.fwd = s->up.len;
		}
		if (s->up.fd >= 0) {
			um = EV_READ * prx_can_read(s, &s->up) | s->up.xwant;
			if (s->cli.off < prx_limit(s))
				um |= EV_WRITE;
			ev_mod_fd(loop, s->up.fd, um);
			ev_mod_fd(loop, s->cli.fd, (up_drained ? 0 : EV_WRITE) | s->cli.xwant);
			return;
		}
		if (up_drained) {
			while (s->reply_off < s->reply_len) {
				ssize_t w = prx_send(&s->cli, s->reply + s->reply_off,
						     s->reply_len - s->reply_off);

				if (w == -EAGAIN)
					break;
				if (w < 0) {
					prx_kill(s, s->close_reason);
					return;
				}
				s->reply_off += (size_t)w;
			}
			if (s->reply_off == s->reply_len) {
				if (s->cli.ssl)
					tlsi_shutdown(s->cli.ssl);
				prx_kill(s, s->close_reason);
				return;
			}
		}
		ev_mod_fd(loop, s->cli.fd, EV_WRITE | s->cli.xwant);
		return;
	}
	if (s->up.rd_eof && up_drained && !s->cli.wr_shut)
		prx_shut_wr(&s->cli);
	cli_drained = s->cli.off == s->cli.len;
	if (s->cli.rd_eof && s->up.rd_eof && cli_drained && up_drained) {
		prx_kill(s, "closed");
		return;
	}
	if (prx_can_read(s, &s->cli))
		cm |= EV_READ;
	if (!up_drained)
		cm |= EV_WRITE;
	if (prx_can_read(s, &s->up))
		um |= EV_READ;
	if (s->cli.off < prx_limit(s))
		um |= EV_WRITE;
	cm |= s->cli.xwant;
	um |= s->up.xwant;
	ev_mod_fd(loop, s->cli.fd, cm);
	ev_mod_fd(loop, s->up.fd, um);
}

/* ---- callbacks ---- */

static void prx_cli_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct prx_sess *s = ctx;
	int rc;

	(void)loop;
	(void)fd;
	if (s->state == PRX_TLS) {
		prx_tls_step(s);
		return;
	}
	if (s->state == PRX_PEEK) {
		rc = prx_read(s, &s->cli);
		if (rc < 0 && rc != -EAGAIN) {
			prx_kill(s, "client error");
			return;
		}
		prx_peek_decide(s, s->cli.rd_eof || s->cli.len >= PRX_BUF);
		return;
	}
	if (s->state == PRX_RELAY && ((events & (EV_READ | EV_ERROR)) || s->cli.xwant)) {
		rc = prx_read(s, &s->cli);
		if (rc < 0 && rc != -EAGAIN) {
			prx_kill(s, "client reset");
			return;
		}
		if (s->http)
			prx_http_advance(s);
		else
			prx_guard_advance(s);
	}
	if (s->state == PRX_DRAIN && (events & EV_ERROR)) {
		prx_kill(s, s->close_reason);
		return;
	}
	prx_pump(s);
}

void prx_up_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct prx_sess *s = ctx;
	int rc;

	(void)loop;
	if (s->state == PRX_CONNECT) {
		int err = 0;
		socklen_t el = sizeof(err);

		/* Writable without an error: connected (no SO_ERROR call). */
		if ((events & EV_ERROR) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err == EINPROGRESS)
			return;
		if (err) {
			log_debug("proxy %s: connect %s: %s", s->target, s->dial_s, strerror(err));
			if (prx_dial_next(s))
				return;
			s->close_reason = "upstream refused or unreachable";
			prx_kill(s, strerror(err));
			return;
		}
		prx_connected(s);
		return;
	}
	if (s->state == PRX_TLS) {
		prx_tls_step(s);
		return;
	}
	if (s->state != PRX_RELAY && s->state != PRX_DRAIN)
		return;
	if (((events & (EV_READ | EV_ERROR)) || s->up.xwant) && !s->pipe_len) {
		bool spliced = prx_splice_ok(s);

		rc = spliced ? prx_splice_in(s) : -ENOSYS;
		if (rc == -ENOSYS) {
			spliced = false;
			rc = prx_read(s, &s->up);
		}
		if (rc < 0 && rc != -EAGAIN) {
			prx_kill(s, "upstream reset");
			return;
		}
		if (rc > 0 && !spliced &&
		    prx_tls_resp_leak(s, s->up.buf + s->up.len - rc, (size_t)rc))
			return;
		prx_resp_advance(s);
		if (s->state == PRX_DEAD)
			return;
		s->vhold = prx_tls_hold(s);
	}
	prx_pump(s);
}

/* ---- accepting ---- */

/* The original destination of an accepted connection. The local address
 * is the listener's when it is bound to one (no getsockname per
 * connection), else asked for. */
static int prx_orig_dst(const struct prx *px, int fd, struct sockaddr_storage *out)
{
	socklen_t sl = sizeof(struct sockaddr_in);
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);

	memset(out, 0, sizeof(*out));
	if (px->laddr.ss_family)
		local = px->laddr;
	else if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
		return -errno;
	if (local.ss_family == AF_INET) {
		if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, out, &sl) < 0)
			return -errno;
	} else {
		sl = sizeof(struct sockaddr_in6);
		if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, out, &sl) < 0)
			return -errno;
	}
	/* Not redirected: the "original" destination is this socket. */
	if (out->ss_family == local.ss_family && memcmp(out, &local, sl) == 0)
		return -AGW_ENOTFOUND;
	return 0;
}

/* A connection refused before it became a session (out of fds or
 * memory) still leaves its connect row. */
static void prx_audit_refused(struct prx *px, int fd, const char *reason)
{
	struct sockaddr_storage src, odst;
	socklen_t sl = sizeof(src);
	char src_s[64] = "?", odst_s[64] = "?";
	struct aud_event ev;

	memset(&src, 0, sizeof(src));
	if (getpeername(fd, (struct sockaddr *)&src, &sl) == 0)
		addr_format((struct sockaddr *)&src, src_s, sizeof(src_s));
	if (prx_orig_dst(px, fd, &odst) == 0)
		addr_format((struct sockaddr *)&odst, odst_s, sizeof(odst_s));
	px->n->stats[NETD_ST_CONNS_DENIED]++;
	netd_event_init(&ev, "net", "connect");
	ev.target = odst_s;
	ev.decision = "deny";
	ev.reason = reason;
	ev.src = src_s;
	ev.dst = odst_s;
	netd_audit(px->n, &ev);
}

static void prx_resume_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct prx *px = ctx;

	(void)id;
	px->resume_timer = 0;
	if (!px->held)
		ev_mod_fd(loop, px->lfd, EV_READ);
}

void prx_intake(struct prx *px, bool on)
{
	if (!px || px->lfd < 0 || px->held == !on)
		return;
	px->held = !on;
	if (!on)
		ev_pause_fd(px->n->loop, px->lfd);
	else if (!px->resume_timer)
		ev_mod_fd(px->n->loop, px->lfd, EV_READ);
}

static void prx_emfile(struct prx *px)
{
	int fd;

	/* Shed the pending connection with the spare fd, then pause. */
	if (px->spare_fd >= 0) {
		close(px->spare_fd);
		px->spare_fd = -1;
		fd = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			prx_audit_refused(px, fd, "out of file descriptors");
			close(fd);
		}
		px->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	px->emfile_count++;
	if (!px->emfile_logged || ev_now_ms(px->n->loop) - px->emfile_logged >= 5000) {
		log_warn("proxy: out of file descriptors (%llu times); pausing accept for %d ms",
			 (unsigned long long)px->emfile_count, PRX_EMFILE_PAUSE_MS);
		px->emfile_logged = ev_now_ms(px->n->loop);
	}
	ev_mod_fd(px->n->loop, px->lfd, 0);
	if (!px->resume_timer)
		px->resume_timer =
		    ev_timer_add(px->n->loop, PRX_EMFILE_PAUSE_MS, prx_resume_cb, px);
}

static void prx_accept_one(struct prx *px, int fd, const struct sockaddr_storage *src)
{
	struct netd *n = px->n;
	struct prx_sess *s;
	long total;

	s = calloc(1, sizeof(*s));
	if (!s) {
		prx_audit_refused(px, fd, "out of memory");
		close(fd);
		return;
	}
	s->px = px;
	s->cli.fd = fd;
	s->up.fd = -1;
	s->pipe[0] = s->pipe[1] = -1;
	s->via = "none";
	s->cred = -1;
	s->start_us = agw_mono_us();
	s->last_ms = ev_now_ms(n->loop);
	s->pol = netd_pol_get(n);
	s->src = *src;
	addr_format((struct sockaddr *)&s->src, s->src_s, sizeof(s->src_s));
	s->next = px->sess;
	if (px->sess)
		px->sess->prev = s;
	px->sess = s;
	px->nsess++;
	total = __atomic_add_fetch(n->conns, 1, __ATOMIC_RELAXED);
	n->stats[NETD_ST_CONNS]++;
	s->state = PRX_PEEK;
	if (prx_orig_dst(px, fd, &s->odst)) {
		snprintf(s->odst_s, sizeof(s->odst_s), "?");
		snprintf(s->target, sizeof(s->target), "?");
		s->dec.verdict = POL_DENY;
		prx_deny(s, "no original destination (not redirected)");
		return;
	}
	addr_format((struct sockaddr *)&s->odst, s->odst_s, sizeof(s->odst_s));
	s->port =
	    ntohs(s->odst.ss_family == AF_INET ? ((struct sockaddr_in *)&s->odst)->sin_port
					       : ((struct sockaddr_in6 *)&s->odst)->sin6_port);
	snprintf(s->target, sizeof(s->target), "%s", s->odst_s);
	/* the limit is the sandbox's: every worker's sessions count */
	if ((size_t)total > pol_max_conns(s->pol->p)) {
		s->dec.verdict = POL_DENY;
		prx_deny(s, "connection limit reached");
		return;
	}
	s->cli.buf = malloc(PRX_BUF);
	if (!s->cli.buf || ev_add_fd(n->loop, fd, EV_READ, prx_cli_cb, s)) {
		prx_kill(s, "out of memory");
		return;
	}
	prx_nodelay(fd);
	s->timer = ev_timer_add(n->loop, PRX_PEEK_MS, prx_timer_cb, s);
	if (!s->timer)
		prx_kill(s, "out of memory");
}

static void prx_accept_cb(struct ev_loop *loop, int lfd, unsigned events, void *ctx)
{
	struct prx *px = ctx;

	(void)loop;
	(void)events;
	for (int i = 0; i < 32 && !px->held; i++) {
		struct sockaddr_storage src;
		socklen_t sl = sizeof(src);
		int fd = accept4(lfd, (struct sockaddr *)&src, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				prx_emfile(px);
			return;
		}
		prx_accept_one(px, fd, &src);
	}
}

/* Keeps the listener's address when it is bound to one address (not the
 * wildcard): every accepted connection has it as its local address. */
static void prx_listen_addr(struct prx *px)
{
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);
	bool any;

	memset(&px->laddr, 0, sizeof(px->laddr));
	memset(&a, 0, sizeof(a));
	if (getsockname(px->lfd, (struct sockaddr *)&a, &al) < 0)
		return;
	if (a.ss_family == AF_INET)
		any = ((struct sockaddr_in *)&a)->sin_addr.s_addr == htonl(INADDR_ANY);
	else if (a.ss_family == AF_INET6)
		any = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a)->sin6_addr) ||
		      IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&a)->sin6_addr);
	else
		return;
	if (!any)
		px->laddr = a;
}

int prx_new(struct netd *n, int listen_fd, struct prx **out)
{
	struct prx *px;
	int rc;

	*out = NULL;
	px = calloc(1, sizeof(*px));
	if (!px) {
		close(listen_fd);
		return -AGW_ENOMEM;
	}
	px->n = n;
	px->lfd = listen_fd;
	px->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	prx_listen_addr(px);
	/* the net workers share the listener: one is woken per connection */
	rc = ev_add_fd(n->loop, listen_fd, EV_READ | EV_EXCLUSIVE, prx_accept_cb, px);
	if (!rc)
		rc = ev_before_sleep(n->loop, prx_reap, px);
	if (rc) {
		prx_free(px);
		return rc;
	}
	*out = px;
	return 0;
}

void prx_free(struct prx *px)
{
	if (!px)
		return;
	while (px->sess)
		prx_kill(px->sess, "gateway stopping");
	prx_reap(px->n->loop, px);
	ev_before_sleep_del(px->n->loop, prx_reap, px);
	ev_timer_del(px->n->loop, px->resume_timer);
	if (px->lfd >= 0) {
		ev_del_fd(px->n->loop, px->lfd);
		close(px->lfd);
	}
	if (px->spare_fd >= 0)
		close(px->spare_fd);
	free(px);
}

size_t prx_sessions(const struct prx *px)
{
	return px->nsess;
}
