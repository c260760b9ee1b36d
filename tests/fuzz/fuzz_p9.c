// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for 9P2000.L: decodes the input as one message (and
 * re-encodes what decodes, which must reproduce the bytes), then feeds the
 * input as a byte stream to a p9_conn serving a small policed workspace in
 * a temporary folder (read everywhere, everything under sub/, which the
 * diod seeds walk into), so framing, the fid table and every operation's
 * argument handling see hostile bytes. The folder is removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "audit/aud.h"
#include "gateway/fs/p9_msg.h"
#include "gateway/fs/p9_srv.h"
#include "policies/pol.h"

#include "fuzz_fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_decode(const uint8_t *data, size_t size)
{
	struct p9_msg m;
	uint8_t *out;
	size_t len = 0;

	if (p9_decode(data, size, &m) != 0)
		return;
	/* The one message decoded leniently: a Tfsync of older clients, with
	 * no datasync field, is re-encoded in the full form (4 bytes more). */
	if (m.type == P9_TFSYNC && size == P9_HDRSZ + 4)
		return;
	out = malloc(size + 16);
	if (!out)
		return;
	if (p9_encode(&m, out, size + 16, &len) != 0 || len != size || memcmp(out, data, size))
		abort(); /* decode and encode disagree */
	free(out);
}

static void fz_conn(const uint8_t *data, size_t size)
{
	struct p9_srv *srv = NULL;
	struct p9_conn *c = NULL;
	/* Start every stream with a Tversion so the rest reaches the operations. */
	static const uint8_t tversion[] = {21, 0, 0,   0,   100, 0xff, 0xff, 0,	  0x20, 0,  0,
					   8,  0, '9', 'P', '2', '0',  '0',  '0', '.',	'L'};

	if (fzfs_srv_new(64, &srv) < 0)
		return;
	if (p9_conn_new(srv, "fuzz", &c) == 0 &&
	    p9_conn_input(c, tversion, sizeof(tversion)) == 0) {
		size_t off = 0, n;

		while (off < size) {
			size_t room = p9_conn_room(c);
			int rc;

			if (room == 0) {
				p9_conn_output(c, &n);
				p9_conn_consume(c, n);
				if (p9_conn_process(c) < 0)
					break;
				room = p9_conn_room(c);
				if (room == 0)
					break;
			}
			n = AGW_MIN(room, size - off);
			rc = p9_conn_input(c, data + off, n);
			off += n;
			if (rc < 0)
				break;
			p9_conn_output(c, &n);
			p9_conn_consume(c, n);
		}
	}
	p9_conn_free(c);
	p9_srv_free(srv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fzfs_init("p9");
	fz_decode(data, size);
	fz_conn(data, size);
	return 0;
}
