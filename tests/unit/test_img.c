// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the pure parts of the image builder (vmctl/img.h):
 * modules.dep closure order, bzImage payload location, the ELF PVH note. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/img.h"

static const char dep[] = "kernel/fs/netfs/netfs.ko:\n"
			  "kernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko\n"
			  "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko "
			  "kernel/fs/netfs/netfs.ko\n"
			  "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
			  "kernel/drivers/virtio/virtio_ring.ko:\n"
			  "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko "
			  "kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko "
			  "kernel/drivers/virtio/virtio_ring.ko\n"
			  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n"
			  "kernel/net/core/failover.ko:\n"
			  "kernel/net/9p/9pnet.ko:\n"
			  "kernel/net/9p/9pnet_fd.ko.xz: kernel/net/9p/9pnet.ko\n";

static int pos(const char **out, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (strcmp(out[i], path) == 0)
			return i;
	return -1;
}

static void test_moddep_order(void **state)
{
	const char *want[] = {"virtio_net", "9p", "9pnet_fd", "virtio", "not_a_module"};
	const char *out[32];
	char names[2048];
	int n = img_moddep_order(dep, want, 5, out, 32, names, sizeof(names));

	(void)state;
	assert_int_equal(n, 10);
	/* Each module once, every dependency before its user. */
	assert_true(pos(out, n, "kernel/drivers/virtio/virtio_ring.ko") <
		    pos(out, n, "kernel/drivers/virtio/virtio.ko"));
	assert_true(pos(out, n, "kernel/drivers/virtio/virtio.ko") <
		    pos(out, n, "kernel/drivers/net/virtio_net.ko"));
	assert_true(pos(out, n, "kernel/net/core/failover.ko") <
		    pos(out, n, "kernel/drivers/net/net_failover.ko"));
	assert_true(pos(out, n, "kernel/fs/netfs/netfs.ko") <
		    pos(out, n, "kernel/fs/fscache/fscache.ko"));
	assert_true(pos(out, n, "kernel/fs/fscache/fscache.ko") <
		    pos(out, n, "kernel/fs/9p/9p.ko"));
	assert_true(pos(out, n, "kernel/net/9p/9pnet.ko") <
		    pos(out, n, "kernel/net/9p/9pnet_fd.ko.xz"));
	/* Too small an output is an error, not an overrun. */
	assert_int_equal(img_moddep_order(dep, want, 5, out, 3, names, sizeof(names)),
			 -AGW_ETOOBIG);
	assert_int_equal(img_moddep_order(dep, want, 5, out, 32, names, 40), -AGW_ETOOBIG);
	assert_int_equal(img_moddep_order("", want, 5, out, 32, names, sizeof(names)), 0);
}

static void test_bzimage(void **state)
{
	static uint8_t bz[8192];
	size_t off, len;
	enum img_comp comp;

	(void)state;
	assert_int_equal(img_bzimage_payload(bz, sizeof(bz), &off, &len, &comp), -AGW_EPARSE);
	bz[0x1f1] = 3; /* setup sectors: payload base at 4 * 512 */
	memcpy(bz + 0x202, "HdrS", 4);
	bz[0x206] = 0x0f;
	bz[0x207] = 0x02;
	bz[0x248] = 0x10; /* payload_offset */
	bz[0x24c] = 0x40; /* payload_length */
	memcpy(bz + 2048 + 0x10,
	       "\xfd"
	       "7zXZ\0",
	       6);
	assert_int_equal(img_bzimage_payload(bz, sizeof(bz), &off, &len, &comp), 0);
	assert_int_equal(off, 2048 + 0x10);
	assert_int_equal(len, 0x40);
	assert_int_equal(comp, IMG_COMP_XZ);
	memcpy(bz + 2048 + 0x10, "\x28\xb5\x2f\xfd", 4);
	assert_int_equal(img_bzimage_payload(bz, sizeof(bz), &off, &len, &comp), 0);
	assert_int_equal(comp, IMG_COMP_ZSTD);
	memcpy(bz + 2048 + 0x10, "ABCDEF", 6);
	assert_int_equal(img_bzimage_payload(bz, sizeof(bz), &off, &len, &comp), -AGW_EINVAL);
	bz[0x24e] = 1; /* payload past the end of the file */
	assert_int_equal(img_bzimage_payload(bz, sizeof(bz), &off, &len, &comp), -AGW_EPARSE);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_pvh_note(void **state)
{
	static uint8_t elf[4096];
	uint8_t *ph = elf + 64, *note = elf + 512;

	(void)state;
	assert_int_equal(img_elf_has_pvh(elf, sizeof(elf)), -AGW_EPARSE);
	memcpy(elf,
	       "\x7f"
	       "ELF\x02\x01",
	       6);
	put32(elf + 32, 64);	/* e_phoff */
	elf[54] = 56;		/* e_phentsize */
	elf[56] = 1;		/* e_phnum */
	put32(ph, 4);		/* PT_NOTE */
	put32(ph + 8, 512);	/* p_offset */
	put32(ph + 32, 2 * 20); /* p_filesz: two notes */
	put32(note, 4);
	put32(note + 4, 4);
	put32(note + 8, 6);
	memcpy(note + 12, "Xen", 4);
	put32(note + 20, 4);
	put32(note + 24, 4);
	put32(note + 28, 18); /* XEN_ELFNOTE_PHYS32_ENTRY */
	memcpy(note + 32, "Xen", 4);
	assert_int_equal(img_elf_has_pvh(elf, sizeof(elf)), 1);
	put32(note + 28, 17);
	assert_int_equal(img_elf_has_pvh(elf, sizeof(elf)), 0);
	put32(note + 28, 18);
	put32(note + 24, 0xfffffff0); /* descsz running off the segment */
	assert_int_equal(img_elf_has_pvh(elf, sizeof(elf)), 0);
	elf[56] = 0xff; /* program headers past the end */
	elf[57] = 0xff;
	assert_int_equal(img_elf_has_pvh(elf, sizeof(elf)), -AGW_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_moddep_order),
	    cmocka_unit_test(test_bzimage),
	    cmocka_unit_test(test_pvh_note),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
