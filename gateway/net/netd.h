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

struct netd_config {
	int ipc_fd;		 /* SOCK_SEQPACKET to the supervisor */
	int dns_udp_fd;		 /* bound UDP socket, or -1 */
	int dns_tcp_fd;		 /* listening TCP socket, or -1 */
	int proxy_fd;		 /* listening TCP socket (transparent port), or -1 */
	int nflog_group;	 /* NFLOG group for drops, or -1 */
	struct pol *pol;	 /* initial policy; netd_run takes ownership */
	const char *policy_path; /* for reload messages */
	const char *drop_user;	 /* once set up: become this user, seccomp (NULL: stay) */
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
	NETD_ST_LAST
};

struct netd {
	struct ev_loop *loop;
	struct netd_pol *pol;
	int ipc_fd;
	bool audit_ok; /* the supervisor says the audit writer works */
	struct res *res;
	struct dnsb *dnsb;
	struct dnss *dnss;
	struct prx *prx;
	struct hostaddr *hostaddr; /* the gateway's own addresses (NULL: unknown) */
	void *nlog;		   /* the NFLOG reader, when there is one */
	uint64_t stats[NETD_ST_LAST];
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
 * was queued and the audit path is healthy: the action may proceed.
 * Otherwise (socket full, supervisor says the writer fails) returns
 * -AGW_EFULL: the caller must deny the action. An event that let the action
 * go ahead is then recorded once, as decision "error" with reason "audit
 * unavailable: action denied" (ev is changed to say so); a deny stays a deny.
 */
int netd_audit_action(struct netd *n, struct aud_event *ev);
/* Records an event for something that already happened (close, drop).
 * Returns 0 or -AGW_EFULL; nothing to deny. */
int netd_audit(struct netd *n, const struct aud_event *ev);

/* An aud_event with counts unset (-1) and the wall-clock time. */
void netd_event_init(struct aud_event *ev, const char *kind, const char *op);

#endif
