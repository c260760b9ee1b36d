// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The net child's side of approvals (see netd.h): open asks keyed by kind,
 * subject and port, each with the actions (waiters) it holds, answered by
 * the supervisor's IPC_ASK_ANSWER; and grants, the allowing answers that
 * came after their waiters were gone (a DNS client answered SERVFAIL while
 * it waited retries the name: the retry is the action that was approved).
 */
#include "netd.h"

#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"

#define NETD_GRANTS_MAX 64

struct netd_waiter {
	struct netd_ask *ask;
	netd_ask_cb *cb;
	void *ctx;
	struct netd_waiter *next;
};

struct netd_ask {
	uint32_t id;
	uint8_t kind;
	uint16_t port;
	char subject[IPC_ASK_SUBJECT_MAX + 1];
	struct netd_waiter *waiters;
	struct netd_ask *next;
};

struct netd_grant {
	uint8_t kind;
	uint16_t port;
	char subject[IPC_ASK_SUBJECT_MAX + 1];
	int64_t until_ms;
	struct ipc_answer ans;
	struct netd_grant *next;
};

static struct netd_ask *netd_ask_find(struct netd *n, unsigned kind, const char *subject,
				      uint16_t port)
{
	for (struct netd_ask *a = n->asks; a; a = a->next)
		if (a->kind == kind && a->port == port && !strcmp(a->subject, subject))
			return a;
	return NULL;
}

struct netd_waiter *netd_ask_start(struct netd *n, unsigned kind, const char *subject,
				   uint16_t port, const char *rule, netd_ask_cb *cb, void *ctx)
{
	struct netd_ask *a = netd_ask_find(n, kind, subject, port);
	struct netd_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	if (!a) {
		struct ipc_ask q = {0};
		uint8_t buf[IPC_ASK_SUBJECT_MAX + 64];
		size_t len;

		if (!ipc_ask_subject_ok(kind, subject) || !(a = calloc(1, sizeof(*a)))) {
			free(w);
			return NULL;
		}
		if (++n->ask_next == 0)
			n->ask_next = 1;
		a->id = n->ask_next;
		a->kind = (uint8_t)kind;
		a->port = port;
		snprintf(a->subject, sizeof(a->subject), "%s", subject);
		q.id = a->id;
		q.kind = a->kind;
		q.port = port;
		snprintf(q.subject, sizeof(q.subject), "%s", subject);
		snprintf(q.rule, sizeof(q.rule), "%s", rule ? rule : "");
		/* The events queued before the ask stay before it (netd.c). */
		netd_audit_flush(n);
		if (ipc_ask_encode(&q, buf, sizeof(buf), &len) ||
		    ipc_send(n->ipc_fd, IPC_ASK, buf, len, NULL, 0)) {
			log_warn("cannot ask the supervisor about %s", subject);
			free(a);
			free(w);
			return NULL;
		}
		a->next = n->asks;
		n->asks = a;
	}
	w->ask = a;
	w->cb = cb;
	w->ctx = ctx;
	w->next = a->waiters;
	a->waiters = w;
	return w;
}

void netd_ask_cancel(struct netd *n, struct netd_waiter *w)
{
	(void)n;
	if (!w)
		return;
	for (struct netd_waiter **pp = &w->ask->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	free(w);
}

static void netd_grant_add(struct netd *n, const struct netd_ask *a, const struct ipc_answer *ans)
{
	struct netd_grant *g;
	size_t k = 0;

	for (g = n->grants; g; g = g->next)
		k++;
	if (k >= NETD_GRANTS_MAX || !(g = calloc(1, sizeof(*g))))
		return;
	g->kind = a->kind;
	g->port = a->port;
	memcpy(g->subject, a->subject, sizeof(g->subject));
	g->until_ms = ev_now_ms(n->loop) + NETD_GRANT_MS;
	g->ans = *ans;
	g->next = n->grants;
	n->grants = g;
}

int netd_ask_grant_take(struct netd *n, unsigned kind, const char *subject, uint16_t port,
			struct ipc_answer *a)
{
	int64_t now = ev_now_ms(n->loop);

	for (struct netd_grant **pp = &n->grants; *pp;) {
		struct netd_grant *g = *pp;

		if (g->until_ms < now) {
			*pp = g->next;
			free(g);
			continue;
		}
		if (g->kind == kind && g->port == port && !strcmp(g->subject, subject)) {
			*a = g->ans;
			/* A query's A and AAAA and its retries: the grant lasts
			 * its window, for the name only. */
			return 0;
		}
		pp = &g->next;
	}
	return -AGW_ENOTFOUND;
}

int netd_ask_answer(struct netd *n, const uint8_t *buf, size_t len)
{
	struct ipc_answer ans;
	struct netd_ask *a = NULL, **pp;

	if (ipc_answer_decode(buf, len, &ans))
		return -AGW_EPROTO;
	for (pp = &n->asks; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == ans.id) {
			a = *pp;
			*pp = a->next;
			break;
		}
	}
	if (!a)
		return 0;
	if (!a->waiters && ans.allow && a->kind == IPC_ASK_DNS)
		netd_grant_add(n, a, &ans);
	while (a->waiters) {
		struct netd_waiter *w = a->waiters;

		a->waiters = w->next;
		w->cb(w->ctx, &ans);
		free(w);
	}
	free(a);
	return 0;
}

void netd_ask_free_all(struct netd *n)
{
	while (n->asks) {
		struct netd_ask *a = n->asks;

		n->asks = a->next;
		while (a->waiters) {
			struct netd_waiter *w = a->waiters;

			a->waiters = w->next;
			free(w);
		}
		free(a);
	}
	while (n->grants) {
		struct netd_grant *g = n->grants;

		n->grants = g->next;
		free(g);
	}
}
