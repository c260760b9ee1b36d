/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Secrets out of the exec audit target. `agentgw exec` records the command
 * line it ran as event.target; an API key passed on the command line would
 * otherwise sit in the audit database. redact_arg() replaces what looks like
 * a secret with REDACT_MARK:
 *   - the value of NAME=VALUE and --NAME=VALUE when NAME has pass, pwd,
 *     secret, token, key, auth, cred, cookie or session in it (any case);
 *   - the argument after such an option (--token X, --api-key X), and
 *     after -u/--user the part after the first ':' (curl's user:password);
 *   - the value of a header argument "Authorization: ...", "X-Api-Key: ..."
 *     (header name with one of the words above);
 *   - the password of a URL's user:password@;
 *   - anywhere in an argument: a token after "Bearer " or "Basic ", and
 *     words with a well-known key prefix (sk-, ghp_, gho_, ghs_, ghu_,
 *     github_pat_, glpat-, xoxb-, xoxp-, AKIA, hf_, AIza) of 16 or more
 *     characters.
 * It is a heuristic: a secret in no such shape stays. Values given with
 * `exec -e NAME=VALUE` are never recorded at all.
 */
#ifndef AGW_REDACT_H
#define AGW_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#define REDACT_MARK "***"

/*
 * Redact one argument; prev is the argument before it (NULL for the first).
 * Writes the result to out (always NUL-terminated, cut at cap - 1). Pure.
 * Returns true if anything was replaced.
 */
bool redact_arg(const char *arg, const char *prev, char *out, size_t cap);

#endif
