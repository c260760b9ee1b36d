// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the accelerator choice (vmctl/accel.h): names, the order
 * flag > policy > AGENTGW_ACCEL, the probe cache (a verdict for another
 * host kernel, QEMU or image is not used; a damaged file is not trusted),
 * resolution without a KVM device, and the fallback line. The probe boots
 * themselves are covered by tests/e2e/accel.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/accel.h"

static char state[64];

static int setup(void **st)
{
	(void)st;
	snprintf(state, sizeof(state), "/tmp/agw-accel-test.XXXXXX");
	if (!mkdtemp(state))
		return -1;
	setenv("AGENTGW_STATE_DIR", state, 1);
	unsetenv("AGENTGW_ACCEL");
	return 0;
}

static int teardown(void **st)
{
	char p[128];

	(void)st;
	snprintf(p, sizeof(p), "%s/accel-probe", state);
	unlink(p);
	rmdir(state);
	return 0;
}

static void write_cache(const char *text)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/accel-probe", state);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_parse(void **st)
{
	enum qemu_accel a;

	(void)st;
	assert_int_equal(accel_parse("auto", &a), 0);
	assert_int_equal(a, QEMU_ACCEL_AUTO);
	assert_int_equal(accel_parse("kvm", &a), 0);
	assert_int_equal(a, QEMU_ACCEL_KVM);
	assert_int_equal(accel_parse("tcg", &a), 0);
	assert_int_equal(a, QEMU_ACCEL_TCG);
	assert_int_equal(accel_parse("KVM", &a), -AGW_EINVAL);
	assert_int_equal(accel_parse("", &a), -AGW_EINVAL);
	assert_int_equal(accel_parse(NULL, &a), -AGW_EINVAL);
}

static void test_precedence(void **st)
{
	static const struct {
		const char *flag, *policy, *env;
		int ret;
		enum qemu_accel want;
		const char *bad;
	} cases[] = {
	    {NULL, NULL, NULL, 0, QEMU_ACCEL_AUTO, NULL},
	    {NULL, NULL, "tcg", 0, QEMU_ACCEL_TCG, "AGENTGW_ACCEL"},
	    {NULL, "kvm", "tcg", 0, QEMU_ACCEL_KVM, "sandbox.accel"},
	    {"tcg", "kvm", "kvm", 0, QEMU_ACCEL_TCG, "--accel"},
	    {"auto", "tcg", NULL, 0, QEMU_ACCEL_AUTO, "--accel"},
	    {NULL, NULL, "fast", -AGW_EINVAL, QEMU_ACCEL_AUTO, "AGENTGW_ACCEL"},
	    {"fast", NULL, "kvm", -AGW_EINVAL, QEMU_ACCEL_AUTO, "--accel"},
	    {NULL, NULL, "", 0, QEMU_ACCEL_AUTO, NULL},
	};

	(void)st;
	for (size_t i = 0; i < AGW_ARRAY_LEN(cases); i++) {
		enum qemu_accel a;
		const char *bad;

		if (cases[i].env)
			setenv("AGENTGW_ACCEL", cases[i].env, 1);
		else
			unsetenv("AGENTGW_ACCEL");
		assert_int_equal(accel_requested(cases[i].flag, cases[i].policy, &a, &bad),
				 cases[i].ret);
		if (cases[i].ret == 0)
			assert_int_equal(a, cases[i].want);
		if (cases[i].bad)
			assert_string_equal(bad, cases[i].bad);
		else
			assert_null(bad);
	}
	unsetenv("AGENTGW_ACCEL");
}

static void test_key_names_image(void **st)
{
	char k1[ACCEL_KEY_MAX], k2[ACCEL_KEY_MAX];

	(void)st;
	assert_int_equal(accel_key("/img/a", k1, sizeof(k1)), 0);
	assert_int_equal(accel_key("/img/b", k2, sizeof(k2)), 0);
	assert_string_not_equal(k1, k2);
	assert_non_null(strstr(k1, "kernel="));
	assert_non_null(strstr(k1, "qemu="));
	assert_null(strchr(k1, '\n'));
	assert_int_equal(accel_key("/img/a", k1, 16), -AGW_ETOOBIG);
}

static void test_cache(void **st)
{
	char key[ACCEL_KEY_MAX], text[ACCEL_KEY_MAX + 256];
	struct accel_verdict v;

	(void)st;
	assert_int_equal(accel_key("/img/a", key, sizeof(key)), 0);
	assert_int_equal(accel_cache_read(key, &v), -AGW_ENOTFOUND); /* no file */
	snprintf(text, sizeof(text), "key=%s\nverdict=tcg probe_us=10000\nwhy=QEMU exited: MSR\n",
		 key);
	write_cache(text);
	assert_int_equal(accel_cache_read(key, &v), 0);
	assert_int_equal(v.accel, QEMU_ACCEL_TCG);
	assert_true(v.cached);
	assert_false(v.probed);
	assert_int_equal(v.probe_us, 10000);
	assert_string_equal(v.why, "QEMU exited: MSR");
	assert_non_null(strstr(v.cache, "/accel-probe"));
	/* Another image (or kernel, or QEMU): not this verdict. */
	assert_int_equal(accel_key("/img/b", key, sizeof(key)), 0);
	assert_int_equal(accel_cache_read(key, &v), -AGW_ENOTFOUND);
	/* Damaged files are not trusted. */
	assert_int_equal(accel_key("/img/a", key, sizeof(key)), 0);
	snprintf(text, sizeof(text), "key=%s\nverdict=fast probe_us=1\nwhy=x\n", key);
	write_cache(text);
	assert_int_equal(accel_cache_read(key, &v), -AGW_ENOTFOUND);
	snprintf(text, sizeof(text), "key=%s\nverdict=kvm probe_us=1\n", key);
	write_cache(text);
	assert_int_equal(accel_cache_read(key, &v), -AGW_ENOTFOUND);
	snprintf(text, sizeof(text), "key=%s\nverdict=kvm probe_us=900000\nwhy=booted\n", key);
	write_cache(text);
	assert_int_equal(accel_cache_read(key, &v), 0);
	assert_int_equal(v.accel, QEMU_ACCEL_KVM);
}

static void test_resolve_without_kvm(void **st)
{
	struct accel_verdict v;

	(void)st;
	setenv("AGENTGW_KVM_DEV", "/nonexistent/kvm", 1);
	assert_int_equal(accel_resolve(QEMU_ACCEL_AUTO, "/img/a", "/k", "/i", &v), 0);
	assert_int_equal(v.accel, QEMU_ACCEL_TCG);
	assert_false(v.probed);
	assert_false(v.cached);
	assert_int_equal(accel_resolve(QEMU_ACCEL_KVM, "/img/a", "/k", "/i", &v), 0);
	assert_int_equal(v.accel, QEMU_ACCEL_KVM); /* asked for: taken as is */
	unsetenv("AGENTGW_KVM_DEV");
}

static void test_note(void **st)
{
	struct accel_verdict v = {.accel = QEMU_ACCEL_TCG, .probed = 1};
	char line[2048];

	(void)st;
	snprintf(v.why, sizeof(v.why), "QEMU exited during start: MSR 0x10a");
	snprintf(v.cache, sizeof(v.cache), "/var/lib/agentgw/accel-probe");
	accel_note(QEMU_ACCEL_AUTO, &v, line, sizeof(line));
	assert_non_null(strstr(line, "KVM cannot boot the guest"));
	assert_non_null(strstr(line, "MSR 0x10a"));
	assert_non_null(strstr(line, "--accel kvm|tcg"));
	assert_non_null(strstr(line, "rm /var/lib/agentgw/accel-probe"));
	assert_null(strchr(line, '\n'));
	/* Asked for TCG, KVM works, or no KVM device at all: nothing to say. */
	accel_note(QEMU_ACCEL_TCG, &v, line, sizeof(line));
	assert_string_equal(line, "");
	v.accel = QEMU_ACCEL_KVM;
	accel_note(QEMU_ACCEL_AUTO, &v, line, sizeof(line));
	assert_string_equal(line, "");
	v = (struct accel_verdict){.accel = QEMU_ACCEL_TCG};
	accel_note(QEMU_ACCEL_AUTO, &v, line, sizeof(line));
	assert_string_equal(line, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_key_names_image),
	    cmocka_unit_test(test_cache),
	    cmocka_unit_test(test_resolve_without_kvm),
	    cmocka_unit_test(test_note),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
