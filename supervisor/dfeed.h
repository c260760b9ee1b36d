/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest's denials feed, host side: the supervisor hands every event it
 * audits to dfeed_event(); the denials of this sandbox become one JSON line
 * each on a pipe to the VM runner, which sends them over the control
 * channel to agentgw-init (CTL_DENIAL), which appends them to
 * /run/agentgw/denials in the guest. Only the supervisor's own events pass
 * here, so a guest never sees another sandbox's rows. Bounded: a token
 * bucket (DFEED_RATE lines/s, bursts of DFEED_BURST) and a non-blocking
 * pipe; what does not fit is counted and reported as one
 * {"dropped":N} line once lines flow again. Never blocks.
 */
#ifndef AGW_DFEED_H
#define AGW_DFEED_H

#include <stddef.h>
#include <stdint.h>

#include "audit/aud.h"

#define DFEED_RATE 20	    /* lines per second, sustained */
#define DFEED_BURST 100	    /* lines at once */
#define DFEED_LINE_MAX 1024 /* bytes of a line with its newline (vmctl/ctl.h CTL_DENIAL_MAX) */

struct dfeed;

/* Takes fd (made non-blocking). Returns 0 and *out, or -AGW_ENOMEM (fd closed). */
int dfeed_new(int fd, struct dfeed **out);
/* ev: any audited event; only decision "deny" is fed. now_ms: a monotonic clock. */
void dfeed_event(struct dfeed *d, const struct aud_event *ev, int64_t now_ms);
/* Lines written and dropped so far (tests). */
void dfeed_counts(const struct dfeed *d, uint64_t *sent, uint64_t *dropped);
/* Closes the fd (the runner then sees EOF). NULL-safe. */
void dfeed_free(struct dfeed *d);

/*
 * The line for ev (a denial) into out[cap], newline included, NUL-terminated:
 * {"time":"2026-12-01T18:11:42.497Z","kind":"dns","op":"query",
 *  "target":"evil.test","rule":"network.deny[0]","reason":"denied by rule"}
 * Strings are JSON-escaped and cut between characters (escaped: target 400
 * bytes, rule 150, reason 200, kind and op 40) so the line always fits
 * DFEED_LINE_MAX. rule is null when none. Pure.
 * Returns the length.
 */
size_t dfeed_line(const struct aud_event *ev, char *out, size_t cap);

#endif
