// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The children's channels, read by the supervisor: the net and fs
 * children's messages (audit events one by one or in batches, asks for
 * approval, answers to policy reloads, readiness and stats) are validated
 * and dispatched here, and a child that sends anything unexpected is
 * killed. A busy channel is read on a timer instead of on every message,
 * and not at all while the audit writer's queue is high (backpressure:
 * the messages wait in the socket).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "audit/aud.h"
#include "ipc.h"
#include "log.h"
#include "supervisor/appr.h"
#include "sup_int.h"

/* Under load the children's channels are read every SUP_CHILD_POLL_MS
 * instead of on every message (sup_child_wake). */
#define SUP_CHILD_POLL_MS 5
/* Backpressure (sup_audit_hold): above HIGH percent of the writer's queue
 * the children's channels are not read until it is below LOW; a writer that
 * stays above for STUCK_MS is treated as failing (children deny). */
#define SUP_AUDIT_HIGH_PCT 75
#define SUP_AUDIT_LOW_PCT 50
#define SUP_AUDIT_STUCK_MS 2000

static void sup_kill_child(struct sup *s, struct sup_child *c, const char *why)
{
	if (c->pid > 0) {
		log_error("%s child: %s; stopping it", c->role, why);
		kill(c->pid, SIGKILL);
	}
	sup_set_stop_reason(s, false, "%s child %s", c->role, why);
	if (c->fd >= 0) {
		ev_del_fd(s->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	s->exit_code = 1;
	ev_stop(s->loop);
}

/* A child's IPC_ASK. Without an approvals server (no state dir) the ask is
 * denied at once. Returns -AGW_EPROTO for a bad message. */
static int sup_on_ask(struct sup *s, struct sup_child *c, const uint8_t *buf, size_t len)
{
	struct ipc_ask q;
	int child = sup_kid_index(s, c);

	if (ipc_ask_decode(buf, len, &q))
		return -AGW_EPROTO;
	if ((q.kind == IPC_ASK_FS) != (c == &s->fs))
		return -AGW_EPROTO;
	if (!s->appr) {
		struct ipc_answer ans = {.id = q.id, .scope = IPC_SCOPE_TIMEOUT};
		uint8_t out[64 + IPC_ASK_REASON_MAX];
		size_t n;

		snprintf(ans.reason, sizeof(ans.reason), "approvals unavailable");
		if (!ipc_answer_encode(&ans, out, sizeof(out), &n))
			ipc_send(c->fd, IPC_ASK_ANSWER, out, n, NULL, 0);
		return 0;
	}
	return appr_ask(s->appr, child, &q);
}

/* One audit event from a child: decoded, stamped, handed to the writer.
 * Returns 0 or -AGW_EPROTO (the child is then killed). */
static int sup_child_event(struct sup *s, const uint8_t *buf, size_t len)
{
	if (ipc_event_decode(buf, len, s->ev_buf))
		return -AGW_EPROTO;
	s->ev_buf->ev.sandbox_id = s->sandbox_id;
	if (!s->ev_buf->ev.ts)
		s->ev_buf->ev.ts = agw_now_us();
	sup_submit(s, &s->ev_buf->ev);
	return 0;
}

/* The events of one pass of a child's loop (IPC_AUDIT_BATCH), in order,
 * as if each had come alone: those before a malformed record are kept,
 * like the single messages before a malformed one. Returns 0 or
 * -AGW_EPROTO. */
static int sup_child_batch(struct sup *s, const uint8_t *buf, size_t len)
{
	const uint8_t *rec;
	size_t off = 0, n;
	int r;

	if (len == 0)
		return -AGW_EPROTO;
	while ((r = ipc_batch_next(buf, len, &off, &rec, &n)) > 0)
		if (sup_child_event(s, rec, n))
			return -AGW_EPROTO;
	return r;
}

/*
 * Backpressure: true while the children's channels must not be read
 * because the writer's queue is above SUP_AUDIT_HIGH_PCT (until it is
 * below SUP_AUDIT_LOW_PCT). Their messages then wait in the socket; a
 * full socket makes the net child pause its intake (gateway/net/netd.c)
 * instead of the writer refusing events and every child denying. Not while
 * the writer fails (its refusals are spilled and the children deny, as
 * before), and not for more than SUP_AUDIT_STUCK_MS in a row: a writer
 * that does not drain by then is stuck, the channels are read again, the
 * queue fills and the children are told to deny (sup_submit).
 */
static bool sup_audit_hold(struct sup *s)
{
	int64_t now = ev_now_ms(s->loop);
	unsigned pct;

	if (!s->w || !s->audit_ok) {
		s->hold_since_ms = 0;
		return false;
	}
	pct = aud_writer_fill_pct(s->w);
	if (s->draining) { /* blocking is fine now; spilling is not needed */
		if (pct >= SUP_AUDIT_HIGH_PCT)
			aud_writer_flush(s->w);
		return false;
	}
	if (pct < (s->hold_since_ms ? SUP_AUDIT_LOW_PCT : SUP_AUDIT_HIGH_PCT)) {
		if (s->hold_since_ms > 0)
			log_debug("audit writer caught up after %lld ms: reading the children",
				  (long long)(now - s->hold_since_ms));
		s->hold_since_ms = 0;
		return false;
	}
	if (s->hold_since_ms < 0) /* stuck: read until it drains or fails */
		return false;
	if (!s->hold_since_ms) {
		s->hold_since_ms = now > 0 ? now : 1;
		log_debug("audit writer queue %u%% full: children wait", pct);
	} else if (now - s->hold_since_ms >= SUP_AUDIT_STUCK_MS) {
		log_warn("audit writer has not drained for %d ms: reading the children again, "
			 "they deny once its queue is full",
			 SUP_AUDIT_STUCK_MS);
		s->hold_since_ms = -1;
		return false;
	}
	return true;
}

static void sup_child_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct sup *s = ctx;
	struct sup_child *c = sup_kid_by_fd(s, fd);
	static uint8_t buf[IPC_PAYLOAD_MAX];

	(void)loop;
	(void)events;
	c->held = false;
	for (int i = 0; i < 256; i++) {
		unsigned type;
		size_t len;
		int rc;

		if (sup_audit_hold(s)) {
			c->held = true; /* sup_child_poll looks again */
			return;
		}
		rc = ipc_recv(fd, &type, buf, sizeof(buf), &len, NULL, NULL);

		if (rc == -EAGAIN)
			return;
		if (rc == -EPIPE) {
			ev_del_fd(s->loop, c->fd);
			close(c->fd);
			c->fd = -1;
			log_info("%s child closed its channel", c->role);
			sup_set_stop_reason(s, true, "%s child closed its channel", c->role);
			s->exit_code = 1;
			ev_stop(s->loop);
			return;
		}
		if (rc) {
			sup_kill_child(s, c, "sent a malformed message");
			return;
		}
		c->nrecv++;
		switch (type) {
		case IPC_AUDIT_EVENT:
			if (sup_child_event(s, buf, len)) {
				sup_kill_child(s, c, "sent an invalid audit event");
				return;
			}
			break;
		case IPC_AUDIT_BATCH:
			if (sup_child_batch(s, buf, len)) {
				sup_kill_child(s, c, "sent an invalid audit batch");
				return;
			}
			break;
		case IPC_READY:
			if (len) {
				sup_kill_child(s, c, "sent a bad ready message");
				return;
			}
			c->ready = true;
			log_debug("%s child ready", c->role);
			break;
		case IPC_STATS:
			if (len % 8 || len > IPC_STATS_MAX * 8) {
				sup_kill_child(s, c, "sent bad stats");
				return;
			}
			break;
		case IPC_POLICY_APPLIED:
			if (sup_reload_answer(s, c, buf, len)) {
				sup_kill_child(s, c, "sent an unexpected policy answer");
				return;
			}
			break;
		case IPC_ASK:
			if (sup_on_ask(s, c, buf, len)) {
				sup_kill_child(s, c, "sent a bad approval request");
				return;
			}
			break;
		default:
			sup_kill_child(s, c, "sent an unexpected message type");
			return;
		}
	}
}

static void sup_child_poll(struct ev_loop *loop, uint64_t id, void *ctx);

/*
 * A child's channel became readable. Its messages are already in our
 * socket's queue (the child's events are recorded in the kernel before
 * its actions; see gateway/net/netd.c), so they need not be read the
 * moment they come: after this wake-up the channel is read on a
 * SUP_CHILD_POLL_MS timer for as long as messages keep coming, and
 * watched again once a tick found none. Under load the supervisor wakes
 * some 200 times a second instead of once per message (a new connection
 * sends two or three); an idle sandbox costs no timer. The queue is deep
 * (IPC_SNDBUF): a burst between two ticks does not fill it.
 */
void sup_child_wake(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct sup *s = ctx;
	struct sup_child *c = sup_kid_by_fd(s, fd);

	sup_child_cb(loop, fd, events, s);
	if (c->fd != fd || c->poll_timer)
		return;
	c->poll_timer = ev_timer_add(loop, SUP_CHILD_POLL_MS, sup_child_poll, c);
	if (c->poll_timer)
		ev_mod_fd(loop, fd, 0);
}

static void sup_child_poll(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct sup_child *c = ctx;
	uint64_t before = c->nrecv;

	(void)id;
	c->poll_timer = 0;
	if (c->fd < 0)
		return;
	sup_child_cb(loop, c->fd, EV_READ, c->s);
	if (c->fd < 0)
		return;
	if (c->nrecv != before || c->held)
		c->poll_timer = ev_timer_add(loop, SUP_CHILD_POLL_MS, sup_child_poll, c);
	if (!c->poll_timer)
		ev_mod_fd(loop, c->fd, EV_READ);
}

/* Reads every message c sent (sup_child_cb stops after 256), waiting for
 * the writer when its queue is full instead of holding (sup_audit_hold):
 * a child held back by backpressure may have filled its socket. */
void sup_child_drain(struct sup *s, struct sup_child *c)
{
	uint64_t before;

	s->draining = true;
	do {
		before = c->nrecv;
		sup_child_cb(s->loop, c->fd, EV_READ, s);
	} while (c->fd >= 0 && c->nrecv != before);
	s->draining = false;
}
