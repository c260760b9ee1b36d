/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A writer for uncompressed "newc" cpio archives, the format the kernel
 * unpacks as an initramfs. Entries are written in call order; parent
 * directories are added on demand and duplicates are skipped, so callers may
 * add /usr/bin/x without adding /usr and /usr/bin first. Every entry is owned
 * by root with mtime 0, so the same inputs give the same bytes.
 */
#ifndef AGW_CPIO_H
#define AGW_CPIO_H

#include <stddef.h>
#include <sys/types.h>

struct cpio;

/* Create (truncate) path. *out is NULL on error. Returns 0 or -errno. */
int cpio_new(const char *path, struct cpio **out);
/* The same on an open file, from its current offset (4-byte aligned, so
 * the archive can follow another in one file). Takes fd, also on error. */
int cpio_new_fd(int fd, struct cpio **out);
/* Finish the archive (trailer, fsync, close). Returns 0 or -errno. */
int cpio_finish(struct cpio *c);
/* Close without finishing if still open; NULL-safe. */
void cpio_free(struct cpio *c);

/* Each adder takes an absolute archive path ("/bin/sh"); returns 0 or -errno.
 * An existing path is silently kept (first one wins). */
int cpio_dir(struct cpio *c, const char *path, mode_t perm);
/* Copy the regular file src (followed through symlinks) with perm bits. */
int cpio_file(struct cpio *c, const char *path, mode_t perm, const char *src);
int cpio_data(struct cpio *c, const char *path, mode_t perm, const void *buf, size_t len);
int cpio_symlink(struct cpio *c, const char *path, const char *target);
/* A character device node (S_IFCHR) with major:minor. */
int cpio_chr(struct cpio *c, const char *path, mode_t perm, unsigned int major, unsigned int minor);
/* Whether path was added already. */
int cpio_has(const struct cpio *c, const char *path);

#endif
