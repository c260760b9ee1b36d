// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for virtio-fs: the input is a run of FUSE requests as
 * the guest's driver sends them, each framed by its own header's len (the
 * last one takes whatever is left). Each is parsed (fuse_req_parse) and fed
 * to a fuse_srv, after a real INIT, serving a small policed workspace in a
 * temporary folder (read everywhere, changes only under sub/), so node and
 * handle bookkeeping see hostile sequences. The same bytes also go to the
 * vhost-user message decoder and, as a fake guest memory holding a
 * descriptor table, to the chain walker. The folder is removed at exit.
 */
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "audit/aud.h"
#include "gateway/fs/fuse_msg.h"
#include "gateway/fs/fuse_srv.h"
#include "gateway/fs/p9_srv.h"
#include "gateway/fs/vu.h"
#include "policies/pol.h"

#include "fuzz_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t fz_out[FUSE_SRV_MAX_WRITE + 8192];

static void fz_session(const uint8_t *data, size_t size)
{
	struct p9_srv *srv = NULL;
	struct fuse_srv *fs = NULL;
	uint8_t init[sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in)];
	struct fuse_in_header h = {.len = sizeof(init), .opcode = FUSE_INIT, .unique = 1};
	struct fuse_init_in in = {.major = 7, .minor = 36, .flags = FUSE_DO_READDIRPLUS};
	size_t off = 0;

	if (fzfs_srv_new(0, &srv) < 0)
		return;
	if (fuse_srv_new(srv, &fs) < 0) {
		p9_srv_free(srv);
		return;
	}
	memcpy(init, &h, sizeof(h));
	memcpy(init + sizeof(h), &in, sizeof(in));
	(void)fuse_srv_handle(fs, init, sizeof(init), fz_out, sizeof(fz_out));
	while (off < size) {
		size_t n = size - off;
		uint32_t len;
		struct fuse_req q;

		if (n >= 4) {
			memcpy(&len, data + off, 4);
			if (len >= sizeof(struct fuse_in_header) && len < n)
				n = len;
		}
		(void)fuse_req_parse(data + off, n, &q);
		(void)fuse_srv_handle(fs, data + off, n, fz_out, sizeof(fz_out));
		off += n;
	}
	fuse_srv_free(fs);
	p9_srv_free(srv);
}

/* The bytes as a guest: region at 0x1000, descriptor table at its start. */
static void fz_ring(const uint8_t *data, size_t size)
{
	static struct vu_chain ch;
	static uint8_t mem[4096] __attribute__((aligned(16)));
	struct vu_mem m = {.n = 1};
	struct vu_msg vm;
	uint8_t buf[256];

	(void)vu_msg_check(data, size, &vm);
	if (size < 2)
		return;
	memset(mem, 0, sizeof(mem));
	memcpy(mem, data + 1, AGW_MIN(size - 1, sizeof(mem)));
	m.r[0] = (struct vu_region){.gpa = 0x1000, .size = sizeof(mem), .uva = 0, .host = mem};
	if (vu_chain_get(&m, mem, 16, data[0] % 20, &ch) == 0) {
		(void)vu_chain_gather(&ch, buf, sizeof(buf));
		(void)vu_chain_scatter(&ch, buf, sizeof(buf));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fzfs_init("fuse");
	fz_ring(data, size);
	fz_session(data, size);
	return 0;
}
