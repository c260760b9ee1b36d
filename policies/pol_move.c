// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Renames and hard links as the policy sees them: the steps an operation
 * really takes (delete the source, create and write the target, replace an
 * existing target, move a whole subtree, give a file a second name), each
 * decided with the ordinary path check, plus two comparisons: a directory
 * moves only when every rule matches the paths below it alike at both
 * places (compared on the glob's matching states, not by listing files),
 * and a hard link only joins names decided alike for every access. The fs
 * child and `policy explain` both call pol_check_fs_move, so they tell the
 * same story. Never allocates.
 */
#include <string.h>

#include "agw.h"
#include "policies/pol_int.h"

static const char R_SUBTREE[] = "a rule decides paths below the source and below the target "
				"differently; moving the directory would change their access";
static const char R_LINK[] = "the two names of a hard link must be decided alike for every "
			     "access (read, write, create, delete)";
static const char R_MESCAPE[] = "path escapes the workspace or is too long";
static const char R_MALLOW[] = "allowed by rule";
static const char R_NLINK[] = "the file has other hard links, whose names' rules cannot be "
			      "checked; it is written only where every path is writable";

static void pol_move_set(const struct pol *p, struct pol_decision *d, bool deny, const char *rule,
			 int line, const char *reason)
{
	size_t n = rule ? strlen(rule) : 0;

	d->verdict = deny ? (p->mode == POL_MODE_AUDIT ? POL_WOULD_DENY : POL_DENY) : POL_ALLOW;
	if (n >= sizeof(d->rule))
		n = sizeof(d->rule) - 1;
	memcpy(d->rule, rule ? rule : "", n);
	d->rule[n] = 0;
	d->line = line;
	d->reason = reason;
}

void pol_fs_subtree_same(const struct pol *p, const char *from, const char *to,
			 struct pol_decision *d)
{
	struct pol_path pf, pt;
	uint64_t sf[POL_GLOB_WORDS], st[POL_GLOB_WORDS];

	memset(d, 0, sizeof(*d));
	if (pol_path_norm(from ? from : "", false, &pf) != POL_NORM_OK ||
	    pol_path_norm(to ? to : "", false, &pt) != POL_NORM_OK) {
		pol_move_set(p, d, true, NULL, 0, R_MESCAPE);
		return;
	}
	for (size_t i = 0; i < p->nfr; i++) {
		const struct pol_frule *r = &p->fr[i];

		pol_glob_states(&r->g, &pf, sf);
		pol_glob_states(&r->g, &pt, st);
		if (memcmp(sf, st, sizeof(sf)) != 0) {
			pol_move_set(p, d, true, r->name, r->line, R_SUBTREE);
			return;
		}
	}
	pol_move_set(p, d, false, NULL, 0, R_MALLOW);
}

/* Are from and to decided alike for every access? When not, d is a deny
 * naming the rule of the stricter name; returns the differing bits. */
static unsigned pol_move_alike(const struct pol *p, const char *from, const char *to,
			       struct pol_decision *d)
{
	unsigned diff = 0;

	memset(d, 0, sizeof(*d));
	for (unsigned b = 0; b < 4; b++) {
		struct pol_decision df, dt;

		pol_check_fs(p, from, 1u << b, &df);
		pol_check_fs(p, to, 1u << b, &dt);
		if (df.verdict == dt.verdict)
			continue;
		if (!diff) {
			/* name the rule that protects the stricter name */
			const struct pol_decision *less = dt.verdict == POL_ALLOW ? &df : &dt;

			pol_move_set(p, d, true, less->rule, less->line, R_LINK);
		}
		diff |= 1u << b;
	}
	if (!diff)
		pol_move_set(p, d, false, NULL, 0, R_MALLOW);
	return diff;
}

static void pol_move_step(const struct pol *p, struct pol_fs_step *s, const char *what,
			  const char *path, unsigned acc)
{
	memset(s, 0, sizeof(*s));
	s->what = what;
	s->path = path;
	s->access = acc;
	pol_check_fs(p, path, acc, &s->d);
}

size_t pol_check_fs_move(const struct pol *p, const struct pol_fs_move *op, struct pol_decision *d,
			 struct pol_fs_step *steps, int *bad)
{
	size_t n = 0;

	*bad = -1;
	if (op->kind == POL_FS_LINK) {
		pol_move_step(p, &steps[n++], "create the new name", op->to, POL_ACC_CREATE);
		memset(&steps[n], 0, sizeof(steps[n]));
		steps[n].what = "both names decided alike for every access";
		steps[n].path = op->to;
		steps[n].other = op->from;
		steps[n].access = pol_move_alike(p, op->from, op->to, &steps[n].d);
		n++;
	} else {
		pol_move_step(p, &steps[n++], "delete the source name", op->from, POL_ACC_DELETE);
		pol_move_step(p, &steps[n++],
			      op->from_dir ? "create the target directory"
					   : "create the target with the source's contents",
			      op->to, POL_ACC_CREATE | (op->from_dir ? 0 : POL_ACC_WRITE));
		if (op->to_exists)
			pol_move_step(p, &steps[n++], "replace the existing target", op->to,
				      POL_ACC_DELETE | (op->to_dir ? 0 : POL_ACC_WRITE));
		if (op->from_dir) {
			memset(&steps[n], 0, sizeof(steps[n]));
			steps[n].what = "paths below keep their rules at the new place";
			steps[n].path = op->from;
			steps[n].other = op->to;
			pol_fs_subtree_same(p, op->from, op->to, &steps[n].d);
			steps[n].access = steps[n].d.verdict == POL_ALLOW ? 0 : POL_ACC_ALL;
			n++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (steps[i].d.verdict != POL_ALLOW) {
			*bad = (int)i;
			*d = steps[i].d;
			return n;
		}
	}
	*d = steps[0].d;
	return n;
}

void pol_check_fs_linked_write(const struct pol *p, unsigned long nlink, struct pol_decision *d)
{
	bool everywhere = false;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < p->nfr && nlink > 1; i++) {
		const struct pol_frule *r = &p->fr[i];

		if (!(r->access & POL_ACC_WRITE))
			continue;
		if (r->deny) {
			pol_move_set(p, d, true, r->name, r->line, R_NLINK);
			return;
		}
		if (r->g.nseg == 1 && r->g.kind[0] == POL_SEG_DSTAR)
			everywhere = true;
	}
	if (nlink > 1 && !everywhere)
		pol_move_set(p, d, true, NULL, 0, R_NLINK);
	else
		pol_move_set(p, d, false, NULL, 0, R_MALLOW);
}
