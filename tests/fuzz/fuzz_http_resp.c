// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the HTTP response head parser the proxy uses to
 * follow responses on keep-alive connections: walks pipelined responses
 * the way prx_resp_advance does and checks what it reports (status range,
 * head inside the input, framing either length or chunked).
 */
#include <stdint.h>
#include <string.h>

#include "gateway/net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	for (int n = 0; n < 64 && off < size; n++) {
		struct http_resp r;
		struct http_req fr;
		struct http_body b;
		size_t used = 0;
		int ret = http_parse_resp(data + off, size - off, &r);

		if (ret != 0) {
			if (ret != -AGW_ETRUNC && ret != -AGW_EPARSE)
				__builtin_trap();
			break;
		}
		if (r.status < 100 || r.status > 599 || r.head_len < 16 ||
		    r.head_len > size - off || r.head_len > HTTP_HEAD_MAX ||
		    r.content_length < -2 || (r.chunked && r.content_length == -2) ||
		    memcmp(data + off + r.head_len - 4, "\r\n\r\n", 4) != 0)
			__builtin_trap();
		off += r.head_len;
		if (r.status < 200 || r.status == 204 || r.status == 304)
			continue;
		if (r.content_length == -2 || (r.content_length < 0 && !r.chunked))
			break; /* delimited by close */
		memset(&fr, 0, sizeof(fr));
		fr.content_length = r.content_length;
		fr.chunked = r.chunked;
		http_body_init(&b, &fr);
		ret = http_body_consume(&b, data + off, size - off, &used);
		if (ret < 0 || ret == 0 || used > size - off)
			break;
		off += used;
	}
	return 0;
}
