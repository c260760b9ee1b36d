// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the exec options shared by up, exec and shell
 * (cli/cli_env.c): -e K=V and bare K, env files with comments, blank lines,
 * CRLF and errors with their line, -w and --user checks; and image names
 * (vmctl/img_rootfs.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "cli/cli.h"
#include "vmctl/img.h"

static void test_env_add(void **state)
{
	struct cli_exec_opts o = {0};

	(void)state;
	setenv("AGW_TEST_HOST", "from-host", 1);
	unsetenv("AGW_TEST_UNSET");
	assert_int_equal(cli_env_add(&o, "A=1"), 0);
	assert_int_equal(cli_env_add(&o, "B="), 0);
	assert_int_equal(cli_env_add(&o, "AGW_TEST_HOST"), 0);
	assert_int_equal(cli_env_add(&o, "AGW_TEST_UNSET"), 0);
	assert_int_equal(cli_env_add(&o, "=x"), -AGW_EINVAL);
	assert_int_equal(cli_env_add(&o, ""), -AGW_EINVAL);
	assert_int_equal(o.n_env, 3);
	assert_string_equal(o.env[0], "A=1");
	assert_string_equal(o.env[1], "B=");
	assert_string_equal(o.env[2], "AGW_TEST_HOST=from-host");
	assert_null(o.env[3]);
	cli_exec_opts_free(&o);
	assert_int_equal(o.n_env, 0);
}

static void test_env_parse(void **state)
{
	static const char text[] = "# a comment\n\nK=V\r\n  SPACED=a b c\nEMPTY=\nlast=no-newline";
	struct cli_exec_opts o = {0};
	size_t bad = 99;

	(void)state;
	assert_int_equal(cli_env_parse(&o, text, strlen(text), &bad), 0);
	assert_int_equal(bad, 0);
	assert_int_equal(o.n_env, 4);
	assert_string_equal(o.env[0], "K=V");
	assert_string_equal(o.env[1], "SPACED=a b c");
	assert_string_equal(o.env[2], "EMPTY=");
	assert_string_equal(o.env[3], "last=no-newline");
	cli_exec_opts_free(&o);
	assert_int_equal(cli_env_parse(&o, "A=1\n=bad\n", 10, &bad), -AGW_EINVAL);
	assert_int_equal(bad, 2);
	cli_exec_opts_free(&o);
}

static void test_env_limit(void **state)
{
	struct cli_exec_opts o = {0};

	(void)state;
	for (int i = 0; i < CLI_MAX_ENV; i++)
		assert_int_equal(cli_env_add(&o, "K=V"), 0);
	assert_int_equal(cli_env_add(&o, "K=V"), -AGW_ETOOBIG);
	assert_null(o.env[CLI_MAX_ENV]);
	cli_exec_opts_free(&o);
}

static void test_exec_opt(void **state)
{
	char *argv[] = {"exec", "-w", "/tmp", "--user", "root", "-e",
			"Z=1",	"-w", "rel",  "x",	NULL};
	struct cli_exec_opts o = {0};
	int i = 1;

	(void)state;
	assert_int_equal(cli_exec_opt(&o, 10, argv, &i, "exec"), 1);
	assert_int_equal(i, 2);
	assert_string_equal(o.cwd, "/tmp");
	i = 3;
	assert_int_equal(cli_exec_opt(&o, 10, argv, &i, "exec"), 1);
	assert_string_equal(o.user, "root");
	i = 5;
	assert_int_equal(cli_exec_opt(&o, 10, argv, &i, "exec"), 1);
	assert_string_equal(o.env[0], "Z=1");
	i = 7; /* a relative directory is refused */
	assert_int_equal(cli_exec_opt(&o, 10, argv, &i, "exec"), -1);
	i = 9; /* not an exec option */
	assert_int_equal(cli_exec_opt(&o, 10, argv, &i, "exec"), 0);
	cli_exec_opts_free(&o);
}

static void test_image_names(void **state)
{
	(void)state;
	assert_true(img_name_valid("claude-code"));
	assert_true(img_name_valid("deb12.x_1"));
	assert_false(img_name_valid(""));
	assert_false(img_name_valid("-x"));
	assert_false(img_name_valid("../x"));
	assert_false(img_name_valid("A"));
	assert_false(img_name_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_env_add),	cmocka_unit_test(test_env_parse),
	    cmocka_unit_test(test_env_limit),	cmocka_unit_test(test_exec_opt),
	    cmocka_unit_test(test_image_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
