/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the audit unit tests: a scratch directory, direct SQLite
 * reads of what the writer committed (a separate connection, as a user's
 * sqlite3 would see it), and running the real sqlite3 command line.
 */
#ifndef AGW_TEST_AUDIT_UTIL_H
#define AGW_TEST_AUDIT_UTIL_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agw.h"
#include "audit/aud.h"

/* mkdtemp under $TMPDIR or /tmp; dir must hold PATH_MAX bytes. */
static inline int tau_mkdir(char *dir)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, PATH_MAX, "%s/agw-audit-XXXXXX", t && *t ? t : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static inline void tau_rmdir(const char *dir)
{
	/* only the directory made by tau_mkdir */
	if (strstr(dir, "/agw-audit-")) {
		char cmd[PATH_MAX + 32];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
}

/* A scratch directory with the path of dir/audit.db: a cmocka state. */
struct tau_ctx {
	char dir[PATH_MAX];
	char db[PATH_MAX + 32];
};

static inline int tau_setup(void **state)
{
	struct tau_ctx *t = calloc(1, sizeof(*t));

	if (!t || tau_mkdir(t->dir) < 0) {
		free(t);
		return -1;
	}
	snprintf(t->db, sizeof(t->db), "%s/audit.db", t->dir);
	*state = t;
	return 0;
}

static inline int tau_teardown(void **state)
{
	struct tau_ctx *t = *state;

	tau_rmdir(t->dir);
	free(t);
	return 0;
}

/* One integer from a SQL statement on a fresh connection; -1 on error. */
static inline int64_t tau_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_busy_timeout(h, 5000);
		if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		else
			fprintf(stderr, "tau_int(%s): %s\n", sql, sqlite3_errmsg(h));
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* One text value (copied into buf) or "" on error. */
static inline const char *tau_text(const char *db, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	buf[0] = '\0';
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

static inline int tau_exec(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	int rc = sqlite3_open(db, &h);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
	sqlite3_close(h);
	return rc;
}

/* Run the real sqlite3 CLI on db with sql; first output line into out. */
static inline int tau_sqlite3_cli(const char *db, const char *sql, char *out, size_t cap)
{
	char cmd[PATH_MAX * 2];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "sqlite3 '%s' '%s' 2>&1", db, sql);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	out[0] = '\0';
	if (!fgets(out, (int)cap, p))
		out[0] = '\0';
	n = strlen(out);
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return pclose(p);
}

static inline struct aud_event tau_event(int64_t sb, const char *kind, const char *op,
					 const char *target, const char *decision)
{
	struct aud_event ev = {
	    .sandbox_id = sb,
	    .kind = kind,
	    .op = op,
	    .target = target,
	    .decision = decision,
	    .bytes_up = -1,
	    .bytes_down = -1,
	    .duration_us = -1,
	};
	return ev;
}

/* Poll until the writer has committed n events (up to ms). */
static inline int tau_wait_committed(struct aud_writer *w, uint64_t n, int ms)
{
	struct aud_writer_stats st;

	for (int i = 0; i < ms; i++) {
		aud_writer_get_stats(w, &st);
		if (st.committed >= n)
			return 0;
		usleep(1000);
	}
	return -1;
}

#endif
