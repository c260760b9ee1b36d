// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for supervisor/sbxrec.h: the record parser, and which audit
 * database sbxrec_find() picks: a named sandbox's state dir, else its
 * record; with no name the running sandbox, else the last one started. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "supervisor/sbxrec.h"

static void test_parse(void **state)
{
	static const char ok[] = "name=work\naudit_db=/tmp/a.db\nother=1\nno equals\n";
	struct sbxrec r;

	(void)state;
	assert_int_equal(sbxrec_parse(ok, sizeof(ok) - 1, &r), 0);
	assert_string_equal(r.name, "work");
	assert_string_equal(r.audit_db, "/tmp/a.db");
	assert_false(r.live);
	/* later lines win, no trailing newline */
	assert_int_equal(sbxrec_parse("name=a\naudit_db=/x\nname=b", 25, &r), 0);
	assert_string_equal(r.name, "b");
	assert_int_equal(sbxrec_parse("name=a\n", 7, &r), -AGW_EPARSE);
	assert_int_equal(sbxrec_parse("audit_db=/x\n", 12, &r), -AGW_EPARSE);
	assert_int_equal(sbxrec_parse("name=../x\naudit_db=/x\n", 22, &r), -AGW_EPARSE);
	assert_int_equal(sbxrec_parse("", 0, &r), -AGW_EPARSE);
}

static char tmpdir[64];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_find(void **state)
{
	char run[128], st[128], path[256], pid[32];
	struct sbxrec r;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sbxrec.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(run, sizeof(run), "%s/run", tmpdir);
	snprintf(st, sizeof(st), "%s/state", tmpdir);
	mkdir(run, 0755);
	setenv("AGENTGW_RUN_DIR", run, 1);
	setenv("AGENTGW_STATE_DIR", st, 1);

	assert_int_equal(sbxrec_find(NULL, &r), -AGW_ENOTFOUND);
	assert_int_equal(sbxrec_find("gone", &r), -AGW_ENOTFOUND);

	/* Two ups; the state dir is created; the last one wins. */
	assert_int_equal(sbxrec_write("first", "/db/first.db"), 0);
	assert_int_equal(sbxrec_write("second", "/db/second.db"), 0);
	assert_int_equal(sbxrec_write("bad/name", "/x"), -AGW_EINVAL);
	assert_int_equal(sbxrec_write("x", "/a\nb"), -AGW_EINVAL);
	assert_int_equal(sbxrec_find(NULL, &r), 0);
	assert_string_equal(r.name, "second");
	assert_string_equal(r.audit_db, "/db/second.db");
	assert_false(r.live);
	assert_int_equal(sbxrec_find("first", &r), 0);
	assert_string_equal(r.audit_db, "/db/first.db");

	/* A state dir whose supervisor is gone: skipped without a name (it is
	 * not running), used when named. (A live one: tests/e2e/quickstart.sh.) */
	snprintf(path, sizeof(path), "%s/third", run);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/third/info", run);
	put(path, "iface=agw-third\naudit_db=/db/third.db\nstarted_at=100\n");
	snprintf(path, sizeof(path), "%s/third/pid", run);
	snprintf(pid, sizeof(pid), "%d\n", 999999);
	put(path, pid);
	assert_int_equal(sbxrec_find(NULL, &r), 0);
	assert_string_equal(r.name, "second"); /* dead: not "running" */
	assert_int_equal(sbxrec_find("third", &r), 0);
	assert_string_equal(r.audit_db, "/db/third.db");
	assert_false(r.live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_find),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];

	if (tmpdir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			rc = rc ? rc : 1;
	}
	return rc;
}
