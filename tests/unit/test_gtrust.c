// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the guest's trust checks (vmctl/gtrust.h): which PEM and
 * env lines the host delivers and init accepts, the CA variables, and the
 * system store with an earlier boot's CA taken out (by its mark, and by
 * the copy update-ca-certificates makes without one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/gtrust.h"

#define CERT_A "-----BEGIN CERTIFICATE-----\nQUFB\nQUFB\n-----END CERTIFICATE-----\n"
#define CERT_B "-----BEGIN CERTIFICATE-----\nQkJC\n-----END CERTIFICATE-----\n"
#define CERT_OLD "-----BEGIN CERTIFICATE-----\nT0xE\n-----END CERTIFICATE-----\n"

static int pem(const char *s)
{
	return gtrust_pem_check(s, strlen(s));
}

static void test_pem_check(void **state)
{
	static char big[GTRUST_MAX_CA + 2];

	(void)state;
	assert_int_equal(pem(CERT_A), 0);
	assert_int_equal(pem("\n" CERT_A "\r\n" CERT_B "  \n"), 0);
	assert_int_equal(pem(""), -AGW_EPARSE);
	assert_int_equal(pem("  \n"), -AGW_EPARSE);
	assert_int_equal(pem("junk\n" CERT_A), -AGW_EPARSE);
	assert_int_equal(pem(CERT_A "junk"), -AGW_EPARSE);
	/* A private key is not what the guest may get. */
	assert_int_equal(pem("-----BEGIN PRIVATE KEY-----\nQUFB\n-----END PRIVATE KEY-----\n"),
			 -AGW_EPARSE);
	assert_int_equal(pem("-----BEGIN CERTIFICATE-----\nQU$B\n-----END CERTIFICATE-----\n"),
			 -AGW_EPARSE);
	assert_int_equal(pem("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"),
			 -AGW_EPARSE);
	assert_int_equal(pem("-----BEGIN CERTIFICATE-----\nQUFB\n"), -AGW_EPARSE);
	assert_int_equal(gtrust_pem_check(CERT_A, sizeof(CERT_A)), -AGW_EPARSE); /* the NUL */
	memset(big, ' ', sizeof(big) - 1);
	assert_int_equal(gtrust_pem_check(big, GTRUST_MAX_CA + 1), -AGW_ETOOBIG);
}

static int envl(const char *s, size_t *nl)
{
	const char *why = NULL;
	int r = gtrust_env_line(s, strlen(s), nl, &why);

	assert_true(r == 0 ? why == NULL : why != NULL);
	return r;
}

static void test_env_line(void **state)
{
	static const char *const bad[] = {
	    "",
	    "NOEQUALS",
	    "=value",
	    "1ABC=v",
	    "A-B=v",
	    "A B=v",
	    "KEY=",
	    "KEY=has space",
	    "KEY=quote'd",
	    "KEY=dollar$x",
	    "KEY=back`tick`",
	    "KEY=new\nline",
	    "PATH=/evil",
	    "HOME=/x",
	    "LD_PRELOAD=/x.so",
	    "SSL_CERT_FILE=/x",
	    "NODE_EXTRA_CA_CERTS=/x",
	    "KEY=a;b",
	};
	char longname[GTRUST_MAX_NAME + 8], longval[GTRUST_MAX_VALUE + 8];
	size_t nl = 99;

	(void)state;
	assert_int_equal(envl("ANTHROPIC_API_KEY=agw-ph-0123abcd", &nl), 0);
	assert_int_equal(nl, strlen("ANTHROPIC_API_KEY"));
	assert_int_equal(envl("_x9=a.b:c/d+e=f@g%h,i-j", &nl), 0);
	assert_int_equal(nl, 3);
	for (size_t i = 0; i < AGW_ARRAY_LEN(bad); i++) {
		nl = 99;
		assert_int_equal(envl(bad[i], &nl), -AGW_EINVAL);
		assert_int_equal(nl, 0);
	}
	memset(longname, 'A', sizeof(longname));
	snprintf(longname + GTRUST_MAX_NAME + 1, 7, "=v");
	assert_int_equal(envl(longname, &nl), -AGW_EINVAL);
	snprintf(longname + GTRUST_MAX_NAME, 7, "=v");
	assert_int_equal(envl(longname, &nl), 0);
	memset(longval, 'v', sizeof(longval));
	memcpy(longval, "K=", 2);
	longval[GTRUST_MAX_VALUE + 3] = 0;
	assert_int_equal(envl(longval, &nl), -AGW_EINVAL);
	longval[GTRUST_MAX_VALUE + 2] = 0;
	assert_int_equal(envl(longval, &nl), 0);
}

static void test_ca_vars(void **state)
{
	int bundle = 0, ca = 0;

	(void)state;
	for (size_t i = 0; i < GTRUST_N_CA_VARS; i++) {
		const char *v = gtrust_ca_var(i);

		assert_non_null(v);
		bundle += strstr(v, "=" GTRUST_BUNDLE) != NULL;
		ca += strcmp(v, "NODE_EXTRA_CA_CERTS=" GTRUST_CA) == 0;
	}
	assert_int_equal(bundle, 5);
	assert_int_equal(ca, 1);
	assert_null(gtrust_ca_var(GTRUST_N_CA_VARS));
}

static long strip(const char *in, const char *old, char *out, size_t cap)
{
	long n = gtrust_store_strip(in, strlen(in), old, old ? strlen(old) : 0, out, cap);

	if (n >= 0 && (size_t)n < cap)
		out[n] = 0;
	return n;
}

static void test_store_strip(void **state)
{
	char out[1024];

	(void)state;
	/* Nothing of ours: unchanged. */
	assert_int_equal(strip(CERT_A CERT_B, NULL, out, sizeof(out)), strlen(CERT_A CERT_B));
	assert_string_equal(out, CERT_A CERT_B);
	/* Our marked block, in the middle and at the end (with or without its last newline). */
	strip(CERT_A GTRUST_MARK "\n" CERT_OLD CERT_B, NULL, out, sizeof(out));
	assert_string_equal(out, CERT_A CERT_B);
	strip(CERT_A GTRUST_MARK "\r\n" CERT_OLD, NULL, out, sizeof(out));
	assert_string_equal(out, CERT_A);
	strip(CERT_A GTRUST_MARK "\n-----BEGIN CERTIFICATE-----\nT0xE\n-----END CERTIFICATE-----",
	      NULL, out, sizeof(out));
	assert_string_equal(out, CERT_A);
	/* update-ca-certificates' unmarked copy of the earlier CA, wherever it is. */
	strip(CERT_OLD CERT_A CERT_OLD CERT_B, CERT_OLD, out, sizeof(out));
	assert_string_equal(out, CERT_A CERT_B);
	/* Another CA is kept even when the old file has junk around its block. */
	strip(CERT_A CERT_B, "# note\n" CERT_OLD, out, sizeof(out));
	assert_string_equal(out, CERT_A CERT_B);
	/* A mark with no END after it ends the store there (never copies half a block). */
	strip(CERT_A GTRUST_MARK "\n-----BEGIN CERTIFICATE-----\nT0", NULL, out, sizeof(out));
	assert_string_equal(out, CERT_A);
	/* A line that only starts like the mark is not it. */
	strip(GTRUST_MARK " and more\n" CERT_A, NULL, out, sizeof(out));
	assert_string_equal(out, GTRUST_MARK " and more\n" CERT_A);
	/* Too small an output buffer. */
	assert_int_equal(strip(CERT_A CERT_B, NULL, out, 10), -AGW_ETOOBIG);
	/* Empty store. */
	assert_int_equal(strip("", CERT_OLD, out, sizeof(out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pem_check),
	    cmocka_unit_test(test_env_line),
	    cmocka_unit_test(test_ca_vars),
	    cmocka_unit_test(test_store_strip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
