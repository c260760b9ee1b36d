// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The DNS server (see dnss.h). A query becomes a struct dnss_q that lives
 * until its answer is sent: UDP queries remember the client address, TCP
 * queries their connection (one query at a time per connection: reading
 * pauses while it is answered). Pipelined TCP queries are taken from the
 * connection's fixed read buffer in a loop, never by recursion: a refused
 * query is answered before dnss_handle returns, and the flush that sends
 * it only marks the connection idle while that loop runs, so one segment
 * full of queries costs one stack frame and one reply buffer at a time.
 * Decisions come from the policy the query started with; the audit event
 * is queued just before the reply, so the reply for an allowed name is
 * SERVFAIL when the event cannot be queued. UDP queries are read up to
 * DNSS_UDP_BATCH at a time (recvmmsg) and the replies of one loop pass
 * leave together (sendmmsg) in the before-sleep hook, after the pass's
 * audit events (netd_audit_flush).
 */
#include "dnss.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "cred.h"
#include "dns_msg.h"
#include "dnsb.h"
#include "hostaddr.h"
#include "log.h"
#include "ipc.h"
#include "res.h"

#define DNSS_UDP_BUF 4096
#define DNSS_TCP_RBUF 4096
#define DNSS_UDP_BATCH 64

struct dnss_tcp {
	struct dnss *d;
	int fd;
	uint8_t rbuf[DNSS_TCP_RBUF];
	size_t rlen;
	uint8_t *wbuf; /* 2-byte length + reply */
	size_t wlen, woff;
	bool busy;	 /* a query is being answered */
	bool processing; /* dnss_tcp_process is on the stack */
	bool closing;
	uint64_t timer;
	struct dnss_tcp *next, *prev;
};

/* A UDP reply of this loop pass, sent with the others by one sendmmsg
 * after the pass's audit events (dnss_udp_flush). */
struct dnss_udp_out {
	struct sockaddr_storage peer;
	socklen_t plen;
	size_t len;
	bool held; /* decided while the audit channel was full */
	uint8_t buf[DNS_EDNS_SIZE];
};

struct dnss_q {
	struct dnss *d;
	struct dns_query q;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	struct dnss_tcp *tc;
	struct res_req *req;
	struct netd_pol *pol;
	struct pol_decision dec;
	struct netd_waiter *ask; /* waiting for a person (POL_ASK) */
	uint64_t hold_timer;	 /* ... for at most DNSS_ASK_HOLD_MS */
	char why[IPC_ASK_REASON_MAX + 96];
	struct dnss_q *next, *prev;
};

struct dnss {
	struct netd *n;
	int udp_fd, tcp_fd;
	struct dnss_q *qs;
	size_t nq;
	struct dnss_tcp *tcps;
	size_t ntcp;
	struct dnss_tcp *dead; /* freed in before-sleep */
	struct dnss_udp_out *out; /* DNSS_UDP_BATCH replies (NULL: sent one by one) */
	size_t nout;
	uint8_t (*in)[DNSS_UDP_BUF]; /* DNSS_UDP_BATCH datagrams for recvmmsg */
};

static const char *dnss_qtype_str(uint16_t t, char *buf, size_t cap)
{
	switch (t) {
	case DNS_T_A:
		return "A";
	case DNS_T_AAAA:
		return "AAAA";
	case DNS_T_TXT:
		return "TXT";
	case DNS_T_MX:
		return "MX";
	case DNS_T_NS:
		return "NS";
	case DNS_T_CNAME:
		return "CNAME";
	case DNS_T_SOA:
		return "SOA";
	case DNS_T_PTR:
		return "PTR";
	case DNS_T_SRV:
		return "SRV";
	case DNS_T_HTTPS:
		return "HTTPS";
	case DNS_T_ANY:
		return "ANY";
	default:
		snprintf(buf, cap, "TYPE%u", t);
		return buf;
	}
}

static void dnss_peer_str(const struct dnss_q *dq, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	out[0] = '\0';
	if (dq->tc) {
		if (getpeername(dq->tc->fd, (struct sockaddr *)&ss, &sl) == 0)
			addr_format((struct sockaddr *)&ss, out, cap);
	} else {
		addr_format((const struct sockaddr *)&dq->peer, out, cap);
	}
}

/* ---- TCP connections ---- */

static void dnss_tcp_kill(struct dnss_tcp *c)
{
	struct dnss *d = c->d;

	if (c->closing)
		return;
	c->closing = true;
	ev_del_fd(d->n->loop, c->fd);
	ev_timer_del(d->n->loop, c->timer);
	c->timer = 0;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->tcps = c->next;
	if (c->next)
		c->next->prev = c->prev;
	d->ntcp--;
	c->prev = NULL;
	c->next = d->dead;
	d->dead = c;
}

/* Sends the pass's UDP replies, after the pass's audit events: a reply
 * never reaches the guest before its query's event left (netd.c). */
static void dnss_udp_flush(struct dnss *d)
{
	struct mmsghdr mm[DNSS_UDP_BATCH];
	struct iovec iov[DNSS_UDP_BATCH];
	size_t sent = 0;

	if (!d->nout)
		return;
	/* Replies allowed while the audit channel was full (dnss_audit) wait
	 * for their events to leave: the next pass after it drains. */
	if (netd_audit_flush(d->n)) {
		if (netd_audit_holding(d->n))
			return;
		/* Held past NETD_BLOCK_MS: those answers are dropped, never
		 * sent before their events (the client asks again). */
		size_t k = 0;

		for (size_t i = 0; i < d->nout; i++)
			if (!d->out[i].held)
				d->out[k++] = d->out[i];
		d->nout = k;
		if (!k)
			return;
	}
	for (size_t i = 0; i < d->nout; i++) {
		iov[i].iov_base = d->out[i].buf;
		iov[i].iov_len = d->out[i].len;
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_name = &d->out[i].peer;
		mm[i].msg_hdr.msg_namelen = d->out[i].plen;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < d->nout) {
		int r = sendmmsg(d->udp_fd, mm + sent, (unsigned)(d->nout - sent),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r > 0)
			sent += (size_t)r;
		else if (errno != EINTR)
			sent++; /* this one is lost, like a failed sendto; go on */
	}
	d->nout = 0;
}

static void dnss_reap(struct ev_loop *loop, void *ctx)
{
	struct dnss *d = ctx;

	(void)loop;
	dnss_udp_flush(d);
	while (d->dead) {
		struct dnss_tcp *c = d->dead;

		d->dead = c->next;
		/* A query still running for it is detached in dnss_q_finish. */
		for (struct dnss_q *q = d->qs; q; q = q->next)
			if (q->tc == c)
				q->tc = NULL, q->peer_len = 0;
		close(c->fd);
		free(c->wbuf);
		free(c);
	}
}

static void dnss_tcp_idle(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct dnss_tcp *c = ctx;

	(void)loop;
	(void)id;
	c->timer = 0;
	dnss_tcp_kill(c);
}

static void dnss_tcp_arm(struct dnss_tcp *c)
{
	ev_timer_del(c->d->n->loop, c->timer);
	c->timer = ev_timer_add(c->d->n->loop, DNSS_TCP_IDLE_MS, dnss_tcp_idle, c);
}

static void dnss_tcp_process(struct dnss_tcp *c);

static void dnss_tcp_flush(struct dnss_tcp *c)
{
	while (c->woff < c->wlen) {
		ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ev_mod_fd(c->d->n->loop, c->fd, EV_WRITE);
				return;
			}
			dnss_tcp_kill(c);
			return;
		}
		c->woff += (size_t)w;
	}
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->woff = 0;
	c->busy = false;
	ev_mod_fd(c->d->n->loop, c->fd, EV_READ);
	/* Inside the loop of dnss_tcp_process the next frame is its job. */
	if (!c->processing)
		dnss_tcp_process(c);
}

static void dnss_handle(struct dnss *d, const uint8_t *msg, size_t len,
			const struct sockaddr_storage *peer, socklen_t plen, struct dnss_tcp *tc);

static void dnss_tcp_process(struct dnss_tcp *c)
{
	uint8_t msg[DNSS_TCP_RBUF];
	size_t mlen;

	if (c->processing)
		return;
	c->processing = true;
	/* Bounded: each turn consumes a frame of the fixed-size rbuf, and
	 * only one query per connection is outstanding at a time. */
	while (!c->closing && !c->busy) {
		if (dns_tcp_frame_len(c->rbuf, c->rlen, &mlen) != 0)
			break;
		if (mlen + 2 > sizeof(c->rbuf) || mlen < DNS_HDR_LEN) {
			c->d->n->stats[NETD_ST_DNS_MALFORMED]++;
			dnss_tcp_kill(c);
			break;
		}
		if (c->rlen < mlen + 2)
			break;
		/* Take the frame out first: the reply may be sent before
		 * dnss_handle returns. */
		memcpy(msg, c->rbuf + 2, mlen);
		memmove(c->rbuf, c->rbuf + 2 + mlen, c->rlen - 2 - mlen);
		c->rlen -= 2 + mlen;
		c->busy = true;
		ev_mod_fd(c->d->n->loop, c->fd, 0);
		dnss_handle(c->d, msg, mlen, NULL, 0, c);
	}
	c->processing = false;
}

static void dnss_tcp_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dnss_tcp *c = ctx;

	(void)loop;
	if (events & EV_WRITE) {
		dnss_tcp_flush(c);
		return;
	}
	if (events & EV_READ) {
		ssize_t r = recv(fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			dnss_tcp_kill(c);
			return;
		}
		c->rlen += (size_t)r;
		dnss_tcp_arm(c);
		dnss_tcp_process(c);
	}
}

static void dnss_accept_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dnss *d = ctx;

	(void)events;
	for (int i = 0; i < 16; i++) {
		struct dnss_tcp *c;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			return;
		if (d->ntcp >= DNSS_MAX_TCP) {
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			return;
		}
		c->d = d;
		c->fd = cfd;
		if (ev_add_fd(loop, cfd, EV_READ, dnss_tcp_cb, c)) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = d->tcps;
		if (d->tcps)
			d->tcps->prev = c;
		d->tcps = c;
		d->ntcp++;
		dnss_tcp_arm(c);
	}
}

/* ---- replies ---- */

static void dnss_send(struct dnss *d, const struct sockaddr_storage *peer, socklen_t plen,
		      struct dnss_tcp *tc, const uint8_t *msg, size_t len)
{
	if (tc) {
		uint8_t *w = malloc(len + 2);

		if (!w) {
			dnss_tcp_kill(tc);
			return;
		}
		w[0] = (uint8_t)(len >> 8);
		w[1] = (uint8_t)len;
		memcpy(w + 2, msg, len);
		free(tc->wbuf);
		tc->wbuf = w;
		tc->wlen = len + 2;
		tc->woff = 0;
		dnss_tcp_flush(tc);
		return;
	}
	if (!plen)
		return;
	if (!d->out || len > sizeof(d->out[0].buf)) {
		sendto(d->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		       (const struct sockaddr *)peer, plen);
		return;
	}
	if (d->nout == DNSS_UDP_BATCH)
		dnss_udp_flush(d);
	if (d->nout == DNSS_UDP_BATCH) { /* held replies: this one was denied */
		sendto(d->udp_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		       (const struct sockaddr *)peer, plen);
		return;
	}
	d->out[d->nout].peer = *peer;
	d->out[d->nout].plen = plen;
	d->out[d->nout].len = len;
	d->out[d->nout].held = netd_audit_holding(d->n);
	memcpy(d->out[d->nout].buf, msg, len);
	d->nout++;
}

/*
 * Replies with rcode and answers, and when ede is given (and the query had
 * EDNS) an Extended DNS Error whose text is "denied by agentgw: <why>"
 * plus the denying rule, so a client can tell a policy denial from an
 * outage. A failure to build becomes SERVFAIL.
 */
static void dnss_reply(struct dnss_q *dq, int rcode, const struct dns_rr *rr, size_t n,
		       int ede_code, const char *why)
{
	uint8_t out[DNS_TCP_MAX];
	size_t cap = dq->tc ? sizeof(out) : dns_udp_limit(&dq->q, sizeof(out)), len;
	char text[DNS_EDE_TEXT_MAX + 1];
	struct dns_ede ede = {.code = (uint16_t)ede_code, .text = text};

	/* the rule only when it is the one that denied the name */
	bool by_rule =
	    ede_code == DNS_EDE_BLOCKED && dq->dec.verdict == POL_DENY && dq->dec.rule[0];

	if (ede_code >= 0)
		snprintf(text, sizeof(text), "%s: %s%s%s",
			 ede_code == DNS_EDE_OTHER ? "agentgw" : "denied by agentgw",
			 why ? why : "denied", by_rule ? "; rule " : "",
			 by_rule ? dq->dec.rule : "");
	if (dns_build_response_ede(&dq->q, rcode, rr, n, ede_code >= 0 ? &ede : NULL, out, cap,
				   &len) &&
	    dns_build_response(&dq->q, DNS_RC_SERVFAIL, NULL, 0, out, cap, &len))
		return;
	if (dq->tc || dq->peer_len)
		dnss_send(dq->d, &dq->peer, dq->peer_len, dq->tc, out, len);
}

static void dnss_q_free(struct dnss_q *dq)
{
	struct dnss *d = dq->d;

	if (dq->req)
		res_cancel(dq->req);
	netd_ask_cancel(d->n, dq->ask);
	if (dq->hold_timer)
		ev_timer_del(d->n->loop, dq->hold_timer);
	if (dq->prev)
		dq->prev->next = dq->next;
	else if (d->qs == dq)
		d->qs = dq->next;
	if (dq->next)
		dq->next->prev = dq->prev;
	d->nq--;
	netd_pol_put(dq->pol);
	free(dq);
}

/* Audit a decision; returns 0 when the action may go ahead. */
static int dnss_audit(struct dnss_q *dq, const char *decision, const char *reason,
		      const char *detail)
{
	struct aud_event ev;
	char src[64];

	netd_event_init(&ev, "dns", "query");
	dnss_peer_str(dq, src, sizeof(src));
	ev.target = dq->q.name;
	ev.decision = decision;
	ev.rule = dq->dec.rule[0] ? dq->dec.rule : NULL;
	ev.reason = reason;
	ev.src = src;
	ev.detail = detail;
	/* A UDP reply can wait in d->out for its event (dnss_udp_flush). */
	if (!dq->tc && dq->d->out && dq->d->nout < DNSS_UDP_BATCH)
		return netd_audit_action_held(dq->d->n, &ev);
	return netd_audit_action(dq->d->n, &ev);
}

void dnss_intake(struct dnss *d, bool on)
{
	if (!d)
		return;
	if (d->udp_fd >= 0)
		on ? ev_mod_fd(d->n->loop, d->udp_fd, EV_READ) : ev_pause_fd(d->n->loop, d->udp_fd);
	if (d->tcp_fd >= 0)
		on ? ev_mod_fd(d->n->loop, d->tcp_fd, EV_READ) : ev_pause_fd(d->n->loop, d->tcp_fd);
}

static void dnss_detail(const struct dnss_q *dq, const struct dns_rr *rr, size_t n,
			const char *extra, char *out, size_t cap)
{
	char tb[16], ab[64];
	size_t off;
	int w;

	w = snprintf(out, cap, "{\"qtype\":\"%s\",\"answers\":[",
		     dnss_qtype_str(dq->q.qtype, tb, sizeof(tb)));
	off = w > 0 ? (size_t)w : 0;
	for (size_t i = 0; i < n && off < cap; i++) {
		inet_ntop(rr[i].type == DNS_T_A ? AF_INET : AF_INET6, rr[i].addr, ab, sizeof(ab));
		w = snprintf(out + off, cap - off, "%s\"%s\"", i ? "," : "", ab);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off < cap)
		snprintf(out + off, cap - off, "]%s}", extra ? extra : "");
	if (off >= cap && cap > 2)
		snprintf(out, cap, "{\"qtype\":\"%s\"}",
			 dnss_qtype_str(dq->q.qtype, tb, sizeof(tb)));
}

static void dnss_finish(struct dnss_q *dq, const struct res_answer *ans)
{
	struct dnss *d = dq->d;
	const struct pol *p = dq->pol->p;
	struct dns_rr rr[RES_MAX_ADDRS];
	char detail[2048], filt[512] = "", ab[64];
	size_t n = 0, foff = 0;
	bool own = false; /* an address of the gateway host was removed */
	unsigned ttl_max = pol_dns_ttl_max(p);
	int64_t now = ev_now_ms(d->n->loop);
	const char *decision = pol_verdict_str(dq->dec.verdict), *reason;

	if (ttl_max == 0)
		ttl_max = DNSS_TTL_MAX;
	if (ans->status == RES_FAIL) {
		dnss_detail(dq, NULL, 0, NULL, detail, sizeof(detail));
		dnss_audit(dq, "error", ans->error ? ans->error : "upstream failure", detail);
		dnss_reply(dq, DNS_RC_SERVFAIL, NULL, 0, -1, NULL);
		return;
	}
	for (size_t i = 0; i < ans->n; i++) {
		struct sockaddr_storage ss = {0};
		struct pol_decision ad;
		enum addr_class cls;

		if (ans->family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, ans->addr[i], 4);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, ans->addr[i], 16);
		}
		cls = hostaddr_classify(d->n->hostaddr, (struct sockaddr *)&ss);
		if (cls != ADDR_PUBLIC) {
			/* DNS rebinding: a name must not point the guest at the
			 * gateway's own networks or the gateway host itself
			 * unless a cidr rule says so. */
			pol_check_addr(p, (struct sockaddr *)&ss, 0, &ad);
			if (ad.verdict != POL_ALLOW) {
				int w;

				own = own || cls == ADDR_GATEWAY;
				inet_ntop(ans->family, ans->addr[i], ab, sizeof(ab));
				w = snprintf(filt + foff, sizeof(filt) - foff, "%s\"%s\"",
					     foff ? "," : "", ab);
				if (w > 0 && (size_t)w < sizeof(filt) - foff)
					foff += (size_t)w;
				continue;
			}
		}
		rr[n].type = ans->family == AF_INET ? DNS_T_A : DNS_T_AAAA;
		rr[n].ttl = ans->ttl[i] > ttl_max ? ttl_max : (ans->ttl[i] ? ans->ttl[i] : 1);
		memcpy(rr[n].addr, ans->addr[i], 16);
		n++;
	}
	if (foff) {
		char extra[600];

		snprintf(extra, sizeof(extra), ",\"filtered\":[%s]", filt);
		dnss_detail(dq, rr, n, extra, detail, sizeof(detail));
	} else {
		dnss_detail(dq, rr, n, NULL, detail, sizeof(detail));
	}
	reason = ans->status == RES_NXDOMAIN ? "name does not exist upstream"
		 : own			     ? "addresses of the gateway host removed"
		 : foff			     ? "special-purpose addresses removed"
					     : dq->dec.reason;
	if (dnss_audit(dq, decision, reason, detail)) {
		dnss_reply(dq, DNS_RC_SERVFAIL, NULL, 0, DNS_EDE_OTHER, "audit unavailable");
		return;
	}
	for (size_t i = 0; i < n; i++)
		dnsb_add(d->n->dnsb, dq->q.name, ans->family, rr[i].addr,
			 now + ((int64_t)rr[i].ttl + DNSS_BIND_GRACE_S) * 1000);
	/* Addresses the policy removed are a denial too: say so. */
	dnss_reply(dq, ans->status == RES_NXDOMAIN ? DNS_RC_NXDOMAIN : DNS_RC_NOERROR, rr, n,
		   foff && ans->status != RES_NXDOMAIN ? DNS_EDE_BLOCKED : -1, reason);
}

static void dnss_res_cb(const struct res_answer *ans, void *ctx)
{
	struct dnss_q *dq = ctx;

	dq->req = NULL;
	dnss_finish(dq, ans);
	dnss_q_free(dq);
}

/* Denied or refused without a lookup; ede_code as dnss_reply. */
static void dnss_refuse(struct dnss_q *dq, int rcode, int ede_code, const char *decision,
			const char *reason)
{
	char detail[128];

	dnss_detail(dq, NULL, 0, NULL, detail, sizeof(detail));
	if (dnss_audit(dq, decision, reason, detail) && rcode == DNS_RC_NOERROR)
		rcode = DNS_RC_SERVFAIL;
	dnss_reply(dq, rcode, NULL, 0, ede_code, reason);
}

/* Resolves an allowed query upstream; dnss_res_cb finishes it. Returns
 * false when it was answered (and must be freed) here. */
static bool dnss_lookup(struct dnss_q *dq)
{
	struct dnss *d = dq->d;
	int family = dq->q.qtype == DNS_T_A ? AF_INET : AF_INET6;

	if (!d->n->audit_ok) {
		dnss_refuse(dq, DNS_RC_SERVFAIL, DNS_EDE_OTHER, "error", "audit unavailable");
		return false;
	}
	if (d->nq > DNSS_MAX_PENDING ||
	    !(dq->req = res_lookup(d->n->res, dq->q.name, family, dnss_res_cb, dq))) {
		dnss_refuse(dq, DNS_RC_SERVFAIL, DNS_EDE_OTHER, "error",
			    "too many queries outstanding");
		return false;
	}
	return true;
}

static void dnss_approved(struct dnss_q *dq, const struct ipc_answer *a)
{
	snprintf(dq->dec.rule, sizeof(dq->dec.rule), "approval:%u", a->approval);
	dq->dec.line = 0;
	dq->dec.verdict = POL_ALLOW;
	snprintf(dq->why, sizeof(dq->why), "approved (%s) by %s", ipc_scope_str(a->scope), a->who);
	dq->dec.reason = dq->why;
}

/* A person answered while the query was held. */
static void dnss_ask_cb(void *ctx, const struct ipc_answer *a)
{
	struct dnss_q *dq = ctx;

	dq->ask = NULL;
	ev_timer_del(dq->d->n->loop, dq->hold_timer);
	dq->hold_timer = 0;
	if (a->allow) {
		dnss_approved(dq, a);
		if (dnss_lookup(dq))
			return;
	} else {
		snprintf(dq->dec.rule, sizeof(dq->dec.rule), "approval:%u", a->approval);
		dq->dec.verdict = POL_DENY;
		if (a->scope == IPC_SCOPE_TIMEOUT)
			snprintf(dq->why, sizeof(dq->why), "%s",
				 a->reason[0] ? a->reason : "approval timed out");
		else
			snprintf(dq->why, sizeof(dq->why), "denied by %s%s%s", a->who,
				 a->reason[0] ? ": " : "", a->reason);
		dq->d->n->stats[NETD_ST_DNS_DENIED]++;
		dnss_refuse(dq, DNS_RC_NXDOMAIN, DNS_EDE_BLOCKED, "deny", dq->why);
	}
	dnss_q_free(dq);
}

/* Held past what a resolver waits for (5 s): SERVFAIL now; the ask stays
 * open, and an approval lets the client's retry through (netd grants). */
static void dnss_hold_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct dnss_q *dq = ctx;

	(void)loop;
	(void)id;
	dq->hold_timer = 0;
	dq->dec.verdict = POL_DENY;
	dnss_refuse(dq, DNS_RC_SERVFAIL, DNS_EDE_OTHER, "deny",
		    "waiting for approval: answered SERVFAIL; a retry after approval is allowed");
	dnss_q_free(dq);
}

static void dnss_handle(struct dnss *d, const uint8_t *msg, size_t len,
			const struct sockaddr_storage *peer, socklen_t plen, struct dnss_tcp *tc)
{
	struct dnss_q *dq;
	uint8_t out[64];
	size_t olen;
	int k;

	d->n->stats[NETD_ST_DNS_QUERIES]++;
	dq = calloc(1, sizeof(*dq));
	if (!dq) {
		if (dns_build_error(msg, len, DNS_RC_SERVFAIL, out, sizeof(out), &olen) == 0)
			dnss_send(d, peer, plen, tc, out, olen);
		return;
	}
	dq->d = d;
	dq->tc = tc;
	if (peer) {
		dq->peer = *peer;
		dq->peer_len = plen;
	}
	dq->next = d->qs;
	if (d->qs)
		d->qs->prev = dq;
	d->qs = dq;
	d->nq++;
	dq->pol = netd_pol_get(d->n);
	if (dns_parse_query(msg, len, &dq->q)) {
		d->n->stats[NETD_ST_DNS_MALFORMED]++;
		if (dns_build_error(msg, len, DNS_RC_FORMERR, out, sizeof(out), &olen) == 0)
			dnss_send(d, peer, plen, tc, out, olen);
		else if (tc)
			dnss_tcp_kill(tc);
		goto done;
	}
	if (dq->q.opcode != 0) {
		dnss_reply(dq, DNS_RC_NOTIMP, NULL, 0, -1, NULL);
		goto done;
	}
	if ((k = cred_find_dns(d->n->creds, dq->q.name)) >= 0) {
		char why[128];

		d->n->stats[NETD_ST_DNS_DENIED]++;
		d->n->stats[NETD_ST_CRED_LEAKS]++;
		snprintf(why, sizeof(why),
			 "credential leak attempt: placeholder of '%s' in a DNS name",
			 d->n->creds->v[k].name);
		dq->dec.verdict = POL_DENY;
		dnss_refuse(dq, DNS_RC_REFUSED, DNS_EDE_BLOCKED, "deny", why);
		goto done;
	}
	if (dq->q.qclass != DNS_CLASS_IN || !dq->q.name_is_hostname || !dq->q.name[0]) {
		d->n->stats[NETD_ST_DNS_DENIED]++;
		dnss_refuse(dq, DNS_RC_REFUSED, DNS_EDE_PROHIBITED, "deny",
			    dq->q.qclass != DNS_CLASS_IN ? "query class not allowed"
							 : "not a host name");
		goto done;
	}
	pol_check_dns_name(dq->pol->p, dq->q.name, &dq->dec);
	if (dq->q.qtype != DNS_T_A && dq->q.qtype != DNS_T_AAAA) {
		/* Other types could carry data out (TXT, ...): refused even
		 * for allowed names. */
		d->n->stats[NETD_ST_DNS_DENIED]++;
		dq->dec.verdict = POL_DENY;
		dnss_refuse(dq, DNS_RC_REFUSED, DNS_EDE_PROHIBITED, "deny",
			    "query type not allowed");
		goto done;
	}
	if (dq->dec.verdict == POL_ASK) {
		struct ipc_answer a;

		if (netd_ask_grant_take(d->n, IPC_ASK_DNS, dq->q.name, 0, &a) == 0) {
			dnss_approved(dq, &a);
		} else if (d->nq > DNSS_MAX_PENDING) {
			dq->dec.verdict = POL_DENY;
			dnss_refuse(dq, DNS_RC_SERVFAIL, DNS_EDE_OTHER, "error",
				    "too many queries outstanding");
			goto done;
		} else {
			dq->ask = netd_ask_start(d->n, IPC_ASK_DNS, dq->q.name, 0, dq->dec.rule,
						 dnss_ask_cb, dq);
			dq->hold_timer =
			    dq->ask ? ev_timer_add(d->n->loop, DNSS_ASK_HOLD_MS, dnss_hold_cb, dq)
				    : 0;
			if (!dq->hold_timer) {
				dq->dec.verdict = POL_DENY;
				d->n->stats[NETD_ST_DNS_DENIED]++;
				dnss_refuse(dq, DNS_RC_SERVFAIL, DNS_EDE_OTHER, "deny",
					    "approvals unavailable");
				goto done;
			}
			return; /* dnss_ask_cb or dnss_hold_cb finishes it */
		}
	}
	if (!pol_permits(&dq->dec)) {
		d->n->stats[NETD_ST_DNS_DENIED]++;
		dnss_refuse(dq, DNS_RC_NXDOMAIN, DNS_EDE_BLOCKED, "deny", dq->dec.reason);
		goto done;
	}
	if (!dnss_lookup(dq))
		goto done;
	return; /* dnss_res_cb finishes it */
done:
	dnss_q_free(dq);
}

/* Up to DNSS_UDP_BATCH queries in one recvmmsg. */
static void dnss_udp_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct dnss *d = ctx;
	struct mmsghdr mm[DNSS_UDP_BATCH];
	struct iovec iov[DNSS_UDP_BATCH];
	struct sockaddr_storage peer[DNSS_UDP_BATCH];
	int n;

	(void)loop;
	(void)events;
	for (int i = 0; i < DNSS_UDP_BATCH; i++) {
		iov[i].iov_base = d->in[i];
		iov[i].iov_len = DNSS_UDP_BUF;
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_name = &peer[i];
		mm[i].msg_hdr.msg_namelen = sizeof(peer[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	do
		n = recvmmsg(fd, mm, DNSS_UDP_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++)
		dnss_handle(d, d->in[i], mm[i].msg_len, &peer[i], mm[i].msg_hdr.msg_namelen, NULL);
}

int dnss_new(struct netd *n, int udp_fd, int tcp_fd, struct dnss **out)
{
	struct dnss *d;
	int rc;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d) {
		if (udp_fd >= 0)
			close(udp_fd);
		if (tcp_fd >= 0)
			close(tcp_fd);
		return -AGW_ENOMEM;
	}
	d->n = n;
	d->udp_fd = udp_fd;
	d->tcp_fd = tcp_fd;
	d->in = malloc(DNSS_UDP_BATCH * sizeof(*d->in));
	d->out = malloc(DNSS_UDP_BATCH * sizeof(*d->out));
	if (!d->in || !d->out) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	if (udp_fd >= 0 && (rc = ev_add_fd(n->loop, udp_fd, EV_READ, dnss_udp_cb, d)))
		goto out;
	if (tcp_fd >= 0 && (rc = ev_add_fd(n->loop, tcp_fd, EV_READ, dnss_accept_cb, d)))
		goto out;
	rc = ev_before_sleep(n->loop, dnss_reap, d);
	if (rc)
		goto out;
	*out = d;
	return 0;
out:
	dnss_free(d);
	return rc;
}

void dnss_free(struct dnss *d)
{
	if (!d)
		return;
	while (d->qs)
		dnss_q_free(d->qs);
	while (d->tcps)
		dnss_tcp_kill(d->tcps);
	dnss_reap(d->n->loop, d); /* also sends the replies still queued */
	ev_before_sleep_del(d->n->loop, dnss_reap, d);
	if (d->udp_fd >= 0) {
		ev_del_fd(d->n->loop, d->udp_fd);
		close(d->udp_fd);
	}
	if (d->tcp_fd >= 0) {
		ev_del_fd(d->n->loop, d->tcp_fd);
		close(d->tcp_fd);
	}
	free(d->in);
	free(d->out);
	free(d);
}
