// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the guest's denials feed, host side (supervisor/dfeed.c):
 * the line of a denial parsed back with jansson (fields, null rule,
 * hostile strings, long fields cut to fit), only denials fed, the token
 * bucket (a burst, then the rate, then one {"dropped":N} line), and a
 * full pipe never blocking.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "agw.h"
#include "supervisor/dfeed.h"

static void test_dfeed_line(void **state)
{
	struct aud_event ev = {.ts = 1796148702497809,
			       .kind = "dns",
			       .op = "query",
			       .target = "evil.test",
			       .decision = "deny",
			       .rule = "network.deny[0]",
			       .reason = "denied by rule"};
	char out[DFEED_LINE_MAX], big[3000];
	json_t *j;
	size_t n;

	(void)state;
	n = dfeed_line(&ev, out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_string_equal(out, "{\"time\":\"2026-12-01T18:11:42.497Z\",\"kind\":\"dns\",\"op\":"
				 "\"query\",\"target\":\"evil.test\",\"rule\":\"network.deny[0]\","
				 "\"reason\":\"denied by rule\"}\n");
	/* no rule; hostile and over-long strings: still one valid JSON line */
	memset(big, '\x01', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ev.rule = NULL;
	ev.target = big;
	ev.reason = "a\"b\\c\nd\xff\xe2\x80\xa8";
	n = dfeed_line(&ev, out, sizeof(out));
	assert_true(n < DFEED_LINE_MAX);
	assert_int_equal(out[n - 1], '\n');
	assert_null(memchr(out, '\n', n - 1));
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "rule")));
	assert_string_equal(json_string_value(json_object_get(j, "reason")),
			    "a\"b\\c\nd\xef\xbf\xbd\xe2\x80\xa8");
	assert_true(strlen(json_string_value(json_object_get(j, "target"))) > 10);
	json_decref(j);
	ev.rule = big;
	ev.reason = big;
	n = dfeed_line(&ev, out, sizeof(out));
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	json_decref(j);
}

/* Reads what is in the pipe: the number of lines, and the text. */
static int drain(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap - 1);
	int lines = 0;

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	return lines;
}

static void test_dfeed_rate(void **state)
{
	struct aud_event deny = {
	    .kind = "net", .op = "connect", .target = "x:443", .decision = "deny"};
	struct aud_event allow = deny;
	struct dfeed *d = NULL;
	uint64_t sent, dropped;
	static char buf[256 * 1024];
	int p[2];

	(void)state;
	allow.decision = "allow";
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	assert_int_equal(dfeed_new(p[1], &d), 0);
	/* only denials */
	dfeed_event(d, &allow, 0);
	assert_int_equal(drain(p[0], buf, sizeof(buf)), 0);
	/* a burst of 150 at one instant: DFEED_BURST pass */
	for (int i = 0; i < 150; i++)
		dfeed_event(d, &deny, 1000);
	assert_int_equal(drain(p[0], buf, sizeof(buf)), DFEED_BURST);
	dfeed_counts(d, &sent, &dropped);
	assert_int_equal(sent, DFEED_BURST);
	assert_int_equal(dropped, 50);
	/* a second later DFEED_RATE more, the first after the dropped note */
	for (int i = 0; i < 50; i++)
		dfeed_event(d, &deny, 2000);
	assert_int_equal(drain(p[0], buf, sizeof(buf)), DFEED_RATE + 1);
	assert_true(strncmp(buf, "{\"dropped\":50}\n", 15) == 0);
	/* a full pipe: never blocks, counts */
	for (int i = 0; i < 5000; i++)
		dfeed_event(d, &deny, 100000 + i * 1000);
	dfeed_counts(d, &sent, &dropped);
	assert_int_equal(sent + dropped, 150 + 50 + 5000); /* each denial counted once */
	assert_true(dropped > 80 + 1000);		   /* the pipe (64 KiB) filled up */
	dfeed_free(d);
	close(p[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dfeed_line),
	    cmocka_unit_test(test_dfeed_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
