/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit database: schema v1, a batched writer, and queries.
 *
 * The writer owns its SQLite connection on its own thread. Callers fill a
 * struct aud_event and aud_writer_submit() copies it into a bounded queue; it
 * never waits for disk. When the queue is full, or the writer has failed
 * to write, submit returns -AGW_EFULL and the caller must deny the action.
 *
 * The read side (aud_db_open_ro, cursors, formatting) serves the CLI: it opens
 * the database read-only and never changes it.
 */
#ifndef AGW_AUD_H
#define AGW_AUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct aud_writer;

/* One row of `event`. Strings may be NULL; counts < 0 are stored as NULL. */
struct aud_event {
	int64_t sandbox_id;
	int64_t ts;	  /* unix microseconds; 0: filled in by submit */
	const char *kind; /* dns net http fs exec lifecycle policy */
	const char *op;
	const char *target;
	const char *decision; /* allow deny would_deny error */
	const char *rule;
	const char *reason;
	const char *src;
	const char *dst;
	int64_t bytes_up, bytes_down, duration_us;
	const char *detail; /* JSON text */
};

/* The schema version this program writes and reads (PRAGMA user_version).
 * 2: event.prev_id and event.hash (the per-sandbox hash chain),
 * sandbox.head_id/head_hash, table chain_anchor (prune anchors). */
#define AUD_SCHEMA_VERSION 2

/*
 * Limits of the writer. Strings longer than their cap are cut at a UTF-8
 * boundary and end in AUD_TRUNC_MARK; a detail over its cap is replaced by
 * {"truncated":true,"original_bytes":N} so it stays valid JSON.
 */
#define AUD_QUEUE_EVENTS 65536	    /* events waiting for the writer */
#define AUD_QUEUE_BYTES (64u << 20) /* bytes of copied strings waiting */
#define AUD_BATCH_EVENTS 1000	    /* events per transaction, at most */
#define AUD_BATCH_US 50000	    /* an event waits at most this long */
#define AUD_RETRY_US 250000	    /* retry interval of a failed batch */
#define AUD_TARGET_MAX 4096
#define AUD_DETAIL_MAX 16384
#define AUD_FIELD_MAX 512 /* every other string */
#define AUD_TRUNC_MARK "...[truncated]"

/*
 * Open or create the database at dbpath, migrate it to AUD_SCHEMA_VERSION and
 * start the writer thread. Blocks on the open (up to the 5 s busy timeout).
 * Returns 0 and *out, or: -ENOENT/-ENOTDIR when the parent directory is
 * missing (it is not created), -EROFS/-EACCES for a read-only database,
 * -AGW_ESCHEMA for a newer schema or a database that is not agentgw's,
 * -AGW_EDB for other SQLite errors. The reason is logged with log_error.
 */
int aud_writer_new(const char *dbpath, struct aud_writer **out);

/*
 * Copy ev (strings capped, see above) into the queue. Never touches disk;
 * takes a mutex briefly. Returns 0, -AGW_EFULL when the queue is full or the
 * writer is failing (callers then deny), -AGW_EINVAL when kind, op or
 * decision is NULL, -AGW_ENOMEM.
 */
int aud_writer_submit(struct aud_writer *w, const struct aud_event *ev);

/*
 * Insert a sandbox row (started_at = now) and return its id in *id_out.
 * Synchronous: blocks until the writer thread has committed it. Strings may
 * be NULL except name. Returns 0 or a negative code (-AGW_EDB, -ENOSPC...).
 */
int aud_writer_sandbox_start(struct aud_writer *w, const char *name, const char *policy_name,
			     const char *policy_sha256, const char *policy_text, const char *image,
			     int64_t *id_out);

/* Set stopped_at = now for sandbox id. Synchronous. -AGW_ENOTFOUND if no row. */
int aud_writer_sandbox_stop(struct aud_writer *w, int64_t id);

/*
 * Block until every event submitted before the call is committed. Returns 0,
 * or the writer's last error (e.g. -ENOSPC, -AGW_EDB) as soon as it is failing:
 * the events are then still held in memory and retried.
 */
int aud_writer_flush(struct aud_writer *w);

/* False while the last write attempt failed. Lock-free; never blocks. */
bool aud_writer_healthy(const struct aud_writer *w);

/*
 * How full the queue is, in percent of the fuller of its two bounds (events
 * and bytes), 0 for NULL. Takes the mutex briefly; never blocks on disk.
 */
unsigned aud_writer_fill_pct(struct aud_writer *w);

/*
 * Delete the events older than before_us (unix microseconds) of every
 * sandbox, through the writer's connection, as aud_prune does. Synchronous.
 * Returns 0 with *rows deleted (may be NULL), or a negative code.
 */
int aud_writer_prune(struct aud_writer *w, int64_t before_us, int64_t *rows);

/* Counters, for tests and `doctor`. A consistent snapshot; takes the mutex. */
struct aud_writer_stats {
	uint64_t submitted;    /* events accepted by submit */
	uint64_t committed;    /* events in committed transactions */
	uint64_t transactions; /* committed event transactions */
	uint64_t failures;     /* failed transaction attempts */
	uint64_t rejected;     /* submits answered -AGW_EFULL */
	size_t queued;	       /* accepted, not yet committed */
};
void aud_writer_get_stats(struct aud_writer *w, struct aud_writer_stats *st);

/*
 * Flush, stop the thread and close the database. Events that still cannot
 * be written after a few retries are counted in a log_error line. NULL-safe.
 */
void aud_writer_free(struct aud_writer *w);

/*
 * The default database path: /var/lib/agentgw/audit.db as root, else
 * $XDG_STATE_HOME/agentgw/audit.db, else $HOME/.local/state/agentgw/audit.db.
 * Returns 0, -AGW_ETOOBIG if cap is too small, -AGW_ENOTFOUND without HOME.
 * The directory is not created.
 */
int aud_default_db_path(char *buf, size_t cap);

/* ---- read side ---- */

struct aud_db;
struct aud_cursor;

/*
 * Open an existing database read-only and check its schema version.
 * On error returns a negative code and writes a one-line reason naming the
 * file into err (e.g. "no audit database at X; run agentgw up or pass --db").
 */
int aud_db_open_ro(const char *path, struct aud_db **out, char *err, size_t errcap);
void aud_db_close(struct aud_db *db);

/* Filters of query/export/stats/tail. Zero/NULL fields do not filter. */
struct aud_filter {
	const char *sandbox; /* name, or id when all digits (matches either) */
	const char *kind;
	const char *decision;
	const char *target;   /* SQLite GLOB on target (case-sensitive) */
	int64_t since, until; /* unix microseconds, since <= ts < until */
	int64_t after_id;     /* id > after_id */
	int64_t limit;	      /* 0: no limit */
	bool newest;	      /* with limit: the newest `limit` rows (still oldest first) */
};

/* One event row; strings NULL when the column is NULL; ints -1 when NULL. */
struct aud_row {
	int64_t id, sandbox_id, ts;
	const char *sandbox; /* sandbox name, NULL if the sandbox row is missing */
	const char *kind, *op, *target, *decision, *rule, *reason, *src, *dst;
	int64_t bytes_up, bytes_down, duration_us;
	const char *detail;
	int64_t prev_id;  /* the previous event of this sandbox's chain, -1 none */
	const char *hash; /* hex SHA-256 chained to prev_id's (see docs/audit.md) */
};

/*
 * 1 if the database has a sandbox row with this name (or id, when all
 * digits), 0 if not, -AGW_EDB on error. Blocks on the database.
 */
int aud_sandbox_known(struct aud_db *db, const char *name_or_id);
/* Start a query (parameterised SQL). Rows come oldest first (by id). */
int aud_query_open(struct aud_db *db, const struct aud_filter *f, struct aud_cursor **out);
/* 1: *row filled (valid until the next call), 0: no more rows, < 0: error. */
int aud_cursor_next(struct aud_cursor *c, struct aud_row *row);
void aud_cursor_free(struct aud_cursor *c);
/* The SQLite message of the last error on db ("" if none). */
const char *aud_db_errmsg(struct aud_db *db);

/*
 * Write the stats report for the events matching f: per sandbox and kind,
 * counts by decision; then the 10 most denied targets. As a table, or with
 * json one object {"by_kind": [...], "top_denied": [...]} on one line.
 * Returns 0 or < 0.
 */
int aud_stats_write(struct aud_db *db, const struct aud_filter *f, bool json, FILE *out);

/*
 * Parse a time for --since/--until into unix microseconds: relative "30s",
 * "10m", "2h", "3d", "1w" (before now_us); absolute local time
 * "2026-11-23", "2026-11-23T10:00", "2026-11-23T10:00:05" (a space may
 * replace the T; a trailing Z means UTC); or unix seconds (digits only).
 * Returns 0 or -AGW_EPARSE.
 */
int aud_parse_time(const char *s, int64_t now_us, int64_t *out_us);

/* ---- integrity (aud_chain.c) ---- */

/*
 * Walk each sandbox's hash chain (only sandbox, a name or id, when not
 * NULL) and write one line per sandbox to out: "sandbox 1 (dev): ok, N
 * events, head ID HASH" or "sandbox 1 (dev): BROKEN at event ID: what", or
 * with json one object per line. *broken: the id of the first bad row found
 * (-1 when the break has no row), 0 when every chain is sound. Returns 0 or
 * a negative code (database error). Blocks on the database.
 */
int aud_verify(struct aud_db *db, const char *sandbox, bool json, FILE *out, int64_t *broken);

struct aud_prune_result {
	int64_t rows;	   /* events deleted */
	int64_t sandboxes; /* chains shortened (each got an anchor) */
	int64_t refused;   /* chains not pruned because they do not verify */
};

/*
 * Delete, per sandbox (only sandbox when not NULL), the oldest events up
 * to the first one with ts >= before_us, in one transaction, and record an
 * anchor (the last deleted id and hash) so the rest still verifies. A chain
 * whose part to delete does not verify is left alone (counted in refused,
 * reason logged) unless force. Opens path read-write; it must exist.
 * Returns 0 or a negative code.
 */
int aud_prune(const char *path, int64_t before_us, const char *sandbox, bool force,
	      struct aud_prune_result *res);

/* ---- formatting (aud_format.c) ---- */

/*
 * JSON string with quotes. Valid UTF-8 passes through; ", \ and control
 * characters are escaped (\n, \t, \u00XX), as are U+2028/U+2029; each byte
 * that is not part of valid UTF-8 becomes \ufffd. NULL prints null.
 */
void aud_fmt_json_str(FILE *f, const char *s);
/* CSV field per RFC 4180: quoted when it holds , " CR or LF; quotes doubled. */
void aud_fmt_csv_field(FILE *f, const char *s);
/* Local time "2026-11-23T10:00:05.123" (utc: "...05.123456Z"). */
void aud_fmt_time(int64_t us, bool utc, char *buf, size_t cap);

void aud_fmt_jsonl_row(FILE *f, const struct aud_row *r);
void aud_fmt_csv_header(FILE *f);
void aud_fmt_csv_row(FILE *f, const struct aud_row *r);
/* Fixed-width table; control characters and invalid UTF-8 shown as \xNN. */
void aud_fmt_table_header(FILE *f);
void aud_fmt_table_row(FILE *f, const struct aud_row *r);

#endif
