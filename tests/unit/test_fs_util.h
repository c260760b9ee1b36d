/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the filesystem server unit tests (test_p9_srv.c,
 * test_fuse_srv.c): a real temporary workspace to seed with folders and
 * files, a real policy loaded from YAML text for it, the workspace opened
 * as a p9_srv root, and a log of the audit rows the server emits, with
 * look-ups by op/target/decision. Include after <cmocka.h>: the helpers
 * fail the running test (cmocka assertions) instead of returning errors.
 */
#ifndef AGW_TEST_FS_UTIL_H
#define AGW_TEST_FS_UTIL_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "gateway/fs/p9_srv.h"
#include "policies/pol.h"

/* One audit row as the sink received it; NULL strings are stored as "". */
struct tfs_rec {
	char op[24], target[512], decision[16], rule[48], reason[128], detail[256];
	int64_t up, down;
};

/* The rows one test has received, in order. Zero it to empty it. */
struct tfs_log {
	struct tfs_rec ev[512];
	size_t nev;
};

/* Copy ev into l. Returns 0, or -1 when l is full (the row is dropped). */
static inline int tfs_log_add(struct tfs_log *l, const struct aud_event *ev)
{
	struct tfs_rec *r;

	if (l->nev >= AGW_ARRAY_LEN(l->ev))
		return -1;
	r = &l->ev[l->nev++];
	snprintf(r->op, sizeof(r->op), "%s", ev->op ? ev->op : "");
	snprintf(r->target, sizeof(r->target), "%s", ev->target ? ev->target : "");
	snprintf(r->decision, sizeof(r->decision), "%s", ev->decision ? ev->decision : "");
	snprintf(r->rule, sizeof(r->rule), "%s", ev->rule ? ev->rule : "");
	snprintf(r->reason, sizeof(r->reason), "%s", ev->reason ? ev->reason : "");
	snprintf(r->detail, sizeof(r->detail), "%s", ev->detail ? ev->detail : "");
	r->up = ev->bytes_up;
	r->down = ev->bytes_down;
	return 0;
}

/* Whether r has op, target and decision; a NULL target or decision matches any. */
static inline bool tfs_rec_is(const struct tfs_rec *r, const char *op, const char *target,
			      const char *decision)
{
	return !strcmp(r->op, op) && (!target || !strcmp(r->target, target)) &&
	       (!decision || !strcmp(r->decision, decision));
}

/* The first row of l that tfs_rec_is(op, target, decision), or NULL. */
static inline const struct tfs_rec *tfs_log_find(const struct tfs_log *l, const char *op,
						 const char *target, const char *decision)
{
	for (size_t i = 0; i < l->nev; i++)
		if (tfs_rec_is(&l->ev[i], op, target, decision))
			return &l->ev[i];
	return NULL;
}

/* How many rows of l are tfs_rec_is(op, target, decision). */
static inline size_t tfs_log_count(const struct tfs_log *l, const char *op, const char *target,
				   const char *decision)
{
	size_t n = 0;

	for (size_t i = 0; i < l->nev; i++)
		n += tfs_rec_is(&l->ev[i], op, target, decision);
	return n;
}

/* Make the empty folder /tmp/agw-<tag>-XXXXXX; its path into ws (cap bytes). */
static inline void tfs_ws_make(char *ws, size_t cap, const char *tag)
{
	assert_true((size_t)snprintf(ws, cap, "/tmp/agw-%s-XXXXXX", tag) < cap);
	assert_non_null(mkdtemp(ws));
}

/* Write text to ws/rel (created or truncated). */
static inline void tfs_ws_put(const char *ws, const char *rel, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", ws, rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Make the folder ws/rel (mode 0755); its parent must exist. */
static inline void tfs_ws_mkdir(const char *ws, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", ws, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

/*
 * Seed ws from a NULL-terminated list, in order: "dir/" makes the folder
 * dir, "path=text" writes text to the file path (the first '=' ends the
 * path). E.g. {"src/", "src/a.c=int a;\n", NULL}.
 */
static inline void tfs_ws_seed(const char *ws, const char *const *entries)
{
	for (; *entries; entries++) {
		const char *e = *entries, *eq = strchr(e, '=');
		size_t n = strlen(e);
		char rel[128];

		if (!eq && n && e[n - 1] == '/') {
			assert_true(n - 1 < sizeof(rel));
			snprintf(rel, sizeof(rel), "%.*s", (int)(n - 1), e);
			tfs_ws_mkdir(ws, rel);
			continue;
		}
		assert_non_null(eq);
		assert_true((size_t)(eq - e) < sizeof(rel));
		snprintf(rel, sizeof(rel), "%.*s", (int)(eq - e), e);
		tfs_ws_put(ws, rel, eq + 1);
	}
}

/* Remove the workspace made by tfs_ws_make and all below it. */
static inline void tfs_ws_remove(const char *ws)
{
	char cmd[128];

	assert_non_null(strstr(ws, "/tmp/agw-"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ws);
	assert_int_equal(system(cmd), 0);
}

/*
 * Load the policy "t" in mode for workspace ws, whose filesystem section
 * goes on with rules (YAML indented by two, e.g. "  allow:\n    - ..."). The
 * loader's errors are printed; a policy that does not load fails the test.
 * Returns the policy (the caller pol_free()s it).
 */
static inline struct pol *tfs_pol_load(const char *mode, const char *ws, const char *rules)
{
	char text[4096];
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	int n, rc;

	n = snprintf(text, sizeof(text),
		     "version: 1\nname: t\nmode: %s\nfilesystem:\n  workspace: %s\n%s", mode, ws,
		     rules);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	rc = pol_load_buf("t.yaml", text, (size_t)n, "/", &p, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s:%d:%d: %s\n", errs.v[i].file, errs.v[i].line, errs.v[i].col,
			errs.v[i].msg);
	pol_errors_free(&errs);
	assert_int_equal(rc, 0);
	return p;
}

/*
 * Open ws as a server root (O_PATH) and set cfg's root_fd to it, the files'
 * owner to the folder's owner and sandbox_id to 7; the rest of cfg is left
 * as it is. Returns the descriptor (the caller closes it after the server).
 */
static inline int tfs_root_open(const char *ws, struct p9_srv_config *cfg)
{
	struct stat st;
	int fd = open(ws, O_PATH | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	cfg->root_fd = fd;
	cfg->sandbox_id = 7;
	cfg->owner_uid = st.st_uid;
	cfg->owner_gid = st.st_gid;
	return fd;
}

#endif
