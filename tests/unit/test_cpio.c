// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the newc cpio writer (vmctl/cpio.h): writes an archive and
 * walks it back: headers, names, implicit parents, duplicates, device nodes,
 * symlinks, file data, 4-byte alignment and the trailer. */
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

#include "vmctl/cpio.h"

struct entry {
	char name[128];
	unsigned int mode, size, rmaj, rmin;
	char data[64];
};

static unsigned int hex8(const char *p)
{
	char b[9];

	memcpy(b, p, 8);
	b[8] = 0;
	return (unsigned int)strtoul(b, NULL, 16);
}

/* Parse the archive into e[]; returns the count, the trailer included. */
static int walk(const char *path, struct entry *e, int cap)
{
	FILE *f = fopen(path, "rb");
	static char buf[1 << 16];
	size_t n, off = 0;
	int k = 0;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(n % 4, 0);
	while (off + 110 <= n && k < cap) {
		unsigned int nl;

		assert_memory_equal(buf + off, "070701", 6);
		e[k].mode = hex8(buf + off + 14);
		e[k].size = hex8(buf + off + 54);
		e[k].rmaj = hex8(buf + off + 78);
		e[k].rmin = hex8(buf + off + 86);
		nl = hex8(buf + off + 94);
		assert_true(nl > 0 && nl < sizeof(e[k].name));
		memcpy(e[k].name, buf + off + 110, nl);
		assert_int_equal(e[k].name[nl - 1], 0);
		off = (off + 110 + nl + 3) & ~(size_t)3;
		memcpy(e[k].data, buf + off, e[k].size < sizeof(e[k].data) ? e[k].size : 0);
		off = (off + e[k].size + 3) & ~(size_t)3;
		if (strcmp(e[k++].name, "TRAILER!!!") == 0)
			break;
	}
	assert_int_equal(off, n);
	return k;
}

static int find(struct entry *e, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(e[i].name, name) == 0)
			return i;
	return -1;
}

static void test_roundtrip(void **state)
{
	char dir[] = "/tmp/test_cpio.XXXXXX", arc[64], src[64];
	static struct entry e[64];
	struct cpio *c = NULL;
	FILE *f;
	int n, i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(arc, sizeof(arc), "%s/a.cpio", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	f = fopen(src, "w");
	assert_non_null(f);
	fputs("12345", f);
	fclose(f);
	assert_int_equal(cpio_new(arc, &c), 0);
	assert_int_equal(cpio_file(c, "/usr/lib/x/lib.so", 0755, src), 0);
	assert_int_equal(cpio_data(c, "/etc/hostname", 0644, "agentgw\n", 8), 0);
	assert_int_equal(cpio_data(c, "/etc/hostname", 0644, "other\n", 6), 0); /* kept first */
	assert_int_equal(cpio_symlink(c, "/bin/sh", "/bin/busybox"), 0);
	assert_int_equal(cpio_chr(c, "/dev/console", 0600, 5, 1), 0);
	assert_int_equal(cpio_dir(c, "/tmp", 01777), 0);
	assert_true(cpio_has(c, "/usr/lib"));
	assert_int_equal(cpio_data(c, "relative", 0644, "", 0), -EINVAL);
	assert_int_equal(cpio_data(c, "/trailing/", 0644, "", 0), -EINVAL);
	assert_true(cpio_file(c, "/missing", 0644, "/nonexistent/file") < 0);
	assert_int_equal(cpio_finish(c), 0);
	cpio_free(c);

	n = walk(arc, e, 64);
	assert_string_equal(e[n - 1].name, "TRAILER!!!");
	/* Parents come before their children. */
	assert_true(find(e, n, "usr") < find(e, n, "usr/lib"));
	assert_true(find(e, n, "usr/lib/x") < find(e, n, "usr/lib/x/lib.so"));
	i = find(e, n, "usr");
	assert_int_equal(e[i].mode, S_IFDIR | 0755);
	i = find(e, n, "usr/lib/x/lib.so");
	assert_int_equal(e[i].mode, S_IFREG | 0755);
	assert_int_equal(e[i].size, 5);
	assert_memory_equal(e[i].data, "12345", 5);
	i = find(e, n, "etc/hostname");
	assert_memory_equal(e[i].data, "agentgw\n", 8);
	assert_int_equal(find(e, n, "etc/hostname"), i);
	{
		int dups = 0;

		for (int k = 0; k < n; k++)
			dups += strcmp(e[k].name, "etc/hostname") == 0;
		assert_int_equal(dups, 1);
	}
	i = find(e, n, "bin/sh");
	assert_int_equal(e[i].mode, S_IFLNK | 0777);
	assert_memory_equal(e[i].data, "/bin/busybox", 12);
	i = find(e, n, "dev/console");
	assert_int_equal(e[i].mode, S_IFCHR | 0600);
	assert_int_equal(e[i].rmaj, 5);
	assert_int_equal(e[i].rmin, 1);
	i = find(e, n, "tmp");
	assert_int_equal(e[i].mode, S_IFDIR | 01777);
	assert_int_equal(find(e, n, "missing"), -1);
	unlink(arc);
	unlink(src);
	rmdir(dir);
}

/* cpio_new_fd: an archive after other bytes in one file, as vmctl/vm.c
 * appends the guest's trust files to an initramfs. */
static void test_append_fd(void **state)
{
	char path[] = "/tmp/agw-cpio-fd.XXXXXX", buf[1024];
	int fd = mkstemp(path);
	struct cpio *c;
	FILE *f;
	size_t n;

	(void)state;
	assert_true(fd >= 0);
	memset(buf, 0, 512);
	memcpy(buf, "first", 5);
	assert_int_equal(write(fd, buf, 512), 512);
	assert_int_equal(cpio_new_fd(fd, &c), 0);
	assert_int_equal(cpio_data(c, "/etc/agentgw/env", 0644, "K=v\n", 4), 0);
	assert_int_equal(cpio_finish(c), 0);
	cpio_free(c);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 512 + 3 * 110);
	assert_memory_equal(buf, "first", 5);
	assert_memory_equal(buf + 512, "070701", 6); /* the parent dir /etc comes first */
	assert_non_null(memmem(buf + 512, n - 512, "etc/agentgw/env", 15));
	assert_non_null(memmem(buf + 512, n - 512, "TRAILER!!!", 10));
	assert_int_equal(n % 4, 0);
	unlink(path);
	assert_int_equal(cpio_new_fd(-1, &c), -EBADF);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_append_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
