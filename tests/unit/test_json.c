// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * JSON string escaping (common/json.c) and the 9P server's audit details
 * built with it (p9_json_str): each output is parsed back with jansson,
 * which rejects invalid UTF-8 and bad escapes, and must give the text (or,
 * for invalid bytes, U+FFFD) back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/fs/p9_int.h"
#include "json.h"

static void esc_is(const char *in, const char *want, size_t used)
{
	char out[JSON_ESC_MAX];

	memset(out, 'X', sizeof(out));
	assert_int_equal(json_esc_char(in, out), used);
	assert_string_equal(out, want);
}

static void test_esc_char(void **state)
{
	(void)state;
	esc_is("a", "a", 1);
	esc_is("\"x", "\\\"", 1);
	esc_is("\\", "\\\\", 1);
	esc_is("\n", "\\n", 1);
	esc_is("\x01", "\\u0001", 1);
	esc_is("\x7f", "\\u007f", 1);
	esc_is("\xc3\xa9!", "\xc3\xa9", 2);
	esc_is("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 4);
	esc_is("\xe2\x80\xa8", "\\u2028", 3);
	esc_is("\xff", "\\ufffd", 1);
	esc_is("\xc0\xaf", "\\ufffd", 1);     /* overlong */
	esc_is("\xed\xa0\x80", "\\ufffd", 1); /* surrogate */
	esc_is("\xe2\x82", "\\ufffd", 1);     /* cut by the NUL */
	assert_int_equal(json_utf8_len((const unsigned char *)"\xf4\x90\x80\x80"), 0);
}

/* p9_json_str(key, s) parses as {key: want}. */
static void detail_is(size_t cap, const char *s, const char *want)
{
	char out[512];
	json_error_t jerr;
	json_t *o, *v;

	assert_true(cap <= sizeof(out));
	p9_json_str(out, cap, "k", s);
	assert_true(strlen(out) < cap);
	o = json_loads(out, 0, &jerr);
	if (!o)
		fail_msg("not JSON: %s (%s)", out, jerr.text);
	v = json_object_get(o, "k");
	assert_non_null(v);
	assert_string_equal(json_string_value(v), want);
	json_decref(o);
}

static void test_p9_detail(void **state)
{
	(void)state;
	detail_is(64, "a/\"b\"\\c\n", "a/\"b\"\\c\n");
	/* invalid UTF-8 in a guest name used to go into the event raw */
	detail_is(64, "bad\xff\xfe.txt", "bad\xef\xbf\xbd\xef\xbf\xbd.txt");
	/* a long value is cut between characters, never inside one: the
	 * 2-byte 'é' at the edge used to be cut to a lone lead byte */
	detail_is(23, "abcdefgh\xc3\xa9xyz", "abcdefgh\xc3\xa9xyz");
	detail_is(19, "abcdefgh\xc3\xa9xyz", "abcdefgh\xc3\xa9");
	detail_is(18, "abcdefgh\xc3\xa9xyz", "abcdefgh");
	detail_is(24, "abcdefgh\x01zz", "abcdefgh\x01z");
	{
		char out[8];

		p9_json_str(out, sizeof(out), "longkey", "v");
		assert_string_equal(out, "{}");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_esc_char),
	    cmocka_unit_test(test_p9_detail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
