/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by the audit/ files and not by anyone else: opening a
 * connection for writing, SQLite result codes to AGW/errno codes, and the
 * wrapper of a read-only connection.
 */
#ifndef AGW_AUD_INT_H
#define AGW_AUD_INT_H

#include <sqlite3.h>

/*
 * Open or create path for writing: WAL, synchronous=NORMAL, busy timeout,
 * migrated to AUD_SCHEMA_VERSION. Errors are logged; codes as aud_writer_new.
 */
int aud_db_open_rw(const char *path, sqlite3 **out);

/* A SQLite result code as a negative AGW_E* or -errno code. */
int aud_sql_err(sqlite3 *db, int rc);

/* Wrap an open read-only connection (taken over); NULL on ENOMEM. */
struct aud_db *aud_db_wrap(sqlite3 *sq);

#endif
