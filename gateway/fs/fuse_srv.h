/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE server behind virtio-fs. It owns no policy of its own: each FUSE
 * request becomes one or more 9P2000.L requests on an in-process p9_conn of
 * the fs child's p9_srv (p9_conn_call), so path resolution (openat2
 * beneath the root, no symlink followed), every policy decision, the quota
 * and every audit row are the 9P server's (docs/fs.md maps both).
 *
 * FUSE node ids and file handles are 9P fids of that connection: a node is
 * a walked fid (one per workspace path the guest has looked up, reference
 * counted by LOOKUP/FORGET), a handle is an opened clone (its reads and
 * writes are summed into one audit row at RELEASE, as at 9P's clunk).
 *
 * The guest may cache names and attributes for FUSE_SRV_TTL_MS and file
 * contents across opens while the host file's mtime, ctime and size are
 * unchanged (docs/fs.md, "virtio-fs caching"). Single-threaded.
 */
#ifndef AGW_FUSE_SRV_H
#define AGW_FUSE_SRV_H

#include <stddef.h>
#include <stdint.h>

#define FUSE_SRV_TTL_MS 1000u
/* The largest READ or WRITE: whole pages that fit one 1 MiB 9P message
 * with its header (a shorter read than asked would look like EOF). */
#define FUSE_SRV_MAX_WRITE (255u * 4096u)

struct p9_srv;
struct fuse_srv;

#define FUSE_SRV_OPS 64 /* opcodes counted one by one; larger ones in the last slot */

struct fuse_srv_stats {
	uint64_t requests, errors, nodes, handles;
	uint64_t neg_lookups;	    /* LOOKUPs answered with a cached negative entry */
	uint64_t ops[FUSE_SRV_OPS]; /* requests by opcode */
};

/* New server on s (borrowed; must outlive it). Returns 0 and *out or
 * -AGW_ENOMEM. */
int fuse_srv_new(struct p9_srv *s, struct fuse_srv **out);
/* Clunks every node and handle (their audit rows are emitted) and frees. NULL-safe. */
void fuse_srv_free(struct fuse_srv *f);

/*
 * Handle one whole FUSE request (req/len) and write the reply into out
 * (cap bytes). Returns the reply's length: 0 for requests without a reply
 * (FORGET, BATCH_FORGET, INTERRUPT) and for a request too malformed to
 * answer (no header). A reply that does not fit cap is answered with
 * ERANGE's header. Never fails otherwise.
 */
size_t fuse_srv_handle(struct fuse_srv *f, const uint8_t *req, size_t len, uint8_t *out,
		       size_t cap);

void fuse_srv_get_stats(const struct fuse_srv *f, struct fuse_srv_stats *st);

#endif
