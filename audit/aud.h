/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit database: schema v1, a batched writer, and queries.
 *
 * The writer owns its SQLite connection on its own thread. Callers fill a
 * struct aud_event and aud_writer_submit() copies it into a bounded queue; it
 * never waits for disk. When the queue is full, or the writer has failed
 * to write, submit returns -AGW_EFULL and the caller must deny the action.
 */
#ifndef AGW_AUD_H
#define AGW_AUD_H

#include <stdint.h>

struct aud_writer;

/* One row of `event`. Strings may be NULL; counts < 0 are stored as NULL. */
struct aud_event {
	int64_t sandbox_id;
	int64_t ts;       /* unix microseconds; 0: filled in by submit */
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

#endif
