// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The FUSE operations of the virtio-fs server: each maps its request onto
 * 9P requests (fuse_call) and lays out the reply. Also the caching
 * decisions: entry and attribute lifetimes (FUSE_SRV_TTL_MS) and whether
 * an open keeps the guest's page cache (only while the host file looks as
 * the last open saw it). docs/fs.md has the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "agw.h"
#include "gateway/fs/fuse_int.h"

int fuse_op_init(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

int fuse_op_getattr(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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
	if ((in.getattr_flags & FUSE_GETATTR_FH) && in.fh <= UINT32_MAX &&
	    p9_fid_get(f->c, (uint32_t)in.fh))
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

int fuse_op_setattr(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

int fuse_op_readlink(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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
int fuse_op_make(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

int fuse_op_unlink(struct fuse_srv *f, const struct fuse_req *q)
{
	struct fuse_node *p = fuse_node_get(f, q->h.nodeid);
	struct p9_msg m = {.type = P9_TUNLINKAT}, r;
	int err;

	if (!p)
		return ESTALE;
	m.u.unlinkat.dfid = p->fid;
	m.u.unlinkat.name =
	    (struct p9_str){q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
	m.u.unlinkat.flags = q->h.opcode == FUSE_RMDIR ? P9_AT_REMOVEDIR : 0;
	err = fuse_call(f, &m, &r);
	if (!err)
		fuse_unhash_child(f, q->h.nodeid, q->name);
	return err;
}

int fuse_op_rename(struct fuse_srv *f, const struct fuse_req *q)
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
	m.u.renameat.oldname =
	    (struct p9_str){q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
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
	return flags &
	       (P9_DOTL_ACCMODE | P9_DOTL_TRUNC | P9_DOTL_APPEND | P9_DOTL_DSYNC | P9_DOTL_SYNC);
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

int fuse_op_open(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

int fuse_op_create(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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
	m.u.lcreate.name =
	    (struct p9_str){q->name, (uint16_t)AGW_MIN(q->name_len, P9_NAME_MAX + 1)};
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

int fuse_op_read(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

int fuse_op_write(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

int fuse_op_release(struct fuse_srv *f, const struct fuse_req *q)
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

int fuse_op_fsync(struct fuse_srv *f, const struct fuse_req *q)
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

int fuse_op_statfs(struct fuse_srv *f, struct fuse_out *o)
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
int fuse_op_readdir(struct fuse_srv *f, const struct fuse_req *q, struct fuse_out *o)
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

		if (p9_dirent_next(r.u.data.data, r.u.data.count, &off, &qid, &doff, &type,
				   &name) != 1)
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

void fuse_op_batch_forget(struct fuse_srv *f, const struct fuse_req *q)
{
	for (uint32_t i = 0; i < q->count; i++) {
		struct fuse_forget_one one;

		memcpy(&one, q->data + i * sizeof(one), sizeof(one));
		fuse_forget(f, one.nodeid, one.nlookup);
	}
}
