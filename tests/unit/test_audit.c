// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the audit schema and writer against real SQLite files:
 * schema creation and migration, the refusals (newer schema, foreign
 * database, missing directory, read-only), batching boundaries (1000 events
 * per transaction, the 50 ms timer), queue-full under a locked database with
 * every accepted event committed, a database locked past the busy timeout,
 * sandbox rows, string caps, the views, and the real sqlite3 command line.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "test_audit_util.h"

/* The query plan of sql: every row's detail, joined by "; ". */
static const char *tau_plan(const char *db, const char *sql, char *buf, size_t cap)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	char q[512];
	size_t n = 0;

	buf[0] = '\0';
	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, q, -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW && n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s; ",
					      (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

static void test_schema_created(void **state)
{
	char plan[512];
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	char buf[64];

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	assert_true(aud_writer_healthy(w));
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "PRAGMA user_version"), AUD_SCHEMA_VERSION);
	assert_string_equal(tau_text(t->db, "PRAGMA journal_mode", buf, sizeof(buf)), "wal");
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'"
					" AND name IN ('sandbox', 'event')"),
			 2);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
					" AND name IN ('event_sandbox_ts', 'event_denied')"),
			 2);
	/* no index every insert pays for on a low-cardinality key (schema 1
	 * had event(kind, decision)) */
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
					" AND name = 'event_kind_decision'"),
			 0);
	/* the denials view reads the partial index, not the table */
	assert_non_null(strstr(tau_plan(t->db, "SELECT * FROM denials", plan, sizeof(plan)),
			       "USING INDEX event_denied"));
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'view'"
					" AND name IN ('denials', 'net_summary', 'fs_summary')"),
			 3);
	/* the index is used for the CLI's per-sandbox time queries */
	assert_int_equal(
	    tau_int(t->db, "SELECT COUNT(*) FROM pragma_index_info('event_sandbox_ts')"), 2);
	/* opening again does not migrate again and keeps everything */
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "PRAGMA user_version"), AUD_SCHEMA_VERSION);
}

static void test_migrate_empty_file(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	FILE *f = fopen(t->db, "w");

	assert_non_null(f);
	fclose(f);
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "PRAGMA user_version"), AUD_SCHEMA_VERSION);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), 0);
}

static void test_newer_schema_refused(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	struct aud_db *db = NULL;
	char err[512];

	assert_int_equal(tau_exec(t->db, "CREATE TABLE future(x); PRAGMA user_version = 7"),
			 SQLITE_OK);
	assert_int_equal(aud_writer_new(t->db, &w), -AGW_ESCHEMA);
	assert_null(w);
	assert_int_equal(aud_db_open_ro(t->db, &db, err, sizeof(err)), -AGW_ESCHEMA);
	assert_null(db);
	assert_non_null(strstr(err, "version 7"));
	assert_non_null(strstr(err, "version 2"));
	/* nothing was changed */
	assert_int_equal(tau_int(t->db, "PRAGMA user_version"), 7);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sqlite_master"), 1);
}

static void test_foreign_db_refused(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;

	assert_int_equal(tau_exec(t->db, "CREATE TABLE notes(x)"), SQLITE_OK);
	assert_int_equal(aud_writer_new(t->db, &w), -AGW_ESCHEMA);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sqlite_master"), 1);
}

static void test_missing_dir(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	struct aud_db *db = NULL;
	char path[PATH_MAX + 64], err[PATH_MAX + 128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/no/such/dir/audit.db", t->dir);
	assert_int_equal(aud_writer_new(path, &w), -ENOENT);
	assert_null(w);
	snprintf(path, sizeof(path), "%s/no", t->dir);
	assert_int_equal(stat(path, &sb), -1); /* and it was not created */
	assert_int_equal(aud_db_open_ro(t->db, &db, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no audit database at"));
	assert_non_null(strstr(err, t->db));
	/* a file where the directory should be */
	assert_int_equal(tau_exec(t->db, "PRAGMA user_version"), SQLITE_OK);
	snprintf(path, sizeof(path), "%s/x.db", t->db);
	assert_int_equal(aud_writer_new(path, &w), -ENOTDIR);
}

/* Runs in a child: root ignores file modes, so it needs a read-only mount. */
static int readonly_child(const struct tau_ctx *t)
{
	struct aud_writer *w = NULL;
	int rc;

	if (geteuid() == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount(t->dir, t->dir, NULL, MS_BIND, NULL) < 0 ||
		    mount(NULL, t->dir, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
			return 10;
		rc = aud_writer_new(t->db, &w);
		aud_writer_free(w);
		return rc == -EROFS ? 0 : 11;
	}
	if (chmod(t->db, 0444) < 0)
		return 12;
	rc = aud_writer_new(t->db, &w);
	aud_writer_free(w);
	return rc == -EACCES || rc == -EROFS ? 0 : 13;
}

static void test_readonly_db(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	int status = 0;
	pid_t pid;

	/* a real database with a row in it, closed cleanly */
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	struct aud_event ev = tau_event(1, "fs", "open", "a.txt", "allow");
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	aud_writer_free(w);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(readonly_child(t));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), 1);
}

/*
 * Submit n events to a new writer on path without flushing; wait until all
 * are committed. Returns the transactions used, or -1 when the submits took
 * so long (a loaded machine) that the 50 ms timer may have cut a batch.
 */
static int64_t batch_round(const char *path, int n)
{
	struct aud_writer *w = NULL;
	struct aud_writer_stats st;
	char target[32];
	int64_t t0;

	assert_int_equal(aud_writer_new(path, &w), 0);
	t0 = agw_mono_us();
	for (int i = 0; i < n; i++) {
		snprintf(target, sizeof(target), "host%d.test:443", i);
		struct aud_event ev = tau_event(1, "net", "connect", target, "allow");
		assert_int_equal(aud_writer_submit(w, &ev), 0);
	}
	if (agw_mono_us() - t0 > AUD_BATCH_US * 3 / 4) {
		aud_writer_free(w);
		return -1;
	}
	/* no flush: a full batch commits at once, the rest when its timer fires */
	assert_int_equal(tau_wait_committed(w, (uint64_t)n, 3000), 0);
	aud_writer_get_stats(w, &st);
	assert_int_equal(st.submitted, n);
	assert_int_equal(st.queued, 0);
	aud_writer_free(w);
	assert_int_equal(tau_int(path, "SELECT COUNT(*) FROM event"), n);
	assert_int_equal(tau_int(path, "SELECT COUNT(DISTINCT target) FROM event"), n);
	return (int64_t)st.transactions;
}

static void test_batch_exactly_1000(void **state)
{
	struct tau_ctx *t = *state;
	static const struct {
		int events;
		int64_t transactions;
	} cases[] = {
	    {AUD_BATCH_EVENTS, 1},
	    {AUD_BATCH_EVENTS + 1, 2},
	    {AUD_BATCH_EVENTS * 2, 2},
	    {AUD_BATCH_EVENTS - 1, 1},
	};
	char path[PATH_MAX + 64];

	for (size_t i = 0; i < AGW_ARRAY_LEN(cases); i++) {
		int64_t tx = -1;

		/* retried on a fresh file only if the machine was too slow to tell */
		for (int attempt = 0; attempt < 5 && tx < 0; attempt++) {
			snprintf(path, sizeof(path), "%s/b%zu-%d.db", t->dir, i, attempt);
			tx = batch_round(path, cases[i].events);
		}
		if (tx != cases[i].transactions)
			fail_msg("%d events: %lld transactions, want %lld", cases[i].events,
				 (long long)tx, (long long)cases[i].transactions);
	}
}

static void test_timer_flush_50ms(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	struct aud_writer_stats st;
	struct aud_event ev = tau_event(1, "fs", "open", "src/main.c", "allow");
	int64_t t0, seen = -1;

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	t0 = agw_mono_us();
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	while (agw_mono_us() - t0 < 2000000) {
		if (tau_int(t->db, "SELECT COUNT(*) FROM event") == 1) {
			seen = agw_mono_us() - t0;
			break;
		}
		usleep(2000);
	}
	assert_true(seen >= 0);
	/* not before the batch window, and not much after it either */
	assert_true(seen >= AUD_BATCH_US - 1000);
	assert_true(seen < 1000000);
	aud_writer_get_stats(w, &st);
	assert_int_equal(st.transactions, 1);
	aud_writer_free(w);
}

/* A second connection holds the write lock: the writer stalls, the queue fills. */
static void test_queue_full_nothing_lost(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	struct aud_writer_stats st;
	sqlite3 *blocker = NULL;
	uint64_t accepted = 0, refused = 0;

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	assert_int_equal(sqlite3_open(t->db, &blocker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 2 * AUD_QUEUE_EVENTS && refused < 100; i++) {
		struct aud_event ev = tau_event(2, "http", "request", "example.org/docs", "allow");
		int rc = aud_writer_submit(w, &ev);

		if (rc == 0)
			accepted++;
		else if (rc == -AGW_EFULL)
			refused++;
		else
			fail_msg("submit: %d", rc);
	}
	assert_int_equal(refused, 100);
	assert_true(accepted >= AUD_QUEUE_EVENTS);
	assert_true(accepted <= AUD_QUEUE_EVENTS + AUD_BATCH_EVENTS);
	/* a full queue is not a failing writer */
	assert_true(aud_writer_healthy(w));
	assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_get_stats(w, &st);
	assert_int_equal(st.committed, accepted);
	assert_int_equal(st.rejected, refused);
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), (int64_t)accepted);
}

/* Locked past the 5 s busy timeout: unhealthy, then healthy again, nothing lost. */
static void test_busy_fails_closed_then_recovers(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	sqlite3 *blocker = NULL;
	struct aud_event ev = tau_event(3, "exec", "start", "/bin/sh", "allow");

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	assert_int_equal(sqlite3_open(t->db, &blocker), SQLITE_OK);
	assert_int_equal(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	assert_int_equal(aud_writer_flush(w), -EBUSY);
	assert_false(aud_writer_healthy(w));
	assert_int_equal(aud_writer_submit(w, &ev), -AGW_EFULL);
	assert_int_equal(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(blocker);
	for (int i = 0; i < 3000 && !aud_writer_healthy(w); i++)
		usleep(1000);
	assert_true(aud_writer_healthy(w));
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), 2);
}

static void test_sandbox_rows(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	int64_t id = 0, id2 = 0;
	char buf[128];

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	assert_int_equal(
	    aud_writer_sandbox_start(w, "alpha", "strict", "ab12", "version: 1\n", "default", &id),
	    0);
	assert_true(id > 0);
	assert_int_equal(aud_writer_sandbox_start(w, "beta", NULL, NULL, NULL, NULL, &id2), 0);
	assert_int_equal(id2, id + 1);
	/* synchronous: visible to another connection at once */
	assert_string_equal(
	    tau_text(t->db, "SELECT name FROM sandbox ORDER BY id LIMIT 1", buf, sizeof(buf)),
	    "alpha");
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sandbox WHERE stopped_at IS NULL"),
			 2);
	assert_int_equal(aud_writer_sandbox_stop(w, id), 0);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM sandbox WHERE stopped_at >= "
					"started_at"),
			 1);
	assert_int_equal(aud_writer_sandbox_stop(w, 999), -AGW_ENOTFOUND);
	assert_int_equal(aud_writer_sandbox_start(w, NULL, NULL, NULL, NULL, NULL, &id),
			 -AGW_EINVAL);
	aud_writer_free(w);
	assert_string_equal(
	    tau_text(t->db, "SELECT policy_text FROM sandbox WHERE name='alpha'", buf, sizeof(buf)),
	    "version: 1\n");
}

static void test_fields_and_caps(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	char *big = malloc(20001), *utf = malloc(6001), buf[256];
	struct aud_event ev = tau_event(1, "fs", "open", NULL, "deny");
	int64_t before = agw_now_us();

	assert_non_null(big);
	assert_non_null(utf);
	memset(big, 'a', 20000);
	big[20000] = '\0';
	for (int i = 0; i < 3000; i++)
		memcpy(utf + 2 * i, "\xc3\xa9", 2); /* é */
	utf[6000] = '\0';
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	ev.target = big;
	ev.detail = big;
	ev.bytes_up = 10;
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	ev.target = utf;
	ev.detail = "{\"fid\":3}";
	ev.ts = 1234;
	ev.bytes_up = -1;
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	ev.kind = NULL;
	assert_int_equal(aud_writer_submit(w, &ev), -AGW_EINVAL);
	aud_writer_free(w);

	assert_int_equal(
	    tau_int(t->db, "SELECT length(CAST(target AS BLOB)) FROM event WHERE id=1"),
	    AUD_TARGET_MAX);
	assert_int_equal(tau_int(t->db, "SELECT target LIKE '%" AUD_TRUNC_MARK "' FROM event"
					" WHERE id=1"),
			 1);
	assert_string_equal(
	    tau_text(t->db, "SELECT detail FROM event WHERE id=1", buf, sizeof(buf)),
	    "{\"truncated\":true,\"original_bytes\":20000}");
	assert_int_equal(tau_int(t->db, "SELECT json_valid(detail) FROM event WHERE id=1"), 1);
	/* cut on a character boundary: the byte before the mark ends an é */
	assert_int_equal(tau_int(t->db, "SELECT hex(substr(CAST(target AS BLOB), "
					"length(CAST(target AS BLOB)) - 15, 2)) = 'C3A9' "
					"FROM event WHERE id=2"),
			 1);
	assert_true(tau_int(t->db, "SELECT length(CAST(target AS BLOB)) FROM event WHERE id=2") <=
		    AUD_TARGET_MAX);
	assert_true(tau_int(t->db, "SELECT ts FROM event WHERE id=1") >= before);
	assert_int_equal(tau_int(t->db, "SELECT ts FROM event WHERE id=2"), 1234);
	assert_int_equal(tau_int(t->db, "SELECT bytes_up FROM event WHERE id=1"), 10);
	assert_int_equal(tau_int(t->db, "SELECT bytes_up IS NULL AND bytes_down IS NULL "
					"AND duration_us IS NULL FROM event WHERE id=2"),
			 1);
	free(big);
	free(utf);
}

static void test_views(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	int64_t sb = 0;
	char buf[64];

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	assert_int_equal(aud_writer_sandbox_start(w, "alpha", "strict", NULL, NULL, NULL, &sb), 0);
	struct aud_event c1 = tau_event(sb, "net", "connect", "api.test:443", "allow");
	struct aud_event c2 = tau_event(sb, "net", "close", "api.test:443", "allow");
	struct aud_event c3 = tau_event(sb, "net", "connect", "evil.test:443", "deny");
	struct aud_event f1 = tau_event(sb, "fs", "open", "src/a.c", "allow");
	struct aud_event f2 = tau_event(sb, "fs", "unlink", "src/a.c", "would_deny");
	struct aud_event f3 = tau_event(sb, "fs", "open", ".env", "deny");
	c2.bytes_up = 100;
	c2.bytes_down = 5000;
	assert_int_equal(aud_writer_submit(w, &c1), 0);
	assert_int_equal(aud_writer_submit(w, &c2), 0);
	assert_int_equal(aud_writer_submit(w, &c1), 0);
	assert_int_equal(aud_writer_submit(w, &c2), 0);
	assert_int_equal(aud_writer_submit(w, &c3), 0);
	assert_int_equal(aud_writer_submit(w, &f1), 0);
	assert_int_equal(aud_writer_submit(w, &f2), 0);
	assert_int_equal(aud_writer_submit(w, &f3), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_free(w);

	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM denials"), 3);
	assert_string_equal(
	    tau_text(t->db, "SELECT sandbox FROM denials LIMIT 1", buf, sizeof(buf)), "alpha");
	assert_int_equal(tau_int(t->db, "SELECT connections FROM net_summary WHERE host = "
					"'api.test:443'"),
			 2);
	assert_int_equal(
	    tau_int(t->db, "SELECT bytes_up FROM net_summary WHERE host='api.test:443'"), 200);
	assert_int_equal(tau_int(t->db, "SELECT bytes_down FROM net_summary WHERE "
					"host='api.test:443'"),
			 10000);
	assert_int_equal(
	    tau_int(t->db, "SELECT denied FROM net_summary WHERE host='evil.test:443'"), 1);
	assert_int_equal(tau_int(t->db, "SELECT ops FROM fs_summary WHERE path='src/a.c'"), 2);
	assert_int_equal(tau_int(t->db, "SELECT would_deny FROM fs_summary WHERE path='src/a.c'"),
			 1);
	assert_int_equal(tau_int(t->db, "SELECT denied FROM fs_summary WHERE path='.env'"), 1);
}

static void test_sqlite3_cli_integrity(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	char out[256];

	if (system("command -v sqlite3 >/dev/null 2>&1") != 0)
		fail_msg("the sqlite3 command line is needed (apt-get install sqlite3)");
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	for (int i = 0; i < 5000; i++) {
		struct aud_event ev =
		    tau_event(1, "dns", "query", "a.test", i % 3 ? "allow" : "deny");
		assert_int_equal(aud_writer_submit(w, &ev), 0);
	}
	assert_int_equal(aud_writer_flush(w), 0);
	/* while the writer still holds the database open, in WAL mode */
	assert_int_equal(tau_sqlite3_cli(t->db, "PRAGMA integrity_check", out, sizeof(out)), 0);
	assert_string_equal(out, "ok");
	assert_int_equal(tau_sqlite3_cli(t->db, "SELECT COUNT(*) FROM denials", out, sizeof(out)),
			 0);
	assert_string_equal(out, "1667");
	aud_writer_free(w);
	assert_int_equal(tau_sqlite3_cli(t->db, "PRAGMA integrity_check", out, sizeof(out)), 0);
	assert_string_equal(out, "ok");
}

static void test_default_path(void **state)
{
	char buf[PATH_MAX], small[8];

	(void)state;
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	assert_int_equal(aud_default_db_path(buf, sizeof(buf)), 0);
	if (geteuid() == 0)
		assert_string_equal(buf, "/var/lib/agentgw/audit.db");
	else
		assert_string_equal(buf, "/xdg/state/agentgw/audit.db");
	assert_int_equal(aud_default_db_path(small, sizeof(small)), -AGW_ETOOBIG);
	unsetenv("XDG_STATE_HOME");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_created, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_empty_file, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_newer_schema_refused, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_db_refused, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_dir, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_readonly_db, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_exactly_1000, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_timer_flush_50ms, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_queue_full_nothing_lost, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_busy_fails_closed_then_recovers, tau_setup,
					    tau_teardown),
	    cmocka_unit_test_setup_teardown(test_sandbox_rows, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_fields_and_caps, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_views, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_sqlite3_cli_integrity, tau_setup, tau_teardown),
	    cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
