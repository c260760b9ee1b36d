// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The /workspace transport choice: parsing, flag > policy > environment,
 * and auto's detection against a stand-in QEMU (AGENTGW_QEMU, a script
 * that lists devices or not) and image manifests with and without the
 * virtiofs module; an explicit virtiofs the host cannot do is an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/fst.h"

static char dir[64];

static void put(const char *name, const char *text, mode_t mode)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/agw-fst-XXXXXX");
	assert_non_null(mkdtemp(dir));
	put("qemu-yes", "#!/bin/sh\necho 'name \"vhost-user-fs-device\", bus virtio-bus'\n", 0755);
	put("qemu-no", "#!/bin/sh\necho 'name \"virtio-9p-device\", bus virtio-bus'\n", 0755);
	unsetenv("AGENTGW_FS_TRANSPORT");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	unsetenv("AGENTGW_QEMU");
	unsetenv("AGENTGW_FS_TRANSPORT");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_parse_and_precedence(void **state)
{
	enum fst t;
	const char *bad;

	(void)state;
	assert_int_equal(fst_parse("virtiofs", &t), 0);
	assert_int_equal(t, FST_VIRTIOFS);
	assert_int_equal(fst_parse("9p", &t), 0);
	assert_int_equal(t, FST_9P);
	assert_int_equal(fst_parse("nfs", &t), -AGW_EINVAL);
	assert_string_equal(fst_name(FST_AUTO), "auto");
	assert_int_equal(fst_requested(NULL, NULL, &t, &bad), 0);
	assert_int_equal(t, FST_AUTO);
	setenv("AGENTGW_FS_TRANSPORT", "9p", 1);
	assert_int_equal(fst_requested(NULL, NULL, &t, &bad), 0);
	assert_int_equal(t, FST_9P);
	assert_int_equal(fst_requested(NULL, "virtiofs", &t, &bad), 0);
	assert_int_equal(t, FST_VIRTIOFS);
	assert_int_equal(fst_requested("auto", "virtiofs", &t, &bad), 0);
	assert_int_equal(t, FST_AUTO);
	assert_int_equal(fst_requested("vfs", NULL, &t, &bad), -AGW_EINVAL);
	assert_string_equal(bad, "--fs-transport");
	setenv("AGENTGW_FS_TRANSPORT", "bogus", 1);
	assert_int_equal(fst_requested(NULL, NULL, &t, &bad), -AGW_EINVAL);
	assert_string_equal(bad, "AGENTGW_FS_TRANSPORT");
}

static void test_resolve(void **state)
{
	char q[128], why[256];
	enum fst t;

	(void)state;
	put("manifest.txt", "agentgw-image 2\nmodules virtio 9p fuse virtiofs\n", 0644);
	snprintf(q, sizeof(q), "%s/qemu-yes", dir);
	setenv("AGENTGW_QEMU", q, 1);
	assert_int_equal(fst_resolve(FST_AUTO, dir, &t, why, sizeof(why)), 0);
	assert_int_equal(t, FST_VIRTIOFS);
	assert_int_equal(fst_resolve(FST_9P, dir, &t, why, sizeof(why)), 0);
	assert_int_equal(t, FST_9P);
	/* QEMU without the device: auto falls back, virtiofs is an error */
	snprintf(q, sizeof(q), "%s/qemu-no", dir);
	setenv("AGENTGW_QEMU", q, 1);
	assert_int_equal(fst_resolve(FST_AUTO, dir, &t, why, sizeof(why)), 0);
	assert_int_equal(t, FST_9P);
	assert_non_null(strstr(why, "vhost-user-fs-device"));
	assert_int_equal(fst_resolve(FST_VIRTIOFS, dir, &t, why, sizeof(why)), -AGW_EINVAL);
	/* an image built before virtio-fs */
	snprintf(q, sizeof(q), "%s/qemu-yes", dir);
	setenv("AGENTGW_QEMU", q, 1);
	put("manifest.txt", "agentgw-image 2\nmodules virtio 9p\n", 0644);
	assert_int_equal(fst_resolve(FST_AUTO, dir, &t, why, sizeof(why)), 0);
	assert_int_equal(t, FST_9P);
	assert_non_null(strstr(why, "no virtiofs module"));
	/* an image with a root filesystem: its base image's manifest says */
	{
		char sub[160], base[160], m[200];
		FILE *f;

		snprintf(base, sizeof(base), "%s/0123abcd", dir);
		snprintf(sub, sizeof(sub), "%s/rootimg", dir);
		assert_int_equal(mkdir(base, 0755), 0);
		assert_int_equal(mkdir(sub, 0755), 0);
		snprintf(m, sizeof(m), "%s/manifest.txt", base);
		f = fopen(m, "w");
		assert_non_null(f);
		fputs("agentgw-image 2\nmodules virtio ext4 fuse virtiofs\n", f);
		fclose(f);
		snprintf(m, sizeof(m), "%s/manifest.txt", sub);
		f = fopen(m, "w");
		assert_non_null(f);
		fputs("agentgw-rootfs 1\ndistro debian bookworm\nbase 0123abcd\n", f);
		fclose(f);
		assert_int_equal(fst_resolve(FST_AUTO, sub, &t, why, sizeof(why)), 0);
		assert_int_equal(t, FST_VIRTIOFS);
		strcat(sub, "/");
		assert_int_equal(fst_resolve(FST_AUTO, sub, &t, why, sizeof(why)), 0);
		assert_int_equal(t, FST_VIRTIOFS);
	}
	assert_int_equal(fst_resolve(FST_AUTO, "/nonexistent", &t, why, sizeof(why)), 0);
	assert_int_equal(t, FST_9P);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_parse_and_precedence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
