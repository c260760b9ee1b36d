// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the audit hash chain (audit/aud_chain.c) on real SQLite
 * files: the canonical encoding against hashes computed independently
 * (Python's hashlib over the documented encoding), chains written by the
 * writer for interleaved sandboxes, what verify names after a row is
 * deleted, edited, inserted by hand or the newest rows are cut, prune with
 * its anchor (the rest still verifies, new rows chain on, ids are not given
 * again, a broken chain is not pruned), the migration of a schema 1 file,
 * and the files' modes (0600, a wider file narrowed).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "audit/aud_int.h"
#include "test_audit_util.h"

/* Hashes from Python: hashlib.sha256(prev + encoding) of the two rows. */
static void test_hash_vectors(void **state)
{
	struct aud_chain_row r1 = {.id = 1,
				   .sandbox_id = 7,
				   .prev_id = -1,
				   .ts = 1000,
				   .kind = "dns",
				   .op = "query",
				   .target = "example.org",
				   .decision = "deny",
				   .reason = "no rule matches",
				   .src = "10.0.0.2:5353",
				   .bytes_up = -1,
				   .bytes_down = 5,
				   .duration_us = -1,
				   .detail = "{}"};
	struct aud_chain_row r2 = {.id = 2,
				   .sandbox_id = 7,
				   .prev_id = 1,
				   .ts = 1001,
				   .kind = "fs",
				   .op = "open",
				   .target = "caf\xc3\xa9.txt",
				   .decision = "allow",
				   .rule = "filesystem.allow[0]",
				   .bytes_up = 0,
				   .bytes_down = -1,
				   .duration_us = 123};
	uint8_t h1[AUD_HASH_LEN], h2[AUD_HASH_LEN], back[AUD_HASH_LEN];
	char hex[2 * AUD_HASH_LEN + 1];

	(void)state;
	aud_chain_lens(&r1);
	aud_chain_lens(&r2);
	assert_int_equal(aud_chain_hash(NULL, &r1, h1), 0);
	aud_hex(h1, sizeof(h1), hex);
	assert_string_equal(hex,
			    "8f7597389c8490149c3fcf124e184551e3e9845e3137908f29e1a6d3fd58f563");
	assert_int_equal(aud_chain_hash(h1, &r2, h2), 0);
	aud_hex(h2, sizeof(h2), hex);
	assert_string_equal(hex,
			    "733faeb7b71664f003d90d18d926067b1ee8739884541424a8720811b0b64000");
	assert_int_equal(aud_unhex(hex, back, sizeof(back)), 0);
	assert_memory_equal(back, h2, sizeof(h2));
	assert_int_equal(aud_unhex("ABCD", back, 2), -AGW_EPARSE);
	assert_int_equal(aud_unhex("abc", back, 2), -AGW_EPARSE);
	/* NULL and "" differ, as do 0 and NULL */
	r2.rule = "";
	aud_chain_lens(&r2);
	assert_int_equal(aud_chain_hash(h1, &r2, back), 0);
	assert_memory_not_equal(back, h2, sizeof(h2));
}

/* Writes n events alternating between sandboxes a and b. */
static void write_events(const char *db, int64_t a, int64_t b, int n)
{
	struct aud_writer *w = NULL;
	char target[32];

	assert_int_equal(aud_writer_new(db, &w), 0);
	for (int i = 0; i < n; i++) {
		snprintf(target, sizeof(target), "host%d.test:443", i);
		struct aud_event ev = tau_event(i % 2 ? b : a, "net", "connect", target, "allow");

		ev.bytes_up = i % 3 ? i : -1;
		assert_int_equal(aud_writer_submit(w, &ev), 0);
	}
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_free(w);
}

static int64_t start_sandbox(const char *db, const char *name)
{
	struct aud_writer *w = NULL;
	int64_t id = 0;

	assert_int_equal(aud_writer_new(db, &w), 0);
	assert_int_equal(aud_writer_sandbox_start(w, name, "p", "00", "version: 1", NULL, &id), 0);
	aud_writer_free(w);
	return id;
}

/* aud_verify into a buffer; returns *broken. */
static int64_t verify(const char *path, const char *sandbox, char *out, size_t cap)
{
	struct aud_db *db = NULL;
	char err[256];
	int64_t broken = -99;
	FILE *f = fmemopen(out, cap, "w");

	assert_non_null(f);
	assert_int_equal(aud_db_open_ro(path, &db, err, sizeof(err)), 0);
	assert_int_equal(aud_verify(db, sandbox, false, f, &broken), 0);
	fclose(f);
	aud_db_close(db);
	return broken;
}

static void test_chain_written_and_verified(void **state)
{
	struct tau_ctx *t = *state;
	int64_t a = start_sandbox(t->db, "a"), b = start_sandbox(t->db, "b");
	char out[4096];

	write_events(t->db, a, b, 2500); /* three batches */
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "sandbox 1 (a): ok, 1250 events, head 2499 "));
	assert_non_null(strstr(out, "sandbox 2 (b): ok, 1250 events, head 2500 "));
	/* each row names the previous row of its own sandbox */
	assert_int_equal(tau_int(t->db, "SELECT prev_id FROM event WHERE id = 5"), 3);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event WHERE prev_id IS NULL"), 2);
	assert_int_equal(tau_int(t->db, "SELECT head_id FROM sandbox WHERE id = 1"), 2499);
	/* a second writer continues the chains */
	write_events(t->db, a, b, 10);
	assert_int_equal(verify(t->db, "b", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "(b): ok, 1255 events, head 2510 "));
	assert_null(strstr(out, "(a)"));
}

static void test_tampering_named(void **state)
{
	struct tau_ctx *t = *state;
	int64_t a = start_sandbox(t->db, "a"), b = start_sandbox(t->db, "b");
	char out[4096], copy[PATH_MAX + 64];

	write_events(t->db, a, b, 40);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);

	/* a row deleted: the next row of that sandbox names it */
	assert_int_equal(tau_exec(t->db, "DELETE FROM event WHERE id = 21"), SQLITE_OK);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 23);
	assert_non_null(strstr(out, "sandbox 1 (a): BROKEN at event 23: event 23 follows event 21, "
				    "which is missing (deleted)"));
	assert_non_null(strstr(out, "sandbox 2 (b): ok"));

	/* restore by a fresh file, then edit one field of one row */
	snprintf(copy, sizeof(copy), "%s/b.db", t->dir);
	start_sandbox(copy, "a");
	write_events(copy, 1, 2, 40);
	assert_int_equal(tau_exec(copy, "UPDATE event SET decision = 'deny' WHERE id = 30"),
			 SQLITE_OK);
	assert_int_equal(verify(copy, NULL, out, sizeof(out)), 30);
	assert_non_null(
	    strstr(out, "BROKEN at event 30: event 30 does not match its hash (edited)"));
	/* the edit undone: sound again (the hash covers exactly the row) */
	assert_int_equal(tau_exec(copy, "UPDATE event SET decision = 'allow' WHERE id = 30"),
			 SQLITE_OK);
	assert_int_equal(verify(copy, NULL, out, sizeof(out)), 0);
	/* a row inserted by hand */
	assert_int_equal(tau_exec(copy, "INSERT INTO event(sandbox_id, ts, kind, op, decision)"
					" VALUES (1, 5, 'fs', 'open', 'allow')"),
			 SQLITE_OK);
	assert_int_equal(verify(copy, NULL, out, sizeof(out)), 41);
	assert_non_null(strstr(out, "event 41 has no hash"));
	assert_int_equal(tau_exec(copy, "DELETE FROM event WHERE id = 41"), SQLITE_OK);
	/* the newest rows cut: only the recorded head tells */
	assert_int_equal(tau_exec(copy, "DELETE FROM event WHERE id >= 37"), SQLITE_OK);
	assert_int_equal(verify(copy, NULL, out, sizeof(out)), 39);
	assert_non_null(strstr(out, "the newest events up to 39 are missing (deleted); the chain "
				    "ends at 35"));
}

static void test_prune_keeps_chain(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_prune_result res;
	int64_t a = start_sandbox(t->db, "a"), b = start_sandbox(t->db, "b"), cut;
	char out[4096];

	write_events(t->db, a, b, 20);
	/* events 1..20 at ts T0, then set ts so that the first 8 are old */
	assert_int_equal(tau_exec(t->db, "UPDATE event SET ts = 100 WHERE id <= 8"), SQLITE_OK);
	/* the ts edit broke the hashes of 1..8: prune refuses those chains */
	assert_int_equal(aud_prune(t->db, 200, NULL, false, &res), 0);
	assert_int_equal(res.refused, 2);
	assert_int_equal(res.rows, 0);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), 20);

	/* a sound file: old events written with an old ts by the writer */
	snprintf(t->db, sizeof(t->db), "%s/p.db", t->dir);
	a = start_sandbox(t->db, "a");
	b = start_sandbox(t->db, "b");
	{
		struct aud_writer *w = NULL;

		assert_int_equal(aud_writer_new(t->db, &w), 0);
		for (int i = 0; i < 20; i++) {
			struct aud_event ev = tau_event(i % 2 ? b : a, "fs", "open", "x", "allow");

			ev.ts = i < 8 ? 100 + i : 1000 + i;
			assert_int_equal(aud_writer_submit(w, &ev), 0);
		}
		assert_int_equal(aud_writer_flush(w), 0);
		aud_writer_free(w);
	}
	assert_int_equal(aud_prune(t->db, 500, "a", false, &res), 0);
	assert_int_equal(res.rows, 4);
	assert_int_equal(res.sandboxes, 1);
	assert_int_equal(tau_int(t->db, "SELECT last_id FROM chain_anchor WHERE sandbox_id = 1"),
			 7);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "(a): ok, 6 events, head 19 "));
	assert_non_null(strstr(out, "(b): ok, 10 events, head 20 "));
	assert_int_equal(aud_prune(t->db, 500, NULL, false, &res), 0);
	assert_int_equal(res.rows, 4);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	/* pruning everything, the newest row included: ids go on, chains too */
	assert_int_equal(aud_prune(t->db, INT64_MAX, NULL, false, &res), 0);
	assert_int_equal(res.rows, 12);
	assert_int_equal(tau_int(t->db, "SELECT COUNT(*) FROM event"), 0);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	write_events(t->db, a, b, 4);
	cut = tau_int(t->db, "SELECT min(id) FROM event");
	assert_int_equal(cut, 21);
	assert_int_equal(tau_int(t->db, "SELECT prev_id FROM event WHERE id = 21"), 19);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	/* a pruned row that reappears is reported */
	assert_int_equal(tau_exec(t->db, "INSERT INTO event(id, sandbox_id, ts, kind, op, decision,"
					 " hash) VALUES (3, 1, 5, 'fs', 'open', 'allow', 'x')"),
			 SQLITE_OK);
	assert_int_equal(verify(t->db, "a", out, sizeof(out)), 3);
	assert_non_null(strstr(out, "older than the prune anchor"));
}

static void test_writer_prune(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	int64_t rows = -1;
	char out[1024];

	start_sandbox(t->db, "a");
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	for (int i = 0; i < 10; i++) {
		struct aud_event ev = tau_event(1, "fs", "open", "x", "allow");

		ev.ts = i < 6 ? 10 : agw_now_us();
		assert_int_equal(aud_writer_submit(w, &ev), 0);
	}
	assert_int_equal(aud_writer_flush(w), 0);
	assert_int_equal(aud_writer_prune(w, 1000, &rows), 0);
	assert_int_equal(rows, 6);
	/* the writer chains on after its own prune */
	struct aud_event ev = tau_event(1, "fs", "open", "y", "allow");
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_free(w);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "(a): ok, 5 events, head 11 "));
}

static void test_migrate_v1(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	char out[1024];

	assert_int_equal(
	    tau_exec(t->db,
		     "CREATE TABLE sandbox(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
		     " policy_name TEXT, policy_sha256 TEXT, policy_text TEXT, image TEXT,"
		     " started_at INTEGER NOT NULL, stopped_at INTEGER);"
		     "CREATE TABLE event(id INTEGER PRIMARY KEY, sandbox_id INTEGER NOT NULL,"
		     " ts INTEGER NOT NULL, kind TEXT NOT NULL, op TEXT NOT NULL, target TEXT,"
		     " decision TEXT NOT NULL, rule TEXT, reason TEXT, src TEXT, dst TEXT,"
		     " bytes_up INTEGER, bytes_down INTEGER, duration_us INTEGER, detail TEXT);"
		     "INSERT INTO sandbox(name, started_at) VALUES ('old', 1), ('old2', 2);"
		     "INSERT INTO event(sandbox_id, ts, kind, op, decision) VALUES"
		     " (1, 1, 'dns', 'query', 'allow'), (2, 2, 'dns', 'query', 'deny'),"
		     " (1, 3, 'net', 'connect', 'allow');"
		     "PRAGMA user_version = 1;"),
	    SQLITE_OK);
	/* a reader does not migrate: it reads schema 1 as it is, without a chain */
	{
		struct aud_db *db = NULL;
		struct aud_cursor *cur = NULL;
		struct aud_filter f = {0};
		struct aud_row r;
		char err[256];
		int64_t broken;

		assert_int_equal(aud_db_open_ro(t->db, &db, err, sizeof(err)), 0);
		assert_int_equal(aud_query_open(db, &f, &cur), 0);
		assert_int_equal(aud_cursor_next(cur, &r), 1);
		assert_int_equal(r.prev_id, -1);
		assert_null(r.hash);
		aud_cursor_free(cur);
		assert_int_equal(aud_verify(db, NULL, false, stdout, &broken), -AGW_ESCHEMA);
		aud_db_close(db);
		assert_int_equal(tau_int(t->db, "PRAGMA user_version"), 1);
	}
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	struct aud_event ev = tau_event(1, "fs", "open", "y", "allow");
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	aud_writer_free(w);
	assert_int_equal(tau_int(t->db, "PRAGMA user_version"), 2);
	assert_int_equal(tau_int(t->db, "SELECT prev_id FROM event WHERE id = 3"), 1);
	assert_int_equal(tau_int(t->db, "SELECT prev_id FROM event WHERE id = 4"), 3);
	assert_int_equal(verify(t->db, NULL, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "(old): ok, 3 events, head 4 "));
	assert_non_null(strstr(out, "(old2): ok, 1 events, head 2 "));
}

static void test_file_modes(void **state)
{
	struct tau_ctx *t = *state;
	struct aud_writer *w = NULL;
	char side[PATH_MAX + 64];
	struct stat sb;
	mode_t old = umask(022);

	assert_int_equal(aud_writer_new(t->db, &w), 0);
	struct aud_event ev = tau_event(1, "fs", "open", "y", "allow");
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	assert_int_equal(aud_writer_flush(w), 0);
	assert_int_equal(stat(t->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(side, sizeof(side), "%s-wal", t->db);
	assert_int_equal(stat(side, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(side, sizeof(side), "%s-shm", t->db);
	assert_int_equal(stat(side, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	aud_writer_free(w);
	/* a file an older agentgw left 0644 is narrowed on open */
	assert_int_equal(chmod(t->db, 0644), 0);
	assert_int_equal(aud_writer_new(t->db, &w), 0);
	aud_writer_free(w);
	assert_int_equal(stat(t->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	umask(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_vectors),
	    cmocka_unit_test_setup_teardown(test_chain_written_and_verified, tau_setup,
					    tau_teardown),
	    cmocka_unit_test_setup_teardown(test_tampering_named, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_prune_keeps_chain, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_writer_prune, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, tau_setup, tau_teardown),
	    cmocka_unit_test_setup_teardown(test_file_modes, tau_setup, tau_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
