// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The hash chain of the audit database (schema 2): every event row carries
 * prev_id, the id of the previous event of its sandbox (NULL for the first),
 * and hash, the hex SHA-256 (OpenSSL libcrypto) of the previous row's hash
 * and a canonical encoding of the row. The writer computes it inside the
 * batch's transaction; verify walks each sandbox's chain and names the first
 * row that does not fit; prune deletes a prefix of a chain and leaves an
 * anchor (the last pruned id and hash) so the rest still verifies. Also the
 * migration from schema 1, which chains the rows that were there.
 *
 * Canonical encoding, in this order: id, sandbox_id, prev_id, ts, kind, op,
 * target, decision, rule, reason, src, dst, bytes_up, bytes_down,
 * duration_us, detail; each NULL as the byte 0, each integer as 1 and 8
 * bytes big-endian, each text as 2, a 4-byte big-endian length and its
 * bytes. The first row of a sandbox chains to 32 zero bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "agw.h"
#include "log.h"
#include "audit/aud.h"
#include "audit/aud_int.h"

/* ---- hashing ---- */

/*
 * The row is hashed as one byte string: the previous hash, then each field
 * as a tag (0 NULL, 1 integer + 8 bytes big-endian, 2 text + 4-byte
 * big-endian length + bytes). It is laid out in a buffer and hashed in one
 * call (a digest update per field cost the writer a tenth of its time).
 */
struct aud_chain_buf {
	uint8_t *p;
	size_t n, cap;
};

static void aud_chain_int(struct aud_chain_buf *b, int64_t v, bool null)
{
	uint8_t *o = b->p + b->n;

	if (null) {
		o[0] = 0;
		b->n += 1;
		return;
	}
	o[0] = 1;
	for (int i = 0; i < 8; i++)
		o[1 + i] = (uint8_t)((uint64_t)v >> (56 - 8 * i));
	b->n += 9;
}

static void aud_chain_text(struct aud_chain_buf *b, const char *s, size_t len)
{
	uint8_t *o = b->p + b->n;

	if (!s) {
		o[0] = 0;
		b->n += 1;
		return;
	}
	o[0] = 2;
	o[1] = (uint8_t)(len >> 24);
	o[2] = (uint8_t)(len >> 16);
	o[3] = (uint8_t)(len >> 8);
	o[4] = (uint8_t)len;
	memcpy(o + 5, s, len);
	b->n += 5 + len;
}

static EVP_MD *aud_chain_md;

static void aud_chain_md_init(void)
{
	/* fetched once: OpenSSL 3 looks EVP_sha256() up again at every init */
	aud_chain_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

#define AUD_CHAIN_TXT 9 /* kind .. dst, detail: r->len[0..8] */

int aud_chain_hash(const uint8_t prev[AUD_HASH_LEN], const struct aud_chain_row *r,
		   uint8_t out[AUD_HASH_LEN])
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	static const uint8_t zero[AUD_HASH_LEN];
	const char *txt[AUD_CHAIN_TXT] = {r->kind,   r->op,  r->target, r->decision, r->rule,
					  r->reason, r->src, r->dst,	r->detail};
	uint8_t stack[2048];
	struct aud_chain_buf b = {stack, 0, sizeof(stack)};
	size_t need = AUD_HASH_LEN + 7 * 9;
	unsigned n = 0;
	int ok;

	pthread_once(&once, aud_chain_md_init);
	if (!aud_chain_md)
		return -AGW_EINVAL;
	for (size_t i = 0; i < AUD_CHAIN_TXT; i++)
		need += 5 + (txt[i] ? r->len[i] : 0);
	if (need > b.cap) {
		b.p = malloc(need);
		if (!b.p)
			return -AGW_ENOMEM;
		b.cap = need;
	}
	memcpy(b.p, prev ? prev : zero, AUD_HASH_LEN);
	b.n = AUD_HASH_LEN;
	aud_chain_int(&b, r->id, false);
	aud_chain_int(&b, r->sandbox_id, false);
	aud_chain_int(&b, r->prev_id, r->prev_id < 0);
	aud_chain_int(&b, r->ts, false);
	for (size_t i = 0; i < 8; i++)
		aud_chain_text(&b, txt[i], txt[i] ? r->len[i] : 0);
	aud_chain_int(&b, r->bytes_up, r->bytes_up < 0);
	aud_chain_int(&b, r->bytes_down, r->bytes_down < 0);
	aud_chain_int(&b, r->duration_us, r->duration_us < 0);
	aud_chain_text(&b, r->detail, r->detail ? r->len[8] : 0);
	ok = EVP_Digest(b.p, b.n, out, &n, aud_chain_md, NULL) && n == AUD_HASH_LEN;
	if (b.p != stack)
		free(b.p);
	return ok ? 0 : -AGW_EINVAL;
}

void aud_chain_lens(struct aud_chain_row *r)
{
	const char *txt[] = {r->kind,	r->op,	r->target, r->decision, r->rule,
			     r->reason, r->src, r->dst,	   r->detail};

	for (size_t i = 0; i < AGW_ARRAY_LEN(txt); i++)
		r->len[i] = txt[i] ? strlen(txt[i]) : 0;
}

void aud_hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int aud_unhex(const char *s, uint8_t *b, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return -AGW_EPARSE;
	for (size_t i = 0; i < 2 * n; i++) {
		int c = s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -AGW_EPARSE;
		if (i & 1)
			b[i / 2] = (uint8_t)(b[i / 2] | v);
		else
			b[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

/* ---- where a chain ends ---- */

/* One row of a one-row query: id (column 0) and hex hash (column 1). */
static int aud_chain_q(sqlite3 *db, const char *sql, int64_t sandbox_id, int64_t arg2, int64_t *id,
		       uint8_t hash[AUD_HASH_LEN], bool *found)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*found = false;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, sandbox_id);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, arg2);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*id = sqlite3_column_int64(st, 0);
		/* a hash that is not one chains to zero: verify reports it */
		if (aud_unhex((const char *)sqlite3_column_text(st, 1), hash, AUD_HASH_LEN) < 0)
			memset(hash, 0, AUD_HASH_LEN);
		*found = true;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
out:
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : aud_sql_err(db, rc);
}

int aud_chain_tail(sqlite3 *db, int64_t sandbox_id, int64_t *last_id,
		   uint8_t last_hash[AUD_HASH_LEN])
{
	bool found;
	int rc;

	*last_id = -1;
	memset(last_hash, 0, AUD_HASH_LEN);
	/* the sandbox row keeps the head; rows of a sandbox without its row
	 * (tools, tests) are looked up the slow way */
	rc = aud_chain_q(db, "SELECT head_id, head_hash FROM sandbox WHERE id = ?1", sandbox_id, 0,
			 last_id, last_hash, &found);
	if (rc == 0 && !found)
		rc = aud_chain_q(db,
				 "SELECT id, hash FROM event WHERE sandbox_id = ?1 ORDER BY id DESC"
				 " LIMIT 1",
				 sandbox_id, 0, last_id, last_hash, &found);
	if (rc == 0 && !found)
		rc = aud_chain_q(
		    db, "SELECT last_id, last_hash FROM chain_anchor WHERE sandbox_id = ?1",
		    sandbox_id, 0, last_id, last_hash, &found);
	if (rc == 0 && !found)
		*last_id = -1;
	return rc;
}

int aud_chain_next_id(sqlite3 *db, int64_t *next)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* Pruned ids are never given again: a resumed stream or an anchor
	 * must not meet a second row with the same id. */
	rc = sqlite3_prepare_v2(db,
				"SELECT max(coalesce((SELECT max(id) FROM event), 0),"
				" coalesce((SELECT max(last_id) FROM chain_anchor), 0))",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*next = sqlite3_column_int64(st, 0) + 1;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? 0 : aud_sql_err(db, rc);
}

/* ---- reading rows back ---- */

#define AUD_CHAIN_COLS                                                                             \
	"id, sandbox_id, prev_id, ts, kind, op, target, decision, rule, reason, src, dst,"         \
	" bytes_up, bytes_down, duration_us, detail, hash"

static const char *aud_chain_col(sqlite3_stmt *st, int i, size_t *len)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	*len = s ? (size_t)sqlite3_column_bytes(st, i) : 0;
	return s;
}

static int64_t aud_chain_colint(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

/* Fills r from a row of SELECT AUD_CHAIN_COLS; returns the stored hash. */
static const char *aud_chain_read(sqlite3_stmt *st, struct aud_chain_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->sandbox_id = sqlite3_column_int64(st, 1);
	r->prev_id = aud_chain_colint(st, 2);
	r->ts = sqlite3_column_int64(st, 3);
	r->kind = aud_chain_col(st, 4, &r->len[0]);
	r->op = aud_chain_col(st, 5, &r->len[1]);
	r->target = aud_chain_col(st, 6, &r->len[2]);
	r->decision = aud_chain_col(st, 7, &r->len[3]);
	r->rule = aud_chain_col(st, 8, &r->len[4]);
	r->reason = aud_chain_col(st, 9, &r->len[5]);
	r->src = aud_chain_col(st, 10, &r->len[6]);
	r->dst = aud_chain_col(st, 11, &r->len[7]);
	r->bytes_up = aud_chain_colint(st, 12);
	r->bytes_down = aud_chain_colint(st, 13);
	r->duration_us = aud_chain_colint(st, 14);
	r->detail = aud_chain_col(st, 15, &r->len[8]);
	return (const char *)sqlite3_column_text(st, 16);
}

/* ---- migration from schema 1 ---- */

int aud_chain_backfill(sqlite3 *db)
{
	sqlite3_stmt *sel = NULL, *upd = NULL, *head = NULL;
	struct aud_chain_row r;
	uint8_t prev[AUD_HASH_LEN], h[AUD_HASH_LEN];
	char hex[2 * AUD_HASH_LEN + 1];
	int64_t cur = -1, last = -1;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT " AUD_CHAIN_COLS " FROM event ORDER BY sandbox_id, id",
				-1, &sel, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    db, "UPDATE event SET prev_id = ?1, hash = ?2 WHERE id = ?3", -1, &upd, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    db, "UPDATE sandbox SET head_id = ?1, head_hash = ?2 WHERE id = ?3", -1, &head,
		    NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		aud_chain_read(sel, &r);
		if (r.sandbox_id != cur) {
			cur = r.sandbox_id;
			last = -1;
			memset(prev, 0, sizeof(prev));
		}
		r.prev_id = last;
		if (aud_chain_hash(prev, &r, h) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		aud_hex(h, AUD_HASH_LEN, hex);
		if (last >= 0)
			sqlite3_bind_int64(upd, 1, last);
		else
			sqlite3_bind_null(upd, 1);
		sqlite3_bind_text(upd, 2, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd, 3, r.id);
		rc = sqlite3_step(upd);
		sqlite3_reset(upd);
		sqlite3_bind_int64(head, 1, r.id);
		sqlite3_bind_text(head, 2, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(head, 3, cur);
		if (rc == SQLITE_DONE)
			rc = sqlite3_step(head);
		sqlite3_reset(head);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		memcpy(prev, h, sizeof(prev));
		last = r.id;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	if (rc != SQLITE_OK)
		log_error("audit: chaining the existing events failed: %s", sqlite3_errmsg(db));
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sqlite3_finalize(head);
	return rc == SQLITE_OK ? 0 : aud_sql_err(db, rc);
}

/* ---- verify ---- */

/* A --sandbox value as a name in slot i and, when all digits, an id in
 * slot i + 1 (-1 matches no id). Nothing bound for NULL (all sandboxes). */
static void aud_chain_bind_sandbox(sqlite3_stmt *st, int i, const char *sandbox)
{
	if (!sandbox)
		return;
	sqlite3_bind_text(st, i, sandbox, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, i + 1,
			   sandbox[0] && !sandbox[strspn(sandbox, "0123456789")]
			       ? strtoll(sandbox, NULL, 10)
			       : -1);
}

/* An anchor: the last pruned row of a sandbox. */
static int aud_anchor_get(sqlite3 *db, int64_t sandbox_id, int64_t *id, uint8_t hash[AUD_HASH_LEN],
			  bool *found)
{
	return aud_chain_q(db, "SELECT last_id, last_hash FROM chain_anchor WHERE sandbox_id = ?1",
			   sandbox_id, 0, id, hash, found);
}

/*
 * Walks the chain of one sandbox from its anchor (or the start) up to
 * rows with id <= upto (0: all), checking each link. On the first break
 * writes what into why and its row id into *bad_id and returns 1; returns
 * 0 when sound; < 0 on error. *count, *last_id and last_hash: the sound
 * part walked (last_id -1 and zeros when empty and not anchored).
 */
static int aud_chain_walk(sqlite3 *db, int64_t sandbox_id, int64_t upto, int64_t *count,
			  int64_t *last_id, uint8_t last_hash[AUD_HASH_LEN], int64_t *bad_id,
			  char *why, size_t cap)
{
	sqlite3_stmt *st = NULL;
	struct aud_chain_row r;
	uint8_t prev[AUD_HASH_LEN], h[AUD_HASH_LEN], want[AUD_HASH_LEN];
	int64_t expect_prev = -1;
	bool anchored = false;
	const char *stored;
	int rc, broken = 0;

	*count = 0;
	*bad_id = 0;
	memset(prev, 0, sizeof(prev));
	rc = aud_anchor_get(db, sandbox_id, &expect_prev, prev, &anchored);
	if (rc < 0)
		goto out;
	if (!anchored)
		expect_prev = -1;
	rc = sqlite3_prepare_v2(db,
				"SELECT " AUD_CHAIN_COLS " FROM event WHERE sandbox_id = ?1"
				" AND (?2 = 0 OR id <= ?2) ORDER BY id",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = aud_sql_err(db, rc);
		goto out;
	}
	sqlite3_bind_int64(st, 1, sandbox_id);
	sqlite3_bind_int64(st, 2, upto);
	while (!broken && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		stored = aud_chain_read(st, &r);
		*bad_id = r.id;
		broken = 1;
		if (!stored) {
			snprintf(why, cap, "event %lld has no hash (written outside agentgw?)",
				 (long long)r.id);
		} else if (anchored && r.id <= expect_prev && *count == 0) {
			snprintf(why, cap,
				 "event %lld is older than the prune anchor (event %lld) yet still "
				 "there",
				 (long long)r.id, (long long)expect_prev);
		} else if (r.prev_id != expect_prev && r.prev_id > expect_prev) {
			snprintf(why, cap,
				 "event %lld follows event %lld, which is missing (deleted)",
				 (long long)r.id, (long long)r.prev_id);
		} else if (r.prev_id != expect_prev) {
			snprintf(why, cap,
				 "event %lld names event %lld as its predecessor, expected %lld "
				 "(rows reordered or edited)",
				 (long long)r.id, (long long)r.prev_id, (long long)expect_prev);
		} else if (aud_chain_hash(prev, &r, h) < 0) {
			rc = -AGW_ENOMEM;
			goto out;
		} else if (aud_unhex(stored, want, sizeof(want)) < 0 ||
			   memcmp(h, want, sizeof(h)) != 0) {
			snprintf(why, cap, "event %lld does not match its hash (edited)",
				 (long long)r.id);
		} else {
			broken = 0;
			memcpy(prev, want, sizeof(prev));
			expect_prev = r.id;
			(*count)++;
		}
	}
	if (!broken && rc != SQLITE_DONE) {
		rc = aud_sql_err(db, rc);
		goto out;
	}
	rc = broken;
	if (!broken)
		*bad_id = 0;
out:
	*last_id = expect_prev;
	memcpy(last_hash, prev, AUD_HASH_LEN);
	sqlite3_finalize(st);
	return rc;
}

/* The head the writer recorded for the sandbox; *known false without one. */
static int aud_chain_head(sqlite3 *db, int64_t sandbox_id, int64_t *id, uint8_t hash[AUD_HASH_LEN],
			  bool *known)
{
	return aud_chain_q(db, "SELECT head_id, head_hash FROM sandbox WHERE id = ?1", sandbox_id,
			   0, id, hash, known);
}

int aud_verify(struct aud_db *adb, const char *sandbox, bool json, FILE *out, int64_t *broken)
{
	sqlite3 *db = aud_db_handle(adb);
	sqlite3_stmt *st = NULL;
	int rc;

	*broken = 0;
	if (aud_db_version(adb) < 2) {
		log_error("audit: this database has schema version %d, without the hash chain; "
			  "a writer (agentgw up) migrates it and chains the events already there",
			  aud_db_version(adb));
		return -AGW_ESCHEMA;
	}
	/* every sandbox with a row, events or an anchor */
	rc = sqlite3_prepare_v2(
	    db,
	    "SELECT x.sid, s.name FROM (SELECT id AS sid FROM sandbox UNION"
	    " SELECT DISTINCT sandbox_id FROM event UNION SELECT sandbox_id FROM chain_anchor) x"
	    " LEFT JOIN sandbox s ON s.id = x.sid"
	    " WHERE ?1 IS NULL OR s.name = ?1 OR x.sid = ?2 ORDER BY x.sid",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return aud_sql_err(db, rc);
	aud_chain_bind_sandbox(st, 1, sandbox);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t sid = sqlite3_column_int64(st, 0), count, last, bad, head_id = -1;
		const char *name = (const char *)sqlite3_column_text(st, 1);
		uint8_t last_hash[AUD_HASH_LEN], head_hash[AUD_HASH_LEN];
		char why[256] = "", hex[2 * AUD_HASH_LEN + 1];
		bool known = false;
		int w;

		w = aud_chain_walk(db, sid, 0, &count, &last, last_hash, &bad, why, sizeof(why));
		if (w < 0) {
			rc = w;
			goto out;
		}
		if (w == 0 && (rc = aud_chain_head(db, sid, &head_id, head_hash, &known)) < 0)
			goto out;
		if (w == 0 && known && head_id != last) {
			/* the newest rows are gone: nothing after them to notice */
			bad = head_id;
			if (head_id > last)
				snprintf(why, sizeof(why),
					 "the newest events up to %lld are missing (deleted); the "
					 "chain ends at %lld",
					 (long long)head_id, (long long)last);
			else
				snprintf(why, sizeof(why),
					 "events after the recorded head %lld (up to %lld) were "
					 "not written by agentgw",
					 (long long)head_id, (long long)last);
			w = 1;
		} else if (w == 0 && known && memcmp(head_hash, last_hash, AUD_HASH_LEN) != 0) {
			bad = last;
			snprintf(why, sizeof(why),
				 "the recorded head hash differs from event %lld's",
				 (long long)last);
			w = 1;
		}
		aud_hex(last_hash, AUD_HASH_LEN, hex);
		if (w) {
			if (!*broken)
				*broken = bad ? bad : -1;
		}
		if (json) {
			fprintf(out, "{\"sandbox_id\":%lld,\"sandbox\":", (long long)sid);
			aud_fmt_json_str(out, name);
			fprintf(out, ",\"ok\":%s,\"events\":%lld", w ? "false" : "true",
				(long long)count);
			if (w) {
				fprintf(out, ",\"first_bad_id\":%lld,\"what\":", (long long)bad);
				aud_fmt_json_str(out, why);
			} else if (last >= 0) {
				fprintf(out, ",\"head_id\":%lld,\"head_hash\":\"%s\"",
					(long long)last, hex);
			}
			fputs("}\n", out);
		} else if (w) {
			fprintf(out, "sandbox %lld (%s): BROKEN at event %lld: %s\n",
				(long long)sid, name ? name : "?", (long long)bad, why);
		} else if (last < 0) {
			fprintf(out, "sandbox %lld (%s): ok, no events\n", (long long)sid,
				name ? name : "?");
		} else {
			fprintf(out, "sandbox %lld (%s): ok, %lld events, head %lld %s\n",
				(long long)sid, name ? name : "?", (long long)count,
				(long long)last, hex);
		}
	}
	rc = rc == SQLITE_DONE ? 0 : aud_sql_err(db, rc);
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- prune ---- */

int aud_prune_sql(sqlite3 *db, int64_t before_us, const char *sandbox, bool force,
		  struct aud_prune_result *res)
{
	sqlite3_stmt *st = NULL, *cut = NULL, *anc = NULL, *del = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return aud_sql_err(db, rc);
	rc =
	    sqlite3_prepare_v2(db,
			       "SELECT DISTINCT e.sandbox_id FROM event e LEFT JOIN sandbox s ON"
			       " s.id = e.sandbox_id WHERE e.ts < ?1 AND (?2 IS NULL OR s.name = ?2"
			       " OR e.sandbox_id = ?3) ORDER BY 1",
			       -1, &st, NULL);
	if (rc == SQLITE_OK)
		/* a prefix of the chain: everything before the first row that
		 * is new enough to keep */
		rc = sqlite3_prepare_v2(db,
					"SELECT coalesce((SELECT min(id) FROM event WHERE"
					" sandbox_id = ?1 AND ts >= ?2), 1 << 62)",
					-1, &cut, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(
		    db,
		    "INSERT INTO chain_anchor(sandbox_id, last_id, last_hash, pruned_rows,"
		    " pruned_before, pruned_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		    " ON CONFLICT(sandbox_id) DO UPDATE SET last_id = ?2, last_hash = ?3,"
		    " pruned_rows = pruned_rows + ?4, pruned_before = ?5, pruned_at = ?6",
		    -1, &anc, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "DELETE FROM event WHERE sandbox_id = ?1 AND id <= ?2",
					-1, &del, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, before_us);
	aud_chain_bind_sandbox(st, 2, sandbox);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t sid = sqlite3_column_int64(st, 0), upto, count, last, bad;
		uint8_t last_hash[AUD_HASH_LEN];
		char hex[2 * AUD_HASH_LEN + 1], why[256];
		int w;

		sqlite3_bind_int64(cut, 1, sid);
		sqlite3_bind_int64(cut, 2, before_us);
		rc = sqlite3_step(cut);
		upto = sqlite3_column_int64(cut, 0) - 1;
		sqlite3_reset(cut);
		if (rc != SQLITE_ROW)
			goto out;
		/* the anchor keeps only the last hash: what it stands for must
		 * be sound, or the evidence of a break would go with it */
		w = aud_chain_walk(db, sid, upto, &count, &last, last_hash, &bad, why, sizeof(why));
		if (w < 0) {
			rc = w;
			goto out_err;
		}
		if (w && !force) {
			res->refused++;
			log_error("audit: sandbox %lld not pruned: %s (verify, then --force)",
				  (long long)sid, why);
			continue;
		}
		if (w) {
			/* forced: anchor at the last pruned row's stored hash */
			bool found;

			rc = aud_chain_q(
			    db,
			    "SELECT id, hash FROM event WHERE sandbox_id = ?1 AND id <= ?2"
			    " ORDER BY id DESC LIMIT 1",
			    sid, upto, &last, last_hash, &found);
			if (rc < 0)
				goto out_err;
			count = found;
			log_warn("audit: sandbox %lld pruned although its chain is broken: %s",
				 (long long)sid, why);
		}
		if (last < 0 || count == 0)
			continue;
		aud_hex(last_hash, AUD_HASH_LEN, hex);
		sqlite3_bind_int64(del, 1, sid);
		sqlite3_bind_int64(del, 2, last);
		rc = sqlite3_step(del);
		sqlite3_reset(del);
		if (rc != SQLITE_DONE)
			goto out;
		count = sqlite3_changes(db);
		sqlite3_bind_int64(anc, 1, sid);
		sqlite3_bind_int64(anc, 2, last);
		sqlite3_bind_text(anc, 3, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(anc, 4, count);
		sqlite3_bind_int64(anc, 5, before_us);
		sqlite3_bind_int64(anc, 6, agw_now_us());
		rc = sqlite3_step(anc);
		sqlite3_reset(anc);
		if (rc != SQLITE_DONE)
			goto out;
		res->sandboxes++;
		res->rows += count;
	}
	if (rc != SQLITE_DONE)
		goto out;
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
out:
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		rc = aud_sql_err(db, rc);
	else
		rc = 0;
out_err:
	sqlite3_finalize(st);
	sqlite3_finalize(cut);
	sqlite3_finalize(anc);
	sqlite3_finalize(del);
	if (rc < 0) {
		log_error("audit: prune failed: %s", sqlite3_errmsg(db));
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		memset(res, 0, sizeof(*res));
	}
	return rc;
}
