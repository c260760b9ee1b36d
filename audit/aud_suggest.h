/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Policy suggestions from audit rows (`agentgw policy suggest`): collect the
 * denials that no rule decided (decision deny or would_deny, rule NULL) and
 * write the YAML allow rules that would have let them through, grouped per
 * host, address and path, each with what it was denied and how often.
 * Denials by an explicit rule are listed as comments and never suggested:
 * someone wrote that rule on purpose. Pure: rows in, text out.
 */
#ifndef AGW_AUD_SUGGEST_H
#define AGW_AUD_SUGGEST_H

#include <stdio.h>

#include "audit/aud.h"

#define AUD_SUGGEST_MAX 4096 /* distinct hosts, addresses and paths kept */

struct aud_suggest;

int aud_suggest_new(struct aud_suggest **out);
/* Look at one row (any kind or decision; the rest are ignored). 0 or -AGW_ENOMEM. */
int aud_suggest_add(struct aud_suggest *s, const struct aud_row *r);
/* Write the suggestion as YAML (comments say what each rule is for). */
void aud_suggest_write(const struct aud_suggest *s, FILE *out);
/* Denials seen without a deciding rule, and suggestions written. */
size_t aud_suggest_denials(const struct aud_suggest *s);
size_t aud_suggest_count(const struct aud_suggest *s);
void aud_suggest_free(struct aud_suggest *s);

#endif
