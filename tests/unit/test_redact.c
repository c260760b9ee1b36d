// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for vmctl/redact.h and sbx_audit_argv(): what an exec's
 * audit target keeps of secrets given on the command line (issue 18,
 * item 6). Table-driven: argument, the one before it, expected result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmctl/redact.h"
#include "supervisor/sbx.h"

static const struct {
	const char *arg, *prev, *want;
} redact_cases[] = {
    /* left alone */
    {"make", NULL, "make"},
    {"test", "make", "test"},
    {"CC=gcc", NULL, "CC=gcc"},
    {"--jobs=4", NULL, "--jobs=4"},
    {"https://example.org/a?b=c", NULL, "https://example.org/a?b=c"},
    {"Content-Type: text/plain", "-H", "Content-Type: text/plain"},
    {"sk-short", NULL, "sk-short"},
    {"task-1234567890123456", NULL, "task-1234567890123456"}, /* not at a word start */
    /* NAME=VALUE */
    {"API_KEY=abc123", NULL, "API_KEY=***"},
    {"--password=hunter2", NULL, "--password=***"},
    {"GITHUB_TOKEN=ghp_x", "env", "GITHUB_TOKEN=***"},
    /* option then value */
    {"hunter2", "--password", "***"},
    {"abc", "--api-key", "***"},
    {"alice:hunter2", "-u", "alice:***"},
    {"alice", "--user", "alice"},
    /* headers */
    {"Authorization: Bearer abcdefghijkl", "-H", "Authorization: ***"},
    {"x-api-key: sk-ant-0123456789abcdef", "-H", "x-api-key: ***"},
    /* URL userinfo */
    {"https://bob:s3cret@git.example/r.git", NULL, "https://bob:***@git.example/r.git"},
    /* anywhere in a longer argument */
    {"curl -H 'Authorization: Bearer abcdefghijklmnop' https://x", "-c",
     "curl -H 'Authorization: Bearer ***' https://x"},
    {"echo sk-ant-api03-AAAAAAAAAAAAAAAAAAAA done", "-c", "echo *** done"},
    {"export API_KEY=abc; curl --token=xyz https://x", "-c",
     "export API_KEY=***; curl --token=*** https://x"},
    {"make CC=gcc V=1", "-c", "make CC=gcc V=1"},
    {"ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", NULL, "***"},
    {"AKIAIOSFODNN7EXAMPLE", NULL, "***"},
};

static void test_redact_table(void **state)
{
	char out[256];

	(void)state;
	for (size_t i = 0; i < sizeof(redact_cases) / sizeof(redact_cases[0]); i++) {
		bool hit = redact_arg(redact_cases[i].arg, redact_cases[i].prev, out, sizeof(out));

		if (strcmp(out, redact_cases[i].want) != 0)
			fail_msg("case %zu '%s' (after '%s'): got '%s', want '%s'", i,
				 redact_cases[i].arg,
				 redact_cases[i].prev ? redact_cases[i].prev : "", out,
				 redact_cases[i].want);
		assert_int_equal(hit, strcmp(redact_cases[i].arg, redact_cases[i].want) != 0);
	}
}

static void test_redact_small_buffer(void **state)
{
	char out[8];

	(void)state;
	redact_arg("PASSWORD=xyz", NULL, out, sizeof(out));
	assert_string_equal(out, "PASSWOR");
	assert_false(redact_arg("x", NULL, out, 0));
}

static void test_audit_argv(void **state)
{
	char buf[256];

	(void)state;
	sbx_audit_argv(buf, sizeof(buf),
		       (const char *[]){"curl", "-H", "Authorization: Bearer 0123456789abcdef",
					"https://api.example/v1", NULL});
	assert_string_equal(buf, "curl -H 'Authorization: ***' https://api.example/v1");
	sbx_audit_argv(buf, sizeof(buf), (const char *[]){"ls", "-la", NULL});
	assert_string_equal(buf, "ls -la");
	sbx_audit_argv(buf, sizeof(buf), (const char *[]){NULL});
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redact_table),
	    cmocka_unit_test(test_redact_small_buffer),
	    cmocka_unit_test(test_audit_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
