// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for supervisor/pub.h: parsing `up -p [HOST_IP:]HOST_PORT:GUEST_PORT`
 * and its display form. (The relay itself: tests/e2e/publish.sh.) */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "supervisor/pub.h"

static void test_parse_ok(void **state)
{
	struct pub_spec p;
	char buf[64];

	(void)state;
	assert_int_equal(pub_parse("8080:3000", &p), 0);
	assert_int_equal(p.host_port, 8080);
	assert_int_equal(p.guest_port, 3000);
	assert_int_equal(p.host_ip.s_addr, htonl(INADDR_LOOPBACK));
	pub_str(&p, buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:8080->3000");
	assert_int_equal(pub_parse("0.0.0.0:1:65535", &p), 0);
	assert_int_equal(p.host_ip.s_addr, 0);
	assert_int_equal(p.guest_port, 65535);
	pub_str(&p, buf, sizeof(buf));
	assert_string_equal(buf, "0.0.0.0:1->65535");
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",	      "8080",	  "8080:",	 ":3000",      "0:3000",
	    "8080:0", "65536:1",  "8080:3000:1", "a:8080:1",   "::1:8080:3000",
	    "-1:2",   "80 :3000", "1.2.3:80:80", "8080:+3000", "1:2:3:4",
	};
	struct pub_spec p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pub_parse(bad[i], &p) != -AGW_EPARSE)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(pub_parse(NULL, &p), -AGW_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
