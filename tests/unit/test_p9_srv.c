// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The 9P server against a real temporary workspace and a real policy,
 * driven through p9_conn with encoded messages: version/attach/walk/open/
 * read/write/create/readdir/getattr/setattr/unlink/rename/link/symlink/
 * mknod/lock/statfs/xattr, escape attempts (walk "..", symlink to /etc and
 * through it, symlink chains, rename of a directory under a fid, a host-side
 * symlink swap, link names with '/'), the .env rule, audit mode, fail-closed
 * audit, fid limits, msize negotiation and malformed input; each checks the
 * reply and the audit events emitted.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "gateway/fs/p9_msg.h"
#include "gateway/fs/p9_srv.h"
#include "policies/pol.h"
#include "test_fs_util.h"

struct tc {
	char ws[64];
	int root;
	struct pol *pol;
	struct p9_srv *srv;
	struct p9_conn *c;
	struct tfs_log log;
	bool fail_emit;	   /* the sink refuses: nothing recorded */
	bool sink_failing; /* like the supervisor's: recorded (spilled), but failing */
	uint16_t tag;
	uint8_t rbuf[P9_MSIZE_MAX];
};

static struct tc T;

static int rec_emit(void *ctx, const struct aud_event *ev)
{
	struct tc *t = ctx;

	if (t->fail_emit)
		return -AGW_EFULL;
	assert_string_equal(ev->kind, "fs");
	(void)tfs_log_add(&t->log, ev);
	return t->sink_failing ? -AGW_EFULL : 0;
}

static bool rec_audit_ok(void *ctx)
{
	const struct tc *t = ctx;

	return !t->sink_failing && !t->fail_emit;
}

static const char RULES_DEFAULT[] =
    "  allow:\n"
    "    - { path: \"**\", access: [read] }\n"
    "    - { path: \"src/**\", access: [read, write, create, delete] }\n"
    "    - { path: \"pub/**\", access: [read, write, create, delete] }\n"
    "    - { path: \"drop/**\", access: [create] }\n"
    "  deny:\n    - { path: \"**/.env\" }\n"
    "    - { path: \"drop/**\", access: [read] }\n";

/* The filesystem rules of examples/claude-code.yaml, enforced. */
static const char RULES_CLAUDE[] =
    "  allow:\n"
    "    - { path: \"**\", access: [read, write, create, delete] }\n"
    "  deny:\n"
    "    - { path: \"**/.env\" }\n"
    "    - { path: \"**/.env.*\" }\n"
    "    - { path: \"**/*.pem\" }\n"
    "    - { path: \".git/hooks/**\", access: [write, create, delete] }\n"
    "    - { path: \".git/modules/**/hooks/**\", access: [write, create, delete] }\n"
    "    - { path: \".git/config\", access: [write] }\n"
    "    - { path: \".git/modules/**/config\", access: [write] }\n"
    "    - { path: \".git/**/commondir\", access: [write] }\n";

static int start_rules(const char *mode, unsigned max_fids, const char *rules, bool with_ok)
{
	struct p9_srv_config cfg = {0};

	memset(&T, 0, sizeof(T));
	tfs_ws_make(T.ws, sizeof(T.ws), "p9");
	tfs_ws_seed(T.ws, (const char *const[]){"src/", "pub/", "pub/d/", "drop/", "drop/box/",
						"README=readme\n", ".env=SECRET=1\n",
						"src/a.c=int a;\n", "pub/d/f=data\n", NULL});
	if (geteuid() == 0)
		assert_int_equal(chown(T.ws, 65534, 65534), 0);
	T.pol = tfs_pol_load(mode, T.ws, rules);
	T.root = tfs_root_open(T.ws, &cfg);
	cfg.pol = T.pol;
	cfg.emit = rec_emit;
	cfg.emit_ctx = &T;
	cfg.audit_ok = with_ok ? rec_audit_ok : NULL;
	cfg.max_fids = max_fids;
	assert_int_equal(p9_srv_new(&cfg, &T.srv), 0);
	assert_int_equal(p9_conn_new(T.srv, "10.0.0.2:1234", &T.c), 0);
	return 0;
}

static int start(const char *mode, unsigned max_fids)
{
	return start_rules(mode, max_fids, RULES_DEFAULT, false);
}

static int stop(void **state)
{
	(void)state;
	p9_conn_free(T.c);
	p9_srv_free(T.srv);
	pol_free(T.pol);
	close(T.root);
	tfs_ws_remove(T.ws);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return start("enforce", 0);
}

/* Send t on c; returns 0 and the decoded reply in r, or -ecode for Rlerror,
 * or the connection's negative error. */
static int rpc_on(struct p9_conn *c, struct p9_msg *t, struct p9_msg *r)
{
	uint8_t b[8192];
	const uint8_t *out;
	size_t l, ol;
	uint32_t size;
	int rc;

	t->tag = T.tag++;
	assert_int_equal(p9_encode(t, b, sizeof(b), &l), 0);
	rc = p9_conn_input(c, b, l);
	if (rc < 0)
		return rc;
	out = p9_conn_output(c, &ol);
	assert_int_equal(p9_frame(out, ol, P9_MSIZE_MAX, &size), 0);
	assert_int_equal(size, ol); /* exactly one reply */
	memcpy(T.rbuf, out, ol);
	p9_conn_consume(c, ol);
	assert_int_equal(p9_decode(T.rbuf, ol, r), 0);
	assert_int_equal(r->tag, t->tag);
	if (r->type == P9_RLERROR)
		return -(int)r->u.lerror.ecode;
	assert_int_equal(r->type, t->type + 1);
	return 0;
}

static int rpc(struct p9_msg *t, struct p9_msg *r)
{
	return rpc_on(T.c, t, r);
}

static struct p9_str str(const char *s)
{
	return (struct p9_str){s, (uint16_t)strlen(s)};
}

static int version_on(struct p9_conn *c, uint32_t msize, const char *v, struct p9_msg *r)
{
	struct p9_msg t = {.type = P9_TVERSION};

	t.u.version.msize = msize;
	t.u.version.version = str(v);
	return rpc_on(c, &t, r);
}

static void session_on(struct p9_conn *c)
{
	struct p9_msg t = {.type = P9_TATTACH}, r;

	assert_int_equal(version_on(c, 65536, "9P2000.L", &r), 0);
	t.u.attach.fid = 0;
	t.u.attach.afid = P9_NOFID;
	t.u.attach.uname = str("u");
	t.u.attach.aname = str("");
	assert_int_equal(rpc_on(c, &t, &r), 0);
	assert_int_equal(r.u.qid.type, P9_QTDIR);
}

static void session(void)
{
	session_on(T.c);
}

/* Walk fid -> newfid through "a/b/c"; returns 0, -errno, or the number of
 * qids of a partial walk (> 0). */
static int walk(uint32_t fid, uint32_t newfid, const char *path)
{
	struct p9_msg t = {.type = P9_TWALK}, r;
	char buf[512], *save = NULL, *tok;
	int rc;

	snprintf(buf, sizeof(buf), "%s", path);
	t.u.walk.fid = fid;
	t.u.walk.newfid = newfid;
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save))
		t.u.walk.wname[t.u.walk.nwname++] = str(tok);
	rc = rpc(&t, &r);
	if (rc)
		return rc;
	return r.u.rwalk.nwqid == t.u.walk.nwname ? 0 : r.u.rwalk.nwqid;
}

static int lopen(uint32_t fid, uint32_t flags)
{
	struct p9_msg t = {.type = P9_TLOPEN}, r;

	t.u.lopen.fid = fid;
	t.u.lopen.flags = flags;
	return rpc(&t, &r);
}

static int clunk(uint32_t fid)
{
	struct p9_msg t = {.type = P9_TCLUNK}, r;

	t.u.fid.fid = fid;
	return rpc(&t, &r);
}

static int rd(uint32_t fid, uint64_t off, char *out, size_t cap)
{
	struct p9_msg t = {.type = P9_TREAD}, r;
	int rc;

	t.u.read.fid = fid;
	t.u.read.offset = off;
	t.u.read.count = (uint32_t)cap - 1;
	rc = rpc(&t, &r);
	if (rc)
		return rc;
	memcpy(out, r.u.data.data, r.u.data.count);
	out[r.u.data.count] = 0;
	return (int)r.u.data.count;
}

static int wr(uint32_t fid, uint64_t off, const char *s)
{
	struct p9_msg t = {.type = P9_TWRITE}, r;
	int rc;

	t.u.write.fid = fid;
	t.u.write.offset = off;
	t.u.write.count = (uint32_t)strlen(s);
	t.u.write.data = (const uint8_t *)s;
	rc = rpc(&t, &r);
	return rc ? rc : (int)r.u.rwrite.count;
}

static int lcreate(uint32_t dfid, const char *name, uint32_t flags)
{
	struct p9_msg t = {.type = P9_TLCREATE}, r;

	t.u.lcreate.fid = dfid;
	t.u.lcreate.name = str(name);
	t.u.lcreate.flags = flags;
	t.u.lcreate.mode = 06755; /* set-id bits must not survive */
	return rpc(&t, &r);
}

static int symlink9(uint32_t dfid, const char *name, const char *target)
{
	struct p9_msg t = {.type = P9_TSYMLINK}, r;

	t.u.symlink.fid = dfid;
	t.u.symlink.name = str(name);
	t.u.symlink.target = str(target);
	return rpc(&t, &r);
}

static int renameat9(uint32_t od, const char *on, uint32_t nd, const char *nn)
{
	struct p9_msg t = {.type = P9_TRENAMEAT}, r;

	t.u.renameat.olddfid = od;
	t.u.renameat.oldname = str(on);
	t.u.renameat.newdfid = nd;
	t.u.renameat.newname = str(nn);
	return rpc(&t, &r);
}

static int unlinkat9(uint32_t dfid, const char *name, uint32_t flags)
{
	struct p9_msg t = {.type = P9_TUNLINKAT}, r;

	t.u.unlinkat.dfid = dfid;
	t.u.unlinkat.name = str(name);
	t.u.unlinkat.flags = flags;
	return rpc(&t, &r);
}

static bool exists(const char *rel)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", T.ws, rel);
	return lstat(p, &st) == 0;
}

/* ---- tests ---- */

static void test_read_allowed_and_summed(void **state)
{
	char buf[64];

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "README"), 0);
	assert_int_equal(lopen(1, P9_DOTL_RDONLY), 0);
	assert_int_equal(rd(1, 0, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "readme\n");
	assert_int_equal(rd(1, 3, buf, sizeof(buf)), 4);
	assert_int_equal(rd(1, 7, buf, sizeof(buf)), 0);
	assert_null(tfs_log_find(&T.log, "read", "README", "allow")); /* summed at clunk */
	assert_int_equal(clunk(1), 0);
	const struct tfs_rec *e = tfs_log_find(&T.log, "read", "README", "allow");
	assert_non_null(e);
	assert_int_equal(e->down, 11);
	assert_int_equal(e->up, 0);
	assert_string_equal(e->rule, "filesystem.allow[0]");
	/* the fid is gone */
	assert_int_equal(clunk(1), -EBADF);
}

static void test_env_denied_and_audited(void **state)
{
	(void)state;
	session();
	assert_int_equal(walk(0, 1, ".env"), 0); /* walking reveals nothing more than readdir */
	assert_int_equal(lopen(1, P9_DOTL_RDONLY), -EACCES);
	const struct tfs_rec *e = tfs_log_find(&T.log, "open", ".env", "deny");
	assert_non_null(e);
	assert_string_equal(e->rule, "filesystem.deny[0]");
	/* getattr is a read too */
	struct p9_msg t = {.type = P9_TGETATTR}, r;
	t.u.getattr.fid = 1;
	t.u.getattr.mask = P9_GETATTR_BASIC;
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "getattr", ".env", "deny"));
	/* and a .env deeper down */
	tfs_ws_put(T.ws, "src/.env", "X=1\n");
	assert_int_equal(walk(0, 2, "src/.env"), 0);
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "open", "src/.env", "deny"));
}

static void test_create_write_owner(void **state)
{
	char p[256], buf[64];
	struct stat st, ws;

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "src"), 0);
	assert_int_equal(lcreate(1, "new.c", P9_DOTL_WRONLY | P9_DOTL_CREATE), 0);
	assert_int_equal(wr(1, 0, "hello"), 5);
	assert_int_equal(wr(1, 5, " world"), 6);
	assert_non_null(tfs_log_find(&T.log, "create", "src/new.c", "allow"));
	assert_int_equal(clunk(1), 0);
	const struct tfs_rec *e = tfs_log_find(&T.log, "write", "src/new.c", "allow");
	assert_non_null(e);
	assert_int_equal(e->up, 11);
	snprintf(p, sizeof(p), "%s/src/new.c", T.ws);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(stat(T.ws, &ws), 0);
	assert_int_equal(st.st_uid, ws.st_uid); /* the workspace owner, not root */
	assert_int_equal(st.st_gid, ws.st_gid);
	assert_int_equal(st.st_mode & 07000, 0);
	assert_int_equal(st.st_size, 11);
	/* read it back through a new fid */
	assert_int_equal(walk(0, 2, "src/new.c"), 0);
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), 0);
	assert_int_equal(rd(2, 0, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "hello world");
	/* writing through a read-only fid fails */
	assert_int_equal(wr(2, 0, "x"), -EBADF);
	/* creating at the root is not allowed (read only there) */
	assert_int_equal(walk(0, 3, ""), 0);
	assert_int_equal(lcreate(3, "x", P9_DOTL_WRONLY | P9_DOTL_CREATE), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "create", "x", "deny"));
	assert_false(exists("x"));
	/* opening README for writing is denied */
	assert_int_equal(walk(0, 4, "README"), 0);
	assert_int_equal(lopen(4, P9_DOTL_RDWR), -EACCES);
	assert_int_equal(lopen(4, P9_DOTL_RDONLY | P9_DOTL_TRUNC), -EACCES);
}

static void test_walk_dotdot_escape(void **state)
{
	(void)state;
	session();
	assert_int_equal(walk(0, 1, ".."), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "walk", "..", "deny"));
	/* src/.. is the root; src/../.. would be above it: partial walk */
	assert_int_equal(walk(0, 2, "src/.."), 0);
	assert_int_equal(walk(0, 3, "src/../.."), 2);
	assert_int_equal(clunk(3), -EBADF); /* a partial walk creates no fid */
	/* names with '/' or '.' are refused */
	struct p9_msg t = {.type = P9_TWALK}, r;
	t.u.walk.fid = 0;
	t.u.walk.newfid = 4;
	t.u.walk.nwname = 1;
	t.u.walk.wname[0] = str("../etc");
	assert_int_equal(rpc(&t, &r), -EINVAL);
	t.u.walk.wname[0] = str("..");
	assert_int_equal(rpc(&t, &r), -EACCES);
	/* "." stays where it is */
	assert_int_equal(walk(0, 5, "src/./."), 0);
	assert_int_equal(lopen(5, P9_DOTL_RDONLY), 0);
	assert_int_equal(clunk(5), 0);
	assert_non_null(tfs_log_find(&T.log, "readdir", "src", "allow"));
	t.u.walk.wname[0] = (struct p9_str){"a\0b", 3};
	assert_int_equal(rpc(&t, &r), -EINVAL);
	assert_int_equal(lcreate(2, "..", P9_DOTL_WRONLY), -EINVAL);
}

static void test_symlink_escapes(void **state)
{
	struct p9_msg t = {.type = P9_TREADLINK}, r;
	char p[256], l[256];

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "src"), 0);
	assert_int_equal(symlink9(1, "etc", "/etc"), 0);
	assert_non_null(tfs_log_find(&T.log, "symlink", "src/etc", "allow"));
	/* walking through it stops at the link */
	assert_int_equal(walk(0, 2, "src/etc/passwd"), 2);
	assert_non_null(tfs_log_find(&T.log, "walk", "src/etc/passwd", "deny"));
	/* the link itself can be read as a link, never opened through */
	assert_int_equal(walk(0, 3, "src/etc"), 0);
	t.u.fid.fid = 3;
	assert_int_equal(rpc(&t, &r), 0);
	assert_true(p9_str_eq(r.u.rreadlink.target, "/etc"));
	assert_int_not_equal(lopen(3, P9_DOTL_RDONLY), 0);
	/* a chain of relative links towards .env is not followed either */
	assert_int_equal(symlink9(1, "l2", "../.env"), 0);
	assert_int_equal(symlink9(1, "l1", "l2"), 0);
	assert_int_equal(walk(0, 4, "src/l1"), 0);
	assert_int_not_equal(lopen(4, P9_DOTL_RDONLY), 0);
	/* a link to a directory outside, walked with a trailing name */
	assert_int_equal(symlink9(1, "up", "../../../../.."), 0);
	assert_int_equal(walk(0, 5, "src/up/etc"), 2);
	/* the links exist on the host but point where they said */
	snprintf(p, sizeof(p), "%s/src/etc", T.ws);
	assert_int_equal(readlink(p, l, sizeof(l)), 4);
}

static void test_host_symlink_swap_under_fid(void **state)
{
	char a[256], b[256];

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "pub/d/f"), 0);
	/* the host (or a race) swaps pub/d for a symlink to /etc */
	snprintf(a, sizeof(a), "%s/pub/d", T.ws);
	snprintf(b, sizeof(b), "%s/pub/d.old", T.ws);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink("/etc", a), 0);
	assert_int_equal(lopen(1, P9_DOTL_RDONLY), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "open", "pub/d/f", "deny"));
}

static void test_rename_dir_under_fid(void **state)
{
	(void)state;
	session();
	assert_int_equal(walk(0, 1, "pub/d/f"), 0);
	assert_int_equal(walk(0, 2, "pub"), 0);
	assert_int_equal(walk(0, 3, "drop"), 0);
	/* pub/d -> pub/e: the rules below are the same, so it moves ... */
	assert_int_equal(renameat9(2, "d", 2, "e"), 0);
	const struct tfs_rec *e = tfs_log_find(&T.log, "rename", "pub/d", "allow");
	assert_non_null(e);
	assert_non_null(strstr(e->detail, "pub/e"));
	assert_true(exists("pub/e/f"));
	/* ... and the fid now names pub/e/f */
	assert_int_equal(lopen(1, P9_DOTL_RDONLY), 0);
	assert_int_equal(clunk(1), 0);
	assert_non_null(tfs_log_find(&T.log, "read", "pub/e/f", "allow"));
	/* into drop/ (create-only, read denied) the rules below change: refused */
	assert_int_equal(renameat9(2, "e", 3, "d"), -EACCES);
	e = tfs_log_find(&T.log, "rename", "pub/e", "deny");
	assert_non_null(e);
	assert_non_null(strstr(e->reason, "below the source and below the target"));
	assert_true(exists("pub/e/f"));
	tfs_ws_mkdir(T.ws, "drop/d");
	/* renaming out of drop needs delete there: denied */
	assert_int_equal(renameat9(3, "d", 2, "d"), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "rename", "drop/d", "deny"));
	/* renaming README (no delete) is denied, and onto .env too */
	assert_int_equal(renameat9(0, "README", 2, "R"), -EACCES);
	assert_int_equal(walk(0, 4, "src"), 0);
	assert_int_equal(renameat9(4, "a.c", 4, ".env"), -EACCES);
	assert_true(exists("src/a.c"));
	/* Trename form */
	struct p9_msg t = {.type = P9_TRENAME}, r;
	assert_int_equal(walk(0, 5, "src/a.c"), 0);
	t.u.rename.fid = 5;
	t.u.rename.dfid = 4;
	t.u.rename.name = str("b.c");
	assert_int_equal(rpc(&t, &r), 0);
	assert_true(exists("src/b.c"));
	assert_int_equal(lopen(5, P9_DOTL_RDONLY), 0); /* follows the rename */
}

/*
 * Renaming a directory above a fid can make the fid's path longer than any
 * path the server builds. Walking or renaming from that fid must fail, not
 * cut the path short and act on whatever file the cut names (here a decoy).
 */
static void test_overlong_fid_path(void **state)
{
	char a[251], b[251], decoy[80];
	struct p9_msg t = {.type = P9_TRENAME}, r;
	struct stat st;
	int dfd, up = -1;

	(void)state;
	memset(a, 'a', 250);
	a[250] = 0;
	memset(b, 'b', 250);
	b[250] = 0;
	session();
	assert_int_equal(walk(0, 1, "pub/d"), 0);
	assert_int_equal(walk(0, 2, "pub"), 0);
	dfd = openat(T.root, "pub/d", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	assert_true(dfd >= 0);
	/* pub/d + 16 * "/a…a": 4021 bytes, walked one name at a time */
	for (int i = 0; i < 16; i++) {
		int nd;

		assert_int_equal(mkdirat(dfd, a, 0755), 0);
		nd = openat(dfd, a, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
		assert_true(nd >= 0);
		if (up >= 0)
			close(up);
		up = dfd;
		dfd = nd;
		assert_int_equal(walk(1, 1, a), 0);
	}
	/* pub/d -> pub/b…b: fid 1 is now 4270 bytes long; its first 4095
	 * bytes end in 75 a's inside the 15th directory: put a decoy there */
	assert_int_equal(renameat9(2, "d", 2, b), 0);
	memset(decoy, 'a', 75);
	decoy[75] = 0;
	close(dfd);
	dfd = openat(up, decoy, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(dfd >= 0);
	close(dfd);
	assert_int_equal(walk(1, 3, ""), -ENAMETOOLONG);
	assert_int_equal(walk(1, 4, "."), -ENAMETOOLONG);
	t.u.rename.fid = 1;
	t.u.rename.dfid = 2;
	t.u.rename.name = str("moved");
	assert_int_equal(rpc(&t, &r), -ENAMETOOLONG);
	assert_int_equal(fstatat(up, decoy, &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_false(exists("pub/moved"));
	close(up);
}

static void test_link_rules(void **state)
{
	struct p9_msg t = {.type = P9_TLINK}, r;
	const struct tfs_rec *e;

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "src"), 0);
	assert_int_equal(walk(0, 2, ".env"), 0);
	/* a writable alias of .env in src: denied (not decided alike) */
	t.u.link.dfid = 1;
	t.u.link.fid = 2;
	t.u.link.name = str("env-alias");
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_false(exists("src/env-alias"));
	e = tfs_log_find(&T.log, "link", "src/env-alias", "deny");
	assert_non_null(e);
	assert_non_null(strstr(e->detail, "\"from\":\".env\""));
	/* a writable alias of the read-only README: denied */
	assert_int_equal(walk(0, 3, "README"), 0);
	t.u.link.fid = 3;
	t.u.link.name = str("readme-alias");
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_false(exists("src/readme-alias"));
	/* a read-only alias of a writable file: denied too (src/a.c's rules
	 * would no longer describe every name of it) */
	assert_int_equal(walk(0, 5, "src/a.c"), 0);
	t.u.link.dfid = 0;
	t.u.link.fid = 5;
	t.u.link.name = str("a-alias");
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_false(exists("a-alias"));
	/* a name with '/' cannot reach outside; the row names what was tried */
	t.u.link.dfid = 1;
	t.u.link.name = str("../../x");
	assert_int_equal(rpc(&t, &r), -EINVAL);
	assert_non_null(tfs_log_find(&T.log, "link", "src/../../x", "deny"));
	/* within src it works */
	assert_int_equal(walk(0, 4, "src/a.c"), 0);
	t.u.link.fid = 4;
	t.u.link.name = str("a2.c");
	assert_int_equal(rpc(&t, &r), 0);
	assert_true(exists("src/a2.c"));
	assert_non_null(tfs_log_find(&T.log, "link", "src/a2.c", "allow"));
}

static void test_metadata_ops(void **state)
{
	struct p9_msg t, r;
	char p[256];
	struct stat st;

	(void)state;
	session();
	/* getattr */
	assert_int_equal(walk(0, 1, "README"), 0);
	t = (struct p9_msg){.type = P9_TGETATTR};
	t.u.getattr.fid = 1;
	t.u.getattr.mask = P9_GETATTR_BASIC;
	assert_int_equal(rpc(&t, &r), 0);
	assert_int_equal(r.u.rgetattr.a.size, 7);
	assert_true((r.u.rgetattr.a.mode & S_IFMT) == S_IFREG);
	/* setattr on README: write denied */
	t = (struct p9_msg){.type = P9_TSETATTR};
	t.u.setattr.fid = 1;
	t.u.setattr.valid = P9_SETATTR_SIZE;
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "setattr", "README", "deny"));
	/* setattr in src: truncate and chmod (set-id bits dropped) */
	assert_int_equal(walk(0, 2, "src/a.c"), 0);
	t.u.setattr.fid = 2;
	t.u.setattr.valid =
	    P9_SETATTR_SIZE | P9_SETATTR_MODE | P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET;
	t.u.setattr.size = 3;
	t.u.setattr.mode = 04600;
	t.u.setattr.mtime_sec = 1000000000;
	assert_int_equal(rpc(&t, &r), 0);
	assert_non_null(tfs_log_find(&T.log, "setattr", "src/a.c", "allow"));
	snprintf(p, sizeof(p), "%s/src/a.c", T.ws);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_mtime, 1000000000);
	/* mkdir, unlinkat, rmdir */
	t = (struct p9_msg){.type = P9_TMKDIR};
	assert_int_equal(walk(0, 3, "src"), 0);
	t.u.mkdir.dfid = 3;
	t.u.mkdir.name = str("sub");
	t.u.mkdir.mode = 0755;
	assert_int_equal(rpc(&t, &r), 0);
	assert_int_equal(r.u.qid.type, P9_QTDIR);
	assert_non_null(tfs_log_find(&T.log, "mkdir", "src/sub", "allow"));
	t.u.mkdir.dfid = 0;
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_int_equal(unlinkat9(3, "sub", 0), -EISDIR);
	assert_int_equal(unlinkat9(3, "sub", P9_AT_REMOVEDIR), 0);
	assert_non_null(tfs_log_find(&T.log, "rmdir", "src/sub", "allow"));
	assert_int_equal(unlinkat9(0, "README", 0), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "unlink", "README", "deny"));
	assert_true(exists("README"));
	assert_int_equal(unlinkat9(3, "nothere", 0), -ENOENT);
	/* Tremove clunks the fid even when denied */
	t = (struct p9_msg){.type = P9_TREMOVE};
	t.u.fid.fid = 1;
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_int_equal(clunk(1), -EBADF);
	t.u.fid.fid = 2;
	assert_int_equal(rpc(&t, &r), 0);
	assert_false(exists("src/a.c"));
	assert_non_null(tfs_log_find(&T.log, "unlink", "src/a.c", "allow"));
	/* mknod: never */
	t = (struct p9_msg){.type = P9_TMKNOD};
	t.u.mknod.dfid = 3;
	t.u.mknod.name = str("null");
	t.u.mknod.mode = S_IFCHR | 0666;
	t.u.mknod.major = 1;
	t.u.mknod.minor = 3;
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "mknod", "src/null", "deny"));
	assert_false(exists("src/null"));
	/* statfs, fsync, lock, getlock, xattr, flush, auth */
	t = (struct p9_msg){.type = P9_TSTATFS};
	t.u.fid.fid = 0;
	assert_int_equal(rpc(&t, &r), 0);
	assert_int_equal(r.u.statfs.type, P9_V9FS_MAGIC);
	assert_true(r.u.statfs.namelen > 0);
	t = (struct p9_msg){.type = P9_TFSYNC};
	t.u.fsync.fid = 3;
	assert_int_equal(rpc(&t, &r), 0);
	t = (struct p9_msg){.type = P9_TLOCK};
	t.u.lock.fid = 3;
	t.u.lock.l.client_id = str("me");
	assert_int_equal(rpc(&t, &r), 0);
	assert_int_equal(r.u.rlock.status, P9_LOCK_SUCCESS);
	t.type = P9_TGETLOCK;
	t.u.lock.l.type = 1;
	assert_int_equal(rpc(&t, &r), 0);
	assert_int_equal(r.u.rgetlock.type, P9_LOCK_TYPE_UNLCK);
	assert_true(p9_str_eq(r.u.rgetlock.client_id, "me"));
	t = (struct p9_msg){.type = P9_TXATTRWALK};
	t.u.xattrwalk.fid = 3;
	t.u.xattrwalk.newfid = 9;
	t.u.xattrwalk.name = str("user.x");
	assert_int_equal(rpc(&t, &r), -EOPNOTSUPP);
	t = (struct p9_msg){.type = P9_TXATTRCREATE};
	t.u.xattrcreate.fid = 3;
	t.u.xattrcreate.name = str("user.x");
	assert_int_equal(rpc(&t, &r), -EOPNOTSUPP);
	t = (struct p9_msg){.type = P9_TFLUSH};
	t.u.flush.oldtag = 1;
	assert_int_equal(rpc(&t, &r), 0);
	t = (struct p9_msg){.type = P9_TAUTH};
	t.u.auth.afid = 10;
	assert_int_equal(rpc(&t, &r), -ENOENT);
	/* an R message or an unknown type from the client: EOPNOTSUPP */
	t = (struct p9_msg){.type = P9_RCLUNK};
	assert_int_equal(rpc(&t, &r), -EOPNOTSUPP);
}

static void test_readdir(void **state)
{
	struct p9_msg t = {.type = P9_TREADDIR}, r;
	bool readme = false, env = false, src = false;
	uint64_t off = 0;
	int entries = 0;

	(void)state;
	session();
	assert_int_equal(walk(0, 1, ""), 0);
	assert_int_equal(lopen(1, P9_DOTL_RDONLY), 0);
	for (;;) {
		size_t pos = 0;
		struct p9_qid q;
		uint64_t o;
		uint8_t ty;
		struct p9_str name;
		int got = 0;

		t.u.read.fid = 1;
		t.u.read.offset = off;
		t.u.read.count = 64; /* small: forces several calls */
		assert_int_equal(rpc(&t, &r), 0);
		while (p9_dirent_next(r.u.data.data, r.u.data.count, &pos, &q, &o, &ty, &name) ==
		       1) {
			readme |= p9_str_eq(name, "README");
			env |= p9_str_eq(name, ".env");
			if (p9_str_eq(name, "src")) {
				src = true;
				assert_int_equal(q.type, P9_QTDIR);
			}
			off = o;
			got++;
		}
		if (!got)
			break;
		entries += got;
		assert_true(entries < 100);
	}
	assert_true(readme && env && src);
	assert_int_equal(entries, 7); /* . .. README .env src pub drop */
	assert_int_equal(clunk(1), 0);
	assert_non_null(tfs_log_find(&T.log, "readdir", ".", "allow"));
	/* a directory you cannot read: drop/box (create only) */
	assert_int_equal(walk(0, 2, "drop/box"), 0);
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "readdir", "drop/box", "deny"));
	/* reading a directory fid as a file, readdir on a file */
	assert_int_equal(walk(0, 3, "README"), 0);
	assert_int_equal(lopen(3, P9_DOTL_RDONLY), 0);
	t.u.read.fid = 3;
	t.u.read.offset = 0;
	assert_int_equal(rpc(&t, &r), -ENOTDIR);
}

static void test_version_and_msize(void **state)
{
	struct p9_msg r, t = {.type = P9_TCLUNK};
	struct p9_conn *c2;

	(void)state;
	assert_int_equal(version_on(T.c, 4u << 20, "9P2000.L", &r), 0);
	assert_int_equal(r.u.version.msize, P9_MSIZE_MAX);
	assert_true(p9_str_eq(r.u.version.version, "9P2000.L"));
	assert_int_equal(version_on(T.c, 8192, "9P2000.u", &r), 0);
	assert_true(p9_str_eq(r.u.version.version, "unknown"));
	assert_int_equal(version_on(T.c, 1000, "9P2000.L", &r), 0);
	assert_true(p9_str_eq(r.u.version.version, "unknown"));
	/* after a refused version, anything else closes the connection */
	t.u.fid.fid = 0;
	assert_int_equal(rpc(&t, &r), -AGW_EPROTO);
	assert_non_null(tfs_log_find(&T.log, "protocol", NULL, "error"));
	/* a second connection is independent; Tversion resets its fids */
	assert_int_equal(p9_conn_new(T.srv, "10.0.0.2:2", &c2), 0);
	session_on(c2);
	assert_int_equal(version_on(c2, 8192, "9P2000.L", &r), 0);
	t.u.fid.fid = 0;
	assert_int_equal(rpc_on(c2, &t, &r), -EBADF);
	p9_conn_free(c2);
}

static void test_malformed_closes(void **state)
{
	static const uint8_t lying[] = {50, 0, 0, 0, P9_TCLUNK, 1, 0, 0, 0, 0, 0};
	uint8_t big[16] = {0, 0, 0, 0x40, P9_TWRITE};
	struct p9_conn *c2;

	(void)state;
	session();
	/* a size field that says more than a fid: waits for more bytes ... */
	assert_int_equal(p9_conn_input(T.c, lying, sizeof(lying)), 0);
	/* size over msize: closes */
	assert_int_equal(p9_conn_new(T.srv, "p", &c2), 0);
	session_on(c2);
	assert_int_equal(p9_conn_input(c2, big, sizeof(big)), -AGW_EPROTO);
	p9_conn_free(c2);
	/* a truncated Twalk body inside a correct frame */
	static const uint8_t badwalk[] = {17, 0, 0, 0, P9_TWALK, 1, 0, 0, 0,
					  0,  0, 1, 0, 0,	 0, 1, 0};
	assert_int_equal(p9_conn_new(T.srv, "p", &c2), 0);
	session_on(c2);
	assert_int_equal(p9_conn_input(c2, badwalk, sizeof(badwalk)), -AGW_EPROTO);
	assert_non_null(tfs_log_find(&T.log, "protocol", NULL, "error"));
	p9_conn_free(c2);
	/* unknown type in a good frame: Rlerror, connection stays */
	static const uint8_t unk[] = {7, 0, 0, 0, 200, 5, 0};
	struct p9_msg r;
	size_t ol;
	const uint8_t *o;
	assert_int_equal(p9_conn_new(T.srv, "p", &c2), 0);
	session_on(c2);
	assert_int_equal(p9_conn_input(c2, unk, sizeof(unk)), 0);
	o = p9_conn_output(c2, &ol);
	assert_int_equal(p9_decode(o, ol, &r), 0);
	assert_int_equal(r.type, P9_RLERROR);
	assert_int_equal(r.u.lerror.ecode, EOPNOTSUPP);
	p9_conn_free(c2);
}

static void test_fid_limit(void **state)
{
	(void)state;
	stop(NULL);
	start("enforce", 8);
	session(); /* fid 0 */
	for (uint32_t i = 1; i < 8; i++)
		assert_int_equal(walk(0, i, "src"), 0);
	assert_int_equal(walk(0, 8, "src"), -EMFILE);
	assert_int_equal(walk(0, 1, "src"), -EBADF); /* in use */
	assert_int_equal(clunk(7), 0);
	assert_int_equal(walk(0, 8, "src"), 0);
}

static void test_audit_mode(void **state)
{
	char buf[64];

	(void)state;
	stop(NULL);
	start("audit", 0);
	session();
	assert_int_equal(walk(0, 1, ".env"), 0);
	assert_int_equal(lopen(1, P9_DOTL_RDONLY), 0);
	assert_int_equal(rd(1, 0, buf, sizeof(buf)), 9);
	assert_int_equal(clunk(1), 0);
	const struct tfs_rec *e = tfs_log_find(&T.log, "read", ".env", "would_deny");
	assert_non_null(e);
	assert_int_equal(e->down, 9);
	assert_null(tfs_log_find(&T.log, "open", ".env", "deny"));
	/* creating at the root goes ahead, audited as would_deny */
	assert_int_equal(walk(0, 2, ""), 0);
	assert_int_equal(lcreate(2, "x", P9_DOTL_WRONLY | P9_DOTL_CREATE), 0);
	assert_non_null(tfs_log_find(&T.log, "create", "x", "would_deny"));
	assert_true(exists("x"));
	/* a directory move that changes the rules below goes ahead as would_deny */
	assert_int_equal(walk(0, 3, "pub"), 0);
	assert_int_equal(walk(0, 4, "drop"), 0);
	assert_int_equal(renameat9(3, "d", 4, "d"), 0);
	e = tfs_log_find(&T.log, "rename", "pub/d", "would_deny");
	assert_non_null(e);
	assert_non_null(strstr(e->reason, "below the source and below the target"));
	assert_true(exists("drop/d/f"));
	/* mknod stays denied */
	struct p9_msg t = {.type = P9_TMKNOD}, r;
	t.u.mknod.dfid = 0;
	t.u.mknod.name = str("fifo");
	t.u.mknod.mode = S_IFIFO | 0600;
	assert_int_equal(rpc(&t, &r), -EACCES);
}

static void test_fail_closed(void **state)
{
	char buf[64];

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "src"), 0);
	T.fail_emit = true;
	assert_int_equal(lcreate(1, "n.c", P9_DOTL_WRONLY | P9_DOTL_CREATE), -EACCES);
	assert_false(exists("src/n.c"));
	assert_int_equal(unlinkat9(1, "a.c", 0), -EACCES);
	assert_true(exists("src/a.c"));
	assert_int_equal(walk(0, 2, "README"), 0);
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), -EACCES);
	size_t before = T.log.nev;
	struct p9_srv_stats st;
	p9_srv_get_stats(T.srv, &st);
	assert_true(st.emit_failures >= 3);
	/* the sink recovers: the first action says so (an error row: it was
	 * refused), then operations go on */
	T.fail_emit = false;
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "open", "README", "error"));
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), 0);
	assert_int_equal(rd(2, 0, buf, sizeof(buf)), 7);
	/* the refused open is an error row; then the open and read go ahead */
	for (size_t i = before; i < T.log.nev; i++)
		if (!strcmp(T.log.ev[i].op, "open"))
			assert_string_equal(T.log.ev[i].decision, "error");
}

/*
 * Issue 12, item 9: a sink that takes events but fails (the supervisor
 * spills them and writes them later) must never receive an allow row for
 * an action that was refused: every refusal is recorded as error or deny.
 */
static void test_failing_sink_records_refusals(void **state)
{
	struct p9_msg t = {.type = P9_TSETATTR}, r;
	size_t before;

	(void)state;
	stop(NULL);
	start_rules("enforce", 0, RULES_DEFAULT, true);
	session();
	assert_int_equal(walk(0, 1, "src"), 0);
	assert_int_equal(walk(0, 2, "README"), 0);
	assert_int_equal(walk(0, 3, "src/a.c"), 0);
	before = T.log.nev;
	T.sink_failing = true;
	assert_int_equal(lcreate(1, "n.c", P9_DOTL_WRONLY | P9_DOTL_CREATE), -EACCES);
	assert_int_equal(unlinkat9(1, "a.c", 0), -EACCES);
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), -EACCES);
	assert_int_equal(renameat9(1, "a.c", 1, "b.c"), -EACCES);
	t.u.setattr.fid = 3;
	t.u.setattr.valid = P9_SETATTR_SIZE;
	assert_int_equal(rpc(&t, &r), -EACCES);
	assert_int_equal(unlinkat9(0, "README", 0), -EACCES); /* denied by policy anyway */
	assert_false(exists("src/n.c"));
	assert_true(exists("src/a.c"));
	assert_true(T.log.nev >= before + 6);
	for (size_t i = before; i < T.log.nev; i++) {
		if (strcmp(T.log.ev[i].decision, "error") && strcmp(T.log.ev[i].decision, "deny"))
			fail_msg("event %zu %s %s recorded as %s while the audit fails", i,
				 T.log.ev[i].op, T.log.ev[i].target, T.log.ev[i].decision);
	}
	assert_non_null(tfs_log_find(&T.log, "create", "src/n.c", "error"));
	assert_non_null(tfs_log_find(&T.log, "unlink", "README", "deny"));
	/* healthy again: actions go ahead at once */
	T.sink_failing = false;
	assert_int_equal(lopen(2, P9_DOTL_RDONLY), 0);
}

/* Issue 12, item 11: a refused chown and a bad name each get a row naming
 * what was tried. */
static void test_refusals_have_rows(void **state)
{
	struct p9_msg t = {.type = P9_TSETATTR}, r;
	char longname[300];
	const struct tfs_rec *e;

	(void)state;
	session();
	assert_int_equal(walk(0, 1, "src/a.c"), 0);
	t.u.setattr.fid = 1;
	t.u.setattr.valid = P9_SETATTR_UID;
	t.u.setattr.uid = 4242;
	assert_int_equal(rpc(&t, &r), -EPERM);
	e = tfs_log_find(&T.log, "setattr", "src/a.c", "deny");
	assert_non_null(e);
	assert_non_null(strstr(e->detail, "4242"));
	assert_int_equal(walk(0, 2, "src"), 0);
	assert_int_equal(lcreate(2, "..", P9_DOTL_WRONLY | P9_DOTL_CREATE), -EINVAL);
	assert_non_null(tfs_log_find(&T.log, "create", "src/..", "deny"));
	assert_int_equal(renameat9(2, "a.c", 2, "x/y"), -EINVAL);
	assert_non_null(tfs_log_find(&T.log, "rename", "src/x/y", "deny"));
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(lcreate(2, longname, P9_DOTL_WRONLY | P9_DOTL_CREATE), -ENAMETOOLONG);
	e = tfs_log_find(&T.log, "create", NULL, "deny");
	bool found = false;
	for (size_t i = 0; i < T.log.nev; i++)
		if (!strncmp(T.log.ev[i].target, "src/nnnn", 8) &&
		    strstr(T.log.ev[i].target, "..."))
			found = true;
	assert_true(found);
	(void)e;
}

/* One step of the issue 12 battery, against the claude-code rules. */
enum bop { B_RENAMEAT, B_RENAME, B_LINK, B_SYMLINK, B_CREATE, B_UNLINK };

struct bcase {
	enum bop op;
	const char *from; /* dir/name for renameat and link; the target for symlink */
	const char *to;
	int want;		 /* 0 or -errno */
	const char *deny_target; /* a deny row for it must exist; NULL: none needed */
};

/* "a/b/c" -> dir "a/b", name "c"; "c" -> dir "", name "c". */
static void split(const char *path, char dir[256], char **name)
{
	char *sl;

	snprintf(dir, 256, "%s", path);
	sl = strrchr(dir, '/');
	if (sl) {
		*sl = 0;
		*name = sl + 1;
	} else {
		memmove(dir + 1, dir, strlen(dir) + 1);
		dir[0] = 0;
		*name = dir + 1;
	}
}

static int battery_do(const struct bcase *b, uint32_t *nextfid)
{
	char fd_[256], tdir[256], *fn, *tn;
	uint32_t f1 = (*nextfid)++, f2 = (*nextfid)++;
	struct p9_msg t, r;

	split(b->from, fd_, &fn);
	split(b->to ? b->to : "", tdir, &tn);
	switch (b->op) {
	case B_RENAMEAT:
		assert_int_equal(walk(0, f1, fd_), 0);
		assert_int_equal(walk(0, f2, tdir), 0);
		return renameat9(f1, fn, f2, tn);
	case B_RENAME:
		assert_int_equal(walk(0, f1, b->from), 0);
		assert_int_equal(walk(0, f2, tdir), 0);
		t = (struct p9_msg){.type = P9_TRENAME};
		t.u.rename.fid = f1;
		t.u.rename.dfid = f2;
		t.u.rename.name = str(tn);
		return rpc(&t, &r);
	case B_LINK:
		assert_int_equal(walk(0, f1, b->from), 0);
		assert_int_equal(walk(0, f2, tdir), 0);
		t = (struct p9_msg){.type = P9_TLINK};
		t.u.link.dfid = f2;
		t.u.link.fid = f1;
		t.u.link.name = str(tn);
		return rpc(&t, &r);
	case B_SYMLINK:
		assert_int_equal(walk(0, f2, tdir), 0);
		return symlink9(f2, tn, b->from);
	case B_CREATE:
		assert_int_equal(walk(0, f1, fd_), 0);
		return lcreate(f1, fn, P9_DOTL_WRONLY | P9_DOTL_CREATE);
	case B_UNLINK:
		assert_int_equal(walk(0, f1, fd_), 0);
		return unlinkat9(f1, fn, 0);
	}
	return -EINVAL;
}

static char *slurp(const char *rel, char *buf, size_t cap)
{
	char p[256];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/%s", T.ws, rel);
	f = fopen(p, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/*
 * Issue 12, items 1 and 2 against the rules of examples/claude-code.yaml
 * (enforced): replacing .git/config by rename, swapping .git to plant a
 * hook, hard links between protected and writable names, symlinks and
 * creates at the protected name, moves of directories holding secrets;
 * normal renames still work. After each step the host files are checked.
 */
static void test_rename_link_battery(void **state)
{
	static const struct bcase cases[] = {
	    {B_RENAMEAT, "cfg", ".git/config", -EACCES, ".git/config"},
	    {B_RENAME, "cfg", ".git/config", -EACCES, ".git/config"},
	    {B_RENAMEAT, ".git", "g2", -EACCES, ".git"},
	    {B_RENAMEAT, "g2", ".git", -EACCES, "g2"}, /* g2 made on the host */
	    {B_RENAMEAT, ".git/hooks", "hooks2", -EACCES, ".git/hooks"},
	    {B_LINK, "src/x", ".git/config", -EACCES, ".git/config"},
	    {B_LINK, ".git/config", "src/y", -EACCES, "src/y"},
	    {B_LINK, "src/x", ".git/hooks/pre-commit", -EACCES, ".git/hooks/pre-commit"},
	    {B_RENAMEAT, "src/x", ".git/hooks/pre-commit", -EACCES, ".git/hooks/pre-commit"},
	    {B_RENAMEAT, "proj/.env", "proj/env", -EACCES, "proj/.env"},
	    {B_RENAMEAT, "src/x", "proj/.env", -EACCES, "proj/.env"},
	    /* .git/config may be deleted, but nothing can take its place */
	    {B_UNLINK, ".git/config", NULL, 0, NULL},
	    {B_SYMLINK, "../src/x", ".git/config", -EACCES, ".git/config"},
	    {B_CREATE, ".git/config", NULL, -EACCES, ".git/config"},
	    {B_RENAMEAT, "cfg", ".git/config", -EACCES, ".git/config"},
	    {B_LINK, "src/x", ".git/config", -EACCES, ".git/config"},
	    /* normal work */
	    {B_RENAMEAT, "src/a", "src/b", 0, NULL},
	    {B_RENAMEAT, "proj", "proj2", 0, NULL}, /* its .env stays denied there */
	    {B_RENAMEAT, "src/x", "src/x2", 0, NULL},
	    {B_LINK, "src/x2", "src/x3", 0, NULL},
	    {B_RENAMEAT, "src/x3", "src/x2", 0, NULL}, /* over an existing file */
	    {B_SYMLINK, "x2", "src/l", 0, NULL},
	};
	uint32_t nextfid = 10;
	char buf[64];

	(void)state;
	stop(NULL);
	start_rules("enforce", 0, RULES_CLAUDE, false);
	tfs_ws_seed(T.ws, (const char *const[]){
			      ".git/", ".git/hooks/", "g2/", "g2/hooks/", "proj/", "src/a/",
			      ".git/config=orig\n", "g2/hooks/pre-commit=evil\n", "cfg=evil\n",
			      "src/x=x\n", "src/a/f=f\n", "proj/.env=S=1\n", NULL});
	session();
	for (size_t i = 0; i < AGW_ARRAY_LEN(cases); i++) {
		const struct bcase *b = &cases[i];
		size_t before = T.log.nev;
		int rc = battery_do(b, &nextfid);

		if (rc != b->want)
			fail_msg("case %zu (%d %s -> %s): got %d, want %d", i, b->op, b->from,
				 b->to ? b->to : "", rc, b->want);
		for (size_t k = before; k < T.log.nev; k++) {
			if (b->want && !strcmp(T.log.ev[k].decision, "allow"))
				fail_msg("case %zu: refused, yet an allow row %s %s", i,
					 T.log.ev[k].op, T.log.ev[k].target);
		}
		if (b->deny_target) {
			bool found = false;

			for (size_t k = before; k < T.log.nev; k++)
				found |= !strcmp(T.log.ev[k].decision, "deny") &&
					 !strcmp(T.log.ev[k].target, b->deny_target);
			if (!found)
				fail_msg("case %zu: no deny row for %s", i, b->deny_target);
		}
		/* the protected files on the host never change */
		assert_false(exists(".git/hooks/pre-commit"));
		assert_true(exists(".git/hooks"));
		assert_true(exists("g2/hooks/pre-commit"));
		if (i < 11) {
			assert_non_null(slurp(".git/config", buf, sizeof(buf)));
			assert_string_equal(buf, "orig\n");
		} else {
			assert_false(exists(".git/config") && !slurp(".git/config", buf, 64));
			assert_false(exists(".git/config"));
		}
	}
	/* a file with another name made on the host (here the protected
	 * .git/hooks/keep): writing, truncating or chmod through the writable
	 * name is refused, reading is not */
	tfs_ws_put(T.ws, ".git/hooks/keep", "keep\n");
	{
		char a[256], b[256];

		snprintf(a, sizeof(a), "%s/.git/hooks/keep", T.ws);
		snprintf(b, sizeof(b), "%s/src/keep-alias", T.ws);
		assert_int_equal(link(a, b), 0);
	}
	assert_int_equal(walk(0, 201, "src/keep-alias"), 0);
	assert_int_equal(lopen(201, P9_DOTL_WRONLY), -EACCES);
	const struct tfs_rec *e = tfs_log_find(&T.log, "open", "src/keep-alias", "deny");
	assert_non_null(e);
	assert_non_null(strstr(e->reason, "other hard links"));
	assert_non_null(strstr(e->detail, "\"nlink\":2"));
	assert_int_equal(lopen(201, P9_DOTL_RDONLY), 0);
	assert_int_equal(walk(0, 202, "src"), 0);
	assert_int_equal(
	    lcreate(202, "keep-alias", P9_DOTL_WRONLY | P9_DOTL_CREATE | P9_DOTL_TRUNC), -EACCES);
	struct p9_msg ts = {.type = P9_TSETATTR}, rs;
	assert_int_equal(walk(0, 203, "src/keep-alias"), 0);
	ts.u.setattr.fid = 203;
	ts.u.setattr.valid = P9_SETATTR_MODE;
	ts.u.setattr.mode = 0755;
	assert_int_equal(rpc(&ts, &rs), -EACCES);
	assert_non_null(tfs_log_find(&T.log, "setattr", "src/keep-alias", "deny"));
	assert_non_null(slurp(".git/hooks/keep", buf, sizeof(buf)));
	assert_string_equal(buf, "keep\n");
	assert_true(exists("src/b/f"));
	assert_true(exists("proj2/.env"));
	assert_non_null(slurp("src/x2", buf, sizeof(buf)));
	assert_string_equal(buf, "x\n");
	/* the moved secret is still denied at its new place */
	assert_int_equal(walk(0, 200, "proj2/.env"), 0);
	assert_int_equal(lopen(200, P9_DOTL_RDONLY), -EACCES);
}

/* Workspace quota: counts start from what is there (28 bytes in 9 entries),
 * follow writes, truncates, creates and removes; past a limit ENOSPC and a
 * deny row "workspace quota", the file untouched. */
static const char RULES_QUOTA[] = "  max_bytes: 100\n  max_files: 12\n"
				  "  allow:\n"
				  "    - { path: \"**\", access: [read, write, create, delete] }\n";

static int setup_quota(void **state)
{
	(void)state;
	return start_rules("enforce", 0, RULES_QUOTA, false);
}

static int truncate9(uint32_t fid, uint64_t size)
{
	struct p9_msg t = {.type = P9_TSETATTR}, r;

	t.u.setattr.fid = fid;
	t.u.setattr.valid = P9_SETATTR_SIZE;
	t.u.setattr.size = size;
	return rpc(&t, &r);
}

static void test_quota(void **state)
{
	char big[128], p[256];
	const struct tfs_rec *e;
	struct stat st;

	(void)state;
	memset(big, 'x', sizeof(big));
	session();
	assert_int_equal(walk(0, 1, "src"), 0);
	assert_int_equal(lcreate(1, "n", P9_DOTL_WRONLY | P9_DOTL_CREATE), 0); /* 10 entries */
	big[50] = 0;
	assert_int_equal(wr(1, 0, big), 50); /* 78 bytes */
	big[50] = 'x';
	big[30] = 0;
	assert_int_equal(wr(1, 50, big), -ENOSPC); /* 108 > 100 */
	e = tfs_log_find(&T.log, "write", "src/n", "deny");
	assert_non_null(e);
	assert_string_equal(e->reason, "workspace quota");
	assert_non_null(strstr(e->detail, "\"max_bytes\":100"));
	snprintf(p, sizeof(p), "%s/src/n", T.ws);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 50);
	big[30] = 'x';
	big[22] = 0;
	assert_int_equal(wr(1, 50, big), 22); /* exactly 100: the walk counted 28 */
	big[22] = 'x';
	big[10] = 0;
	assert_int_equal(wr(1, 0, big), 10); /* overwriting does not grow */
	assert_int_equal(wr(1, 72, "y"), -ENOSPC);
	assert_int_equal(truncate9(1, 200), -ENOSPC);
	assert_non_null(tfs_log_find(&T.log, "setattr", "src/n", "deny"));
	assert_int_equal(truncate9(1, 60), 0); /* shrinking is fine: 88 */
	assert_int_equal(wr(1, 60, "0123456789ab"), 12);
	assert_int_equal(wr(1, 72, "y"), -ENOSPC);
	big[10] = 'x';
	/* entries: 10 now; two more fit, the third does not */
	assert_int_equal(walk(0, 2, "src"), 0);
	assert_int_equal(lcreate(2, "b", P9_DOTL_WRONLY | P9_DOTL_CREATE), 0);
	assert_int_equal(symlink9(0, "l", "README"), 0);
	assert_int_equal(walk(0, 3, "src"), 0);
	assert_int_equal(lcreate(3, "c", P9_DOTL_WRONLY | P9_DOTL_CREATE), -ENOSPC);
	assert_false(exists("src/c"));
	e = tfs_log_find(&T.log, "create", "src/c", "deny");
	assert_non_null(e);
	assert_string_equal(e->reason, "workspace quota");
	/* removing gives room back: 72 bytes and one entry */
	assert_int_equal(clunk(1), 0);
	assert_int_equal(walk(0, 4, "src"), 0);
	assert_int_equal(unlinkat9(4, "n", 0), 0);
	assert_int_equal(walk(0, 5, "src"), 0);
	assert_int_equal(lcreate(5, "c", P9_DOTL_WRONLY | P9_DOTL_CREATE), 0);
	big[72] = 0;
	assert_int_equal(wr(5, 0, big), 72);
	assert_int_equal(wr(5, 72, "y"), -ENOSPC);
	/* O_APPEND writes at the end whatever the offset: counted so */
	assert_int_equal(truncate9(5, 62), 0); /* 90 */
	assert_int_equal(walk(0, 6, "README"), 0);
	assert_int_equal(lopen(6, P9_DOTL_WRONLY | P9_DOTL_APPEND), 0);
	assert_int_equal(wr(6, 0, "0123456789A"), -ENOSPC);
	assert_int_equal(wr(6, 0, "0123456789"), 10);
	assert_int_equal(wr(5, 62, "y"), -ENOSPC);
	snprintf(p, sizeof(p), "%s/README", T.ws);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 17);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_allowed_and_summed, setup, stop),
	    cmocka_unit_test_setup_teardown(test_env_denied_and_audited, setup, stop),
	    cmocka_unit_test_setup_teardown(test_create_write_owner, setup, stop),
	    cmocka_unit_test_setup_teardown(test_walk_dotdot_escape, setup, stop),
	    cmocka_unit_test_setup_teardown(test_symlink_escapes, setup, stop),
	    cmocka_unit_test_setup_teardown(test_host_symlink_swap_under_fid, setup, stop),
	    cmocka_unit_test_setup_teardown(test_rename_dir_under_fid, setup, stop),
	    cmocka_unit_test_setup_teardown(test_overlong_fid_path, setup, stop),
	    cmocka_unit_test_setup_teardown(test_link_rules, setup, stop),
	    cmocka_unit_test_setup_teardown(test_metadata_ops, setup, stop),
	    cmocka_unit_test_setup_teardown(test_readdir, setup, stop),
	    cmocka_unit_test_setup_teardown(test_version_and_msize, setup, stop),
	    cmocka_unit_test_setup_teardown(test_malformed_closes, setup, stop),
	    cmocka_unit_test_setup_teardown(test_fid_limit, setup, stop),
	    cmocka_unit_test_setup_teardown(test_audit_mode, setup, stop),
	    cmocka_unit_test_setup_teardown(test_fail_closed, setup, stop),
	    cmocka_unit_test_setup_teardown(test_failing_sink_records_refusals, setup, stop),
	    cmocka_unit_test_setup_teardown(test_refusals_have_rows, setup, stop),
	    cmocka_unit_test_setup_teardown(test_rename_link_battery, setup, stop),
	    cmocka_unit_test_setup_teardown(test_quota, setup_quota, stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
