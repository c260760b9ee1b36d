/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the unit tests that need root and a network namespace
 * of their own (test_fw, test_nlog, test_tap): entering a fresh namespace
 * from main, skipping (failing under CI=true) a test that needs it when
 * there is none, and running a command for its output. Include after
 * <cmocka.h>.
 */
#ifndef AGW_TEST_NETNS_UTIL_H
#define AGW_TEST_NETNS_UTIL_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static int tnn_in_netns; /* 1 once main moved us into a fresh namespace */

/* From main: as root, move into a new network namespace; else stay. */
static inline void tnn_enter(const char *test)
{
	if (geteuid() != 0)
		return;
	if (unshare(CLONE_NEWNET) == 0)
		tnn_in_netns = 1;
	else
		fprintf(stderr, "%s: unshare(CLONE_NEWNET): %s\n", test, strerror(errno));
}

/* In a test: go on only inside the namespace. */
static inline void need_netns(void)
{
	if (tnn_in_netns)
		return;
	if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
		fail_msg("needs root and unshare(CLONE_NEWNET) (CI=true: not skipping)");
	skip();
}

/* Runs cmd; its whole output (cut to cap - 1 bytes) in out. Returns the
 * exit status, -1 if it could not run or did not exit. */
static inline int run(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int c, rc;

	out[0] = '\0';
	if (!p)
		return -1;
	while ((c = fgetc(p)) != EOF)
		if (n + 1 < cap)
			out[n++] = (char)c;
	out[n] = '\0';
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#endif
