/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The supervisor's audit spill: events the audit writer refused (its queue
 * full, or the database failing: disk full, locked) are appended to a
 * private file in the sandbox's state dir (tmpfs under /run, not the
 * database's disk) instead of being lost, and handed to the writer in their
 * original order once it is healthy again. Records are a 4-byte length
 * followed by the ipc_event_encode() payload, so reading one back goes
 * through the same checked decoder as the children's messages.
 */
#ifndef AGW_SPILL_H
#define AGW_SPILL_H

#include <stddef.h>

#include "audit/aud.h"

#define SPILL_MAX_BYTES (64u << 20)

struct spill;

/* Create (truncate) the file at path, mode 0600. 0 or -errno. */
int spill_open(const char *path, size_t max_bytes, struct spill **out);
/* Append one event. 0, -ENOSPC past max_bytes, -AGW_ETOOBIG, or -errno. */
int spill_add(struct spill *sp, const struct aud_event *ev);
/* Events appended and not yet handed back. */
size_t spill_pending(const struct spill *sp);
/*
 * Submit pending events to w, oldest first, until w refuses one (it stays
 * pending for the next call). Once all are out the file is emptied.
 * Returns how many were submitted, or -errno / -AGW_EPROTO for a file that
 * cannot be read back (its events are then counted as lost and dropped).
 */
int spill_replay(struct spill *sp, struct aud_writer *w);
const char *spill_path(const struct spill *sp);
/* Close; the file is removed when nothing is pending. Returns what was
 * still pending (the file then stays). NULL-safe. */
size_t spill_close(struct spill *sp);

#endif
