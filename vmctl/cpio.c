// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * newc cpio writer for the guest initramfs: headers, 4-byte padding, the
 * trailer, implicit parent directories and duplicate suppression.
 */
#include "cpio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agw.h"

#define CPIO_MAX_PATH 1024
#define CPIO_MAX_ENTRIES 65536

struct cpio {
	FILE *f;
	uint32_t ino;
	char **paths;
	size_t n, cap;
};

int cpio_new(const char *path, struct cpio **out)
{
	struct cpio *c;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->f = fopen(path, "we");
	if (!c->f) {
		int e = -errno;

		free(c);
		return e;
	}
	c->ino = 1;
	*out = c;
	return 0;
}

int cpio_new_fd(int fd, struct cpio **out)
{
	struct cpio *c;
	FILE *f;

	*out = NULL;
	f = fdopen(fd, "w");
	if (!f) {
		int e = -errno;

		close(fd);
		return e;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		fclose(f);
		return -ENOMEM;
	}
	c->f = f;
	c->ino = 1;
	*out = c;
	return 0;
}

void cpio_free(struct cpio *c)
{
	if (!c)
		return;
	if (c->f)
		fclose(c->f);
	for (size_t i = 0; i < c->n; i++)
		free(c->paths[i]);
	free(c->paths);
	free(c);
}

int cpio_has(const struct cpio *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->paths[i], path) == 0)
			return 1;
	return 0;
}

static int remember(struct cpio *c, const char *path)
{
	char *dup;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		char **np;

		if (ncap > CPIO_MAX_ENTRIES)
			return -E2BIG;
		np = realloc(c->paths, ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		c->paths = np;
		c->cap = ncap;
	}
	dup = strdup(path);
	if (!dup)
		return -ENOMEM;
	c->paths[c->n++] = dup;
	return 0;
}

static int pad4(struct cpio *c)
{
	static const char zero[4];
	long pos = ftell(c->f);

	if (pos < 0)
		return -errno;
	if (pos % 4 && fwrite(zero, 1, (size_t)(4 - pos % 4), c->f) != (size_t)(4 - pos % 4))
		return -EIO;
	return 0;
}

/* Header and name for one entry; the archive name has no leading '/'. */
static int header(struct cpio *c, const char *path, mode_t mode, size_t size, unsigned int rmaj,
		  unsigned int rmin)
{
	const char *name = path + 1;
	size_t nl = strlen(name) + 1;
	int r;

	if (fprintf(c->f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", c->ino++,
		    (unsigned int)mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u, size, 0u, 0u, rmaj,
		    rmin, nl, 0u) < 0)
		return -EIO;
	if (fwrite(name, 1, nl, c->f) != nl)
		return -EIO;
	if ((r = pad4(c)) < 0)
		return r;
	return remember(c, path);
}

/* Check the path and add its missing parents. Returns 1 if it exists. */
static int prepare(struct cpio *c, const char *path)
{
	char buf[CPIO_MAX_PATH];
	size_t len = strlen(path);
	int r;

	if (path[0] != '/' || len < 2 || len >= sizeof(buf) || path[len - 1] == '/')
		return -EINVAL;
	if (cpio_has(c, path))
		return 1;
	memcpy(buf, path, len + 1);
	for (char *s = buf + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (!cpio_has(c, buf) && (r = header(c, buf, S_IFDIR | 0755, 0, 0, 0)) < 0)
			return r;
		*s = '/';
	}
	return 0;
}

int cpio_dir(struct cpio *c, const char *path, mode_t perm)
{
	int r = prepare(c, path);

	if (r)
		return r < 0 ? r : 0;
	return header(c, path, S_IFDIR | (perm & 07777), 0, 0, 0);
}

int cpio_data(struct cpio *c, const char *path, mode_t perm, const void *buf, size_t len)
{
	int r = prepare(c, path);

	if (r)
		return r < 0 ? r : 0;
	if ((r = header(c, path, S_IFREG | (perm & 07777), len, 0, 0)) < 0)
		return r;
	if (len && fwrite(buf, 1, len, c->f) != len)
		return -EIO;
	return pad4(c);
}

int cpio_file(struct cpio *c, const char *path, mode_t perm, const char *src)
{
	char buf[65536];
	struct stat st;
	int fd = -1, r;
	size_t left;

	if ((r = prepare(c, path)))
		return r < 0 ? r : 0;
	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if ((r = header(c, path, S_IFREG | (perm & 07777), (size_t)st.st_size, 0, 0)) < 0)
		goto out;
	for (left = (size_t)st.st_size; left;) {
		ssize_t n = read(fd, buf, AGW_MIN(left, sizeof(buf)));

		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto out;
		}
		if (fwrite(buf, 1, (size_t)n, c->f) != (size_t)n) {
			r = -EIO;
			goto out;
		}
		left -= (size_t)n;
	}
	r = pad4(c);
out:
	if (fd >= 0)
		close(fd);
	return r;
}

int cpio_symlink(struct cpio *c, const char *path, const char *target)
{
	size_t len = strlen(target);
	int r = prepare(c, path);

	if (r)
		return r < 0 ? r : 0;
	if ((r = header(c, path, S_IFLNK | 0777, len, 0, 0)) < 0)
		return r;
	if (fwrite(target, 1, len, c->f) != len)
		return -EIO;
	return pad4(c);
}

int cpio_chr(struct cpio *c, const char *path, mode_t perm, unsigned int major, unsigned int minor)
{
	int r = prepare(c, path);

	if (r)
		return r < 0 ? r : 0;
	return header(c, path, S_IFCHR | (perm & 07777), 0, major, minor);
}

int cpio_finish(struct cpio *c)
{
	static const char trailer[] = "/TRAILER!!!";
	int r;

	if ((r = header(c, trailer, 0, 0, 0, 0)) < 0)
		return r;
	if (fflush(c->f) != 0 || fsync(fileno(c->f)) < 0)
		return -errno;
	r = fclose(c->f) == 0 ? 0 : -errno;
	c->f = NULL;
	return r;
}
