// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the HTTP request head parser and body framing:
 * walks pipelined requests the way the proxy does, and checks that body
 * framing gives the same boundary whether the bytes come at once or split,
 * or with the data bytes skipped unread as the proxy's splice does,
 * that every accepted path decodes to one without dot segments, controls
 * or backslashes, and that the sniffers never read past the input.
 */
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "gateway/net/deny.h"
#include "gateway/net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decoded path holds no '\\', control byte or '.'/'..' segment, and
 * stripping ";params" never makes it longer. */
static void http_fuzz_path(const char *path)
{
	char out[2048 * 3], st[2048 * 3];
	const char *why, *seg;
	int r1, r2;

	r1 = http_path_decode((const uint8_t *)path, strlen(path), out, sizeof(out), 0, &why);
	r2 = http_path_decode((const uint8_t *)path, strlen(path), st, sizeof(st),
			      HTTP_PATH_STRIP_PARAMS, &why);
	if ((r1 == 0) != (r2 == 0) || (r1 && !why) || (r1 && r1 != -AGW_EPARSE))
		__builtin_trap();
	if (r1)
		return;
	if (strlen(st) > strlen(out) || strchr(out, '\\'))
		__builtin_trap();
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			__builtin_trap();
	for (seg = out; seg && *seg; seg = strchr(seg + 1, '/')) {
		const char *q = seg + (*seg == '/');
		size_t n = strcspn(q, "/;");

		if ((n == 1 && q[0] == '.') || (n == 2 && q[0] == '.' && q[1] == '.'))
			__builtin_trap();
	}
}

/*
 * The proxy's splice path: data bytes passed unread with http_body_skip
 * (as many as http_body_data_left allows, up to 7 at a time), framing
 * bytes consumed one by one. The body must end where consuming it whole
 * ends it. Returns that end, or -1 when the body does not end in buf or
 * its framing is refused.
 */
static int64_t http_fuzz_skip_walk(const struct http_req *r, const uint8_t *buf, size_t len)
{
	struct http_body b;
	size_t i = 0, used;
	int rc = 0;

	http_body_init(&b, r);
	if (b.state == HTTP_BODY_DONE)
		return 0;
	while (i < len) {
		uint64_t k = http_body_data_left(&b);

		if (k) {
			k = k < 7 ? k : 7;
			k = k < len - i ? k : len - i;
			rc = http_body_skip(&b, k);
			i += (size_t)k;
		} else {
			rc = http_body_consume(&b, buf + i, 1, &used);
			if (rc < 0)
				return -1;
			i += used;
			if (rc == 0 && used != 1)
				__builtin_trap();
		}
		if (rc == 1)
			return (int64_t)i;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	char out[DENY_HTTP_MAX];
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
		http_fuzz_path(r.path);
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
		if (http_fuzz_skip_walk(&r, data + off, rest) != (r1 == 1 ? (int64_t)used1 : -1))
			__builtin_trap();
		if (r1 != 1)
			break;
		off += used1;
	}
	(void)http_looks_like_http(data, size);
	(void)http_sniff(data, size);
	(void)http_scan_shaped(data, size);
	if (size < 300) {
		char s[300];

		memcpy(s, data, size);
		s[size] = '\0';
		if (deny_http_response(out, sizeof(out), s, s, s, &out_len) != 0 ||
		    out_len != strlen(out))
			__builtin_trap();
		/* whatever the strings, the body is one JSON object */
		json_t *j = json_loads(strstr(out, "\r\n\r\n") + 4, 0, NULL);

		if (!j || !json_is_string(json_object_get(j, "error")))
			__builtin_trap();
		json_decref(j);
	}
	return 0;
}
