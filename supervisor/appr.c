// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Approvals (see appr.h): the pending table, the timeout, the answers to
 * the children, their audit rows, and the JSON-lines socket for the CLI.
 * A request is one line, {"op":"list"} or {"op":"answer", "id":N | "all":
 * true, "allow":bool, "scope":"once|session|always", "reason":"..."}; the
 * answer is one line with "ok" and either the pending list or what was
 * answered (and "error" when not ok). {"op":"list","since":N} lists the
 * actions that started waiting after id N (the last APPR_RECENT, answered
 * or not) and those still pending: what `approvals -f` follows.
 */
#include "appr.h"

#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "ev.h"
#include "json.h"
#include "log.h"
#include "policies/pol.h"

#define APPR_WBUF_MAX (1u << 20)

/* ---- the table ---- */

int appr_tab_add(struct appr_tab *t, int child, const struct ipc_ask *q, int64_t now_ms,
		 int64_t timeout_ms, struct appr_item **out)
{
	struct appr_item *it;

	*out = NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].child == child && t->v[i].q.id == q->id)
			return -AGW_EINVAL;
	if (t->n >= APPR_MAX)
		return -AGW_EFULL;
	it = &t->v[t->n++];
	memset(it, 0, sizeof(*it));
	if (++t->next_id == 0)
		t->next_id = 1;
	it->id = t->next_id;
	it->child = child;
	it->q = *q;
	it->start_ms = now_ms;
	it->deadline_ms = now_ms + timeout_ms;
	*out = it;
	return 0;
}

struct appr_item *appr_tab_find(struct appr_tab *t, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].id == id)
			return &t->v[i];
	return NULL;
}

void appr_tab_del(struct appr_tab *t, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].id != id)
			continue;
		memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(t->v[0]));
		t->n--;
		return;
	}
}

int64_t appr_tab_next_deadline(const struct appr_tab *t)
{
	int64_t m = -1;

	for (size_t i = 0; i < t->n; i++)
		if (m < 0 || t->v[i].deadline_ms < m)
			m = t->v[i].deadline_ms;
	return m;
}

size_t appr_tab_expired(const struct appr_tab *t, int64_t now_ms, uint32_t *ids, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < t->n && k < cap; i++)
		if (t->v[i].deadline_ms <= now_ms)
			ids[k++] = t->v[i].id;
	return k;
}

int appr_rule_yaml(const struct appr_item *it, char *buf, size_t cap)
{
	char words[40];
	int w;

	switch (it->q.kind) {
	case IPC_ASK_DNS:
		w = snprintf(buf, cap, "{ host: \"%s\" }", it->q.subject);
		break;
	case IPC_ASK_CONNECT:
		w = snprintf(buf, cap, "{ host: \"%s\", ports: [%u] }", it->q.subject,
			     (unsigned)it->q.port);
		break;
	case IPC_ASK_FS:
		/* A literal path only: glob characters would widen the rule,
		 * quotes and backslashes would need escaping. */
		if (strpbrk(it->q.subject, "*?[]{}\\\"") || !it->q.subject[0])
			return -AGW_EINVAL;
		w = snprintf(buf, cap, "{ path: \"%s\", access: [%s] }", it->q.subject,
			     pol_access_str(it->q.access, words, sizeof(words)));
		break;
	default:
		return -AGW_EINVAL;
	}
	return w < 0 || (size_t)w >= cap ? -AGW_ETOOBIG : 0;
}

/* ---- the server ---- */

struct appr_cli {
	struct appr *a;
	int fd;
	uid_t uid;
	char who[IPC_ASK_WHO_MAX + 1];
	char rbuf[APPR_LINE_MAX];
	size_t rlen;
	char *wbuf;
	size_t wlen, woff;
	bool dead;
};

struct appr {
	struct ev_loop *loop;
	struct appr_ops ops;
	char name[64];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	uint64_t timer;
	struct appr_tab tab;
	struct appr_cli *cli[APPR_CLIENTS_MAX];
	/* The last APPR_RECENT actions that started waiting, answered or not,
	 * as the list shows them when they started: a follower asking
	 * {"op":"list","since":N} sees each wait even when a person answered
	 * it between two of its polls. */
	json_t *recent[APPR_RECENT];
	size_t nrecent_seen; /* how many were ever recorded */
};

static void appr_arm(struct appr *a);
static void appr_recent_add(struct appr *a, const struct appr_item *it);

static const char *appr_event_kind(unsigned kind)
{
	return kind == IPC_ASK_DNS ? "dns" : kind == IPC_ASK_FS ? "fs" : "net";
}

/* "host:port", the name, or the path: what the list and the audit show. */
static void appr_subject(const struct appr_item *it, char *buf, size_t cap)
{
	if (it->q.kind == IPC_ASK_CONNECT)
		snprintf(buf, cap, "%s:%u", it->q.subject, (unsigned)it->q.port);
	else
		snprintf(buf, cap, "%s", it->q.subject);
}

/* Answers it (to the child and in the audit log) and removes it. */
static void appr_decide(struct appr *a, struct appr_item *it, bool allow, unsigned scope,
			uint32_t approval, const char *who, const char *reason)
{
	struct ipc_answer ans = {0};
	struct aud_event ev = {0};
	char subject[IPC_ASK_SUBJECT_MAX + 16], rule[32], why[400], detail[600], words[40];
	int64_t waited = ev_now_ms(a->loop) - it->start_ms;
	size_t n;

	ans.id = it->q.id;
	ans.approval = approval;
	ans.allow = allow;
	ans.scope = (uint8_t)scope;
	snprintf(ans.who, sizeof(ans.who), "%s", who ? who : "");
	snprintf(ans.reason, sizeof(ans.reason), "%s", reason ? reason : "");
	if (a->ops.answer(a->ops.ctx, it->child, &ans))
		log_warn("approval %u: cannot answer the child", it->id);
	appr_subject(it, subject, sizeof(subject));
	snprintf(rule, sizeof(rule), "approval:%u", approval);
	if (scope == IPC_SCOPE_TIMEOUT)
		snprintf(why, sizeof(why), "%s",
			 reason && reason[0] ? reason : "approval timed out");
	else if (allow)
		snprintf(why, sizeof(why), "approved (%s) by %s", ipc_scope_str(scope), who);
	else
		snprintf(why, sizeof(why), "denied by %s%s%s", who, reason && reason[0] ? ": " : "",
			 reason ? reason : "");
	n = (size_t)snprintf(detail, sizeof(detail),
			     "{\"approval\":%u,\"id\":%u,\"kind\":\"%s\",\"scope\":\"%s\","
			     "\"waited_ms\":%lld,\"who\":\"",
			     approval, it->id, ipc_ask_kind_str(it->q.kind), ipc_scope_str(scope),
			     (long long)waited);
	n += json_esc_str(detail + n, 128, who ? who : "");
	n += (size_t)snprintf(detail + n, sizeof(detail) - n, "\"");
	if (it->q.rule[0])
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, ",\"ask_rule\":\"%s\"",
				      it->q.rule);
	if (it->q.kind == IPC_ASK_FS)
		n += (size_t)snprintf(detail + n, sizeof(detail) - n, ",\"access\":\"%s\"",
				      pol_access_str(it->q.access, words, sizeof(words)));
	snprintf(detail + n, sizeof(detail) - n, "}");
	ev.kind = appr_event_kind(it->q.kind);
	ev.op = "approval";
	ev.target = subject;
	ev.decision = allow ? "allow" : "deny";
	ev.rule = rule;
	ev.reason = why;
	ev.detail = detail;
	ev.bytes_up = ev.bytes_down = -1;
	ev.duration_us = waited * 1000;
	a->ops.emit(a->ops.ctx, &ev);
	log_info("approval %u (%s %s): %s", it->id, ipc_ask_kind_str(it->q.kind), subject, why);
	appr_tab_del(&a->tab, it->id);
}

static void appr_timer_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct appr *a = ctx;
	uint32_t ids[APPR_MAX];
	size_t n;

	(void)id;
	a->timer = 0;
	n = appr_tab_expired(&a->tab, ev_now_ms(loop), ids, APPR_MAX);
	for (size_t i = 0; i < n; i++) {
		struct appr_item *it = appr_tab_find(&a->tab, ids[i]);

		if (it)
			appr_decide(a, it, false, IPC_SCOPE_TIMEOUT, it->id, "",
				    "approval timed out");
	}
	appr_arm(a);
}

static void appr_arm(struct appr *a)
{
	int64_t d = appr_tab_next_deadline(&a->tab), now = ev_now_ms(a->loop);

	if (a->timer)
		ev_timer_del(a->loop, a->timer);
	a->timer = 0;
	if (d >= 0)
		a->timer = ev_timer_add(a->loop, d > now ? d - now : 0, appr_timer_cb, a);
}

int appr_ask(struct appr *a, int child, const struct ipc_ask *q)
{
	struct appr_item *it = NULL;
	unsigned t = a->ops.timeout_s(a->ops.ctx);
	int rc = appr_tab_add(&a->tab, child, q, ev_now_ms(a->loop), (int64_t)t * 1000, &it);

	if (rc == -AGW_EINVAL)
		return -AGW_EPROTO;
	if (rc) {
		struct ipc_answer ans = {.id = q->id, .scope = IPC_SCOPE_TIMEOUT};

		snprintf(ans.reason, sizeof(ans.reason), "too many actions wait for approval");
		a->ops.answer(a->ops.ctx, child, &ans);
		log_warn("approvals: %d pending, %s %s denied at once", APPR_MAX,
			 ipc_ask_kind_str(q->kind), q->subject);
		return 0;
	}
	log_info("approval %u pending: %s %s%s%s (agentgw approve %u once|session|always)", it->id,
		 ipc_ask_kind_str(q->kind), q->subject, q->rule[0] ? " by rule " : "", q->rule,
		 it->id);
	appr_recent_add(a, it);
	appr_arm(a);
	return 0;
}

void appr_child_gone(struct appr *a, int child)
{
	if (!a)
		return;
	for (size_t i = a->tab.n; i-- > 0;)
		if (a->tab.v[i].child == child)
			appr_tab_del(&a->tab, a->tab.v[i].id);
	appr_arm(a);
}

size_t appr_pending(const struct appr *a)
{
	return a ? a->tab.n : 0;
}

/* ---- requests ---- */

static json_t *appr_item_json(struct appr *a, const struct appr_item *it);

/* Keeps it's listing in the ring of recent waits. */
static void appr_recent_add(struct appr *a, const struct appr_item *it)
{
	size_t k = a->nrecent_seen++ % APPR_RECENT;

	json_decref(a->recent[k]);
	a->recent[k] = appr_item_json(a, it);
}

/* The recent waits with an id above since, oldest first, then the pending
 * ones not among them. */
static json_t *appr_since_json(struct appr *a, json_int_t since)
{
	json_t *arr = json_array(), *o;
	size_t n = a->nrecent_seen < APPR_RECENT ? a->nrecent_seen : APPR_RECENT;
	json_int_t top = since;

	for (size_t i = a->nrecent_seen - n; arr && i < a->nrecent_seen; i++) {
		o = a->recent[i % APPR_RECENT];
		if (o && json_integer_value(json_object_get(o, "id")) > since) {
			json_array_append(arr, o);
			if (json_integer_value(json_object_get(o, "id")) > top)
				top = json_integer_value(json_object_get(o, "id"));
		}
	}
	for (size_t i = 0; arr && i < a->tab.n; i++)
		if ((json_int_t)a->tab.v[i].id > top && (o = appr_item_json(a, &a->tab.v[i])))
			json_array_append_new(arr, o);
	return arr;
}

static json_t *appr_item_json(struct appr *a, const struct appr_item *it)
{
	int64_t now = ev_now_ms(a->loop);
	char subject[IPC_ASK_SUBJECT_MAX + 16], words[40];
	json_t *o;

	appr_subject(it, subject, sizeof(subject));
	o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I}", "id", (json_int_t)it->id, "kind",
		      ipc_ask_kind_str(it->q.kind), "subject", subject, "sandbox", a->name,
		      "age_ms", (json_int_t)(now - it->start_ms), "expires_ms",
		      (json_int_t)(it->deadline_ms - now));
	if (!o)
		return NULL;
	if (it->q.kind == IPC_ASK_FS)
		json_object_set_new(
		    o, "access", json_string(pol_access_str(it->q.access, words, sizeof(words))));
	if (it->q.rule[0])
		json_object_set_new(o, "rule", json_string(it->q.rule));
	return o;
}

static json_t *appr_list_json(struct appr *a)
{
	json_t *arr = json_array(), *o;

	for (size_t i = 0; arr && i < a->tab.n; i++)
		if ((o = appr_item_json(a, &a->tab.v[i])))
			json_array_append_new(arr, o);
	return arr;
}

static void appr_comment(const struct appr_cli *c, uint32_t id, unsigned scope, char *buf,
			 size_t cap)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, cap, "added by `agentgw approve %u %s`: %s, %s", id, ipc_scope_str(scope),
		 c->who, ts);
}

/* Answers one item for client c; on a failed rule it stays pending. */
static int appr_answer_one(struct appr *a, struct appr_cli *c, struct appr_item *it, bool allow,
			   unsigned scope, const char *reason, json_t *done, json_t *errs)
{
	char rule[IPC_ASK_SUBJECT_MAX + 64], comment[200], msg[300];
	uint32_t id = it->id;
	int rc;

	if (allow && scope != IPC_SCOPE_ONCE) {
		rc = appr_rule_yaml(it, rule, sizeof(rule));
		if (rc) {
			snprintf(
			    msg, sizeof(msg),
			    "approval %u: %.200s cannot be written as a rule (glob characters or "
			    "quotes); approve it once",
			    id, it->q.subject);
			json_array_append_new(errs, json_string(msg));
			return -1;
		}
		appr_comment(c, id, scope, comment, sizeof(comment));
		rc = a->ops.add_rule(a->ops.ctx, it, scope == IPC_SCOPE_ALWAYS, rule, comment, msg,
				     sizeof(msg));
		if (rc) {
			char m2[400];

			snprintf(m2, sizeof(m2), "approval %u: %s", id, msg);
			json_array_append_new(errs, json_string(m2));
			return -1;
		}
		it = appr_tab_find(&a->tab, id); /* add_rule may not touch the table, but check */
		if (!it)
			return 0;
	}
	appr_decide(a, it, allow, scope, id, c->who, reason);
	json_array_append_new(done, json_integer(id));
	if (allow && scope != IPC_SCOPE_ONCE) {
		/* What the new rule allows needs no one any more. */
		for (size_t i = 0; i < a->tab.n;) {
			struct appr_item *o = &a->tab.v[i];

			if (a->ops.allowed(a->ops.ctx, o)) {
				json_array_append_new(done, json_integer(o->id));
				appr_decide(a, o, true, scope, id, c->who, NULL);
				continue;
			}
			i++;
		}
	}
	return 0;
}

static json_t *appr_answer(struct appr *a, struct appr_cli *c, json_t *req)
{
	json_t *jid = json_object_get(req, "id"), *jall = json_object_get(req, "all");
	json_t *jallow = json_object_get(req, "allow"), *jscope = json_object_get(req, "scope");
	json_t *jreason = json_object_get(req, "reason");
	json_t *done = json_array(), *errs = json_array(), *res;
	const char *sc = json_is_string(jscope) ? json_string_value(jscope) : "once";
	const char *reason = json_is_string(jreason) ? json_string_value(jreason) : NULL;
	bool allow = json_is_true(jallow);
	unsigned scope;
	char msg[200];

	if (!json_is_boolean(jallow) || (!json_is_integer(jid) && !json_is_true(jall)))
		return json_pack("{s:b, s:s}", "ok", 0, "error",
				 "bad request: want id or all, and allow");
	scope = !strcmp(sc, "once")	 ? IPC_SCOPE_ONCE
		: !strcmp(sc, "session") ? IPC_SCOPE_SESSION
		: !strcmp(sc, "always")	 ? IPC_SCOPE_ALWAYS
					 : 0;
	if (!scope || (!allow && scope != IPC_SCOPE_ONCE))
		return json_pack("{s:b, s:s}", "ok", 0, "error",
				 "bad scope: want once, session or always (deny: once)");
	if (reason && strlen(reason) > IPC_ASK_REASON_MAX)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "reason longer than 255 bytes");
	if (json_is_true(jall)) {
		uint32_t ids[APPR_MAX];
		size_t n = a->tab.n;

		for (size_t i = 0; i < n; i++)
			ids[i] = a->tab.v[i].id;
		for (size_t i = 0; i < n; i++) {
			struct appr_item *it = appr_tab_find(&a->tab, ids[i]);

			if (it)
				appr_answer_one(a, c, it, allow, scope, reason, done, errs);
		}
	} else {
		json_int_t id = json_integer_value(jid);
		struct appr_item *it =
		    id > 0 && id <= UINT32_MAX ? appr_tab_find(&a->tab, (uint32_t)id) : NULL;

		if (!it) {
			snprintf(msg, sizeof(msg),
				 "no pending approval %lld in sandbox %s (answered, timed out or "
				 "never asked; see agentgw approvals)",
				 (long long)id, a->name);
			json_decref(done);
			json_decref(errs);
			return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
		}
		appr_answer_one(a, c, it, allow, scope, reason, done, errs);
	}
	appr_arm(a);
	res = json_pack("{s:b, s:s, s:o}", "ok", json_array_size(errs) == 0, "sandbox", a->name,
			"answered", done);
	if (json_array_size(errs))
		json_object_set_new(res, "error",
				    json_copy(json_array_get(errs, json_array_size(errs) - 1)));
	json_object_set_new(res, "errors", errs);
	return res;
}

static void appr_cli_close(struct appr_cli *c)
{
	struct appr *a = c->a;

	for (size_t i = 0; i < APPR_CLIENTS_MAX; i++)
		if (a->cli[i] == c)
			a->cli[i] = NULL;
	ev_del_fd(a->loop, c->fd);
	close(c->fd);
	free(c->wbuf);
	free(c);
}

static void appr_cli_flush(struct appr_cli *c)
{
	while (c->woff < c->wlen) {
		ssize_t w =
		    send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			ev_mod_fd(c->a->loop, c->fd, EV_READ | EV_WRITE);
			return;
		}
		if (w < 0) {
			c->dead = true;
			return;
		}
		c->woff += (size_t)w;
	}
	c->woff = c->wlen = 0;
	ev_mod_fd(c->a->loop, c->fd, EV_READ);
}

static void appr_cli_reply(struct appr_cli *c, json_t *res)
{
	char *s = res ? json_dumps(res, JSON_COMPACT) : NULL;
	size_t n = s ? strlen(s) : 0;
	char *nb;

	json_decref(res);
	if (!s || c->wlen + n + 1 > APPR_WBUF_MAX || !(nb = realloc(c->wbuf, c->wlen + n + 1))) {
		free(s);
		c->dead = true;
		return;
	}
	c->wbuf = nb;
	memcpy(c->wbuf + c->wlen, s, n);
	c->wbuf[c->wlen + n] = '\n';
	c->wlen += n + 1;
	free(s);
	appr_cli_flush(c);
}

static void appr_cli_line(struct appr_cli *c, const char *line, size_t n)
{
	struct appr *a = c->a;
	json_error_t je;
	json_t *req = json_loadb(line, n, 0, &je), *res;
	const char *op = json_string_value(json_object_get(req, "op"));

	if (!req || !op)
		res = json_pack("{s:b, s:s}", "ok", 0, "error",
				"bad request: not a JSON object with op");
	else if (!strcmp(op, "list") && json_is_integer(json_object_get(req, "since")))
		res = json_pack(
		    "{s:b, s:s, s:o}", "ok", 1, "sandbox", a->name, "pending",
		    appr_since_json(a, json_integer_value(json_object_get(req, "since"))));
	else if (!strcmp(op, "list"))
		res = json_pack("{s:b, s:s, s:o}", "ok", 1, "sandbox", a->name, "pending",
				appr_list_json(a));
	else if (!strcmp(op, "answer"))
		res = appr_answer(a, c, req);
	else
		res = json_pack("{s:b, s:s}", "ok", 0, "error", "unknown op (want list or answer)");
	json_decref(req);
	appr_cli_reply(c, res);
}

static void appr_cli_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct appr_cli *c = ctx;
	ssize_t r;
	char *nl;

	(void)loop;
	if (events & EV_WRITE)
		appr_cli_flush(c);
	if (!c->dead && (events & (EV_READ | EV_ERROR))) {
		r = recv(fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			c->dead = true;
		} else {
			c->rlen += (size_t)r;
			while (!c->dead && (nl = memchr(c->rbuf, '\n', c->rlen))) {
				size_t n = (size_t)(nl - c->rbuf);

				appr_cli_line(c, c->rbuf, n);
				memmove(c->rbuf, nl + 1, c->rlen - n - 1);
				c->rlen -= n + 1;
			}
			if (c->rlen == sizeof(c->rbuf))
				c->dead = true; /* a line over APPR_LINE_MAX */
		}
	}
	if (c->dead)
		appr_cli_close(c);
}

static void appr_accept_cb(struct ev_loop *loop, int lfd, unsigned events, void *ctx)
{
	struct appr *a = ctx;

	(void)events;
	for (int k = 0; k < 8; k++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		struct appr_cli *c;
		size_t slot;

		if (fd < 0)
			return;
		for (slot = 0; slot < APPR_CLIENTS_MAX && a->cli[slot]; slot++)
			;
		c = slot < APPR_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
		if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 ||
		    ev_add_fd(loop, fd, EV_READ, appr_cli_cb, c)) {
			free(c);
			close(fd);
			continue;
		}
		c->a = a;
		c->fd = fd;
		c->uid = cr.uid;
		{
			struct passwd pw, *pp = NULL;
			char pbuf[1024];

			if (getpwuid_r(cr.uid, &pw, pbuf, sizeof(pbuf), &pp) == 0 && pp)
				snprintf(c->who, sizeof(c->who), "%.40s (uid %u)", pp->pw_name,
					 (unsigned)cr.uid);
			else
				snprintf(c->who, sizeof(c->who), "uid %u", (unsigned)cr.uid);
		}
		a->cli[slot] = c;
	}
}

int appr_new(struct ev_loop *loop, const char *dir, const char *name, const struct appr_ops *ops,
	     struct appr **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct appr *a;
	mode_t old;
	int rc;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -AGW_ENOMEM;
	a->loop = loop;
	a->ops = *ops;
	a->lfd = -1;
	snprintf(a->name, sizeof(a->name), "%s", name);
	if ((size_t)snprintf(a->path, sizeof(a->path), "%s/%s", dir, APPR_SOCK) >=
	    sizeof(a->path)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	memcpy(sun.sun_path, a->path, strlen(a->path) + 1);
	a->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (a->lfd < 0) {
		rc = -errno;
		goto out;
	}
	unlink(a->path);
	old = umask(0077);
	rc = bind(a->lfd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(a->lfd, 16) < 0) {
		rc = -errno;
		goto out;
	}
	chmod(a->path, 0600);
	rc = ev_add_fd(loop, a->lfd, EV_READ, appr_accept_cb, a);
	if (rc)
		goto out;
	*out = a;
	return 0;
out:
	if (a->lfd >= 0)
		close(a->lfd);
	free(a);
	return rc;
}

void appr_free(struct appr *a)
{
	if (!a)
		return;
	while (a->tab.n)
		appr_decide(a, &a->tab.v[0], false, IPC_SCOPE_TIMEOUT, a->tab.v[0].id, "",
			    "sandbox stopping");
	for (size_t i = 0; i < APPR_CLIENTS_MAX; i++)
		if (a->cli[i])
			appr_cli_close(a->cli[i]);
	if (a->timer)
		ev_timer_del(a->loop, a->timer);
	ev_del_fd(a->loop, a->lfd);
	close(a->lfd);
	unlink(a->path);
	for (size_t i = 0; i < APPR_RECENT; i++)
		json_decref(a->recent[i]);
	free(a);
}
