// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Editing a policy's text: one allow rule appended to network.allow or
 * filesystem.allow, with comment lines above it, leaving every other byte as
 * written (comments, order, style). Approvals use it for `session` (the
 * sandbox's in-memory policy) and `always` (the policy file). The place is
 * found on the parsed YAML tree: after the last line of a block list, or a
 * new `allow:` (and section) when there is none. A list written in flow
 * style ([a, b]) is not edited. The result is loaded again and must hold
 * exactly one more rule of that list, the new one last, or nothing is
 * returned: a bad edit never reaches a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "policies/pol_int.h"

struct pol_ed {
	const char *text;
	size_t len;
	const struct pol_yaml *y;
};

static const struct pol_ynode *pol_ed_nd(const struct pol_ed *e, int32_t i)
{
	return &e->y->n[i];
}

/* The value node of key in mapping map, or -1. */
static int32_t pol_ed_get(const struct pol_ed *e, int32_t map, const char *key, int32_t *keyn)
{
	*keyn = -1;
	if (map < 0 || pol_ed_nd(e, map)->type != POL_Y_MAP)
		return -1;
	for (int32_t k = pol_ed_nd(e, map)->first; k >= 0;
	     k = pol_ed_nd(e, pol_ed_nd(e, k)->next)->next) {
		if (pol_ed_nd(e, k)->type == POL_Y_SCALAR &&
		    !strcmp(pol_ystr(e->y, pol_ed_nd(e, k)), key)) {
			*keyn = k;
			return pol_ed_nd(e, k)->next;
		}
	}
	return -1;
}

/* Last line any node of the subtree at i starts on. */
static int pol_ed_last_line(const struct pol_ed *e, int32_t i)
{
	int m = pol_ed_nd(e, i)->line;

	if (pol_ed_nd(e, i)->type != POL_Y_SCALAR)
		for (int32_t c = pol_ed_nd(e, i)->first; c >= 0; c = pol_ed_nd(e, c)->next)
			m = AGW_MAX(m, pol_ed_last_line(e, c));
	return m;
}

/* Byte offset of the start of line (1-based) line+1, i.e. just past line. */
static size_t pol_ed_after_line(const struct pol_ed *e, int line)
{
	size_t off = 0;

	for (int l = 1; l <= line && off < e->len; l++) {
		const char *nl = memchr(e->text + off, '\n', e->len - off);

		off = nl ? (size_t)(nl - e->text) + 1 : e->len;
	}
	return off;
}

/* The character at node i's start. */
static char pol_ed_char_at(const struct pol_ed *e, int32_t i)
{
	size_t off =
	    pol_ed_after_line(e, pol_ed_nd(e, i)->line - 1) + (size_t)(pol_ed_nd(e, i)->col - 1);

	return off < e->len ? e->text[off] : '\0';
}

static bool pol_ed_is_null(const struct pol_ed *e, int32_t i)
{
	const struct pol_ynode *nd = pol_ed_nd(e, i);

	return nd->type == POL_Y_SCALAR && nd->plain &&
	       (nd->len == 0 || !strcmp(pol_ystr(e->y, nd), "~") ||
		!strcmp(pol_ystr(e->y, nd), "null"));
}

/* Appends "<pad># comment\n...<pad>- rule\n" to b at *n. */
static int pol_ed_item(char *b, size_t cap, size_t *n, int pad, const char *comment,
		       const char *rule)
{
	const char *c = comment;
	int w;

	while (c && *c) {
		size_t l = strcspn(c, "\n");

		w = snprintf(b + *n, cap - *n, "%*s# %.*s\n", pad, "", (int)l, c);
		if (w < 0 || (size_t)w >= cap - *n)
			return -AGW_ETOOBIG;
		*n += (size_t)w;
		c += l + (c[l] == '\n');
	}
	w = snprintf(b + *n, cap - *n, "%*s- %s\n", pad, "", rule);
	if (w < 0 || (size_t)w >= cap - *n)
		return -AGW_ETOOBIG;
	*n += (size_t)w;
	return 0;
}

static size_t pol_ed_count(const struct pol *p, bool fs)
{
	struct pol_counts c;

	pol_counts(p, &c);
	return fs ? c.fs_allow : c.net_allow;
}

int pol_text_add_rule(const char *text, bool fs, const char *rule, const char *comment, char **out,
		      char *msg, size_t msgcap)
{
	struct pol_errors errs = {0};
	struct pol_ectx ec = {.file = "policy", .errs = &errs};
	struct pol_yaml y = {0};
	struct pol_ed e = {.text = text, .len = strlen(text), .y = &y};
	const char *sect = fs ? "filesystem" : "network";
	char *ins = NULL, *res = NULL;
	size_t cap, n = 0, at;
	int32_t sv, sk, av, ak;
	struct pol *before = NULL, *after = NULL;
	int rc;

	*out = NULL;
	msg[0] = '\0';
	cap = strlen(rule) + (comment ? strlen(comment) * 2 : 0) + 256;
	ins = malloc(cap);
	if (!ins) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	rc = pol_yaml_parse(&ec, text, e.len, &y);
	if (rc || y.root < 0 || y.n[y.root].type != POL_Y_MAP) {
		snprintf(msg, msgcap, "the policy does not parse as a YAML mapping");
		rc = -AGW_EPOLICY;
		goto out;
	}
	sv = pol_ed_get(&e, y.root, sect, &sk);
	if (sv < 0) {
		/* No section: a new one at the end. */
		at = e.len;
		n = (size_t)snprintf(ins, cap, "%s%s:\n  allow:\n",
				     e.len && text[e.len - 1] != '\n' ? "\n" : "", sect);
		rc = pol_ed_item(ins, cap, &n, 4, comment, rule);
	} else if (pol_ed_is_null(&e, sv) || y.n[sv].type != POL_Y_MAP ||
		   pol_ed_char_at(&e, sv) == '{') {
		if (y.n[sv].type != POL_Y_MAP && !pol_ed_is_null(&e, sv)) {
			snprintf(msg, msgcap, "'%s' is not a mapping", sect);
			rc = -AGW_EPOLICY;
			goto out;
		}
		if (!pol_ed_is_null(&e, sv)) {
			snprintf(msg, msgcap,
				 "'%s' is written in flow style ({...}); write it as a block "
				 "mapping to let approvals add rules",
				 sect);
			rc = -AGW_EPOLICY;
			goto out;
		}
		at = pol_ed_after_line(&e, y.n[sk].line);
		n = (size_t)snprintf(ins, cap, "%*sallow:\n", y.n[sk].col + 1, "");
		rc = pol_ed_item(ins, cap, &n, y.n[sk].col + 3, comment, rule);
	} else if ((av = pol_ed_get(&e, sv, "allow", &ak)) < 0) {
		int32_t first = y.n[sv].first;

		at = pol_ed_after_line(&e, y.n[sk].line);
		n = (size_t)snprintf(ins, cap, "%*sallow:\n", y.n[first].col - 1, "");
		rc = pol_ed_item(ins, cap, &n, y.n[first].col + 1, comment, rule);
	} else if (pol_ed_is_null(&e, av)) {
		at = pol_ed_after_line(&e, y.n[ak].line);
		rc = pol_ed_item(ins, cap, &n, y.n[ak].col + 1, comment, rule);
	} else if (y.n[av].type != POL_Y_SEQ || pol_ed_char_at(&e, av) != '-') {
		snprintf(msg, msgcap,
			 "%s.allow is written in flow style ([...]); write it as a block list "
			 "(lines starting with '- ') to let approvals add rules",
			 sect);
		rc = -AGW_EPOLICY;
		goto out;
	} else {
		at = pol_ed_after_line(&e, pol_ed_last_line(&e, av));
		if (at == e.len && e.len && text[e.len - 1] != '\n')
			ins[n++] = '\n', ins[n] = '\0';
		rc = pol_ed_item(ins, cap, &n, y.n[av].col - 1, comment, rule);
	}
	if (rc)
		goto out;
	res = malloc(e.len + n + 1);
	if (!res) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	memcpy(res, text, at);
	memcpy(res + at, ins, n);
	memcpy(res + at + n, text + at, e.len - at);
	res[e.len + n] = '\0';
	/* The edit must load and add exactly this one rule at the end. */
	pol_errors_free(&errs);
	memset(&errs, 0, sizeof(errs));
	if (pol_load_buf("policy", text, e.len, "/", &before, &errs) ||
	    (pol_errors_free(&errs), memset(&errs, 0, sizeof(errs)),
	     pol_load_buf("policy", res, strlen(res), "/", &after, &errs)) ||
	    pol_ed_count(after, fs) != pol_ed_count(before, fs) + 1) {
		snprintf(msg, msgcap, "the edited policy would not load with the new rule%s%s",
			 errs.n && errs.v[0].msg ? ": " : "",
			 errs.n && errs.v[0].msg ? errs.v[0].msg : "");
		rc = -AGW_EPOLICY;
		goto out;
	}
	*out = res;
	res = NULL;
	rc = 0;
out:
	pol_free(before);
	pol_free(after);
	pol_errors_free(&errs);
	pol_yaml_free(&y);
	free(ins);
	free(res);
	return rc;
}
