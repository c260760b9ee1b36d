/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * FUSE requests as virtio-fs carries them: one request per descriptor
 * chain, a fuse_in_header then the opcode's arguments. fuse_req_parse is
 * a pure function over the gathered bytes: it checks the header's length
 * against the bytes there, each opcode's fixed argument size, that names
 * are NUL-terminated inside the request, and that WRITE's data and
 * BATCH_FORGET's entries are all present. Pointers in the result point into
 * the caller's buffer (not aligned: copy the fixed struct with memcpy).
 */
#ifndef AGW_FUSE_MSG_H
#define AGW_FUSE_MSG_H

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>

#define FUSE_NAME_LIMIT 1024u /* the kernel's longest name plus slack */

struct fuse_req {
	struct fuse_in_header h;
	const uint8_t *in; /* the opcode's fixed struct (insz bytes), or NULL */
	size_t insz;
	const char *name, *name2; /* NUL-terminated names, or NULL */
	size_t name_len, name2_len;
	const uint8_t *data; /* WRITE data, BATCH_FORGET entries */
	size_t data_len;
	uint32_t count; /* BATCH_FORGET entries */
};

/*
 * Parse one whole request. Returns 0; -AGW_EPROTO when the header is short
 * or its len disagrees with len, or the opcode's arguments do not fit (an
 * answer is still possible when r->h.unique is set: the header was read);
 * -AGW_ENOTFOUND for opcodes we do not parse (answered ENOSYS). Pure.
 */
int fuse_req_parse(const uint8_t *buf, size_t len, struct fuse_req *r);

/* "LOOKUP", ... or "unknown". Static storage. */
const char *fuse_op_name(uint32_t opcode);

#endif
