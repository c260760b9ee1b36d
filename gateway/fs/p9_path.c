// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Path handling shared by the 9P operations: resolving workspace-relative
 * paths from the root fd with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS), opening a name's parent
 * directory, checking single names from the client, joining paths, qids,
 * giving new objects to the workspace owner, and the audit events of
 * actions (queued before the action: fail closed; a failure afterwards gets
 * a second, "error", event).
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
#include "json.h"
#include "log.h"

#define WS_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS)
#define REASON_ESCAPE "path goes through a symlink or leaves the workspace"

int p9_ws_open(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = WS_RESOLVE,
	};
	long fd = syscall(SYS_openat2, dirfd, path[0] ? path : ".", &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* A failed resolution: escapes are denials (audited), the rest plain errors. */
int p9_ws_err(struct p9_conn *c, const char *op, const char *path, int err)
{
	if (err == ELOOP || err == EXDEV) {
		c->srv->st.denials++;
		p9_emit(c, op, p9_shown(path), "deny", NULL, REASON_ESCAPE, -1, -1, -1, NULL);
		return EACCES;
	}
	return err;
}

int p9_ws_stat(struct p9_conn *c, const char *op, const char *path, struct stat *st)
{
	int fd = p9_ws_open(c->srv->root_fd, path, O_PATH | O_NOFOLLOW, 0), err = 0;

	if (fd < 0)
		return p9_ws_err(c, op, path, -fd);
	if (fstat(fd, st) < 0)
		err = errno;
	close(fd);
	return err;
}

int p9_loc_open(struct p9_conn *c, const char *op, const char *path, struct p9_loc *l)
{
	char dir[P9_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	l->dirfd = -1;
	if (!path[0]) {
		snprintf(l->base, sizeof(l->base), ".");
		dir[0] = 0;
	} else if (!slash) {
		if (strlen(path) > P9_NAME_MAX)
			return ENAMETOOLONG;
		snprintf(l->base, sizeof(l->base), "%s", path);
		dir[0] = 0;
	} else {
		if ((size_t)(slash - path) >= sizeof(dir) || strlen(slash + 1) > P9_NAME_MAX)
			return ENAMETOOLONG;
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = 0;
		snprintf(l->base, sizeof(l->base), "%s", slash + 1);
	}
	fd = p9_ws_open(c->srv->root_fd, dir, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return p9_ws_err(c, op, path, -fd);
	l->dirfd = fd;
	return 0;
}

void p9_loc_close(struct p9_loc *l)
{
	if (l->dirfd >= 0)
		close(l->dirfd);
	l->dirfd = -1;
}

/*
 * The name the client tried, under dir, for a deny row: NUL bytes shown as
 * "\\0", a long name cut after 256 bytes with "...".
 */
static void p9_name_shown(char *out, size_t cap, const char *dir, struct p9_str n)
{
	size_t o = 0, cut = AGW_MIN((size_t)n.len, 256u);

	if (dir[0])
		o = (size_t)snprintf(out, cap, "%s/", dir);
	if (o >= cap - 1)
		o = cap - 1;
	for (size_t i = 0; i < cut && o + 3 < cap; i++) {
		if (n.s[i] == 0) {
			out[o++] = '\\';
			out[o++] = '0';
		} else {
			out[o++] = n.s[i];
		}
	}
	if (cut < n.len && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
}

/* A single path component from the client; invalid ones are audited denials
 * naming what was tried (dir/name), not dir. */
int p9_name_get(struct p9_conn *c, const char *op, const char *dir, struct p9_str n,
		char out[P9_NAME_MAX + 1])
{
	const char *why = NULL;
	char shown[P9_PATH_MAX + 600];
	int err = EINVAL;

	if (n.len == 0)
		why = "empty file name";
	else if (n.len > P9_NAME_MAX) {
		why = "file name longer than 255 bytes";
		err = ENAMETOOLONG;
	} else if (memchr(n.s, '/', n.len) || memchr(n.s, 0, n.len))
		why = "file name contains '/' or NUL";
	else if (p9_str_eq(n, ".") || p9_str_eq(n, ".."))
		why = "file name is '.' or '..'";
	if (why) {
		p9_name_shown(shown, sizeof(shown), dir, n);
		return p9_refuse(c, op, shown, why, NULL, err);
	}
	memcpy(out, n.s, n.len);
	out[n.len] = 0;
	return 0;
}

int p9_join(char out[P9_PATH_MAX], const char *dir, const char *name)
{
	int n = dir[0] ? snprintf(out, P9_PATH_MAX, "%s/%s", dir, name)
		       : snprintf(out, P9_PATH_MAX, "%s", name);

	return n < 0 || n >= (int)P9_PATH_MAX ? ENAMETOOLONG : 0;
}

/* Directory fid + name from the client -> full path. */
int p9_child_path(struct p9_conn *c, const char *op, uint32_t dfid, struct p9_str name,
		  char base[P9_NAME_MAX + 1], char path[P9_PATH_MAX])
{
	struct p9_fid *d = p9_fid_get(c, dfid);
	int err;

	if (!d)
		return EBADF;
	err = p9_name_get(c, op, d->path, name, base);
	return err ? err : p9_join(path, d->path, base);
}

void p9_qid_of(const struct stat *st, struct p9_qid *q)
{
	q->type = S_ISDIR(st->st_mode) ? P9_QTDIR : S_ISLNK(st->st_mode) ? P9_QTSYMLINK : P9_QTFILE;
	q->version = 0;
	q->path = (uint64_t)st->st_ino;
}

void p9_json_str(char *out, size_t cap, const char *key, const char *s)
{
	int n = snprintf(out, cap, "{\"%s\":\"", key);

	/* Room for the closing "} and the NUL; a long value is cut between characters. */
	if (n < 0 || (size_t)n + 3 > cap) {
		snprintf(out, cap, "{}");
		return;
	}
	n += (int)json_esc_str(out + n, cap - (size_t)n - 2, s);
	memcpy(out + n, "\"}", 3);
}

/* Give a new object to the workspace owner (we may run as root). */
void p9_own(struct p9_srv *s, int dirfd, const char *name)
{
	struct stat st = {0};

	if (s->owner_uid == (uid_t)-1 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if (st.st_uid == s->owner_uid && st.st_gid == s->owner_gid)
		return;
	if (fchownat(dirfd, name, s->owner_uid, s->owner_gid, AT_SYMLINK_NOFOLLOW) < 0)
		log_warn("fs: cannot give %s to uid %u: %s", name, (unsigned)s->owner_uid,
			 strerror(errno));
}

/* Queue the event for a permitted action (before it runs). */
int p9_act(struct p9_conn *c, const char *op, const char *path, const struct pol_decision *d,
	   const char *detail)
{
	return p9_gate(c, op, p9_shown(path), d, detail);
}

int p9_act_failed(struct p9_conn *c, const char *op, const char *path, int err)
{
	p9_emit(c, op, p9_shown(path), "error", NULL, strerror(err), -1, -1, -1, NULL);
	return err;
}
