// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The audit schema in one place: the SQL of each version, the migration
 * table, and opening a database for writing (create, WAL, migrate) or for
 * reading (existing file, version check). Also the default database path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <sqlite3.h>

#include "agw.h"
#include "log.h"
#include "audit/aud.h"
#include "audit/aud_int.h"

/*
 * Schema v1. Times are unix microseconds. Foreign keys are declared for
 * readers and tools but not enforced (PRAGMA foreign_keys stays off): a
 * batch must never fail, and be retried forever, because of one bad id.
 */
static const char aud_schema_v1[] =
    "CREATE TABLE sandbox(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL,\n"
    "  policy_name TEXT,\n"
    "  policy_sha256 TEXT,\n"
    "  policy_text TEXT,\n"
    "  image TEXT,\n"
    "  started_at INTEGER NOT NULL,\n"
    "  stopped_at INTEGER);\n"
    "CREATE TABLE event(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  sandbox_id INTEGER NOT NULL REFERENCES sandbox,\n"
    "  ts INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  op TEXT NOT NULL,\n"
    "  target TEXT,\n"
    "  decision TEXT NOT NULL,\n"
    "  rule TEXT, reason TEXT, src TEXT, dst TEXT,\n"
    "  bytes_up INTEGER, bytes_down INTEGER, duration_us INTEGER,\n"
    "  detail TEXT);\n"
    "CREATE INDEX event_sandbox_ts ON event(sandbox_id, ts);\n"
    "CREATE INDEX event_kind_decision ON event(kind, decision);\n"
    "CREATE VIEW denials AS\n"
    "  SELECT e.id, e.ts, e.sandbox_id, s.name AS sandbox, e.kind, e.op, e.target,\n"
    "         e.decision, e.rule, e.reason, e.src, e.dst, e.detail\n"
    "  FROM event e LEFT JOIN sandbox s ON s.id = e.sandbox_id\n"
    "  WHERE e.decision IN ('deny', 'would_deny');\n"
    "CREATE VIEW net_summary AS\n"
    "  SELECT e.sandbox_id, s.name AS sandbox, e.target AS host,\n"
    "         SUM(e.op = 'connect') AS connections,\n"
    "         SUM(e.op = 'connect' AND e.decision = 'allow') AS allowed,\n"
    "         SUM(e.op = 'connect' AND e.decision IN ('deny', 'would_deny')) AS denied,\n"
    "         COALESCE(SUM(e.bytes_up), 0) AS bytes_up,\n"
    "         COALESCE(SUM(e.bytes_down), 0) AS bytes_down\n"
    "  FROM event e LEFT JOIN sandbox s ON s.id = e.sandbox_id\n"
    "  WHERE e.kind = 'net'\n"
    "  GROUP BY e.sandbox_id, e.target;\n"
    "CREATE VIEW fs_summary AS\n"
    "  SELECT target AS path, COUNT(*) AS ops,\n"
    "         SUM(decision = 'allow') AS allowed,\n"
    "         SUM(decision = 'deny') AS denied,\n"
    "         SUM(decision = 'would_deny') AS would_deny,\n"
    "         SUM(decision = 'error') AS errors\n"
    "  FROM event WHERE kind = 'fs'\n"
    "  GROUP BY target;\n";

/*
 * Schema v2: the hash chain (audit/aud_chain.c). Rows already there are
 * chained by aud_chain_backfill in the same transaction.
 */
static const char aud_schema_v2[] =
    "ALTER TABLE event ADD COLUMN prev_id INTEGER;\n"
    "ALTER TABLE event ADD COLUMN hash TEXT;\n"
    "ALTER TABLE sandbox ADD COLUMN head_id INTEGER;\n"
    "ALTER TABLE sandbox ADD COLUMN head_hash TEXT;\n"
    "CREATE TABLE chain_anchor(\n"
    "  sandbox_id INTEGER PRIMARY KEY,\n"
    "  last_id INTEGER NOT NULL,\n"
    "  last_hash TEXT NOT NULL,\n"
    "  pruned_rows INTEGER NOT NULL,\n"
    "  pruned_before INTEGER NOT NULL,\n"
    "  pruned_at INTEGER NOT NULL);\n";

/*
 * Indexes are not part of the format (no version): set on every open for
 * writing, after the migrations. event(kind, decision) of schema 1 made
 * every insert find its place among a few long runs of equal keys: it cost
 * the writer 40% of its rate (bench_audit: 243,000 -> 390,000 events/s
 * without it). The question it served, "what was denied", is answered by
 * a partial index that only denied rows enter (the denials view and the
 * CLI's summaries name the same IN list, so SQLite uses it); a filter on
 * kind alone, or on decision = 'allow', reads the table in order (what a
 * summary over most rows does anyway).
 */
static const char aud_indexes[] =
    "DROP INDEX IF EXISTS event_kind_decision;\n"
    "CREATE INDEX IF NOT EXISTS event_denied ON event(sandbox_id, ts)\n"
    "  WHERE decision IN ('deny', 'would_deny');\n";

/* migrations[i] takes a database from user_version i to i + 1. */
static const char *const aud_migrations[AUD_SCHEMA_VERSION] = {
    aud_schema_v1,
    aud_schema_v2,
};

int aud_sql_err(sqlite3 *db, int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -AGW_ENOMEM;
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_IOERR:
		/* sqlite keeps the errno of the failed system call */
		if (db && sqlite3_system_errno(db) > 0)
			return -sqlite3_system_errno(db);
		return -EIO;
	default:
		return -AGW_EDB;
	}
}

/* The single integer a one-row query (a PRAGMA, a COUNT) answers. */
static int aud_query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = aud_sql_err(db, rc);
	}
	sqlite3_finalize(st);
	return rc;
}

static int aud_user_version(sqlite3 *db, int *ver)
{
	int64_t v = 0;
	int rc = aud_query_int(db, "PRAGMA user_version", &v);

	if (rc == 0)
		*ver = (int)v;
	return rc;
}

static int aud_exec(sqlite3 *db, const char *path, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_error("audit: %s: %s", path, msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return aud_sql_err(db, rc);
	}
	return 0;
}

static int aud_migrate(sqlite3 *db, const char *path)
{
	int ver = 0, rc;
	int64_t nobj = 0;
	char sql[64];

	rc = aud_exec(db, path, "BEGIN IMMEDIATE");
	if (rc < 0)
		return rc;
	rc = aud_user_version(db, &ver);
	if (rc < 0)
		goto out;
	if (ver > AUD_SCHEMA_VERSION) {
		log_error("audit: %s has schema version %d but this agentgw knows only up to "
			  "version %d; upgrade agentgw or use another database",
			  path, ver, AUD_SCHEMA_VERSION);
		rc = -AGW_ESCHEMA;
		goto out;
	}
	if (ver == 0) {
		rc = aud_query_int(db, "SELECT COUNT(*) FROM sqlite_master", &nobj);
		if (rc < 0)
			goto out;
		if (nobj > 0) {
			log_error("audit: %s is a SQLite database but not an agentgw audit "
				  "database (user_version 0 with %lld objects); pass another path",
				  path, (long long)nobj);
			rc = -AGW_ESCHEMA;
			goto out;
		}
	}
	for (; ver < AUD_SCHEMA_VERSION; ver++) {
		rc = aud_exec(db, path, aud_migrations[ver]);
		if (rc == 0 && ver + 1 == 2)
			rc = aud_chain_backfill(db);
		if (rc < 0)
			goto out;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", ver + 1);
		rc = aud_exec(db, path, sql);
		if (rc < 0)
			goto out;
	}
	rc = aud_exec(db, path, aud_indexes);
	if (rc < 0)
		goto out;
	rc = aud_exec(db, path, "COMMIT");
out:
	if (rc < 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * Before SQLite initialises (the first open in this process): no memory
 * statistics, whose global mutex every allocation took (a twentieth of
 * the writer's time, for numbers nothing reads).
 */
static pthread_once_t aud_sqlite_once = PTHREAD_ONCE_INIT;

static void aud_sqlite_setup(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE if already up: fine */
}

/* The parent directory must exist: we do not invent places to write to. */
static int aud_check_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat sb;
	size_t n;

	if (!slash)
		return 0;
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1; /* "/audit.db" */
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (stat(dir, &sb) < 0) {
		int err = errno;

		log_error("audit: cannot create %s: directory %s: %s (create it first)", path, dir,
			  strerror(err));
		return -err;
	}
	if (!S_ISDIR(sb.st_mode)) {
		log_error("audit: cannot create %s: %s is not a directory", path, dir);
		return -ENOTDIR;
	}
	return 0;
}

/* Narrows a file we own to owner-only; errors are left to whoever opens it. */
static void aud_narrow(int fd, const char *path, mode_t want)
{
	struct stat sb;

	if (fstat(fd, &sb) == 0 && sb.st_uid == geteuid() && (sb.st_mode & 07777 & ~want)) {
		if (fchmod(fd, want) == 0)
			log_info("audit: %s was mode %04o; now %04o", path,
				 (unsigned)(sb.st_mode & 07777), (unsigned)want);
	}
}

/*
 * The audit rows name every host, path and command the agent used: the
 * database is created 0600, and the default folder (ours alone) is 0700.
 * SQLite gives -wal and -shm the mode of the main file, so creating that
 * one 0600 covers them; files an older agentgw left wider are narrowed
 * when we own them. A folder the user chose (beside a policy) keeps its
 * mode.
 */
static void aud_secure_files(const char *path)
{
	static const char *const sides[] = {"-wal", "-shm", "-journal"};
	char def[PATH_MAX], side[PATH_MAX + 16];
	int fd;

	if (aud_default_db_path(def, sizeof(def)) == 0 && strcmp(def, path) == 0) {
		char *slash = strrchr(def, '/');

		if (slash && slash != def) {
			*slash = '\0';
			mkdir(def, 0700);
			fd = open(def, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0) {
				aud_narrow(fd, def, 0700);
				close(fd);
			}
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		aud_narrow(fd, path, 0600);
		close(fd);
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(sides); i++) {
		snprintf(side, sizeof(side), "%s%s", path, sides[i]);
		fd = open(side, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			aud_narrow(fd, side, 0600);
			close(fd);
		}
	}
}

static int aud_readonly_err(const char *path)
{
	struct statvfs vb;

	if (statvfs(path, &vb) == 0 && (vb.f_flag & ST_RDONLY)) {
		log_error("audit: %s is on a read-only file system; choose a writable path", path);
		return -EROFS;
	}
	log_error("audit: %s is not writable (permissions); fix them or choose another path", path);
	return -EACCES;
}

int aud_db_open_rw(const char *path, sqlite3 **out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	*out = NULL;
	if (!path || !*path)
		return -AGW_EINVAL;
	aud_secure_files(path); /* also makes the default folder */
	rc = aud_check_parent(path);
	if (rc < 0)
		return rc;
	pthread_once(&aud_sqlite_once, aud_sqlite_setup);
	rc = sqlite3_open_v2(
	    path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_error("audit: cannot open %s: %s", path,
			  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		if (access(path, F_OK) == 0 && access(path, W_OK) < 0)
			rc = aud_readonly_err(path);
		else
			rc = aud_sql_err(db, rc);
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_db_readonly(db, "main") == 1) {
		rc = aud_readonly_err(path);
		goto out;
	}
	/*
	 * WAL: readers (the CLI) never block the writer. A transaction that
	 * COMMIT has returned for is in the -wal file, and a kill -9 of this
	 * process loses nothing committed: the OS has the pages. With
	 * synchronous=NORMAL the WAL is not fsynced at each commit, so a power
	 * loss or kernel crash may lose the last transactions (never corrupts).
	 */
	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || !sqlite3_column_text(st, 0) ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		log_error("audit: %s: cannot switch to WAL mode: %s", path, sqlite3_errmsg(db));
		if ((rc & 0xff) == SQLITE_READONLY)
			rc = aud_readonly_err(path);
		else
			rc = rc == SQLITE_ROW ? -AGW_EDB : aud_sql_err(db, rc);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = aud_exec(db, path, "PRAGMA synchronous=NORMAL");
	if (rc < 0)
		goto out;
	rc = aud_migrate(db, path);
	if (rc < 0)
		goto out;
	*out = db;
	db = NULL;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

int aud_db_open_ro(const char *path, struct aud_db **out, char *err, size_t errcap)
{
	sqlite3 *db = NULL;
	struct stat sb;
	int rc, ver = 0;

	*out = NULL;
	if (errcap)
		err[0] = '\0';
	if (stat(path, &sb) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			snprintf(err, errcap,
				 "no audit database at %s; run agentgw up or pass --db", path);
		else
			snprintf(err, errcap, "cannot open audit database %s: %s", path,
				 strerror(-rc));
		return rc;
	}
	pthread_once(&aud_sqlite_once, aud_sqlite_setup);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errcap, "cannot open audit database %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		rc = aud_sql_err(db, rc);
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	rc = aud_user_version(db, &ver);
	if (rc < 0) {
		snprintf(err, errcap, "%s is not a readable SQLite database: %s", path,
			 sqlite3_errmsg(db));
		goto out;
	}
	if (ver > AUD_SCHEMA_VERSION) {
		snprintf(err, errcap,
			 "%s has audit schema version %d but this agentgw reads only up to "
			 "version %d; upgrade agentgw",
			 path, ver, AUD_SCHEMA_VERSION);
		rc = -AGW_ESCHEMA;
		goto out;
	}
	if (ver < 1) {
		snprintf(err, errcap, "%s is not an agentgw audit database (no schema)", path);
		rc = -AGW_ESCHEMA;
		goto out;
	}
	*out = aud_db_wrap(db, ver);
	if (!*out) {
		snprintf(err, errcap, "out of memory");
		rc = -AGW_ENOMEM;
		goto out;
	}
	db = NULL;
	rc = 0;
out:
	sqlite3_close(db);
	return rc;
}

int aud_default_db_path(char *buf, size_t cap)
{
	const char *base;
	int n;

	if (geteuid() == 0) {
		n = snprintf(buf, cap, "/var/lib/agentgw/audit.db");
	} else if ((base = getenv("XDG_STATE_HOME")) && base[0] == '/') {
		n = snprintf(buf, cap, "%s/agentgw/audit.db", base);
	} else if ((base = getenv("HOME")) && base[0] == '/') {
		n = snprintf(buf, cap, "%s/.local/state/agentgw/audit.db", base);
	} else {
		return -AGW_ENOTFOUND;
	}
	if (n < 0 || (size_t)n >= cap)
		return -AGW_ETOOBIG;
	return 0;
}

int aud_prune(const char *path, int64_t before_us, const char *sandbox, bool force,
	      struct aud_prune_result *res)
{
	sqlite3 *db = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	if (access(path, F_OK) < 0) {
		rc = -errno;
		log_error("audit: %s: %s", path, strerror(errno));
		return rc;
	}
	rc = aud_db_open_rw(path, &db);
	if (rc == 0)
		rc = aud_prune_sql(db, before_us, sandbox, force, res);
	sqlite3_close(db);
	return rc;
}
