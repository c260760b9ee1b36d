// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the control protocol codec: splits the input into
 * frames the way agentgw-init does and decodes each payload with every
 * typed decoder; an EXEC that decodes is re-encoded and must round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "vmctl/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ctl_exec e, e2;
	static uint8_t out[CTL_MAX_FRAME];
	uint8_t *copy = malloc(size ? size : 1);
	size_t off = 0, flen;
	struct ctl_hdr h;

	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	while (ctl_frame_parse(copy + off, size - off, &h, &flen) == 0) {
		uint8_t *p = copy + off + CTL_HDR_LEN;
		uint32_t a, b;
		uint16_t r, c;
		int32_t code;
		const char *t;
		size_t tl;

		ctl_hello_decode(p, h.len, &a, &b);
		ctl_u32_decode(p, h.len, &a);
		ctl_resize_decode(p, h.len, &r, &c);
		ctl_exit_decode(p, h.len, &code, &a);
		if (ctl_error_decode(p, h.len, &code, &t, &tl) == 0 && tl > h.len)
			abort();
		if (h.type == CTL_EXEC && ctl_exec_decode(p, h.len, h.flags, &e) == 0) {
			int n = ctl_encode_exec_as(
			    out, sizeof(out), h.id, (const char *const *)e.argv,
			    (const char *const *)e.env, e.cwd, e.user, e.pty, e.rows, e.cols);

			if (n < 0 || (size_t)n != flen || memcmp(out + CTL_HDR_LEN, p, h.len) != 0)
				abort();
			if (ctl_exec_decode(out + CTL_HDR_LEN, h.len, h.flags, &e2) != 0 ||
			    e2.argc != e.argc || e2.envc != e.envc || strcmp(e2.user, e.user) != 0)
				abort();
		}
		off += flen;
	}
	free(copy);
	return 0;
}
