// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE over virtio-fs, served by translating each request into the 9P
 * server's own operations on an in-process connection (p9_conn_call), so
 * that virtio-fs and 9P share one implementation of path resolution,
 * policy, quota and audit. This file keeps only what FUSE has and 9P has
 * not: node ids with lookup counts (a path-keyed table, so two lookups of
 * one path give one node), handles, attribute and entry lifetimes, the
 * page-cache decision at open, and the reply layouts.
 */
#include "gateway/fs/fuse_srv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agw.h"
#include "gateway/fs/fuse_msg.h"
#include "gateway/fs/p9_int.h"
#include "log.h"

#define FUSE_SRV_BUCKETS 65536u
#define FUSE_SRV_MAX_NODES (1u << 20)
#define FUSE_SRV_MSIZE (FUSE_SRV_MAX_WRITE + 4096u)

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
	struct fuse_srv_stats st;
};

/* A reply under construction: the body after the out header. */
struct fuse_out {
	uint8_t *buf;
	size_t cap, len; /* len counts the header */
	bool overflow;
};

static void *fuse_put(struct fuse_out *o, size_t n)
{
	void *p;

	if (o->cap - o->len < n) {
		o->overflow = true;
		return NULL;
	}
	p = o->buf + o->len;
	memset(p, 0, n);
	o->len += n;
	return p;
}

static uint32_t fuse_hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static unsigned fuse_bucket(uint32_t v)
{
	return (v * 2654435761u) % FUSE_SRV_BUCKETS;
}

static const char *fuse_fid_path(struct fuse_srv *f, uint32_t fid)
{
	struct p9_fid *pf = p9_fid_get(f->c, fid);

	return pf ? pf->path : NULL;
}

static struct fuse_node *fuse_node_get(struct fuse_srv *f, uint64_t id)
{
	if (id > UINT32_MAX)
		return NULL;
	for (struct fuse_node *n = f->by_id[fuse_bucket((uint32_t)id)]; n; n = n->id_next)
		if (n->fid == id)
			return n;
	return NULL;
}

static void fuse_path_link(struct fuse_srv *f, struct fuse_node *n)
{
	const char *p = fuse_fid_path(f, n->fid);
	unsigned b;

	if (!p)
		return;
	n->phash = fuse_hash_str(p);
	b = fuse_bucket(n->phash);
	n->path_next = f->by_path[b];
	f->by_path[b] = n;
	n->hashed = true;
}

static void fuse_path_unlink(struct fuse_srv *f, struct fuse_node *n)
{
	struct fuse_node **pp;

	if (!n->hashed)
		return;
	for (pp = &f->by_path[fuse_bucket(n->phash)]; *pp; pp = &(*pp)->path_next)
		if (*pp == n) {
			*pp = n->path_next;
			break;
		}
	n->hashed = false;
	n->path_next = NULL;
}

static struct fuse_node *fuse_node_by_path(struct fuse_srv *f, const char *path)
{
	uint32_t h = fuse_hash_str(path);

	for (struct fuse_node *n = f->by_path[fuse_bucket(h)]; n; n = n->path_next) {
		const char *p;

		if (n->phash == h && (p = fuse_fid_path(f, n->fid)) && strcmp(p, path) == 0)
			return n;
	}
	return NULL;
}

/* After a rename the 9P server moved every fid's path: re-key the table. */
static void fuse_paths_rehash(struct fuse_srv *f)
{
	memset(f->by_path, 0, sizeof(f->by_path));
	for (unsigned b = 0; b < FUSE_SRV_BUCKETS; b++)
		for (struct fuse_node *n = f->by_id[b]; n; n = n->id_next)
			if (n->hashed)
				fuse_path_link(f, n);
}

static int fuse_call(struct fuse_srv *f, struct p9_msg *m, struct p9_msg *r)
{
	int rc = p9_conn_call(f->c, m, r);

	return rc < 0 ? EIO : rc;
}

static void fuse_clunk(struct fuse_srv *f, uint32_t fid)
{
	struct p9_msg m = {.type = P9_TCLUNK}, r;

	m.u.fid.fid = fid;
	(void)fuse_call(f, &m, &r);
}

static uint32_t fuse_new_fid(struct fuse_srv *f)
{
	for (;;) {
		uint32_t n = f->next_fid++;

		if (n < 2 || n == P9_NOFID) {
			f->next_fid = 2;
			continue;
		}
		if (!p9_fid_get(f->c, n))
			return n;
	}
}

static int fuse_node_add(struct fuse_srv *f, uint32_t fid, struct fuse_node **out)
{
	struct fuse_node *n;
	unsigned b = fuse_bucket(fid);

	if (f->st.nodes >= FUSE_SRV_MAX_NODES)
		return EMFILE;
	n = calloc(1, sizeof(*n));
	if (!n)
		return ENOMEM;
	n->fid = fid;
	n->id_next = f->by_id[b];
	f->by_id[b] = n;
	fuse_path_link(f, n);
	f->st.nodes++;
	*out = n;
	return 0;
}

static void fuse_node_drop(struct fuse_srv *f, struct fuse_node *n)
{
	struct fuse_node **pp;

	fuse_path_unlink(f, n);
	for (pp = &f->by_id[fuse_bucket(n->fid)]; *pp; pp = &(*pp)->id_next)
		if (*pp == n) {
			*pp = n->id_next;
			break;
		}
	fuse_clunk(f, n->fid);
	free(n);
	f->st.nodes--;
}

static void fuse_forget(struct fuse_srv *f, uint64_t id, uint64_t nlookup)
{
	struct fuse_node *n = fuse_node_get(f, id);

	if (!n || n->fid == FUSE_ROOT_ID)
		return;
	n->nlookup = nlookup >= n->nlookup ? 0 : n->nlookup - nlookup;
	if (n->nlookup == 0)
		fuse_node_drop(f, n);
}

int fuse_srv_new(struct p9_srv *s, struct fuse_srv **out)
{
	struct fuse_srv *f = calloc(1, sizeof(*f));
	struct p9_msg m = {.type = P9_TATTACH}, r;
	struct fuse_node *root = NULL;
	int rc;

	*out = NULL;
	if (!f)
		return -AGW_ENOMEM;
	rc = p9_conn_local(s, "virtio-fs", FUSE_SRV_MSIZE, FUSE_SRV_MAX_NODES + 65536u, &f->c);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->next_fid = 2;
	m.u.attach.fid = FUSE_ROOT_ID;
	m.u.attach.afid = P9_NOFID;
	m.u.attach.aname = (struct p9_str){"virtio-fs", 9};
	rc = fuse_call(f, &m, &r);
	if (rc || fuse_node_add(f, FUSE_ROOT_ID, &root)) {
		fuse_srv_free(f);
		return rc == ENOMEM ? -AGW_ENOMEM : -(rc ? rc : EIO);
	}
	root->nlookup = 1;
	*out = f;
	return 0;
}

void fuse_srv_free(struct fuse_srv *f)
{
	if (!f)
		return;
	for (unsigned b = 0; b < FUSE_SRV_BUCKETS; b++)
		while (f->by_id[b]) {
			struct fuse_node *n = f->by_id[b];

			f->by_id[b] = n->id_next;
			free(n);
		}
	p9_conn_free(f->c); /* clunks every fid: open handles get their rows */
	free(f);
}

void fuse_srv_get_stats(const struct fuse_srv *f, struct fuse_srv_stats *st)
{
	*st = f->st;
}

/* ---- attributes and entries ---- */

static void fuse_attr_of(const struct p9_msg *r, struct fuse_attr *a)
{
	const struct p9_attr *p = &r->u.rgetattr.a;

	memset(a, 0, sizeof(*a));
	a->ino = r->u.rgetattr.qid.path;
	a->size = p->size;
	a->blocks = p->blocks;
	a->atime = p->atime_sec;
	a->mtime = p->mtime_sec;
	a->ctime = p->ctime_sec;
	a->atimensec = (uint32_t)p->atime_nsec;
	a->mtimensec = (uint32_t)p->mtime_nsec;
	a->ctimensec = (uint32_t)p->ctime_nsec;
	a->mode = p->mode;
	a->nlink = (uint32_t)p->nlink;
	a->uid = p->uid;
	a->gid = p->gid;
	a->rdev = (uint32_t)p->rdev;
	a->blksize = (uint32_t)p->blksize;
}

static int fuse_getattr_fid(struct fuse_srv *f, uint32_t fid, struct p9_msg *r)
{
	struct p9_msg m = {.type = P9_TGETATTR};

	m.u.getattr.fid = fid;
	m.u.getattr.mask = P9_GETATTR_BASIC;
	return fuse_call(f, &m, r);
}

static int fuse_walk(struct fuse_srv *f, uint32_t fid, const char *name, size_t nl,
		     uint32_t newfid)
{
	struct p9_msg m = {.type = P9_TWALK}, r;

	if (nl > P9_NAME_MAX + 1)
		nl = P9_NAME_MAX + 1; /* the 9P side refuses and audits it */
	m.u.walk.fid = fid;
	m.u.walk.newfid = newfid;
	m.u.walk.nwname = name ? 1 : 0;
	if (name)
		m.u.walk.wname[0] = (struct p9_str){name, (uint16_t)nl};
	return fuse_call(f, &m, &r);
}

static void fuse_entry_fill(struct fuse_entry_out *e, uint64_t id, const struct p9_msg *ga)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = id;
	e->entry_valid = FUSE_SRV_TTL_MS / 1000;
	e->entry_valid_nsec = (FUSE_SRV_TTL_MS % 1000) * 1000000u;
	e->attr_valid = e->entry_valid;
	e->attr_valid_nsec = e->entry_valid_nsec;
	fuse_attr_of(ga, &e->attr);
}

static bool fuse_dot(const char *name, size_t nl)
{
	return nl == 0 || (nl == 1 && name[0] == '.') || (nl == 2 && name[0] == '.' && name[1] == '.');
}

/* Walk pfid/name and answer its entry; one node per path, counted. */
static int fuse_lookup_fid(struct fuse_srv *f, uint32_t pfid, const char *name, size_t nl,
			   struct fuse_entry_out *e)
{
	struct fuse_node *n;
	struct p9_msg ga;
	uint32_t nf;
	int err;

	if (fuse_dot(name, nl))
		return EINVAL;
	nf = fuse_new_fid(f);
	err = fuse_walk(f, pfid, name, nl, nf);
	if (err)
		return err;
	err = fuse_getattr_fid(f, nf, &ga);
	if (err) {
		fuse_clunk(f, nf);
		return err;
	}
	n = fuse_node_by_path(f, fuse_fid_path(f, nf));
	if (n) {
		fuse_clunk(f, nf);
	} else if ((err = fuse_node_add(f, nf, &n))) {
		fuse_clunk(f, nf);
		return err;
	}
	n->nlookup++;
	fuse_entry_fill(e, n->fid, &ga);
	return 0;
}

static int fuse_lookup(struct fuse_srv *f, uint64_t parent, const char *name, size_t nl,
		       struct fuse_entry_out *e)
{
	struct fuse_node *p = fuse_node_get(f, parent);

	return p ? fuse_lookup_fid(f, p->fid, name, nl, e) : ESTALE;
}

static int fuse_reply_entry(struct fuse_srv *f, uint64_t parent, const char *name, size_t nl,
			    struct fuse_out *o)
{
	struct fuse_entry_out *e = fuse_put(o, sizeof(*e));

	return e ? fuse_lookup(f, parent, name, nl, e) : ERANGE;
}

/* A name that was removed or replaced: a later lookup gets a new node. */
static void fuse_unhash_child(struct fuse_srv *f, uint64_t parent, const char *name)
{
	struct fuse_node *p = fuse_node_get(f, parent), *n;
	const char *pp = p ? fuse_fid_path(f, p->fid) : NULL;
	char path[P9_PATH_MAX];

	if (!pp || p9_join(path, pp, name))
		return;
	n = fuse_node_by_path(f, path);
	if (n)
		fuse_path_unlink(f, n);
}

/* ---- operations ---- */

static int fuse_op_init(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_init_in in = {0};
	struct fuse_init_out *out;

	memcpy(&in, q->in, AGW_MIN(q->insz, sizeof(in)));
	out = fuse_put(o, sizeof(*out));
	if (!out)
		return ERANGE;
	out->major = FUSE_KERNEL_VERSION;
	out->minor = FUSE_KERNEL_MINOR_VERSION;
	if (in.major != FUSE_KERNEL_VERSION)
		return in.major > FUSE_KERNEL_VERSION ? 0 : EPROTO; /* the client retries */
	if (in.minor < 23)
		return EPROTO; /* kernels since 4.x send at least 7.23 */
	f->minor = in.minor;
	out->max_readahead = in.max_readahead;
	/*
	 * No writeback cache and no posix locks: every write reaches the
	 * gateway, locks stay in the guest. AUTO_INVAL_DATA drops cached pages
	 * when a refreshed attribute shows the host file changed.
	 */
	out->flags = in.flags & (FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC |
				 FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS |
				 FUSE_READDIRPLUS_AUTO | FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS);
	out->max_background = 64;
	out->congestion_threshold = 48;
	out->max_write = FUSE_SRV_MAX_WRITE;
	out->time_gran = 1;
	out->max_pages = FUSE_SRV_MAX_WRITE / 4096;
	f->inited = true;
	return 0;
}

static int fuse_op_getattr(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_node *n = fuse_node_get(f, q->h.nodeid);
	struct fuse_getattr_in in;
	struct fuse_attr_out *a;
	struct p9_msg ga;
	uint32_t fid;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (!n)
		return ESTALE;
	fid = n->fid;
	if ((in.getattr_flags & FUSE_GETATTR_FH) && in.fh <= UINT32_MAX && p9_fid_get(f->c, (uint32_t)in.fh))
		fid = (uint32_t)in.fh;
	err = fuse_getattr_fid(f, fid, &ga);
	if (err)
		return err;
	a = fuse_put(o, sizeof(*a));
	if (!a)
		return ERANGE;
	a->attr_valid = FUSE_SRV_TTL_MS / 1000;
	a->attr_valid_nsec = (FUSE_SRV_TTL_MS % 1000) * 1000000u;
	fuse_attr_of(&ga, &a->attr);
	return 0;
}

static int fuse_op_setattr(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_node *n = fuse_node_get(f, q->h.nodeid);
	struct p9_msg m = {.type = P9_TSETATTR}, r;
	struct fuse_setattr_in in;
	uint32_t v = 0;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (!n)
		return ESTALE;
	if (in.valid & FATTR_MODE)
		v |= P9_SETATTR_MODE;
	if (in.valid & FATTR_UID)
		v |= P9_SETATTR_UID;
	if (in.valid & FATTR_GID)
		v |= P9_SETATTR_GID;
	if (in.valid & FATTR_SIZE)
		v |= P9_SETATTR_SIZE;
	if (in.valid & FATTR_ATIME)
		v |= P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET;
	if (in.valid & FATTR_ATIME_NOW)
		v = (v | P9_SETATTR_ATIME) & ~P9_SETATTR_ATIME_SET;
	if (in.valid & FATTR_MTIME)
		v |= P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
	if (in.valid & FATTR_MTIME_NOW)
		v = (v | P9_SETATTR_MTIME) & ~P9_SETATTR_MTIME_SET;
	if (in.valid & FATTR_CTIME)
		v |= P9_SETATTR_CTIME;
	if (v) {
		m.u.setattr.fid = n->fid;
		m.u.setattr.valid = v;
		m.u.setattr.mode = in.mode;
		m.u.setattr.uid = in.uid;
		m.u.setattr.gid = in.gid;
		m.u.setattr.size = in.size;
		m.u.setattr.atime_sec = in.atime;
		m.u.setattr.atime_nsec = in.atimensec;
		m.u.setattr.mtime_sec = in.mtime;
		m.u.setattr.mtime_nsec = in.mtimensec;
		err = fuse_call(f, &m, &r);
		if (err)
			return err;
	}
	{
		struct fuse_getattr_in gi = {0};
		struct fuse_req g = *q;

		if ((in.valid & FATTR_FH)) {
			gi.getattr_flags = FUSE_GETATTR_FH;
			gi.fh = in.fh;
		}
		g.in = (const uint8_t *)&gi;
		g.insz = sizeof(gi);
		return fuse_op_getattr(f, &g, o);
	}
}

static int fuse_op_readlink(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_node *n = fuse_node_get(f, q->h.nodeid);
	struct p9_msg m = {.type = P9_TREADLINK}, r;
	uint8_t *p;
	int err;

	if (!n)
		return ESTALE;
	m.u.fid.fid = n->fid;
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	p = fuse_put(o, r.u.rreadlink.target.len);
	if (!p)
		return ERANGE;
	memcpy(p, r.u.rreadlink.target.s, r.u.rreadlink.target.len);
	return 0;
}

/* mkdir, symlink, mknod, link: the 9P call, then the new name's entry. */
static int fuse_op_make(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_node *p = fuse_node_get(f, q->h.nodeid);
	struct p9_msg m = {0}, r;
	struct p9_str name = {q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
	int err;

	if (!p)
		return ESTALE;
	switch (q->h.opcode) {
	case FUSE_MKDIR: {
		struct fuse_mkdir_in in;

		memcpy(&in, q->in, sizeof(in));
		m.type = P9_TMKDIR;
		m.u.mkdir.dfid = p->fid;
		m.u.mkdir.name = name;
		m.u.mkdir.mode = in.mode;
		m.u.mkdir.gid = q->h.gid;
		break;
	}
	case FUSE_SYMLINK:
		/* args: the new name, then the link's target */
		m.type = P9_TSYMLINK;
		m.u.symlink.fid = p->fid;
		m.u.symlink.name = name;
		m.u.symlink.target =
		    (struct p9_str){q->name2, (uint16_t)AGW_MIN(q->name2_len, P9_PATH_MAX)};
		m.u.symlink.gid = q->h.gid;
		break;
	case FUSE_MKNOD: {
		struct fuse_mknod_in in;

		memcpy(&in, q->in, sizeof(in));
		m.type = P9_TMKNOD;
		m.u.mknod.dfid = p->fid;
		m.u.mknod.name = name;
		m.u.mknod.mode = in.mode;
		m.u.mknod.major = (in.rdev >> 8) & 0xfff;
		m.u.mknod.minor = (in.rdev & 0xff) | ((in.rdev >> 12) & 0xfff00);
		m.u.mknod.gid = q->h.gid;
		break;
	}
	case FUSE_LINK: {
		struct fuse_link_in in;
		struct fuse_node *old;

		memcpy(&in, q->in, sizeof(in));
		old = fuse_node_get(f, in.oldnodeid);
		if (!old)
			return ESTALE;
		m.type = P9_TLINK;
		m.u.link.dfid = p->fid;
		m.u.link.fid = old->fid;
		m.u.link.name = name;
		break;
	}
	default:
		return ENOSYS;
	}
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	fuse_unhash_child(f, q->h.nodeid, q->name);
	return fuse_reply_entry(f, q->h.nodeid, q->name, q->name_len, o);
}

static int fuse_op_unlink(struct fuse_srv *f, const struct fuse_req *q)
{
	struct fuse_node *p = fuse_node_get(f, q->h.nodeid);
	struct p9_msg m = {.type = P9_TUNLINKAT}, r;
	int err;

	if (!p)
		return ESTALE;
	m.u.unlinkat.dfid = p->fid;
	m.u.unlinkat.name = (struct p9_str){q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
	m.u.unlinkat.flags = q->h.opcode == FUSE_RMDIR ? P9_AT_REMOVEDIR : 0;
	err = fuse_call(f, &m, &r);
	if (!err)
		fuse_unhash_child(f, q->h.nodeid, q->name);
	return err;
}

static int fuse_op_rename(struct fuse_srv *f, const struct fuse_req *q)
{
	struct fuse_node *p = fuse_node_get(f, q->h.nodeid), *np, *over = NULL;
	struct p9_msg m = {.type = P9_TRENAMEAT}, r;
	uint64_t newdir;
	uint32_t flags = 0;
	char path[P9_PATH_MAX];
	const char *npath;
	int err;

	if (q->h.opcode == FUSE_RENAME2) {
		struct fuse_rename2_in in;

		memcpy(&in, q->in, sizeof(in));
		newdir = in.newdir;
		flags = in.flags;
	} else {
		struct fuse_rename_in in;

		memcpy(&in, q->in, sizeof(in));
		newdir = in.newdir;
	}
	np = fuse_node_get(f, newdir);
	if (!p || !np)
		return ESTALE;
	if (flags)
		return EINVAL; /* RENAME_NOREPLACE/EXCHANGE/WHITEOUT: 9P has none */
	npath = fuse_fid_path(f, np->fid);
	if (npath && !p9_join(path, npath, q->name2))
		over = fuse_node_by_path(f, path);
	m.u.renameat.olddfid = p->fid;
	m.u.renameat.oldname = (struct p9_str){q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
	m.u.renameat.newdfid = np->fid;
	m.u.renameat.newname =
	    (struct p9_str){q->name2, (uint16_t)AGW_MIN(q->name2_len, P9_NAME_MAX + 1)};
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	if (over)
		fuse_path_unlink(f, over); /* replaced: its node names nothing now */
	fuse_paths_rehash(f);
	return 0;
}

/* Clone node's fid and open the clone: the handle. */
static int fuse_open_fid(struct fuse_srv *f, struct fuse_node *n, uint32_t flags, uint32_t *fh)
{
	struct p9_msg m = {.type = P9_TLOPEN}, r;
	uint32_t nf = fuse_new_fid(f);
	int err = fuse_walk(f, n->fid, NULL, 0, nf);

	if (err)
		return err;
	m.u.lopen.fid = nf;
	m.u.lopen.flags = flags;
	err = fuse_call(f, &m, &r);
	if (err) {
		fuse_clunk(f, nf);
		return err;
	}
	f->st.handles++;
	*fh = nf;
	return 0;
}

static uint32_t fuse_open_flags(uint32_t flags)
{
	return flags & (P9_DOTL_ACCMODE | P9_DOTL_TRUNC | P9_DOTL_APPEND | P9_DOTL_DSYNC |
			P9_DOTL_SYNC);
}

/*
 * Keep the guest's page cache across this open only when the host file
 * looks as it did at the last open (mtime, ctime, size): any change on the
 * host, or through another name, drops it.
 */
static bool fuse_cache_ok(struct fuse_srv *f, struct fuse_node *n, uint32_t fh)
{
	struct p9_msg ga;
	const struct p9_attr *a;
	bool same;

	if (fuse_getattr_fid(f, fh, &ga))
		return false;
	a = &ga.u.rgetattr.a;
	same = n->seen && n->mt_s == a->mtime_sec && n->mt_ns == a->mtime_nsec &&
	       n->ct_s == a->ctime_sec && n->ct_ns == a->ctime_nsec && n->size == a->size;
	n->seen = true;
	n->mt_s = a->mtime_sec;
	n->mt_ns = a->mtime_nsec;
	n->ct_s = a->ctime_sec;
	n->ct_ns = a->ctime_nsec;
	n->size = a->size;
	return same;
}

static int fuse_op_open(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_node *n = fuse_node_get(f, q->h.nodeid);
	struct fuse_open_in in;
	struct fuse_open_out *out;
	uint32_t fh;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (!n)
		return ESTALE;
	out = fuse_put(o, sizeof(*out));
	if (!out)
		return ERANGE;
	err = fuse_open_fid(f, n, q->h.opcode == FUSE_OPENDIR ? 0 : fuse_open_flags(in.flags), &fh);
	if (err)
		return err;
	out->fh = fh;
	if (q->h.opcode == FUSE_OPEN && fuse_cache_ok(f, n, fh))
		out->open_flags = FOPEN_KEEP_CACHE;
	return 0;
}

static int fuse_op_create(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_node *p = fuse_node_get(f, q->h.nodeid);
	struct p9_msg m = {.type = P9_TLCREATE}, r;
	struct fuse_create_in in;
	struct fuse_entry_out *e;
	struct fuse_open_out *op;
	uint32_t nf;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (!p)
		return ESTALE;
	e = fuse_put(o, sizeof(*e));
	op = fuse_put(o, sizeof(*op));
	if (!e || !op)
		return ERANGE;
	nf = fuse_new_fid(f);
	err = fuse_walk(f, p->fid, NULL, 0, nf);
	if (err)
		return err;
	m.u.lcreate.fid = nf;
	m.u.lcreate.name = (struct p9_str){q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
	m.u.lcreate.flags = fuse_open_flags(in.flags) | (in.flags & P9_DOTL_EXCL);
	m.u.lcreate.mode = in.mode;
	m.u.lcreate.gid = q->h.gid;
	err = fuse_call(f, &m, &r);
	if (err) {
		fuse_clunk(f, nf);
		return err;
	}
	f->st.handles++;
	fuse_unhash_child(f, q->h.nodeid, q->name);
	err = fuse_lookup(f, q->h.nodeid, q->name, q->name_len, e);
	if (err) {
		fuse_clunk(f, nf);
		f->st.handles--;
		return err;
	}
	op->fh = nf;
	return 0;
}

static int fuse_op_read(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct p9_msg m = {.type = P9_TREAD}, r;
	struct fuse_read_in in;
	uint8_t *p;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (in.fh > UINT32_MAX)
		return EBADF;
	m.u.read.fid = (uint32_t)in.fh;
	m.u.read.offset = in.offset;
	m.u.read.count = (uint32_t)AGW_MIN((size_t)in.size, o->cap - o->len);
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	p = fuse_put(o, r.u.data.count);
	if (!p)
		return ERANGE;
	memcpy(p, r.u.data.data, r.u.data.count);
	return 0;
}

static int fuse_op_write(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct p9_msg m = {.type = P9_TWRITE}, r;
	struct fuse_write_in in;
	struct fuse_write_out *w;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (in.fh > UINT32_MAX)
		return EBADF;
	if (q->data_len > FUSE_SRV_MAX_WRITE)
		return EINVAL;
	m.u.write.fid = (uint32_t)in.fh;
	m.u.write.offset = in.offset;
	m.u.write.count = (uint32_t)q->data_len;
	m.u.write.data = q->data;
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	w = fuse_put(o, sizeof(*w));
	if (!w)
		return ERANGE;
	w->size = r.u.rwrite.count;
	return 0;
}

static int fuse_op_release(struct fuse_srv *f, const struct fuse_req *q)
{
	struct fuse_release_in in;

	memcpy(&in, q->in, sizeof(in));
	if (in.fh > UINT32_MAX || in.fh == FUSE_ROOT_ID || fuse_node_get(f, in.fh) ||
	    !p9_fid_get(f->c, (uint32_t)in.fh))
		return EBADF; /* a node's fid is never a handle */
	fuse_clunk(f, (uint32_t)in.fh);
	f->st.handles--;
	return 0;
}

static int fuse_op_fsync(struct fuse_srv *f, const struct fuse_req *q)
{
	struct p9_msg m = {.type = P9_TFSYNC}, r;
	struct fuse_fsync_in in;

	memcpy(&in, q->in, sizeof(in));
	if (in.fh > UINT32_MAX)
		return EBADF;
	m.u.fsync.fid = (uint32_t)in.fh;
	m.u.fsync.datasync = in.fsync_flags & 1u;
	return fuse_call(f, &m, &r);
}

static int fuse_op_statfs(struct fuse_srv *f, struct fuse_out *o)
{
	struct p9_msg m = {.type = P9_TSTATFS}, r;
	struct fuse_statfs_out *s;
	int err;

	m.u.fid.fid = FUSE_ROOT_ID;
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	s = fuse_put(o, sizeof(*s));
	if (!s)
		return ERANGE;
	s->st.blocks = r.u.statfs.blocks;
	s->st.bfree = r.u.statfs.bfree;
	s->st.bavail = r.u.statfs.bavail;
	s->st.files = r.u.statfs.files;
	s->st.ffree = r.u.statfs.ffree;
	s->st.bsize = r.u.statfs.bsize;
	s->st.frsize = r.u.statfs.bsize;
	s->st.namelen = r.u.statfs.namelen;
	return 0;
}

/*
 * READDIR and READDIRPLUS from 9P readdir entries. An entry that does not
 * fit ends the reply; the next request starts at its offset. READDIRPLUS
 * looks up (and counts) only names the policy lets the guest read, checked
 * without an audit row (a plain listing is not audited per name, as with
 * 9P); other entries carry no attributes and are looked up, audited, when
 * the guest uses them.
 */
static int fuse_op_readdir(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	bool plus = q->h.opcode == FUSE_READDIRPLUS;
	struct p9_msg m = {.type = P9_TREADDIR}, r;
	struct fuse_read_in in;
	size_t end, off = 0;
	const char *dpath;
	int err;

	memcpy(&in, q->in, sizeof(in));
	if (in.fh > UINT32_MAX || !(dpath = fuse_fid_path(f, (uint32_t)in.fh)))
		return EBADF;
	end = AGW_MIN(o->len + in.size, o->cap);
	m.u.read.fid = (uint32_t)in.fh;
	m.u.read.offset = in.offset;
	m.u.read.count = (uint32_t)AGW_MIN((size_t)in.size, (size_t)FUSE_SRV_MSIZE - 64);
	err = fuse_call(f, &m, &r);
	if (err)
		return err;
	for (;;) {
		struct p9_qid qid;
		struct p9_str name;
		uint64_t doff;
		uint8_t type;
		size_t esz;
		struct fuse_dirent *de;
		struct fuse_entry_out ent = {0};
		char child[P9_PATH_MAX], nm[P9_NAME_MAX + 1];

		if (p9_dirent_next(r.u.data.data, r.u.data.count, &off, &qid, &doff, &type, &name) != 1)
			break;
		esz = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + name.len);
		if (plus)
			esz = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + name.len);
		if (end - o->len < esz || name.len > P9_NAME_MAX)
			break;
		memcpy(nm, name.s, name.len);
		nm[name.len] = 0;
		if (plus && !fuse_dot(nm, name.len) && !p9_join(child, dpath, nm)) {
			struct pol_decision d;

			pol_check_fs(f->c->srv->pol, child, POL_ACC_READ, &d);
			if (d.verdict == POL_ALLOW &&
			    fuse_lookup_fid(f, (uint32_t)in.fh, nm, name.len, &ent))
				memset(&ent, 0, sizeof(ent));
		}
		if (plus) {
			struct fuse_entry_out *pe = fuse_put(o, sizeof(ent));

			if (!pe)
				break;
			memcpy(pe, &ent, sizeof(ent));
		}
		de = fuse_put(o, esz - (plus ? sizeof(ent) : 0));
		if (!de)
			break;
		de->ino = qid.path;
		de->off = doff;
		de->namelen = name.len;
		de->type = type;
		memcpy(de->name, name.s, name.len);
	}
	return 0;
}

static void fuse_op_batch_forget(struct fuse_srv *f, const struct fuse_req *q)
{
	for (uint32_t i = 0; i < q->count; i++) {
		struct fuse_forget_one one;

		memcpy(&one, q->data + i * sizeof(one), sizeof(one));
		fuse_forget(f, one.nodeid, one.nlookup);
	}
}

static int fuse_dispatch(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o,
			 bool *noreply)
{
	if (!f->inited && q->h.opcode != FUSE_INIT)
		return EIO;
	switch (q->h.opcode) {
	case FUSE_INIT:
		return fuse_op_init(f, q, o);
	case FUSE_DESTROY:
		return 0;
	case FUSE_LOOKUP:
		return fuse_reply_entry(f, q->h.nodeid, q->name, q->name_len, o);
	case FUSE_FORGET: {
		struct fuse_forget_in in;

		memcpy(&in, q->in, sizeof(in));
		fuse_forget(f, q->h.nodeid, in.nlookup);
		*noreply = true;
		return 0;
	}
	case FUSE_BATCH_FORGET:
		fuse_op_batch_forget(f, q);
		*noreply = true;
		return 0;
	case FUSE_INTERRUPT:
		*noreply = true; /* requests are answered in order: nothing to interrupt */
		return 0;
	case FUSE_GETATTR:
		return fuse_op_getattr(f, q, o);
	case FUSE_SETATTR:
		return fuse_op_setattr(f, q, o);
	case FUSE_READLINK:
		return fuse_op_readlink(f, q, o);
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_MKNOD:
	case FUSE_LINK:
		return fuse_op_make(f, q, o);
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		return fuse_op_unlink(f, q);
	case FUSE_RENAME:
	case FUSE_RENAME2:
		return fuse_op_rename(f, q);
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		return fuse_op_open(f, q, o);
	case FUSE_CREATE:
		return fuse_op_create(f, q, o);
	case FUSE_READ:
		return fuse_op_read(f, q, o);
	case FUSE_WRITE:
		return fuse_op_write(f, q, o);
	case FUSE_FLUSH:
		return 0;
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
		return fuse_op_release(f, q);
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		return fuse_op_fsync(f, q);
	case FUSE_STATFS:
		return fuse_op_statfs(f, o);
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return fuse_op_readdir(f, q, o);
	default:
		/* ACCESS (the gateway decides at open), xattrs, locks, ioctl,
		 * fallocate, lseek, copy_file_range, DAX mappings: the kernel
		 * remembers ENOSYS and stops asking. */
		return ENOSYS;
	}
}

size_t fuse_srv_handle(struct fuse_srv *f, const uint8_t *req, size_t len, uint8_t *out,
		       size_t cap)
{
	struct fuse_out o = {.buf = out, .cap = cap, .len = sizeof(struct fuse_out_header)};
	struct fuse_out_header h = {0};
	struct fuse_req q;
	bool noreply = false;
	int rc, err;

	if (cap < sizeof(h))
		return 0;
	f->st.requests++;
	rc = fuse_req_parse(req, len, &q);
	if (rc < 0 && q.h.unique == 0)
		return 0; /* not even a header to answer */
	if (rc == -AGW_ENOTFOUND)
		err = ENOSYS;
	else if (rc < 0)
		err = EINVAL;
	else
		err = fuse_dispatch(f, &q, &o, &noreply);
	if (noreply)
		return 0;
	if (err || o.overflow) {
		f->st.errors++;
		o.len = sizeof(h);
		h.error = -(err ? err : ERANGE);
	}
	h.len = (uint32_t)o.len;
	h.unique = q.h.unique;
	memcpy(out, &h, sizeof(h));
	return o.len;
}
