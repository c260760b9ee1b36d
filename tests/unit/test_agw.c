// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The small helpers of common/agw.c that parsers share: hex digits and the
 * percent-escape reader used by both the HTTP path check (gateway/net/http.c)
 * and the policy's path matching (policies/pol_glob.c). Every byte value is
 * checked against a reference, so the two callers cannot drift apart again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"

static int ref_hexval(int c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c <= 0 || c > 255)
		return -1;
	if (c >= 'A' && c <= 'F')
		c += 'a' - 'A';
	p = strchr(digits, c);
	return p ? (int)(p - digits) : -1;
}

static void test_hexval_every_byte(void **state)
{
	(void)state;
	for (int c = -1; c <= 256; c++)
		assert_int_equal(agw_hexval(c), ref_hexval(c));
	assert_int_equal(agw_hexval((char)0xc1), -1); /* a signed char */
}

struct agw_pct_case {
	const char *in;
	size_t n; /* bytes the caller has left */
	int want;
};

static const struct agw_pct_case agw_pct_cases[] = {
    {"%41", 3, 'A'}, {"%2e", 3, '.'}, {"%2E", 3, '.'}, {"%2f/x", 5, '/'}, {"%00", 3, 0},
    {"%ff", 3, 255}, {"%FF", 3, 255}, {"%7e", 3, '~'}, {"%4", 2, -1},	  {"%", 1, -1},
    {"%41", 2, -1},  {"", 0, -1},     {"%g1", 3, -1},  {"%1g", 3, -1},	  {"% 41", 4, -1},
    {"41", 2, -1},   {"x%41", 4, -1}, {"%+1", 3, -1},  {"%-1", 3, -1},
};

/* An error quoting what it was given stays one line, escape-free. */
static void test_errf_one_line(void **state)
{
	char err[64];

	(void)state;
	assert_int_equal(agw_errf(err, sizeof(err), -AGW_EPARSE, "type '%s'", "a\nb\033[2Jc\x7f\td"),
			 -AGW_EPARSE);
	assert_string_equal(err, "type 'a?b?[2Jc??d'");
	assert_int_equal(agw_errf(err, sizeof(err), -AGW_EINVAL, "caf\xc3\xa9 %d", 7), -AGW_EINVAL);
	assert_string_equal(err, "caf\xc3\xa9 7"); /* UTF-8 stays */
	assert_int_equal(agw_errf(NULL, 0, -AGW_ETOOBIG, "x"), -AGW_ETOOBIG);
}

static void test_pct_byte(void **state)
{
	(void)state;
	for (size_t i = 0; i < AGW_ARRAY_LEN(agw_pct_cases); i++) {
		const struct agw_pct_case *t = &agw_pct_cases[i];

		if (agw_pct_byte((const uint8_t *)t->in, t->n) != t->want)
			fail_msg("agw_pct_byte(\"%s\", %zu) = %d, want %d", t->in, t->n,
				 agw_pct_byte((const uint8_t *)t->in, t->n), t->want);
	}
}

/* Every pair of bytes after '%': decoded exactly when both are hex digits. */
static void test_pct_byte_every_pair(void **state)
{
	uint8_t b[3] = {'%', 0, 0};

	(void)state;
	for (int hi = 0; hi < 256; hi++) {
		for (int lo = 0; lo < 256; lo++) {
			int want = ref_hexval(hi) >= 0 && ref_hexval(lo) >= 0
				       ? ref_hexval(hi) * 16 + ref_hexval(lo)
				       : -1;

			b[1] = (uint8_t)hi;
			b[2] = (uint8_t)lo;
			assert_int_equal(agw_pct_byte(b, sizeof(b)), want);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hexval_every_byte),
	    cmocka_unit_test(test_errf_one_line),
	    cmocka_unit_test(test_pct_byte),
	    cmocka_unit_test(test_pct_byte_every_pair),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
