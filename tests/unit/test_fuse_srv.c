// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The virtio-fs FUSE server against a real temporary workspace and a real
 * policy, driven with encoded FUSE requests (as the guest's virtiofs driver
 * sends them): INIT, LOOKUP (one node per path, counted, FORGET), the .env
 * denial and its audit row, OPEN/READ/RELEASE summed into one row, CREATE/
 * WRITE, renames and links under the claude-code rules (the same refusals
 * and rows as 9P), a host-side symlink swap under a node, READDIRPLUS that
 * gives attributes only for readable names and writes no rows, the page
 * cache decision at open (kept only while the host file is unchanged),
 * ENOSYS for the rest, and the request parser's bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
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
#include "audit/aud.h"
#include "gateway/fs/fuse_msg.h"
#include "gateway/fs/fuse_srv.h"
#include "gateway/fs/p9_srv.h"
#include "policies/pol.h"
#include "test_fs_util.h"

struct tc {
	char ws[64];
	int root;
	struct pol *pol;
	struct p9_srv *srv;
	struct fuse_srv *f;
	struct tfs_log log;
	uint64_t unique;
	uint8_t req[8192];
	uint8_t out[FUSE_SRV_MAX_WRITE + 4096];
	size_t outlen;
};

static struct tc T;

static int rec_emit(void *ctx, const struct aud_event *ev)
{
	struct tc *t = ctx;

	(void)tfs_log_add(&t->log, ev);
	return 0;
}

/* examples/claude-code.yaml's filesystem rules, enforced */
static const char RULES[] = "  allow:\n"
			    "    - { path: \"**\", access: [read, write, create, delete] }\n"
			    "  deny:\n"
			    "    - { path: \"**/.env\" }\n"
			    "    - { path: \".git/hooks/**\", access: [write, create, delete] }\n"
			    "    - { path: \".git/config\", access: [write] }\n";

static int setup(void **state)
{
	struct p9_srv_config cfg = {0};

	(void)state;
	memset(&T, 0, sizeof(T));
	tfs_ws_make(T.ws, sizeof(T.ws), "fuse");
	tfs_ws_seed(T.ws, (const char *const[]){"src/", ".git/", ".git/hooks/", "README=readme\n",
						".env=SECRET=1\n", "src/a.c=int a;\n",
						".git/config=orig\n", NULL});
	T.pol = tfs_pol_load("enforce", T.ws, RULES);
	T.root = tfs_root_open(T.ws, &cfg);
	cfg.pol = T.pol;
	cfg.emit = rec_emit;
	cfg.emit_ctx = &T;
	assert_int_equal(p9_srv_new(&cfg, &T.srv), 0);
	assert_int_equal(fuse_srv_new(T.srv, &T.f), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fuse_srv_free(T.f);
	p9_srv_free(T.srv);
	pol_free(T.pol);
	close(T.root);
	tfs_ws_remove(T.ws);
	return 0;
}

/* Encode a request: header, fixed part, up to two names, data. */
static size_t enc(uint32_t op, uint64_t node, const void *in, size_t insz, const char *n1,
		  const char *n2, const void *data, size_t dlen)
{
	struct fuse_in_header h = {.opcode = op, .unique = ++T.unique, .nodeid = node};
	size_t off = sizeof(h);

	if (insz) {
		memcpy(T.req + off, in, insz);
		off += insz;
	}
	if (n1) {
		memcpy(T.req + off, n1, strlen(n1) + 1);
		off += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(T.req + off, n2, strlen(n2) + 1);
		off += strlen(n2) + 1;
	}
	if (dlen) {
		memcpy(T.req + off, data, dlen);
		off += dlen;
	}
	h.len = (uint32_t)off;
	memcpy(T.req, &h, sizeof(h));
	return off;
}

/* Send it; returns the reply's error (0 or -errno); the body is at T.out+16. */
static int call(size_t len)
{
	struct fuse_out_header o;

	T.outlen = fuse_srv_handle(T.f, T.req, len, T.out, sizeof(T.out));
	if (T.outlen == 0)
		return 1; /* no reply */
	assert_true(T.outlen >= sizeof(o));
	memcpy(&o, T.out, sizeof(o));
	assert_int_equal(o.len, T.outlen);
	assert_int_equal(o.unique, T.unique);
	return o.error;
}

static void *body(void)
{
	return T.out + sizeof(struct fuse_out_header);
}

static void init(void)
{
	struct fuse_init_in in = {.major = 7,
				  .minor = 36,
				  .max_readahead = 65536,
				  .flags = FUSE_DO_READDIRPLUS | FUSE_AUTO_INVAL_DATA |
					   FUSE_WRITEBACK_CACHE | FUSE_POSIX_LOCKS};
	struct fuse_init_out out;

	assert_int_equal(call(enc(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL, NULL, 0)), 0);
	memcpy(&out, body(), sizeof(out));
	assert_int_equal(out.major, 7);
	assert_int_equal(out.max_write, FUSE_SRV_MAX_WRITE);
	/* readdirplus and attribute-driven invalidation, never the writeback
	 * cache (every write reaches the gateway) nor guest-wide posix locks */
	assert_true(out.flags & FUSE_DO_READDIRPLUS);
	assert_true(out.flags & FUSE_AUTO_INVAL_DATA);
	assert_false(out.flags & FUSE_WRITEBACK_CACHE);
	assert_false(out.flags & FUSE_POSIX_LOCKS);
}

static int lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int err = call(enc(FUSE_LOOKUP, parent, NULL, 0, name, NULL, NULL, 0));
	struct fuse_entry_out r;

	if (err)
		return err;
	memcpy(&r, body(), sizeof(r));
	if (r.nodeid == 0)
		return -ENOENT; /* a negative entry (test_negative_lookup) */
	if (e)
		*e = r;
	return 0;
}

static int fopen_(uint64_t node, uint32_t flags, struct fuse_open_out *o)
{
	struct fuse_open_in in = {.flags = flags};
	int err = call(enc(FUSE_OPEN, node, &in, sizeof(in), NULL, NULL, NULL, 0));

	if (!err)
		memcpy(o, body(), sizeof(*o));
	return err;
}

static void release(uint64_t node, uint64_t fh)
{
	struct fuse_release_in in = {.fh = fh};

	assert_int_equal(call(enc(FUSE_RELEASE, node, &in, sizeof(in), NULL, NULL, NULL, 0)), 0);
}

static void test_before_init(void **state)
{
	(void)state;
	assert_int_equal(lookup(FUSE_ROOT_ID, "README", NULL), -EIO);
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, "README", NULL), 0);
}

static void test_lookup_nodes_and_forget(void **state)
{
	struct fuse_entry_out a, b, s;
	struct fuse_forget_in fg = {.nlookup = 2};
	struct fuse_srv_stats st;

	(void)state;
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, "src", &s), 0);
	assert_true(S_ISDIR(s.attr.mode));
	assert_int_equal(s.entry_valid, FUSE_SRV_TTL_MS / 1000);
	assert_int_equal(lookup(s.nodeid, "a.c", &a), 0);
	assert_int_equal(lookup(s.nodeid, "a.c", &b), 0);
	assert_int_equal(a.nodeid, b.nodeid); /* one node per path */
	assert_int_equal(a.attr.size, 7);
	assert_int_equal(lookup(s.nodeid, "nope", NULL), -ENOENT);
	assert_int_equal(lookup(s.nodeid, "..", NULL), -EINVAL);
	assert_int_equal(lookup(424242, "x", NULL), -ESTALE);
	fuse_srv_get_stats(T.f, &st);
	assert_int_equal(st.nodes, 3); /* root, src, src/a.c */
	assert_int_equal(call(enc(FUSE_FORGET, a.nodeid, &fg, sizeof(fg), NULL, NULL, NULL, 0)), 1);
	fuse_srv_get_stats(T.f, &st);
	assert_int_equal(st.nodes, 2);
	/* BATCH_FORGET, and the root is never forgotten */
	{
		uint8_t
		    in[sizeof(struct fuse_batch_forget_in) + 2 * sizeof(struct fuse_forget_one)];
		struct fuse_batch_forget_in bi = {.count = 2};
		struct fuse_forget_one o[2] = {{.nodeid = s.nodeid, .nlookup = 1},
					       {.nodeid = FUSE_ROOT_ID, .nlookup = 99}};

		memcpy(in, &bi, sizeof(bi));
		memcpy(in + sizeof(bi), o, sizeof(o));
		assert_int_equal(
		    call(enc(FUSE_BATCH_FORGET, 0, in, sizeof(in), NULL, NULL, NULL, 0)), 1);
	}
	fuse_srv_get_stats(T.f, &st);
	assert_int_equal(st.nodes, 1);
	assert_int_equal(lookup(FUSE_ROOT_ID, "README", NULL), 0);
	/* no rows for allowed lookups */
	assert_int_equal(tfs_log_count(&T.log, "getattr", NULL, NULL), 0);
}

static void test_env_denied_and_read_summed(void **state)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;
	struct fuse_read_in rd = {.size = 4096};
	const struct tfs_rec *r;

	(void)state;
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, ".env", NULL), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "getattr", ".env", "deny"));
	assert_int_equal(lookup(FUSE_ROOT_ID, "README", &e), 0);
	assert_int_equal(fopen_(e.nodeid, O_RDONLY, &o), 0);
	rd.fh = o.fh;
	assert_int_equal(call(enc(FUSE_READ, e.nodeid, &rd, sizeof(rd), NULL, NULL, NULL, 0)), 0);
	assert_int_equal(T.outlen, sizeof(struct fuse_out_header) + 7);
	assert_memory_equal(body(), "readme\n", 7);
	rd.offset = 3;
	assert_int_equal(call(enc(FUSE_READ, e.nodeid, &rd, sizeof(rd), NULL, NULL, NULL, 0)), 0);
	assert_null(tfs_log_find(&T.log, "read", "README", "allow")); /* one row, at release */
	release(e.nodeid, o.fh);
	r = tfs_log_find(&T.log, "read", "README", "allow");
	assert_non_null(r);
	assert_int_equal(r->down, 11);
	/* the largest read is answered whole: a short one would be EOF */
	{
		struct fuse_entry_out b;
		struct fuse_open_out bo;
		char p[256];
		FILE *fp;

		snprintf(p, sizeof(p), "%s/big", T.ws);
		fp = fopen(p, "w");
		assert_non_null(fp);
		for (int i = 0; i < 2 * 1024 * 1024 / 8; i++)
			fputs("0123456\n", fp);
		fclose(fp);
		assert_int_equal(lookup(FUSE_ROOT_ID, "big", &b), 0);
		assert_int_equal(fopen_(b.nodeid, O_RDONLY, &bo), 0);
		rd.fh = bo.fh;
		rd.offset = 8;
		rd.size = FUSE_SRV_MAX_WRITE;
		assert_int_equal(
		    call(enc(FUSE_READ, b.nodeid, &rd, sizeof(rd), NULL, NULL, NULL, 0)), 0);
		assert_int_equal(T.outlen - sizeof(struct fuse_out_header), FUSE_SRV_MAX_WRITE);
		release(b.nodeid, bo.fh);
		rd.size = 4096;
		rd.offset = 3;
	}
	/* a released handle is gone; a node is never a handle */
	rd.fh = o.fh;
	assert_int_equal(call(enc(FUSE_READ, e.nodeid, &rd, sizeof(rd), NULL, NULL, NULL, 0)),
			 -EBADF);
	{
		struct fuse_release_in ri = {.fh = e.nodeid};

		assert_int_equal(
		    call(enc(FUSE_RELEASE, e.nodeid, &ri, sizeof(ri), NULL, NULL, NULL, 0)),
		    -EBADF);
	}
}

static void test_create_write_rename_link(void **state)
{
	struct fuse_entry_out s, g, c;
	struct fuse_create_in ci = {.flags = O_WRONLY | O_CREAT, .mode = 0644};
	struct fuse_write_in wi = {.size = 5};
	struct fuse_rename_in rn;
	struct fuse_link_in li;
	struct fuse_open_out op;
	const struct tfs_rec *r;
	char p[256], buf[16] = "";
	FILE *fp;

	(void)state;
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, "src", &s), 0);
	assert_int_equal(call(enc(FUSE_CREATE, s.nodeid, &ci, sizeof(ci), "n.c", NULL, NULL, 0)),
			 0);
	memcpy(&c, body(), sizeof(c));
	memcpy(&op, (uint8_t *)body() + sizeof(c), sizeof(op));
	assert_true(S_ISREG(c.attr.mode));
	wi.fh = op.fh;
	assert_int_equal(call(enc(FUSE_WRITE, c.nodeid, &wi, sizeof(wi), NULL, NULL, "hello", 5)),
			 0);
	release(c.nodeid, op.fh);
	assert_non_null(tfs_log_find(&T.log, "create", "src/n.c", "allow"));
	r = tfs_log_find(&T.log, "write", "src/n.c", "allow");
	assert_non_null(r);
	assert_int_equal(r->up, 5);
	snprintf(p, sizeof(p), "%s/src/n.c", T.ws);
	fp = fopen(p, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	assert_string_equal(buf, "hello");
	/* rename over .git/config: refused as over 9P, with the same row */
	assert_int_equal(lookup(FUSE_ROOT_ID, ".git", &g), 0);
	rn.newdir = g.nodeid;
	assert_int_equal(
	    call(enc(FUSE_RENAME, s.nodeid, &rn, sizeof(rn), "n.c", "config", NULL, 0)), -EACCES);
	assert_int_equal(tfs_log_count(&T.log, "rename", NULL, "deny"),
			 1); /* names the failed step */
	assert_int_equal(tfs_log_count(&T.log, "rename", NULL, "allow"), 0);
	/* a plant in .git/hooks */
	assert_int_equal(call(enc(FUSE_RENAME, s.nodeid, &rn, sizeof(rn), "n.c", "hooks", NULL, 0)),
			 -EACCES);
	/* a second name of .git/config, made through FUSE LINK */
	{
		struct fuse_entry_out cf;

		assert_int_equal(lookup(g.nodeid, "config", &cf), 0);
		li.oldnodeid = cf.nodeid;
		assert_int_equal(
		    call(enc(FUSE_LINK, s.nodeid, &li, sizeof(li), "y", NULL, NULL, 0)), -EACCES);
		assert_int_equal(tfs_log_count(&T.log, "link", NULL, "allow"), 0);
	}
	/* an allowed rename moves the node: the old name is gone, the new works */
	{
		struct fuse_entry_out n2;
		struct fuse_open_out o2;

		rn.newdir = s.nodeid;
		assert_int_equal(
		    call(enc(FUSE_RENAME, s.nodeid, &rn, sizeof(rn), "n.c", "m.c", NULL, 0)), 0);
		assert_non_null(tfs_log_find(&T.log, "rename", "src/n.c", "allow"));
		assert_int_equal(lookup(s.nodeid, "n.c", NULL), -ENOENT);
		assert_int_equal(lookup(s.nodeid, "m.c", &n2), 0);
		assert_int_equal(n2.nodeid, c.nodeid); /* the same node, renamed */
		assert_int_equal(fopen_(c.nodeid, O_RDONLY, &o2), 0);
		release(c.nodeid, o2.fh);
		assert_non_null(tfs_log_find(&T.log, "read", "src/m.c", "allow"));
	}
	/* RENAME2 flags 9P cannot honour are refused, not ignored */
	{
		struct fuse_rename2_in r2 = {.newdir = s.nodeid, .flags = 1 /* NOREPLACE */};

		assert_int_equal(
		    call(enc(FUSE_RENAME2, s.nodeid, &r2, sizeof(r2), "m.c", "a.c", NULL, 0)),
		    -EINVAL);
	}
	/* mknod: never, and audited */
	{
		struct fuse_mknod_in mi = {.mode = S_IFCHR | 0600, .rdev = 0x0101};

		assert_int_equal(
		    call(enc(FUSE_MKNOD, s.nodeid, &mi, sizeof(mi), "dev", NULL, NULL, 0)),
		    -EACCES);
		assert_non_null(tfs_log_find(&T.log, "mknod", "src/dev", "deny"));
	}
	/* unlink, then the name is gone */
	assert_int_equal(call(enc(FUSE_UNLINK, s.nodeid, NULL, 0, "m.c", NULL, NULL, 0)), 0);
	assert_non_null(tfs_log_find(&T.log, "unlink", "src/m.c", "allow"));
	assert_int_equal(lookup(s.nodeid, "m.c", NULL), -ENOENT);
}

/* A missing name is an entry with node 0 and the entry lifetime (the guest
 * caches it as a negative dentry), not a bare ENOENT the guest cannot
 * cache; a denied name stays an error with its row. */
static void test_negative_lookup(void **state)
{
	struct fuse_entry_out e;
	struct fuse_srv_stats st;

	(void)state;
	init();
	assert_int_equal(call(enc(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "nope", NULL, NULL, 0)), 0);
	assert_int_equal(T.outlen, sizeof(struct fuse_out_header) + sizeof(e));
	memcpy(&e, body(), sizeof(e));
	assert_int_equal(e.nodeid, 0);
	assert_int_equal(e.entry_valid, FUSE_SRV_TTL_MS / 1000);
	assert_int_equal(e.entry_valid_nsec, (FUSE_SRV_TTL_MS % 1000) * 1000000u);
	fuse_srv_get_stats(T.f, &st);
	assert_int_equal(st.neg_lookups, 1);
	assert_int_equal(st.nodes, 1); /* no node for it */
	assert_int_equal(st.ops[FUSE_LOOKUP], 1);
	assert_int_equal(call(enc(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, ".env", NULL, NULL, 0)),
			 -EACCES);
	assert_non_null(tfs_log_find(&T.log, "getattr", ".env", "deny"));
}

static void test_host_symlink_swap(void **state)
{
	struct fuse_entry_out s, a;
	struct fuse_open_out o;
	char p[256], q[256];

	(void)state;
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, "src", &s), 0);
	assert_int_equal(lookup(s.nodeid, "a.c", &a), 0);
	/* the host swaps src for a symlink to /etc under the guest's nodes */
	snprintf(p, sizeof(p), "%s/src", T.ws);
	snprintf(q, sizeof(q), "%s/src.old", T.ws);
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(symlink("/etc", p), 0);
	assert_int_equal(lookup(s.nodeid, "passwd", NULL), -EACCES);
	assert_int_equal(fopen_(a.nodeid, O_RDONLY, &o), -EACCES);
	assert_true(tfs_log_count(&T.log, "walk", NULL, "deny") +
			tfs_log_count(&T.log, "open", NULL, "deny") +
			tfs_log_count(&T.log, "getattr", NULL, "deny") >=
		    2);
	/* a symlink itself is looked up, never followed */
	{
		struct fuse_entry_out l;

		assert_int_equal(lookup(FUSE_ROOT_ID, "src", &l), 0);
		assert_true(S_ISLNK(l.attr.mode));
		assert_int_equal(call(enc(FUSE_READLINK, l.nodeid, NULL, 0, NULL, NULL, NULL, 0)),
				 0);
		assert_int_equal(T.outlen - sizeof(struct fuse_out_header), 4);
		assert_memory_equal(body(), "/etc", 4);
	}
}

static void test_readdirplus(void **state)
{
	struct fuse_open_in oi = {0};
	struct fuse_open_out o;
	struct fuse_read_in rd = {.size = 4096};
	size_t off, nev0, seen = 0, with_attr = 0;
	bool env_plain = false;

	(void)state;
	init();
	assert_int_equal(
	    call(enc(FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi), NULL, NULL, NULL, 0)), 0);
	memcpy(&o, body(), sizeof(o));
	nev0 = T.log.nev;
	rd.fh = o.fh;
	assert_int_equal(
	    call(enc(FUSE_READDIRPLUS, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, NULL, NULL, 0)), 0);
	assert_int_equal(T.log.nev, nev0); /* a listing writes no row per name */
	for (off = sizeof(struct fuse_out_header); off < T.outlen;) {
		struct fuse_direntplus d;
		char name[64];

		memcpy(&d, T.out + off, sizeof(d));
		assert_true(d.dirent.namelen < sizeof(name));
		memcpy(name, T.out + off + sizeof(d), d.dirent.namelen);
		name[d.dirent.namelen] = 0;
		seen++;
		with_attr += d.entry_out.nodeid != 0;
		if (!strcmp(name, ".env"))
			env_plain = d.entry_out.nodeid == 0 && d.entry_out.attr.size == 0;
		off += FUSE_DIRENTPLUS_SIZE(&d);
	}
	assert_int_equal(seen, 6);	/* . .. README .env src .git */
	assert_int_equal(with_attr, 3); /* README src .git */
	assert_true(env_plain);
	/* a small buffer: what does not fit comes next time */
	rd.size = 200;
	assert_int_equal(
	    call(enc(FUSE_READDIRPLUS, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, NULL, NULL, 0)), 0);
	assert_true(T.outlen <= sizeof(struct fuse_out_header) + 200);
	/* plain READDIR */
	rd.size = 4096;
	assert_int_equal(
	    call(enc(FUSE_READDIR, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, NULL, NULL, 0)), 0);
	assert_true(T.outlen > sizeof(struct fuse_out_header) + 6 * FUSE_NAME_OFFSET);
	{
		struct fuse_release_in ri = {.fh = o.fh};

		assert_int_equal(
		    call(enc(FUSE_RELEASEDIR, FUSE_ROOT_ID, &ri, sizeof(ri), NULL, NULL, NULL, 0)),
		    0);
	}
	assert_non_null(tfs_log_find(&T.log, "readdir", ".", "allow"));
}

static void test_keep_cache_only_while_unchanged(void **state)
{
	struct fuse_entry_out e;
	struct fuse_open_out o;
	struct timespec ts[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};
	char p[256];

	(void)state;
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, "README", &e), 0);
	assert_int_equal(fopen_(e.nodeid, O_RDONLY, &o), 0);
	assert_false(o.open_flags & FOPEN_KEEP_CACHE); /* first open: nothing known */
	release(e.nodeid, o.fh);
	assert_int_equal(fopen_(e.nodeid, O_RDONLY, &o), 0);
	assert_true(o.open_flags & FOPEN_KEEP_CACHE);
	release(e.nodeid, o.fh);
	/* the host changes the file (even keeping its size and mtime) */
	tfs_ws_put(T.ws, "README", "README\n");
	snprintf(p, sizeof(p), "%s/README", T.ws);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	assert_int_equal(fopen_(e.nodeid, O_RDONLY, &o), 0);
	assert_false(o.open_flags & FOPEN_KEEP_CACHE);
	release(e.nodeid, o.fh);
}

static int asked;

static int rec_ask(void *ctx, uint32_t *id, const char *path, unsigned acc, const char *rule)
{
	(void)ctx;
	(void)path;
	(void)acc;
	(void)rule;
	*id = 1;
	asked++;
	return 0;
}

/* Over virtio-fs nothing waits for a person: an ask is a deny, with its row. */
static void test_ask_is_deny(void **state)
{
	struct p9_srv_config cfg = {0};
	struct pol *p;
	struct fuse_entry_out e;
	struct fuse_open_out o;

	(void)state;
	fuse_srv_free(T.f);
	p9_srv_free(T.srv);
	p = tfs_pol_load("ask", T.ws, "  allow:\n    - { path: \"**\", access: [read] }\n");
	cfg.root_fd = T.root;
	cfg.pol = p;
	cfg.emit = rec_emit;
	cfg.emit_ctx = &T;
	cfg.owner_uid = (uid_t)-1;
	cfg.owner_gid = (gid_t)-1;
	cfg.ask = rec_ask;
	assert_int_equal(p9_srv_new(&cfg, &T.srv), 0);
	assert_int_equal(fuse_srv_new(T.srv, &T.f), 0);
	init();
	assert_int_equal(lookup(FUSE_ROOT_ID, "README", &e), 0);
	assert_int_equal(fopen_(e.nodeid, O_WRONLY, &o), -EACCES);
	assert_int_equal(asked, 0);
	assert_int_equal(tfs_log_count(&T.log, "open", "README", "deny"), 1);
	fuse_srv_free(T.f);
	T.f = NULL;
	p9_srv_free(T.srv);
	T.srv = NULL;
	pol_free(p);
}

static void test_enosys_and_parser(void **state)
{
	struct fuse_getxattr_in gx = {.size = 0};
	struct fuse_access_in ai = {.mask = 4};
	struct fuse_req q;
	size_t n;

	(void)state;
	init();
	assert_int_equal(
	    call(enc(FUSE_GETXATTR, FUSE_ROOT_ID, &gx, sizeof(gx), "user.x", NULL, NULL, 0)),
	    -ENOSYS);
	assert_int_equal(call(enc(FUSE_ACCESS, FUSE_ROOT_ID, &ai, sizeof(ai), NULL, NULL, NULL, 0)),
			 -ENOSYS);
	assert_int_equal(call(enc(9999, FUSE_ROOT_ID, NULL, 0, NULL, NULL, NULL, 0)), -ENOSYS);
	{
		struct fuse_flush_in fl = {.fh = 99};

		/* nothing buffered: the kernel stops sending FLUSH after ENOSYS */
		assert_int_equal(
		    call(enc(FUSE_FLUSH, FUSE_ROOT_ID, &fl, sizeof(fl), NULL, NULL, NULL, 0)),
		    -ENOSYS);
	}
	/* the parser: the header's len must be the bytes there */
	n = enc(FUSE_LOOKUP, 1, NULL, 0, "abc", NULL, NULL, 0);
	assert_int_equal(fuse_req_parse(T.req, n, &q), 0);
	assert_int_equal(q.name_len, 3);
	assert_int_equal(fuse_req_parse(T.req, n - 1, &q), -AGW_EPROTO);
	assert_int_equal(fuse_req_parse(T.req, 10, &q), -AGW_EPROTO);
	/* a name without its NUL */
	T.req[n - 1] = 'x';
	assert_int_equal(fuse_req_parse(T.req, n, &q), -AGW_EPROTO);
	assert_int_equal(call(n), -EINVAL); /* answered, not dropped */
	/* WRITE with less data than it says */
	{
		struct fuse_write_in wi = {.size = 100};

		n = enc(FUSE_WRITE, 1, &wi, sizeof(wi), NULL, NULL, "abc", 3);
		assert_int_equal(fuse_req_parse(T.req, n, &q), -AGW_EPROTO);
	}
	/* BATCH_FORGET with a count past the end */
	{
		struct fuse_batch_forget_in bi = {.count = 1000000};

		n = enc(FUSE_BATCH_FORGET, 0, &bi, sizeof(bi), NULL, NULL, NULL, 0);
		assert_int_equal(fuse_req_parse(T.req, n, &q), -AGW_EPROTO);
	}
	/* a short fixed part */
	n = enc(FUSE_READ, 1, "abc", 3, NULL, NULL, NULL, 0);
	assert_int_equal(fuse_req_parse(T.req, n, &q), -AGW_EPROTO);
	/* no header at all: no reply */
	assert_int_equal(fuse_srv_handle(T.f, T.req, 8, T.out, sizeof(T.out)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_before_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lookup_nodes_and_forget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_negative_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_env_denied_and_read_summed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_write_rename_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_symlink_swap, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readdirplus, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keep_cache_only_while_unchanged, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enosys_and_parser, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ask_is_deny, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
