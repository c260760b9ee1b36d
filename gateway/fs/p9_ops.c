// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The 9P2000.L session and I/O operations (version, attach, walk, lopen,
 * lcreate, read, write, readdir, fsync, clunk) and the dispatch of every
 * request type. Each fid names a workspace-relative path, re-resolved from
 * the root fd on every operation (p9_path.c), so no symlink is ever
 * followed on the host (9P clients resolve symlinks themselves through
 * readlink) and the path the policy sees is the path that is used. Reads
 * and writes are summed per open fid and audited at clunk (p9_srv.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agw.h"
#include "gateway/fs/p9_int.h"
#include "log.h"

static unsigned open_acc(uint32_t flags)
{
	unsigned acc = 0;

	switch (flags & P9_DOTL_ACCMODE) {
	case P9_DOTL_RDONLY:
		acc = POL_ACC_READ;
		break;
	case P9_DOTL_WRONLY:
		acc = POL_ACC_WRITE;
		break;
	default:
		acc = POL_ACC_READ | POL_ACC_WRITE;
		break;
	}
	if (flags & P9_DOTL_TRUNC)
		acc |= POL_ACC_WRITE;
	return acc;
}

static int open_flags(uint32_t flags)
{
	int f = (flags & P9_DOTL_ACCMODE) == P9_DOTL_RDONLY   ? O_RDONLY
		: (flags & P9_DOTL_ACCMODE) == P9_DOTL_WRONLY ? O_WRONLY
							      : O_RDWR;

	if (flags & P9_DOTL_TRUNC)
		f |= O_TRUNC;
	if (flags & P9_DOTL_APPEND)
		f |= O_APPEND;
	if (flags & P9_DOTL_DSYNC)
		f |= O_DSYNC;
	if ((flags & P9_DOTL_SYNC) == P9_DOTL_SYNC)
		f |= O_SYNC;
	return f | O_NOFOLLOW | O_NOCTTY;
}

static void fid_opened(struct p9_conn *c, struct p9_fid *f, int fd, unsigned acc, bool isdir,
		       const struct pol_decision *d)
{
	f->fd = fd;
	f->acc = acc;
	f->isdir = isdir;
	f->verdict = d->verdict;
	snprintf(f->rule, sizeof(f->rule), "%s", d->rule);
	f->rd = f->wr = 0;
	f->t_open = agw_mono_us();
}

/* session */

static int op_version(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	uint32_t ms = AGW_MIN(m->u.version.msize, c->srv->max_msize);

	r->type = P9_RVERSION;
	r->u.version.msize = ms;
	if (ms < P9_MSIZE_MIN || !p9_str_eq(m->u.version.version, P9_VERSION_L)) {
		r->u.version.version = (struct p9_str){"unknown", 7};
		c->new_msize = 0;
	} else {
		r->u.version.version = (struct p9_str){P9_VERSION_L, sizeof(P9_VERSION_L) - 1};
		c->new_msize = ms;
	}
	return 0;
}

static int op_attach(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	const struct pol_decision allow = {.verdict = POL_ALLOW};
	struct p9_fid *f;
	struct stat st = {0};
	char detail[320], aname[256];
	int err;

	snprintf(aname, sizeof(aname), "%.*s", (int)AGW_MIN(m->u.attach.aname.len, 255),
		 m->u.attach.aname.s ? m->u.attach.aname.s : "");
	err = p9_ws_stat(c, "attach", "", &st);
	if (err)
		return err;
	p9_json_str(detail, sizeof(detail), "aname", aname);
	if (p9_gate(c, "attach", ".", &allow, detail))
		return EACCES;
	err = p9_fid_add(c, m->u.attach.fid, "", &f);
	if (err)
		return err;
	r->type = P9_RATTACH;
	p9_qid_of(&st, &r->u.qid);
	return 0;
}

static int op_walk(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.walk.fid), *nf;
	char path[P9_PATH_MAX], name[P9_NAME_MAX + 1];
	uint16_t n = 0;
	int err = 0;

	if (!f)
		return EBADF;
	if (m->u.walk.newfid != m->u.walk.fid && p9_fid_get(c, m->u.walk.newfid))
		return EBADF;
	/* A rename above the fid can make its path longer than any we build;
	 * cutting it would name some other file. */
	if (strlen(f->path) >= sizeof(path))
		return ENAMETOOLONG;
	memcpy(path, f->path, strlen(f->path) + 1);
	r->type = P9_RWALK;
	for (; n < m->u.walk.nwname; n++) {
		struct p9_str w = m->u.walk.wname[n];
		struct stat st = {0};

		if (p9_str_eq(w, ".")) {
			/* the same directory: nothing to change */
		} else if (p9_str_eq(w, "..")) {
			char *slash = strrchr(path, '/');

			if (!path[0]) {
				c->srv->st.denials++;
				p9_emit(c, "walk", "..", "deny", NULL,
					"'..' above the workspace root", -1, -1, -1, NULL);
				err = EACCES;
				break;
			}
			if (slash)
				*slash = 0;
			else
				path[0] = 0;
		} else {
			char np[P9_PATH_MAX];

			err = p9_name_get(c, "walk", path, w, name);
			if (!err)
				err = p9_join(np, path, name);
			if (err)
				break;
			memcpy(path, np, sizeof(path));
		}
		err = p9_ws_stat(c, "walk", path, &st);
		if (err)
			break;
		p9_qid_of(&st, &r->u.rwalk.wqid[n]);
	}
	r->u.rwalk.nwqid = n;
	if (n == 0 && m->u.walk.nwname > 0)
		return err;
	if (n < m->u.walk.nwname)
		return 0; /* partial walk: newfid is not created */
	if (m->u.walk.newfid == m->u.walk.fid) {
		char *p = strdup(path);

		if (!p)
			return ENOMEM;
		free(f->path);
		f->path = p;
		return 0;
	}
	return p9_fid_add(c, m->u.walk.newfid, path, &nf);
}

/* I/O */

static int op_lopen(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.lopen.fid);
	struct pol_decision d;
	struct stat st = {0};
	off_t size0;
	unsigned acc;
	int err, fd = -1, fl;
	bool isdir;

	if (!f)
		return EBADF;
	if (f->fd >= 0)
		return EINVAL;
	err = p9_ws_stat(c, "open", f->path, &st);
	if (err)
		return err;
	isdir = S_ISDIR(st.st_mode);
	size0 = st.st_size;
	if (S_ISLNK(st.st_mode))
		return ELOOP;
	if (!isdir && !S_ISREG(st.st_mode)) {
		c->srv->st.denials++;
		p9_emit(c, "open", p9_shown(f->path), "deny", NULL,
			"not a regular file or directory", -1, -1, -1, NULL);
		return EACCES;
	}
	acc = isdir ? POL_ACC_READ : open_acc(m->u.lopen.flags);
	if (isdir && (acc & POL_ACC_WRITE))
		return EISDIR;
	err = p9_check(c, isdir ? "readdir" : "open", f->path, acc, false, &d);
	if (!err)
		err = p9_check_nlink(c, "open", f->path, &st, acc);
	if (err)
		return err;
	fl = isdir ? O_RDONLY | O_DIRECTORY : open_flags(m->u.lopen.flags) | O_NONBLOCK;
	fd = p9_ws_open(c->srv->root_fd, f->path, fl, 0);
	if (fd < 0)
		return p9_ws_err(c, "open", f->path, -fd);
	if (fstat(fd, &st) < 0 || (isdir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		close(fd);
		return EACCES; /* swapped under us */
	}
	if (!isdir) {
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		p9_quota_add(c->srv, (int64_t)st.st_size - (int64_t)size0, 0); /* O_TRUNC */
	}
	fid_opened(c, f, fd, acc, isdir, &d);
	f->append = !isdir && (m->u.lopen.flags & P9_DOTL_APPEND);
	r->type = P9_RLOPEN;
	p9_qid_of(&st, &r->u.ropen.qid);
	r->u.ropen.iounit = c->msize - P9_IOHDRSZ;
	return 0;
}

static int op_lcreate(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.lcreate.fid);
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX], *np = NULL;
	struct pol_decision d;
	struct p9_loc l = {.dirfd = -1};
	struct stat st = {0};
	unsigned acc = POL_ACC_CREATE | open_acc(m->u.lcreate.flags);
	int err, fd = -1, fl;
	bool existed;
	off_t size0;

	if (!f)
		return EBADF;
	if (f->fd >= 0)
		return EINVAL;
	err = p9_child_path(c, "create", m->u.lcreate.fid, m->u.lcreate.name, name, path);
	if (!err)
		err = p9_check(c, "create", path, acc, false, &d);
	if (err)
		return err;
	np = strdup(path);
	if (!np)
		return ENOMEM;
	err = p9_loc_open(c, "create", path, &l);
	if (err)
		goto out;
	/* Without O_EXCL an existing file is opened: its other names count. */
	existed = fstatat(l.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (existed && (err = p9_check_nlink(c, "create", path, &st, acc)))
		goto out;
	size0 = existed && S_ISREG(st.st_mode) ? st.st_size : 0;
	if (!existed && (err = p9_quota_check(c, "create", path, 0, 1)))
		goto out;
	err = p9_act(c, "create", path, &d, NULL);
	if (err)
		goto out;
	fl = open_flags(m->u.lcreate.flags) | O_CREAT | O_NONBLOCK;
	if (m->u.lcreate.flags & P9_DOTL_EXCL)
		fl |= O_EXCL;
	fd = p9_ws_open(l.dirfd, name, fl, m->u.lcreate.mode & 0777);
	if (fd < 0) {
		err = p9_act_failed(c, "create", path, -fd == ELOOP ? EEXIST : -fd);
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		err = EACCES;
		goto out;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	p9_quota_add(c->srv, (int64_t)st.st_size - (int64_t)size0, existed ? 0 : 1);
	p9_own(c->srv, l.dirfd, name);
	free(f->path);
	f->path = np;
	np = NULL;
	fid_opened(c, f, fd, acc, false, &d);
	f->append = (m->u.lcreate.flags & P9_DOTL_APPEND) != 0;
	r->type = P9_RLCREATE;
	p9_qid_of(&st, &r->u.ropen.qid);
	r->u.ropen.iounit = c->msize - P9_IOHDRSZ;
out:
	free(np);
	p9_loc_close(&l);
	return err;
}

static int op_read(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.read.fid);
	uint32_t count = AGW_MIN(m->u.read.count, c->msize - P9_HDRSZ - 4);
	ssize_t n;

	if (!f || f->fd < 0)
		return EBADF;
	if (f->isdir)
		return EISDIR;
	if (m->u.read.offset > INT64_MAX)
		return EINVAL;
	n = pread(f->fd, c->scratch, count, (off_t)m->u.read.offset);
	if (n < 0)
		return errno;
	f->rd += (uint64_t)n;
	r->type = P9_RREAD;
	r->u.data.count = (uint32_t)n;
	r->u.data.data = c->scratch;
	return 0;
}

static int op_write(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.write.fid);
	struct stat st;
	uint64_t start, end;
	ssize_t n;
	int err;

	if (!f || f->fd < 0)
		return EBADF;
	if (f->isdir)
		return EISDIR;
	if (m->u.write.offset > INT64_MAX || m->u.write.count > INT64_MAX - m->u.write.offset)
		return EINVAL;
	if (fstat(f->fd, &st) < 0)
		return errno;
	/* O_APPEND writes at the end whatever the offset says. */
	start = f->append ? (uint64_t)st.st_size : m->u.write.offset;
	end = start + m->u.write.count;
	if (end > (uint64_t)st.st_size &&
	    (err = p9_quota_check(c, "write", f->path, end - (uint64_t)st.st_size, 0)))
		return err;
	n = pwrite(f->fd, m->u.write.data, m->u.write.count, (off_t)m->u.write.offset);
	if (n < 0)
		return errno;
	if (start + (uint64_t)n > (uint64_t)st.st_size)
		p9_quota_add(c->srv, (int64_t)(start + (uint64_t)n - (uint64_t)st.st_size), 0);
	f->wr += (uint64_t)n;
	r->type = P9_RWRITE;
	r->u.rwrite.count = (uint32_t)n;
	return 0;
}

static int op_readdir(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.read.fid);
	uint32_t count = AGW_MIN(m->u.read.count, c->msize - P9_HDRSZ - 4);
	size_t dsz = AGW_MIN((size_t)count, 65536u), off = 0;
	char *dbuf = NULL;
	ssize_t n;
	int err = 0;

	if (!f || f->fd < 0)
		return EBADF;
	if (!f->isdir)
		return ENOTDIR;
	if (lseek(f->fd, (off_t)m->u.read.offset, SEEK_SET) < 0)
		return errno;
	dbuf = malloc(dsz);
	if (!dbuf)
		return ENOMEM;
	n = getdents64(f->fd, dbuf, dsz);
	if (n < 0) {
		err = errno;
		goto out;
	}
	for (ssize_t p = 0; p < n;) {
		struct dirent64 *de = (struct dirent64 *)(void *)(dbuf + p);
		struct p9_qid q = {.path = de->d_ino};

		q.type = de->d_type == DT_DIR ? P9_QTDIR : de->d_type == DT_LNK ? P9_QTSYMLINK : 0;
		if (p9_dirent_put(c->scratch, count, &off, &q, (uint64_t)de->d_off, de->d_type,
				  de->d_name, strlen(de->d_name)) < 0) {
			if (off == 0)
				err = EINVAL; /* count too small for one entry */
			break;
		}
		p += de->d_reclen;
	}
	r->type = P9_RREADDIR;
	r->u.data.count = (uint32_t)off;
	r->u.data.data = c->scratch;
out:
	free(dbuf);
	return err;
}

static int op_fsync(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.fsync.fid);

	if (!f)
		return EBADF;
	if (f->fd >= 0 && (m->u.fsync.datasync ? fdatasync(f->fd) : fsync(f->fd)) < 0)
		return errno;
	r->type = P9_RFSYNC;
	return 0;
}

static int op_clunk(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	if (!p9_fid_get(c, m->u.fid.fid))
		return EBADF;
	p9_fid_clunk(c, m->u.fid.fid);
	r->type = P9_RCLUNK;
	return 0;
}

int p9_op_dispatch(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	switch (m->type) {
	case P9_TVERSION:
		return op_version(c, m, r);
	case P9_TAUTH:
		return ENOENT; /* no authentication: attach directly */
	case P9_TATTACH:
		return op_attach(c, m, r);
	case P9_TFLUSH:
		/* Requests are answered in order, except those held for a
		 * person: a flushed one is dropped unanswered. */
		p9_held_flush(c, m->u.flush.oldtag);
		r->type = P9_RFLUSH;
		return 0;
	case P9_TWALK:
		return op_walk(c, m, r);
	case P9_TLOPEN:
		return op_lopen(c, m, r);
	case P9_TLCREATE:
		return op_lcreate(c, m, r);
	case P9_TREAD:
		return op_read(c, m, r);
	case P9_TWRITE:
		return op_write(c, m, r);
	case P9_TREADDIR:
		return op_readdir(c, m, r);
	case P9_TFSYNC:
		return op_fsync(c, m, r);
	case P9_TCLUNK:
		return op_clunk(c, m, r);
	case P9_TREMOVE:
		return p9_op_remove(c, m, r);
	case P9_TGETATTR:
		return p9_op_getattr(c, m, r);
	case P9_TSETATTR:
		return p9_op_setattr(c, m, r);
	case P9_TSTATFS:
		return p9_op_statfs(c, m, r);
	case P9_TREADLINK:
		return p9_op_readlink(c, m, r);
	case P9_TMKDIR:
		return p9_op_mkdir(c, m, r);
	case P9_TSYMLINK:
		return p9_op_symlink(c, m, r);
	case P9_TLINK:
		return p9_op_link(c, m, r);
	case P9_TRENAME:
		return p9_op_rename(c, m, r);
	case P9_TRENAMEAT:
		return p9_op_renameat(c, m, r);
	case P9_TUNLINKAT:
		return p9_op_unlinkat(c, m, r);
	case P9_TMKNOD:
		return p9_op_mknod(c, m, r);
	case P9_TLOCK:
	case P9_TGETLOCK:
		return p9_op_lock(c, m, r);
	case P9_TXATTRWALK:
	case P9_TXATTRCREATE:
		return EOPNOTSUPP; /* no extended attributes are exported */
	default:
		return EOPNOTSUPP;
	}
}
