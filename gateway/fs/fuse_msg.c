// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The FUSE request parser for virtio-fs: bounds and layout checks only, no
 * I/O. The table says, per opcode, the fixed struct's size and how many
 * NUL-terminated names follow it.
 */
#include "gateway/fs/fuse_msg.h"

#include <string.h>

#include "agw.h"

struct fuse_layout {
	uint32_t op;
	const char *name;
	uint16_t fixed;
	uint8_t names; /* NUL-terminated strings after the fixed part */
	uint8_t tail;  /* 1: WRITE data, 2: BATCH_FORGET entries, 3: INIT (short ok) */
};

static const struct fuse_layout fuse_layouts[] = {
    {FUSE_LOOKUP, "LOOKUP", 0, 1, 0},
    {FUSE_FORGET, "FORGET", sizeof(struct fuse_forget_in), 0, 0},
    {FUSE_GETATTR, "GETATTR", sizeof(struct fuse_getattr_in), 0, 0},
    {FUSE_SETATTR, "SETATTR", sizeof(struct fuse_setattr_in), 0, 0},
    {FUSE_READLINK, "READLINK", 0, 0, 0},
    {FUSE_SYMLINK, "SYMLINK", 0, 2, 0},
    {FUSE_MKNOD, "MKNOD", sizeof(struct fuse_mknod_in), 1, 0},
    {FUSE_MKDIR, "MKDIR", sizeof(struct fuse_mkdir_in), 1, 0},
    {FUSE_UNLINK, "UNLINK", 0, 1, 0},
    {FUSE_RMDIR, "RMDIR", 0, 1, 0},
    {FUSE_RENAME, "RENAME", sizeof(struct fuse_rename_in), 2, 0},
    {FUSE_LINK, "LINK", sizeof(struct fuse_link_in), 1, 0},
    {FUSE_OPEN, "OPEN", sizeof(struct fuse_open_in), 0, 0},
    {FUSE_READ, "READ", sizeof(struct fuse_read_in), 0, 0},
    {FUSE_WRITE, "WRITE", sizeof(struct fuse_write_in), 0, 1},
    {FUSE_STATFS, "STATFS", 0, 0, 0},
    {FUSE_RELEASE, "RELEASE", sizeof(struct fuse_release_in), 0, 0},
    {FUSE_FSYNC, "FSYNC", sizeof(struct fuse_fsync_in), 0, 0},
    {FUSE_FLUSH, "FLUSH", sizeof(struct fuse_flush_in), 0, 0},
    {FUSE_INIT, "INIT", 16, 0, 3},
    {FUSE_OPENDIR, "OPENDIR", sizeof(struct fuse_open_in), 0, 0},
    {FUSE_READDIR, "READDIR", sizeof(struct fuse_read_in), 0, 0},
    {FUSE_RELEASEDIR, "RELEASEDIR", sizeof(struct fuse_release_in), 0, 0},
    {FUSE_FSYNCDIR, "FSYNCDIR", sizeof(struct fuse_fsync_in), 0, 0},
    {FUSE_ACCESS, "ACCESS", sizeof(struct fuse_access_in), 0, 0},
    {FUSE_CREATE, "CREATE", sizeof(struct fuse_create_in), 1, 0},
    {FUSE_INTERRUPT, "INTERRUPT", sizeof(struct fuse_interrupt_in), 0, 0},
    {FUSE_DESTROY, "DESTROY", 0, 0, 0},
    {FUSE_BATCH_FORGET, "BATCH_FORGET", sizeof(struct fuse_batch_forget_in), 0, 2},
    {FUSE_READDIRPLUS, "READDIRPLUS", sizeof(struct fuse_read_in), 0, 0},
    {FUSE_RENAME2, "RENAME2", sizeof(struct fuse_rename2_in), 2, 0},
};

static const struct fuse_layout *fuse_layout_of(uint32_t op)
{
	for (size_t i = 0; i < AGW_ARRAY_LEN(fuse_layouts); i++)
		if (fuse_layouts[i].op == op)
			return &fuse_layouts[i];
	return NULL;
}

const char *fuse_op_name(uint32_t opcode)
{
	const struct fuse_layout *l = fuse_layout_of(opcode);

	return l ? l->name : "unknown";
}

/* A NUL-terminated string at *off (at most FUSE_NAME_LIMIT bytes before it). */
static int fuse_take_name(const uint8_t *buf, size_t len, size_t *off, const char **s, size_t *sl)
{
	const uint8_t *nul;
	size_t room = len - *off;

	nul = memchr(buf + *off, 0, AGW_MIN(room, (size_t)FUSE_NAME_LIMIT + 1));
	if (!nul)
		return -AGW_EPROTO;
	*s = (const char *)(buf + *off);
	*sl = (size_t)(nul - (buf + *off));
	*off += *sl + 1;
	return 0;
}

int fuse_req_parse(const uint8_t *buf, size_t len, struct fuse_req *r)
{
	const struct fuse_layout *l;
	size_t off = sizeof(struct fuse_in_header), fixed;

	memset(r, 0, sizeof(*r));
	if (len < sizeof(struct fuse_in_header))
		return -AGW_EPROTO;
	memcpy(&r->h, buf, sizeof(r->h));
	if (r->h.len != len)
		return -AGW_EPROTO;
	l = fuse_layout_of(r->h.opcode);
	if (!l)
		return -AGW_ENOTFOUND;
	fixed = l->fixed;
	if (l->tail == 3) /* INIT: older kernels send 16 bytes, newer 64 */
		fixed = AGW_MIN(len - off, sizeof(struct fuse_init_in));
	if (len - off < fixed || (l->tail == 3 && fixed < l->fixed))
		return -AGW_EPROTO;
	r->in = fixed ? buf + off : NULL;
	r->insz = fixed;
	off += fixed;
	if (l->names >= 1 && fuse_take_name(buf, len, &off, &r->name, &r->name_len) < 0)
		return -AGW_EPROTO;
	if (l->names >= 2 && fuse_take_name(buf, len, &off, &r->name2, &r->name2_len) < 0)
		return -AGW_EPROTO;
	if (l->tail == 1) {
		struct fuse_write_in w;

		memcpy(&w, r->in, sizeof(w));
		if (len - off < w.size)
			return -AGW_EPROTO;
		r->data = buf + off;
		r->data_len = w.size;
	} else if (l->tail == 2) {
		struct fuse_batch_forget_in b;

		memcpy(&b, r->in, sizeof(b));
		if (b.count > (len - off) / sizeof(struct fuse_forget_one))
			return -AGW_EPROTO;
		r->count = b.count;
		r->data = buf + off;
		r->data_len = (size_t)b.count * sizeof(struct fuse_forget_one);
	}
	return 0;
}
