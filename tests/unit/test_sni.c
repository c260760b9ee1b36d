// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the TLS ClientHello / SNI parser: a real curl ClientHello,
 * a table of built ClientHellos with good and hostile server_name, ALPN and
 * ECH extensions, structural damage (record and handshake types, lengths,
 * duplicates), every truncation, and ClientHellos fragmented across many
 * TLS records including a 16 KiB one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/sni.h"

/* Captured from `curl -k https://allowed.test:15443/` against a local
 * listener (TLS 1.3 ClientHello, ALPN h2,http/1.1). */
static const uint8_t curl_hello[] = {
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xf8, 0x9e, 0x32, 0xea, 0x96,
    0x15, 0x6a, 0x23, 0xf2, 0x38, 0xcd, 0x53, 0x04, 0xf5, 0xdd, 0xaf, 0x95, 0x7f, 0x68, 0x77, 0x8a,
    0xe2, 0xbe, 0x15, 0x5a, 0x99, 0xc9, 0x8f, 0x0c, 0xf1, 0xb6, 0xc5, 0x20, 0x26, 0xa1, 0xfd, 0x47,
    0x1b, 0x6f, 0xdf, 0x91, 0xd9, 0x02, 0xb2, 0x57, 0x5d, 0x1e, 0x93, 0x63, 0xeb, 0xc1, 0xfc, 0xe3,
    0x23, 0x1d, 0x56, 0xc5, 0x6b, 0x17, 0xaa, 0x56, 0xa0, 0x32, 0xf6, 0xa0, 0x00, 0x3e, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
    0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27,
    0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d,
    0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x01, 0x75,
    0x00, 0x00, 0x00, 0x11, 0x00, 0x0f, 0x00, 0x00, 0x0c, 0x61, 0x6c, 0x6c, 0x6f, 0x77, 0x65, 0x64,
    0x2e, 0x74, 0x65, 0x73, 0x74, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00,
    0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01,
    0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32,
    0x08, 0x68, 0x74, 0x74, 0x70, 0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00,
    0x00, 0x00, 0x31, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06,
    0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08,
    0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05,
    0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01,
    0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20,
    0x4e, 0x60, 0x3e, 0x1e, 0x9d, 0x1b, 0x7c, 0x04, 0x1f, 0xbe, 0xc1, 0x0b, 0xb3, 0xe1, 0x77, 0x33,
    0xa3, 0x27, 0x24, 0x88, 0x87, 0x6c, 0x31, 0xc8, 0xea, 0xbf, 0xb8, 0x1e, 0x66, 0xab, 0x73, 0x3a,
    0x00, 0x15, 0x00, 0xb1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00};

struct wbuf {
	uint8_t b[40000];
	size_t n;
};

static void w8(struct wbuf *w, unsigned v)
{
	w->b[w->n++] = (uint8_t)v;
}

static void w16(struct wbuf *w, unsigned v)
{
	w8(w, v >> 8);
	w8(w, v);
}

static void w24(struct wbuf *w, size_t v)
{
	w8(w, (unsigned)(v >> 16));
	w16(w, (unsigned)(v & 0xffff));
}

static void wmem(struct wbuf *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

/* An extension carrying a server_name list with one entry. */
static void ext_sni(struct wbuf *w, const char *name, size_t len)
{
	w16(w, 0);
	w16(w, (unsigned)len + 5);
	w16(w, (unsigned)len + 3);
	w8(w, 0);
	w16(w, (unsigned)len);
	wmem(w, name, len);
}

/* ClientHello handshake message (with its 4-byte header) around exts. */
static void hello(struct wbuf *hs, const struct wbuf *exts, bool no_ext_block)
{
	size_t body = 2 + 32 + 1 + 32 + 2 + 4 + 2 + (no_ext_block ? 0 : 2 + exts->n);

	hs->n = 0;
	w8(hs, 1);
	w24(hs, body);
	w16(hs, 0x0303);
	memset(hs->b + hs->n, 0x5a, 32); /* random */
	hs->n += 32;
	w8(hs, 32); /* session id */
	memset(hs->b + hs->n, 0x11, 32);
	hs->n += 32;
	w16(hs, 4); /* two cipher suites */
	w16(hs, 0x1301);
	w16(hs, 0xc02f);
	w8(hs, 1); /* null compression */
	w8(hs, 0);
	if (!no_ext_block) {
		w16(hs, (unsigned)exts->n);
		wmem(hs, exts->b, exts->n);
	}
}

/* Wraps a handshake message into records of at most frag bytes. */
static void records(struct wbuf *out, const struct wbuf *hs, size_t frag)
{
	out->n = 0;
	for (size_t off = 0; off < hs->n; off += frag) {
		size_t n = AGW_MIN(frag, hs->n - off);

		w8(out, 0x16);
		w16(out, 0x0301);
		w16(out, (unsigned)n);
		wmem(out, hs->b + off, n);
	}
}

enum { X_SNI = 1, X_SNI2, X_ALPN, X_ALPN2, X_ECH, X_GREASE, X_RAW };

struct scase {
	const char *desc;
	const char *name; /* for X_SNI */
	size_t name_len;
	int exts[4];
	const char *raw; /* for X_RAW: appended as is to the extension block */
	size_t raw_len;
	int ret;
	const char *host;
	const char *alpn;
	bool ech;
};

#define N(s) s, sizeof(s) - 1
#define R(s) s, sizeof(s) - 1

static const struct scase scases[] = {
    {"plain", N("example.test"), {X_SNI}, NULL, 0, 0, "example.test", "", false},
    {"uppercase folded", N("WWW.Example.TEST"), {X_SNI}, NULL, 0, 0, "www.example.test", "", false},
    {"trailing dot dropped", N("a.test."), {X_SNI}, NULL, 0, 0, "a.test", "", false},
    {"single label", N("localhost"), {X_SNI}, NULL, 0, 0, "localhost", "", false},
    {"digits in labels", N("1a.2b.example3"), {X_SNI}, NULL, 0, 0, "1a.2b.example3", "", false},
    {"alpn and grease",
     N("a.test"),
     {X_GREASE, X_SNI, X_ALPN},
     NULL,
     0,
     0,
     "a.test",
     "h2,http/1.1",
     false},
    {"ech offered", N("public.test"), {X_SNI, X_ECH}, NULL, 0, 0, "public.test", "", true},
    {"no sni", NULL, 0, {X_ALPN}, NULL, 0, -AGW_ENOTFOUND, "", "h2,http/1.1", false},
    {"empty extension block", NULL, 0, {0}, NULL, 0, -AGW_ENOTFOUND, "", "", false},
    {"unknown name type skipped",
     NULL,
     0,
     {X_RAW},
     R("\000\000\000\016\000\014\001\000\003abc\000\000\003a.b"),
     0,
     "a.b",
     "",
     false},
    {"only unknown name type",
     NULL,
     0,
     {X_RAW},
     R("\000\000\000\010\000\006\001\000\003abc"),
     -AGW_ENOTFOUND,
     "",
     "",
     false},
    /* hostile names */
    {"ipv4 literal", N("192.0.2.1"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"integer ip", N("2130706433"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"hex ip", N("0x7f000001"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"dotted hex ip", N("0x7f.1"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"ipv6 literal", N("::1"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"bracketed ipv6", N("[::1]"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"NUL inside", N("allowed.test\0.evil.test"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"underscore", N("a_b.test"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"space", N("a b.test"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"port", N("a.test:443"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"slash", N("a.test/x"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"utf8", N("b\xc3\xa4r.test"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"empty name", N(""), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"only a dot", N("."), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"leading dot", N(".a.test"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"empty label", N("a..test"), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"two trailing dots", N("a.test.."), {X_SNI}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"label of 64",
     N("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test"),
     {X_SNI},
     NULL,
     0,
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"two host_name entries",
     NULL,
     0,
     {X_RAW},
     R("\000\000\000\020\000\016\000\000\003a.b\000\000\005evil."),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"two sni extensions", N("a.test"), {X_SNI, X_SNI2}, NULL, 0, -AGW_EPARSE, NULL, NULL, false},
    {"duplicate alpn extension",
     N("a.test"),
     {X_SNI, X_ALPN, X_ALPN2},
     NULL,
     0,
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"sni list length mismatch",
     NULL,
     0,
     {X_RAW},
     R("\000\000\000\010\000\007\000\000\003a.b"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"sni name overruns list",
     NULL,
     0,
     {X_RAW},
     R("\000\000\000\010\000\006\000\000\011a.b"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"sni empty list",
     NULL,
     0,
     {X_RAW},
     R("\x00\x00\x00\x02\x00\x00"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"sni extension empty",
     NULL,
     0,
     {X_RAW},
     R("\x00\x00\x00\x00"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"extension overruns block",
     NULL,
     0,
     {X_RAW},
     R("\x00\x0f\x00\x09\x01"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"half an extension header", NULL, 0, {X_RAW}, R("\x00"), -AGW_EPARSE, NULL, NULL, false},
    {"alpn empty protocol",
     N("a.test"),
     {X_SNI, X_RAW},
     R("\x00\x10\x00\x03\x00\x01\x00"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
    {"alpn list overruns",
     N("a.test"),
     {X_SNI, X_RAW},
     R("\x00\x10\x00\x04\x00\x02\x05h"),
     -AGW_EPARSE,
     NULL,
     NULL,
     false},
};

static void build_exts(struct wbuf *e, const struct scase *c)
{
	e->n = 0;
	for (size_t i = 0; i < AGW_ARRAY_LEN(c->exts) && c->exts[i]; i++) {
		switch (c->exts[i]) {
		case X_SNI:
			ext_sni(e, c->name, c->name_len);
			break;
		case X_SNI2:
			ext_sni(e, "other.test", 10);
			break;
		case X_ALPN:
		case X_ALPN2:
			wmem(e, "\000\020\000\016\000\014\002h2\010http/1.1", 18);
			break;
		case X_ECH:
			wmem(e, "\xfe\x0d\x00\x04\x00\x01\x02\x03", 8);
			break;
		case X_GREASE:
			wmem(e, "\x3a\x3a\x00\x00", 4);
			break;
		case X_RAW:
			wmem(e, c->raw, c->raw_len);
			break;
		}
	}
}

static struct wbuf ex, hs, rec;

static void test_table(void **state)
{
	for (size_t i = 0; i < AGW_ARRAY_LEN(scases); i++) {
		const struct scase *c = &scases[i];
		struct sni_info info;
		char host[SNI_HOST_MAX + 1];

		print_message("case %zu: %s\n", i, c->desc);
		build_exts(&ex, c);
		hello(&hs, &ex, false);
		records(&rec, &hs, 16384);
		assert_int_equal(sni_parse_info(rec.b, rec.n, &info), c->ret);
		assert_int_equal(sni_parse(rec.b, rec.n, host, sizeof(host)), c->ret);
		if (c->ret == 0 || c->ret == -AGW_ENOTFOUND) {
			assert_string_equal(info.host, c->host);
			assert_string_equal(c->ret == 0 ? host : "", c->host);
			assert_string_equal(info.alpn, c->alpn);
			assert_int_equal(info.has_ech, c->ech);
			assert_int_equal(info.legacy_version, 0x0303);
		}
		/* Same verdict however the ClientHello is fragmented. */
		records(&rec, &hs, 7);
		assert_int_equal(sni_parse_info(rec.b, rec.n, &info), c->ret);
	}
}

static void test_no_extension_block(void **state)
{
	struct sni_info info;

	ex.n = 0;
	hello(&hs, &ex, true);
	records(&rec, &hs, 16384);
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_ENOTFOUND);
}

static void test_real_curl(void **state)
{
	struct sni_info info;
	char host[16];

	assert_true(sni_looks_like_tls(curl_hello, sizeof(curl_hello)));
	assert_int_equal(sni_parse_info(curl_hello, sizeof(curl_hello), &info), 0);
	assert_string_equal(info.host, "allowed.test");
	assert_string_equal(info.alpn, "h2,http/1.1");
	assert_false(info.has_ech);
	assert_int_equal(info.legacy_version, 0x0303);
	/* Every truncation asks for more bytes, none is a verdict. */
	for (size_t n = 0; n < sizeof(curl_hello); n++)
		assert_int_equal(sni_parse_info(curl_hello, n, &info), -AGW_ETRUNC);
	/* Bytes after the ClientHello (the client's next flight) are ignored. */
	memcpy(rec.b, curl_hello, sizeof(curl_hello));
	memcpy(rec.b + sizeof(curl_hello), "\x14\x03\x03\x00\x01\x01", 6);
	assert_int_equal(sni_parse_info(rec.b, sizeof(curl_hello) + 6, &info), 0);
	/* Host buffer too small. */
	assert_int_equal(sni_parse(curl_hello, sizeof(curl_hello), host, 12), -AGW_ETOOBIG);
	assert_int_equal(sni_parse(curl_hello, sizeof(curl_hello), host, 13), 0);
	assert_string_equal(host, "allowed.test");
}

static void test_fragmented(void **state)
{
	static const size_t frags[] = {1, 2, 3, 4, 5, 13, 100, 511, 16384};
	struct sni_info info;

	ex.n = 0;
	ext_sni(&ex, "frag.example.test", 17);
	hello(&hs, &ex, false);
	for (size_t i = 0; i < AGW_ARRAY_LEN(frags); i++) {
		records(&rec, &hs, frags[i]);
		assert_int_equal(sni_parse_info(rec.b, rec.n, &info), 0);
		assert_string_equal(info.host, "frag.example.test");
		for (size_t n = 0; n < rec.n; n++)
			assert_int_equal(sni_parse_info(rec.b, n, &info), -AGW_ETRUNC);
	}
	/* A non-handshake record in the middle of the ClientHello. */
	records(&rec, &hs, 50);
	rec.b[55] = 0x17;
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 50);
	rec.b[55] = 0x15; /* alert */
	assert_int_equal(sni_parse_info(rec.b, 57, &info), -AGW_EPARSE);
	/* Zero-length record between fragments. */
	records(&rec, &hs, 50);
	memmove(rec.b + 60, rec.b + 55, rec.n - 55);
	memcpy(rec.b + 55, "\x16\x03\x01\x00\x00", 5);
	rec.n += 5;
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
}

static void test_big_hello(void **state)
{
	struct sni_info info;
	size_t pad;

	/* A ClientHello of exactly SNI_HELLO_MAX body bytes, split over two
	 * records (a record carries at most 16384 bytes). */
	ex.n = 0;
	ext_sni(&ex, "big.test", 8);
	pad = SNI_HELLO_MAX - (2 + 32 + 1 + 32 + 2 + 4 + 2 + 2 + ex.n) - 4;
	w16(&ex, 21); /* padding extension */
	w16(&ex, (unsigned)pad);
	memset(ex.b + ex.n, 0, pad);
	ex.n += pad;
	hello(&hs, &ex, false);
	assert_int_equal(hs.n, 4 + SNI_HELLO_MAX);
	records(&rec, &hs, 16384);
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), 0);
	assert_string_equal(info.host, "big.test");
	assert_int_equal(sni_parse_info(rec.b, rec.n - 1, &info), -AGW_ETRUNC);
	/* One byte more is refused as soon as the length is seen. */
	ex.b[ex.n - pad - 2] = (uint8_t)((pad + 1) >> 8); /* padding length + 1 */
	ex.b[ex.n - pad - 1] = (uint8_t)((pad + 1) & 0xff);
	ex.b[ex.n++] = 0;
	hello(&hs, &ex, false);
	records(&rec, &hs, 16384);
	assert_int_equal(sni_parse_info(rec.b, 9, &info), -AGW_EPARSE);
}

static void test_structure(void **state)
{
	struct sni_info info;

	ex.n = 0;
	ext_sni(&ex, "a.test", 6);
	hello(&hs, &ex, false);

	records(&rec, &hs, 16384);
	rec.b[0] = 0x17; /* application data */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[1] = 0x02; /* SSLv2-ish version */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[5] = 2; /* ServerHello */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[3] = 0x40; /* record length 16384 + x */
	rec.b[4] = 0x01;
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[6] = 0x01; /* handshake length 65536 + x: too big */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[9] = 0x02; /* legacy_version 0x0203 */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[5 + 4 + 34] = 33; /* session id length > 32 */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[5 + 4 + 35 + 32 + 1] = 5; /* odd cipher suites length */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[5 + 4 + 35 + 32 + 2 + 4] = 0; /* no compression methods */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	records(&rec, &hs, 16384);
	rec.b[5 + 4 + 35 + 32 + 2 + 4 + 2 + 1] += 1; /* extension block longer than the hello */
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);
	/* The handshake message shorter than its contents claim. */
	records(&rec, &hs, 16384);
	rec.b[8] -= 1;
	assert_int_equal(sni_parse_info(rec.b, rec.n, &info), -AGW_EPARSE);

	/* Not TLS at all. */
	assert_int_equal(sni_parse_info((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &info),
			 -AGW_EPARSE);
	assert_int_equal(sni_parse_info((const uint8_t *)"\x16\x04", 2, &info), -AGW_EPARSE);
	assert_int_equal(sni_parse_info((const uint8_t *)"\x16", 1, &info), -AGW_ETRUNC);
	assert_int_equal(sni_parse_info((const uint8_t *)"", 0, &info), -AGW_ETRUNC);
	assert_int_equal(sni_parse_info(NULL, 0, &info), -AGW_EPARSE);
}

static void test_looks_like_tls(void **state)
{
	assert_true(sni_looks_like_tls((const uint8_t *)"\x16", 1));
	assert_true(sni_looks_like_tls((const uint8_t *)"\x16\x03\x01\x02\x00", 5));
	assert_false(sni_looks_like_tls((const uint8_t *)"\x16\x02", 2));
	assert_false(sni_looks_like_tls((const uint8_t *)"GET ", 4));
	assert_false(sni_looks_like_tls((const uint8_t *)"\x17\x03\x03", 3));
	assert_false(sni_looks_like_tls((const uint8_t *)"", 0));
	assert_false(sni_looks_like_tls(NULL, 5));
}

struct sniff_case {
	const char *d;
	const char *in;
	size_t len;
	int ret;
};

static const struct sniff_case sniff_cases[] = {
    {"handshake 3.1", "\x16\x03\x01", 3, 1},
    {"handshake 3.3", "\x16\x03\x03\x00\x05", 5, 1},
    {"alert first", "\x15\x03\x03", 3, 1},
    {"ccs first", "\x14\x03\x01", 3, 1},
    {"application data first", "\x17\x03\x03", 3, 1},
    {"heartbeat first", "\x18\x03\x03", 3, 1},
    {"handshake byte only", "\x16", 1, -AGW_ETRUNC},
    {"handshake, version 2", "\x16\x02", 2, 0},
    {"sslv2 hello", "\x80\x2e\x01\x03\x01", 5, 1},
    {"sslv2 hello, 2 bytes", "\x80\x2e", 2, -AGW_ETRUNC},
    {"high bit, not a hello", "\x80\x2e\x02", 3, 0},
    {"http", "GET / HTTP/1.1", 14, 0},
    {"ssh", "SSH-2.0-x", 9, 0},
    {"postgres startup", "\x00\x00\x00\x08\x04\xd2\x16\x2f", 8, 0},
    {"type 25", "\x19\x03\x03", 3, 0},
    {"empty", "", 0, -AGW_ETRUNC},
};

static void test_sniff(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sniff_cases) / sizeof(sniff_cases[0]); i++) {
		const struct sniff_case *c = &sniff_cases[i];
		int ret = sni_sniff((const uint8_t *)c->in, c->len);

		if (ret != c->ret)
			fail_msg("%s: ret %d, want %d", c->d, ret, c->ret);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),	   cmocka_unit_test(test_no_extension_block),
	    cmocka_unit_test(test_real_curl),	   cmocka_unit_test(test_fragmented),
	    cmocka_unit_test(test_big_hello),	   cmocka_unit_test(test_structure),
	    cmocka_unit_test(test_looks_like_tls), cmocka_unit_test(test_sniff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
