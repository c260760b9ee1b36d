// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The workspace quota (policy filesystem.max_bytes / max_files): the fs
 * server counts the bytes of the workspace's regular files and the number
 * of its entries, starting from one bounded walk of the tree when the
 * server starts, then following its own writes, truncates, creates and
 * removes. A change that would pass a limit is refused with ENOSPC and a
 * deny event "workspace quota", so an agent cannot fill the host's disk.
 * Changes made on the host behind the server's back are not seen until
 * the next start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gateway/fs/p9_int.h"
#include "log.h"

#define P9_QUOTA_DEPTH 64
#define P9_QUOTA_SCAN_MAX 4000000u /* entries walked at start, at most */

struct p9_quota_scan {
	uint64_t bytes, files, seen;
	bool cut;
};

static void p9_quota_walk(int dirfd, unsigned depth, struct p9_quota_scan *q)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int fd;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (++q->seen > P9_QUOTA_SCAN_MAX) {
			q->cut = true;
			break;
		}
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		q->files++;
		if (S_ISREG(st.st_mode))
			q->bytes += (uint64_t)st.st_size;
		if (!S_ISDIR(st.st_mode))
			continue;
		if (depth >= P9_QUOTA_DEPTH) {
			q->cut = true;
			continue;
		}
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			p9_quota_walk(fd, depth + 1, q);
	}
	closedir(d);
}

void p9_quota_init(struct p9_srv *s)
{
	struct p9_quota_scan q = {0};
	int fd = openat(s->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		p9_quota_walk(fd, 0, &q);
	s->q_bytes = q.bytes;
	s->q_files = q.files;
	if (q.cut)
		log_warn("fs: workspace walk stopped early (over %u entries or %d levels); "
			 "the quota counts what was seen",
			 P9_QUOTA_SCAN_MAX, P9_QUOTA_DEPTH);
	log_debug("fs: workspace holds %llu bytes in %llu entries",
		  (unsigned long long)q.bytes, (unsigned long long)q.files);
}

int p9_quota_check(struct p9_conn *c, const char *op, const char *path, uint64_t more_bytes,
		   uint64_t more_files)
{
	struct p9_srv *s = c->srv;
	uint64_t mb = pol_fs_max_bytes(s->pol), mf = pol_fs_max_files(s->pol);
	char detail[160];

	if ((!more_bytes || s->q_bytes + more_bytes <= mb) &&
	    (!more_files || s->q_files + more_files <= mf))
		return 0;
	snprintf(detail, sizeof(detail),
		 "{\"bytes\":%llu,\"max_bytes\":%llu,\"files\":%llu,\"max_files\":%llu}",
		 (unsigned long long)(s->q_bytes + more_bytes), (unsigned long long)mb,
		 (unsigned long long)(s->q_files + more_files), (unsigned long long)mf);
	/* One deny row per refused request; a writer looping on ENOSPC is
	 * bounded by the guest's own retries. */
	return p9_refuse(c, op, p9_shown(path), "workspace quota", detail, ENOSPC);
}

void p9_quota_add(struct p9_srv *s, int64_t bytes, int64_t files)
{
	if (bytes < 0 && (uint64_t)-bytes > s->q_bytes)
		s->q_bytes = 0;
	else
		s->q_bytes += (uint64_t)bytes;
	if (files < 0 && (uint64_t)-files > s->q_files)
		s->q_files = 0;
	else
		s->q_files += (uint64_t)files;
}
