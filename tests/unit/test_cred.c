// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Credentials (gateway/net/cred.c): finding placeholders in buffers, DNS
 * names and streams split at every offset, the head check and injection
 * (only the named header of the inspected host's own credential; the value
 * never lands anywhere else), and loading values from env:, file: and
 * command: with errors that name the credential and never the value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/cred.h"
#include "policies/pol.h"

#define PH0 "agw-placeholder-one-0123456789abcdef0123456789abcdef"
#define PH1 "agw-placeholder-two-fedcba9876543210fedcba9876543210"
#define VAL0 "sk-real-secret-value-0000000000000000000000000000000000000000000000000000"

static struct cred creds[2];
static struct cred_set set = {creds, 2};

static int setup(void **state)
{
	(void)state;
	memset(creds, 0, sizeof(creds));
	snprintf(creds[0].name, sizeof(creds[0].name), "one");
	snprintf(creds[0].header, sizeof(creds[0].header), "x-api-key");
	snprintf(creds[0].ph, sizeof(creds[0].ph), PH0);
	creds[0].ph_len = strlen(PH0);
	snprintf(creds[0].token, sizeof(creds[0].token), "0123456789abcdef0123456789abcdef");
	creds[0].value = strdup(VAL0);
	creds[0].value_len = strlen(VAL0);
	snprintf(creds[1].name, sizeof(creds[1].name), "two");
	snprintf(creds[1].header, sizeof(creds[1].header), "authorization");
	snprintf(creds[1].ph, sizeof(creds[1].ph), PH1);
	creds[1].ph_len = strlen(PH1);
	snprintf(creds[1].token, sizeof(creds[1].token), "fedcba9876543210fedcba9876543210");
	creds[1].value = strdup("short");
	creds[1].value_len = 5;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(creds[0].value);
	free(creds[1].value);
	return 0;
}

static void test_find(void **state)
{
	const char *b = "xx " PH1 " yy";

	(void)state;
	assert_int_equal(cred_find_any(&set, (const uint8_t *)b, strlen(b)), 1);
	assert_int_equal(cred_find_any(&set, (const uint8_t *)b, 10), -1);
	assert_int_equal(cred_find_any(NULL, (const uint8_t *)b, strlen(b)), -1);
	assert_int_equal(cred_find_dns(&set, "agw-placeholder-one-0123456789ABCDEF0123456789abcdef.x.test"), 0);
	/* split over labels, upper case */
	assert_int_equal(cred_find_dns(&set, "0123456789.ABCDEF0123.456789abcdef.evil.test"), 0);
	assert_int_equal(cred_find_dns(&set, "fedcba9876543210.evil.test"), -1);
	assert_ptr_equal(cred_find(&set, "two"), &creds[1]);
	assert_null(cred_find(&set, "three"));
}

/* A placeholder split into two and three pieces at every offset is found;
 * the same bytes with one character changed are not. */
static void test_scan_split(void **state)
{
	char buf[300];
	size_t n;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "POSTDATA=%s&rest", PH0);
	for (size_t a = 0; a <= n; a++) {
		struct cred_scan sc;
		int hit;

		cred_scan_init(&sc);
		hit = cred_scan_feed(&set, &sc, (const uint8_t *)buf, a);
		if (hit < 0)
			hit = cred_scan_feed(&set, &sc, (const uint8_t *)buf + a, n - a);
		assert_int_equal(hit, 0);
		for (size_t b = a; b <= n; b += 7) {
			cred_scan_init(&sc);
			hit = cred_scan_feed(&set, &sc, (const uint8_t *)buf, a);
			if (hit < 0)
				hit = cred_scan_feed(&set, &sc, (const uint8_t *)buf + a, b - a);
			if (hit < 0)
				hit = cred_scan_feed(&set, &sc, (const uint8_t *)buf + b, n - b);
			assert_int_equal(hit, 0);
		}
	}
	/* one byte at a time */
	{
		struct cred_scan sc;
		int hit = -1;

		cred_scan_init(&sc);
		for (size_t i = 0; i < n && hit < 0; i++)
			hit = cred_scan_feed(&set, &sc, (const uint8_t *)buf + i, 1);
		assert_int_equal(hit, 0);
	}
	buf[20] ^= 1;
	{
		struct cred_scan sc;

		cred_scan_init(&sc);
		assert_int_equal(cred_scan_feed(&set, &sc, (const uint8_t *)buf, n), -1);
	}
}

/* Only the first CRED_BODY_SCAN bytes are scanned. */
static void test_scan_limit(void **state)
{
	static uint8_t big[CRED_BODY_SCAN + 200];
	struct cred_scan sc;

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big + CRED_BODY_SCAN - 100, PH0, strlen(PH0));
	cred_scan_init(&sc);
	assert_int_equal(cred_scan_feed(&set, &sc, big, sizeof(big)), 0);
	memset(big, 'a', sizeof(big));
	memcpy(big + CRED_BODY_SCAN + 10, PH0, strlen(PH0));
	cred_scan_init(&sc);
	assert_int_equal(cred_scan_feed(&set, &sc, big, CRED_BODY_SCAN), -1);
	assert_int_equal(cred_scan_feed(&set, &sc, big + CRED_BODY_SCAN, 200), -1);
}

/* The real value in a response stream, split at every offset. */
static void test_value_scan(void **state)
{
	char buf[400];
	uint8_t tail[CRED_VALUE_MAX];
	size_t n, tl;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n\r\n{\"echo\":\"%s\"}", VAL0);
	for (size_t a = 0; a <= n; a++) {
		int hit;

		tl = 0;
		hit = cred_value_scan(&set, tail, &tl, (const uint8_t *)buf, a);
		if (hit < 0)
			hit = cred_value_scan(&set, tail, &tl, (const uint8_t *)buf + a, n - a);
		assert_int_equal(hit, 0);
	}
	{
		int hit = -1;

		tl = 0;
		for (size_t i = 0; i < n && hit < 0; i++)
			hit = cred_value_scan(&set, tail, &tl, (const uint8_t *)buf + i, 1);
		assert_int_equal(hit, 0); /* one byte at a time */
	}
	/* the placeholder is not the value */
	tl = 0;
	assert_int_equal(cred_value_scan(&set, tail, &tl, (const uint8_t *)PH0, strlen(PH0)), -1);
	/* a short value ("short", credential two) is found too */
	tl = 0;
	assert_int_equal(cred_value_scan(&set, tail, &tl, (const uint8_t *)"a sho", 5), -1);
	assert_int_equal(cred_value_scan(&set, tail, &tl, (const uint8_t *)"rt b", 4), 1);
}

static void test_value_partial(void **state)
{
	char buf[200];

	(void)state;
	assert_int_equal(cred_value_partial(&set, (const uint8_t *)"abc", 3), 0);
	snprintf(buf, sizeof(buf), "xx%.10s", VAL0);
	assert_int_equal(cred_value_partial(&set, (const uint8_t *)buf, strlen(buf)), 10);
	assert_int_equal(cred_value_partial(&set, (const uint8_t *)"xx s", 4), 1); /* "short" */
	assert_int_equal(cred_value_partial(&set, (const uint8_t *)"sk-re", 5), 5);
	/* the whole value is no partial one (cred_value_scan finds it) */
	snprintf(buf, sizeof(buf), "short");
	assert_int_equal(cred_value_partial(&set, (const uint8_t *)buf, 5), 0);
	assert_int_equal(cred_value_partial(&set, (const uint8_t *)"", 0), 0);
	assert_int_equal(cred_value_partial(NULL, (const uint8_t *)"s", 1), 0);
}

static int head(const char *in, int inject, char *out, size_t cap, size_t *newlen, int *leak,
		const char **where, unsigned *inj)
{
	const char *body = "BODY" PH0; /* bytes after the head: moved, never judged */
	size_t hl = strlen(in), bl = strlen(body);

	memset(out, 0, cap);
	memcpy(out, in, hl);
	memcpy(out + hl, body, bl);
	int rc = cred_head(&set, inject, (uint8_t *)out, hl, bl, cap - 1, newlen, inj, leak, where);

	if (rc == 0) /* a shorter head leaves stale bytes after the end */
		out[*newlen + bl] = '\0';
	return rc;
}

static void test_head(void **state)
{
	char out[2048];
	size_t nl;
	int leak, rc;
	unsigned inj;
	const char *where;

	(void)state;
	/* the named header of the injected credential: replaced, whatever the case */
	rc = head("GET /v1 HTTP/1.1\r\nHost: a\r\nX-API-Key: " PH0 "\r\n\r\n", 0, out, sizeof(out),
		  &nl, &leak, &where, &inj);
	assert_int_equal(rc, 0);
	assert_int_equal(inj, 1);
	assert_string_equal(out, "GET /v1 HTTP/1.1\r\nHost: a\r\nX-API-Key: " VAL0 "\r\n\r\nBODY" PH0);
	assert_int_equal(nl, strlen("GET /v1 HTTP/1.1\r\nHost: a\r\nX-API-Key: " VAL0 "\r\n\r\n"));
	/* shorter value, two occurrences in the header */
	rc = head("GET / HTTP/1.1\r\nauthorization: Bearer " PH1 " " PH1 "\r\n\r\n", 1, out,
		  sizeof(out), &nl, &leak, &where, &inj);
	assert_int_equal(rc, 0);
	assert_int_equal(inj, 2);
	assert_string_equal(out, "GET / HTTP/1.1\r\nauthorization: Bearer short short\r\n\r\nBODY" PH0);
	/* nothing to do */
	rc = head("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, out, sizeof(out), &nl, &leak, &where,
		  &inj);
	assert_int_equal(rc, 0);
	assert_int_equal(inj, 0);
	assert_int_equal(nl, strlen("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));

	struct {
		const char *in;
		int inject, leak;
		const char *where;
	} leaks[] = {
	    {"GET /?k=" PH0 " HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, "request line"},
	    {"GET / HTTP/1.1\r\nx-other: " PH0 "\r\n\r\n", 0, 0, "header"},
	    {"GET / HTTP/1.1\r\nx-api-key-2: " PH0 "\r\n\r\n", 0, 0, "header"},
	    {"GET / HTTP/1.1\r\n" PH0 ": x-api-key\r\n\r\n", 0, 0, "header"},
	    {"GET / HTTP/1.1\r\nx-api-key: " PH0 "\r\n\r\n", -1, 0, "header"}, /* not this host's */
	    {"GET / HTTP/1.1\r\nx-api-key: " PH0 "\r\n\r\n", 1, 0, "header"},  /* another credential */
	    {"GET / HTTP/1.1\r\nx-api-key: " PH1 "\r\n\r\n", 0, 1, "header"},
	    {"GET / HTTP/1.1\r\nx-api-key: " PH0 "\r\nCookie: " PH0 "\r\n\r\n", 0, 0, "header"},
	};
	for (size_t i = 0; i < AGW_ARRAY_LEN(leaks); i++) {
		rc = head(leaks[i].in, leaks[i].inject, out, sizeof(out), &nl, &leak, &where, &inj);
		if (rc != 1 || leak != leaks[i].leak || strcmp(where, leaks[i].where))
			fail_msg("leak case %zu: rc %d leak %d where %s", i, rc, leak,
				 where ? where : "-");
		/* nothing was rewritten: the value is nowhere */
		assert_null(strstr(out, VAL0));
	}
	/* no room: refused, unchanged */
	{
		const char *in = "GET / HTTP/1.1\r\nx-api-key: " PH0 "\r\n\r\n";
		size_t cap = strlen(in) + strlen("BODY" PH0) + 5;

		rc = head(in, 0, out, cap + 1, &nl, &leak, &where, &inj);
		assert_int_equal(rc, -AGW_ETOOBIG);
		assert_null(strstr(out, VAL0));
	}
}

static struct pol *load_creds(const char *from)
{
	char text[512];
	struct pol_errors errs = {0};
	struct pol *p = NULL;

	snprintf(text, sizeof(text),
		 "version: 1\ncredentials:\n  - { name: c1, env: C1, from: \"%s\", hosts: [a.test], "
		 "header: x-k }\n",
		 from);
	assert_int_equal(pol_load_buf("c.yaml", text, strlen(text), "/tmp", &p, &errs), 0);
	pol_errors_free(&errs);
	return p;
}

static int load_one(const char *from, char *value, size_t cap, char *err, size_t errcap)
{
	struct pol *p = load_creds(from);
	struct cred_set *cs = NULL;
	int rc = cred_set_load(p, &cs, err, errcap);

	if (!rc) {
		assert_int_equal(cs->n, 1);
		snprintf(value, cap, "%s", cs->v[0].value);
		assert_int_equal(cs->v[0].ph_len, strlen(cs->v[0].ph));
		assert_int_equal(strncmp(cs->v[0].ph, "agw-placeholder-c1-", 19), 0);
		assert_int_equal(strlen(cs->v[0].token), 32);
		assert_non_null(strstr(cs->v[0].ph, cs->v[0].token));
	}
	cred_set_free(cs);
	pol_free(p);
	return rc;
}

static void test_load(void **state)
{
	char v[CRED_VALUE_MAX + 1], err[256], path[] = "/tmp/agw-cred-XXXXXX";
	int fd;

	(void)state;
	setenv("AGW_TEST_CRED", "from-env", 1);
	assert_int_equal(load_one("env:AGW_TEST_CRED", v, sizeof(v), err, sizeof(err)), 0);
	assert_string_equal(v, "from-env");
	assert_null(getenv("AGW_TEST_CRED")); /* not left for children to inherit */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from-file\r\n\n", 12), 12);
	close(fd);
	{
		char from[64];

		snprintf(from, sizeof(from), "file:%s", path);
		assert_int_equal(load_one(from, v, sizeof(v), err, sizeof(err)), 0);
		assert_string_equal(v, "from-file");
	}
	unlink(path);
	assert_int_equal(load_one("command:printf from-cmd", v, sizeof(v), err, sizeof(err)), 0);
	assert_string_equal(v, "from-cmd");
	assert_int_equal(load_one("command:printf '%s|%s' a b", v, sizeof(v), err, sizeof(err)), 0);
	assert_string_equal(v, "a|b"); /* shell syntax: /bin/sh -c */

	/* errors name the credential and the cause, never the value */
	setenv("AGW_TEST_CRED", "bad\x01value-secret", 1);
	assert_int_not_equal(load_one("env:AGW_TEST_CRED", v, sizeof(v), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "credential 'c1'"));
	assert_non_null(strstr(err, "control characters"));
	assert_null(strstr(err, "value-secret"));
	unsetenv("AGW_TEST_NOT_SET");
	assert_int_not_equal(load_one("env:AGW_TEST_NOT_SET", v, sizeof(v), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "AGW_TEST_NOT_SET is not set"));
	assert_int_not_equal(load_one("file:/nonexistent/k", v, sizeof(v), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "cannot read /nonexistent/k"));
	assert_int_not_equal(load_one("command:sh -c 'echo leaked-secret; exit 3'", v, sizeof(v), err,
				      sizeof(err)),
			     0);
	assert_non_null(strstr(err, "exited with status 3"));
	assert_null(strstr(err, "leaked-secret"));
	assert_int_not_equal(load_one("command:/nonexistent/prog", v, sizeof(v), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not found"));
	assert_int_not_equal(load_one("command:true", v, sizeof(v), err, sizeof(err)), 0);
	assert_non_null(strstr(err, "empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_scan_split),
	    cmocka_unit_test(test_scan_limit),
	    cmocka_unit_test(test_head),
	    cmocka_unit_test(test_value_scan),
	    cmocka_unit_test(test_value_partial),
	    cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
