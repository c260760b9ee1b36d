// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the HTTP request head parser and body framing:
 * walks pipelined requests the way the proxy does, and checks that body
 * framing gives the same boundary whether the bytes come at once or split.
 */
#include <stdint.h>
#include <string.h>

#include "gateway/net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	char out[1024];
	size_t out_len;

	for (int n = 0; n < 64 && off < size; n++) {
		struct http_req r;
		struct http_body b1, b2;
		size_t used1 = 0, used2 = 0, used2b = 0, rest, half;
		int ret, r1, r2;

		ret = http_parse_request(data + off, size - off, &r);
		if (ret != 0) {
			if (ret != -AGW_ETRUNC && ret != -AGW_EPARSE && ret != -AGW_ETOOBIG)
				__builtin_trap();
			break;
		}
		if (r.head_len == 0 || r.head_len > size - off || r.head_len > HTTP_HEAD_MAX ||
		    r.version_minor < 0 || r.version_minor > 1 ||
		    (r.chunked && r.content_length >= 0))
			__builtin_trap();
		/* Host: lowercase name or address characters only. */
		if (strspn(r.host, "abcdefghijklmnopqrstuvwxyz0123456789.-_:") != strlen(r.host) ||
		    strlen(r.host) > HTTP_HOST_MAX || strlen(r.path) >= sizeof(r.path))
			__builtin_trap();
		off += r.head_len;
		rest = size - off;
		http_body_init(&b1, &r);
		http_body_init(&b2, &r);
		r1 = http_body_consume(&b1, data + off, rest, &used1);
		half = rest / 2;
		r2 = http_body_consume(&b2, data + off, half, &used2);
		if (r2 == 0) {
			if (used2 != half)
				__builtin_trap();
			r2 = http_body_consume(&b2, data + off + half, rest - half, &used2b);
			used2 += used2b;
		}
		if (r1 != r2 || (r1 == 1 && used1 != used2) || used1 > rest)
			__builtin_trap();
		if (r1 != 1)
			break;
		off += used1;
	}
	(void)http_looks_like_http(data, size);
	if (size < 300) {
		char s[300];

		memcpy(s, data, size);
		s[size] = '\0';
		if (http_build_403(out, sizeof(out), s, s, &out_len) == 0 && out_len != strlen(out))
			__builtin_trap();
	}
	return 0;
}
