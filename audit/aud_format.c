// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Output formats of audit rows: JSON lines, CSV (RFC 4180) and a fixed-width
 * table. Every string in the database may come from the agent (paths, host
 * names, HTTP paths), so each format treats it as hostile: JSON escapes
 * controls and replaces invalid UTF-8, the table shows controls and invalid
 * bytes as \xNN so nothing reaches the terminal raw, CSV quotes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agw.h"
#include "audit/aud.h"
#include "json.h"

void aud_fmt_json_str(FILE *f, const char *s)
{
	char esc[JSON_ESC_MAX];

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (*s) {
		s += json_esc_char(s, esc);
		fputs(esc, f);
	}
	fputc('"', f);
}

void aud_fmt_csv_field(FILE *f, const char *s)
{
	if (!s)
		return;
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void aud_fmt_time(int64_t us, bool utc, char *buf, size_t cap)
{
	time_t t = (time_t)(us / 1000000);
	int64_t frac = us % 1000000;
	struct tm tm;
	char base[32];

	if (frac < 0) {
		frac += 1000000;
		t--;
	}
	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) ||
	    !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(buf, cap, "%lld", (long long)us);
		return;
	}
	if (utc)
		snprintf(buf, cap, "%s.%06lldZ", base, (long long)frac);
	else
		snprintf(buf, cap, "%s.%03lld", base, (long long)(frac / 1000));
}

static void aud_json_int(FILE *f, const char *key, int64_t v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%lld", key, (long long)v);
}

static void aud_json_kv(FILE *f, const char *key, const char *v)
{
	fprintf(f, ",\"%s\":", key);
	aud_fmt_json_str(f, v);
}

void aud_fmt_jsonl_row(FILE *f, const struct aud_row *r)
{
	char tbuf[48];

	aud_fmt_time(r->ts, true, tbuf, sizeof(tbuf));
	/* "v" first: a consumer picks its parser before reading the rest */
	fprintf(f, "{\"v\":%d,\"id\":%lld,\"sandbox_id\":%lld", AUD_SCHEMA_VERSION,
		(long long)r->id, (long long)r->sandbox_id);
	aud_json_kv(f, "sandbox", r->sandbox);
	fprintf(f, ",\"ts\":%lld,\"time\":\"%s\"", (long long)r->ts, tbuf);
	aud_json_kv(f, "kind", r->kind);
	aud_json_kv(f, "op", r->op);
	aud_json_kv(f, "target", r->target);
	aud_json_kv(f, "decision", r->decision);
	aud_json_kv(f, "rule", r->rule);
	aud_json_kv(f, "reason", r->reason);
	aud_json_kv(f, "src", r->src);
	aud_json_kv(f, "dst", r->dst);
	aud_json_int(f, "bytes_up", r->bytes_up);
	aud_json_int(f, "bytes_down", r->bytes_down);
	aud_json_int(f, "duration_us", r->duration_us);
	/* detail stays a string: it is whatever JSON text the writer was given */
	aud_json_kv(f, "detail", r->detail);
	aud_json_int(f, "prev_id", r->prev_id);
	aud_json_kv(f, "hash", r->hash);
	fputs("}\n", f);
}

void aud_fmt_csv_header(FILE *f)
{
	fputs("id,sandbox_id,sandbox,ts,time,kind,op,target,decision,rule,reason,src,dst,"
	      "bytes_up,bytes_down,duration_us,detail\r\n",
	      f);
}

static void aud_csv_next(FILE *f, const char *s)
{
	fputc(',', f);
	aud_fmt_csv_field(f, s);
}

static void aud_csv_int(FILE *f, int64_t v)
{
	fputc(',', f);
	if (v >= 0)
		fprintf(f, "%lld", (long long)v);
}

void aud_fmt_csv_row(FILE *f, const struct aud_row *r)
{
	char tbuf[48];

	aud_fmt_time(r->ts, true, tbuf, sizeof(tbuf));
	fprintf(f, "%lld,%lld", (long long)r->id, (long long)r->sandbox_id);
	aud_csv_next(f, r->sandbox);
	fprintf(f, ",%lld,%s", (long long)r->ts, tbuf);
	aud_csv_next(f, r->kind);
	aud_csv_next(f, r->op);
	aud_csv_next(f, r->target);
	aud_csv_next(f, r->decision);
	aud_csv_next(f, r->rule);
	aud_csv_next(f, r->reason);
	aud_csv_next(f, r->src);
	aud_csv_next(f, r->dst);
	aud_csv_int(f, r->bytes_up);
	aud_csv_int(f, r->bytes_down);
	aud_csv_int(f, r->duration_us);
	aud_csv_next(f, r->detail);
	fputs("\r\n", f);
}

/*
 * One table cell: at most width columns (0: no limit, no padding), ending
 * in "~" when cut. Controls and invalid UTF-8 are written as \xNN.
 */
static void aud_cell(FILE *f, const char *str, int width)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "-");
	char esc[8];
	int col = 0, w;

	while (*s) {
		size_t n = json_utf8_len(s);

		if (n == 0 || (n == 1 && (*s < 0x20 || *s == 0x7f))) {
			snprintf(esc, sizeof(esc), "\\x%02x", *s);
			n = 1;
			w = 4;
		} else {
			w = 1;
		}
		if (width > 0 && col + w > width - 1 && (s[n] || col + w > width)) {
			fputc('~', f);
			col++;
			break;
		}
		if (w == 4)
			fputs(esc, f);
		else
			fwrite(s, 1, n, f);
		col += w;
		s += n;
	}
	for (; col < width; col++)
		fputc(' ', f);
}

void aud_fmt_table_header(FILE *f)
{
	fprintf(f, "%-23s %-12s %-9s %-8s %-40s %-10s %s\n", "TIME", "SANDBOX", "KIND", "OP",
		"TARGET", "DECISION", "RULE");
}

void aud_fmt_table_row(FILE *f, const struct aud_row *r)
{
	char tbuf[48];

	aud_fmt_time(r->ts, false, tbuf, sizeof(tbuf));
	fprintf(f, "%-23s ", tbuf);
	aud_cell(f, r->sandbox, 12);
	fputc(' ', f);
	aud_cell(f, r->kind, 9);
	fputc(' ', f);
	aud_cell(f, r->op, 8);
	fputc(' ', f);
	aud_cell(f, r->target, 40);
	fputc(' ', f);
	aud_cell(f, r->decision, 10);
	fputc(' ', f);
	aud_cell(f, r->rule, 0);
	fputc('\n', f);
}
