// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for what a denied client is told (gateway/net/deny.c): the
 * JSON body of the 403 parsed back with jansson (fields, null rule and
 * host, escaping of hostile strings, cuts between UTF-8 characters), the
 * response head, and the size limits; the TLS access_denied alert record
 * and the version it takes from ClientHellos (a real one from openssl
 * s_client, TLS 1.0/1.3-only, truncated, SSLv2 and garbage).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agw.h"
#include "gateway/net/deny.h"

/* Parses the body of a response (or a bare body) and checks its fields;
 * NULL expects null. */
static void test_deny_check(const char *text, const char *rule, const char *reason,
			    const char *host)
{
	const char *body = strstr(text, "\r\n\r\n");
	json_error_t jerr;
	json_t *j, *v;

	body = body ? body + 4 : text;
	j = json_loads(body, 0, &jerr);
	if (!j)
		fail_msg("not JSON: %s: %s", jerr.text, body);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "denied by agentgw");
	v = json_object_get(j, "rule");
	if (rule)
		assert_string_equal(json_string_value(v), rule);
	else
		assert_true(json_is_null(v));
	assert_string_equal(json_string_value(json_object_get(j, "reason")), reason);
	v = json_object_get(j, "host");
	if (host)
		assert_string_equal(json_string_value(v), host);
	else
		assert_true(json_is_null(v));
	assert_int_equal(json_object_size(j), 4);
	json_decref(j);
}

static void test_deny_response(void **state)
{
	char out[DENY_HTTP_MAX], want[64];
	const char *body;
	size_t n;

	(void)state;
	assert_int_equal(deny_http_response(out, sizeof(out), "network.allow[2]", "POST /admin",
					    "example.org", &n),
			 0);
	assert_int_equal(n, strlen(out));
	assert_true(strncmp(out, "HTTP/1.1 403 Forbidden\r\n", 24) == 0);
	assert_non_null(strstr(out, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
	body = strstr(out, "\r\n\r\n") + 4;
	assert_string_equal(body, "{\"error\":\"denied by agentgw\",\"rule\":\"network.allow[2]\","
				  "\"reason\":\"POST /admin\",\"host\":\"example.org\"}\n");
	snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(out, want));
	test_deny_check(out, "network.allow[2]", "POST /admin", "example.org");

	/* no rule, no reason, no host */
	assert_int_equal(deny_http_response(out, sizeof(out), "", NULL, NULL, &n), 0);
	test_deny_check(out, NULL, "denied", NULL);
	assert_int_equal(deny_http_body(out, sizeof(out), NULL, "", "", &n), 0);
	assert_string_equal(out, "{\"error\":\"denied by agentgw\",\"rule\":null,"
				 "\"reason\":\"denied\",\"host\":null}\n");
}

static void test_deny_hostile(void **state)
{
	char out[DENY_HTTP_MAX], big[1000], cut[DENY_FIELD_MAX + 1];
	size_t n;

	(void)state;
	/* header injection, JSON breaking, terminal escapes, bad UTF-8 */
	assert_int_equal(deny_http_response(out, sizeof(out), "r\x1b[31m",
					    "x\"}\r\nSet-Cookie: a=b\r\n\r\n<script>\\\xff",
					    "h\xe2\x80\xa8", &n),
			 0);
	assert_null(strstr(out, "Set-Cookie: a=b\r\n"));
	assert_null(strstr(out, "\x1b"));
	test_deny_check(out, "r\x1b[31m", "x\"}\r\nSet-Cookie: a=b\r\n\r\n<script>\\\xef\xbf\xbd",
			"h\xe2\x80\xa8");

	/* long fields are cut to DENY_FIELD_MAX bytes, not inside a
	 * character: 'a' then two-byte characters puts the cut mid-character */
	big[0] = 'a';
	for (size_t i = 1; i + 2 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';
	memcpy(cut, big, DENY_FIELD_MAX - 1);
	cut[DENY_FIELD_MAX - 1] = '\0';
	assert_int_equal(deny_http_response(out, sizeof(out), big, big, big, &n), 0);
	test_deny_check(out, cut, cut, cut);

	/* worst case escaping still fits DENY_HTTP_MAX */
	memset(big, 0x01, sizeof(big) - 1);
	assert_int_equal(deny_http_response(out, sizeof(out), big, big, big, &n), 0);
	assert_int_equal(n, strlen(out));
}

static void test_deny_limits(void **state)
{
	char out[DENY_HTTP_MAX];
	size_t n = 7;

	(void)state;
	assert_int_equal(deny_http_response(out, 60, "r", "x", "h", &n), -AGW_ETOOBIG);
	assert_int_equal(n, 0);
	assert_string_equal(out, "");
	assert_int_equal(deny_http_body(out, 20, "r", "x", "h", &n), -AGW_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(deny_http_body(NULL, 0, "r", "x", "h", &n), -AGW_ETOOBIG);
	/* the exact size fits, one byte less does not */
	assert_int_equal(deny_http_body(out, sizeof(out), "r", "x", "h", &n), 0);
	assert_int_equal(deny_http_body(out, n + 1, "r", "x", "h", &n), 0);
	assert_int_equal(deny_http_body(out, n, "r", "x", "h", &n), -AGW_ETOOBIG);
}

static void test_deny_tls_alert(void **state)
{
	/* First bytes of `openssl s_client -tls1_3`: record version 0x0301,
	 * client_version 0x0303 (TLS 1.3 sends the legacy value). */
	static const uint8_t hello13[] = {0x16, 0x03, 0x01, 0x01, 0x2c, 0x01,
					  0x00, 0x01, 0x28, 0x03, 0x03, 0xaa};
	static const uint8_t hello10[] = {0x16, 0x03, 0x01, 0x00, 0x50, 0x01,
					  0x00, 0x00, 0x4c, 0x03, 0x01};
	static const uint8_t future[] = {0x16, 0x03, 0x01, 0x00, 0x50, 0x01,
					 0x00, 0x00, 0x4c, 0x03, 0x09};
	static const uint8_t sslv2[] = {0x80, 0x2e, 0x01, 0x00, 0x02};
	static const uint8_t rec_only[] = {0x16, 0x03, 0x02, 0x00};
	static const uint8_t bad_major[] = {0x16, 0x07, 0x01, 0x00, 0x50, 0x01,
					    0x00, 0x00, 0x4c, 0x07, 0x03};
	static const struct {
		const uint8_t *b;
		size_t n;
		uint8_t hi, lo;
	} cases[] = {
	    {hello13, sizeof(hello13), 3, 3},
	    {hello10, sizeof(hello10), 3, 1},
	    {future, sizeof(future), 3, 3},
	    {sslv2, sizeof(sslv2), 3, 1},
	    {rec_only, sizeof(rec_only), 3, 2},
	    {bad_major, sizeof(bad_major), 3, 1},
	    {hello13, 10, 3, 1},
	    {NULL, 0, 3, 1},
	};
	uint8_t out[DENY_TLS_ALERT_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t want[DENY_TLS_ALERT_LEN] = {21, cases[i].hi, cases[i].lo, 0, 2, 2, 49};

		memset(out, 0xee, sizeof(out));
		assert_int_equal(deny_tls_alert(cases[i].b, cases[i].n, out), DENY_TLS_ALERT_LEN);
		if (memcmp(out, want, sizeof(want)) != 0)
			fail_msg("case %zu: %02x %02x %02x %02x %02x %02x %02x", i, out[0], out[1],
				 out[2], out[3], out[4], out[5], out[6]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_deny_response),
	    cmocka_unit_test(test_deny_hostile),
	    cmocka_unit_test(test_deny_limits),
	    cmocka_unit_test(test_deny_tls_alert),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
