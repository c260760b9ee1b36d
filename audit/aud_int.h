/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by the audit/ files and not by anyone else: opening a
 * connection for writing, SQLite result codes to AGW/errno codes, and the
 * wrapper of a read-only connection.
 */
#ifndef AGW_AUD_INT_H
#define AGW_AUD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "audit/aud.h"

/*
 * Open or create path for writing: WAL, synchronous=NORMAL, busy timeout,
 * migrated to AUD_SCHEMA_VERSION. Errors are logged; codes as aud_writer_new.
 */
int aud_db_open_rw(const char *path, sqlite3 **out);

/* A SQLite result code as a negative AGW_E* or -errno code. */
int aud_sql_err(sqlite3 *db, int rc);

/* Wrap an open read-only connection of schema version ver (taken over);
 * NULL on ENOMEM. */
struct aud_db *aud_db_wrap(sqlite3 *sq, int ver);
/* The connection inside (still owned by db), and the file's version. */
sqlite3 *aud_db_handle(struct aud_db *db);
int aud_db_version(const struct aud_db *db);

/* ---- the hash chain (aud_chain.c) ---- */

#define AUD_HASH_LEN 32 /* SHA-256 */

/* The hashed fields of one event row; len[] the byte lengths of kind, op,
 * target, decision, rule, reason, src, dst, detail (aud_chain_lens fills
 * them from NUL-terminated strings). Integers < 0 are NULL, prev_id too. */
struct aud_chain_row {
	int64_t id, sandbox_id, prev_id, ts;
	const char *kind, *op, *target, *decision, *rule, *reason, *src, *dst;
	int64_t bytes_up, bytes_down, duration_us;
	const char *detail;
	size_t len[9];
};

void aud_chain_lens(struct aud_chain_row *r);
/* SHA-256 of prev (NULL: 32 zero bytes) and r's canonical encoding (see
 * aud_chain.c). Returns 0, -AGW_ENOMEM, -AGW_EINVAL if libcrypto fails. */
int aud_chain_hash(const uint8_t prev[AUD_HASH_LEN], const struct aud_chain_row *r,
		   uint8_t out[AUD_HASH_LEN]);
/* Lowercase hex of n bytes into out[2n + 1]; and back (-AGW_EPARSE). */
void aud_hex(const uint8_t *b, size_t n, char *out);
int aud_unhex(const char *s, uint8_t *b, size_t n);
/* Where sandbox_id's chain ends now: the last row's id and hash, or the
 * prune anchor's, or -1 and zeros. Blocks on the database. */
int aud_chain_tail(sqlite3 *db, int64_t sandbox_id, int64_t *last_id,
		   uint8_t last_hash[AUD_HASH_LEN]);
/* The id the next event gets: above every row and every pruned row. Call
 * inside the write transaction. */
int aud_chain_next_id(sqlite3 *db, int64_t *next);
/* Migration to schema 2: chains the rows already there, sandbox by
 * sandbox in id order, and records each head. In the caller's transaction. */
int aud_chain_backfill(sqlite3 *db);
/* Prune on an open read-write connection (see aud_prune). */
int aud_prune_sql(sqlite3 *db, int64_t before_us, const char *sandbox, bool force,
		  struct aud_prune_result *res);

#endif
