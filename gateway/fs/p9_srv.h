/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The 9P2000.L server core, without any socket or event loop: a p9_srv holds
 * the export root (an O_PATH directory fd), the policy and the audit emit
 * callback; a p9_conn is one client connection that takes bytes in and
 * queues reply bytes out. Every path from the client is resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)
 * from the root fd, by the fid's workspace-relative path, on every
 * operation; every operation is checked with pol_check_fs() and audited
 * through the emit callback (see docs/fs.md for the mapping). All calls are
 * synchronous and single-threaded; file system calls may block on disk.
 */
#ifndef AGW_P9_SRV_H
#define AGW_P9_SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Fids per connection by default. The Linux client holds one fid per cached
 * dentry, so a `find` over a large tree needs many; each costs ~100 bytes.
 */
#define P9_FIDS_DEFAULT 65536u

struct aud_event;
struct pol;
struct p9_srv;
struct p9_conn;

/*
 * Audit sink: queue ev (copy what you keep; strings live only for the call).
 * Return 0, or a negative code when the event cannot be queued: the server
 * then fails closed and answers the operation with EACCES.
 */
typedef int p9_emit_fn(void *ctx, const struct aud_event *ev);
/*
 * Optional: is the audit sink healthy now (events are being written)? While
 * it says no, an action that would go ahead is refused and its event is
 * sent as decision "error" ("audit unavailable: action denied"), never as
 * an allow. Without it the server relies on the emit results alone.
 */
typedef bool p9_audit_ok_fn(void *ctx);

/*
 * Optional: ask a person about an operation whose verdict is POL_ASK (path
 * workspace-relative as shown in the audit, acc the POL_ACC_* bits, rule
 * the ask: true rule or ""). Set *id to an id unique among the open asks
 * and return 0 when the question went out: the request is then held (the
 * connection goes on with other requests) until p9_conn_answer. A negative
 * return denies the operation at once. Without it an ask is a deny.
 */
typedef int p9_ask_fn(void *ctx, uint32_t *id, const char *path, unsigned acc, const char *rule);

struct p9_srv_config {
	int root_fd;	       /* O_PATH|O_DIRECTORY fd of the workspace; borrowed */
	const struct pol *pol; /* borrowed; see p9_srv_set_policy */
	p9_emit_fn *emit;
	void *emit_ctx;		  /* also passed to audit_ok */
	p9_audit_ok_fn *audit_ok; /* may be NULL */
	int64_t sandbox_id;	  /* copied into every event */
	uid_t owner_uid;	  /* new files are chowned to these when they differ */
	gid_t owner_gid;
	uint32_t max_msize; /* 0: P9_MSIZE_MAX; clamped to [P9_MSIZE_MIN, P9_MSIZE_MAX] */
	unsigned max_fids;  /* per connection; 0: P9_FIDS_DEFAULT */
	p9_ask_fn *ask;	    /* may be NULL */
	void *ask_ctx;
};

/* Counters for tests and logs. */
struct p9_srv_stats {
	uint64_t requests, errors, denials, proto_errors, emit_failures;
};

/* New server. Returns 0 and *out, or -AGW_EINVAL / -AGW_ENOMEM. */
int p9_srv_new(const struct p9_srv_config *cfg, struct p9_srv **out);
/* Frees the server; its connections must be freed first. NULL-safe. */
void p9_srv_free(struct p9_srv *s);
/* Swap the policy (borrowed). New checks use it at once; files already open
 * keep the access they were opened with. */
void p9_srv_set_policy(struct p9_srv *s, const struct pol *p);
void p9_srv_get_stats(const struct p9_srv *s, struct p9_srv_stats *st);

/*
 * Emit one fs event outside a connection (e.g. a refused peer): op, target,
 * decision ("allow" "deny" "error"), reason and src may be NULL except op and
 * decision. Returns the emit callback's result.
 */
int p9_srv_event(struct p9_srv *s, const char *op, const char *target, const char *decision,
		 const char *reason, const char *src);

/* New connection from peer (text, e.g. "10.0.0.2:40000"; copied). Returns 0
 * and *out, or -AGW_ENOMEM. */
int p9_conn_new(struct p9_srv *s, const char *peer, struct p9_conn **out);
/* Clunks every fid (emitting their summary events) and frees. NULL-safe. */
void p9_conn_free(struct p9_conn *c);

/*
 * Feed received bytes (at most p9_conn_room() of them) and handle every
 * complete request while the reply backlog allows. Returns 0, or a negative
 * code when the connection must be closed (malformed message: -AGW_EPROTO,
 * already audited; more bytes than room: -AGW_ETOOBIG).
 */
int p9_conn_input(struct p9_conn *c, const uint8_t *buf, size_t len);
/* Handle requests still buffered (call after output drained). Same returns. */
int p9_conn_process(struct p9_conn *c);
/* Bytes the connection can take now; 0 while replies are backed up. */
size_t p9_conn_room(const struct p9_conn *c);
/*
 * The answer to an ask of c's (p9_ask_fn): allowed, the held request runs
 * again and goes ahead as far as that path and access go, its rows under
 * rule approval:<approval> with reason why; denied, it fails with EACCES
 * and a deny row (rule approval:<approval>, reason why). Returns 1 when c
 * held that id (replies may be queued: flush them), 0 when not (a flushed
 * or unknown id), or a negative code when the connection must close.
 */
int p9_conn_answer(struct p9_conn *c, uint32_t id, bool allow, uint32_t approval, const char *why);
/* Requests c holds for a person. */
unsigned p9_conn_held(const struct p9_conn *c);
/* Queued reply bytes (pointer valid until the next call on c). */
const uint8_t *p9_conn_output(const struct p9_conn *c, size_t *len);
/* Mark n queued bytes as sent. */
void p9_conn_consume(struct p9_conn *c, size_t n);

#endif
