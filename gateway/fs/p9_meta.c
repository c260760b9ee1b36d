// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The 9P2000.L metadata operations: getattr, setattr, statfs, readlink,
 * mkdir, symlink, link, remove, unlinkat, rename, renameat, mknod (always
 * refused) and the advisory lock calls. Each checks the policy with the
 * access words of DESIGN.md before acting on a single name in an opened
 * parent directory with the *at() calls, which never follow a final symlink.
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

/* metadata */

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

/*
 * chmod of dirfd/name that never follows a final symlink, even one swapped
 * in after the caller's lstat: plain fchmodat(…, 0) would follow it out of
 * the workspace. fchmodat2 does it in the kernel; on older kernels (or
 * where seccomp refuses it) glibc opens O_PATH|O_NOFOLLOW and changes the
 * mode through /proc/self/fd. A symlink gives EOPNOTSUPP. Returns 0 or errno.
 */
static int chmod_nofollow(int dirfd, const char *name, mode_t mode)
{
	if (syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOSYS && errno != EPERM)
		return errno;
	return fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
}

static void attr_of(const struct stat *st, struct p9_msg *r)
{
	struct p9_attr *a = &r->u.rgetattr.a;

	r->u.rgetattr.valid = P9_GETATTR_BASIC;
	p9_qid_of(st, &r->u.rgetattr.qid);
	a->mode = st->st_mode;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->nlink = st->st_nlink;
	a->rdev = st->st_rdev;
	a->size = (uint64_t)st->st_size;
	a->blksize = (uint64_t)st->st_blksize;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime_sec = (uint64_t)st->st_atim.tv_sec;
	a->atime_nsec = (uint64_t)st->st_atim.tv_nsec;
	a->mtime_sec = (uint64_t)st->st_mtim.tv_sec;
	a->mtime_nsec = (uint64_t)st->st_mtim.tv_nsec;
	a->ctime_sec = (uint64_t)st->st_ctim.tv_sec;
	a->ctime_nsec = (uint64_t)st->st_ctim.tv_nsec;
}

int p9_op_getattr(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.getattr.fid);
	struct pol_decision d;
	struct stat st = {0};
	int err;

	if (!f)
		return EBADF;
	/* The root is always visible, or no client could mount. */
	if (f->path[0] && (err = p9_check(c, "getattr", f->path, POL_ACC_READ, true, &d)))
		return err;
	/* An open fid answers for the file it opened (it may be unlinked). */
	if (f->fd >= 0)
		err = fstat(f->fd, &st) < 0 ? errno : 0;
	else
		err = p9_ws_stat(c, "getattr", f->path, &st);
	if (err)
		return err;
	r->type = P9_RGETATTR;
	attr_of(&st, r);
	return 0;
}

int p9_op_setattr(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.setattr.fid);
	uint32_t v = m->u.setattr.valid;
	struct p9_loc l = {.dirfd = -1};
	struct pol_decision d;
	struct stat st = {0}, fst;
	char detail[64];
	int err, fd = -1;

	if (!f)
		return EBADF;
	err = p9_check(c, "setattr", f->path, POL_ACC_WRITE, false, &d);
	if (err)
		return err;
	snprintf(detail, sizeof(detail), "{\"valid\":%u}", v);
	if (((v & P9_SETATTR_UID) && m->u.setattr.uid != (uint32_t)c->srv->owner_uid) ||
	    ((v & P9_SETATTR_GID) && m->u.setattr.gid != (uint32_t)c->srv->owner_gid)) {
		snprintf(detail, sizeof(detail), "{\"valid\":%u,\"uid\":%d,\"gid\":%d}", v,
			 (v & P9_SETATTR_UID) ? (int)m->u.setattr.uid : -1,
			 (v & P9_SETATTR_GID) ? (int)m->u.setattr.gid : -1);
		return p9_refuse(c, "setattr", p9_shown(f->path),
				 "files belong to the workspace owner; chown to another user or "
				 "group is refused",
				 detail, EPERM);
	}
	err = p9_loc_open(c, "setattr", f->path, &l);
	if (err)
		return err == EACCES ? err : p9_act_failed(c, "setattr", f->path, err);
	if (fstatat(l.dirfd, l.base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = p9_act_failed(c, "setattr", f->path, errno);
		goto out;
	}
	/* chmod, truncate or times through one name change every name */
	err = p9_check_nlink(c, "setattr", f->path, &st, POL_ACC_WRITE);
	if (err)
		goto out;
	err = p9_act(c, "setattr", f->path, &d, detail);
	if (err)
		goto out;
	if ((v & P9_SETATTR_MODE) && !S_ISLNK(st.st_mode))
		err = chmod_nofollow(l.dirfd, l.base, m->u.setattr.mode & 01777);
	if (!err && (v & (P9_SETATTR_UID | P9_SETATTR_GID)) &&
	    fchownat(l.dirfd, l.base, (v & P9_SETATTR_UID) ? m->u.setattr.uid : (uid_t)-1,
		     (v & P9_SETATTR_GID) ? m->u.setattr.gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
		err = errno;
	if (!err && (v & P9_SETATTR_SIZE)) {
		if (m->u.setattr.size > INT64_MAX) {
			err = EINVAL;
		} else {
			fd = p9_ws_open(c->srv->root_fd, f->path,
					O_WRONLY | O_NOFOLLOW | O_NONBLOCK, 0);
			if (fd < 0)
				err = -fd;
			else if (fstat(fd, &fst) < 0)
				err = errno;
			else if (m->u.setattr.size > (uint64_t)fst.st_size &&
				 (err = p9_quota_check(c, "setattr", f->path,
						       m->u.setattr.size - (uint64_t)fst.st_size,
						       0)))
				; /* refused and audited */
			else if (ftruncate(fd, (off_t)m->u.setattr.size) < 0)
				err = errno;
			else
				p9_quota_add(c->srv, (int64_t)m->u.setattr.size - (int64_t)fst.st_size,
					     0);
		}
	}
	if (!err && (v & (P9_SETATTR_ATIME | P9_SETATTR_MTIME))) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

		if (v & P9_SETATTR_ATIME)
			ts[0] = (v & P9_SETATTR_ATIME_SET)
				    ? (struct timespec){(time_t)m->u.setattr.atime_sec,
							(long)m->u.setattr.atime_nsec}
				    : (struct timespec){.tv_nsec = UTIME_NOW};
		if (v & P9_SETATTR_MTIME)
			ts[1] = (v & P9_SETATTR_MTIME_SET)
				    ? (struct timespec){(time_t)m->u.setattr.mtime_sec,
							(long)m->u.setattr.mtime_nsec}
				    : (struct timespec){.tv_nsec = UTIME_NOW};
		if (utimensat(l.dirfd, l.base, ts, AT_SYMLINK_NOFOLLOW) < 0)
			err = errno;
	}
	if (err)
		p9_act_failed(c, "setattr", f->path, err);
	r->type = P9_RSETATTR;
out:
	if (fd >= 0)
		close(fd);
	p9_loc_close(&l);
	return err;
}

int p9_op_statfs(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct statfs sf;

	if (!p9_fid_get(c, m->u.fid.fid))
		return EBADF;
	if (fstatfs(c->srv->root_fd, &sf) < 0)
		return errno;
	r->type = P9_RSTATFS;
	r->u.statfs.type = P9_V9FS_MAGIC;
	r->u.statfs.bsize = (uint32_t)sf.f_bsize;
	r->u.statfs.blocks = sf.f_blocks;
	r->u.statfs.bfree = sf.f_bfree;
	r->u.statfs.bavail = sf.f_bavail;
	r->u.statfs.files = sf.f_files;
	r->u.statfs.ffree = sf.f_ffree;
	r->u.statfs.fsid =
	    (uint64_t)(unsigned)sf.f_fsid.__val[0] | (uint64_t)(unsigned)sf.f_fsid.__val[1] << 32;
	r->u.statfs.namelen = (uint32_t)sf.f_namelen;
	return 0;
}

int p9_op_readlink(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.fid.fid);
	struct pol_decision d;
	ssize_t n;
	int err, fd;

	if (!f)
		return EBADF;
	err = p9_check(c, "readlink", f->path, POL_ACC_READ, true, &d);
	if (err)
		return err;
	fd = p9_ws_open(c->srv->root_fd, f->path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return p9_ws_err(c, "readlink", f->path, -fd);
	n = readlinkat(fd, "", (char *)c->scratch, AGW_MIN(c->msize - 64, P9_PATH_MAX));
	err = n < 0 ? errno : 0;
	close(fd);
	if (err)
		return err;
	r->type = P9_RREADLINK;
	r->u.rreadlink.target = (struct p9_str){(const char *)c->scratch, (uint16_t)n};
	return 0;
}

/* Creating names: mkdir, symlink, link. */
int p9_op_mkdir(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX];
	struct p9_loc l = {.dirfd = -1};
	struct pol_decision d;
	struct stat st = {0};
	int err;

	err = p9_child_path(c, "mkdir", m->u.mkdir.dfid, m->u.mkdir.name, name, path);
	if (!err)
		err = p9_check(c, "mkdir", path, POL_ACC_CREATE, false, &d);
	if (!err)
		err = p9_loc_open(c, "mkdir", path, &l);
	if (!err)
		err = p9_quota_check(c, "mkdir", path, 0, 1);
	if (!err)
		err = p9_act(c, "mkdir", path, &d, NULL);
	if (err)
		goto out;
	if (mkdirat(l.dirfd, name, m->u.mkdir.mode & 01777) < 0 ||
	    fstatat(l.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = p9_act_failed(c, "mkdir", path, errno);
		goto out;
	}
	p9_quota_add(c->srv, 0, 1);
	p9_own(c->srv, l.dirfd, name);
	r->type = P9_RMKDIR;
	p9_qid_of(&st, &r->u.qid);
out:
	p9_loc_close(&l);
	return err;
}

int p9_op_symlink(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX], target[P9_PATH_MAX],
	    detail[P9_PATH_MAX + 64];
	struct p9_str t = m->u.symlink.target;
	struct p9_loc l = {.dirfd = -1};
	struct pol_decision d;
	struct stat st = {0};
	int err;

	err = p9_child_path(c, "symlink", m->u.symlink.fid, m->u.symlink.name, name, path);
	if (err)
		return err;
	if (t.len == 0 || t.len >= sizeof(target) || memchr(t.s, 0, t.len))
		return EINVAL;
	memcpy(target, t.s, t.len);
	target[t.len] = 0;
	/* The target is the link's contents: a new name with chosen contents
	 * is a create and a write (a link at .git/config pointing at a file the
	 * agent writes would be a write of .git/config). */
	err = p9_check(c, "symlink", path, POL_ACC_CREATE | POL_ACC_WRITE, false, &d);
	if (!err)
		err = p9_loc_open(c, "symlink", path, &l);
	p9_json_str(detail, sizeof(detail), "target", target);
	if (!err)
		err = p9_quota_check(c, "symlink", path, 0, 1);
	if (!err)
		err = p9_act(c, "symlink", path, &d, detail);
	if (err)
		goto out;
	if (symlinkat(target, l.dirfd, name) < 0 ||
	    fstatat(l.dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = p9_act_failed(c, "symlink", path, errno);
		goto out;
	}
	p9_quota_add(c->srv, 0, 1);
	p9_own(c->srv, l.dirfd, name);
	r->type = P9_RSYMLINK;
	p9_qid_of(&st, &r->u.qid);
out:
	p9_loc_close(&l);
	return err;
}

/*
 * A hard link is a second name for the same bytes: pol_check_fs_move
 * allows it only between names the policy decides alike for every access,
 * with create on the new name, so no name gains access through it.
 */
int p9_op_link(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *src = p9_fid_get(c, m->u.link.fid);
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX], detail[P9_PATH_MAX + 64];
	struct p9_loc ls = {.dirfd = -1}, ld = {.dirfd = -1};
	struct pol_fs_move mv = {.kind = POL_FS_LINK};
	struct pol_decision d;
	struct stat sst = {0};
	uint64_t lbytes = 0;
	int err;

	if (!src)
		return EBADF;
	if (!src->path[0])
		return p9_refuse(c, "link", ".", "the workspace root cannot be linked", NULL,
				 EPERM);
	err = p9_child_path(c, "link", m->u.link.dfid, m->u.link.name, name, path);
	if (err)
		return err;
	mv.from = src->path;
	mv.to = path;
	err = p9_check_move(c, "link", &mv, &d);
	if (!err)
		err = p9_loc_open(c, "link", src->path, &ls);
	if (!err)
		err = p9_loc_open(c, "link", path, &ld);
	p9_json_str(detail, sizeof(detail), "from", src->path);
	if (!err && fstatat(ls.dirfd, ls.base, &sst, AT_SYMLINK_NOFOLLOW) < 0)
		err = p9_act_failed(c, "link", src->path, errno);
	lbytes = !err && S_ISREG(sst.st_mode) ? (uint64_t)sst.st_size : 0;
	/* The walk counts a file's bytes once per name: so does a link. */
	if (!err)
		err = p9_quota_check(c, "link", path, lbytes, 1);
	if (!err)
		err = p9_act(c, "link", path, &d, detail);
	if (err)
		goto out;
	if (linkat(ls.dirfd, ls.base, ld.dirfd, name, 0) < 0) {
		err = p9_act_failed(c, "link", path, errno);
		goto out;
	}
	p9_quota_add(c->srv, (int64_t)lbytes, 1);
	r->type = P9_RLINK;
out:
	p9_loc_close(&ls);
	p9_loc_close(&ld);
	return err;
}

/* Removing and moving names. */
static int remove_path(struct p9_conn *c, const char *path, int isdir_hint)
{
	struct p9_loc l = {.dirfd = -1};
	struct pol_decision d;
	struct stat st = {0};
	const char *op;
	bool isdir;
	int err;

	if (!path[0])
		return EBUSY;
	err = p9_loc_open(c, "unlink", path, &l);
	if (err)
		return err;
	if (fstatat(l.dirfd, l.base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		err = errno;
		goto out;
	}
	isdir = S_ISDIR(st.st_mode);
	if (isdir_hint >= 0 && isdir != (bool)isdir_hint) {
		err = isdir ? EISDIR : ENOTDIR;
		goto out;
	}
	op = isdir ? "rmdir" : "unlink";
	err = p9_check(c, op, path, POL_ACC_DELETE, false, &d);
	if (!err)
		err = p9_act(c, op, path, &d, NULL);
	if (err)
		goto out;
	if (unlinkat(l.dirfd, l.base, isdir ? AT_REMOVEDIR : 0) < 0)
		err = p9_act_failed(c, op, path, errno);
	else
		p9_quota_add(c->srv, S_ISREG(st.st_mode) ? -(int64_t)st.st_size : 0, -1);
out:
	p9_loc_close(&l);
	return err;
}

int p9_op_remove(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.fid.fid);
	int err;

	if (!f)
		return EBADF;
	err = remove_path(c, f->path, -1);
	/* Held for a person: the fid stays until the answer. */
	if (err == P9_EASK)
		return err;
	p9_fid_clunk(c, m->u.fid.fid); /* Tremove clunks even when it fails */
	r->type = P9_RREMOVE;
	return err;
}

int p9_op_unlinkat(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX];
	int err = p9_child_path(c, "unlink", m->u.unlinkat.dfid, m->u.unlinkat.name, name, path);

	if (err)
		return err;
	err = remove_path(c, path, (m->u.unlinkat.flags & P9_AT_REMOVEDIR) ? 1 : 0);
	r->type = P9_RUNLINKAT;
	return err;
}

/*
 * A rename is decided for what it does (pol_check_fs_move): delete of the
 * source, create and write of the target, delete and write of a target it
 * replaces, and for a directory the same rules for everything below it at
 * the new place. The server is single-threaded, so what the lstat calls
 * see is what renameat acts on (the guest cannot race it; the host can).
 */
static int p9_do_rename(struct p9_conn *c, const char *from, const char *to)
{
	struct p9_loc lf = {.dirfd = -1}, lt = {.dirfd = -1};
	struct pol_fs_move mv = {.kind = POL_FS_RENAME, .from = from, .to = to};
	struct pol_decision d;
	struct stat sf = {0}, st = {0};
	char detail[P9_PATH_MAX + 64];
	int err;

	if (!from[0] || !to[0])
		return p9_refuse(c, "rename", p9_shown(from),
				 "the workspace root cannot be renamed or replaced", NULL, EBUSY);
	err = p9_loc_open(c, "rename", from, &lf);
	if (!err)
		err = p9_loc_open(c, "rename", to, &lt);
	if (err)
		goto out;
	if (fstatat(lf.dirfd, lf.base, &sf, AT_SYMLINK_NOFOLLOW) < 0) {
		err = errno;
		goto out;
	}
	if (fstatat(lt.dirfd, lt.base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		mv.to_exists = true;
		mv.to_dir = S_ISDIR(st.st_mode);
	} else if (errno != ENOENT) {
		err = errno;
		goto out;
	}
	mv.from_dir = S_ISDIR(sf.st_mode);
	err = p9_check_move(c, "rename", &mv, &d);
	p9_json_str(detail, sizeof(detail), "to", to);
	if (!err)
		err = p9_act(c, "rename", from, &d, detail);
	if (err)
		goto out;
	if (renameat(lf.dirfd, lf.base, lt.dirfd, lt.base) < 0) {
		err = p9_act_failed(c, "rename", from, errno);
		goto out;
	}
	if (mv.to_exists) /* the replaced name is gone (a directory was empty) */
		p9_quota_add(c->srv, S_ISREG(st.st_mode) ? -(int64_t)st.st_size : 0, -1);
	p9_fids_renamed(c->srv, from, to);
out:
	p9_loc_close(&lf);
	p9_loc_close(&lt);
	return err;
}

int p9_op_rename(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	struct p9_fid *f = p9_fid_get(c, m->u.rename.fid);
	char name[P9_NAME_MAX + 1], to[P9_PATH_MAX], from[P9_PATH_MAX];
	int err;

	if (!f)
		return EBADF;
	if (strlen(f->path) >= sizeof(from))
		return ENAMETOOLONG; /* see op_walk: never act on a cut path */
	memcpy(from, f->path, strlen(f->path) + 1);
	err = p9_child_path(c, "rename", m->u.rename.dfid, m->u.rename.name, name, to);
	if (!err)
		err = p9_do_rename(c, from, to);
	r->type = P9_RRENAME;
	return err;
}

int p9_op_renameat(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	char n1[P9_NAME_MAX + 1], n2[P9_NAME_MAX + 1], from[P9_PATH_MAX], to[P9_PATH_MAX];
	int err =
	    p9_child_path(c, "rename", m->u.renameat.olddfid, m->u.renameat.oldname, n1, from);

	if (!err)
		err = p9_child_path(c, "rename", m->u.renameat.newdfid, m->u.renameat.newname, n2,
				    to);
	if (!err)
		err = p9_do_rename(c, from, to);
	r->type = P9_RRENAMEAT;
	return err;
}

int p9_op_mknod(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	char name[P9_NAME_MAX + 1], path[P9_PATH_MAX];
	int err = p9_child_path(c, "mknod", m->u.mknod.dfid, m->u.mknod.name, name, path);

	if (err)
		return err;
	c->srv->st.denials++;
	p9_emit(c, "mknod", path, "deny", NULL, "device nodes, fifos and sockets are never created",
		-1, -1, -1, NULL);
	return EACCES;
}

int p9_op_lock(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	if (!p9_fid_get(c, m->u.lock.fid))
		return EBADF;
	/* Advisory locks are granted but not enforced between clients. */
	if (m->type == P9_TLOCK) {
		r->type = P9_RLOCK;
		r->u.rlock.status = P9_LOCK_SUCCESS;
	} else {
		r->type = P9_RGETLOCK;
		r->u.rgetlock = m->u.lock.l;
		r->u.rgetlock.type = P9_LOCK_TYPE_UNLCK;
	}
	return 0;
}
