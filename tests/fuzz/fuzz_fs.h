/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Set-up shared by the filesystem fuzz targets (fuzz_p9.c, fuzz_fuse.c):
 * once per process, a small policed workspace in a temporary folder (a file
 * and the folder sub/; read everywhere, changes only below sub/), removed
 * at exit, and a p9_srv over it per input. One copy of the state per
 * target binary: include this header from one .c file only.
 */
#ifndef AGW_FUZZ_FS_H
#define AGW_FUZZ_FS_H

#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "gateway/fs/p9_srv.h"
#include "log.h"
#include "policies/pol.h"

static struct pol *fzfs_pol;
static int fzfs_root = -1;
static char fzfs_ws[64];

static inline int fzfs_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static inline void fzfs_cleanup(void)
{
	nftw(fzfs_ws, fzfs_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* The audit sink: takes every row that has an op and a decision. */
static inline int fzfs_emit(void *ctx, const struct aud_event *ev)
{
	(void)ctx;
	return ev->op && ev->decision ? 0 : -1;
}

/*
 * Make the workspace /tmp/agw-fuzz-<tag>-XXXXXX and its policy on the first
 * call (later calls do nothing; a failed first call is not retried, and
 * fzfs_srv_new then refuses), and quiet the log: protocol errors are the
 * normal case here.
 */
static inline void fzfs_init(const char *tag)
{
	static bool tried;
	char p[512];
	struct pol_errors errs = {0};
	FILE *f;
	int n;

	if (tried)
		return;
	tried = true;
	snprintf(fzfs_ws, sizeof(fzfs_ws), "/tmp/agw-fuzz-%s-XXXXXX", tag);
	if (!mkdtemp(fzfs_ws))
		return;
	atexit(fzfs_cleanup);
	log_set_level(LOG_LVL_ERROR);
	n = snprintf(p, sizeof(p),
		     "version: 1\nname: fuzz\nfilesystem:\n  workspace: %s\n  allow:\n"
		     "    - { path: \"**\", access: [read] }\n"
		     "    - { path: \"sub/**\", access: [read, write, create, delete] }\n",
		     fzfs_ws);
	if (pol_load_buf("fuzz.yaml", p, (size_t)n, "/", &fzfs_pol, &errs) < 0)
		fzfs_pol = NULL;
	pol_errors_free(&errs);
	fzfs_root = open(fzfs_ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof(p), "%s/sub", fzfs_ws);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/file", fzfs_ws);
	f = fopen(p, "w");
	if (f) {
		fputs("content\n", f);
		fclose(f);
	}
}

/*
 * A server over the workspace (max_fids 0: the default limit), auditing
 * into fzfs_emit. Returns p9_srv_new's result, or -1 when fzfs_init did not
 * succeed; on success the caller p9_srv_free()s *srv.
 */
static inline int fzfs_srv_new(unsigned max_fids, struct p9_srv **srv)
{
	struct p9_srv_config cfg = {0};

	if (!fzfs_pol || fzfs_root < 0)
		return -1;
	cfg.root_fd = fzfs_root;
	cfg.pol = fzfs_pol;
	cfg.emit = fzfs_emit;
	cfg.owner_uid = (uid_t)-1;
	cfg.owner_gid = (gid_t)-1;
	cfg.max_fids = max_fids;
	return p9_srv_new(&cfg, srv);
}

#endif
