// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE over virtio-fs, served by translating each request into the 9P
 * server's own operations on an in-process connection (p9_conn_call), so
 * that virtio-fs and 9P share one implementation of path resolution,
 * policy, quota and audit. This file keeps what FUSE has and 9P has not:
 * node ids with lookup counts (a path-keyed table, so two lookups of one
 * path give one node), lookups, and the request dispatch; fuse_ops.c has
 * the operations and their reply layouts.
 */
#include "gateway/fs/fuse_srv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "gateway/fs/fuse_int.h"
#include "log.h"

void *fuse_put(struct fuse_out *o, size_t n)
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

const char *fuse_fid_path(struct fuse_srv *f, uint32_t fid)
{
	struct p9_fid *pf = p9_fid_get(f->c, fid);

	return pf ? pf->path : NULL;
}

struct fuse_node *fuse_node_get(struct fuse_srv *f, uint64_t id)
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

void fuse_path_unlink(struct fuse_srv *f, struct fuse_node *n)
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

struct fuse_node *fuse_node_by_path(struct fuse_srv *f, const char *path)
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
void fuse_paths_rehash(struct fuse_srv *f)
{
	memset(f->by_path, 0, sizeof(f->by_path));
	for (unsigned b = 0; b < FUSE_SRV_BUCKETS; b++)
		for (struct fuse_node *n = f->by_id[b]; n; n = n->id_next)
			if (n->hashed)
				fuse_path_link(f, n);
}

int fuse_call(struct fuse_srv *f, struct p9_msg *m, struct p9_msg *r)
{
	int rc = p9_conn_call(f->c, m, r);

	return rc < 0 ? EIO : rc;
}

void fuse_clunk(struct fuse_srv *f, uint32_t fid)
{
	struct p9_msg m = {.type = P9_TCLUNK}, r;

	m.u.fid.fid = fid;
	(void)fuse_call(f, &m, &r);
}

uint32_t fuse_new_fid(struct fuse_srv *f)
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

/* With $AGENTGW_FUSE_OPS=N set, the request counts by opcode are logged
 * every N requests (any other value: 8192) and when the connection ends,
 * to see what a guest's work sends; at warning level, which the
 * supervisor's log keeps. */
static void fuse_ops_log(const struct fuse_srv *f)
{
	char line[1024];
	size_t n = 0;

	if (!f->ops_every)
		return;
	for (unsigned i = 0; i < FUSE_SRV_OPS && n < sizeof(line) - 32; i++)
		if (f->st.ops[i])
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %u:%llu", i,
					      (unsigned long long)f->st.ops[i]);
	line[n] = 0;
	log_warn("fs: virtio-fs requests %llu (negative lookups %llu), by opcode:%s",
		 (unsigned long long)f->st.requests, (unsigned long long)f->st.neg_lookups, line);
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

void fuse_forget(struct fuse_srv *f, uint64_t id, uint64_t nlookup)
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
	const char *ev;
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
	if ((ev = getenv("AGENTGW_FUSE_OPS")) && *ev) {
		f->ops_every = strtoull(ev, NULL, 10);
		if (f->ops_every == 0)
			f->ops_every = 8192;
	}
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
	fuse_ops_log(f);
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

void fuse_attr_of(const struct p9_msg *r, struct fuse_attr *a)
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

int fuse_getattr_fid(struct fuse_srv *f, uint32_t fid, struct p9_msg *r)
{
	struct p9_msg m = {.type = P9_TGETATTR};

	m.u.getattr.fid = fid;
	m.u.getattr.mask = P9_GETATTR_BASIC;
	return fuse_call(f, &m, r);
}

int fuse_walk(struct fuse_srv *f, uint32_t fid, const char *name, size_t nl, uint32_t newfid)
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

void fuse_entry_fill(struct fuse_entry_out *e, uint64_t id, const struct p9_msg *ga)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = id;
	e->entry_valid = FUSE_SRV_TTL_MS / 1000;
	e->entry_valid_nsec = (FUSE_SRV_TTL_MS % 1000) * 1000000u;
	e->attr_valid = e->entry_valid;
	e->attr_valid_nsec = e->entry_valid_nsec;
	fuse_attr_of(ga, &e->attr);
}

bool fuse_dot(const char *name, size_t nl)
{
	return nl == 0 || (nl == 1 && name[0] == '.') ||
	       (nl == 2 && name[0] == '.' && name[1] == '.');
}

/* Walk pfid/name and answer its entry; one node per path, counted. */
int fuse_lookup_fid(struct fuse_srv *f, uint32_t pfid, const char *name, size_t nl,
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

int fuse_lookup(struct fuse_srv *f, uint64_t parent, const char *name, size_t nl,
		struct fuse_entry_out *e)
{
	struct fuse_node *p = fuse_node_get(f, parent);

	return p ? fuse_lookup_fid(f, p->fid, name, nl, e) : ESTALE;
}

int fuse_reply_entry(struct fuse_srv *f, uint64_t parent, const char *name, size_t nl,
		     struct fuse_out *o)
{
	struct fuse_entry_out *e = fuse_put(o, sizeof(*e));

	return e ? fuse_lookup(f, parent, name, nl, e) : ERANGE;
}

/* A name that was removed or replaced: a later lookup gets a new node. */
void fuse_unhash_child(struct fuse_srv *f, uint64_t parent, const char *name)
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

/*
 * LOOKUP. A name that does not exist is answered as an entry with node 0
 * and the entry lifetime, which the guest keeps as a negative dentry for
 * FUSE_SRV_TTL_MS (a plain ENOENT is not cached at all, so every stat or
 * open(O_CREAT) of a new name would ask again). A denial stays an error:
 * each one reaches the gateway and has its row.
 */
static int fuse_op_lookup(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
{
	struct fuse_entry_out *e = fuse_put(o, sizeof(*e));
	int err;

	if (!e)
		return ERANGE;
	err = fuse_lookup(f, q->h.nodeid, q->name, q->name_len, e);
	if (err != ENOENT)
		return err;
	memset(e, 0, sizeof(*e));
	e->entry_valid = FUSE_SRV_TTL_MS / 1000;
	e->entry_valid_nsec = (FUSE_SRV_TTL_MS % 1000) * 1000000u;
	f->st.neg_lookups++;
	return 0;
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
		return fuse_op_lookup(f, q, o);
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
		/* Nothing is buffered here (writes go to the file at once): ENOSYS
		 * makes the kernel stop sending FLUSH, one round trip per close. */
		return ENOSYS;
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

size_t fuse_srv_handle(struct fuse_srv *f, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
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
	f->st.ops[AGW_MIN(q.h.opcode, FUSE_SRV_OPS - 1u)]++;
	if (f->ops_every && f->st.requests % f->ops_every == 0)
		fuse_ops_log(f);
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
