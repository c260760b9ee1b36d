/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inside the supervisor, shared by its files: sup.c is the core (helpers,
 * forking the net child, signals and timers, the state directory, the
 * lifecycle), sup_chan.c reads the children's channels, sup_fs.c the fs
 * child's side of its channel (forked from the supervisor, it runs
 * fsd_run), sup_reload.c policy reloads and the children's answers to
 * them, and sup_appr.c the glue between the approvals server (appr.h) and
 * the supervisor. Nothing here is used outside supervisor/sup*.c.
 * Everything runs on the supervisor's loop, except sup_fork_fs's child.
 */
#ifndef AGW_SUP_INT_H
#define AGW_SUP_INT_H

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sup.h"
#include "supervisor/supguest.h"
#include "vmctl/fw.h"

#define SUP_KIDS_MAX (SUP_NET_MAX + 1) /* the net workers, then the fs child */
#define SUP_RELOADS_PENDING 16 /* reloads sent and not yet answered by every child */
#define SUP_RELOAD_FILE "reload"

struct appr_item;
struct aud_event;
struct ipc_answer;

struct sup_child {
	struct sup *s;
	const char *role;
	pid_t pid;
	int fd; /* our end of the socketpair */
	bool ready;
	uint64_t nrecv;	     /* messages received */
	uint64_t poll_timer; /* reading on a timer (see sup_child_wake) */
	bool held;	     /* not read: the writer's queue is too full */
};

/* A reload sent to the children: recorded as applied once each child it
 * went to answered that it applied exactly this policy (IPC_POLICY_APPLIED;
 * children answer updates in order), as an error on a refusal or after
 * SUP_RELOAD_ACK_MS without an answer. */
struct sup_reload_wait {
	char sha[65];
	char detail[256];
	bool expect[SUP_KIDS_MAX], answered[SUP_KIDS_MAX]; /* sup_kid_index */
	bool recorded;		     /* its row is written (an error) */
	int64_t deadline_ms;
};

struct sup {
	struct ev_loop *loop;
	char name[FW_NAME_MAX + 1];
	char iface[IF_NAMESIZE];
	char policy_path[PATH_MAX];
	char basedir[PATH_MAX];
	char state_dir[PATH_MAX];
	struct pol *pol;
	struct aud_writer *w;
	int64_t sandbox_id;
	struct in_addr gw_addr, guest_addr;
	uint16_t dns_port, proxy_port, p9_port;
	int nflog_group;
	bool fw_applied;
	bool audit_ok;
	int64_t hold_since_ms; /* children not read since (0: reading, -1: stuck) */
	bool draining;	       /* stopping: read all, wait for the writer instead */
	int exit_code;
	struct sup_child net[SUP_NET_MAX], fs; /* net[0] serves DNS */
	size_t nnet;			       /* net workers started (1 until then) */
	uint64_t health_timer;
	struct ipc_event *ev_buf;
	struct spill *spill; /* events the writer refused, oldest first */
	uint64_t lost;	     /* events neither the writer nor the spill took */
	struct sup_reload_wait waits[SUP_RELOADS_PENDING];
	size_t nwaits;
	unsigned reload_seq;   /* outcomes written to <state dir>/reload */
	char stop_reason[192]; /* why the sandbox stopped abnormally ("" if it did not) */
	bool stop_weak;	       /* only "closed its channel" so far: an exit status says more */
	bool stopping;	       /* asked to stop: children going away now is no failure */
	char stop_note[64];     /* why a normal stop happened ("interrupted"), or "" */
	struct appr *appr;	/* pending approvals and their socket (NULL: none) */
	struct sup_session_rule *session; /* rules `approve ... session` added, in order */
	size_t nsession;
	struct dfeed *dfeed; /* the guest's denials feed, or NULL */
	struct supguest guest; /* CA and credentials until the net child has them */
};

/* A rule added for the sandbox's life: appended to the file's policy on
 * every (re)load, never written to the file. */
struct sup_session_rule {
	bool fs;
	char *rule, *comment;
};

/* sup.c: the core. */

/* Records a supervisor event (lifecycle, policy, ...) for this sandbox
 * like sup_emit; nothing before the audit writer exists. The strings are
 * copied. Blocks only when the event goes to the spill file. */
void sup_event(struct sup *s, const char *kind, const char *op, const char *target,
	       const char *decision, const char *reason, const char *detail);
/* Forks child c with a socketpair to it (see sup.c): returns 0 in the
 * child (its end in *fd, every fd closed but stdio and keep[nkeep]), 1 in
 * the supervisor (pid and fd recorded in c), or -errno. */
int sup_spawn(struct sup_child *c, int *fd, const int *keep, size_t nkeep);
/* Writes text to dir/name (created 0644 or truncated); a failure is only
 * logged. Blocks. */
void sup_write_file(const char *dir, const char *name, const char *text);
/* Hands ev to the audit writer; when it refuses, the children are told to
 * deny and ev goes to the spill file (see sup.c). ev is copied. Returns 0,
 * or -AGW_EFULL when ev is lost. Blocks only when ev goes to the spill
 * file. */
int sup_submit(struct sup *s, const struct aud_event *ev);
/* Records (printf-style) why the sandbox stops, unless a reason is already
 * recorded; a precise reason (weak false) replaces a weak one. */
void sup_set_stop_reason(struct sup *s, bool weak, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sup_chan.c: the children's channels. */

/* The ev_add_fd callback of a child's channel fd (ctx is the struct sup):
 * reads its messages, then keeps reading on a timer while more come. A
 * child that sends anything unexpected is killed and the loop stopped.
 * Holds back while the audit writer's queue is high. Blocks only when an
 * event goes to the spill file. */
void sup_child_wake(struct ev_loop *loop, int fd, unsigned events, void *ctx);
/* Reads every message child c sent (c->fd open), waiting for the audit
 * writer when its queue is full instead of holding back; for a child
 * that is stopping. Blocks on the writer. */
void sup_child_drain(struct sup *s, struct sup_child *c);

/* sup_fs.c: the fs child. */

/* Forks the fs child serving s->pol on the 9P listener lfd or the
 * vhost-user listener vfd (the other one -1). Returns 0 (the child is
 * s->fs) or -errno; the child itself never returns (it exits when fsd_run
 * ends). The caller keeps lfd and vfd. */
int sup_fork_fs(struct sup *s, int lfd, int vfd);

/* sup_reload.c: policy reloads (sup_reload is in sup.h). */

/* A child's IPC_POLICY_APPLIED: answers its oldest unanswered reload.
 * Returns 0, or -AGW_EPROTO when malformed or nothing waits for it (the
 * child is then killed). */
int sup_reload_answer(struct sup *s, const struct sup_child *c, const uint8_t *buf, size_t len);
/* Records the reloads past SUP_RELOAD_ACK_MS without every answer as
 * error rows (called by the health timer). */
void sup_reload_overdue(struct sup *s);

/* sup_appr.c: the appr_ops of the approvals server (appr.h); ctx is the
 * struct sup. */

/* Sends answer a to the child (0 net, 1 fs). Returns 0, -EPIPE when that
 * child is gone, or the send's error. */
int sup_appr_answer(void *ctx, int child, const struct ipc_answer *a);
/* Records ev like sup_emit. */
void sup_appr_emit(void *ctx, const struct aud_event *ev);
/* The policy's ask timeout in seconds. */
unsigned sup_appr_timeout(void *ctx);
/* Does the current policy allow what it asks now (no person needed)? */
bool sup_appr_allowed(void *ctx, const struct appr_item *it);
/* Adds rule (with comment) for it: written to the policy file (always) or
 * kept for the sandbox's life, then reloaded. Returns 0, or a negative
 * code with the reason in msg[cap]. Blocks on the policy file. */
int sup_appr_add_rule(void *ctx, const struct appr_item *it, bool always, const char *rule,
		      const char *comment, char *msg, size_t cap);

/* The children, net workers first, then the fs child: fills cs (room for
 * SUP_KIDS_MAX) and returns the count. */
static inline size_t sup_kids(struct sup *s, struct sup_child **cs)
{
	size_t k = 0;

	for (size_t i = 0; i < s->nnet; i++)
		cs[k++] = &s->net[i];
	cs[k++] = &s->fs;
	return k;
}

/* c's index: its approvals' child number and its reload slot (net worker
 * i is i, the fs child SUP_NET_MAX). */
static inline int sup_kid_index(const struct sup *s, const struct sup_child *c)
{
	return c == &s->fs ? SUP_NET_MAX : (int)(c - s->net);
}

/* The child of index i (sup_kid_index), or NULL. */
static inline struct sup_child *sup_kid(struct sup *s, int i)
{
	if (i == SUP_NET_MAX)
		return &s->fs;
	return i >= 0 && (size_t)i < s->nnet ? &s->net[i] : NULL;
}

/* The child whose channel is fd. */
static inline struct sup_child *sup_kid_by_fd(struct sup *s, int fd)
{
	for (size_t i = 0; i < s->nnet; i++)
		if (s->net[i].fd == fd)
			return &s->net[i];
	return &s->fs;
}

#endif
