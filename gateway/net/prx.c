// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Transparent proxy sessions (see prx.h). A session is two half-connections
 * (client and upstream), each with the buffer of bytes read from it and not
 * yet written to the other, and a state that changes only in
 * prx_set_state(), which logs the change and arms that state's timer.
 * Sessions that reach PRX_DEAD have their fds closed at once and their
 * memory freed in the loop's before-sleep hook, never inside a callback.
 *
 * In plain HTTP mode the client's buffer has a second mark, fwd: bytes
 * before it belong to approved requests (heads and bodies) and may go
 * upstream; the head after it is parsed and judged before anything of it
 * leaves. The upstream's buffer has the same mark for responses: each
 * request sent upstream is queued (rq) until its response is complete, so
 * the proxy knows when every approved request has been answered (a 403 for
 * a later request then goes out at once) and whether the answer to an
 * Upgrade request was a 101. Only a 101 to a request that asked for an
 * upgrade turns the connection into a raw relay; until that response head
 * arrives the client's further bytes are held, and after any other answer
 * they are parsed and judged as requests again.
 */
#include "prx.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "dnsb.h"
#include "hostaddr.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "res.h"
#include "sni.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

enum prx_state { PRX_PEEK, PRX_RESOLVE, PRX_CONNECT, PRX_RELAY, PRX_DRAIN, PRX_DEAD };

/* Client side in HTTP mode: next is a head, a body, the wait for the
 * response to an Upgrade request (bytes held), or raw after a 101. */
enum prx_hstate { PRX_H_HEAD, PRX_H_BODY, PRX_H_UPWAIT, PRX_H_RAW };

/* Upstream side in HTTP mode: next is a response head, a response body, or
 * untracked (after a 101, a body delimited by close, or a response the
 * proxy cannot frame): bytes then pass as they come. */
enum prx_rstate { PRX_R_HEAD, PRX_R_BODY, PRX_R_RAW };

#define PRX_PIPE_MAX 32	 /* requests sent upstream and not yet answered */
#define PRX_RQ_HEAD 0x01 /* a HEAD request: its response has no body */
#define PRX_RQ_UPGRADE 0x02

/* The note pol_explain_host gives an allow rule that matched the host and
 * port but not the HTTP method or path (N_HTTP in policies/pol_check.c). */
#define PRX_NOTE_HTTP "HTTP method or path not matched"

static const char *const prx_state_names[] = {"peek",  "resolve", "connect",
					      "relay", "drain",	  "dead"};

struct prx_half {
	int fd;
	uint8_t *buf; /* PRX_BUF bytes read from fd, for the other side */
	size_t off, len;
	size_t fwd; /* client half in HTTP mode: approved up to here */
	bool rd_eof;
	bool wr_shut;
	int64_t bytes;
};

struct prx_sess {
	struct prx *px;
	enum prx_state state;
	uint64_t timer;
	struct prx_half cli, up;
	struct netd_pol *pol;
	struct sockaddr_storage src, odst, dial;
	char src_s[64], odst_s[64], dial_s[64];
	char name[SNI_HOST_MAX + 1];
	char target[SNI_HOST_MAX + 8];
	const char *via;
	uint16_t port;
	bool http;
	int hstate;
	struct http_body body;
	bool upgrade_pending; /* the request being sent asked for an upgrade */
	int rstate;	      /* enum prx_rstate */
	struct http_body rbody;
	uint8_t rq[PRX_PIPE_MAX]; /* PRX_RQ_* of requests awaiting a response */
	unsigned rq_head, rq_n;
	struct res_req *req;
	uint8_t addrs[RES_MAX_ADDRS][16];
	size_t naddrs, next_addr;
	int family;
	struct pol_decision dec;
	bool opened;   /* a connect event was recorded: record the close */
	unsigned nreq; /* HTTP requests sent upstream */
	const char *close_reason;
	int64_t start_us, last_ms;
	char *reply;
	size_t reply_len, reply_off;
	struct prx_sess *next, *prev;
};

struct prx {
	struct netd *n;
	int lfd;
	int spare_fd;
	uint64_t resume_timer;
	uint64_t emfile_count;
	int64_t emfile_logged; /* ev ms of the last EMFILE warning */
	struct prx_sess *sess;
	size_t nsess;
	struct prx_sess *dead;
};

static void prx_pump(struct prx_sess *s);
static bool prx_dial_next(struct prx_sess *s);
static void prx_deny(struct prx_sess *s, const char *reason);
static void prx_cli_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);
static void prx_up_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx);

/* ---- state, timers, teardown ---- */

static void prx_timer_cb(struct ev_loop *loop, uint64_t id, void *ctx);

static int64_t prx_state_ms(enum prx_state st)
{
	switch (st) {
	case PRX_PEEK:
		return PRX_PEEK_MS;
	case PRX_RESOLVE:
		return PRX_RESOLVE_MS;
	case PRX_CONNECT:
		return PRX_CONNECT_MS;
	case PRX_RELAY:
		return PRX_IDLE_MS;
	case PRX_DRAIN:
		return PRX_DRAIN_MS;
	default:
		return 0;
	}
}

static void prx_close_fd(struct prx_sess *s, struct prx_half *h)
{
	if (h->fd < 0)
		return;
	ev_del_fd(s->px->n->loop, h->fd);
	close(h->fd);
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

static void prx_set_state(struct prx_sess *s, enum prx_state st, const char *why)
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
		prx_close_fd(s, &s->cli);
		prx_close_fd(s, &s->up);
		prx_record_close(s);
		if (s->prev)
			s->prev->next = s->next;
		else
			px->sess = s->next;
		if (s->next)
			s->next->prev = s->prev;
		px->nsess--;
		s->prev = NULL;
		s->next = px->dead;
		px->dead = s;
		return;
	}
	ms = prx_state_ms(st);
	s->timer = ev_timer_add(px->n->loop, ms, prx_timer_cb, s);
	if (!s->timer)
		prx_set_state(s, PRX_DEAD, "out of memory");
}

static void prx_kill(struct prx_sess *s, const char *why)
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
		/* Nothing recognisable in time: decide without a name. */
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
	case PRX_CONNECT:
		prx_kill(s, "connect timeout");
		break;
	default:
		prx_kill(s, "timeout");
		break;
	}
}

static void prx_sess_free(struct prx_sess *s)
{
	netd_pol_put(s->pol);
	free(s->cli.buf);
	free(s->up.buf);
	free(s->reply);
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

/* Records ev: -EACCES for a denial, 0 when the action may go on, -AGW_EFULL
 * when the audit path fails (the action is then denied too). */
static int prx_audit(struct prx_sess *s, struct aud_event *ev)
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
	snprintf(detail, sizeof(detail), "{\"via\":\"%s\",\"orig_dst\":\"%s\"%s%s%s}", s->via,
		 s->odst_s, s->name[0] ? ",\"name\":\"" : "", s->name, s->name[0] ? "\"" : "");
	ev.target = s->target;
	ev.decision = decision;
	ev.rule = s->dec.rule[0] ? s->dec.rule : NULL;
	ev.reason = reason;
	ev.src = s->src_s;
	ev.dst = s->dial_s[0] ? s->dial_s : s->odst_s;
	ev.detail = detail;
	rc = prx_audit(s, &ev);
	if (rc == 0)
		s->opened = true;
	return rc;
}

/* ---- 403 replies ---- */

/* Ends the session with a 403 after whatever upstream already sent. */
static void prx_reply_403(struct prx_sess *s, const char *rule, const char *reason)
{
	char buf[1024];
	size_t len;

	if (s->state == PRX_RELAY && s->up.fd >= 0 && s->nreq > 0) {
		/* Earlier requests on this connection were sent upstream: let
		 * their responses through first. Nothing more is read from the
		 * client; upstream gets our FIN after the approved bytes and
		 * the 403 follows its EOF (or the drain timeout). */
		s->cli.len = s->cli.fwd;
		s->cli.rd_eof = true;
	} else {
		prx_close_fd(s, &s->up);
		s->up.rd_eof = true;
	}
	free(s->reply);
	s->reply = NULL;
	if (http_build_403(buf, sizeof(buf), rule, reason, &len) == 0) {
		s->reply = malloc(len);
		if (s->reply) {
			memcpy(s->reply, buf, len);
			s->reply_len = len;
			s->reply_off = 0;
		}
	}
	if (!s->reply) {
		prx_kill(s, reason);
		return;
	}
	if (!s->close_reason)
		s->close_reason = reason;
	prx_set_state(s, PRX_DRAIN, reason);
	if (s->state == PRX_DRAIN)
		prx_pump(s);
}

/* Records one HTTP request; returns 0 when it may go upstream. */
static int prx_audit_http(struct prx_sess *s, const struct http_req *r,
			  const struct pol_decision *d, const char *decision, const char *reason)
{
	struct aud_event ev;
	char target[SNI_HOST_MAX + 2100], detail[1200], p[1024];

	netd_event_init(&ev, "http", "request");
	snprintf(target, sizeof(target), "%s%s", r->host[0] ? r->host : s->name, r->path);
	json_esc_str(p, sizeof(p), r->path);
	snprintf(detail, sizeof(detail), "{\"method\":\"%s\",\"port\":%u,\"path\":\"%s\"}",
		 r->method, s->port, p);
	ev.target = target;
	ev.decision = decision;
	ev.rule = d && d->rule[0] ? d->rule : NULL;
	ev.reason = reason;
	ev.src = s->src_s;
	ev.dst = s->dial_s[0] ? s->dial_s : s->odst_s;
	ev.detail = detail;
	return prx_audit(s, &ev);
}

/*
 * pol_check_http, and when a rule matched the host and port but not the
 * method or path, name that rule in the decision (the 403 and the audit
 * row then say which rule the request failed).
 */
static void prx_check_http(struct prx_sess *s, const char *host, const char *method,
			   const char *path, struct pol_decision *d)
{
	struct pol_match m[32];
	struct pol_decision d2;
	size_t n;

	/* pol_check_http leaves the rule empty when no rule decided, also
	 * when one failed only on method or path. */
	pol_check_http(s->pol->p, host, s->port, method, path, d);
	if (d->verdict == POL_ALLOW || d->rule[0])
		return;
	n = pol_explain_host(s->pol->p, host, s->port, method, path, &d2, m, AGW_ARRAY_LEN(m));
	/* The explanation must agree with the decision; its candidates come
	 * most specific first. Take the first allow rule that failed on
	 * method or path only (not one for another port); none found leaves
	 * the rule empty, which the 403 shows as "denied by default". */
	if (d2.verdict != d->verdict || d2.rule[0])
		return;
	for (size_t i = 0; i < n && i < AGW_ARRAY_LEN(m); i++) {
		if (!m[i].deny && !m[i].matched && m[i].note &&
		    strcmp(m[i].note, PRX_NOTE_HTTP) == 0) {
			snprintf(d->rule, sizeof(d->rule), "%s", m[i].rule);
			d->line = m[i].line;
			return;
		}
	}
}

/*
 * Judges one request: what the proxy refuses whatever the policy says (in
 * audit mode too), then the policy's host, method and path rules.
 */
static void prx_judge_http(struct prx_sess *s, const struct http_req *r, struct pol_decision *d)
{
	const char *why = NULL;

	if (strcmp(r->method, "CONNECT") == 0)
		why = "CONNECT through the transparent proxy";
	else if (r->method_override)
		why = "method override header (X-HTTP-Method-Override, X-HTTP-Method, "
		      "X-Method-Override)";
	if (why) {
		memset(d, 0, sizeof(*d));
		d->verdict = POL_DENY;
		d->reason = why;
		return;
	}
	prx_check_http(s, r->host, r->method, r->path, d);
}

static void prx_rq_pop(struct prx_sess *s)
{
	if (!s->rq_n)
		return;
	s->rq_head = (s->rq_head + 1) % PRX_PIPE_MAX;
	s->rq_n--;
}

/* Judges the request heads in the client's buffer past fwd (RELAY only). */
static void prx_http_advance(struct prx_sess *s)
{
	struct prx_half *c = &s->cli;

	while (s->state == PRX_RELAY && c->fwd < c->len) {
		struct http_req r;
		struct pol_decision d;
		size_t used;
		int rc;

		if (s->hstate == PRX_H_RAW) {
			c->fwd = c->len;
			break;
		}
		/* Held until the response to the Upgrade request arrives. */
		if (s->hstate == PRX_H_UPWAIT)
			return;
		if (s->hstate == PRX_H_BODY) {
			rc = http_body_consume(&s->body, c->buf + c->fwd, c->len - c->fwd, &used);
			if (rc < 0) {
				prx_kill(s, "malformed request body");
				return;
			}
			c->fwd += used;
			if (rc == 1)
				s->hstate = s->upgrade_pending ? PRX_H_UPWAIT : PRX_H_HEAD;
			continue;
		}
		/* Too many unanswered requests: the rest waits. */
		if (s->rstate != PRX_R_RAW && s->rq_n >= PRX_PIPE_MAX)
			return;
		rc = http_parse_request(c->buf + c->fwd, c->len - c->fwd, &r);
		if (rc == -AGW_ETRUNC)
			return;
		if (rc) {
			memset(&r, 0, sizeof(r));
			snprintf(r.method, sizeof(r.method), "?");
			snprintf(r.path, sizeof(r.path), "/");
			prx_audit_http(s, &r, NULL, "deny", "malformed HTTP request head");
			prx_reply_403(s, NULL, "malformed HTTP request head");
			return;
		}
		if (strcmp(r.host, s->name) != 0 || (r.host_port && r.host_port != s->port)) {
			memset(&d, 0, sizeof(d));
			d.verdict = POL_DENY;
			prx_audit_http(s, &r, &d, "deny",
				       "Host differs from the connection's name");
			prx_reply_403(s, NULL, "Host differs from the connection's name");
			return;
		}
		prx_judge_http(s, &r, &d);
		if (!pol_permits(&d)) {
			prx_audit_http(s, &r, &d, "deny", d.reason);
			prx_reply_403(s, d.rule, d.reason ? d.reason : "denied");
			return;
		}
		if (prx_audit_http(s, &r, &d, pol_verdict_str(d.verdict), d.reason)) {
			prx_reply_403(s, NULL, "audit unavailable");
			return;
		}
		c->fwd += r.head_len;
		s->nreq++;
		/* Untracked responses: an Upgrade request now waits for
		 * good (no 101 can be recognised), others just pass. */
		if (s->rstate != PRX_R_RAW)
			s->rq[(s->rq_head + s->rq_n++) % PRX_PIPE_MAX] =
			    (uint8_t)((strcmp(r.method, "HEAD") == 0 ? PRX_RQ_HEAD : 0) |
				      (r.upgrade ? PRX_RQ_UPGRADE : 0));
		/* An Upgrade request is sent with its body; what follows waits
		 * for the response: raw after a 101, requests otherwise. */
		s->upgrade_pending = r.upgrade;
		http_body_init(&s->body, &r);
		s->hstate = PRX_H_BODY;
	}
}

/* Case-insensitive: does the header line [l, l+n) have this name? Sets
 * *v to the value with leading blanks skipped. */
static bool prx_hdr_is(const char *l, size_t n, const char *name, const char **v)
{
	size_t k = strlen(name);

	if (n <= k || l[k] != ':' || strncasecmp(l, name, k) != 0)
		return false;
	*v = l + k + 1;
	while (*v < l + n && (**v == ' ' || **v == '\t'))
		(*v)++;
	return true;
}

/*
 * Reads a response head at the start of buf: "HTTP/1.x NNN ...", header
 * lines, an empty line. Returns 0 with *status, *head_len, *cl (-1 if none;
 * -2 when it cannot be framed by length) and *chunked; -AGW_ETRUNC when the
 * head is not complete; -AGW_EPARSE when it is not an HTTP/1.x response
 * head (the proxy then stops tracking responses on this connection).
 */
static int prx_parse_resp(const uint8_t *buf, size_t len, int *status, size_t *head_len,
			  int64_t *cl, bool *chunked)
{
	const char *b = (const char *)buf, *end = NULL, *l, *v;
	size_t max = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;

	for (size_t i = 0; i + 3 < max; i++) {
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
			end = b + i + 2; /* the empty line */
			break;
		}
	}
	if (!end)
		return len < HTTP_HEAD_MAX ? -AGW_ETRUNC : -AGW_EPARSE;
	if (end - b < 14 || memcmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') ||
	    b[8] != ' ' || b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' ||
	    b[11] > '9' || (b[12] != ' ' && b[12] != '\r'))
		return -AGW_EPARSE;
	*status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	*head_len = (size_t)(end - b) + 2;
	*cl = -1;
	*chunked = false;
	l = (const char *)memchr(b, '\n', (size_t)(end - b)) + 1;
	while (l < end) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t n = (size_t)(nl - l);

		if (n && l[n - 1] == '\r')
			n--;
		if (prx_hdr_is(l, n, "Transfer-Encoding", &v)) {
			/* RFC 9112 6.3: chunked last frames it, else close. */
			if ((size_t)(l + n - v) == 7 && strncasecmp(v, "chunked", 7) == 0 &&
			    !*chunked && *cl != -2)
				*chunked = true;
			else
				*cl = -2;
		} else if (prx_hdr_is(l, n, "Content-Length", &v) && *cl != -2 && !*chunked) {
			int64_t x = 0;
			const char *p = v;

			for (; p < l + n && *p >= '0' && *p <= '9' && x < ((int64_t)1 << 62); p++)
				x = x * 10 + (*p - '0');
			if (p == v || p != l + n || (*cl >= 0 && *cl != x))
				*cl = -2;
			else
				*cl = x;
		}
		l = nl + 1;
	}
	if (*chunked && *cl == -2)
		*chunked = false;
	return 0;
}

/*
 * Follows response framing in the upstream's buffer past up.fwd (HTTP
 * mode): completes queued requests, and on the response to an Upgrade
 * request either switches both sides to raw (101) or lets the held client
 * bytes be judged as requests again.
 */
static void prx_resp_advance(struct prx_sess *s)
{
	struct prx_half *u = &s->up;
	bool resume = false;

	if (!s->http || !u->buf)
		return;
	while (u->fwd < u->len && s->state != PRX_DEAD) {
		struct http_req fr;
		int64_t cl;
		size_t used, hl;
		bool chunked;
		int rc, status;
		uint8_t f;

		if (s->rstate == PRX_R_RAW) {
			u->fwd = u->len;
			break;
		}
		if (s->rstate == PRX_R_BODY) {
			rc = http_body_consume(&s->rbody, u->buf + u->fwd, u->len - u->fwd, &used);
			if (rc < 0) {
				s->rstate = PRX_R_RAW;
				s->rq_n = 0;
				continue;
			}
			u->fwd += used;
			if (rc == 1) {
				prx_rq_pop(s);
				s->rstate = PRX_R_HEAD;
			}
			continue;
		}
		rc = prx_parse_resp(u->buf + u->fwd, u->len - u->fwd, &status, &hl, &cl, &chunked);
		if (rc == -AGW_ETRUNC)
			break;
		if (rc || !s->rq_n) {
			/* Not a response we can frame, or one nobody asked for
			 * (a 408 before closing): pass it, track no more. */
			s->rstate = PRX_R_RAW;
			s->rq_n = 0;
			continue;
		}
		f = s->rq[s->rq_head];
		u->fwd += hl;
		if (status == 101) {
			if (!(f & PRX_RQ_UPGRADE)) {
				prx_kill(s, "upstream switched protocols unasked");
				return;
			}
			log_debug("proxy %s: upstream answered 101: raw relay", s->target);
			prx_rq_pop(s);
			s->rstate = PRX_R_RAW;
			s->hstate = PRX_H_RAW;
			s->upgrade_pending = false;
			resume = true;
			continue;
		}
		if (status < 200) /* 100 Continue, 103: the real head follows */
			continue;
		if ((f & PRX_RQ_UPGRADE) && s->upgrade_pending) {
			/* Not upgraded: what the client sent next is requests. */
			s->upgrade_pending = false;
			if (s->hstate == PRX_H_UPWAIT)
				s->hstate = PRX_H_HEAD;
			resume = true;
		}
		if ((f & PRX_RQ_HEAD) || status == 204 || status == 304) {
			prx_rq_pop(s);
			continue;
		}
		if (cl == -2 || (cl < 0 && !chunked)) {
			/* Delimited by the server closing. */
			s->rstate = PRX_R_RAW;
			s->rq_n = 0;
			continue;
		}
		memset(&fr, 0, sizeof(fr));
		fr.content_length = cl;
		fr.chunked = chunked;
		http_body_init(&s->rbody, &fr);
		s->rstate = PRX_R_BODY;
	}
	if (u->rd_eof)
		u->fwd = u->len;
	if (resume && s->state == PRX_RELAY)
		prx_http_advance(s);
}

/* Every request sent upstream has its complete response in the buffer. */
static bool prx_resp_done(const struct prx_sess *s)
{
	return s->http && s->rq_n == 0 && s->rstate == PRX_R_HEAD && s->up.fwd == s->up.len &&
	       s->cli.off == s->cli.fwd;
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
	do
		r = recv(h->fd, h->buf + h->len, PRX_BUF - h->len, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	if (r == 0) {
		h->rd_eof = true;
		return 0;
	}
	h->len += (size_t)r;
	h->bytes += r;
	s->last_ms = ev_now_ms(s->px->n->loop);
	return (int)r;
}

/* Writes h's bytes [off, limit) to fd. Returns 0 or -errno (not EAGAIN). */
static int prx_write(struct prx_sess *s, int fd, struct prx_half *h, size_t limit)
{
	while (h->off < limit) {
		ssize_t w = send(fd, h->buf + h->off, limit - h->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		h->off += (size_t)w;
		s->last_ms = ev_now_ms(s->px->n->loop);
	}
	if (h->off == h->len)
		h->off = h->len = h->fwd = 0;
	return 0;
}

static size_t prx_limit(const struct prx_sess *s)
{
	return s->http ? s->cli.fwd : s->cli.len;
}

static size_t prx_up_limit(const struct prx_sess *s)
{
	return s->http ? s->up.fwd : s->up.len;
}

static void prx_pump(struct prx_sess *s)
{
	struct ev_loop *loop = s->px->n->loop;
	unsigned cm = 0, um = 0;
	bool up_drained, cli_drained;

	if (s->state != PRX_RELAY && s->state != PRX_DRAIN)
		return;
	if (s->up.fd >= 0) {
		if (prx_write(s, s->up.fd, &s->cli, prx_limit(s))) {
			prx_kill(s, "upstream write failed");
			return;
		}
		/* At EOF an unfinished head can never be approved. */
		if (s->cli.rd_eof && s->http && s->cli.off == s->cli.fwd &&
		    s->hstate != PRX_H_UPWAIT)
			s->cli.off = s->cli.len = s->cli.fwd = 0;
		if (s->cli.rd_eof && s->cli.off == s->cli.len && !s->up.wr_shut) {
			shutdown(s->up.fd, SHUT_WR);
			s->up.wr_shut = true;
		}
	}
	if (s->up.buf && prx_write(s, s->cli.fd, &s->up, prx_up_limit(s))) {
		prx_kill(s, "client write failed");
		return;
	}
	/* Upstream closed: held client bytes (an unfinished head, or what
	 * followed an Upgrade request) can never be sent. */
	if (s->http && s->up.rd_eof && s->cli.off == s->cli.fwd)
		s->cli.off = s->cli.len = s->cli.fwd = 0;
	up_drained = !s->up.buf || s->up.off == prx_up_limit(s);
	if (s->state == PRX_DRAIN) {
		/* The 403 follows once every approved request is answered
		 * (or upstream closed). */
		if (s->up.fd >= 0 && (s->up.rd_eof || prx_resp_done(s))) {
			prx_close_fd(s, &s->up);
			s->up.fwd = s->up.len;
		}
		if (s->up.fd >= 0) {
			um = EV_READ * (s->up.len - s->up.off < PRX_BUF);
			if (s->cli.off < prx_limit(s))
				um |= EV_WRITE;
			ev_mod_fd(loop, s->up.fd, um);
			ev_mod_fd(loop, s->cli.fd, up_drained ? 0 : EV_WRITE);
			return;
		}
		if (up_drained) {
			while (s->reply_off < s->reply_len) {
				ssize_t w =
				    send(s->cli.fd, s->reply + s->reply_off,
					 s->reply_len - s->reply_off, MSG_NOSIGNAL | MSG_DONTWAIT);

				if (w < 0 && errno == EINTR)
					continue;
				if (w < 0 && errno == EAGAIN)
					break;
				if (w < 0) {
					prx_kill(s, s->close_reason);
					return;
				}
				s->reply_off += (size_t)w;
			}
			if (s->reply_off == s->reply_len) {
				prx_kill(s, s->close_reason);
				return;
			}
		}
		ev_mod_fd(loop, s->cli.fd, EV_WRITE);
		return;
	}
	if (s->up.rd_eof && up_drained && !s->cli.wr_shut) {
		shutdown(s->cli.fd, SHUT_WR);
		s->cli.wr_shut = true;
	}
	cli_drained = s->cli.off == s->cli.len;
	if (s->cli.rd_eof && s->up.rd_eof && cli_drained && up_drained) {
		prx_kill(s, "closed");
		return;
	}
	if (!s->cli.rd_eof && s->cli.len - s->cli.off < PRX_BUF)
		cm |= EV_READ;
	if (!up_drained)
		cm |= EV_WRITE;
	if (!s->up.rd_eof && s->up.len - s->up.off < PRX_BUF)
		um |= EV_READ;
	if (s->cli.off < prx_limit(s))
		um |= EV_WRITE;
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
	/* The client's bytes wait in its buffer until connected. */
	ev_mod_fd(s->px->n->loop, s->cli.fd, 0);
	prx_set_state(s, PRX_CONNECT, s->dial_s);
}

static void prx_connected(struct prx_sess *s)
{
	s->up.buf = malloc(PRX_BUF);
	if (!s->up.buf) {
		prx_kill(s, "out of memory");
		return;
	}
	prx_set_state(s, PRX_RELAY, "connected");
	if (s->state != PRX_RELAY)
		return;
	s->last_ms = ev_now_ms(s->px->n->loop);
	if (s->http)
		prx_http_advance(s);
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
	ev_mod_fd(n->loop, s->cli.fd, 0);
	prx_set_state(s, PRX_RESOLVE, s->name);
}

/* ---- deciding ---- */

static void prx_deny(struct prx_sess *s, const char *reason)
{
	s->px->n->stats[NETD_ST_CONNS_DENIED]++;
	prx_audit_connect(s, "deny", reason);
	if (s->http)
		prx_reply_403(s, s->dec.rule, reason);
	else
		prx_kill(s, reason);
}

static void prx_decide_name(struct prx_sess *s, const char *name, const char *via,
			    const struct http_req *r)
{
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->target, sizeof(s->target), "%s:%u", s->name, s->port);
	s->via = via;
	s->http = r != NULL;
	/* Plain HTTP: the first request decides before anything is dialed
	 * (rules with http lists apply only to plain HTTP requests). */
	if (r)
		prx_judge_http(s, r, &s->dec);
	else
		pol_check_host(s->pol->p, s->name, s->port, &s->dec);
	if (!pol_permits(&s->dec)) {
		if (r)
			prx_audit_http(s, r, &s->dec, "deny", s->dec.reason);
		prx_deny(s, s->dec.reason ? s->dec.reason : "denied");
		return;
	}
	prx_resolve(s);
}

/* No name: the original destination must be bound or in a cidr rule. */
static void prx_decide_addr(struct prx_sess *s, const char *via)
{
	struct netd *n = s->px->n;
	const uint8_t *a;
	const char *names[16];
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
				snprintf(s->name, sizeof(s->name), "%s", names[i]);
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

static bool prx_is_ip_literal(const char *h)
{
	struct in6_addr a6;

	return inet_pton(AF_INET, h, &a6) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

static void prx_peek_decide(struct prx_sess *s, bool final)
{
	const uint8_t *b = s->cli.buf;
	size_t len = s->cli.len;
	char host[SNI_HOST_MAX + 1];
	int rc;

	if (len == 0 && !final)
		return;
	if (len == 0 && s->cli.rd_eof) {
		prx_kill(s, "client closed before sending");
		return;
	}
	if (len > 0 && sni_looks_like_tls(b, len)) {
		rc = sni_parse(b, len, host, sizeof(host));
		if (rc == -AGW_ETRUNC && !final && len < PRX_BUF)
			return;
		if (rc == 0)
			prx_decide_name(s, host, "tls", NULL);
		else
			prx_decide_addr(s, rc == -AGW_ENOTFOUND ? "tls-no-sni" : "tls-unparsed");
		return;
	}
	if (len > 0 && http_looks_like_http(b, len)) {
		struct http_req r;

		rc = http_parse_request(b, len, &r);
		if (rc == -AGW_ETRUNC && !final)
			return;
		if (rc == 0 && r.host[0] && !prx_is_ip_literal(r.host)) {
			prx_decide_name(s, r.host, "http", &r);
			return;
		}
		if (rc == 0) {
			prx_decide_addr(s, "http-no-name");
			return;
		}
		s->http = true;
		s->via = "http";
		snprintf(s->target, sizeof(s->target), "%s", s->odst_s);
		s->dec.verdict = POL_DENY;
		s->dec.rule[0] = '\0';
		prx_deny(s, "malformed HTTP request head");
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
	if (s->state == PRX_PEEK) {
		rc = prx_read(s, &s->cli);
		if (rc < 0 && rc != -EAGAIN) {
			prx_kill(s, "client error");
			return;
		}
		prx_peek_decide(s, s->cli.rd_eof || s->cli.len >= PRX_BUF);
		return;
	}
	if (s->state == PRX_RELAY && (events & (EV_READ | EV_ERROR))) {
		rc = prx_read(s, &s->cli);
		if (rc < 0 && rc != -EAGAIN) {
			prx_kill(s, "client reset");
			return;
		}
		if (s->http)
			prx_http_advance(s);
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

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
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
	if (s->state != PRX_RELAY && s->state != PRX_DRAIN)
		return;
	if (events & (EV_READ | EV_ERROR)) {
		rc = prx_read(s, &s->up);
		if (rc < 0 && rc != -EAGAIN) {
			prx_kill(s, "upstream reset");
			return;
		}
		prx_resp_advance(s);
		if (s->state == PRX_DEAD)
			return;
	}
	prx_pump(s);
}

/* ---- accepting ---- */

static int prx_orig_dst(int fd, struct sockaddr_storage *out)
{
	socklen_t sl = sizeof(struct sockaddr_in);
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);

	memset(out, 0, sizeof(*out));
	if (getsockname(fd, (struct sockaddr *)&local, &ll) < 0)
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

static void prx_resume_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct prx *px = ctx;

	(void)id;
	px->resume_timer = 0;
	ev_mod_fd(loop, px->lfd, EV_READ);
}

static void prx_emfile(struct prx *px)
{
	int fd;

	/* Shed the pending connection with the spare fd, then pause. */
	if (px->spare_fd >= 0) {
		close(px->spare_fd);
		px->spare_fd = -1;
		fd = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
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

static void prx_accept_one(struct prx *px, int fd)
{
	struct netd *n = px->n;
	struct prx_sess *s;
	socklen_t sl;

	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return;
	}
	s->px = px;
	s->cli.fd = fd;
	s->up.fd = -1;
	s->via = "none";
	s->start_us = agw_mono_us();
	s->last_ms = ev_now_ms(n->loop);
	s->pol = netd_pol_get(n);
	sl = sizeof(s->src);
	getpeername(fd, (struct sockaddr *)&s->src, &sl);
	addr_format((struct sockaddr *)&s->src, s->src_s, sizeof(s->src_s));
	s->next = px->sess;
	if (px->sess)
		px->sess->prev = s;
	px->sess = s;
	px->nsess++;
	n->stats[NETD_ST_CONNS]++;
	s->state = PRX_PEEK;
	if (prx_orig_dst(fd, &s->odst)) {
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
	if (px->nsess > pol_max_conns(s->pol->p)) {
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
	for (int i = 0; i < 32; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				prx_emfile(px);
			return;
		}
		prx_accept_one(px, fd);
	}
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
	rc = ev_add_fd(n->loop, listen_fd, EV_READ, prx_accept_cb, px);
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
