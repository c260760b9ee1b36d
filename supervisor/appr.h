/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Approvals: the supervisor's table of actions its children hold for a
 * person (policy verdict ask), the timeout that denies them when nobody
 * answers, and the socket `agentgw approvals|approve|deny` talks to
 * (<state dir>/approvals.sock, 0600, one JSON object per line each way, the
 * peer's uid from SO_PEERCRED). Every answer goes back to the child that
 * asked (IPC_ASK_ANSWER) and is audited: kind dns/net/fs, op "approval",
 * the subject as target, decision allow/deny, rule "approval:<id>", who and
 * scope in reason and detail. `session` and `always` answers also add a
 * rule (through the ops the supervisor gives); pending asks the new policy
 * allows are then answered with the same approval.
 *
 * The table (appr_tab_*) is pure: no I/O, time passed in, unit tested.
 * The server runs on the supervisor's loop and never blocks.
 */
#ifndef AGW_APPR_H
#define AGW_APPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc.h"

#define APPR_MAX 256 /* pending asks per sandbox; more are denied at once */
#define APPR_SOCK "approvals.sock"
#define APPR_LINE_MAX 4096 /* one request line */
#define APPR_CLIENTS_MAX 16
#define APPR_RECENT 64 /* waits a follower can still see after their answer */

/* One pending ask. */
struct appr_item {
	uint32_t id;	  /* public, > 0, unique for the sandbox's life */
	int child;	  /* which child asked (the supervisor's index) */
	struct ipc_ask q; /* as the child sent it */
	int64_t start_ms; /* monotonic */
	int64_t deadline_ms;
};

struct appr_tab {
	struct appr_item v[APPR_MAX];
	size_t n;
	uint32_t next_id;
};

/*
 * Adds an ask; *out points at the new item (valid until the table changes).
 * Returns 0, -AGW_EFULL (APPR_MAX pending), or -AGW_EINVAL when the child
 * already has an open ask with that id.
 */
int appr_tab_add(struct appr_tab *t, int child, const struct ipc_ask *q, int64_t now_ms,
		 int64_t timeout_ms, struct appr_item **out);
/* The item with public id, or NULL. */
struct appr_item *appr_tab_find(struct appr_tab *t, uint32_t id);
/* Removes the item with public id (no-op when absent). */
void appr_tab_del(struct appr_tab *t, uint32_t id);
/* The earliest deadline, or -1 with nothing pending. */
int64_t appr_tab_next_deadline(const struct appr_tab *t);
/* Public ids of items past their deadline at now_ms, oldest first, at most
 * cap of them; returns how many. */
size_t appr_tab_expired(const struct appr_tab *t, int64_t now_ms, uint32_t *ids, size_t cap);

/*
 * The rule a `session` or `always` answer adds for it, as a YAML flow
 * mapping into buf: dns "{ host: NAME }" (ports 80 and 443), connect
 * "{ host: NAME, ports: [PORT] }", fs "{ path: "PATH", access: [...] }".
 * Returns 0, or -AGW_EINVAL when the subject cannot be written as a rule
 * (an fs path with glob characters * ? [ ] { } or a backslash or quote:
 * answer it once instead), -AGW_ETOOBIG.
 */
int appr_rule_yaml(const struct appr_item *it, char *buf, size_t cap);

/* What the supervisor does for the server. */
struct appr_ops {
	void *ctx;
	/* Send a to child; nonzero when it could not. */
	int (*answer)(void *ctx, int child, const struct ipc_answer *a);
	/* Record ev (sandbox id and time filled in by the supervisor). */
	void (*emit)(void *ctx, const struct aud_event *ev);
	/* Add rule (appr_rule_yaml) for it: session (in memory) or always (the
	 * policy file, with comment) and apply it. 0, or negative with msg. */
	int (*add_rule)(void *ctx, const struct appr_item *it, bool always, const char *rule,
			const char *comment, char *msg, size_t cap);
	/* Does the policy now in effect allow it without asking? */
	bool (*allowed)(void *ctx, const struct appr_item *it);
	/* The policy's ask_timeout in seconds. */
	unsigned (*timeout_s)(void *ctx);
};

struct ev_loop;
struct appr;

/*
 * Listens on dir/approvals.sock (removed first if stale; 0600). Returns 0
 * and *out, or -errno / -AGW_ENOMEM. name is the sandbox's (copied).
 */
int appr_new(struct ev_loop *loop, const char *dir, const char *name, const struct appr_ops *ops,
	     struct appr **out);
/* Denies every pending ask ("sandbox stopping"), closes the socket and its
 * clients, unlinks it. NULL-safe. */
void appr_free(struct appr *a);
/*
 * A child's IPC_ASK: adds it and arms the timeout, or (table full) answers
 * deny at once. Returns 0, or -AGW_EPROTO when the child reused an open
 * id (the supervisor then kills it).
 */
int appr_ask(struct appr *a, int child, const struct ipc_ask *q);
/* A child went away: its asks are dropped without an answer. */
void appr_child_gone(struct appr *a, int child);
/* Pending asks, for tests and logs. */
size_t appr_pending(const struct appr *a);

#endif
