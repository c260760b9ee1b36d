// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transparent proxy sessions, the connection core (see prx.h and
 * prx_int.h; plain HTTP is judged in prx_http.c). A session is two
 * half-connections (client and upstream), each with the buffer of bytes
 * read from it and not yet written to the other, and a state that changes
 * only in prx_set_state(), which logs the change and arms that state's
 * timer. Sessions that reach PRX_DEAD have their fds closed at once and
 * their memory freed in the loop's before-sleep hook, never inside a
 * callback; every session leaves a connect row, also one closed before
 * it sent anything.
 *
 * The first bytes decide what a connection is, however they are timed or
 * split: TLS-shaped bytes (sni_sniff) are decided on one well-formed SNI,
 * HTTP-shaped bytes (http_sniff) on every request's Host; TLS or HTTP
 * without a readable name is refused unless a cidr rule allows the
 * original destination. Only bytes that are neither are decided on the
 * address alone, and when that decision rests on a DNS binding (not a
 * cidr rule) the connection stays guarded for its life: the client's
 * bytes go upstream only after they were checked, the first bytes must be
 * neither TLS nor HTTP whenever they arrive (also after the peek deadline,
 * when the server may speak first), and a TLS ClientHello or HTTP request
 * line found later ends the connection.
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

static bool prx_dial_next(struct prx_sess *s);
static int prx_audit_connect(struct prx_sess *s, const char *decision, const char *reason);
static void prx_cli_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);
static void prx_up_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);
static void prx_guard_advance(struct prx_sess *s);

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

static void prx_peek_decide(struct prx_sess *s, bool final);

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
static int prx_audit_connect(struct prx_sess *s, const char *decision, const char *reason)
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

static void prx_up_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);

/* ---- connecting ---- */

static void prx_fill_sa(struct sockaddr_storage *ss, int family, const uint8_t *a, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a, 4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a, 16);
	}
}

static void prx_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* Connects to s->dial. On failure of the first step, kills the session. */
static void prx_connect(struct prx_sess *s)
{
	socklen_t sl =
	    s->dial.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int fd;

	prx_close_fd(s, &s->up);
	fd = socket(s->dial.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		prx_kill(s, "cannot create upstream socket");
		return;
	}
	prx_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&s->dial, sl) < 0 && errno != EINPROGRESS) {
		close(fd);
		if (!prx_dial_next(s))
			prx_kill(s, "connect failed");
		return;
	}
	s->up.fd = fd;
	if (ev_add_fd(s->px->n->loop, fd, EV_WRITE, prx_up_cb, s)) {
		close(fd);
		s->up.fd = -1;
		prx_kill(s, "cannot watch upstream socket");
		return;
	}
	/* The client's bytes wait in its buffer until connected (it rarely
	 * sends more meanwhile: a lazy pause). */
	ev_pause_fd(s->px->n->loop, s->cli.fd);
	prx_set_state(s, PRX_CONNECT, s->dial_s);
}

static void prx_connected(struct prx_sess *s)
{
	s->up.buf = malloc(PRX_BUF);
	if (!s->up.buf) {
		prx_kill(s, "out of memory");
		return;
	}
	if (s->inspect) {
		prx_tls_start(s);
		return;
	}
	prx_set_state(s, PRX_RELAY, "connected");
	if (s->state != PRX_RELAY)
		return;
	s->last_ms = ev_now_ms(s->px->n->loop);
	if (s->http)
		prx_http_advance(s);
	else
		prx_guard_advance(s);
	prx_pump(s);
}

/* Dials the next usable address; false when none is left. */
static bool prx_dial_next(struct prx_sess *s)
{
	if (s->next_addr >= s->naddrs)
		return false;
	prx_fill_sa(&s->dial, s->family, s->addrs[s->next_addr++], s->port);
	addr_format((struct sockaddr *)&s->dial, s->dial_s, sizeof(s->dial_s));
	prx_connect(s);
	return true;
}

/* Keeps the usable resolved addresses, records the decision, dials. */
static void prx_have_addrs(struct prx_sess *s, int family, uint8_t (*addrs)[16], size_t n)
{
	struct pol_decision ad;
	char why[96] = "";
	bool audit_mode = pol_mode(s->pol->p) == POL_MODE_AUDIT;

	s->family = family;
	s->naddrs = s->next_addr = 0;
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		enum addr_class cls;

		prx_fill_sa(&ss, family, addrs[i], s->port);
		cls = hostaddr_classify(s->px->n->hostaddr, (struct sockaddr *)&ss);
		if (cls != ADDR_PUBLIC) {
			pol_check_addr(s->pol->p, (struct sockaddr *)&ss, s->port, &ad);
			if (ad.verdict != POL_ALLOW && !audit_mode) {
				snprintf(why, sizeof(why), "resolves to a %s address",
					 addr_class_str(cls));
				addr_format((struct sockaddr *)&ss, s->dial_s, sizeof(s->dial_s));
				continue;
			}
		}
		memcpy(s->addrs[s->naddrs++], addrs[i], 16);
	}
	if (!s->naddrs) {
		s->dec.verdict = POL_DENY;
		prx_deny(s, why[0] ? why : "name has no addresses");
		return;
	}
	prx_fill_sa(&s->dial, family, s->addrs[0], s->port);
	addr_format((struct sockaddr *)&s->dial, s->dial_s, sizeof(s->dial_s));
	if (prx_audit_connect(s, pol_verdict_str(s->dec.verdict), why[0] ? why : s->dec.reason)) {
		if (s->http)
			prx_reply_403(s, NULL, "audit unavailable");
		else
			prx_kill(s, "audit unavailable");
		return;
	}
	prx_dial_next(s);
}

static void prx_res_cb(const struct res_answer *ans, void *ctx)
{
	struct prx_sess *s = ctx;
	uint8_t addrs[RES_MAX_ADDRS][16];

	s->req = NULL;
	if (ans->status != RES_OK) {
		s->dec.verdict = POL_DENY;
		prx_audit_connect(s, "error",
				  ans->status == RES_NXDOMAIN ? "name does not exist"
							      : "cannot resolve name");
		if (s->http)
			prx_reply_403(s, NULL, "cannot resolve name");
		else
			prx_kill(s, "cannot resolve name");
		return;
	}
	if (ans->n == 0) {
		/* NODATA: the name may have only AAAA records; the proxy dials
		 * IPv4 only (the gateway has no IPv6 route upstream). */
		s->dec.verdict = POL_DENY;
		prx_audit_connect(s, "error", "no IPv4 address");
		if (s->http)
			prx_reply_403(s, NULL, "no IPv4 address");
		else
			prx_kill(s, "no IPv4 address");
		return;
	}
	memcpy(addrs, ans->addr, sizeof(addrs));
	prx_have_addrs(s, ans->family, addrs, ans->n);
}

static void prx_resolve(struct prx_sess *s)
{
	struct netd *n = s->px->n;
	uint8_t addrs[RES_MAX_ADDRS][16];
	size_t k;

	k = dnsb_addrs(n->dnsb, s->name, AF_INET, ev_now_ms(n->loop), addrs, RES_MAX_ADDRS);
	if (k) {
		prx_have_addrs(s, AF_INET, addrs, k);
		return;
	}
	s->req = res_lookup(n->res, s->name, AF_INET, prx_res_cb, s);
	if (!s->req) {
		prx_audit_connect(s, "error", "resolver busy");
		prx_kill(s, "resolver busy");
		return;
	}
	ev_pause_fd(n->loop, s->cli.fd);
	prx_set_state(s, PRX_RESOLVE, s->name);
}

/* ---- deciding ---- */

/*
 * Refuses a TLS client with a fatal access_denied alert, so it reports a
 * denial ("tlsv1 alert access denied") rather than a reset it could take
 * for an outage. Nothing was dialed: the ClientHello is still in cli.buf.
 */
static void prx_reply_alert(struct prx_sess *s, const char *reason)
{
	prx_close_fd(s, &s->up);
	s->up.rd_eof = true;
	free(s->reply);
	s->reply = malloc(DENY_TLS_ALERT_LEN);
	if (!s->reply) {
		prx_kill(s, reason);
		return;
	}
	s->reply_len = deny_tls_alert(s->cli.buf, s->cli.len, (uint8_t *)s->reply);
	s->reply_off = 0;
	if (!s->close_reason)
		s->close_reason = reason;
	prx_set_state(s, PRX_DRAIN, reason);
	if (s->state == PRX_DRAIN)
		prx_pump(s);
}

void prx_deny(struct prx_sess *s, const char *reason)
{
	s->px->n->stats[NETD_ST_CONNS_DENIED]++;
	prx_audit_connect(s, "deny", reason);
	if (s->http)
		prx_reply_403(s, s->dec.rule, reason);
	else if (s->tls)
		prx_reply_alert(s, reason);
	else
		prx_kill(s, reason);
}

/* The person's answer for a connection held in PRX_ASK. */
static void prx_ask_cb(void *ctx, const struct ipc_answer *a)
{
	struct prx_sess *s = ctx;

	s->ask = NULL;
	if (s->state != PRX_ASK)
		return;
	snprintf(s->dec.rule, sizeof(s->dec.rule), "approval:%u", a->approval);
	s->dec.line = 0;
	if (!a->allow) {
		s->dec.verdict = POL_DENY;
		if (a->scope == IPC_SCOPE_TIMEOUT)
			snprintf(s->denied_why, sizeof(s->denied_why), "%s",
				 a->reason[0] ? a->reason : "approval timed out");
		else
			snprintf(s->denied_why, sizeof(s->denied_why), "denied by %s%s%s", a->who,
				 a->reason[0] ? ": " : "", a->reason);
		prx_deny(s, s->denied_why);
		return;
	}
	s->approval = a->approval;
	snprintf(s->approved_why, sizeof(s->approved_why), "approved (%s) by %s",
		 ipc_scope_str(a->scope), a->who);
	s->dec.verdict = POL_ALLOW;
	s->dec.reason = s->approved_why;
	prx_resolve(s);
}

/* Holds the connection for a person: nothing is dialed, the client's bytes
 * stay in its buffer. */
static void prx_ask(struct prx_sess *s)
{
	struct netd *n = s->px->n;

	if (!n->audit_ok) {
		s->dec.verdict = POL_DENY;
		prx_deny(s, "audit unavailable");
		return;
	}
	s->ask = netd_ask_start(n, IPC_ASK_CONNECT, s->name, s->port, s->dec.rule, prx_ask_cb, s);
	if (!s->ask) {
		s->dec.verdict = POL_DENY;
		prx_deny(s, "approvals unavailable");
		return;
	}
	ev_mod_fd(n->loop, s->cli.fd, 0);
	prx_set_state(s, PRX_ASK, "waiting for approval");
}

void prx_decide_name(struct prx_sess *s, const char *name, const char *via,
		     const struct http_req *r)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->target, sizeof(s->target), "%s:%u", s->name, s->port);
	s->via = via;
	s->http = r != NULL;
	/* Plain HTTP: the first request decides before anything is dialed
	 * (rules with http lists apply only to plain HTTP requests). */
	if (r) {
		prx_judge_http(s, r, &s->dec);
	} else {
		int pc;

		pol_check_tls(s->pol->p, s->name, s->port, &s->dec, &s->inspect, &pc);
		s->cred = -1;
		if (pc >= 0) {
			const struct pol_cred *pcs;
			const struct cred *c;

			pol_creds(s->pol->p, &pcs);
			c = cred_find(s->px->n->creds, pcs[pc].name);
			if (c)
				s->cred = (int)(c - s->px->n->creds->v);
		}
		if (s->inspect && !s->px->n->tlsi) {
			s->dec.verdict = POL_DENY;
			s->dec.reason = "TLS inspection unavailable (no sandbox CA)";
		}
	}
	if (s->dec.verdict == POL_ASK) {
		prx_ask(s);
		return;
	}
	if (!pol_permits(&s->dec)) {
		if (r)
			prx_audit_http(s, r, &s->dec, "deny", s->dec.reason);
		prx_deny(s, s->dec.reason ? s->dec.reason : "denied");
		return;
	}
	prx_resolve(s);
}

bool prx_cidr_allows(struct prx_sess *s)
{
	struct pol_decision d;

	pol_check_addr(s->pol->p, (struct sockaddr *)&s->odst, s->port, &d);
	return d.verdict == POL_ALLOW;
}

/*
 * No name: the original destination must be in a cidr rule, or bound by
 * the sandbox's DNS answers to an allowed name (then the session is
 * guarded: see prx_guard_advance). first_seen: the first client bytes were
 * already found to be neither TLS nor HTTP.
 */
static void prx_decide_addr_as(struct prx_sess *s, const char *via, bool first_seen)
{
	struct netd *n = s->px->n;
	const uint8_t *a;
	char names[16][DNSB_NAME_MAX + 1];
	int family = s->odst.ss_family;
	size_t k;
	enum addr_class cls;
	struct pol_decision d;

	s->via = via;
	s->http = false;
	snprintf(s->target, sizeof(s->target), "%s", s->odst_s);
	a = family == AF_INET ? (const uint8_t *)&((struct sockaddr_in *)&s->odst)->sin_addr
			      : (const uint8_t *)&((struct sockaddr_in6 *)&s->odst)->sin6_addr;
	cls = hostaddr_classify(n->hostaddr, (struct sockaddr *)&s->odst);
	pol_check_addr(s->pol->p, (struct sockaddr *)&s->odst, s->port, &s->dec);
	if (s->dec.verdict != POL_ALLOW && cls == ADDR_PUBLIC) {
		k = dnsb_names(n->dnsb, family, a, ev_now_ms(n->loop), names, AGW_ARRAY_LEN(names));
		for (size_t i = 0; i < k; i++) {
			pol_check_host(s->pol->p, names[i], s->port, &d);
			if (d.verdict == POL_ALLOW) {
				s->dec = d;
				s->via = "binding";
				s->guarded = true;
				s->first_seen = first_seen;
				snprintf(s->name, sizeof(s->name), "%.*s", (int)sizeof(s->name) - 1,
					 names[i]);
				break;
			}
		}
	}
	if (!pol_permits(&s->dec)) {
		prx_deny(s, cls == ADDR_GATEWAY	 ? "address of the gateway host"
			    : cls != ADDR_PUBLIC ? "special-purpose address"
			    : s->dec.reason	 ? s->dec.reason
						 : "no allowed name resolved to this address");
		return;
	}
	s->dial = s->odst;
	snprintf(s->dial_s, sizeof(s->dial_s), "%s", s->odst_s);
	if (prx_audit_connect(s, pol_verdict_str(s->dec.verdict), s->dec.reason)) {
		prx_kill(s, "audit unavailable");
		return;
	}
	prx_connect(s);
}

void prx_decide_addr(struct prx_sess *s, const char *via)
{
	prx_decide_addr_as(s, via, true);
}

/* TLS without one well-formed SNI: only a cidr rule for the address. */
static void prx_tls_noname(struct prx_sess *s, int rc)
{
	const char *why;

	if (prx_cidr_allows(s)) {
		prx_decide_addr(s, rc == -AGW_ENOTFOUND ? "tls-no-sni" : "tls-unparsed");
		return;
	}
	if (rc == -AGW_ENOTFOUND)
		why = "TLS without SNI";
	else if (rc == -AGW_ETRUNC)
		why = "incomplete TLS ClientHello";
	else
		why = "malformed or ambiguous TLS ClientHello (SNI not one valid host name)";
	s->via = rc == -AGW_ENOTFOUND ? "tls-no-sni" : "tls-unparsed";
	s->http = false;
	snprintf(s->target, sizeof(s->target), "%s", s->odst_s);
	memset(&s->dec, 0, sizeof(s->dec));
	s->dec.verdict = POL_DENY;
	prx_deny(s, why);
}

/*
 * Refuses a guarded session whose client turned out to speak TLS or HTTP:
 * the connection was allowed on its address alone, which holds only for
 * protocols that are neither.
 */
static void prx_guard_deny(struct prx_sess *s, const char *why)
{
	struct aud_event ev;
	char detail[512];

	s->px->n->stats[NETD_ST_CONNS_DENIED]++;
	memset(&s->dec, 0, sizeof(s->dec));
	s->dec.verdict = POL_DENY;
	netd_event_init(&ev, "net", "connect");
	snprintf(detail, sizeof(detail), "{\"via\":\"guard\",\"orig_dst\":\"%s\",\"name\":\"%s\"}",
		 s->odst_s, s->name);
	ev.target = s->target;
	ev.decision = "deny";
	ev.reason = why;
	ev.src = s->src_s;
	ev.dst = s->dial_s[0] ? s->dial_s : s->odst_s;
	ev.detail = detail;
	netd_audit(s->px->n, &ev);
	prx_kill(s, why);
}

/*
 * Guarded sessions: approves the client's bytes past fwd while they stay
 * neither TLS nor HTTP. The first bytes are sniffed whenever they come
 * (bytes that cannot be told apart yet wait, and are refused at EOF); after
 * them, every byte is scanned for a TLS ClientHello or an HTTP request
 * line, across reads (tail).
 */
static void prx_guard_advance(struct prx_sess *s)
{
	struct prx_half *c = &s->cli;
	uint8_t junction[2 * PRX_SCAN_TAIL];
	size_t n, k;

	if (!s->guarded || c->fwd >= c->len || s->state != PRX_RELAY)
		return;
	if (!s->first_seen) {
		int t = sni_sniff(c->buf + c->fwd, c->len - c->fwd);
		int h = http_sniff(c->buf + c->fwd, c->len - c->fwd);

		if (t == 1 || h == 1) {
			prx_guard_deny(s, t == 1 ? "TLS on a connection allowed by address only"
						 : "HTTP on a connection allowed by address only");
			return;
		}
		if (t < 0 || h < 0) {
			if (c->rd_eof || c->len >= PRX_BUF)
				prx_guard_deny(s, "first bytes could be TLS or HTTP");
			return;
		}
		s->first_seen = true;
	}
	n = c->len - c->fwd;
	k = AGW_MIN(n, (size_t)PRX_SCAN_TAIL);
	memcpy(junction, s->tail, s->tail_len);
	memcpy(junction + s->tail_len, c->buf + c->fwd, k);
	if (http_scan_shaped(junction, s->tail_len + k) || http_scan_shaped(c->buf + c->fwd, n)) {
		prx_guard_deny(s, "TLS ClientHello or HTTP request inside a connection allowed "
				  "by address only");
		return;
	}
	if (n >= PRX_SCAN_TAIL) {
		memcpy(s->tail, c->buf + c->len - PRX_SCAN_TAIL, PRX_SCAN_TAIL);
		s->tail_len = PRX_SCAN_TAIL;
	} else {
		size_t keep = AGW_MIN(s->tail_len, (size_t)PRX_SCAN_TAIL - n);

		memmove(s->tail, s->tail + s->tail_len - keep, keep);
		memcpy(s->tail + keep, c->buf + c->fwd, n);
		s->tail_len = keep + n;
	}
	c->fwd = c->len;
}

/* Returns t, or -2 when a placeholder was found in the first bytes (the
 * session is then refused). */
static int prx_leak_first(struct prx_sess *s, const uint8_t *b, size_t len, int t)
{
	const struct cred_set *cs = s->px->n->creds;
	int k = cred_find_any(cs, b, len);
	char why[128];

	if (k < 0)
		return t;
	s->px->n->stats[NETD_ST_CRED_LEAKS]++;
	snprintf(why, sizeof(why), "credential leak attempt: placeholder of '%s' in the %s",
		 cs->v[k].name, t == 1 ? "TLS ClientHello" : "first bytes");
	s->via = t == 1 ? "tls" : "none";
	s->http = false;
	memset(&s->dec, 0, sizeof(s->dec));
	s->dec.verdict = POL_DENY;
	/* why lives on the stack: the close row takes the static text. */
	prx_audit_connect(s, "deny", why);
	s->px->n->stats[NETD_ST_CONNS_DENIED]++;
	prx_kill(s, "credential leak attempt");
	return -2;
}

/*
 * The first look at a connection. final: no more bytes will come before
 * the decision (peek deadline, EOF, full buffer).
 */
static void prx_peek_decide(struct prx_sess *s, bool final)
{
	const uint8_t *b = s->cli.buf;
	size_t len = s->cli.len;
	int t, h;

	if (len == 0) {
		if (s->cli.rd_eof)
			prx_kill(s, "client closed before sending anything");
		else if (final) /* silent client: the server may speak first */
			prx_decide_addr_as(s, "none", false);
		return;
	}
	t = sni_sniff(b, len);
	h = http_sniff(b, len);
	/* A placeholder in a ClientHello or the first bytes of anything but
	 * HTTP (judged request by request) is a leak attempt. */
	if (h != 1 && (t = prx_leak_first(s, b, len, t)) == -2)
		return;
	if (t == 1) {
		char host[SNI_HOST_MAX + 1];
		int rc = sni_parse(b, len, host, sizeof(host));

		if (rc == -AGW_ETRUNC && !final && len < PRX_BUF)
			return;
		s->tls = true;
		if (rc == 0)
			prx_decide_name(s, host, "tls", NULL);
		else
			prx_tls_noname(s, rc);
		return;
	}
	if (h == 1) {
		prx_http_peek(s, final);
		return;
	}
	if (t < 0 || h < 0) {
		if (!final)
			return;
		/* Could still become TLS or HTTP: no name can be read. */
		if (prx_cidr_allows(s)) {
			prx_decide_addr(s, "none");
			return;
		}
		s->via = "none";
		memset(&s->dec, 0, sizeof(s->dec));
		s->dec.verdict = POL_DENY;
		prx_deny(s, "first bytes could be TLS or HTTP but are incomplete");
		return;
	}
	prx_decide_addr(s, "none");
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

static void prx_up_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
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
