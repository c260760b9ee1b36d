/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The net child: one process per sandbox that runs the DNS server (dnss_),
 * the transparent proxy (prx_) and the NFLOG drop reader on one ev loop,
 * with the policy it was given and audit events sent to the supervisor over
 * the IPC socket. It holds no privileges it needs later: the supervisor
 * creates its listening sockets.
 *
 * Policies are reference counted (struct netd_pol): a reload swaps the
 * current one; sessions keep the one they started with.
 */
#ifndef AGW_NETD_H
#define AGW_NETD_H

#include <stdbool.h>
#include <stdint.h>

#include "agw.h"
#include "audit/aud.h"
#include "ev.h"
#include "policies/pol.h"

struct res;
struct dnsb;
struct dnss;
struct prx;
struct hostaddr;
struct tlsi;
struct tlsi_ca;
struct cred_set;
struct ipc_batch;

#define NETD_DNSB_MAX 4096 /* DNS bindings kept */

struct netd_config {
	int ipc_fd;		 /* SOCK_SEQPACKET to the supervisor */
	int dns_udp_fd;		 /* bound UDP socket, or -1 */
	int dns_tcp_fd;		 /* listening TCP socket, or -1 */
	int proxy_fd;		 /* listening TCP socket (transparent port), or -1 */
	int nflog_group;	 /* NFLOG group for drops, or -1 */
	struct pol *pol;	 /* initial policy; netd_run takes ownership */
	const char *policy_path; /* for reload messages */
	const char *drop_user;	 /* once set up: become this user, seccomp (NULL: stay) */
	struct tlsi_ca *ca;	 /* the sandbox CA (NULL: no inspection); netd_run owns it */
	struct cred_set *creds;	 /* credentials (NULL: none); netd_run owns them */
	struct dnsb *dnsb;	  /* DNS bindings shared with the other workers (NULL: own) */
	long *conns;		  /* proxy sessions of all workers, shared memory (NULL: own) */
};

struct netd_pol {
	struct pol *p;
	unsigned refs;
};

enum netd_stat {
	NETD_ST_DNS_QUERIES,
	NETD_ST_DNS_MALFORMED,
	NETD_ST_DNS_DENIED,
	NETD_ST_CONNS,
	NETD_ST_CONNS_DENIED,
	NETD_ST_AUDIT_FULL,
	NETD_ST_DROPS,
	NETD_ST_DROPS_LIMITED,
	NETD_ST_TLS_INSPECTED,
	NETD_ST_CRED_LEAKS,
	NETD_ST_LAST
};

struct netd_ask;
struct netd_grant;

struct netd {
	struct ev_loop *loop;
	struct netd_pol *pol;
	int ipc_fd;
	bool audit_ok; /* the supervisor says the audit writer works */
	struct ipc_batch *batch; /* events of this loop pass (NULL: sent one by one) */
	bool ipc_blocked;	 /* a batch waits for room in the socket: intake paused */
	bool ipc_stuck;		 /* ...for longer than NETD_BLOCK_MS: deny actions */
	uint64_t block_timer;	 /* ends the wait (ipc_stuck) */
	bool batch_urgent;	 /* the batch holds an action's event: send before sleeping */
	uint64_t lazy_timer;	 /* sends a batch of after-the-fact records */
	struct res *res;
	struct dnsb *dnsb;
	struct dnss *dnss;
	struct prx *prx;
	struct hostaddr *hostaddr; /* the gateway's own addresses (NULL: unknown) */
	void *nlog;		   /* the NFLOG reader, when there is one */
	struct tlsi *tlsi;	   /* TLS inspection (NULL: unavailable) */
	struct cred_set *creds;	   /* credentials to inject (NULL: none) */
	long *conns;		   /* open proxy sessions, all workers (network.max_conns) */
	long conns_own;		   /* ...when alone */
	uint64_t stats[NETD_ST_LAST];
	struct netd_ask *asks; /* open asks to the supervisor (netd_ask.c) */
	uint32_t ask_next;
	struct netd_grant *grants; /* approvals that outlived their waiters */
};

/*
 * Runs the net child until the supervisor goes away or sends nothing
 * sensible (then exits its loop). Owns and closes every fd in c. Returns a
 * process exit code. Blocks (it is the child's main).
 */
int netd_run(const struct netd_config *c);

/* Current policy with a reference taken; release with netd_pol_put. */
struct netd_pol *netd_pol_get(struct netd *n);
void netd_pol_put(struct netd_pol *p); /* NULL-safe */

/*
 * Records an event for an action that is about to happen. Returns 0 when it
 * was queued (in this loop pass's batch, sent before the loop sleeps; see
 * netd.c) and the audit path is healthy: the action may proceed.
 * Otherwise (batch and socket full, an earlier batch still waiting for room,
 * supervisor says the writer fails) returns
 * -AGW_EFULL: the caller must deny the action. An event that let the action
 * go ahead is then recorded once, as decision "error" with reason "audit
 * unavailable: action denied" (ev is changed to say so); a deny stays a deny.
 */
int netd_audit_action(struct netd *n, struct aud_event *ev);
/*
 * Like netd_audit_action, for an action the caller can hold until its event
 * left: while the supervisor's socket is full (not longer than
 * NETD_BLOCK_MS) it returns 0 once the event is in the batch, and the
 * caller must not let the action take effect before netd_audit_flush
 * returned 0 (dnss keeps the UDP reply). Never blocks.
 */
int netd_audit_action_held(struct netd *n, struct aud_event *ev);
/* True while actions allowed by netd_audit_action_held must wait. */
bool netd_audit_holding(const struct netd *n);
/* Records an event for something that already happened (close, drop) or
 * was refused (nothing goes ahead: it may reach the supervisor up to 10 ms
 * later, with the next action's). Returns 0 or -AGW_EFULL; nothing to
 * deny. */
int netd_audit(struct netd *n, const struct aud_event *ev);

/*
 * Asking a person (netd_ask.c). An action whose verdict is POL_ASK is held
 * and netd_ask_start sends the supervisor an IPC_ASK, or joins the open ask
 * for the same kind, subject and port (a retry, A and AAAA of one name), so
 * a person sees it once. cb is called exactly once with the answer, unless
 * the waiter is cancelled first; it may cancel nothing and start nothing
 * during the call. Returns the waiter, or NULL (no memory, the supervisor
 * cannot be told): the caller denies at once. Never blocks.
 */
struct ipc_answer;
struct netd_waiter;
typedef void netd_ask_cb(void *ctx, const struct ipc_answer *a);
struct netd_waiter *netd_ask_start(struct netd *n, unsigned kind, const char *subject,
				   uint16_t port, const char *rule, netd_ask_cb *cb, void *ctx);
/* Forget a waiter (its action went away); the ask stays open in the
 * supervisor. NULL-safe. */
void netd_ask_cancel(struct netd *n, struct netd_waiter *w);
/* The supervisor's IPC_ASK_ANSWER. Returns 0 or -AGW_EPROTO (bad message;
 * an unknown id is ignored: its waiters are gone). An allowing answer whose
 * waiters all went away (a DNS query answered SERVFAIL while it waited)
 * becomes a grant: the same kind and subject are allowed once more within
 * NETD_GRANT_MS (the client's retry). */
#define NETD_GRANT_MS 30000
int netd_ask_answer(struct netd *n, const uint8_t *buf, size_t len);
/* Takes a grant for kind/subject/port if one is there: 0 and *a (the
 * approval that gave it), or -AGW_ENOTFOUND. */
int netd_ask_grant_take(struct netd *n, unsigned kind, const char *subject, uint16_t port,
			struct ipc_answer *a);
/* Drops every ask and grant (at exit; waiters are not called). */
void netd_ask_free_all(struct netd *n);

/* Hands this pass's batch of events to the supervisor's socket now (it
 * goes by itself before the loop sleeps; call this before a reply that
 * must not leave ahead of its event). Returns 0, or -errno: the batch is
 * kept and new actions are denied until it is sent. */
int netd_audit_flush(struct netd *n);

/* An aud_event with counts unset (-1) and the wall-clock time. */
void netd_event_init(struct aud_event *ev, const char *kind, const char *op);

#endif
