// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the DNS bindings table: lookups both ways, expiry,
 * refresh of an existing binding, and eviction of the oldest when full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "gateway/net/dnsb.h"

static const uint8_t A1[16] = {203, 0, 113, 10};
static const uint8_t A2[16] = {203, 0, 113, 11};
static const uint8_t V6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

static void test_both_ways(void **state)
{
	struct dnsb *b = NULL;
	uint8_t out[4][16];
	const char *names[4];

	(void)state;
	assert_int_equal(dnsb_new(0, &b), -AGW_EINVAL);
	assert_int_equal(dnsb_new(8, &b), 0);
	dnsb_add(b, "allowed.test", AF_INET, A1, 1000);
	dnsb_add(b, "api.allowed.test", AF_INET, A1, 1000);
	dnsb_add(b, "allowed.test", AF_INET, A2, 1000);
	dnsb_add(b, "allowed.test", AF_INET6, V6, 1000);
	assert_int_equal(dnsb_addrs(b, "allowed.test", AF_INET, 10, out, 4), 2);
	assert_int_equal(dnsb_addrs(b, "allowed.test", AF_INET6, 10, out, 4), 1);
	assert_memory_equal(out[0], V6, 16);
	assert_int_equal(dnsb_addrs(b, "other.test", AF_INET, 10, out, 4), 0);
	assert_int_equal(dnsb_names(b, AF_INET, A1, 10, names, 4), 2);
	assert_int_equal(dnsb_names(b, AF_INET, A2, 10, names, 4), 1);
	assert_string_equal(names[0], "allowed.test");
	/* the v4 address does not match a v6 binding with the same prefix */
	assert_int_equal(dnsb_names(b, AF_INET6, A1, 10, names, 4), 0);
	assert_int_equal(dnsb_count(b), 4);
	dnsb_free(b);
	dnsb_free(NULL);
}

static void test_expiry_and_refresh(void **state)
{
	struct dnsb *b = NULL;
	uint8_t out[4][16];
	const char *names[4];

	(void)state;
	assert_int_equal(dnsb_new(8, &b), 0);
	dnsb_add(b, "allowed.test", AF_INET, A1, 100);
	assert_int_equal(dnsb_addrs(b, "allowed.test", AF_INET, 99, out, 4), 1);
	assert_int_equal(dnsb_addrs(b, "allowed.test", AF_INET, 100, out, 4), 0);
	assert_int_equal(dnsb_names(b, AF_INET, A1, 150, names, 4), 0);
	/* an earlier expiry never shortens a binding; a later one extends it */
	dnsb_add(b, "allowed.test", AF_INET, A1, 50);
	assert_int_equal(dnsb_addrs(b, "allowed.test", AF_INET, 99, out, 4), 1);
	dnsb_add(b, "allowed.test", AF_INET, A1, 500);
	assert_int_equal(dnsb_addrs(b, "allowed.test", AF_INET, 400, out, 4), 1);
	assert_int_equal(dnsb_count(b), 1);
	dnsb_free(b);
}

static void test_eviction(void **state)
{
	struct dnsb *b = NULL;
	uint8_t out[4][16];
	char name[32];

	(void)state;
	assert_int_equal(dnsb_new(4, &b), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		dnsb_add(b, name, AF_INET, A1, 100 + i);
	}
	dnsb_add(b, "new.test", AF_INET, A2, 1000);
	assert_int_equal(dnsb_count(b), 4);
	/* the one expiring first (n0) made room */
	assert_int_equal(dnsb_addrs(b, "n0.test", AF_INET, 0, out, 4), 0);
	assert_int_equal(dnsb_addrs(b, "n1.test", AF_INET, 0, out, 4), 1);
	assert_int_equal(dnsb_addrs(b, "new.test", AF_INET, 0, out, 4), 1);
	/* over-long names are ignored */
	memset(name, 'a', sizeof(name));
	{
		char big[300];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		dnsb_add(b, big, AF_INET, A1, 5000);
		assert_int_equal(dnsb_addrs(b, big, AF_INET, 0, out, 4), 0);
	}
	dnsb_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_ways),
	    cmocka_unit_test(test_expiry_and_refresh),
	    cmocka_unit_test(test_eviction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
