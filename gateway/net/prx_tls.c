// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Inspected TLS in the transparent proxy (see prx_int.h and tlsi.h). A
 * connection whose SNI name the policy inspects is decided and dialed as
 * any TLS connection; once upstream's TCP is up, both handshakes run at
 * once: the guest's, answered with a leaf minted for the SNI name (its
 * ClientHello, already read by the peek, is replayed), and upstream's,
 * verified against the host's roots plus network.tls.upstream_ca for that
 * same name. When both are done the session continues in HTTP mode on the
 * plaintext: every request is judged by prx_http.c exactly as plain HTTP
 * is (its Host must be the SNI name). An upstream that fails verification
 * is a `net`/`tls` deny row, and the guest gets a 403 naming the reason
 * over its finished handshake, so an agent can tell a refusal from an
 * outage.
 *
 * Inspected requests are recorded when their response is complete (or the
 * connection ends), so the row carries status, bytes each way and
 * duration; whether the audit path is healthy is checked before each
 * request goes upstream, as for every other action.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "prx_int.h"
#include "tlsi.h"

void prx_tls_start(struct prx_sess *s)
{
	struct netd *n = s->px->n;

	s->rqi = calloc(PRX_PIPE_MAX, sizeof(*s->rqi));
	if (n->creds && n->creds->n && !(s->vtail = malloc(CRED_VALUE_MAX))) {
		prx_kill(s, "out of memory (TLS)");
		return;
	}
	s->up.ssl = tlsi_client(n->tlsi, s->name, s->up.fd);
	s->cli.ssl = tlsi_server(n->tlsi, s->name, s->cli.fd, s->cli.buf, s->cli.len);
	if (!s->rqi || !s->up.ssl || !s->cli.ssl) {
		prx_kill(s, "out of memory (TLS)");
		return;
	}
	/* The ClientHello now belongs to the guest's TLS. */
	s->cli.off = s->cli.len = s->cli.fwd = 0;
	n->stats[NETD_ST_TLS_INSPECTED]++;
	prx_set_state(s, PRX_TLS, s->name);
	if (s->state == PRX_TLS)
		prx_tls_step(s);
}

/* A deny row about the connection (net/tls, http/response). */
static void prx_tls_deny_row(struct prx_sess *s, const char *kind, const char *op,
			     const char *why, const char *detail)
{
	struct aud_event ev;

	netd_event_init(&ev, kind, op);
	ev.target = s->target;
	ev.decision = "deny";
	ev.rule = s->dec.rule[0] ? s->dec.rule : NULL;
	ev.reason = why;
	ev.src = s->src_s;
	ev.dst = s->dial_s;
	ev.detail = detail;
	netd_audit(s->px->n, &ev);
	log_info("proxy %s: %s", s->target, why);
}

static void prx_tls_refused(struct prx_sess *s, const char *why)
{
	s->px->n->stats[NETD_ST_CONNS_DENIED]++;
	prx_tls_deny_row(s, "net", "tls", why, "{\"side\":\"upstream\"}");
}

void prx_tls_step(struct prx_sess *s)
{
	struct ev_loop *loop = s->px->n->loop;
	unsigned want;
	char why[200];
	int rc;

	if (!s->up_hs && s->up.ssl) {
		rc = tlsi_handshake(s->up.ssl, &want, why, sizeof(why));
		if (rc == 0) {
			ev_mod_fd(loop, s->up.fd, want);
		} else {
			s->up_hs = true;
			if (rc < 0) {
				snprintf(s->tls_fail, sizeof(s->tls_fail), "%s", why);
				prx_tls_refused(s, s->tls_fail);
				prx_close_fd(s, &s->up);
				s->up.rd_eof = true;
			} else {
				ev_mod_fd(loop, s->up.fd, 0);
			}
		}
	}
	if (!s->cli_hs) {
		rc = tlsi_handshake(s->cli.ssl, &want, why, sizeof(why));
		if (rc < 0) {
			/* Often a client that does not trust the sandbox CA. */
			log_debug("proxy %s: guest %s", s->target, why);
			prx_kill(s, s->tls_fail[0] ? "upstream certificate does not verify"
						   : "guest TLS handshake failed");
			return;
		}
		if (rc == 0) {
			ev_mod_fd(loop, s->cli.fd, want);
			return;
		}
		s->cli_hs = true;
		ev_mod_fd(loop, s->cli.fd, 0);
	}
	if (!s->up_hs)
		return;
	s->http = true;
	s->hstate = PRX_H_HEAD;
	s->rstate = PRX_R_HEAD;
	if (s->tls_fail[0]) {
		/* The guest finished its handshake: say why in a 403. */
		prx_reply_403(s, NULL, s->tls_fail);
		return;
	}
	prx_set_state(s, PRX_RELAY, "inspected");
	if (s->state != PRX_RELAY)
		return;
	s->last_ms = ev_now_ms(loop);
	prx_pump(s);
}

/*
 * An upstream that echoes the injected key (a debug endpoint, an error
 * page quoting the request) would hand it to the guest: its bytes are
 * scanned before they are forwarded, and the connection is cut instead.
 */
bool prx_tls_resp_leak(struct prx_sess *s, const uint8_t *buf, size_t len)
{
	const struct cred_set *cs = s->px->n->creds;
	char why[160];
	int k;

	if (!s->vtail)
		return false;
	k = cred_value_scan(cs, s->vtail, &s->vtail_len, buf, len);
	if (k < 0)
		return false;
	s->px->n->stats[NETD_ST_CRED_LEAKS]++;
	snprintf(why, sizeof(why),
		 "the upstream's response holds the value of credential '%s': connection cut",
		 cs->v[k].name);
	prx_tls_deny_row(s, "http", "response", why, NULL);
	/* Not one byte of it goes on: the buffer is dropped with the session. */
	explicit_bzero(s->up.buf, PRX_BUF);
	s->up.off = s->up.len = s->up.fwd = 0;
	prx_kill(s, "upstream response held a credential");
	return true;
}

size_t prx_tls_hold(const struct prx_sess *s)
{
	const struct prx_half *u = &s->up;

	if (!s->vtail || u->rd_eof || !u->buf || u->off >= u->len ||
	    (s->http && s->rq_n == 0 && s->rstate == PRX_R_HEAD && u->fwd == u->len))
		return 0;
	return cred_value_partial(s->px->n->creds, u->buf + u->off, u->len - u->off);
}

/* ---- deferred request rows ---- */

void prx_rqi_emit(struct prx_sess *s, unsigned i, const char *why)
{
	struct prx_rqi *q;
	struct aud_event ev;
	char target[SNI_HOST_MAX + 520], detail[1400], p[1100];
	const struct cred_set *cs = s->px->n->creds;
	int k = 0;

	if (!s->rqi)
		return;
	q = &s->rqi[i % PRX_PIPE_MAX];
	if (!q->verdict)
		return;
	netd_event_init(&ev, "http", "request");
	snprintf(target, sizeof(target), "%s%s", s->name, q->path);
	json_esc_str(p, sizeof(p), q->path);
	k = snprintf(detail, sizeof(detail),
		     "{\"method\":\"%s\",\"port\":%u,\"path\":\"%s\",\"tls\":\"inspect\"", q->method,
		     s->port, p);
	if (q->status)
		k += snprintf(detail + k, sizeof(detail) - (size_t)k, ",\"status\":%d", q->status);
	if (q->cred >= 0 && cs && (size_t)q->cred < cs->n)
		k += snprintf(detail + k, sizeof(detail) - (size_t)k, ",\"credential\":\"%s\"",
			      cs->v[q->cred].name);
	snprintf(detail + k, sizeof(detail) - (size_t)k, "}");
	ev.target = target;
	ev.decision = q->verdict;
	ev.rule = q->rule[0] ? q->rule : NULL;
	ev.reason = q->status ? q->reason : why;
	ev.src = s->src_s;
	ev.dst = s->dial_s;
	ev.detail = detail;
	ev.bytes_up = q->up;
	ev.bytes_down = q->down;
	ev.duration_us = agw_mono_us() - q->t0_us;
	netd_audit(s->px->n, &ev);
	q->verdict = NULL;
}

void prx_rqi_flush(struct prx_sess *s, const char *why)
{
	if (!s->rqi)
		return;
	for (unsigned k = 0; k < s->rq_n; k++)
		prx_rqi_emit(s, s->rq_head + k, why);
	/* One recorded while responses went untracked may remain. */
	for (unsigned k = 0; k < PRX_PIPE_MAX; k++)
		prx_rqi_emit(s, k, why);
}
