/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Credentials the gateway injects (policy `credentials`): the real values,
 * read by the supervisor at start (cred_set_load), and the random
 * placeholders the guest sees instead. The net child holds the set in
 * memory (inherited across fork) and uses the pure functions below on the
 * bytes the guest sends: a placeholder is replaced by its value only in
 * the credential's header of a request to one of its hosts over inspected
 * TLS (cred_head); found anywhere else (another header, the URL, the
 * first CRED_BODY_SCAN bytes of a body, another host, a DNS name, the
 * first bytes of a connection) it is a leak attempt the proxy denies.
 *
 * Nothing here logs or formats a value; messages name the credential.
 */
#ifndef AGW_CRED_H
#define AGW_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agw.h"
#include "policies/pol.h"

#define CRED_VALUE_MAX 4096	/* bytes of one secret */
#define CRED_PH_MAX 96		/* "agw-placeholder-<name>-<32 hex>" and NUL */
#define CRED_BODY_SCAN 65536	/* bytes of each request body scanned */
#define CRED_CMD_TIMEOUT_MS 10000 /* from: command: */

struct cred {
	char name[POL_CRED_NAME_MAX + 1];
	char env[65];	  /* the guest's variable */
	char header[65];  /* lowercase */
	char ph[CRED_PH_MAX]; /* the placeholder */
	size_t ph_len;
	char token[33];	  /* its random part (32 hex): what DNS names are checked for */
	char *value;	  /* the secret (mlock'd when possible, wiped on free) */
	size_t value_len;
};

struct cred_set {
	struct cred *v;
	size_t n;
};

/*
 * Reads every credential of p (env:VAR from the environment, file:PATH
 * with trailing newlines removed, command:CMD's standard output: run
 * directly when CMD has no shell syntax, else with /bin/sh -c; at most
 * CRED_CMD_TIMEOUT_MS, then killed) and makes a placeholder for each.
 * A value must be 1..CRED_VALUE_MAX bytes without control characters.
 * On success the env: variables are removed from this process's
 * environment (children forked later, such as QEMU's, do not get them).
 * Returns 0 and *out (an empty set when p has none), or a negative code
 * with err naming the credential and the cause, never the value. Blocks
 * (files, the command).
 */
int cred_set_load(const struct pol *p, struct cred_set **out, char *err, size_t errcap);
/* Wipes the values and frees. NULL-safe. */
void cred_set_free(struct cred_set *cs);
/* The credential called name, or NULL. */
const struct cred *cred_find(const struct cred_set *cs, const char *name);

/* Pure functions: no I/O, no allocation. cs may be NULL (nothing found). */

/* Index of the first credential whose placeholder occurs in buf, or -1. */
int cred_find_any(const struct cred_set *cs, const uint8_t *buf, size_t len);
/* Index of a credential whose placeholder's random part occurs in the DNS
 * name (any case, dots ignored), or -1. */
int cred_find_dns(const struct cred_set *cs, const char *name);

/* Scanning a stream (a request body) in pieces: finds a placeholder split
 * across pieces; stops after CRED_BODY_SCAN bytes. */
struct cred_scan {
	uint8_t tail[CRED_PH_MAX];
	size_t tail_len;
	uint64_t seen;
};
void cred_scan_init(struct cred_scan *sc);
/* Feeds the next piece: index of a credential found, or -1. */
int cred_scan_feed(const struct cred_set *cs, struct cred_scan *sc, const uint8_t *buf,
		   size_t len);

/*
 * Looks for any credential's real value in a stream (an upstream's
 * responses) fed in pieces: tail (cap CRED_VALUE_MAX, *tail_len bytes
 * used) carries the last bytes across pieces. Index of the credential
 * found, or -1.
 */
int cred_value_scan(const struct cred_set *cs, uint8_t *tail, size_t *tail_len,
		    const uint8_t *buf, size_t len);

/*
 * The longest end of buf[0..len) that is the start of some credential's
 * value (shorter than the value): bytes a proxy must hold back until it
 * knows they do not begin a value split across reads. 0 when none.
 */
size_t cred_value_partial(const struct cred_set *cs, const uint8_t *buf, size_t len);

/*
 * Checks a request head (head[0..len), as http_parse_request read it) and
 * injects. inject is the index of the credential that may be replaced (its
 * placeholder in its header becomes its value), or -1 for none. Any other
 * placeholder (in the request line, in another header, of another
 * credential) is a leak: returns 1 with *leak its index and *where a static
 * "request line" / "header". On success returns 0, with the head rewritten
 * in place and *newlen its new length, *injected the replacements made.
 * after: bytes that follow the head in the buffer (they move with it);
 * cap: room from head on. -AGW_ETOOBIG when the result does not fit in cap
 * or the head holds more than 8 placeholders.
 */
int cred_head(const struct cred_set *cs, int inject, uint8_t *head, size_t len, size_t after,
	      size_t cap, size_t *newlen, unsigned *injected, int *leak, const char **where);

#endif
