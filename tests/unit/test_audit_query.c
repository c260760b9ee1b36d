// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the audit read side: every filter of query (alone and
 * combined) on a database written by the real writer, the newest-N limit,
 * following by id, the stats report, --since/--until time parsing (relative,
 * absolute in two time zones, UTC, unix, bad input), CSV quoting, JSON
 * escaping of hostile strings checked by a real JSON parser (jansson), and
 * the terminal-safe table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "test_audit_util.h"

#define T0 1795428000000000LL /* 2026-11-23T10:00:00Z in microseconds */

struct qctx {
	char dir[PATH_MAX];
	char db[PATH_MAX + 32];
	int64_t alpha, beta;
	struct aud_db *h;
};

/* 2 sandboxes; 60 events one second apart from T0, kinds and decisions cycling. */
static int qsetup(void **state)
{
	static const char *const kinds[] = {"dns", "net", "fs"};
	static const char *const decisions[] = {"allow", "deny", "would_deny", "allow", "error"};
	struct qctx *q = calloc(1, sizeof(*q));
	struct aud_writer *w = NULL;
	char target[64], err[512];

	if (!q || tau_mkdir(q->dir) < 0)
		return -1;
	snprintf(q->db, sizeof(q->db), "%s/audit.db", q->dir);
	if (aud_writer_new(q->db, &w) < 0 ||
	    aud_writer_sandbox_start(w, "alpha", "strict", NULL, NULL, NULL, &q->alpha) < 0 ||
	    aud_writer_sandbox_start(w, "beta", "dev", NULL, NULL, NULL, &q->beta) < 0)
		return -1;
	for (int i = 0; i < 60; i++) {
		const char *kind = kinds[i % 3];

		if (i % 3 == 2)
			snprintf(target, sizeof(target), "src/dir%d/file%d.c", i % 2, i);
		else
			snprintf(target, sizeof(target), "host%d.example.test:443", i % 4);
		struct aud_event ev =
		    tau_event(i < 40 ? q->alpha : q->beta, kind, "op", target, decisions[i % 5]);
		ev.ts = T0 + (int64_t)i * 1000000;
		ev.rule = "network.allow[0]";
		if (aud_writer_submit(w, &ev) < 0)
			return -1;
	}
	aud_writer_free(w);
	if (aud_db_open_ro(q->db, &q->h, err, sizeof(err)) < 0)
		return -1;
	*state = q;
	return 0;
}

static int qteardown(void **state)
{
	struct qctx *q = *state;

	aud_db_close(q->h);
	tau_rmdir(q->dir);
	free(q);
	return 0;
}

/* Count rows of f; also checks they come in ascending id order. */
static int count_rows(struct aud_db *h, const struct aud_filter *f, int64_t *first, int64_t *last)
{
	struct aud_cursor *c = NULL;
	struct aud_row r;
	int64_t prev = 0;
	int n = 0, rc;

	assert_int_equal(aud_query_open(h, f, &c), 0);
	while ((rc = aud_cursor_next(c, &r)) > 0) {
		assert_true(r.id > prev);
		if (n == 0 && first)
			*first = r.id;
		prev = r.id;
		n++;
	}
	assert_int_equal(rc, 0);
	if (last)
		*last = prev;
	aud_cursor_free(c);
	return n;
}

static void test_filters(void **state)
{
	struct qctx *q = *state;
	char idbuf[16];
	int64_t first = 0, last = 0;

	assert_int_equal(count_rows(q->h, &(struct aud_filter){0}, NULL, NULL), 60);
	/* sandbox by name and by id */
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.sandbox = "alpha"}, NULL, NULL),
			 40);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)q->beta);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.sandbox = idbuf}, NULL, NULL), 20);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.sandbox = "gamma"}, NULL, NULL), 0);
	/* kind, decision */
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.kind = "fs"}, NULL, NULL), 20);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.decision = "allow"}, NULL, NULL),
			 24);
	assert_int_equal(
	    count_rows(q->h, &(struct aud_filter){.decision = "would_deny"}, NULL, NULL), 12);
	/* time window: since inclusive, until exclusive */
	assert_int_equal(
	    count_rows(q->h, &(struct aud_filter){.since = T0 + 10000000, .until = T0 + 20000000},
		       NULL, NULL),
	    10);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.since = T0 + 59000000}, NULL, NULL),
			 1);
	/* target glob: whole-string, case-sensitive */
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.target = "src/dir0/*"}, NULL, NULL),
			 10);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.target = "host[02].*"}, NULL, NULL),
			 20);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.target = "HOST*"}, NULL, NULL), 0);
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.target = "src"}, NULL, NULL), 0);
	/* hostile filter text is data, not SQL */
	assert_int_equal(
	    count_rows(q->h, &(struct aud_filter){.kind = "fs' OR '1'='1"}, NULL, NULL), 0);
	/* combined */
	assert_int_equal(
	    count_rows(q->h,
		       &(struct aud_filter){.sandbox = "alpha", .kind = "net", .decision = "deny"},
		       NULL, NULL),
	    3);
	/* limit: first N, or the newest N still oldest first */
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.limit = 5}, &first, &last), 5);
	assert_int_equal(last - first, 4);
	assert_int_equal(
	    count_rows(q->h, &(struct aud_filter){.limit = 5, .newest = true}, &first, &last), 5);
	assert_int_equal(last, 60);
	assert_int_equal(first, 56);
	/* after_id: what tail -f asks each poll */
	assert_int_equal(count_rows(q->h, &(struct aud_filter){.after_id = 57}, &first, NULL), 3);
	assert_int_equal(first, 58);
}

static void test_row_fields(void **state)
{
	struct qctx *q = *state;
	struct aud_cursor *c = NULL;
	struct aud_row r;

	assert_int_equal(aud_query_open(q->h, &(struct aud_filter){.limit = 1}, &c), 0);
	assert_int_equal(aud_cursor_next(c, &r), 1);
	assert_int_equal(r.id, 1);
	assert_string_equal(r.sandbox, "alpha");
	assert_int_equal(r.sandbox_id, q->alpha);
	assert_int_equal(r.ts, T0);
	assert_string_equal(r.kind, "dns");
	assert_string_equal(r.decision, "allow");
	assert_string_equal(r.rule, "network.allow[0]");
	assert_null(r.reason);
	assert_int_equal(r.bytes_up, -1);
	assert_int_equal(aud_cursor_next(c, &r), 0);
	aud_cursor_free(c);
}

static void test_stats(void **state)
{
	struct qctx *q = *state;
	char *buf = NULL, want[128];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(aud_stats_write(q->h, &(struct aud_filter){0}, false, f), 0);
	fclose(f);
	/* alpha/dns: i = 0,3,...,39: 14 events; allow when i%5 is 0 or 3: 6 */
	snprintf(want, sizeof(want), "%-16s %-10s %9d %9d", "alpha", "dns", 14, 6);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, "top denied targets:"));
	/* the fs denials are all distinct files; hosts repeat, so they lead */
	snprintf(want, sizeof(want), "\n%9d %-10s host0.example.test:443\n", 2, "net");
	assert_non_null(strstr(buf, want));
	free(buf);
}

static void test_open_errors(void **state)
{
	struct qctx *q = *state;
	struct aud_db *h = NULL;
	char path[PATH_MAX + 32], err[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/missing.db", q->dir);
	assert_int_equal(aud_db_open_ro(path, &h, err, sizeof(err)), -ENOENT);
	assert_null(h);
	assert_non_null(strstr(err, "no audit database at"));
	assert_non_null(strstr(err, "run agentgw up or pass --db"));
	/* an empty file is not an audit database; and reading never creates one */
	snprintf(path, sizeof(path), "%s/empty.db", q->dir);
	fclose(fopen(path, "w"));
	assert_int_equal(aud_db_open_ro(path, &h, err, sizeof(err)), -AGW_ESCHEMA);
	assert_non_null(strstr(err, "not an agentgw audit database"));
}

static void test_parse_time(void **state)
{
	const int64_t now = T0;
	int64_t v = 0;
	static const char *const bad[] = {
	    "",
	    "10",
	    "10x",
	    "-5m",
	    "5",
	    "m",
	    "10mm",
	    "1.5h",
	    "2026-13-01",
	    "2026-02-30",
	    "2026-11-23T25:00",
	    "2026-11-23T10",
	    "2026-11-23T10:00:5",
	    "2026-11-23T10:00Zx",
	    "26-11-23",
	    "abc",
	    "99999999999999999999",
	    "9999999999999999m",
	};

	(void)state;
	assert_int_equal(aud_parse_time("30s", now, &v), 0);
	assert_int_equal(v, now - 30000000LL);
	assert_int_equal(aud_parse_time("10m", now, &v), 0);
	assert_int_equal(v, now - 600000000LL);
	assert_int_equal(aud_parse_time("2h", now, &v), 0);
	assert_int_equal(v, now - 7200000000LL);
	assert_int_equal(aud_parse_time("3d", now, &v), 0);
	assert_int_equal(v, now - 3 * 86400000000LL);
	assert_int_equal(aud_parse_time("1w", now, &v), 0);
	assert_int_equal(v, now - 7 * 86400000000LL);
	assert_int_equal(aud_parse_time("0m", now, &v), 0);
	assert_int_equal(v, now);
	/* unix seconds */
	assert_int_equal(aud_parse_time("1795428000", now, &v), 0);
	assert_int_equal(v, T0);
	/* UTC with Z, whatever the zone */
	setenv("TZ", "XST-2", 1); /* local = UTC+2, no tzdata needed */
	tzset();
	assert_int_equal(aud_parse_time("2026-11-23T10:00Z", now, &v), 0);
	assert_int_equal(v, T0);
	assert_int_equal(aud_parse_time("2026-11-23T10:00:07Z", now, &v), 0);
	assert_int_equal(v, T0 + 7000000);
	/* local time */
	assert_int_equal(aud_parse_time("2026-11-23T12:00", now, &v), 0);
	assert_int_equal(v, T0);
	assert_int_equal(aud_parse_time("2026-11-23 12:00:00", now, &v), 0);
	assert_int_equal(v, T0);
	assert_int_equal(aud_parse_time("2026-11-23", now, &v), 0);
	assert_int_equal(v, T0 - 12 * 3600000000LL);
	setenv("TZ", "UTC0", 1);
	tzset();
	assert_int_equal(aud_parse_time("2026-11-23T10:00", now, &v), 0);
	assert_int_equal(v, T0);
	for (size_t i = 0; i < AGW_ARRAY_LEN(bad); i++) {
		int rc = aud_parse_time(bad[i], now, &v);

		/* "10" and "5" are unix seconds: valid, so skip them here */
		if (strcmp(bad[i], "10") == 0 || strcmp(bad[i], "5") == 0) {
			assert_int_equal(rc, 0);
			continue;
		}
		if (rc != -AGW_EPARSE)
			fail_msg("'%s' parsed (rc %d)", bad[i], rc);
	}
	assert_int_equal(aud_parse_time(NULL, now, &v), -AGW_EPARSE);
}

/* Run fn(f, s) into a string; returns a malloc'd copy. */
static char *capture(void (*fn)(FILE *, const char *), const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, s);
	fclose(f);
	return buf;
}

static void check_fmt(void (*fn)(FILE *, const char *), const char *in, const char *want)
{
	char *got = capture(fn, in);

	assert_string_equal(got, want);
	free(got);
}

static void test_csv_quoting(void **state)
{
	(void)state;
	check_fmt(aud_fmt_csv_field, "plain", "plain");
	check_fmt(aud_fmt_csv_field, "", "");
	check_fmt(aud_fmt_csv_field, NULL, "");
	check_fmt(aud_fmt_csv_field, "a,b", "\"a,b\"");
	check_fmt(aud_fmt_csv_field, "say \"hi\"", "\"say \"\"hi\"\"\"");
	check_fmt(aud_fmt_csv_field, "line1\nline2", "\"line1\nline2\"");
	check_fmt(aud_fmt_csv_field, "cr\r", "\"cr\r\"");
	check_fmt(aud_fmt_csv_field, "\"", "\"\"\"\"");
	check_fmt(aud_fmt_csv_field, "semi;colon 'q'", "semi;colon 'q'");
}

static void test_json_escaping(void **state)
{
	(void)state;
	check_fmt(aud_fmt_json_str, NULL, "null");
	check_fmt(aud_fmt_json_str, "a\"b\\c", "\"a\\\"b\\\\c\"");
	check_fmt(aud_fmt_json_str, "l1\nl2\r\t", "\"l1\\nl2\\r\\t\"");
	check_fmt(aud_fmt_json_str, "\x01\x1b[31m\x7f", "\"\\u0001\\u001b[31m\\u007f\"");
	check_fmt(aud_fmt_json_str, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
	/* invalid UTF-8: stray bytes, truncated sequence, overlong, surrogate, > U+10FFFF */
	check_fmt(aud_fmt_json_str,
		  "/ws/\xff\xfe"
		  "evil\xc3",
		  "\"/ws/\\ufffd\\ufffdevil\\ufffd\"");
	check_fmt(aud_fmt_json_str, "\xc0\xaf", "\"\\ufffd\\ufffd\"");
	check_fmt(aud_fmt_json_str, "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	check_fmt(aud_fmt_json_str, "\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	check_fmt(aud_fmt_json_str, "\xe2\x82", "\"\\ufffd\\ufffd\"");
	check_fmt(aud_fmt_json_str,
		  "a\xe2\x80\xa8"
		  "b",
		  "\"a\\u2028b\"");
}

/* A hostile event through writer, cursor and JSONL; a real parser reads it back. */
static void test_jsonl_row_parses(void **state)
{
	struct qctx *q = *state;
	struct aud_writer *w = NULL;
	struct aud_db *h = NULL;
	struct aud_cursor *c = NULL;
	struct aud_row r;
	char *buf = NULL, err[512];
	size_t len = 0;
	json_error_t jerr;
	json_t *j;
	FILE *f;
	const char *hostile = "src/\"quoted\"\n\x1b]0;pwned\x07/\xff\xfe.txt";

	assert_int_equal(aud_writer_new(q->db, &w), 0);
	struct aud_event ev = tau_event(q->alpha, "fs", "create", hostile, "deny");
	ev.detail = "{\"mode\":420}";
	ev.bytes_down = 7;
	assert_int_equal(aud_writer_submit(w, &ev), 0);
	aud_writer_free(w);
	assert_int_equal(aud_db_open_ro(q->db, &h, err, sizeof(err)), 0);
	assert_int_equal(aud_query_open(h, &(struct aud_filter){.after_id = 60}, &c), 0);
	assert_int_equal(aud_cursor_next(c, &r), 1);
	f = open_memstream(&buf, &len);
	aud_fmt_jsonl_row(f, &r);
	fclose(f);
	/* one line */
	assert_non_null(strchr(buf, '\n'));
	assert_true(strchr(buf, '\n') == buf + len - 1);
	j = json_loads(buf, 0, &jerr);
	if (!j)
		fail_msg("not JSON: %s: %s", jerr.text, buf);
	assert_string_equal(json_string_value(json_object_get(j, "target")),
			    "src/\"quoted\"\n\x1b]0;pwned\x07/\xef\xbf\xbd\xef\xbf\xbd.txt");
	assert_string_equal(json_string_value(json_object_get(j, "sandbox")), "alpha");
	assert_int_equal(json_integer_value(json_object_get(j, "bytes_down")), 7);
	assert_true(json_is_null(json_object_get(j, "bytes_up")));
	assert_true(json_is_null(json_object_get(j, "reason")));
	assert_string_equal(json_string_value(json_object_get(j, "detail")), "{\"mode\":420}");
	assert_non_null(json_object_get(j, "time"));
	json_decref(j);
	free(buf);

	/* CSV row of the same: quoted, one record */
	buf = NULL;
	f = open_memstream(&buf, &len);
	aud_fmt_csv_row(f, &r);
	fclose(f);
	assert_non_null(
	    strstr(buf, ",\"src/\"\"quoted\"\"\n\x1b]0;pwned\x07/\xff\xfe.txt\",deny,"));
	assert_true(len > 2 && strcmp(buf + len - 2, "\r\n") == 0);
	free(buf);

	/* table: the escape sequence never reaches the terminal */
	buf = NULL;
	f = open_memstream(&buf, &len);
	aud_fmt_table_row(f, &r);
	fclose(f);
	assert_null(strchr(buf, '\x1b'));
	assert_null(strchr(buf, '\x07'));
	assert_non_null(strstr(buf, "\\x0a\\x1b]0;pwned\\x07/\\xff~"));
	assert_true(strchr(buf, '\n') == buf + len - 1);
	free(buf);
	aud_cursor_free(c);
	aud_db_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_filters, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_row_fields, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_stats, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, qsetup, qteardown),
	    cmocka_unit_test(test_parse_time),
	    cmocka_unit_test(test_csv_quoting),
	    cmocka_unit_test(test_json_escaping),
	    cmocka_unit_test_setup_teardown(test_jsonl_row_parses, qsetup, qteardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
