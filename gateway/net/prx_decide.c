// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transparent proxy sessions, the deciding stages (prx_int.h): the peek at
 * the first bytes, the decision on a name or an address, a person's
 * approval, the resolution of the name, and the dial to what was resolved.
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

void prx_nodelay(int fd)
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

void prx_connected(struct prx_sess *s)
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
bool prx_dial_next(struct prx_sess *s)
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
void prx_guard_advance(struct prx_sess *s)
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
void prx_peek_decide(struct prx_sess *s, bool final)
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
