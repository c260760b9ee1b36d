// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the HTTP/1.x request parser and body framing:
 * a table of good requests (origin, absolute, authority and asterisk form,
 * Host forms, keep-alive and upgrade) and hostile ones (request smuggling
 * via CL/TE, obs-fold, bare CR/LF, Host confusion, HTTP/0.9 and HTTP/2
 * preface), every truncation, head size limits, and pipelined requests with
 * Content-Length and chunked bodies fed whole and byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/http.h"

struct hcase {
	const char *d;
	const char *req;
	int ret;
	const char *method, *path, *host;
	uint16_t port;
	int minor;
	int64_t cl; /* expected content_length; 0 means -1 unless has_cl */
	bool has_cl, chunked, close, upgrade, expect;
};

#define H11 " HTTP/1.1\r\n"
#define HOST "Host: a.test\r\n"

static const struct hcase hcases[] = {
    {.d = "plain get",
     .req = "GET /" H11 HOST "\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "path and query kept as sent",
     .req = "GET /a/%2e%2e/b?x=1&y=%20" H11 HOST "\r\n",
     .method = "GET",
     .path = "/a/%2e%2e/b?x=1&y=%20",
     .host = "a.test"},
    {.d = "host with port, case folded, trailing dot",
     .req = "GET /" H11 "hOsT: WWW.A.Test.:8080\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "www.a.test",
     .port = 8080},
    {.d = "ipv6 host",
     .req = "GET /" H11 "Host: [2001:DB8::1]:443\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "2001:db8::1",
     .port = 443},
    {.d = "ipv4 host",
     .req = "GET /" H11 "Host: 192.0.2.7\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "192.0.2.7"},
    {.d = "numeric labels that are not an address",
     .req = "GET /q?a={1}|b^`" H11 "Host: 10.20.example.123a\r\n\r\n",
     .method = "GET",
     .path = "/q?a={1}|b^`",
     .host = "10.20.example.123a"},
    {.d = "http/1.0 without host",
     .req = "GET / HTTP/1.0\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "",
     .close = true},
    {.d = "http/1.0 keep-alive",
     .req = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n" HOST "\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "connection close in a list",
     .req = "GET /" H11 HOST "Connection: foo, close\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test",
     .close = true},
    {.d = "post with length",
     .req = "POST /api" H11 HOST "Content-Length: 5\r\n\r\n",
     .method = "POST",
     .path = "/api",
     .host = "a.test",
     .cl = 5,
     .has_cl = true},
    {.d = "content-length list of equal values",
     .req = "POST /" H11 HOST "Content-Length: 7, 7\r\ncontent-length: 7\r\n\r\n",
     .method = "POST",
     .path = "/",
     .host = "a.test",
     .cl = 7,
     .has_cl = true},
    {.d = "content-length zero",
     .req = "POST /" H11 HOST "Content-Length: 0\r\n\r\n",
     .method = "POST",
     .path = "/",
     .host = "a.test",
     .cl = 0,
     .has_cl = true},
    {.d = "chunked",
     .req = "POST /" H11 HOST "Transfer-Encoding: \tChunked \r\n\r\n",
     .method = "POST",
     .path = "/",
     .host = "a.test",
     .chunked = true},
    {.d = "absolute form",
     .req = "GET http://A.test/x?y" H11 HOST "\r\n",
     .method = "GET",
     .path = "/x?y",
     .host = "a.test"},
    {.d = "absolute form no path",
     .req = "GET http://a.test" H11 HOST "\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "absolute form query only",
     .req = "GET HTTP://a.test?q=1" H11 HOST "\r\n",
     .method = "GET",
     .path = "/?q=1",
     .host = "a.test"},
    {.d = "absolute form default port vs host",
     .req = "GET http://a.test:80/" H11 HOST "\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test",
     .port = 80},
    {.d = "absolute https",
     .req = "GET https://a.test/" H11 "Host: a.test:443\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "connect",
     .req = "CONNECT a.test:443" H11 "Host: a.test:443\r\n\r\n",
     .method = "CONNECT",
     .path = "",
     .host = "a.test",
     .port = 443,
     .upgrade = true},
    {.d = "connect without host header",
     .req = "CONNECT [2001:db8::5]:22" H11 "\r\n",
     .method = "CONNECT",
     .path = "",
     .host = "2001:db8::5",
     .port = 22,
     .upgrade = true},
    {.d = "options asterisk",
     .req = "OPTIONS *" H11 HOST "\r\n",
     .method = "OPTIONS",
     .path = "*",
     .host = "a.test"},
    {.d = "websocket upgrade",
     .req = "GET /ws" H11 HOST "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
     .method = "GET",
     .path = "/ws",
     .host = "a.test",
     .upgrade = true},
    {.d = "upgrade header without connection token",
     .req = "GET /" H11 HOST "Upgrade: h2c\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "expect continue",
     .req = "PUT /f" H11 HOST "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
     .method = "PUT",
     .path = "/f",
     .host = "a.test",
     .cl = 3,
     .has_cl = true,
     .expect = true},
    {.d = "obs-text and tab in a value",
     .req = "GET /" H11 HOST "X-A: caf\xc3\xa9\tb\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "empty value",
     .req = "GET /" H11 HOST "X-Empty:\r\n\r\n",
     .method = "GET",
     .path = "/",
     .host = "a.test"},
    {.d = "extension method",
     .req = "PROPFIND /d" H11 HOST "\r\n",
     .method = "PROPFIND",
     .path = "/d",
     .host = "a.test"},
    /* hostile: Host */
    {.d = "missing host on 1.1", .req = "GET /" H11 "\r\n", .ret = -AGW_EPARSE},
    {.d = "duplicate host", .req = "GET /" H11 HOST HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "duplicate host differing",
     .req = "GET /" H11 HOST "Host: b.test\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "empty host", .req = "GET /" H11 "Host: \r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host userinfo", .req = "GET /" H11 "Host: u@a.test\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host space", .req = "GET /" H11 "Host: a test\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host list", .req = "GET /" H11 "Host: a.test, b.test\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host port too big", .req = "GET /" H11 "Host: a.test:65536\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host port empty", .req = "GET /" H11 "Host: a.test:\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host port zero", .req = "GET /" H11 "Host: a.test:0\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host port junk", .req = "GET /" H11 "Host: a.test:8x\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host percent", .req = "GET /" H11 "Host: a%2etest\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host empty label", .req = "GET /" H11 "Host: a..test\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host ipv6 zone", .req = "GET /" H11 "Host: [fe80::1%eth0]\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host short ipv4", .req = "GET /" H11 "Host: 127.1\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host integer ipv4", .req = "GET /" H11 "Host: 2130706433\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host hex ipv4", .req = "GET /" H11 "Host: 0x7f.0.0.1\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host hex last label", .req = "GET /" H11 "Host: a.0x7f\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host octal ipv4", .req = "GET /" H11 "Host: 0177.0.0.1\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host ipv4 octet > 255",
     .req = "GET /" H11 "Host: 192.0.2.256\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "host five parts", .req = "GET /" H11 "Host: 1.2.3.4.5\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "host with NUL", .req = "GET /" H11 "Host: a.test\0.evil\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "space before colon", .req = "GET /" H11 "Host : a.test\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "absolute form host differs",
     .req = "GET http://b.test/" H11 HOST "\r\n",
     .ret = -AGW_EPARSE},
    {.d = "absolute form port differs",
     .req = "GET http://a.test:8080/" H11 HOST "\r\n",
     .ret = -AGW_EPARSE},
    {.d = "absolute form userinfo",
     .req = "GET http://u:p@a.test/" H11 HOST "\r\n",
     .ret = -AGW_EPARSE},
    {.d = "absolute form other scheme",
     .req = "GET ftp://a.test/" H11 HOST "\r\n",
     .ret = -AGW_EPARSE},
    {.d = "absolute form missing host header",
     .req = "GET http://a.test/" H11 "\r\n",
     .ret = -AGW_EPARSE},
    {.d = "connect host differs",
     .req = "CONNECT a.test:443" H11 "Host: b.test:443\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "connect without port", .req = "CONNECT a.test" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "connect origin form", .req = "CONNECT /" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "authority form without connect",
     .req = "GET a.test:443" H11 HOST "\r\n",
     .ret = -AGW_EPARSE},
    {.d = "asterisk without options", .req = "GET *" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    /* hostile: framing (request smuggling) */
    {.d = "CL and TE",
     .req = "POST /" H11 HOST "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE and CL",
     .req = "POST /" H11 HOST "Transfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "differing CL",
     .req = "POST /" H11 HOST "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "differing CL list",
     .req = "POST /" H11 HOST "Content-Length: 5, 6\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "negative CL", .req = "POST /" H11 HOST "Content-Length: -1\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "plus CL", .req = "POST /" H11 HOST "Content-Length: +5\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "hex CL", .req = "POST /" H11 HOST "Content-Length: 0x10\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "empty CL", .req = "POST /" H11 HOST "Content-Length:\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "CL overflow",
     .req = "POST /" H11 HOST "Content-Length: 99999999999999999999999\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "CL with trailing comma",
     .req = "POST /" H11 HOST "Content-Length: 5,\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE gzip, chunked",
     .req = "POST /" H11 HOST "Transfer-Encoding: gzip, chunked\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE chunked twice",
     .req = "POST /" H11 HOST "Transfer-Encoding: chunked, chunked\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE two headers",
     .req = "POST /" H11 HOST "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE identity",
     .req = "POST /" H11 HOST "Transfer-Encoding: identity\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE xchunked",
     .req = "POST /" H11 HOST "Transfer-Encoding: xchunked\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE vertical tab",
     .req = "POST /" H11 HOST "Transfer-Encoding:\013chunked\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "TE on http/1.0",
     .req = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     .ret = -AGW_EPARSE},
    {.d = "obs-fold", .req = "GET /" H11 HOST "X-A: a\r\n b\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "obs-fold tab", .req = "GET /" H11 HOST "X-A: a\r\n\tb\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "bare CR in value", .req = "GET /" H11 HOST "X-A: a\rb\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "bare LF line ends", .req = "GET / HTTP/1.1\nHost: a.test\n\n", .ret = -AGW_EPARSE},
    {.d = "bare LF in the blank line", .req = "GET /" H11 HOST "\n", .ret = -AGW_EPARSE},
    {.d = "control char", .req = "GET /" H11 HOST "X-A: \x01\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "DEL", .req = "GET /" H11 HOST "X-A: \x7f\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "header without colon", .req = "GET /" H11 HOST "Junk\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "header with empty name", .req = "GET /" H11 HOST ": x\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "header name with high byte",
     .req = "GET /" H11 HOST "X\xc3\xa9: x\r\n\r\n",
     .ret = -AGW_EPARSE},
    /* hostile: request line */
    {.d = "lowercase method", .req = "get /" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "method too long", .req = "ABCDEFGHIJKLMNOPQ /" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "http/0.9", .req = "GET /\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "http/2 preface", .req = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .ret = -AGW_EPARSE},
    {.d = "http/2.0", .req = "GET / HTTP/2.0\r\n" HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "http/1.2", .req = "GET / HTTP/1.2\r\n" HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "lowercase version", .req = "GET / http/1.1\r\n" HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "trailing space", .req = "GET / HTTP/1.1 \r\n" HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "double space", .req = "GET  /" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "tab separator", .req = "GET\t/" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "space in target", .req = "GET /a b" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "fragment in target", .req = "GET /a#b" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "raw utf-8 in target", .req = "GET /caf\xc3\xa9" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "quote in target", .req = "GET /a\"b" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "backslash in target", .req = "GET /a\\..\\b" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "leading blank line", .req = "\r\nGET /" H11 HOST "\r\n", .ret = -AGW_EPARSE},
    {.d = "tls", .req = "\x16\x03\x01\x02\x00\x01", .ret = -AGW_EPARSE},
    /* incomplete */
    {.d = "partial head", .req = "GET /" H11 "Host: a", .ret = -AGW_ETRUNC},
    {.d = "partial method", .req = "GE", .ret = -AGW_ETRUNC},
    {.d = "ends in CR", .req = "GET /" H11 HOST "\r", .ret = -AGW_ETRUNC},
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < AGW_ARRAY_LEN(hcases); i++) {
		const struct hcase *c = &hcases[i];
		struct http_req r;
		size_t len = strlen(c->req);
		int ret;

		if (strstr(c->d, "NUL"))
			len = strlen(c->req) + 1 + strlen(c->req + strlen(c->req) + 1);
		print_message("case %zu: %s\n", i, c->d);
		ret = http_parse_request((const uint8_t *)c->req, len, &r);
		assert_int_equal(ret, c->ret);
		if (ret != 0)
			continue;
		assert_int_equal(r.head_len, len);
		assert_string_equal(r.method, c->method);
		assert_string_equal(r.path, c->path);
		assert_string_equal(r.host, c->host);
		assert_int_equal(r.host_port, c->port);
		assert_int_equal(r.version_minor, strstr(c->req, "HTTP/1.0") ? 0 : 1);
		assert_int_equal(r.content_length, c->has_cl ? c->cl : -1);
		assert_int_equal(r.chunked, c->chunked);
		assert_int_equal(r.conn_close, c->close);
		assert_int_equal(r.upgrade, c->upgrade);
		assert_int_equal(r.expect_continue, c->expect);
	}
}

static const char curl_get[] = "GET /path?q=1 HTTP/1.1\r\nHost: allowed.test:15080\r\nUser-Agent: "
			       "curl/7.88.1\r\nAccept: */*\r\n\r\n";

static void test_method_override(void **state)
{
	static const char *const reqs[] = {
	    "POST /api HTTP/1.1\r\nHost: a\r\nX-HTTP-Method-Override: DELETE\r\n\r\n",
	    "POST /api HTTP/1.1\r\nHost: a\r\nx-http-method: PUT\r\n\r\n",
	    "POST /api HTTP/1.1\r\nHost: a\r\nX-Method-Override: PATCH\r\n\r\n",
	};
	struct http_req r;

	for (size_t i = 0; i < AGW_ARRAY_LEN(reqs); i++) {
		assert_int_equal(http_parse_request((const uint8_t *)reqs[i], strlen(reqs[i]), &r),
				 0);
		assert_true(r.method_override);
		assert_string_equal(r.method, "POST");
	}
	assert_int_equal(http_parse_request((const uint8_t *)curl_get, strlen(curl_get), &r), 0);
	assert_false(r.method_override);
}

static void test_truncations(void **state)
{
	struct http_req r;
	size_t n = strlen(curl_get);

	assert_int_equal(http_parse_request((const uint8_t *)curl_get, n, &r), 0);
	assert_int_equal(r.head_len, n);
	assert_string_equal(r.host, "allowed.test");
	assert_int_equal(r.host_port, 15080);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(http_parse_request((const uint8_t *)curl_get, i, &r), -AGW_ETRUNC);
	/* The head ends at the blank line; what follows is not looked at. */
	{
		char buf[256];

		snprintf(buf, sizeof(buf), "%s\x01\x02garbage", curl_get);
		assert_int_equal(http_parse_request((const uint8_t *)buf, strlen(buf), &r), 0);
		assert_int_equal(r.head_len, n);
	}
}

static char big[HTTP_HEAD_MAX + 64];

/* A request whose head is exactly total bytes long. */
static size_t mkbig(size_t total)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Pad: ";
	size_t n = sizeof(pre) - 1;

	memcpy(big, pre, n);
	memset(big + n, 'p', total - n - 4);
	memcpy(big + total - 4, "\r\n\r\n", 4);
	return total;
}

static void test_head_limits(void **state)
{
	struct http_req r;
	size_t n;
	char path[2100];

	n = mkbig(HTTP_HEAD_MAX);
	assert_int_equal(http_parse_request((const uint8_t *)big, n, &r), 0);
	assert_int_equal(r.head_len, HTTP_HEAD_MAX);
	n = mkbig(HTTP_HEAD_MAX + 1);
	assert_int_equal(http_parse_request((const uint8_t *)big, n, &r), -AGW_ETOOBIG);
	assert_int_equal(http_parse_request((const uint8_t *)big, HTTP_HEAD_MAX, &r), -AGW_ETOOBIG);
	assert_int_equal(http_parse_request((const uint8_t *)big, HTTP_HEAD_MAX - 1, &r),
			 -AGW_ETRUNC);

	/* Path of 2047 bytes fits, 2048 does not. */
	path[0] = '/';
	memset(path + 1, 'x', 2046);
	snprintf(path + 2047, sizeof(path) - 2047, " HTTP/1.1\r\nHost: a\r\n\r\n");
	snprintf(big, sizeof(big), "GET %s", path);
	assert_int_equal(http_parse_request((const uint8_t *)big, strlen(big), &r), 0);
	assert_int_equal(strlen(r.path), 2047);
	snprintf(big, sizeof(big), "GET /%s", path);
	assert_int_equal(http_parse_request((const uint8_t *)big, strlen(big), &r), -AGW_EPARSE);

	/* Host of 253 fits, 254 does not. */
	memcpy(big, "GET / HTTP/1.1\r\nHost: ", 22);
	for (int i = 0; i < 4; i++) {
		memset(big + 22 + i * 64, 'h', 63);
		big[22 + i * 64 + 63] = '.';
	}
	memcpy(big + 22 + 253, "\r\n\r\n", 5);
	assert_int_equal(http_parse_request((const uint8_t *)big, strlen(big), &r), 0);
	assert_int_equal(strlen(r.host), 253);
	memcpy(big + 22 + 253, "h\r\n\r\n", 6);
	assert_int_equal(http_parse_request((const uint8_t *)big, strlen(big), &r), -AGW_EPARSE);
}

/* Walks pipelined requests; feeds bodies in pieces of step bytes. */
static int walk(const char *s, size_t step, char paths[][32], int max)
{
	size_t len = strlen(s), off = 0;
	int n = 0;

	while (off < len && n < max) {
		struct http_req r;
		struct http_body b;
		int ret = http_parse_request((const uint8_t *)s + off, len - off, &r);

		if (ret < 0)
			return ret;
		snprintf(paths[n++], 32, "%.15s %.15s", r.method, r.path);
		off += r.head_len;
		http_body_init(&b, &r);
		for (;;) {
			size_t used, piece = AGW_MIN(step, len - off);

			ret = http_body_consume(&b, (const uint8_t *)s + off, piece, &used);
			if (ret < 0)
				return ret;
			off += used;
			if (ret == 1)
				break;
			assert_int_equal(used, piece);
			if (off == len)
				return -AGW_ETRUNC;
		}
	}
	return n;
}

static void test_pipelined(void **state)
{
	static const char pipe[] =
	    "POST /one HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhelloPOST /two "
	    "HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n5;ext=1;q=\"x\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-"
	    "Trailer: v\r\nX-Two: w\r\n\r\nGET /three HTTP/1.1\r\nHost: a.test\r\n\r\nDELETE /four "
	    "HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
	static const size_t steps[] = {1, 2, 3, 7, 64, 4096};
	char paths[8][32];

	for (size_t i = 0; i < AGW_ARRAY_LEN(steps); i++) {
		memset(paths, 0, sizeof(paths));
		assert_int_equal(walk(pipe, steps[i], paths, 8), 4);
		assert_string_equal(paths[0], "POST /one");
		assert_string_equal(paths[1], "POST /two");
		assert_string_equal(paths[2], "GET /three");
		assert_string_equal(paths[3], "DELETE /four");
	}
	/* A smuggled request inside a chunked body stays body. */
	assert_int_equal(
	    walk(
		"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n20\r\nGET /admin "
		"HTTP/1.1\r\nHost: a\r\n\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
		1, paths, 8),
	    2);
	assert_string_equal(paths[0], "POST /a");
	assert_string_equal(paths[1], "GET /b");
	/* The classic CL.TE attack is refused at the head. */
	assert_int_equal(walk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
			      "6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
			      4096, paths, 8),
			 -AGW_EPARSE);
	/* Incomplete body. */
	assert_int_equal(
	    walk("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nabc", 4096, paths, 8),
	    -AGW_ETRUNC);
}

struct bcase {
	const char *d;
	const char *body;
	int ret;
	size_t used;
};

static const struct bcase bcases[] = {
    {"last chunk only", "0\r\n\r\n", 1, 5},
    {"upper hex", "A\r\n0123456789\r\n0\r\n\r\n", 1, 20},
    {"leading zeros", "0005\r\nhello\r\n0\r\n\r\nNEXT", 1, 18},
    {"extension", "1;a=b\r\nx\r\n0;last\r\n\r\n", 1, 20},
    {"trailers", "0\r\nA: 1\r\nB: 2\r\n\r\nX", 1, 17},
    {"15 hex digits accepted, need more", "fffffffffffffff\r\n", 0, 17},
    {"16 hex digits", "0000000000000001\r\nx\r\n0\r\n\r\n", -AGW_EPARSE, 0},
    {"no digits", "\r\n", -AGW_EPARSE, 0},
    {"bad hex", "g\r\n", -AGW_EPARSE, 0},
    {"0x prefix", "0x5\r\n", -AGW_EPARSE, 0},
    {"negative", "-5\r\n", -AGW_EPARSE, 0},
    {"space after size", "5 \r\nhello\r\n", -AGW_EPARSE, 0},
    {"bare LF after size", "5\nhello\r\n", -AGW_EPARSE, 0},
    {"CR without LF after size", "5\rhello\r\n", -AGW_EPARSE, 0},
    {"data longer than size", "5\r\nhelloX\r\n", -AGW_EPARSE, 0},
    {"LF only after data", "5\r\nhello\n0\r\n\r\n", -AGW_EPARSE, 0},
    {"control in extension", "5;\x01\r\nhello\r\n", -AGW_EPARSE, 0},
    {"trailer obs-fold", "0\r\nA: 1\r\n b\r\n\r\n", -AGW_EPARSE, 0},
    {"trailer control char", "0\r\nA: \x01\r\n\r\n", -AGW_EPARSE, 0},
    {"trailer bare LF", "0\r\nA: 1\n\r\n", -AGW_EPARSE, 0},
    {"final CR without LF", "0\r\n\rX", -AGW_EPARSE, 0},
};

static void test_chunked_table(void **state)
{
	struct http_req r = {.chunked = true, .content_length = -1};

	for (size_t i = 0; i < AGW_ARRAY_LEN(bcases); i++) {
		const struct bcase *c = &bcases[i];
		struct http_body b;
		size_t used = 99, len = strlen(c->body);
		int ret;

		print_message("case %zu: %s\n", i, c->d);
		http_body_init(&b, &r);
		ret = http_body_consume(&b, (const uint8_t *)c->body, len, &used);
		assert_int_equal(ret, c->ret);
		if (ret >= 0)
			assert_int_equal(used, c->ret == 1 ? c->used : len);
		/* Byte by byte gives the same verdict. */
		http_body_init(&b, &r);
		for (size_t j = 0, total = 0; j < len; j++) {
			ret = http_body_consume(&b, (const uint8_t *)c->body + j, 1, &used);
			if (ret != 0) {
				total += used;
				assert_int_equal(ret, c->ret);
				if (ret == 1)
					assert_int_equal(total + j, c->used);
				break;
			}
			if (j == len - 1)
				assert_int_equal(c->ret, 0);
		}
	}
}

static void test_chunk_limits(void **state)
{
	struct http_req r = {.chunked = true, .content_length = -1};
	struct http_body b;
	char line[HTTP_CHUNK_LINE_MAX + 8];
	size_t used;

	/* Chunk extension longer than the line limit. */
	http_body_init(&b, &r);
	memset(line, 'e', sizeof(line));
	line[0] = '1';
	line[1] = ';';
	assert_int_equal(http_body_consume(&b, (const uint8_t *)line, sizeof(line), &used),
			 -AGW_EPARSE);
	/* Trailers longer than HTTP_TRAILER_MAX in total. */
	http_body_init(&b, &r);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"0\r\n", 3, &used), 0);
	for (int i = 0; i < 1000; i++) {
		int ret = http_body_consume(&b, (const uint8_t *)"X-T: 0123456789\r\n", 17, &used);

		if (ret < 0) {
			assert_int_equal(ret, -AGW_EPARSE);
			assert_true(i * 17 >= HTTP_TRAILER_MAX - 17);
			return;
		}
	}
	fail_msg("trailers were never limited");
}

/* Data bytes passed unread (the proxy's splice): the framing goes on
 * exactly where reading them would have left it. */
static void test_body_skip(void **state)
{
	struct http_req r = {.content_length = 10};
	struct http_body b;
	size_t used;

	(void)state;
	http_body_init(&b, &r);
	assert_int_equal(http_body_data_left(&b), 10);
	assert_int_equal(http_body_skip(&b, 11), -AGW_EINVAL); /* more than is left: nothing */
	assert_int_equal(http_body_data_left(&b), 10);
	assert_int_equal(http_body_skip(&b, 4), 0);
	assert_int_equal(http_body_data_left(&b), 6);
	assert_int_equal(http_body_skip(&b, 6), 1);
	assert_int_equal(http_body_data_left(&b), 0);
	assert_int_equal(http_body_skip(&b, 0), 1); /* complete stays complete */
	/* Chunked: only chunk data may be skipped; the CRLF and the next size
	 * line are read. */
	r.content_length = -1;
	r.chunked = true;
	http_body_init(&b, &r);
	assert_int_equal(http_body_data_left(&b), 0); /* a size line comes first */
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"a\r\nxy", 5, &used), 0);
	assert_int_equal(http_body_data_left(&b), 8);
	assert_int_equal(http_body_skip(&b, 8), 0);
	assert_int_equal(http_body_data_left(&b), 0);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"\r\n0\r\n\r\nGET", 10, &used), 1);
	assert_int_equal(used, 7);
	/* Skipping where framing is next changes nothing. */
	http_body_init(&b, &r);
	assert_int_equal(http_body_skip(&b, 1), -AGW_EINVAL);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"1\r\nz\r\n0\r\n\r\n", 11, &used), 1);
}

static void test_body_framing(void **state)
{
	struct http_req r = {.content_length = -1};
	struct http_body b;
	size_t used = 7;

	/* No CL, no TE: no body. */
	http_body_init(&b, &r);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"GET", 3, &used), 1);
	assert_int_equal(used, 0);
	/* Content-Length 0. */
	r.content_length = 0;
	http_body_init(&b, &r);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"x", 1, &used), 1);
	assert_int_equal(used, 0);
	/* A large Content-Length counted down across calls. */
	r.content_length = 10000000000LL;
	http_body_init(&b, &r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(http_body_consume(&b, (const uint8_t *)big, sizeof(big), &used),
				 0);
		assert_int_equal(used, sizeof(big));
	}
	assert_int_equal(b.remaining, 10000000000ULL - 3 * sizeof(big));
	r.content_length = 4;
	http_body_init(&b, &r);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"ab", 2, &used), 0);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"cdGET", 5, &used), 1);
	assert_int_equal(used, 2);
	assert_int_equal(http_body_consume(&b, (const uint8_t *)"more", 4, &used), 1);
	assert_int_equal(used, 0);
}

static void test_looks_like_http(void **state)
{
	assert_true(http_looks_like_http((const uint8_t *)"GET / HTTP/1.1", 14));
	assert_true(http_looks_like_http((const uint8_t *)"G", 1));
	assert_true(http_looks_like_http((const uint8_t *)"M-SEARCH *", 10));
	assert_false(http_looks_like_http((const uint8_t *)" GET", 4));
	assert_false(http_looks_like_http((const uint8_t *)"get /", 5));
	assert_false(http_looks_like_http((const uint8_t *)"\x16\x03\x01", 3));
	assert_false(http_looks_like_http((const uint8_t *)"SSH-2.0-OpenSSH", 15));
	assert_false(http_looks_like_http((const uint8_t *)"ABCDEFGHIJKLMNOP /", 18));
	assert_false(http_looks_like_http((const uint8_t *)"", 0));
}

/* ---- http_path_decode ---- */

struct pcase {
	const char *d, *in;
	int ret;
	const char *out, *stripped; /* stripped NULL: same as out */
};

static const struct pcase pcases[] = {
    {"plain", "/docs/a", 0, "/docs/a", NULL},
    {"query not decoded or kept", "/docs/a?x=%2f&y=..", 0, "/docs/a", NULL},
    {"escapes decoded", "/d%6fcs/%41%20b", 0, "/docs/A b", NULL},
    {"percent re-escaped, not decoded twice", "/%2564ocs/x", 0, "/%2564ocs/x", NULL},
    {"encoded ? and # re-escaped", "/a%3fb%23c", 0, "/a%3Fb%23c", NULL},
    {"8-bit bytes kept", "/caf%C3%A9", 0, "/caf\xc3\xa9", NULL},
    {"asterisk", "*", 0, "*", NULL},
    {"empty (CONNECT)", "", 0, "", NULL},
    {"dots inside names are fine", "/a/..b/c../.x/...", 0, "/a/..b/c../.x/...", NULL},
    {"params stripped per segment", "/docs;v=1/a;jsessionid=x", 0, "/docs;v=1/a;jsessionid=x",
     "/docs/a"},
    {"encoded ; is not a param to Tomcat", "/docs/a%3bb", 0, "/docs/a;b", "/docs/a;b"},
    {"..%2f", "/docs/..%2fadmin", -AGW_EPARSE, NULL, NULL},
    {"..%2F", "/docs/..%2Fadmin", -AGW_EPARSE, NULL, NULL},
    {"%2e%2e%2f", "/docs/%2e%2e%2fadmin", -AGW_EPARSE, NULL, NULL},
    {"encoded slash alone", "/docs%2fadmin", -AGW_EPARSE, NULL, NULL},
    {"dot-dot segment", "/docs/../admin", -AGW_EPARSE, NULL, NULL},
    {"dot segment", "/docs/./a", -AGW_EPARSE, NULL, NULL},
    {"trailing dot-dot", "/docs/..", -AGW_EPARSE, NULL, NULL},
    {"trailing dot-dot before query", "/docs/..?x", -AGW_EPARSE, NULL, NULL},
    {"encoded dot-dot segment", "/docs/%2e%2e/admin", -AGW_EPARSE, NULL, NULL},
    {"mixed encoded dot-dot", "/docs/.%2E/admin", -AGW_EPARSE, NULL, NULL},
    {"..;/ (Tomcat)", "/docs/..;/admin", -AGW_EPARSE, NULL, NULL},
    {"..;x/ (Tomcat)", "/docs/..;x=1/admin", -AGW_EPARSE, NULL, NULL},
    {".;/", "/docs/.;/admin", -AGW_EPARSE, NULL, NULL},
    {"..%3b/", "/docs/..%3b/admin", -AGW_EPARSE, NULL, NULL},
    {"backslash", "/docs/..\\admin", -AGW_EPARSE, NULL, NULL},
    {"encoded backslash", "/docs/..%5cadmin", -AGW_EPARSE, NULL, NULL},
    {"encoded backslash lower", "/docs%5Cadmin", -AGW_EPARSE, NULL, NULL},
    {"NUL", "/docs/a%00.html", -AGW_EPARSE, NULL, NULL},
    {"control", "/docs/a%0d%0aX: y", -AGW_EPARSE, NULL, NULL},
    {"DEL", "/docs/%7f", -AGW_EPARSE, NULL, NULL},
    {"bad escape", "/docs/%zz", -AGW_EPARSE, NULL, NULL},
    {"short escape", "/docs/%4", -AGW_EPARSE, NULL, NULL},
    {"lone percent", "/docs/%", -AGW_EPARSE, NULL, NULL},
    {"not origin form", "docs/a", -AGW_EPARSE, NULL, NULL},
};

static void test_path_decode(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		char out[256], st[256];
		const char *why = NULL;
		int ret = http_path_decode((const uint8_t *)c->in, strlen(c->in), out, sizeof(out),
					   0, &why);

		if (ret != c->ret)
			fail_msg("%s: %s: ret %d, want %d", c->d, c->in, ret, c->ret);
		if (ret) {
			if (!why)
				fail_msg("%s: no reason", c->d);
			continue;
		}
		if (strcmp(out, c->out) != 0)
			fail_msg("%s: got '%s', want '%s'", c->d, out, c->out);
		ret = http_path_decode((const uint8_t *)c->in, strlen(c->in), st, sizeof(st),
				       HTTP_PATH_STRIP_PARAMS, &why);
		assert_int_equal(ret, 0);
		if (strcmp(st, c->stripped ? c->stripped : c->out) != 0)
			fail_msg("%s: stripped '%s'", c->d, st);
	}
}

static void test_path_decode_limits(void **state)
{
	char out[8];
	const char *why;

	(void)state;
	assert_int_equal(
	    http_path_decode((const uint8_t *)"/abcdefg", 8, out, sizeof(out), 0, &why),
	    -AGW_ETOOBIG);
	assert_int_equal(http_path_decode((const uint8_t *)"/abcdef", 7, out, sizeof(out), 0, &why),
			 0);
	assert_int_equal(http_path_decode((const uint8_t *)"/a%25", 5, out, 4, 0, &why),
			 -AGW_ETOOBIG);
	assert_int_equal(http_path_decode(NULL, 0, out, sizeof(out), 0, &why), 0);
	assert_string_equal(out, "");
}

/* ---- sniffing ---- */

struct scase {
	const char *d;
	const char *in;
	size_t len; /* 0: strlen */
	int ret;
};

static const struct scase scases[] = {
    {"GET", "GET / HTTP/1.1\r\n", 0, 1},
    {"uppercase token", "FOO /", 0, 1},
    {"uppercase prefix", "GE", 0, -AGW_ETRUNC},
    {"uppercase method, target pending", "GET ", 0, -AGW_ETRUNC},
    {"CONNECT", "CONNECT a.test:443 HTTP/1.1", 0, 1},
    {"connect, any case", "Connect a.test:443", 0, 1},
    {"SMTP EHLO", "EHLO client.example\r\n", 0, 0},
    {"FTP USER", "USER anonymous\r\n", 0, 0},
    {"redis inline", "PING\r\n", 0, 0},
    {"leading CRLF", "\r\nGET / HTTP/1.1\r\n", 0, 1},
    {"leading LF", "\nGET /", 0, 1},
    {"leading space", " GET /", 0, 1},
    {"leading tab", "\tGET /", 0, 1},
    {"lowercase method with path", "get /x HTTP/1.1\r\n", 0, 1},
    {"lowercase method with asterisk", "options * HTTP/1.1", 0, 1},
    {"lowercase method absolute", "get http://a.test/ HTTP/1.1", 0, 1},
    {"lowercase method absolute https", "get HTTPS://a.test/ HTTP/1.1", 0, 1},
    {"lowercase method, target pending", "get ", 0, -AGW_ETRUNC},
    {"lowercase method, scheme pending", "get htt", 0, -AGW_ETRUNC},
    {"token prefix", "x", 0, -AGW_ETRUNC},
    {"SSH banner", "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n", 0, 0},
    {"SSH banner, no comment", "SSH-2.0-OpenSSH_9.6\r\n", 0, 0},
    {"redis RESP", "*1\r\n$4\r\nPING\r\n", 0, 0},
    {"lowercase word then text", "hello world", 0, 0},
    {"postgres startup", "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8, 0},
    {"TLS record", "\x16\x03\x01", 3, 0},
    {"token too long", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa /", 0, 0},
    {"empty", "", 0, -AGW_ETRUNC},
};

static void test_http_sniff(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scases) / sizeof(scases[0]); i++) {
		const struct scase *c = &scases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		int ret = http_sniff((const uint8_t *)c->in, len);

		if (ret != c->ret)
			fail_msg("%s: ret %d, want %d", c->d, ret, c->ret);
	}
}

static void test_scan_shaped(void **state)
{
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00,
					0x01, 0xfc, 0x03, 0x03, 0xaa, 0xbb};
	uint8_t buf[64];

	(void)state;
	assert_true(http_scan_shaped(hello, sizeof(hello)));
	memset(buf, 'x', sizeof(buf));
	memcpy(buf + 30, hello, 11);
	assert_true(http_scan_shaped(buf, sizeof(buf)));
	assert_false(http_scan_shaped(buf, 40)); /* cut before the version */
	assert_true(http_scan_shaped((const uint8_t *)"x GET / HTTP/1.1\r\n", 18));
	assert_true(http_scan_shaped((const uint8_t *)"GET / HTTP/1.0\n", 15));
	assert_false(http_scan_shaped((const uint8_t *)"GET / HTTP/1.1", 14));
	assert_false(http_scan_shaped((const uint8_t *)"SSH-2.0-x HTTP/2.0\r\n", 20));
	assert_false(http_scan_shaped((const uint8_t *)"plain text\r\n", 12));
	assert_false(http_scan_shaped(NULL, 0));
}

/* ---- responses ---- */

struct rcase {
	const char *d, *in;
	int ret;
	int status;
	int64_t cl;
	bool chunked;
};

static const struct rcase rcases[] = {
    {"200 with length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nbody", 0, 200, 12, false},
    {"no reason phrase", "HTTP/1.1 204\r\n\r\n", 0, 204, -1, false},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, -1, true},
    {"chunked case", "HTTP/1.0 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\n", 0, 200, -1, true},
    {"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0, 101, -1, false},
    {"TE and CL: chunked wins",
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     0, 200, 5, true},
    {"gzip, chunked: close-delimited",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 200, -2, false},
    {"differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0,
     200, -2, false},
    {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", 0, 200, -2, false},
    {"length over 2^62", "HTTP/1.1 200 OK\r\nContent-Length: 40555555555555555555\r\n\r\n", 0, 200,
     -2, false},
    {"large length", "HTTP/1.1 200 OK\r\nContent-Length: 123456789012\r\n\r\n", 0, 200,
     123456789012, false},
    {"truncated head", "HTTP/1.1 200 OK\r\nContent-Len", -AGW_ETRUNC, 0, 0, false},
    {"truncated status", "HTTP/1", -AGW_ETRUNC, 0, 0, false},
    {"not http", "SSH-2.0-x\r\n\r\n", -AGW_EPARSE, 0, 0, false},
    {"not http, early", "<html>", -AGW_EPARSE, 0, 0, false},
    {"http/2", "HTTP/2 200\r\n\r\n", -AGW_EPARSE, 0, 0, false},
    {"status 600", "HTTP/1.1 600 X\r\n\r\n", -AGW_EPARSE, 0, 0, false},
    {"short status", "HTTP/1.1 20 X\r\n\r\n", -AGW_EPARSE, 0, 0, false},
};

static void test_parse_resp(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *c = &rcases[i];
		struct http_resp r;
		int ret = http_parse_resp((const uint8_t *)c->in, strlen(c->in), &r);

		if (ret != c->ret)
			fail_msg("%s: ret %d, want %d", c->d, ret, c->ret);
		if (ret)
			continue;
		if (r.status != c->status || r.content_length != c->cl || r.chunked != c->chunked)
			fail_msg("%s: status %d cl %lld chunked %d", c->d, r.status,
				 (long long)r.content_length, r.chunked);
		if (r.head_len != (size_t)(strstr(c->in, "\r\n\r\n") - c->in) + 4)
			fail_msg("%s: head_len %zu", c->d, r.head_len);
	}
}

static void test_parse_resp_limits(void **state)
{
	static uint8_t head[HTTP_HEAD_MAX + 10];
	struct http_resp r;

	(void)state;
	memcpy(head, "HTTP/1.1 200 OK\r\n", 17);
	memset(head + 17, 'a', sizeof(head) - 17);
	assert_int_equal(http_parse_resp(head, HTTP_HEAD_MAX - 1, &r), -AGW_ETRUNC);
	assert_int_equal(http_parse_resp(head, sizeof(head), &r), -AGW_EPARSE);
	assert_int_equal(http_parse_resp(head, 0, &r), -AGW_ETRUNC);
}

struct ucase {
	const char *d, *hdrs;
	bool upgrade, other;
};

static const struct ucase ucases[] = {
    {"websocket", "Connection: Upgrade\r\nUpgrade: websocket\r\n", true, false},
    {"websocket case", "Connection: upgrade\r\nUpgrade: WebSocket\r\n", true, false},
    {"h2c", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAA\r\n", true,
     true},
    {"h2c without Connection", "Upgrade: h2c\r\n", false, true},
    {"list with websocket", "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n", true, true},
    {"two headers", "Connection: Upgrade\r\nUpgrade: websocket\r\nUpgrade: websocket\r\n", true,
     true},
    {"tls/1.0", "Connection: Upgrade\r\nUpgrade: TLS/1.0\r\n", true, true},
    {"none", "Connection: Upgrade\r\n", false, false},
};

static void test_upgrade_tokens(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ucases) / sizeof(ucases[0]); i++) {
		char req[512];
		struct http_req r;

		snprintf(req, sizeof(req), "GET /ws HTTP/1.1\r\nHost: a.test\r\n%s\r\n",
			 ucases[i].hdrs);
		assert_int_equal(http_parse_request((const uint8_t *)req, strlen(req), &r), 0);
		if (r.upgrade != ucases[i].upgrade || r.upgrade_other != ucases[i].other)
			fail_msg("%s: upgrade %d other %d", ucases[i].d, r.upgrade,
				 r.upgrade_other);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_truncations),
	    cmocka_unit_test(test_method_override),
	    cmocka_unit_test(test_head_limits),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_chunked_table),
	    cmocka_unit_test(test_chunk_limits),
	    cmocka_unit_test(test_body_framing),
	    cmocka_unit_test(test_body_skip),
	    cmocka_unit_test(test_looks_like_http),
	    cmocka_unit_test(test_path_decode),
	    cmocka_unit_test(test_path_decode_limits),
	    cmocka_unit_test(test_http_sniff),
	    cmocka_unit_test(test_scan_shaped),
	    cmocka_unit_test(test_parse_resp),
	    cmocka_unit_test(test_parse_resp_limits),
	    cmocka_unit_test(test_upgrade_tokens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
