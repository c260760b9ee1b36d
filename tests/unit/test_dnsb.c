// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the DNS bindings table: lookups both ways, expiry,
 * refresh of an existing binding, and eviction of the oldest when full;
 * a shared table seen across fork (what a worker adds, another reads).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/net/dnsb.h"

static const uint8_t A1[16] = {203, 0, 113, 10};
static const uint8_t A2[16] = {203, 0, 113, 11};
static const uint8_t V6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

static void test_both_ways(void **state)
{
	struct dnsb *b = NULL;
	uint8_t out[4][16];
	char names[4][DNSB_NAME_MAX + 1];

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
	char names[4][DNSB_NAME_MAX + 1];

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

/* Two processes add to one shared table at once: every binding is there
 * afterwards, nothing lost to a race, and the parent reads the child's. */
static void test_shared(void **state)
{
	struct dnsb *b = NULL;
	uint8_t out[4][16], a[16] = {0};
	char names[2][DNSB_NAME_MAX + 1], name[32];
	pid_t pid;
	int st;

	(void)state;
	assert_int_equal(dnsb_new_shared(0, &b), -AGW_EINVAL);
	assert_int_equal(dnsb_new_shared(4096, &b), 0);
	pid = fork();
	assert_true(pid >= 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "%s%d.test", pid ? "p" : "c", i);
		a[0] = pid ? 1 : 2;
		a[2] = (uint8_t)(i >> 8);
		a[3] = (uint8_t)i;
		dnsb_add(b, name, AF_INET, a, 100);
	}
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(dnsb_count(b), 2000);
	assert_int_equal(dnsb_addrs(b, "c999.test", AF_INET, 0, out, 4), 1);
	assert_int_equal(out[0][0], 2);
	a[0] = 2;
	a[2] = 0;
	a[3] = 7;
	assert_int_equal(dnsb_names(b, AF_INET, a, 0, names, 2), 1);
	assert_string_equal(names[0], "c7.test");
	dnsb_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_both_ways),
	    cmocka_unit_test(test_expiry_and_refresh),
	    cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_shared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
