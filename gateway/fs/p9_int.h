/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by p9_srv.c (connections, buffers, fids, audit),
 * p9_path.c (path resolution helpers), p9_ops.c (session and I/O
 * operations, dispatch) and p9_meta.c (metadata operations). Not for other
 * modules.
 */
#ifndef AGW_P9_INT_H
#define AGW_P9_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "gateway/fs/p9_msg.h"
#include "gateway/fs/p9_srv.h"
#include "policies/pol.h"

#define IPC_GRANT_WHY_MAX 160

#define P9_FID_BUCKETS 4096u
#define P9_PATH_MAX 4096u
#define P9_NAME_MAX 255u
/* A handler's return when the operation waits for a person (not an errno):
 * the request is held (p9_srv.c) and dispatched again once approved. */
#define P9_EASK 100000
#define P9_HELD_MAX 16 /* requests one connection may hold */

/* A request held for a person. */
struct p9_held {
	uint32_t id;
	uint16_t tag;
	char op[16];
	char *path; /* shown form */
	unsigned acc;
	uint8_t *msg;
	size_t len;
};

struct p9_fid {
	uint32_t num;
	struct p9_fid *next; /* hash chain */
	char *path;	     /* workspace-relative, normalised; "" is the root */
	int fd;		     /* open file or directory, -1 until lopen/lcreate */
	unsigned acc;	     /* POL_ACC_* the open was checked for */
	bool isdir;
	bool append; /* opened O_APPEND: writes go to the end (quota) */
	enum pol_verdict verdict; /* of the open */
	char rule[48];
	uint64_t rd, wr;
	int64_t t_open;
};

struct p9_srv {
	int root_fd;
	const struct pol *pol;
	p9_emit_fn *emit;
	void *emit_ctx;
	p9_audit_ok_fn *audit_ok;
	int64_t sandbox_id;
	uid_t owner_uid;
	gid_t owner_gid;
	uint32_t max_msize;
	unsigned max_fids;
	p9_ask_fn *ask;
	void *ask_ctx;
	bool emit_broken; /* last emit failed: deny until one succeeds */
	uint64_t q_bytes, q_files; /* workspace usage (p9_quota.c) */
	struct p9_conn *conns;
	struct p9_srv_stats st;
};

struct p9_conn {
	struct p9_srv *srv;
	struct p9_conn *prev, *next;
	char peer[80];
	uint32_t msize, new_msize;
	bool versioned;
	struct p9_fid *fids[P9_FID_BUCKETS];
	unsigned nfids;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	uint8_t *scratch; /* msize bytes: read data, readdir entries */
	struct p9_held held[P9_HELD_MAX];
	unsigned nheld;
	/* p9_check's question when it returned P9_EASK */
	char ask_op[16], ask_rule[48];
	char *ask_path;
	unsigned ask_acc;
	/* While a held request runs again: what the person approved. */
	const struct p9_held *grant;
	char grant_rule[32], grant_why[IPC_GRANT_WHY_MAX];
	unsigned max_fids; /* 0: the server's */
	bool no_hold;	   /* an ask is a deny here (p9_conn_local: nothing can wait) */
};

/* Tflush of a held request: drop it (no reply to it). */
void p9_held_flush(struct p9_conn *c, uint16_t oldtag);

/*
 * An in-process connection for another transport (the virtio-fs FUSE server,
 * fuse_srv.c): already versioned at msize, no wire. Requests go through
 * p9_conn_call, so every policy check and audit row is the 9P server's.
 * Requests are answered at once: a verdict of ask is a deny here (no
 * request is held for a person). Returns 0 and *out or -AGW_ENOMEM; free
 * with p9_conn_free.
 */
int p9_conn_local(struct p9_srv *s, const char *peer, uint32_t msize, unsigned max_fids,
		  struct p9_conn **out);
/*
 * Handle one decoded request on c. Returns 0 (r filled; its data may point
 * into c->scratch until the next call), a positive errno, or a negative code
 * (the 9P server would close the connection; already counted).
 */
int p9_conn_call(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);

/* fids (p9_srv.c) */
struct p9_fid *p9_fid_get(struct p9_conn *c, uint32_t num);
/* New fid with path (copied). Returns 0, EBADF (in use), EMFILE (too many), ENOMEM. */
int p9_fid_add(struct p9_conn *c, uint32_t num, const char *path, struct p9_fid **out);
/* Emits the open summary (if opened), closes, frees. */
void p9_fid_clunk(struct p9_conn *c, uint32_t num);
/* Every fid of every connection under from (or equal) now lives under to. */
void p9_fids_renamed(struct p9_srv *s, const char *from, const char *to);

/* audit (p9_srv.c). Returns 0 or EACCES when the event could not be queued. */
int p9_emit(struct p9_conn *c, const char *op, const char *target, const char *decision,
	    const char *rule, const char *reason, int64_t up, int64_t down, int64_t dur,
	    const char *detail);
/*
 * The event of an action about to go ahead (decision d: allow or
 * would_deny). Returns 0 when queued; EACCES when the sink is failing (the
 * event is then sent as "error", "audit unavailable: action denied") or
 * refuses it (then an "error" event follows, best effort): the action must
 * not happen, and no row says it was allowed.
 */
int p9_gate(struct p9_conn *c, const char *op, const char *target, const struct pol_decision *d,
	    const char *detail);
/*
 * Policy check of path for acc, for operation op. Denied: emits the deny
 * event, returns EACCES. would_deny: emits it when emit_would (for operations
 * not otherwise audited), returns 0. Allowed: returns 0, or EACCES while the
 * audit sink is failing (an "error" event says so). d is filled.
 */
int p9_check(struct p9_conn *c, const char *op, const char *path, unsigned acc, bool emit_would,
	     struct pol_decision *d);
/*
 * The same for a rename or link (pol_check_fs_move): a deny event names the
 * step that failed (its path, access and the other path in detail).
 */
int p9_check_move(struct p9_conn *c, const char *op, const struct pol_fs_move *mv,
		  struct pol_decision *d);
/*
 * Writing a regular file that has other hard links (st_nlink > 1): allowed
 * only as pol_check_fs_linked_write says; a deny event otherwise (EACCES),
 * a would_deny event in audit mode. 0 when acc has no write or st is not a
 * multiply linked regular file.
 */
int p9_check_nlink(struct p9_conn *c, const char *op, const char *path, const struct stat *st,
		   unsigned acc);
/* A refused operation that no rule decided (bad name, chown to another
 * owner): a deny event for target with reason and detail, returns err. */
int p9_refuse(struct p9_conn *c, const char *op, const char *target, const char *reason,
	      const char *detail, int err);
/* "." for the root, else path. */
const char *p9_shown(const char *path);

/* paths (p9_path.c). Functions returning int give 0 or a positive errno. */

/* A name inside a directory, the directory opened O_PATH. */
struct p9_loc {
	int dirfd;
	char base[P9_NAME_MAX + 1];
};

/* openat2 beneath dirfd, never following any symlink; "" is dirfd itself.
 * Returns the fd or -errno. */
int p9_ws_open(int dirfd, const char *path, int flags, mode_t mode);
/* A failed resolution: ELOOP/EXDEV are audited denials (EACCES). */
int p9_ws_err(struct p9_conn *c, const char *op, const char *path, int err);
/* lstat of a workspace path. */
int p9_ws_stat(struct p9_conn *c, const char *op, const char *path, struct stat *st);
/* Open path's parent (the root for "" gives base "."); close with p9_loc_close. */
int p9_loc_open(struct p9_conn *c, const char *op, const char *path, struct p9_loc *l);
void p9_loc_close(struct p9_loc *l);
/* One path component from the client into out; invalid ones are audited. */
int p9_name_get(struct p9_conn *c, const char *op, const char *dir, struct p9_str n,
		char out[P9_NAME_MAX + 1]);
int p9_join(char out[P9_PATH_MAX], const char *dir, const char *name);
/* Directory fid + client name -> base name and full path. */
int p9_child_path(struct p9_conn *c, const char *op, uint32_t dfid, struct p9_str name,
		  char base[P9_NAME_MAX + 1], char path[P9_PATH_MAX]);
void p9_qid_of(const struct stat *st, struct p9_qid *q);
/* {"key":"escaped s"} into out ({} if it does not fit). */
void p9_json_str(char *out, size_t cap, const char *key, const char *s);
/* Give dirfd/name to the workspace owner when it is not theirs. */
void p9_own(struct p9_srv *s, int dirfd, const char *name);

/* ---- p9_quota.c ---- */

/* Count the workspace's bytes and entries once (bounded walk; blocks). */
void p9_quota_init(struct p9_srv *s);
/* May the workspace grow by more_bytes and more_files? 0, or ENOSPC after a
 * deny event "workspace quota" for op on path. */
int p9_quota_check(struct p9_conn *c, const char *op, const char *path, uint64_t more_bytes,
		   uint64_t more_files);
/* Follow a change that happened (negative: shrink; clamps at 0). */
void p9_quota_add(struct p9_srv *s, int64_t bytes, int64_t files);
/* Queue the event of a permitted action before it runs (EACCES if not queued). */
int p9_act(struct p9_conn *c, const char *op, const char *path, const struct pol_decision *d,
	   const char *detail);
/* The action failed after its event: record an error event, return err. */
int p9_act_failed(struct p9_conn *c, const char *op, const char *path, int err);

/* operations: return 0 (r filled), a positive errno (Rlerror), or a
 * negative code (close the connection). p9_ops.c: session, I/O, dispatch. */
int p9_op_dispatch(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
/* p9_meta.c */
int p9_op_getattr(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_setattr(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_statfs(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_readlink(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_mkdir(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_symlink(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_link(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_remove(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_unlinkat(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_rename(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_renameat(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_mknod(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);
int p9_op_lock(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r);

#endif
