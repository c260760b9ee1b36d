// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Plain HTTP through the transparent proxy (see prx_int.h): the first
 * look at an HTTP-shaped connection, judging every request of a keep-alive
 * connection, following responses, and 403 replies.
 *
 * A connection that carries HTTP is decided on the Host of every request:
 * the first request's Host names the connection (a request without Host,
 * with an IP literal Host or a malformed head is refused with a 403,
 * unless a cidr rule allows the original destination), and every later
 * request must name the same host and port. The path is judged as servers
 * read it (http_path_decode): decoded, and refused when it holds an
 * encoded slash, a backslash, a control character or a dot segment.
 *
 * The client's buffer has a second mark, fwd: bytes before it belong to
 * approved requests (heads and bodies) and may go upstream; the head after
 * it is parsed and judged before anything of it leaves. The upstream's
 * buffer has the same mark for responses: each request sent upstream is
 * queued (rq) until its response is complete, so the proxy knows when
 * every approved request has been answered (a 403 for a later request then
 * goes out at once) and whether the answer to an Upgrade request was a
 * 101. Only a 101 to a WebSocket upgrade request turns the connection into
 * a raw relay (any other Upgrade token, h2c included, is refused); until
 * that response head arrives the client's further bytes are held, and
 * after any other answer they are parsed and judged as requests again.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deny.h"
#include "json.h"
#include "log.h"
#include "prx_int.h"

/* The note pol_explain_host gives an allow rule that matched the host and
 * port but not the HTTP method or path (N_HTTP in policies/pol_check.c). */
#define PRX_NOTE_HTTP "HTTP method or path not matched"

/* ---- 403 replies ---- */

void prx_reply_403(struct prx_sess *s, const char *rule, const char *reason)
{
	char buf[DENY_HTTP_MAX];
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
	if (deny_http_response(buf, sizeof(buf), rule, reason, s->name[0] ? s->name : s->target,
			       &len) == 0) {
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

int prx_audit_http(struct prx_sess *s, const struct http_req *r, const struct pol_decision *d,
		   const char *decision, const char *reason)
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
	 * the rule empty, which the 403 shows as "rule":null. */
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

void prx_judge_http(struct prx_sess *s, const struct http_req *r, struct pol_decision *d)
{
	const char *why = NULL;
	char path[sizeof(r->path) * 3], stripped[sizeof(r->path) * 3];

	if (strcmp(r->method, "CONNECT") == 0)
		why = "CONNECT through the transparent proxy";
	else if (r->method_override)
		why = "method override header (X-HTTP-Method-Override, X-HTTP-Method, "
		      "X-Method-Override)";
	else if (r->upgrade_other)
		why = "Upgrade to a protocol other than websocket";
	else if (http_path_decode((const uint8_t *)r->path, strlen(r->path), path, sizeof(path), 0,
				  &why) ||
		 http_path_decode((const uint8_t *)r->path, strlen(r->path), stripped,
				  sizeof(stripped), HTTP_PATH_STRIP_PARAMS, &why))
		why = why ? why : "request path too long";
	if (why) {
		memset(d, 0, sizeof(*d));
		d->verdict = POL_DENY;
		d->reason = why;
		return;
	}
	/* Decided on the decoded path; when ";params" change it (Tomcat and
	 * Spring drop them), both readings must be allowed. */
	prx_check_http(s, r->host, r->method, path, d);
	if (pol_permits(d) && strcmp(path, stripped) != 0) {
		struct pol_decision d2;

		prx_check_http(s, r->host, r->method, stripped, &d2);
		if (!pol_permits(&d2))
			*d = d2;
	}
}

static void prx_rq_pop(struct prx_sess *s)
{
	if (!s->rq_n)
		return;
	prx_rqi_emit(s, s->rq_head, NULL);
	s->rq_head = (s->rq_head + 1) % PRX_PIPE_MAX;
	s->rq_n--;
}

/* Static texts for leak reasons (audit rows keep a pointer until sent). */
static const char *prx_leak_reason(struct prx_sess *s, int k, const char *where, char *buf,
				   size_t cap)
{
	s->px->n->stats[NETD_ST_CRED_LEAKS]++;
	snprintf(buf, cap, "credential leak attempt: placeholder of '%s' in the %s%s",
		 s->px->n->creds->v[k].name, where,
		 s->inspect && s->cred == k ? ""
		 : s->inspect		    ? " (not this credential's host)"
					    : " (not an inspected host)");
	return buf;
}

/*
 * A placeholder in the body of the request being sent: that request's
 * head already went upstream, so upstream is cut off before the rest
 * (its body stays incomplete) and the guest gets a 403 when nothing
 * else is owed to it, else the connection is closed.
 */
static void prx_body_leak(struct prx_sess *s, int k)
{
	struct http_req r;
	struct pol_decision d;
	char why[160];
	unsigned last = (s->rq_head + s->rq_n + PRX_PIPE_MAX - 1) % PRX_PIPE_MAX;
	bool owed = s->rq_n > 1 || s->up.off != s->up.len;

	prx_leak_reason(s, k, "body", why, sizeof(why));
	memset(&d, 0, sizeof(d));
	d.verdict = POL_DENY;
	if (s->rqi && s->rq_n && s->rqi[last].verdict) {
		s->rqi[last].verdict = "deny";
		s->rqi[last].reason = "credential leak attempt (body)";
		prx_rqi_emit(s, last, NULL);
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.method, sizeof(r.method), "%s", s->cur_method);
	snprintf(r.path, sizeof(r.path), "%s", s->cur_path);
	prx_audit_http(s, &r, &d, "deny", why);
	prx_close_fd(s, &s->up);
	s->up.rd_eof = true;
	if (owed) {
		prx_kill(s, "credential leak attempt");
		return;
	}
	s->up.off = s->up.len = s->up.fwd = 0;
	s->rq_n = 0;
	prx_reply_403(s, NULL, "credential leak attempt: placeholder in the request body");
}

/*
 * Credentials in an approved head at fwd: a placeholder where it does not
 * belong is refused (returns 1 after the 403); the inspected host's own
 * is replaced in its header (r->head_len grows). 0: go on.
 */
static int prx_head_creds(struct prx_sess *s, struct http_req *r, const struct pol_decision *d,
			  unsigned *injected)
{
	struct prx_half *c = &s->cli;
	const struct cred_set *cs = s->px->n->creds;
	size_t newlen;
	const char *where;
	char why[160];
	int leak, rc;

	*injected = 0;
	if (!cs || !cs->n)
		return 0;
	if (c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->fwd -= c->off;
		c->off = 0;
	}
	rc = cred_head(cs, s->inspect ? s->cred : -1, c->buf + c->fwd, r->head_len,
		       c->len - c->fwd - r->head_len, PRX_BUF - c->fwd, &newlen, injected, &leak,
		       &where);
	if (rc == 0) {
		c->len = c->len - r->head_len + newlen;
		r->head_len = newlen;
		return 0;
	}
	if (rc == 1)
		prx_leak_reason(s, leak, where, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "no room to inject the credential");
	prx_audit_http(s, r, d, "deny", why);
	prx_reply_403(s, d->rule, rc == 1 ? "credential leak attempt" : "no room to inject the credential");
	return 1;
}

/* Inspected: the request's row waits for its response (prx_rqi_emit). */
static void prx_rqi_add(struct prx_sess *s, const struct http_req *r, const struct pol_decision *d,
			bool injected)
{
	unsigned i = (s->rq_head + s->rq_n) % PRX_PIPE_MAX;
	struct prx_rqi *q = &s->rqi[i];

	memset(q, 0, sizeof(*q));
	snprintf(q->method, sizeof(q->method), "%s", r->method);
	snprintf(q->path, sizeof(q->path), "%.511s", r->path);
	snprintf(q->rule, sizeof(q->rule), "%s", d->rule);
	q->verdict = pol_verdict_str(d->verdict);
	q->reason = d->reason;
	q->cred = injected ? s->cred : -1;
	q->t0_us = agw_mono_us();
	q->up = (int64_t)r->head_len;
	if (s->rstate == PRX_R_RAW)
		prx_rqi_emit(s, i, "response not tracked");
}

void prx_http_advance(struct prx_sess *s)
{
	struct prx_half *c = &s->cli;

	while (s->state == PRX_RELAY && c->fwd < c->len) {
		struct http_req r;
		struct pol_decision d;
		size_t used;
		unsigned injected;
		int rc;

		if (s->hstate == PRX_H_RAW) {
			c->fwd = c->len;
			break;
		}
		/* Held until the response to the Upgrade request arrives. */
		if (s->hstate == PRX_H_UPWAIT)
			return;
		if (s->hstate == PRX_H_BODY) {
			int k;

			rc = http_body_consume(&s->body, c->buf + c->fwd, c->len - c->fwd, &used);
			if (rc < 0) {
				prx_kill(s, "malformed request body");
				return;
			}
			k = cred_scan_feed(s->px->n->creds, &s->bscan, c->buf + c->fwd, used);
			if (k >= 0) {
				prx_body_leak(s, k);
				return;
			}
			if (s->rqi && s->rq_n)
				s->rqi[(s->rq_head + s->rq_n - 1) % PRX_PIPE_MAX].up += (int64_t)used;
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
		if (d.verdict == POL_ASK && s->approval) {
			/* A person approved this connection: its requests to
			 * the same host go ahead under that approval. */
			d.verdict = POL_ALLOW;
			snprintf(d.rule, sizeof(d.rule), "approval:%u", s->approval);
			d.line = 0;
			d.reason = s->approved_why;
		}
		if (!pol_permits(&d)) {
			char why[160];
			int k = cred_find_any(s->px->n->creds, c->buf + c->fwd, r.head_len);
			const char *reason =
			    k >= 0 ? prx_leak_reason(s, k, "request", why, sizeof(why)) : d.reason;

			prx_audit_http(s, &r, &d, "deny", reason);
			prx_reply_403(s, d.rule, d.reason ? d.reason : "denied");
			return;
		}
		if (prx_head_creds(s, &r, &d, &injected))
			return;
		if (s->rqi) {
			/* Recorded with its response; the audit path must work now. */
			if (!s->px->n->audit_ok) {
				prx_audit_http(s, &r, &d, "error", "audit unavailable: action denied");
				prx_reply_403(s, NULL, "audit unavailable");
				return;
			}
		} else if (prx_audit_http(s, &r, &d, pol_verdict_str(d.verdict), d.reason)) {
			prx_reply_403(s, NULL, "audit unavailable");
			return;
		}
		if (s->rqi)
			prx_rqi_add(s, &r, &d, injected > 0);
		snprintf(s->cur_method, sizeof(s->cur_method), "%s", r.method);
		snprintf(s->cur_path, sizeof(s->cur_path), "%.511s", r.path);
		cred_scan_init(&s->bscan);
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

/*
 * Follows response framing in the upstream's buffer past up.fwd (HTTP
 * mode): completes queued requests, and on the response to an Upgrade
 * request either switches both sides to raw (101) or lets the held client
 * bytes be judged as requests again.
 */
void prx_resp_advance(struct prx_sess *s)
{
	struct prx_half *u = &s->up;
	bool resume = false;

	if (!s->http || !u->buf)
		return;
	while (u->fwd < u->len && s->state != PRX_DEAD) {
		struct http_req fr;
		struct http_resp resp;
		size_t used;
		int rc;
		uint8_t f;

		if (s->rstate == PRX_R_RAW) {
			u->fwd = u->len;
			break;
		}
		if (s->rstate == PRX_R_BODY) {
			rc = http_body_consume(&s->rbody, u->buf + u->fwd, u->len - u->fwd, &used);
			if (rc < 0) {
				prx_rqi_flush(s, "response not tracked");
				s->rstate = PRX_R_RAW;
				s->rq_n = 0;
				continue;
			}
			if (s->rqi && s->rq_n)
				s->rqi[s->rq_head].down += (int64_t)used;
			u->fwd += used;
			if (rc == 1) {
				prx_rq_pop(s);
				s->rstate = PRX_R_HEAD;
			}
			continue;
		}
		rc = http_parse_resp(u->buf + u->fwd, u->len - u->fwd, &resp);
		if (rc == -AGW_ETRUNC)
			break;
		if (rc || !s->rq_n) {
			/* Not a response we can frame, or one nobody asked for
			 * (a 408 before closing): pass it, track no more. */
			prx_rqi_flush(s, "response not tracked");
			s->rstate = PRX_R_RAW;
			s->rq_n = 0;
			continue;
		}
		f = s->rq[s->rq_head];
		u->fwd += resp.head_len;
		if (s->rqi) {
			s->rqi[s->rq_head].down += (int64_t)resp.head_len;
			if (resp.status >= 200 || resp.status == 101)
				s->rqi[s->rq_head].status = resp.status;
		}
		if (resp.status == 101) {
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
		if (resp.status < 200) /* 100 Continue, 103: the real head follows */
			continue;
		if ((f & PRX_RQ_UPGRADE) && s->upgrade_pending) {
			/* Not upgraded: what the client sent next is requests. */
			s->upgrade_pending = false;
			if (s->hstate == PRX_H_UPWAIT)
				s->hstate = PRX_H_HEAD;
			resume = true;
		}
		if ((f & PRX_RQ_HEAD) || resp.status == 204 || resp.status == 304) {
			prx_rq_pop(s);
			continue;
		}
		if (resp.content_length == -2 || (resp.content_length < 0 && !resp.chunked)) {
			/* Delimited by the server closing. */
			prx_rqi_flush(s, "response delimited by close");
			s->rstate = PRX_R_RAW;
			s->rq_n = 0;
			continue;
		}
		memset(&fr, 0, sizeof(fr));
		fr.content_length = resp.content_length;
		fr.chunked = resp.chunked;
		http_body_init(&s->rbody, &fr);
		s->rstate = PRX_R_BODY;
	}
	if (u->rd_eof)
		u->fwd = u->len;
	if (resume && s->state == PRX_RELAY)
		prx_http_advance(s);
}

uint64_t prx_resp_opaque(const struct prx_sess *s)
{
	if (!s->http || s->rstate == PRX_R_RAW)
		return UINT64_MAX;
	if (s->rstate == PRX_R_BODY)
		return http_body_data_left(&s->rbody);
	return 0;
}

void prx_resp_moved(struct prx_sess *s, size_t n)
{
	if (!s->http || s->rstate != PRX_R_BODY)
		return;
	if (s->rqi && s->rq_n)
		s->rqi[s->rq_head].down += (int64_t)n;
	if (http_body_skip(&s->rbody, n) == 1) {
		prx_rq_pop(s);
		s->rstate = PRX_R_HEAD;
	}
}

bool prx_resp_done(const struct prx_sess *s)
{
	return s->http && s->rq_n == 0 && s->rstate == PRX_R_HEAD && s->up.fwd == s->up.len &&
	       s->cli.off == s->cli.fwd;
}

/* ---- the first request ---- */

static bool prx_is_ip_literal(const char *h)
{
	struct in6_addr a6;

	return inet_pton(AF_INET, h, &a6) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

void prx_http_peek(struct prx_sess *s, bool final)
{
	struct http_req r;
	const char *why;
	int rc;

	rc = http_parse_request(s->cli.buf, s->cli.len, &r);
	if (rc == -AGW_ETRUNC && !final)
		return;
	if (rc == 0 && r.host[0] && !prx_is_ip_literal(r.host) &&
	    (!r.host_port || r.host_port == s->port)) {
		prx_decide_name(s, r.host, "http", &r);
		return;
	}
	/* No name to judge: the Host is missing (HTTP/1.0) or an address,
	 * or the head cannot be read. Later requests on the connection could
	 * name any host at that address, so only a cidr rule for the address
	 * itself may let it through. */
	if (rc == 0 && prx_cidr_allows(s)) {
		prx_decide_addr(s, "http-cidr");
		return;
	}
	s->http = true;
	s->via = "http";
	snprintf(s->target, sizeof(s->target), "%s", s->odst_s);
	s->dec.verdict = POL_DENY;
	s->dec.rule[0] = '\0';
	if (rc == 0 && r.host[0] && !prx_is_ip_literal(r.host))
		why = "Host port differs from the connection's port";
	else if (rc == 0)
		why = r.host[0] ? "HTTP Host is an IP address" : "HTTP request without Host";
	else if (rc == -AGW_ETRUNC)
		why = "incomplete HTTP request head";
	else
		why = "malformed HTTP request head";
	if (rc)
		memset(&r, 0, sizeof(r));
	if (!r.method[0])
		snprintf(r.method, sizeof(r.method), "?");
	if (!r.path[0])
		snprintf(r.path, sizeof(r.path), "/");
	if (!r.host[0])
		snprintf(r.host, sizeof(r.host), "%s", s->odst_s);
	prx_audit_http(s, &r, &s->dec, "deny", why);
	prx_deny(s, why);
}
