// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The vhost-user pure parts: control message decoding (sizes, versions,
 * queue indices, memory tables), guest address translation at region
 * edges, and descriptor chains in a fake guest memory: a good chain, loops,
 * indices out of range, addresses outside memory, readable after writable,
 * indirect descriptors, and gather/scatter across parts.
 */
#include <linux/virtio_ring.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/fs/vu.h"

static size_t msg(uint8_t *b, uint32_t req, uint32_t flags, const void *payload, uint32_t size)
{
	memcpy(b, &req, 4);
	memcpy(b + 4, &flags, 4);
	memcpy(b + 8, &size, 4);
	if (size)
		memcpy(b + 12, payload, size);
	return 12 + size;
}

static void test_msg_check(void **state)
{
	uint8_t b[1024];
	struct vu_msg m;
	uint64_t u = 0x1234;
	uint32_t st[2] = {1, 256};
	size_t n;

	(void)state;
	n = msg(b, VU_GET_FEATURES, 1, NULL, 0);
	assert_int_equal(vu_msg_check(b, n, &m), 0);
	assert_int_equal(m.req, VU_GET_FEATURES);
	assert_int_equal(vu_msg_check(b, 5, &m), -AGW_ETRUNC);
	/* wrong version */
	n = msg(b, VU_GET_FEATURES, 2, NULL, 0);
	assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	/* payload announced but missing, or too big */
	n = msg(b, VU_SET_FEATURES, 1, &u, 8);
	assert_int_equal(vu_msg_check(b, n - 1, &m), -AGW_ETRUNC);
	assert_int_equal(vu_msg_check(b, n, &m), 0);
	assert_int_equal(m.u.u64, 0x1234);
	n = msg(b, VU_SET_FEATURES, 1, &u, 4);
	assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	{
		uint8_t big[VU_PAYLOAD_MAX + 8] = {0};

		n = msg(b, VU_SET_OWNER, 1, big, 0);
		memcpy(b + 8, &(uint32_t){VU_PAYLOAD_MAX + 1}, 4);
		assert_int_equal(vu_msg_check(b, sizeof(b), &m), -AGW_EPROTO);
	}
	/* ring size: a power of two up to 1024 */
	n = msg(b, VU_SET_VRING_NUM, 1, st, 8);
	assert_int_equal(vu_msg_check(b, n, &m), 0);
	assert_int_equal(m.u.state.num, 256);
	st[1] = 100;
	n = msg(b, VU_SET_VRING_NUM, 1, st, 8);
	assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	st[1] = 2048;
	n = msg(b, VU_SET_VRING_NUM, 1, st, 8);
	assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	/* queue index out of range */
	st[0] = VU_MAX_QUEUES;
	st[1] = 8;
	n = msg(b, VU_SET_VRING_BASE, 1, st, 8);
	assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	u = VU_MAX_QUEUES;
	n = msg(b, VU_SET_VRING_KICK, 1, &u, 8);
	assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	u = 1 | VU_VRING_NOFD;
	n = msg(b, VU_SET_VRING_CALL, 1, &u, 8);
	assert_int_equal(vu_msg_check(b, n, &m), 0);
	/* memory table: count and sizes, no wrap-around */
	{
		uint8_t p[8 + 32 * 2] = {0};
		uint64_t r[4] = {0, 0x100000, 0x7f0000000000ull, 0};

		memcpy(p, &(uint32_t){2}, 4);
		memcpy(p + 8, r, 32);
		r[0] = 0x100000;
		memcpy(p + 40, r, 32);
		n = msg(b, VU_SET_MEM_TABLE, 1, p, sizeof(p));
		assert_int_equal(vu_msg_check(b, n, &m), 0);
		assert_int_equal(m.u.mem.nregions, 2);
		assert_int_equal(m.u.mem.r[1].gpa, 0x100000);
		n = msg(b, VU_SET_MEM_TABLE, 1, p, 8 + 32); /* says 2, holds 1 */
		assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
		memcpy(p, &(uint32_t){9}, 4);
		n = msg(b, VU_SET_MEM_TABLE, 1, p, sizeof(p));
		assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
		memcpy(p, &(uint32_t){1}, 4);
		r[0] = UINT64_MAX - 10;
		memcpy(p + 8, r, 32);
		n = msg(b, VU_SET_MEM_TABLE, 1, p, 8 + 32);
		assert_int_equal(vu_msg_check(b, n, &m), -AGW_EPROTO);
	}
	/* unknown requests decode with their payload ignored */
	n = msg(b, 99, 1, &u, 8);
	assert_int_equal(vu_msg_check(b, n, &m), 0);
	assert_int_equal(m.req, 99);
}

/* A fake guest: 64 KiB at guest address 0x10000. */
static uint8_t guest[65536] __attribute__((aligned(16)));
#define GPA 0x10000u

static void mem_of(struct vu_mem *m)
{
	memset(m, 0, sizeof(*m));
	m->n = 1;
	m->r[0] = (struct vu_region){
	    .gpa = GPA, .size = sizeof(guest), .uva = 0x7f00000000ull, .host = guest};
}

static void test_mem_ptr(void **state)
{
	struct vu_mem m;

	(void)state;
	mem_of(&m);
	assert_ptr_equal(vu_mem_ptr(&m, GPA, 1), guest);
	assert_ptr_equal(vu_mem_ptr(&m, GPA + sizeof(guest) - 4, 4), guest + sizeof(guest) - 4);
	assert_null(vu_mem_ptr(&m, GPA + sizeof(guest) - 4, 5));
	assert_null(vu_mem_ptr(&m, GPA - 1, 2));
	assert_null(vu_mem_ptr(&m, GPA + 8, UINT64_MAX));
	assert_null(vu_mem_ptr(&m, UINT64_MAX, 2));
	assert_ptr_equal(vu_mem_ptr(&m, GPA + sizeof(guest), 0), guest + sizeof(guest));
	assert_ptr_equal(vu_mem_uva(&m, 0x7f00000010ull, 16), guest + 16);
	assert_null(vu_mem_uva(&m, 0x7f00000000ull + sizeof(guest), 1));
}

static struct vring_desc *desc_table(void)
{
	return (struct vring_desc *)(void *)guest;
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	memcpy(&desc_table()[i], &d, sizeof(d));
}

static void test_chain(void **state)
{
	static struct vu_chain ch;
	struct vu_mem m;
	uint8_t buf[64];

	(void)state;
	mem_of(&m);
	memset(guest, 0, sizeof(guest));
	/* 0 -> 2 -> 1: two readable parts, then one writable */
	memcpy(guest + 4096, "hello ", 6);
	memcpy(guest + 8192, "world", 5);
	set_desc(0, GPA + 4096, 6, VRING_DESC_F_NEXT, 2);
	set_desc(2, GPA + 8192, 5, VRING_DESC_F_NEXT, 1);
	set_desc(1, GPA + 12288, 16, VRING_DESC_F_WRITE, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), 0);
	assert_int_equal(ch.n_out, 2);
	assert_int_equal(ch.n_in, 1);
	assert_int_equal(ch.out_len, 11);
	assert_int_equal(ch.in_len, 16);
	assert_int_equal(vu_chain_gather(&ch, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "hello world", 11);
	assert_int_equal(vu_chain_gather(&ch, buf, 7), 7);
	assert_int_equal(vu_chain_scatter(&ch, (const uint8_t *)"0123456789abcdefXYZ", 19), 16);
	assert_memory_equal(guest + 12288, "0123456789abcdef", 16);
	/* head out of range */
	assert_int_equal(vu_chain_get(&m, guest, 8, 8, &ch), -AGW_EPROTO);
	/* next out of range */
	set_desc(1, GPA + 12288, 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 9);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
	/* a loop: 1 -> 0 -> 2 -> 1 ... */
	set_desc(1, GPA + 12288, 16, VRING_DESC_F_NEXT, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
	/* readable after writable */
	set_desc(0, GPA + 4096, 6, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(2, GPA + 8192, 5, 0, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
	/* outside guest memory, or running past its end */
	set_desc(0, 0x1000, 6, 0, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
	set_desc(0, GPA + sizeof(guest) - 2, 6, 0, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
	/* indirect tables are not negotiated */
	set_desc(0, GPA + 4096, 32, VRING_DESC_F_INDIRECT, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
	/* a zero-length part is fine and costs no address */
	set_desc(0, 0, 0, VRING_DESC_F_NEXT, 1);
	set_desc(1, GPA + 12288, 4, VRING_DESC_F_WRITE, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), 0);
	assert_int_equal(ch.out_len, 0);
	assert_int_equal(ch.in_len, 4);
	assert_int_equal(vu_chain_gather(&ch, buf, sizeof(buf)), 0);
	/* a chain as long as the ring is fine, one longer is a loop */
	for (unsigned i = 0; i < 8; i++)
		set_desc(i, GPA + 4096, 1, i < 7 ? VRING_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), 0);
	assert_int_equal(ch.n_out, 8);
	set_desc(7, GPA + 4096, 1, VRING_DESC_F_NEXT, 0);
	assert_int_equal(vu_chain_get(&m, guest, 8, 0, &ch), -AGW_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_msg_check),
	    cmocka_unit_test(test_mem_ptr),
	    cmocka_unit_test(test_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
