/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The per-sandbox supervisor: the one privileged process. Given a policy
 * and the sandbox's interface (a veth for `agentgw gateway`, a tap for
 * `agentgw up`), it installs the nftables table (fw_), creates the
 * gateway's listening sockets, forks the net child (netd_) and, when the
 * policy has a filesystem section, the fs child (fsd_), owns the audit
 * writer and relays the children's events into it, tells the children when
 * the audit path fails (they then deny new actions), re-reads the policy on
 * SIGHUP, and tears everything down on SIGINT/SIGTERM or a child's death.
 * Its state directory /run/agentgw/<name>/ holds `pid` and `policy` (the
 * policy file's absolute path) for `agentgw policy reload <name>`, and
 * approvals.sock, where `agentgw approvals|approve|deny` answer the
 * actions the children hold for a person (supervisor/appr.h).
 *
 * Usage: sup_new() (blocks briefly: netlink, SQLite open), then sup_run()
 * (blocks until stopped; callers such as `up` may add their own fds and
 * timers to sup_loop() first), then sup_free().
 */
#ifndef AGW_SUP_H
#define AGW_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "agw.h"
#include "ev.h"
#include "policies/pol.h"

#define SUP_RUN_DIR "/run/agentgw"
#define SUP_DNS_PORT 53
#define SUP_PROXY_PORT 15001
#define SUP_P9_PORT 564
#define SUP_NET_MAX 8	       /* net workers per sandbox */
#define SUP_NET_WORKERS_AUTO 4 /* ...by default: one per CPU up to this */

struct sup_config {
	const char *name;	   /* sandbox name, [a-z0-9_-]{1,32} */
	const char *iface;	   /* the sandbox interface; must have an IPv4 address */
	const char *policy_path;   /* for reloads and the state dir */
	struct pol *pol;	   /* loaded policy; sup_new takes ownership (also on error) */
	const char *audit_db;	   /* NULL: policy audit.database, else the default */
	const char *image;	   /* recorded in the sandbox row; may be NULL */
	struct in_addr guest_addr; /* INADDR_ANY: the other host of a /30 */
	uint16_t dns_port;	   /* 0: SUP_DNS_PORT */
	uint16_t proxy_port;	   /* 0: SUP_PROXY_PORT */
	uint16_t p9_port;	   /* 0: SUP_P9_PORT (used only with a filesystem section) */
	int nflog_group;	   /* < 0: derived from the name */
	/* Net workers, processes with their own event loop sharing the proxy
	 * listener (the first also serves DNS), at most SUP_NET_MAX; 0: one
	 * per online CPU, at most SUP_NET_WORKERS_AUTO. */
	unsigned net_workers;
	bool no_fs;		   /* do not start the fs child */
	/* Serve the workspace over virtio-fs on this unix socket path (the
	 * supervisor binds it; QEMU's vhost-user-fs-device connects) instead
	 * of 9P over TCP. NULL: 9P. */
	const char *vfs_sock;
};

struct sup;

/*
 * Sets everything up and starts the children. Returns 0 and *out, or a
 * negative code with a one-line reason in err[errcap] (everything started
 * so far is torn down again).
 */
int sup_new(const struct sup_config *c, struct sup **out, char *err, size_t errcap);

/*
 * The guest folder (issue 14), written before sup_new returns:
 * <run dir>/<name>/guest/ with ca.pem (the sandbox CA certificate, 0644)
 * and env (one NAME=PLACEHOLDER line per credential, 0644); <run dir> is
 * $AGENTGW_RUN_DIR when absolute, else SUP_RUN_DIR. Removed by sup_free.
 * Owned by s.
 */
const char *sup_guest_dir(const struct sup *s);

/* The supervisor's loop (for callers that add their own work). */
struct ev_loop *sup_loop(struct sup *s);
/*
 * Submit an event for this sandbox to the audit writer (sandbox_id is set
 * here, ts when 0). Returns 0 or -AGW_EFULL like aud_writer_submit().
 */
struct aud_event;
int sup_emit(struct sup *s, const struct aud_event *ev);
/* The sandbox row id in the audit database. */
int64_t sup_sandbox_id(const struct sup *s);
/*
 * Feed this sandbox's denials, one JSON line each, into fd (a pipe to the
 * VM runner, which forwards them to the guest's /run/agentgw/denials; see
 * supervisor/dfeed.h). Takes fd; -1 turns the feed off. Never blocks.
 */
void sup_set_denials_fd(struct sup *s, int fd);

/*
 * Runs until SIGINT/SIGTERM (returns 0), a child dies or misbehaves
 * (returns 1), or sup_stop(). Blocks.
 */
int sup_run(struct sup *s);
void sup_stop(struct sup *s);
/* Stops because something failed (e.g. `up`'s VM runner died): reason
 * (copied) becomes the stop reason below unless one is already known, and
 * sup_run returns 1. */
void sup_fail(struct sup *s, const char *reason);
/*
 * Why the sandbox stopped when it stopped abnormally (which child, killed
 * by which signal or exited with which status, or what it sent), else
 * NULL (a normal stop). Complete once sup_run returned; sup_free records
 * it as the lifecycle/stop row's reason (decision "error") and logs it on
 * stderr. Owned by s.
 */
const char *sup_stop_reason(const struct sup *s);
/*
 * Why a normal stop happened (e.g. "interrupted" for ^C on `up`): the
 * reason of the lifecycle/stop row (decision allow) when no failure gave
 * one. Copied (up to 63 bytes).
 */
void sup_set_stop_note(struct sup *s, const char *note);

/*
 * Re-reads the policy file: on errors logs each one, records a policy/reload
 * error event and keeps the old policy (returns -AGW_EPOLICY); otherwise
 * sends it to the children. The policy/reload allow row is recorded only
 * when every child has answered that it applied exactly that policy; a
 * refusal, a failed send or no answer within SUP_RELOAD_ACK_MS makes it an
 * error row with the reason. With 16 reloads still unanswered a new one is
 * refused (error row, -AGW_EFULL). Blocks on the file read.
 */
int sup_reload(struct sup *s);

/* Stops the children, removes the nftables table and state dir, closes the
 * sandbox row and flushes the audit database. NULL-safe. Blocks (waits for
 * the children, up to a few seconds). */
void sup_free(struct sup *s);

#endif
