// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 9P2000.L encoder and decoder. One function, p9_xfer_body(), describes each
 * message's layout once and runs in either direction through a cursor, so
 * encoding and decoding cannot disagree. The cursor records the first
 * overrun and every later access becomes a no-op; the caller checks once.
 */
#include "gateway/fs/p9_msg.h"

#include <string.h>

#include "agw.h"

struct p9_cur {
	const uint8_t *rp; /* decode: input */
	uint8_t *wp;	   /* encode: output */
	size_t len, off;
	bool enc;
	int err;
};

static bool cur_room(struct p9_cur *c, size_t n)
{
	if (c->err)
		return false;
	if (n > c->len - c->off) {
		c->err = c->enc ? -AGW_ETOOBIG : -AGW_EPROTO;
		return false;
	}
	return true;
}

static void x_uint(struct p9_cur *c, uint64_t *v, unsigned n)
{
	if (!cur_room(c, n))
		return;
	if (c->enc) {
		for (unsigned i = 0; i < n; i++)
			c->wp[c->off + i] = (uint8_t)(*v >> (8 * i));
	} else {
		uint64_t x = 0;

		for (unsigned i = 0; i < n; i++)
			x |= (uint64_t)c->rp[c->off + i] << (8 * i);
		*v = x;
	}
	c->off += n;
}

static void x8(struct p9_cur *c, uint8_t *v)
{
	uint64_t x = *v;

	x_uint(c, &x, 1);
	*v = (uint8_t)x;
}

static void x16(struct p9_cur *c, uint16_t *v)
{
	uint64_t x = *v;

	x_uint(c, &x, 2);
	*v = (uint16_t)x;
}

static void x32(struct p9_cur *c, uint32_t *v)
{
	uint64_t x = *v;

	x_uint(c, &x, 4);
	*v = (uint32_t)x;
}

static void x64(struct p9_cur *c, uint64_t *v)
{
	x_uint(c, v, 8);
}

static void x_bytes(struct p9_cur *c, const uint8_t **p, size_t n)
{
	if (!cur_room(c, n))
		return;
	if (c->enc) {
		if (n)
			memcpy(c->wp + c->off, *p, n);
	} else {
		*p = c->rp + c->off;
	}
	c->off += n;
}

static void xstr(struct p9_cur *c, struct p9_str *s)
{
	const uint8_t *p = (const uint8_t *)s->s;

	x16(c, &s->len);
	if (c->enc && s->len && !s->s) {
		c->err = -AGW_EINVAL;
		return;
	}
	x_bytes(c, &p, s->len);
	s->s = (const char *)p;
}

static void xqid(struct p9_cur *c, struct p9_qid *q)
{
	x8(c, &q->type);
	x32(c, &q->version);
	x64(c, &q->path);
}

static void xlock(struct p9_cur *c, struct p9_lockreq *l, bool flags)
{
	x8(c, &l->type);
	if (flags)
		x32(c, &l->flags);
	x64(c, &l->start);
	x64(c, &l->length);
	x32(c, &l->proc_id);
	xstr(c, &l->client_id);
}

static void xcount(struct p9_cur *c, uint16_t *n, unsigned max)
{
	x16(c, n);
	if (!c->err && *n > max)
		c->err = c->enc ? -AGW_EINVAL : -AGW_EPROTO;
}

/* Returns 0 if the type is known (c->err tells how it went), -AGW_ENOTFOUND otherwise. */
static int p9_xfer_body(struct p9_cur *c, struct p9_msg *m)
{
	switch (m->type) {
	case P9_TVERSION:
	case P9_RVERSION:
		x32(c, &m->u.version.msize);
		xstr(c, &m->u.version.version);
		break;
	case P9_TAUTH:
		x32(c, &m->u.auth.afid);
		xstr(c, &m->u.auth.uname);
		xstr(c, &m->u.auth.aname);
		x32(c, &m->u.auth.n_uname);
		break;
	case P9_TATTACH:
		x32(c, &m->u.attach.fid);
		x32(c, &m->u.attach.afid);
		xstr(c, &m->u.attach.uname);
		xstr(c, &m->u.attach.aname);
		x32(c, &m->u.attach.n_uname);
		break;
	case P9_RAUTH:
	case P9_RATTACH:
	case P9_RSYMLINK:
	case P9_RMKNOD:
	case P9_RMKDIR:
		xqid(c, &m->u.qid);
		break;
	case P9_RLERROR:
		x32(c, &m->u.lerror.ecode);
		break;
	case P9_TFLUSH:
		x16(c, &m->u.flush.oldtag);
		break;
	case P9_TWALK:
		x32(c, &m->u.walk.fid);
		x32(c, &m->u.walk.newfid);
		xcount(c, &m->u.walk.nwname, P9_MAXWELEM);
		for (unsigned i = 0; !c->err && i < m->u.walk.nwname; i++)
			xstr(c, &m->u.walk.wname[i]);
		break;
	case P9_RWALK:
		xcount(c, &m->u.rwalk.nwqid, P9_MAXWELEM);
		for (unsigned i = 0; !c->err && i < m->u.rwalk.nwqid; i++)
			xqid(c, &m->u.rwalk.wqid[i]);
		break;
	case P9_TREAD:
	case P9_TREADDIR:
		x32(c, &m->u.read.fid);
		x64(c, &m->u.read.offset);
		x32(c, &m->u.read.count);
		break;
	case P9_RREAD:
	case P9_RREADDIR:
		x32(c, &m->u.data.count);
		x_bytes(c, &m->u.data.data, m->u.data.count);
		break;
	case P9_TWRITE:
		x32(c, &m->u.write.fid);
		x64(c, &m->u.write.offset);
		x32(c, &m->u.write.count);
		x_bytes(c, &m->u.write.data, m->u.write.count);
		break;
	case P9_RWRITE:
		x32(c, &m->u.rwrite.count);
		break;
	case P9_TCLUNK:
	case P9_TREMOVE:
	case P9_TSTATFS:
	case P9_TREADLINK:
		x32(c, &m->u.fid.fid);
		break;
	case P9_TFSYNC:
		x32(c, &m->u.fsync.fid);
		/* Older clients send only the fid; newer ones add datasync. */
		if (c->enc || c->len - c->off >= 4)
			x32(c, &m->u.fsync.datasync);
		else
			m->u.fsync.datasync = 0;
		break;
	case P9_RSTATFS:
		x32(c, &m->u.statfs.type);
		x32(c, &m->u.statfs.bsize);
		x64(c, &m->u.statfs.blocks);
		x64(c, &m->u.statfs.bfree);
		x64(c, &m->u.statfs.bavail);
		x64(c, &m->u.statfs.files);
		x64(c, &m->u.statfs.ffree);
		x64(c, &m->u.statfs.fsid);
		x32(c, &m->u.statfs.namelen);
		break;
	case P9_TLOPEN:
		x32(c, &m->u.lopen.fid);
		x32(c, &m->u.lopen.flags);
		break;
	case P9_RLOPEN:
	case P9_RLCREATE:
		xqid(c, &m->u.ropen.qid);
		x32(c, &m->u.ropen.iounit);
		break;
	case P9_TLCREATE:
		x32(c, &m->u.lcreate.fid);
		xstr(c, &m->u.lcreate.name);
		x32(c, &m->u.lcreate.flags);
		x32(c, &m->u.lcreate.mode);
		x32(c, &m->u.lcreate.gid);
		break;
	case P9_TSYMLINK:
		x32(c, &m->u.symlink.fid);
		xstr(c, &m->u.symlink.name);
		xstr(c, &m->u.symlink.target);
		x32(c, &m->u.symlink.gid);
		break;
	case P9_TMKNOD:
		x32(c, &m->u.mknod.dfid);
		xstr(c, &m->u.mknod.name);
		x32(c, &m->u.mknod.mode);
		x32(c, &m->u.mknod.major);
		x32(c, &m->u.mknod.minor);
		x32(c, &m->u.mknod.gid);
		break;
	case P9_TRENAME:
		x32(c, &m->u.rename.fid);
		x32(c, &m->u.rename.dfid);
		xstr(c, &m->u.rename.name);
		break;
	case P9_RREADLINK:
		xstr(c, &m->u.rreadlink.target);
		break;
	case P9_TGETATTR:
		x32(c, &m->u.getattr.fid);
		x64(c, &m->u.getattr.mask);
		break;
	case P9_RGETATTR: {
		struct p9_attr *a = &m->u.rgetattr.a;

		x64(c, &m->u.rgetattr.valid);
		xqid(c, &m->u.rgetattr.qid);
		x32(c, &a->mode);
		x32(c, &a->uid);
		x32(c, &a->gid);
		x64(c, &a->nlink);
		x64(c, &a->rdev);
		x64(c, &a->size);
		x64(c, &a->blksize);
		x64(c, &a->blocks);
		x64(c, &a->atime_sec);
		x64(c, &a->atime_nsec);
		x64(c, &a->mtime_sec);
		x64(c, &a->mtime_nsec);
		x64(c, &a->ctime_sec);
		x64(c, &a->ctime_nsec);
		x64(c, &a->btime_sec);
		x64(c, &a->btime_nsec);
		x64(c, &a->gen);
		x64(c, &a->data_version);
		break;
	}
	case P9_TSETATTR:
		x32(c, &m->u.setattr.fid);
		x32(c, &m->u.setattr.valid);
		x32(c, &m->u.setattr.mode);
		x32(c, &m->u.setattr.uid);
		x32(c, &m->u.setattr.gid);
		x64(c, &m->u.setattr.size);
		x64(c, &m->u.setattr.atime_sec);
		x64(c, &m->u.setattr.atime_nsec);
		x64(c, &m->u.setattr.mtime_sec);
		x64(c, &m->u.setattr.mtime_nsec);
		break;
	case P9_TXATTRWALK:
		x32(c, &m->u.xattrwalk.fid);
		x32(c, &m->u.xattrwalk.newfid);
		xstr(c, &m->u.xattrwalk.name);
		break;
	case P9_RXATTRWALK:
		x64(c, &m->u.rxattrwalk.size);
		break;
	case P9_TXATTRCREATE:
		x32(c, &m->u.xattrcreate.fid);
		xstr(c, &m->u.xattrcreate.name);
		x64(c, &m->u.xattrcreate.size);
		x32(c, &m->u.xattrcreate.flags);
		break;
	case P9_TLOCK:
		x32(c, &m->u.lock.fid);
		xlock(c, &m->u.lock.l, true);
		break;
	case P9_TGETLOCK:
		x32(c, &m->u.lock.fid);
		xlock(c, &m->u.lock.l, false);
		break;
	case P9_RLOCK:
		x8(c, &m->u.rlock.status);
		break;
	case P9_RGETLOCK:
		xlock(c, &m->u.rgetlock, false);
		break;
	case P9_TLINK:
		x32(c, &m->u.link.dfid);
		x32(c, &m->u.link.fid);
		xstr(c, &m->u.link.name);
		break;
	case P9_TMKDIR:
		x32(c, &m->u.mkdir.dfid);
		xstr(c, &m->u.mkdir.name);
		x32(c, &m->u.mkdir.mode);
		x32(c, &m->u.mkdir.gid);
		break;
	case P9_TRENAMEAT:
		x32(c, &m->u.renameat.olddfid);
		xstr(c, &m->u.renameat.oldname);
		x32(c, &m->u.renameat.newdfid);
		xstr(c, &m->u.renameat.newname);
		break;
	case P9_TUNLINKAT:
		x32(c, &m->u.unlinkat.dfid);
		xstr(c, &m->u.unlinkat.name);
		x32(c, &m->u.unlinkat.flags);
		break;
	case P9_RFLUSH:
	case P9_RCLUNK:
	case P9_RREMOVE:
	case P9_RFSYNC:
	case P9_RRENAME:
	case P9_RSETATTR:
	case P9_RXATTRCREATE:
	case P9_RLINK:
	case P9_RRENAMEAT:
	case P9_RUNLINKAT:
		break;
	default:
		return -AGW_ENOTFOUND;
	}
	return 0;
}

int p9_frame(const uint8_t *buf, size_t len, uint32_t msize, uint32_t *size)
{
	uint32_t n;

	*size = 0;
	if (len < 4)
		return -AGW_ETRUNC;
	n = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 |
	    (uint32_t)buf[3] << 24;
	if (n < P9_HDRSZ || n > msize)
		return -AGW_EPROTO;
	*size = n;
	return 0;
}

int p9_decode(const uint8_t *buf, size_t len, struct p9_msg *m)
{
	struct p9_cur c = {.rp = buf, .len = len};
	uint32_t size = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (len < P9_HDRSZ)
		return -AGW_EPROTO;
	x32(&c, &size);
	if (size != len)
		return -AGW_EPROTO;
	x8(&c, &m->type);
	x16(&c, &m->tag);
	rc = p9_xfer_body(&c, m);
	if (rc < 0)
		return rc;
	if (c.err)
		return c.err;
	if (c.off != len)
		return -AGW_EPROTO;
	return 0;
}

int p9_encode(const struct p9_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	struct p9_cur c = {.wp = buf, .len = cap, .enc = true, .off = 4};
	struct p9_msg tmp = *m; /* the cursor takes non-const pointers */
	uint64_t size;
	int rc;

	*len = 0;
	if (cap < P9_HDRSZ)
		return -AGW_ETOOBIG;
	x8(&c, &tmp.type);
	x16(&c, &tmp.tag);
	rc = p9_xfer_body(&c, &tmp);
	if (rc < 0)
		return -AGW_EINVAL;
	if (c.err)
		return c.err;
	if (c.off > UINT32_MAX)
		return -AGW_ETOOBIG;
	size = c.off;
	c.off = 0;
	x_uint(&c, &size, 4);
	*len = (size_t)size;
	return 0;
}

int p9_dirent_put(uint8_t *buf, size_t cap, size_t *off, const struct p9_qid *qid, uint64_t offset,
		  uint8_t type, const char *name, size_t namelen)
{
	struct p9_cur c = {.wp = buf, .len = cap, .enc = true, .off = *off};
	struct p9_qid q = *qid;
	struct p9_str s = {.s = name, .len = (uint16_t)namelen};

	if (namelen > UINT16_MAX)
		return -AGW_EINVAL;
	xqid(&c, &q);
	x64(&c, &offset);
	x8(&c, &type);
	xstr(&c, &s);
	if (c.err)
		return c.err;
	*off = c.off;
	return 0;
}

int p9_dirent_next(const uint8_t *buf, size_t len, size_t *off, struct p9_qid *qid,
		   uint64_t *offset, uint8_t *type, struct p9_str *name)
{
	struct p9_cur c = {.rp = buf, .len = len, .off = *off};

	if (*off >= len)
		return 0;
	xqid(&c, qid);
	x64(&c, offset);
	x8(&c, type);
	xstr(&c, name);
	if (c.err)
		return -AGW_EPROTO;
	*off = c.off;
	return 1;
}

bool p9_str_eq(struct p9_str s, const char *lit)
{
	size_t n = strlen(lit);

	return n == s.len && (n == 0 || memcmp(s.s, lit, n) == 0);
}

const char *p9_type_name(uint8_t type)
{
	static const struct {
		uint8_t t;
		const char *name;
	} names[] = {
	    /* clang-format off */
		{P9_TLERROR, "Tlerror"},     {P9_RLERROR, "Rlerror"},
		{P9_TSTATFS, "Tstatfs"},     {P9_RSTATFS, "Rstatfs"},
		{P9_TLOPEN, "Tlopen"},	     {P9_RLOPEN, "Rlopen"},
		{P9_TLCREATE, "Tlcreate"},   {P9_RLCREATE, "Rlcreate"},
		{P9_TSYMLINK, "Tsymlink"},   {P9_RSYMLINK, "Rsymlink"},
		{P9_TMKNOD, "Tmknod"},	     {P9_RMKNOD, "Rmknod"},
		{P9_TRENAME, "Trename"},     {P9_RRENAME, "Rrename"},
		{P9_TREADLINK, "Treadlink"}, {P9_RREADLINK, "Rreadlink"},
		{P9_TGETATTR, "Tgetattr"},   {P9_RGETATTR, "Rgetattr"},
		{P9_TSETATTR, "Tsetattr"},   {P9_RSETATTR, "Rsetattr"},
		{P9_TXATTRWALK, "Txattrwalk"}, {P9_RXATTRWALK, "Rxattrwalk"},
		{P9_TXATTRCREATE, "Txattrcreate"}, {P9_RXATTRCREATE, "Rxattrcreate"},
		{P9_TREADDIR, "Treaddir"},   {P9_RREADDIR, "Rreaddir"},
		{P9_TFSYNC, "Tfsync"},	     {P9_RFSYNC, "Rfsync"},
		{P9_TLOCK, "Tlock"},	     {P9_RLOCK, "Rlock"},
		{P9_TGETLOCK, "Tgetlock"},   {P9_RGETLOCK, "Rgetlock"},
		{P9_TLINK, "Tlink"},	     {P9_RLINK, "Rlink"},
		{P9_TMKDIR, "Tmkdir"},	     {P9_RMKDIR, "Rmkdir"},
		{P9_TRENAMEAT, "Trenameat"}, {P9_RRENAMEAT, "Rrenameat"},
		{P9_TUNLINKAT, "Tunlinkat"}, {P9_RUNLINKAT, "Runlinkat"},
		{P9_TVERSION, "Tversion"},   {P9_RVERSION, "Rversion"},
		{P9_TAUTH, "Tauth"},	     {P9_RAUTH, "Rauth"},
		{P9_TATTACH, "Tattach"},     {P9_RATTACH, "Rattach"},
		{P9_TFLUSH, "Tflush"},	     {P9_RFLUSH, "Rflush"},
		{P9_TWALK, "Twalk"},	     {P9_RWALK, "Rwalk"},
		{P9_TREAD, "Tread"},	     {P9_RREAD, "Rread"},
		{P9_TWRITE, "Twrite"},	     {P9_RWRITE, "Rwrite"},
		{P9_TCLUNK, "Tclunk"},	     {P9_RCLUNK, "Rclunk"},
		{P9_TREMOVE, "Tremove"},     {P9_RREMOVE, "Rremove"},
	    /* clang-format on */
	};

	for (size_t i = 0; i < AGW_ARRAY_LEN(names); i++)
		if (names[i].t == type)
			return names[i].name;
	return "unknown";
}
