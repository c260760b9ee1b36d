// SPDX-License-Identifier: GPL-2.0-or-later
/* Helpers shared by the verbs. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agw.h"
#include "policies/pol.h"

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

void cli_pol_errors(const char *file, int rc, const struct pol_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		const char *f = errs->v[i].file ? errs->v[i].file : file;

		/* Line 0: the error is about the file as a whole (missing, unreadable). */
		if (errs->v[i].line > 0)
			fprintf(stderr, "%s:%d:%d: %s\n", f, errs->v[i].line, errs->v[i].col,
				errs->v[i].msg);
		else
			fprintf(stderr, "%s: %s\n", f, errs->v[i].msg);
	}
	if (rc < 0 && errs->n == 0)
		fprintf(stderr, "%s: %s\n", file, agw_strerror(rc));
}

int cli_check_workspace(const char *file, const struct pol *p, const char *hint)
{
	const char *ws = pol_workspace(p), *why;
	struct stat st;

	if (!ws)
		return 0;
	if (stat(ws, &st) < 0)
		why = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		why = "not a directory";
	else
		return 0;
	fprintf(stderr, "%s: filesystem.workspace %s: %s%s%s\n", file, ws, why, hint ? "; " : "",
		hint ? hint : "");
	return -1;
}
