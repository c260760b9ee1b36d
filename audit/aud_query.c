// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The read side of the audit database for the CLI: filters turned into one
 * parameterised WHERE clause (user text is only ever bound, never pasted),
 * row cursors that step the statement so any result size streams in constant
 * memory, the stats report, and parsing of --since/--until times.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "agw.h"
#include "audit/aud.h"
#include "audit/aud_int.h"

struct aud_db {
	sqlite3 *db;
	int ver; /* the file's schema version (a reader never migrates it) */
};

struct aud_cursor {
	struct aud_db *db;
	sqlite3_stmt *st;
};

struct aud_db *aud_db_wrap(sqlite3 *sq, int ver)
{
	struct aud_db *d = calloc(1, sizeof(*d));

	if (d) {
		d->db = sq;
		d->ver = ver;
	}
	return d;
}

sqlite3 *aud_db_handle(struct aud_db *db)
{
	return db ? db->db : NULL;
}

int aud_db_version(const struct aud_db *db)
{
	return db ? db->ver : 0;
}

void aud_db_close(struct aud_db *db)
{
	if (!db)
		return;
	sqlite3_close(db->db);
	free(db);
}

const char *aud_db_errmsg(struct aud_db *db)
{
	return db ? sqlite3_errmsg(db->db) : "";
}

/* Bind slots used by the WHERE clause; the same numbers in every query. */
enum {
	AUD_P_SANDBOX = 1,
	AUD_P_SANDBOX_ID,
	AUD_P_KIND,
	AUD_P_DECISION,
	AUD_P_TARGET,
	AUD_P_SINCE,
	AUD_P_UNTIL,
	AUD_P_AFTER,
	AUD_P_LIMIT,
};

static bool aud_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Append the filter's conditions (fixed text with ?N slots) to sql. */
static int aud_where(const struct aud_filter *f, char *sql, size_t cap)
{
	size_t n = strlen(sql);
	int w;

	w = snprintf(sql + n, cap - n, " WHERE 1%s%s%s%s%s%s%s%s",
		     f->sandbox ? " AND (s.name = ?1 OR e.sandbox_id = ?2)" : "",
		     f->kind ? " AND e.kind = ?3" : "", f->decision ? " AND e.decision = ?4" : "",
		     f->target ? " AND e.target GLOB ?5" : "", f->since ? " AND e.ts >= ?6" : "",
		     f->until ? " AND e.ts < ?7" : "", f->after_id ? " AND e.id > ?8" : "", "");
	if (w < 0 || (size_t)w >= cap - n)
		return -AGW_ETOOBIG;
	return 0;
}

static void aud_bind_filter(sqlite3_stmt *st, const struct aud_filter *f)
{
	if (f->sandbox) {
		sqlite3_bind_text(st, AUD_P_SANDBOX, f->sandbox, -1, SQLITE_TRANSIENT);
		/* a name that is all digits is also tried as an id; else no id matches */
		sqlite3_bind_int64(st, AUD_P_SANDBOX_ID,
				   aud_all_digits(f->sandbox) ? strtoll(f->sandbox, NULL, 10) : -1);
	}
	if (f->kind)
		sqlite3_bind_text(st, AUD_P_KIND, f->kind, -1, SQLITE_TRANSIENT);
	if (f->decision)
		sqlite3_bind_text(st, AUD_P_DECISION, f->decision, -1, SQLITE_TRANSIENT);
	if (f->target)
		sqlite3_bind_text(st, AUD_P_TARGET, f->target, -1, SQLITE_TRANSIENT);
	if (f->since)
		sqlite3_bind_int64(st, AUD_P_SINCE, f->since);
	if (f->until)
		sqlite3_bind_int64(st, AUD_P_UNTIL, f->until);
	if (f->after_id)
		sqlite3_bind_int64(st, AUD_P_AFTER, f->after_id);
	if (f->limit > 0)
		sqlite3_bind_int64(st, AUD_P_LIMIT, f->limit);
}

#define AUD_COLS                                                                                   \
	"e.id, e.sandbox_id, s.name, e.ts, e.kind, e.op, e.target, e.decision, e.rule, "           \
	"e.reason, e.src, e.dst, e.bytes_up, e.bytes_down, e.duration_us, e.detail"
/* a schema 1 file, not migrated yet, has no chain columns */
#define AUD_COLS_CHAIN(db) ((db)->ver >= 2 ? ", e.prev_id, e.hash" : ", NULL, NULL")
#define AUD_FROM " FROM event e LEFT JOIN sandbox s ON s.id = e.sandbox_id"

int aud_query_open(struct aud_db *db, const struct aud_filter *f, struct aud_cursor **out)
{
	struct aud_cursor *c = NULL;
	char sql[1024], inner[768];
	int rc;

	*out = NULL;
	snprintf(inner, sizeof(inner), "SELECT " AUD_COLS "%s" AUD_FROM, AUD_COLS_CHAIN(db));
	rc = aud_where(f, inner, sizeof(inner));
	if (rc < 0)
		return rc;
	if (f->limit > 0 && f->newest)
		snprintf(sql, sizeof(sql),
			 "SELECT * FROM (%s ORDER BY e.id DESC LIMIT ?9) ORDER BY 1", inner);
	else if (f->limit > 0)
		snprintf(sql, sizeof(sql), "%s ORDER BY e.id LIMIT ?9", inner);
	else
		snprintf(sql, sizeof(sql), "%s ORDER BY e.id", inner);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -AGW_ENOMEM;
	c->db = db;
	rc = sqlite3_prepare_v2(db->db, sql, -1, &c->st, NULL);
	if (rc != SQLITE_OK) {
		rc = aud_sql_err(db->db, rc);
		goto out;
	}
	aud_bind_filter(c->st, f);
	*out = c;
	c = NULL;
	rc = 0;
out:
	aud_cursor_free(c);
	return rc;
}

static const char *aud_col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int64_t aud_col_count(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

int aud_cursor_next(struct aud_cursor *c, struct aud_row *r)
{
	sqlite3_stmt *st = c->st;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return aud_sql_err(c->db->db, rc);
	r->id = sqlite3_column_int64(st, 0);
	r->sandbox_id = sqlite3_column_int64(st, 1);
	r->sandbox = aud_col_text(st, 2);
	r->ts = sqlite3_column_int64(st, 3);
	r->kind = aud_col_text(st, 4);
	r->op = aud_col_text(st, 5);
	r->target = aud_col_text(st, 6);
	r->decision = aud_col_text(st, 7);
	r->rule = aud_col_text(st, 8);
	r->reason = aud_col_text(st, 9);
	r->src = aud_col_text(st, 10);
	r->dst = aud_col_text(st, 11);
	r->bytes_up = aud_col_count(st, 12);
	r->bytes_down = aud_col_count(st, 13);
	r->duration_us = aud_col_count(st, 14);
	r->detail = aud_col_text(st, 15);
	r->prev_id = aud_col_count(st, 16);
	r->hash = aud_col_text(st, 17);
	return 1;
}

void aud_cursor_free(struct aud_cursor *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->st);
	free(c);
}

/* Print text with control bytes as '?' so a hostile target cannot drive the terminal. */
static void aud_put_plain(FILE *out, const char *s, int width)
{
	int n = 0;

	for (; s && *s && (width <= 0 || n < width); s++, n++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
	for (; n < width; n++)
		fputc(' ', out);
}

int aud_stats_write(struct aud_db *db, const struct aud_filter *f, bool json, FILE *out)
{
	int first = 1;

	struct aud_filter nolimit = *f;
	sqlite3_stmt *st = NULL;
	char sql[1024];
	int rc;

	nolimit.limit = 0;
	snprintf(sql, sizeof(sql),
		 "SELECT e.sandbox_id, s.name, e.kind, COUNT(*),"
		 " SUM(e.decision = 'allow'), SUM(e.decision = 'deny'),"
		 " SUM(e.decision = 'would_deny'), SUM(e.decision = 'error')" AUD_FROM);
	rc = aud_where(&nolimit, sql, sizeof(sql));
	if (rc < 0)
		return rc;
	strncat(sql, " GROUP BY e.sandbox_id, e.kind ORDER BY e.sandbox_id, e.kind",
		sizeof(sql) - strlen(sql) - 1);
	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	aud_bind_filter(st, &nolimit);
	if (json)
		fputs("{\"by_kind\":[", out);
	else
		fprintf(out, "%-6s %-16s %-10s %9s %9s %9s %10s %9s\n", "ID", "SANDBOX", "KIND",
			"EVENTS", "ALLOW", "DENY", "WOULD_DENY", "ERROR");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json) {
			fprintf(out, "%s{\"sandbox_id\":%lld,\"sandbox\":", first ? "" : ",",
				(long long)sqlite3_column_int64(st, 0));
			aud_fmt_json_str(out, aud_col_text(st, 1));
			fputs(",\"kind\":", out);
			aud_fmt_json_str(out, aud_col_text(st, 2));
			fprintf(out,
				",\"events\":%lld,\"allow\":%lld,\"deny\":%lld,\"would_deny\":%lld,"
				"\"error\":%lld}",
				(long long)sqlite3_column_int64(st, 3),
				(long long)sqlite3_column_int64(st, 4),
				(long long)sqlite3_column_int64(st, 5),
				(long long)sqlite3_column_int64(st, 6),
				(long long)sqlite3_column_int64(st, 7));
			first = 0;
			continue;
		}
		fprintf(out, "%-6lld ", (long long)sqlite3_column_int64(st, 0));
		aud_put_plain(out, aud_col_text(st, 1) ? aud_col_text(st, 1) : "-", 16);
		fputc(' ', out);
		aud_put_plain(out, aud_col_text(st, 2), 10);
		fprintf(
		    out, " %9lld %9lld %9lld %10lld %9lld\n",
		    (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4),
		    (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6),
		    (long long)sqlite3_column_int64(st, 7));
	}
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;

	snprintf(sql, sizeof(sql), "SELECT e.kind, e.target, COUNT(*)" AUD_FROM);
	rc = aud_where(&nolimit, sql, sizeof(sql));
	if (rc < 0)
		goto out_code;
	strncat(sql,
		" AND e.decision IN ('deny', 'would_deny') GROUP BY e.kind, e.target"
		" ORDER BY 3 DESC, e.kind, e.target LIMIT 10",
		sizeof(sql) - strlen(sql) - 1);
	rc = sqlite3_prepare_v2(db->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	aud_bind_filter(st, &nolimit);
	if (json)
		fputs("],\"top_denied\":[", out);
	else
		fprintf(out, "\ntop denied targets:\n%9s %-10s %s\n", "COUNT", "KIND", "TARGET");
	first = 1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json) {
			fprintf(out, "%s{\"count\":%lld,\"kind\":", first ? "" : ",",
				(long long)sqlite3_column_int64(st, 2));
			aud_fmt_json_str(out, aud_col_text(st, 0));
			fputs(",\"target\":", out);
			aud_fmt_json_str(out, aud_col_text(st, 1));
			fputc('}', out);
			first = 0;
			continue;
		}
		fprintf(out, "%9lld ", (long long)sqlite3_column_int64(st, 2));
		aud_put_plain(out, aud_col_text(st, 0), 10);
		fputc(' ', out);
		aud_put_plain(out, aud_col_text(st, 1) ? aud_col_text(st, 1) : "-", 0);
		fputc('\n', out);
	}
	if (rc != SQLITE_DONE)
		goto out;
	if (json)
		fputs("]}\n", out);
	rc = SQLITE_OK;
out:
	if (rc != SQLITE_OK)
		rc = aud_sql_err(db->db, rc);
out_code:
	sqlite3_finalize(st);
	return rc;
}

/* ---- times ---- */

static int aud_parse_relative(const char *s, int64_t now_us, int64_t *out_us)
{
	char *end = NULL;
	long long v;
	int64_t unit;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0 || strlen(end) != 1)
		return -AGW_EPARSE;
	switch (*end) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 604800; /* a week */
		break;
	default:
		return -AGW_EPARSE;
	}
	if (v > INT64_MAX / 1000000 / unit)
		return -AGW_EPARSE;
	*out_us = now_us - (int64_t)v * unit * 1000000;
	return 0;
}

/* Exactly n digits at *p, as a number; advances *p. */
static int aud_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -AGW_EPARSE;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

static int aud_parse_absolute(const char *s, int64_t *out_us)
{
	struct tm tm = {0};
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0;
	bool utc = false;
	time_t t;

	if (aud_digits(&p, 4, &y) || *p++ != '-' || aud_digits(&p, 2, &mo) || *p++ != '-' ||
	    aud_digits(&p, 2, &d))
		return -AGW_EPARSE;
	if (*p == 'T' || *p == ' ') {
		p++;
		if (aud_digits(&p, 2, &h) || *p++ != ':' || aud_digits(&p, 2, &mi))
			return -AGW_EPARSE;
		if (*p == ':') {
			p++;
			if (aud_digits(&p, 2, &sec))
				return -AGW_EPARSE;
		}
		if (*p == 'Z') {
			utc = true;
			p++;
		}
	}
	if (*p)
		return -AGW_EPARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -AGW_EPARSE;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	t = utc ? timegm(&tm) : mktime(&tm);
	if (t == (time_t)-1)
		return -AGW_EPARSE;
	/* mktime normalises Feb 30 into March: refuse dates that moved */
	if (tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -AGW_EPARSE;
	*out_us = (int64_t)t * 1000000;
	return 0;
}

int aud_parse_time(const char *s, int64_t now_us, int64_t *out_us)
{
	size_t len;
	if (!s || !*s)
		return -AGW_EPARSE;
	len = strlen(s);
	if (len > 32)
		return -AGW_EPARSE;
	if (aud_all_digits(s)) {
		char *end = NULL;
		long long v;

		errno = 0;
		v = strtoll(s, &end, 10);
		if (errno || v > INT64_MAX / 1000000)
			return -AGW_EPARSE;
		*out_us = (int64_t)v * 1000000;
		return 0;
	}
	if (len >= 10 && s[4] == '-')
		return aud_parse_absolute(s, out_us);
	return aud_parse_relative(s, now_us, out_us);
}

int aud_sandbox_known(struct aud_db *db, const char *name_or_id)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db->db, "SELECT 1 FROM sandbox WHERE name = ?1 OR id = ?2 LIMIT 1",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return -AGW_EDB;
	sqlite3_bind_text(st, 1, name_or_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, aud_all_digits(name_or_id) ? strtoll(name_or_id, NULL, 10) : -1);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -AGW_EDB;
}
