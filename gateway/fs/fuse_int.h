/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by fuse_srv.c (nodes, handles, lookups, dispatch) and
 * fuse_ops.c (one function per FUSE operation). Not for other modules.
 */
#ifndef AGW_FUSE_INT_H
#define AGW_FUSE_INT_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/fs/fuse_msg.h"
#include "gateway/fs/fuse_srv.h"
#include "gateway/fs/p9_int.h"

#define FUSE_SRV_BUCKETS 65536u
#define FUSE_SRV_MAX_NODES (1u << 20)
#define FUSE_SRV_MSIZE P9_MSIZE_MAX

struct fuse_node {
	uint32_t fid; /* the node id too */
	uint64_t nlookup;
	struct fuse_node *id_next, *path_next;
	bool hashed;
	uint32_t phash;
	/* the host file as the last open saw it (page cache kept while equal) */
	bool seen;
	uint64_t mt_s, mt_ns, ct_s, ct_ns, size;
};

struct fuse_srv {
	struct p9_conn *c;
	struct fuse_node *by_id[FUSE_SRV_BUCKETS], *by_path[FUSE_SRV_BUCKETS];
	uint32_t next_fid;
	uint32_t minor;
	bool inited;
	uint64_t ops_every; /* $AGENTGW_FUSE_OPS: log the counts every N requests (0: never) */
	struct fuse_srv_stats st;
};

/* A reply under construction: the body after the out header. */
struct fuse_out {
	uint8_t *buf;
	size_t cap, len; /* len counts the header */
	bool overflow;
};

/* fuse_srv.c. Functions returning int give 0 or a positive errno. */

/* n zeroed bytes at the end of the reply, or NULL (o->overflow set). */
void *fuse_put(struct fuse_out *o, size_t n);
/* The workspace path of a fid of the server's connection, or NULL. */
const char *fuse_fid_path(struct fuse_srv *f, uint32_t fid);
struct fuse_node *fuse_node_get(struct fuse_srv *f, uint64_t id);
struct fuse_node *fuse_node_by_path(struct fuse_srv *f, const char *path);
/* The node names nothing any more (removed, replaced): a later lookup of
 * its path makes a new node. */
void fuse_path_unlink(struct fuse_srv *f, struct fuse_node *n);
/* Re-key the path table after the 9P server moved fids (a rename). */
void fuse_paths_rehash(struct fuse_srv *f);
/* One 9P request on the server's connection (p9_conn_call; a negative
 * result, which would close a 9P connection, is EIO). */
int fuse_call(struct fuse_srv *f, struct p9_msg *m, struct p9_msg *r);
void fuse_clunk(struct fuse_srv *f, uint32_t fid);
/* An unused fid number (never 0, 1 or P9_NOFID). */
uint32_t fuse_new_fid(struct fuse_srv *f);
void fuse_forget(struct fuse_srv *f, uint64_t id, uint64_t nlookup);
void fuse_attr_of(const struct p9_msg *r, struct fuse_attr *a);
int fuse_getattr_fid(struct fuse_srv *f, uint32_t fid, struct p9_msg *r);
/* Twalk fid -> newfid by name (NULL: a clone). */
int fuse_walk(struct fuse_srv *f, uint32_t fid, const char *name, size_t nl, uint32_t newfid);
void fuse_entry_fill(struct fuse_entry_out *e, uint64_t id, const struct p9_msg *ga);
bool fuse_dot(const char *name, size_t nl);
/* Walk pfid (or node parent) / name and fill its entry; one node per path, counted. */
int fuse_lookup_fid(struct fuse_srv *f, uint32_t pfid, const char *name, size_t nl,
		    struct fuse_entry_out *e);
int fuse_lookup(struct fuse_srv *f, uint64_t parent, const char *name, size_t nl,
		struct fuse_entry_out *e);
/* Append the entry of parent/name to the reply. */
int fuse_reply_entry(struct fuse_srv *f, uint64_t parent, const char *name, size_t nl,
		     struct fuse_out *o);
void fuse_unhash_child(struct fuse_srv *f, uint64_t parent, const char *name);

/* fuse_ops.c: fill o; return 0 or a positive errno (the reply's error). */
int fuse_op_init(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
int fuse_op_getattr(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
int fuse_op_setattr(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
int fuse_op_readlink(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
/* mkdir, symlink, mknod, link */
int fuse_op_make(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
/* unlink, rmdir */
int fuse_op_unlink(struct fuse_srv *f, const struct fuse_req *q);
/* rename, rename2 */
int fuse_op_rename(struct fuse_srv *f, const struct fuse_req *q);
/* open, opendir */
int fuse_op_open(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
int fuse_op_create(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
int fuse_op_read(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
int fuse_op_write(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
/* release, releasedir */
int fuse_op_release(struct fuse_srv *f, const struct fuse_req *q);
/* fsync, fsyncdir */
int fuse_op_fsync(struct fuse_srv *f, const struct fuse_req *q);
int fuse_op_statfs(struct fuse_srv *f, struct fuse_out *o);
/* readdir, readdirplus */
int fuse_op_readdir(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o);
void fuse_op_batch_forget(struct fuse_srv *f, const struct fuse_req *q);

#endif
