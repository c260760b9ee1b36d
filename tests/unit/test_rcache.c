// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The resolver cache (gateway/net/rcache.c): what is kept and for how long
 * (the answer's smallest TTL, clamped to 1..60 s), what never is (failures,
 * NXDOMAIN), case and trailing-dot folding, TTLs aging on the way out, the
 * family kept apart, and slot collisions costing only a miss.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "gateway/net/rcache.h"

#define S 1000000LL

static struct res_answer answer(int status, int family, size_t n, uint32_t ttl)
{
	struct res_answer a = {.status = status, .family = family, .n = n};

	for (size_t i = 0; i < n; i++) {
		a.addr[i][0] = 203;
		a.addr[i][3] = (uint8_t)(10 + i);
		a.ttl[i] = ttl + (uint32_t)i * 100; /* the first is the smallest */
	}
	return a;
}

static void test_ttl_bounds(void **state)
{
	struct rcache *c;
	struct res_answer a = answer(RES_OK, AF_INET, 2, 5), got;

	(void)state;
	assert_int_equal(rcache_new(&c), 0);
	rcache_put(c, "allowed.test", &a, 100 * S);
	assert_true(rcache_get(c, "allowed.test", AF_INET, 100 * S, &got));
	assert_int_equal(got.n, 2);
	assert_memory_equal(got.addr, a.addr, sizeof(a.addr));
	assert_int_equal(got.ttl[0], 5);
	assert_true(rcache_get(c, "allowed.test", AF_INET, 103 * S + 1, &got));
	assert_int_equal(got.ttl[0], 2);   /* aged by 3 s */
	assert_int_equal(got.ttl[1], 102); /* 105 - 3 */
	assert_false(rcache_get(c, "allowed.test", AF_INET, 105 * S, &got)); /* expired */
	assert_false(rcache_get(c, "allowed.test", AF_INET, 100 * S, &got)); /* and gone */

	a = answer(RES_OK, AF_INET, 1, 0); /* TTL 0 is kept for 1 s */
	rcache_put(c, "zero.test", &a, 10 * S);
	assert_true(rcache_get(c, "zero.test", AF_INET, 10 * S + S - 1, &got));
	assert_int_equal(got.ttl[0], 1);
	assert_false(rcache_get(c, "zero.test", AF_INET, 11 * S, &got));

	a = answer(RES_OK, AF_INET, 1, 86400); /* a day is kept for 60 s */
	rcache_put(c, "long.test", &a, 0);
	assert_true(rcache_get(c, "long.test", AF_INET, 59 * S, &got));
	assert_false(rcache_get(c, "long.test", AF_INET, 60 * S, &got));

	a = answer(RES_OK, AF_INET, 0, 0); /* NODATA is an answer too */
	rcache_put(c, "nodata.test", &a, 0);
	assert_true(rcache_get(c, "nodata.test", AF_INET, 0, &got));
	assert_int_equal(got.n, 0);
	rcache_free(c);
}

static void test_not_cached(void **state)
{
	struct rcache *c;
	struct res_answer a = answer(RES_NXDOMAIN, AF_INET, 0, 0), got;
	char longname[300];

	(void)state;
	assert_int_equal(rcache_new(&c), 0);
	rcache_put(c, "nx.test", &a, 0);
	assert_false(rcache_get(c, "nx.test", AF_INET, 0, &got));
	a = answer(RES_FAIL, AF_INET, 0, 0);
	rcache_put(c, "fail.test", &a, 0);
	assert_false(rcache_get(c, "fail.test", AF_INET, 0, &got));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	a = answer(RES_OK, AF_INET, 1, 30);
	rcache_put(c, longname, &a, 0);
	assert_false(rcache_get(c, longname, AF_INET, 0, &got));
	rcache_put(c, "", &a, 0);
	assert_false(rcache_get(c, "", AF_INET, 0, &got));
	/* a clock going backwards drops the entry rather than trusting it */
	rcache_put(c, "clock.test", &a, 50 * S);
	assert_false(rcache_get(c, "clock.test", AF_INET, 49 * S, &got));
	rcache_free(c);
}

static void test_keys(void **state)
{
	struct rcache *c;
	struct res_answer a4 = answer(RES_OK, AF_INET, 1, 30), a6 = answer(RES_OK, AF_INET6, 1, 30),
			  got;
	char name[32];
	int hits = 0;

	(void)state;
	assert_int_equal(rcache_new(&c), 0);
	a6.addr[0][0] = 0x20;
	rcache_put(c, "Api.Allowed.TEST.", &a4, 0);
	assert_true(rcache_get(c, "api.allowed.test", AF_INET, 0, &got));
	assert_true(rcache_get(c, "API.ALLOWED.TEST.", AF_INET, 0, &got));
	assert_false(rcache_get(c, "api.allowed.test", AF_INET6, 0, &got)); /* family apart */
	rcache_put(c, "api.allowed.test", &a6, 0);
	assert_true(rcache_get(c, "api.allowed.test", AF_INET6, 0, &got));
	assert_int_equal(got.addr[0][0], 0x20);
	assert_false(rcache_get(c, "other.allowed.test", AF_INET, 0, &got));
	/* more names than slots: whatever is found is the right answer */
	for (int i = 0; i < 4 * RCACHE_SLOTS; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		a4.addr[0][1] = (uint8_t)i;
		a4.addr[0][2] = (uint8_t)(i >> 8);
		rcache_put(c, name, &a4, 0);
	}
	for (int i = 0; i < 4 * RCACHE_SLOTS; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		if (!rcache_get(c, name, AF_INET, 0, &got))
			continue;
		hits++;
		assert_int_equal(got.addr[0][1], (uint8_t)i);
		assert_int_equal(got.addr[0][2], (uint8_t)(i >> 8));
	}
	assert_true(hits > 0 && hits <= RCACHE_SLOTS);
	rcache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ttl_bounds),
	    cmocka_unit_test(test_not_cached),
	    cmocka_unit_test(test_keys),
	};

	return cmocka_run_group_tests_name("rcache", tests, NULL, NULL);
}
