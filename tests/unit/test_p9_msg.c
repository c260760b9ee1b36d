// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * 9P2000.L codec: a round trip for every T and R message type, byte-exact
 * checks of a few messages against hand-written wire bytes (so encoder and
 * decoder cannot be wrong the same way), and malformed input: short
 * messages, size fields that lie, every truncation of every message,
 * trailing bytes, counts and string lengths over their limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/fs/p9_msg.h"

#define S(lit) ((struct p9_str){(lit), (uint16_t)(sizeof(lit) - 1)})

static const uint8_t payload[] = "0123456789abcdef";
static const struct p9_qid q1 = {P9_QTDIR, 7, 0x1122334455667788ull};
static const struct p9_qid q2 = {P9_QTFILE, 1, 42};

/* One filled message of each type. */
static size_t all_msgs(struct p9_msg *v)
{
	size_t n = 0;
	struct p9_msg *m;

#define NEXT(t)                                                                                    \
	do {                                                                                       \
		m = &v[n++];                                                                       \
		memset(m, 0, sizeof(*m));                                                          \
		m->type = (t);                                                                     \
		m->tag = (uint16_t)(n * 3);                                                        \
	} while (0)
	NEXT(P9_TVERSION);
	m->u.version.msize = 65536;
	m->u.version.version = S("9P2000.L");
	NEXT(P9_RVERSION);
	m->u.version.msize = 8192;
	m->u.version.version = S("9P2000.L");
	NEXT(P9_TAUTH);
	m->u.auth.afid = 1;
	m->u.auth.uname = S("root");
	m->u.auth.aname = S("/ws");
	m->u.auth.n_uname = 0;
	NEXT(P9_RAUTH);
	m->u.qid = q1;
	NEXT(P9_TATTACH);
	m->u.attach.fid = 1;
	m->u.attach.afid = P9_NOFID;
	m->u.attach.uname = S("user");
	m->u.attach.aname = S("");
	m->u.attach.n_uname = 1000;
	NEXT(P9_RATTACH);
	m->u.qid = q1;
	NEXT(P9_RLERROR);
	m->u.lerror.ecode = 13;
	NEXT(P9_TFLUSH);
	m->u.flush.oldtag = 9;
	NEXT(P9_RFLUSH);
	NEXT(P9_TWALK);
	m->u.walk.fid = 1;
	m->u.walk.newfid = 2;
	m->u.walk.nwname = 3;
	m->u.walk.wname[0] = S("a");
	m->u.walk.wname[1] = S("..");
	m->u.walk.wname[2] = S("file.txt");
	NEXT(P9_RWALK);
	m->u.rwalk.nwqid = 2;
	m->u.rwalk.wqid[0] = q1;
	m->u.rwalk.wqid[1] = q2;
	NEXT(P9_TREAD);
	m->u.read.fid = 2;
	m->u.read.offset = 1ull << 40;
	m->u.read.count = 4096;
	NEXT(P9_RREAD);
	m->u.data.count = 16;
	m->u.data.data = payload;
	NEXT(P9_TWRITE);
	m->u.write.fid = 2;
	m->u.write.offset = 5;
	m->u.write.count = 10;
	m->u.write.data = payload;
	NEXT(P9_RWRITE);
	m->u.rwrite.count = 10;
	NEXT(P9_TCLUNK);
	m->u.fid.fid = 2;
	NEXT(P9_RCLUNK);
	NEXT(P9_TREMOVE);
	m->u.fid.fid = 3;
	NEXT(P9_RREMOVE);
	NEXT(P9_TSTATFS);
	m->u.fid.fid = 1;
	NEXT(P9_RSTATFS);
	m->u.statfs = (struct p9_statfs){P9_V9FS_MAGIC, 4096, 1, 2, 3, 4, 5, 6, 255};
	NEXT(P9_TLOPEN);
	m->u.lopen.fid = 4;
	m->u.lopen.flags = P9_DOTL_RDWR | P9_DOTL_TRUNC;
	NEXT(P9_RLOPEN);
	m->u.ropen.qid = q2;
	m->u.ropen.iounit = 65512;
	NEXT(P9_TLCREATE);
	m->u.lcreate.fid = 4;
	m->u.lcreate.name = S("new.c");
	m->u.lcreate.flags = P9_DOTL_WRONLY | P9_DOTL_CREATE;
	m->u.lcreate.mode = 0644;
	m->u.lcreate.gid = 100;
	NEXT(P9_RLCREATE);
	m->u.ropen.qid = q2;
	m->u.ropen.iounit = 1000;
	NEXT(P9_TSYMLINK);
	m->u.symlink.fid = 1;
	m->u.symlink.name = S("l");
	m->u.symlink.target = S("/etc/passwd");
	m->u.symlink.gid = 5;
	NEXT(P9_RSYMLINK);
	m->u.qid = q2;
	NEXT(P9_TMKNOD);
	m->u.mknod.dfid = 1;
	m->u.mknod.name = S("dev");
	m->u.mknod.mode = 020666;
	m->u.mknod.major = 1;
	m->u.mknod.minor = 3;
	m->u.mknod.gid = 0;
	NEXT(P9_RMKNOD);
	m->u.qid = q2;
	NEXT(P9_TRENAME);
	m->u.rename.fid = 5;
	m->u.rename.dfid = 1;
	m->u.rename.name = S("renamed");
	NEXT(P9_RRENAME);
	NEXT(P9_TREADLINK);
	m->u.fid.fid = 6;
	NEXT(P9_RREADLINK);
	m->u.rreadlink.target = S("../x");
	NEXT(P9_TGETATTR);
	m->u.getattr.fid = 1;
	m->u.getattr.mask = P9_GETATTR_BASIC;
	NEXT(P9_RGETATTR);
	m->u.rgetattr.valid = P9_GETATTR_BASIC;
	m->u.rgetattr.qid = q1;
	m->u.rgetattr.a = (struct p9_attr){040755, 1000, 1000, 2, 0, 4096, 4096, 8, 1,
					   2,	   3,	 4,    5, 6, 7,	   8,	 9, 10};
	NEXT(P9_TSETATTR);
	m->u.setattr.fid = 7;
	m->u.setattr.valid = P9_SETATTR_MODE | P9_SETATTR_SIZE;
	m->u.setattr.mode = 0600;
	m->u.setattr.uid = 1;
	m->u.setattr.gid = 2;
	m->u.setattr.size = 99;
	m->u.setattr.atime_sec = 1;
	m->u.setattr.atime_nsec = 2;
	m->u.setattr.mtime_sec = 3;
	m->u.setattr.mtime_nsec = 4;
	NEXT(P9_RSETATTR);
	NEXT(P9_TXATTRWALK);
	m->u.xattrwalk.fid = 1;
	m->u.xattrwalk.newfid = 8;
	m->u.xattrwalk.name = S("user.x");
	NEXT(P9_RXATTRWALK);
	m->u.rxattrwalk.size = 12;
	NEXT(P9_TXATTRCREATE);
	m->u.xattrcreate.fid = 8;
	m->u.xattrcreate.name = S("user.y");
	m->u.xattrcreate.size = 3;
	m->u.xattrcreate.flags = 1;
	NEXT(P9_RXATTRCREATE);
	NEXT(P9_TREADDIR);
	m->u.read.fid = 4;
	m->u.read.offset = 77;
	m->u.read.count = 8192;
	NEXT(P9_RREADDIR);
	m->u.data.count = 5;
	m->u.data.data = payload;
	NEXT(P9_TFSYNC);
	m->u.fsync.fid = 4;
	m->u.fsync.datasync = 1;
	NEXT(P9_RFSYNC);
	NEXT(P9_TLOCK);
	m->u.lock.fid = 4;
	m->u.lock.l = (struct p9_lockreq){1, 2, 0, 100, 42, S("host")};
	NEXT(P9_RLOCK);
	m->u.rlock.status = 0;
	NEXT(P9_TGETLOCK);
	m->u.lock.fid = 4;
	m->u.lock.l = (struct p9_lockreq){0, 0, 10, 20, 43, S("h2")};
	NEXT(P9_RGETLOCK);
	m->u.rgetlock = (struct p9_lockreq){2, 0, 10, 20, 43, S("h2")};
	NEXT(P9_TLINK);
	m->u.link.dfid = 1;
	m->u.link.fid = 9;
	m->u.link.name = S("hard");
	NEXT(P9_RLINK);
	NEXT(P9_TMKDIR);
	m->u.mkdir.dfid = 1;
	m->u.mkdir.name = S("d");
	m->u.mkdir.mode = 0755;
	m->u.mkdir.gid = 3;
	NEXT(P9_RMKDIR);
	m->u.qid = q1;
	NEXT(P9_TRENAMEAT);
	m->u.renameat.olddfid = 1;
	m->u.renameat.oldname = S("a");
	m->u.renameat.newdfid = 2;
	m->u.renameat.newname = S("b");
	NEXT(P9_RRENAMEAT);
	NEXT(P9_TUNLINKAT);
	m->u.unlinkat.dfid = 1;
	m->u.unlinkat.name = S("gone");
	m->u.unlinkat.flags = P9_AT_REMOVEDIR;
	NEXT(P9_RUNLINKAT);
#undef NEXT
	return n;
}

static void test_roundtrip_every_type(void **state)
{
	struct p9_msg v[96], d;
	uint8_t b1[512], b2[512];
	size_t n = all_msgs(v), l1, l2;

	(void)state;
	assert_int_equal(n, 57); /* 29 T/R pairs of 9P2000.L, less Tlerror */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p9_encode(&v[i], b1, sizeof(b1), &l1), 0);
		assert_int_equal(p9_decode(b1, l1, &d), 0);
		assert_int_equal(d.type, v[i].type);
		assert_int_equal(d.tag, v[i].tag);
		assert_int_equal(p9_encode(&d, b2, sizeof(b2), &l2), 0);
		assert_int_equal(l1, l2);
		assert_memory_equal(b1, b2, l1);
		assert_string_not_equal(p9_type_name(v[i].type), "unknown");
	}
}

static void test_decoded_fields(void **state)
{
	struct p9_msg v[96], d;
	uint8_t b[512];
	size_t n = all_msgs(v), l;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p9_encode(&v[i], b, sizeof(b), &l), 0);
		assert_int_equal(p9_decode(b, l, &d), 0);
		switch (d.type) {
		case P9_TWALK:
			assert_int_equal(d.u.walk.nwname, 3);
			assert_true(p9_str_eq(d.u.walk.wname[1], ".."));
			assert_true(p9_str_eq(d.u.walk.wname[2], "file.txt"));
			assert_int_equal(d.u.walk.newfid, 2);
			break;
		case P9_TWRITE:
			assert_int_equal(d.u.write.count, 10);
			assert_memory_equal(d.u.write.data, payload, 10);
			assert_int_equal(d.u.write.offset, 5);
			break;
		case P9_RGETATTR:
			assert_int_equal(l, 160);
			assert_int_equal(d.u.rgetattr.a.mode, 040755);
			assert_int_equal(d.u.rgetattr.a.data_version, 10);
			assert_int_equal(d.u.rgetattr.qid.path, q1.path);
			break;
		case P9_TSYMLINK:
			assert_true(p9_str_eq(d.u.symlink.target, "/etc/passwd"));
			break;
		case P9_TLOCK:
			assert_true(p9_str_eq(d.u.lock.l.client_id, "host"));
			assert_int_equal(d.u.lock.l.flags, 2);
			break;
		case P9_TATTACH:
			assert_int_equal(d.u.attach.afid, P9_NOFID);
			assert_int_equal(d.u.attach.aname.len, 0);
			break;
		default:
			break;
		}
	}
}

/* Wire bytes written by hand from the protocol description. */
static void test_known_bytes(void **state)
{
	static const uint8_t tversion[] = {21, 0, 0,   0,   100, 0xff, 0xff, 0,	  0x20, 0,  0,
					   8,  0, '9', 'P', '2', '0',  '0',  '0', '.',	'L'};
	static const uint8_t twalk[] = {23, 0, 0, 0, 110, 1, 0, 5,   0, 0, 0,  6,
					0,  0, 0, 2, 0,	  1, 0, 'a', 1, 0, 'b'};
	static const uint8_t rlerror[] = {11, 0, 0, 0, 7, 3, 0, 13, 0, 0, 0};
	struct p9_msg m = {.type = P9_TVERSION, .tag = P9_NOTAG};
	uint8_t b[64];
	size_t l;

	(void)state;
	m.u.version.msize = 8192;
	m.u.version.version = S("9P2000.L");
	assert_int_equal(p9_encode(&m, b, sizeof(b), &l), 0);
	assert_int_equal(l, sizeof(tversion));
	assert_memory_equal(b, tversion, l);
	assert_int_equal(p9_decode(twalk, sizeof(twalk), &m), 0);
	assert_int_equal(m.type, P9_TWALK);
	assert_int_equal(m.tag, 1);
	assert_int_equal(m.u.walk.fid, 5);
	assert_int_equal(m.u.walk.newfid, 6);
	assert_int_equal(m.u.walk.nwname, 2);
	assert_true(p9_str_eq(m.u.walk.wname[0], "a"));
	assert_true(p9_str_eq(m.u.walk.wname[1], "b"));
	assert_int_equal(p9_decode(rlerror, sizeof(rlerror), &m), 0);
	assert_int_equal(m.type, P9_RLERROR);
	assert_int_equal(m.tag, 3);
	assert_int_equal(m.u.lerror.ecode, 13);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Every message cut short (size field patched to match) is malformed; so is
 * every message whose size field lies, and every one with a trailing byte. */
static void test_truncations_and_lies(void **state)
{
	struct p9_msg v[96], d;
	uint8_t b[512], t[520];
	size_t n = all_msgs(v), l;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p9_encode(&v[i], b, sizeof(b), &l), 0);
		for (size_t cut = 0; cut < l; cut++) {
			memcpy(t, b, cut);
			if (cut >= 4)
				put32(t, (uint32_t)cut);
			if (v[i].type == P9_TFSYNC && cut == l - 4)
				continue; /* datasync is optional: the short form is valid */
			assert_int_not_equal(p9_decode(t, cut, &d), 0);
		}
		/* size field lies: larger and smaller than the bytes given */
		memcpy(t, b, l);
		put32(t, (uint32_t)l + 1);
		assert_int_equal(p9_decode(t, l, &d), -AGW_EPROTO);
		put32(t, (uint32_t)l - 1);
		assert_int_equal(p9_decode(t, l, &d), -AGW_EPROTO);
		/* one trailing byte */
		memcpy(t, b, l);
		t[l] = 0;
		put32(t, (uint32_t)l + 1);
		assert_int_equal(p9_decode(t, l + 1, &d), -AGW_EPROTO);
	}
}

static void test_bad_counts_and_strings(void **state)
{
	struct p9_msg m = {.type = P9_TWALK, .tag = 1}, d;
	uint8_t b[2048];
	size_t l;

	(void)state;
	/* 17 names: the encoder refuses, and a hand-patched count is malformed */
	m.u.walk.nwname = 17;
	for (int i = 0; i < 17; i++)
		m.u.walk.wname[i % 16] = S("x");
	assert_int_equal(p9_encode(&m, b, sizeof(b), &l), -AGW_EINVAL);
	m.u.walk.nwname = 16;
	assert_int_equal(p9_encode(&m, b, sizeof(b), &l), 0);
	b[15] = 17; /* nwname */
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);

	/* a string length running past the end */
	m = (struct p9_msg){.type = P9_TUNLINKAT, .tag = 2};
	m.u.unlinkat.name = S("abc");
	assert_int_equal(p9_encode(&m, b, sizeof(b), &l), 0);
	b[11] = 200; /* name length low byte */
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);
	b[11] = 0xff;
	b[12] = 0xff;
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);

	/* a data count past the end */
	m = (struct p9_msg){.type = P9_TWRITE, .tag = 3};
	m.u.write.count = 4;
	m.u.write.data = payload;
	assert_int_equal(p9_encode(&m, b, sizeof(b), &l), 0);
	put32(b + 19, 0xffffffffu);
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);
	put32(b + 19, 5);
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);
	put32(b + 19, 3); /* shorter than the bytes: trailing garbage */
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);

	/* Rwalk with 17 qids */
	m = (struct p9_msg){.type = P9_RWALK, .tag = 4};
	m.u.rwalk.nwqid = 1;
	assert_int_equal(p9_encode(&m, b, sizeof(b), &l), 0);
	b[7] = 17;
	assert_int_equal(p9_decode(b, l, &d), -AGW_EPROTO);
}

static void test_short_unknown_and_frame(void **state)
{
	static const uint8_t unknown[] = {9, 0, 0, 0, 250, 7, 0, 1, 2};
	static const uint8_t tiny[] = {7, 0, 0, 0, 100, 0};
	uint8_t big[] = {0, 0, 0x20, 0, 100, 0, 0};
	struct p9_msg d;
	uint32_t size;

	(void)state;
	assert_int_equal(p9_decode(tiny, sizeof(tiny), &d), -AGW_EPROTO);
	assert_int_equal(p9_decode(tiny, 0, &d), -AGW_EPROTO);
	assert_int_equal(p9_decode(unknown, sizeof(unknown), &d), -AGW_ENOTFOUND);
	assert_int_equal(d.type, 250);
	assert_int_equal(d.tag, 7);
	assert_int_equal(p9_frame(tiny, 3, 8192, &size), -AGW_ETRUNC);
	assert_int_equal(p9_frame(tiny, sizeof(tiny), 8192, &size), 0);
	assert_int_equal(size, 7);
	assert_int_equal(p9_frame(big, sizeof(big), 8192, &size), -AGW_EPROTO); /* 2 MiB */
	big[2] = 0;
	big[0] = 6; /* below the header size */
	assert_int_equal(p9_frame(big, sizeof(big), 8192, &size), -AGW_EPROTO);
}

static void test_encode_small_buffer(void **state)
{
	struct p9_msg v[96];
	uint8_t b[512];
	size_t n = all_msgs(v), l, full;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(p9_encode(&v[i], b, sizeof(b), &full), 0);
		for (size_t cap = 0; cap < full; cap++)
			assert_int_equal(p9_encode(&v[i], b, cap, &l), -AGW_ETOOBIG);
	}
}

static void test_dirents(void **state)
{
	uint8_t b[64];
	size_t off = 0, r = 0;
	struct p9_qid q;
	uint64_t o;
	uint8_t t;
	struct p9_str name;

	(void)state;
	assert_int_equal(p9_dirent_put(b, sizeof(b), &off, &q1, 1, 4, "dir", 3), 0);
	assert_int_equal(off, 24 + 3);
	assert_int_equal(p9_dirent_put(b, sizeof(b), &off, &q2, 2, 8, "file.txt", 8), 0);
	assert_int_equal(p9_dirent_put(b, sizeof(b), &off, &q2, 3, 8, "nofit", 5), -AGW_ETOOBIG);
	assert_int_equal(off, 27 + 32);
	assert_int_equal(p9_dirent_next(b, off, &r, &q, &o, &t, &name), 1);
	assert_true(p9_str_eq(name, "dir"));
	assert_int_equal(q.path, q1.path);
	assert_int_equal(o, 1);
	assert_int_equal(p9_dirent_next(b, off, &r, &q, &o, &t, &name), 1);
	assert_true(p9_str_eq(name, "file.txt"));
	assert_int_equal(t, 8);
	assert_int_equal(p9_dirent_next(b, off, &r, &q, &o, &t, &name), 0);
	r = 0;
	assert_int_equal(p9_dirent_next(b, 30, &r, &q, &o, &t, &name), 1);
	assert_int_equal(p9_dirent_next(b, 30, &r, &q, &o, &t, &name), -AGW_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_every_type),
	    cmocka_unit_test(test_decoded_fields),
	    cmocka_unit_test(test_known_bytes),
	    cmocka_unit_test(test_truncations_and_lies),
	    cmocka_unit_test(test_bad_counts_and_strings),
	    cmocka_unit_test(test_short_unknown_and_frame),
	    cmocka_unit_test(test_encode_small_buffer),
	    cmocka_unit_test(test_dirents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
