// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * common/log.c: a message is one line on stderr, whatever it quotes (a
 * name with a newline or an escape sequence from the guest or a file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Runs log_error(fmt-with-value) with stderr on a pipe; returns what came. */
static void capture(const char *value, char *out, size_t cap)
{
	int p[2], saved;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
	log_error("cannot open '%s'", value);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], out, cap - 1);
	close(p[0]);
	assert_true(n > 0);
	out[n] = '\0';
}

static void test_one_line(void **state)
{
	char out[256];

	(void)state;
	log_init("test", LOG_LVL_INFO);
	capture("a\nagentgw[net] error: forged\033[2J\r\x7f", out, sizeof(out));
	/* (the literal is split where "??" would start a trigraph) */
	assert_string_equal(out,
			    "agentgw[test] error: cannot open 'a?agentgw[net] error: forged?[2J?"
			    "?'\n");
	capture("caf\xc3\xa9", out, sizeof(out)); /* UTF-8 stays */
	assert_string_equal(out, "agentgw[test] error: cannot open 'caf\xc3\xa9'\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
