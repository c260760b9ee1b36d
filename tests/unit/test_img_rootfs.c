// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for named images and sandbox disks (vmctl/img_rootfs.c): the
 * sandbox dir beside the image cache, a writable disk made once and resumed
 * over the same root disk (also after a new kernel or agentgw-init, which
 * change the image's key), refused over another root disk, removed by
 * img_disk_remove; img_lookup of names; img_remove of a name that points
 * into another cache removes the name only. Needs mkfs.ext4. */
#include <errno.h>
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
#include "vmctl/img.h"

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/agw-img-rootfs.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_sandbox_dir(void **state)
{
	char buf[IMG_PATH_MAX];

	(void)state;
	unsetenv("AGENTGW_STATE_DIR");
	setenv("AGENTGW_IMAGE_DIR", "/srv/x/images", 1);
	assert_int_equal(img_sandbox_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/x/sandboxes");
	setenv("AGENTGW_IMAGE_DIR", "/srv/x/images/", 1);
	assert_int_equal(img_sandbox_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/x/sandboxes");
	setenv("AGENTGW_STATE_DIR", "/var/tmp/st", 1);
	assert_int_equal(img_sandbox_dir(buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/tmp/st");
	unsetenv("AGENTGW_STATE_DIR");
	unsetenv("AGENTGW_IMAGE_DIR");
}

static void test_disk_resume(void **state)
{
	struct img_info a = {0}, b = {0}, other = {0};
	char path[IMG_PATH_MAX], err[512] = "", st[300];
	struct stat sb;
	int resumed = -1;

	(void)state;
	if (access("/usr/sbin/mkfs.ext4", X_OK) != 0 && access("/sbin/mkfs.ext4", X_OK) != 0)
		skip();
	snprintf(st, sizeof(st), "%s/state", tmp);
	setenv("AGENTGW_STATE_DIR", st, 1);
	snprintf(a.key, sizeof(a.key), "k1");
	snprintf(a.rootfs_key, sizeof(a.rootfs_key), "r1");
	b = a;
	snprintf(b.key, sizeof(b.key), "k2"); /* new initramfs, same root disk */
	other = a;
	snprintf(other.rootfs_key, sizeof(other.rootfs_key), "r2");

	assert_int_equal(
	    img_disk_prepare("sb1", &a, 300, path, sizeof(path), &resumed, err, sizeof(err)), 0);
	assert_int_equal(resumed, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 300ll * 1024 * 1024);
	assert_true((long long)sb.st_blocks * 512 < sb.st_size); /* sparse */
	assert_int_equal(
	    img_disk_prepare("sb1", &b, 300, path, sizeof(path), &resumed, err, sizeof(err)), 0);
	assert_int_equal(resumed, 1);
	assert_int_equal(
	    img_disk_prepare("sb1", &other, 300, path, sizeof(path), &resumed, err, sizeof(err)),
	    -EEXIST);
	assert_non_null(strstr(err, "agentgw rm sb1"));
	assert_int_equal(img_disk_remove("sb1"), 0);
	assert_int_equal(img_disk_remove("sb1"), -AGW_ENOTFOUND);
	assert_int_equal(
	    img_disk_prepare("sb1", &other, 300, path, sizeof(path), &resumed, err, sizeof(err)),
	    0);
	assert_int_equal(resumed, 0);
	unsetenv("AGENTGW_STATE_DIR");
}

/* A fake image folder: what img_find needs. */
static void fake_image(const char *dir, int rootfs)
{
	char p[400];
	FILE *f;

	mkdir(dir, 0755);
	snprintf(p, sizeof(p), "%s/vmlinux", dir);
	fclose(fopen(p, "w"));
	snprintf(p, sizeof(p), "%s/initramfs.cpio", dir);
	fclose(fopen(p, "w"));
	if (rootfs) {
		snprintf(p, sizeof(p), "%s/rootfs.ext4", dir);
		fclose(fopen(p, "w"));
	}
	snprintf(p, sizeof(p), "%s/manifest.txt", dir);
	f = fopen(p, "w");
	fprintf(f, "kver 6.1\nrootfs abcd\n");
	fclose(f);
}

static void test_lookup_remove(void **state)
{
	char cache[300], other[300], p[800], q[400];
	struct img_info info;

	(void)state;
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	snprintf(other, sizeof(other), "%s/other", tmp);
	mkdir(cache, 0755);
	mkdir(other, 0755);
	snprintf(p, sizeof(p), "%s/names", cache);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/KEY1", cache);
	fake_image(p, 1);
	snprintf(p, sizeof(p), "%s/names/mine", cache);
	assert_int_equal(symlink("../KEY1", p), 0);
	snprintf(q, sizeof(q), "%s/KEY2", other);
	fake_image(q, 1);
	snprintf(p, sizeof(p), "%s/names/shared", cache);
	assert_int_equal(symlink(q, p), 0);

	assert_int_equal(img_lookup(cache, "mine", &info), 0);
	assert_non_null(strstr(info.rootfs, "/KEY1/rootfs.ext4"));
	assert_string_equal(info.key, "KEY1");
	assert_string_equal(info.rootfs_key, "abcd");
	assert_int_equal(img_lookup(cache, "nope", &info), -AGW_ENOTFOUND);
	assert_int_equal(img_lookup(cache, "../x", &info), -AGW_EINVAL);
	assert_int_equal(img_remove(cache, "default"), -AGW_EINVAL);

	/* A name into another cache: the name goes, the files stay. */
	assert_int_equal(img_remove(cache, "shared"), 0);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s/rootfs.ext4", q);
	assert_int_equal(access(p, F_OK), 0);
	/* The only name of an image of this cache: both go. */
	assert_int_equal(img_remove(cache, "mine"), 0);
	snprintf(p, sizeof(p), "%s/KEY1", cache);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(img_remove(cache, "mine"), -AGW_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sandbox_dir),
	    cmocka_unit_test(test_disk_resume),
	    cmocka_unit_test(test_lookup_remove),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
