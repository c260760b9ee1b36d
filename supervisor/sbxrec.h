/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where a sandbox's audit log is, also after `down` removed its state dir:
 * `up` records the sandbox's name and audit database in the state dir
 * ($AGENTGW_STATE_DIR, else /var/lib/agentgw; vmctl/accel.h) as
 * `last-sandbox` (the most recently started one) and `sandboxes/<name>`
 * (the latest of that name), both "key=value" lines (name, audit_db). The
 * audit verbs use sbxrec_find() to pick a database when none is given.
 */
#ifndef AGW_SBXREC_H
#define AGW_SBXREC_H

#include <stdbool.h>
#include <stddef.h>

#include "supervisor/sbx.h"

#define SBXREC_LAST "last-sandbox"
#define SBXREC_DIR "sandboxes"

struct sbxrec {
	char name[SBX_NAME_MAX + 1];
	char audit_db[4096];
	bool live; /* found in the run dir (starting or running), not in a record */
};

/*
 * Parse record text (key=value lines: name, audit_db; unknown keys and
 * lines without '=' are ignored, later lines win) into *r. Pure. Returns 0,
 * or -AGW_EPARSE when name or audit_db is missing or name is not valid.
 */
int sbxrec_parse(const char *text, size_t n, struct sbxrec *r);

/*
 * Record that sandbox `name` writes to `audit_db`: replaces
 * <state>/sandboxes/<name> and <state>/last-sandbox (write to a temporary
 * file, then rename; files 0644, dirs created 0755). Returns 0 or -errno.
 * Blocks on the file system.
 */
int sbxrec_write(const char *name, const char *audit_db);

/*
 * The audit database of sandbox `name`: the one named in its state dir
 * (<run>/<name>/info, while it exists), else its record. With name NULL:
 * the newest sandbox in the run dir that is starting or running (by
 * started_at), else the last-sandbox record. Fills *r. Returns 0,
 * -AGW_ENOTFOUND when nothing names a database, -EACCES when a record
 * exists but cannot be read. Blocks on the file system (and /proc).
 */
int sbxrec_find(const char *name, struct sbxrec *r);

#endif
