// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the DNS wire parser and builders: a table of good and
 * hostile queries (exfiltration labels, compression in the question,
 * oversize names, bad counts, duplicate OPT, trailing bytes), every
 * truncation of a real dig query, and byte-exact checks of built answers,
 * truncated (TC) answers and error replies, and the Extended DNS Error
 * option (RFC 8914) in denials: exact bytes, no OPT without EDNS, and what
 * is left out when room is short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/dns_msg.h"

/* Captured from `dig @127.0.0.1 -p 15353 example.test A` (EDNS + cookie). */
static const uint8_t dig_a[] = {0x24, 0x89, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
				0x01, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x04, 0x74,
				0x65, 0x73, 0x74, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x29,
				0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x0a, 0x00,
				0x08, 0xa3, 0xd4, 0x3c, 0x5e, 0x95, 0x6c, 0x89, 0x50};

/* Builds header + raw question name + qtype/qclass + extra bytes. */
static size_t mkq(uint8_t *b, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar,
		  const void *qname, size_t qlen, uint16_t qtype, const void *extra, size_t elen)
{
	size_t n = 0;

	b[n++] = 0xab;
	b[n++] = 0xcd;
	b[n++] = (uint8_t)(flags >> 8);
	b[n++] = (uint8_t)flags;
	b[n++] = (uint8_t)(qd >> 8);
	b[n++] = (uint8_t)qd;
	b[n++] = (uint8_t)(an >> 8);
	b[n++] = (uint8_t)an;
	b[n++] = (uint8_t)(ns >> 8);
	b[n++] = (uint8_t)ns;
	b[n++] = (uint8_t)(ar >> 8);
	b[n++] = (uint8_t)ar;
	memcpy(b + n, qname, qlen);
	n += qlen;
	b[n++] = (uint8_t)(qtype >> 8);
	b[n++] = (uint8_t)qtype;
	b[n++] = 0;
	b[n++] = 1;
	if (elen) {
		memcpy(b + n, extra, elen);
		n += elen;
	}
	return n;
}

#define S(lit) lit, sizeof(lit) - 1

/* OPT RR: root owner, type 41, class = udp size. */
#define OPT4096 "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
#define OPT100 "\x00\x00\x29\x00\x64\x00\x00\x00\x00\x00\x00"
#define OPT_NONROOT                                                                                \
	"\x01"                                                                                     \
	"a"                                                                                        \
	"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
/* An A record whose owner is a pointer to itself (a loop if followed). */
#define RR_SELFPTR "\xc0\x1e\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04"

struct qcase {
	const char *desc;
	uint16_t flags, qd, an, ns, ar;
	const char *qname;
	size_t qlen;
	uint16_t qtype;
	const char *extra;
	size_t elen;
	int ret;
	const char *name;
	bool hostname, has_opt;
	uint16_t udp;
};

static const struct qcase qcases[] = {
    {"plain A", 0x0100, 1, 0, 0, 0, S("\007example\004test\000"), 1, NULL, 0, 0, "example.test",
     true, false, 512},
    {"case folded", 0x0100, 1, 0, 0, 0, S("\003WwW\007ExAmPlE\004TEST\000"), 28, NULL, 0, 0,
     "www.example.test", true, false, 512},
    {"root", 0, 1, 0, 0, 0, S("\x00"), 2, NULL, 0, 0, "", true, false, 512},
    {"srv underscore", 0x0100, 1, 0, 0, 0, S("\005_http\004_tcp\003svc\004test\000"), 33, NULL, 0,
     0, "_http._tcp.svc.test", true, false, 512},
    {"printable non-LDH", 0, 1, 0, 0, 0, S("\003a!b\004test\000"), 16, NULL, 0, 0, "a!b.test",
     false, false, 512},
    {"edns 4096", 0x0100, 1, 0, 0, 1, S("\001a\000"), 1, S(OPT4096), 0, "a", true, true, 4096},
    {"edns small udp size raised to 512", 0, 1, 0, 0, 1, S("\001a\000"), 1, S(OPT100), 0, "a", true,
     true, 512},
    {"additional owner pointer loop is skipped, not followed", 0, 1, 0, 0, 1, S("\001a\000"), 1,
     S(RR_SELFPTR), 0, "a", true, false, 512},
    {"opcode status kept", 0x1000, 1, 0, 0, 0, S("\001a\000"), 1, NULL, 0, 0, "a", true, false,
     512},
    /* hostile */
    {"QR set (a response)", 0x8100, 1, 0, 0, 0, S("\001a\000"), 1, NULL, 0, -AGW_EPARSE, NULL,
     false, false, 0},
    {"qdcount 0", 0, 0, 0, 0, 0, S("\001a\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false, false, 0},
    {"qdcount 2", 0, 2, 0, 0, 0, S("\001a\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false, false, 0},
    {"qdcount 65535", 0, 0xffff, 0, 0, 0, S("\001a\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false,
     false, 0},
    {"compression pointer in question", 0, 1, 0, 0, 0, S("\001a\300\014"), 1, NULL, 0, -AGW_EPARSE,
     NULL, false, false, 0},
    {"pointer loop in question", 0, 1, 0, 0, 0, S("\xc0\x0c"), 1, NULL, 0, -AGW_EPARSE, NULL, false,
     false, 0},
    {"extended label type 0x40", 0, 1, 0, 0, 0, S("\101a\000"), 1, NULL, 0, -AGW_EPARSE, NULL,
     false, false, 0},
    {"label type 0x80", 0, 1, 0, 0, 0, S("\201a\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false, false,
     0},
    {"space in label", 0, 1, 0, 0, 0, S("\003a b\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false, false,
     0},
    {"dot inside label", 0, 1, 0, 0, 0, S("\003a.b\004test\000"), 1, NULL, 0, -AGW_EPARSE, NULL,
     false, false, 0},
    {"backslash inside label", 0, 1, 0, 0, 0, S("\003a\\b\000"), 1, NULL, 0, -AGW_EPARSE, NULL,
     false, false, 0},
    {"NUL inside label", 0, 1, 0, 0, 0, S("\003a\000b\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false,
     false, 0},
    {"binary label (exfiltration)", 0, 1, 0, 0, 0, S("\004\001\200\377\177\000"), 1, NULL, 0,
     -AGW_EPARSE, NULL, false, false, 0},
    {"high byte", 0, 1, 0, 0, 0, S("\002a\303\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false, false,
     0},
    {"DEL", 0, 1, 0, 0, 0, S("\002a\177\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false, false, 0},
    {"label runs past end", 0, 1, 0, 0, 0, S("\077abc"), 1, NULL, 0, -AGW_EPARSE, NULL, false,
     false, 0},
    {"two OPT records", 0, 1, 0, 0, 2, S("\001a\000"), 1, S(OPT4096 OPT4096), -AGW_EPARSE, NULL,
     false, false, 0},
    {"OPT with non-root owner", 0, 1, 0, 0, 1, S("\001a\000"), 1, S(OPT_NONROOT), -AGW_EPARSE, NULL,
     false, false, 0},
    {"OPT in answer section", 0, 1, 1, 0, 0, S("\001a\000"), 1, S(OPT4096), -AGW_EPARSE, NULL,
     false, false, 0},
    {"arcount 1 but no record", 0, 1, 0, 0, 1, S("\001a\000"), 1, NULL, 0, -AGW_EPARSE, NULL, false,
     false, 0},
    {"ancount 65535 tiny message", 0, 1, 0xffff, 0, 0, S("\001a\000"), 1, NULL, 0, -AGW_EPARSE,
     NULL, false, false, 0},
    {"record rdata past end", 0, 1, 0, 0, 1, S("\001a\000"), 1,
     S("\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x08\x01\x02"), -AGW_EPARSE, NULL, false, false, 0},
    {"trailing garbage", 0, 1, 0, 0, 0, S("\001a\000"), 1, S("XYZ"), -AGW_EPARSE, NULL, false,
     false, 0},
};

static void test_parse_table(void **state)
{
	for (size_t i = 0; i < AGW_ARRAY_LEN(qcases); i++) {
		const struct qcase *c = &qcases[i];
		uint8_t b[600];
		struct dns_query q;
		size_t n = mkq(b, c->flags, c->qd, c->an, c->ns, c->ar, c->qname, c->qlen, c->qtype,
			       c->extra, c->elen);
		int ret = dns_parse_query(b, n, &q);

		print_message("case %zu: %s\n", i, c->desc);
		assert_int_equal(ret, c->ret);
		if (ret != 0)
			continue;
		assert_string_equal(q.name, c->name);
		assert_int_equal(q.qtype, c->qtype);
		assert_int_equal(q.qclass, 1);
		assert_int_equal(q.id, 0xabcd);
		assert_int_equal(q.rd, (c->flags & 0x0100) != 0);
		assert_int_equal(q.opcode, (c->flags >> 11) & 0xf);
		assert_int_equal(q.name_is_hostname, c->hostname);
		assert_int_equal(q.has_opt, c->has_opt);
		assert_int_equal(q.udp_size, c->udp);
		assert_int_equal(q.question_end, 12 + c->qlen + 4);
	}
}

/* Builds a name of n labels of length l each. */
static size_t mkname(uint8_t *b, int labels, int l)
{
	size_t n = 0;

	for (int i = 0; i < labels; i++) {
		b[n++] = (uint8_t)l;
		memset(b + n, 'a' + i % 26, (size_t)l);
		n += (size_t)l;
	}
	b[n++] = 0;
	return n;
}

static void test_name_limits(void **state)
{
	uint8_t name[300], b[400];
	struct dns_query q;
	size_t nl, n;

	/* 3 x 63 + 61: wire 4*64 - 2 + 1 = 255 octets exactly: accepted. */
	nl = mkname(name, 3, 63);
	name[nl - 1] = 61;
	memset(name + nl, 'z', 61);
	nl += 61;
	name[nl++] = 0;
	assert_int_equal(nl, 255);
	n = mkq(b, 0, 1, 0, 0, 0, name, nl, DNS_T_A, NULL, 0);
	assert_int_equal(dns_parse_query(b, n, &q), 0);
	assert_int_equal(strlen(q.name), 253);

	/* One more octet: 256 > 255: rejected. */
	nl = mkname(name, 3, 63);
	name[nl - 1] = 62;
	memset(name + nl, 'z', 62);
	nl += 62;
	name[nl++] = 0;
	n = mkq(b, 0, 1, 0, 0, 0, name, nl, DNS_T_A, NULL, 0);
	assert_int_equal(dns_parse_query(b, n, &q), -AGW_EPARSE);

	/* Label of 63 fine, 64 is not encodable as a plain label. */
	nl = mkname(name, 1, 63);
	n = mkq(b, 0, 1, 0, 0, 0, name, nl, DNS_T_A, NULL, 0);
	assert_int_equal(dns_parse_query(b, n, &q), 0);
	nl = mkname(name, 1, 64);
	n = mkq(b, 0, 1, 0, 0, 0, name, nl, DNS_T_A, NULL, 0);
	assert_int_equal(dns_parse_query(b, n, &q), -AGW_EPARSE);

	/* 128 one-byte labels: 257 octets. */
	nl = mkname(name, 128, 1);
	n = mkq(b, 0, 1, 0, 0, 0, name, nl, DNS_T_A, NULL, 0);
	assert_int_equal(dns_parse_query(b, n, &q), -AGW_EPARSE);
	nl = mkname(name, 127, 1);
	n = mkq(b, 0, 1, 0, 0, 0, name, nl, DNS_T_A, NULL, 0);
	assert_int_equal(dns_parse_query(b, n, &q), 0);
}

static void test_real_dig_and_truncations(void **state)
{
	struct dns_query q;

	assert_int_equal(dns_parse_query(dig_a, sizeof(dig_a), &q), 0);
	assert_string_equal(q.name, "example.test");
	assert_int_equal(q.id, 0x2489);
	assert_int_equal(q.qtype, DNS_T_A);
	assert_true(q.rd);
	assert_true(q.has_opt);
	assert_int_equal(q.udp_size, 1232);
	assert_int_equal(q.question_end, 30);
	for (size_t n = 0; n < sizeof(dig_a); n++)
		assert_int_equal(dns_parse_query(dig_a, n, &q), -AGW_EPARSE);
	assert_int_equal(dns_parse_query(NULL, 0, &q), -AGW_EPARSE);
}

static void test_build_response(void **state)
{
	struct dns_query q;
	struct dns_rr rr[2] = {
	    {.type = DNS_T_A, .ttl = 300, .addr = {192, 0, 2, 10}},
	    {.type = DNS_T_AAAA, .ttl = 60, .addr = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}},
	};
	uint8_t out[512];
	size_t n, off;

	assert_int_equal(dns_parse_query(dig_a, sizeof(dig_a), &q), 0);
	assert_int_equal(dns_build_response(&q, DNS_RC_NOERROR, rr, 2, out, sizeof(out), &n), 0);
	assert_int_equal(n, 12 + 18 + 16 + 28 + 11);
	assert_memory_equal(out, "\x24\x89\x81\x80\x00\x01\x00\x02\x00\x00\x00\x01", 12);
	/* Question echoed byte for byte. */
	assert_memory_equal(out + 12, dig_a + 12, 18);
	off = 30;
	assert_memory_equal(out + off,
			    "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x0a", 16);
	off += 16;
	assert_memory_equal(out + off, "\xc0\x0c\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10\x20\x01",
			    14);
	assert_int_equal(out[off + 12 + 15], 1);
	off += 28;
	assert_memory_equal(out + off, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);

	/* NXDOMAIN without RD and without OPT: flags 0x8083, arcount 0. */
	q.rd = false;
	q.has_opt = false;
	assert_int_equal(dns_build_response(&q, DNS_RC_NXDOMAIN, NULL, 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 30);
	assert_memory_equal(out + 2, "\x80\x83\x00\x01\x00\x00\x00\x00\x00\x00", 10);

	/* Name re-encoded from the lowercase presentation form. */
	strcpy(q.name, "www.example.test");
	assert_int_equal(dns_build_response(&q, DNS_RC_REFUSED, NULL, 0, out, sizeof(out), &n), 0);
	assert_memory_equal(out + 12, "\003www\007example\004test\000\000\001\000\001", 22);
	/* Root name. */
	q.name[0] = '\0';
	assert_int_equal(dns_build_response(&q, DNS_RC_NOERROR, NULL, 0, out, sizeof(out), &n), 0);
	assert_int_equal(n, 17);
}

static void test_build_response_limits(void **state)
{
	struct dns_query q;
	struct dns_rr rr[40];
	uint8_t out[1500];
	size_t n;

	memset(rr, 0, sizeof(rr));
	for (size_t i = 0; i < 40; i++)
		rr[i].type = DNS_T_AAAA;
	assert_int_equal(dns_parse_query(dig_a, sizeof(dig_a), &q), 0);
	q.has_opt = false;
	q.udp_size = 512;
	/* 40 AAAA = 1120 bytes: over 512, TC set, answers dropped. */
	assert_int_equal(dns_udp_limit(&q, sizeof(out)), 512);
	assert_int_equal(dns_build_response(&q, 0, rr, 40, out, dns_udp_limit(&q, sizeof(out)), &n),
			 0);
	assert_int_equal(n, 30);
	assert_true(out[2] & 0x02);
	assert_int_equal(out[7], 0);
	/* With EDNS 1232 they fit. */
	q.has_opt = true;
	q.udp_size = 1232;
	assert_int_equal(dns_udp_limit(&q, sizeof(out)), 1232);
	assert_int_equal(dns_udp_limit(&q, 600), 600);
	q.udp_size = 4096;
	assert_int_equal(dns_udp_limit(&q, sizeof(out)), 1232);
	q.udp_size = 1232;
	assert_int_equal(dns_build_response(&q, 0, rr, 40, out, dns_udp_limit(&q, sizeof(out)), &n),
			 0);
	assert_false(out[2] & 0x02);
	assert_int_equal(out[7], 40);
	assert_int_equal(n, 30 + 40 * 28 + 11);
	/* Exactly fitting cap keeps answers; one byte less truncates. */
	assert_int_equal(dns_build_response(&q, 0, rr, 40, out, 30 + 40 * 28 + 11, &n), 0);
	assert_int_equal(out[7], 40);
	assert_int_equal(dns_build_response(&q, 0, rr, 40, out, 30 + 40 * 28 + 10, &n), 0);
	assert_int_equal(out[7], 0);
	assert_true(out[2] & 0x02);
	assert_int_equal(out[11], 1); /* OPT still there */
	/* Not even the question fits. */
	assert_int_equal(dns_build_response(&q, 0, rr, 1, out, 40, &n), -AGW_ETOOBIG);
	assert_int_equal(dns_build_response(&q, 0, rr, 1, out, 8, &n), -AGW_ETOOBIG);
	/* Only A/AAAA answers. */
	rr[0].type = DNS_T_MX;
	assert_int_equal(dns_build_response(&q, 0, rr, 1, out, sizeof(out), &n), -AGW_EINVAL);
	/* Unencodable names. */
	strcpy(q.name, "a..b");
	assert_int_equal(dns_build_response(&q, 0, NULL, 0, out, sizeof(out), &n), -AGW_EINVAL);
	memset(q.name, 'a', 64);
	q.name[64] = '\0';
	assert_int_equal(dns_build_response(&q, 0, NULL, 0, out, sizeof(out), &n), -AGW_EINVAL);
	strcpy(q.name, "a.");
	assert_int_equal(dns_build_response(&q, 0, NULL, 0, out, sizeof(out), &n), -AGW_EINVAL);
}

static void test_build_error(void **state)
{
	uint8_t out[64];
	size_t n;
	uint8_t resp[12] = {0x12, 0x34, 0x81, 0x00};

	assert_int_equal(dns_build_error(dig_a, 5, DNS_RC_FORMERR, out, sizeof(out), &n),
			 -AGW_EPARSE);
	assert_int_equal(dns_build_error(dig_a, 11, DNS_RC_FORMERR, out, sizeof(out), &n),
			 -AGW_EPARSE);
	assert_int_equal(dns_build_error(resp, sizeof(resp), DNS_RC_FORMERR, out, sizeof(out), &n),
			 -AGW_EPARSE);
	assert_int_equal(dns_build_error(dig_a, 12, DNS_RC_FORMERR, out, 11, &n), -AGW_ETOOBIG);
	assert_int_equal(dns_build_error(dig_a, 12, DNS_RC_FORMERR, out, sizeof(out), &n), 0);
	assert_int_equal(n, 12);
	assert_memory_equal(out, "\x24\x89\x81\x81\x00\x00\x00\x00\x00\x00\x00\x00", 12);
	assert_int_equal(
	    dns_build_error(dig_a, sizeof(dig_a), DNS_RC_SERVFAIL, out, sizeof(out), &n), 0);
	assert_int_equal(out[3], 0x82);
}

static void test_tcp_frame(void **state)
{
	uint8_t b[3] = {0x01, 0x02, 0xff};
	size_t n = 99;

	assert_int_equal(dns_tcp_frame_len(b, 0, &n), -AGW_ETRUNC);
	assert_int_equal(dns_tcp_frame_len(b, 1, &n), -AGW_ETRUNC);
	assert_int_equal(dns_tcp_frame_len(b, 2, &n), 0);
	assert_int_equal(n, 0x0102);
	b[0] = 0xff;
	assert_int_equal(dns_tcp_frame_len(b, 3, &n), 0);
	assert_int_equal(n, 0xff02);
}

static void test_ede_encode(void **state)
{
	uint8_t out[256];
	size_t n;
	struct dns_ede e = {.code = DNS_EDE_BLOCKED, .text = "no\x01rule"};

	(void)state;
	/* OPTION-CODE 15, OPTION-LENGTH 2 + 7, INFO-CODE 15, EXTRA-TEXT */
	assert_int_equal(dns_ede_encode(&e, out, sizeof(out), &n), 0);
	assert_int_equal(n, 13);
	assert_memory_equal(out, "\x00\x0f\x00\x09\x00\x0fno?rule", 13);
	e.code = DNS_EDE_PROHIBITED;
	e.text = NULL;
	assert_int_equal(dns_ede_encode(&e, out, sizeof(out), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(out, "\x00\x0f\x00\x02\x00\x12", 6);
	assert_int_equal(dns_ede_encode(&e, out, 5, &n), -AGW_ETOOBIG);
	assert_int_equal(n, 0);
	/* text capped at DNS_EDE_TEXT_MAX */
	{
		char big[DNS_EDE_TEXT_MAX + 50];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		e.text = big;
		assert_int_equal(dns_ede_encode(&e, out, sizeof(out), &n), 0);
		assert_int_equal(n, 6 + DNS_EDE_TEXT_MAX);
		assert_int_equal(out[2] << 8 | out[3], 2 + DNS_EDE_TEXT_MAX);
	}
}

static void test_build_response_ede(void **state)
{
	struct dns_query q;
	struct dns_ede e = {.code = DNS_EDE_BLOCKED, .text = "denied by agentgw: x"};
	uint8_t out[512], plain[512];
	size_t n, pn;

	(void)state;
	assert_int_equal(dns_parse_query(dig_a, sizeof(dig_a), &q), 0);
	assert_int_equal(
	    dns_build_response_ede(&q, DNS_RC_NXDOMAIN, NULL, 0, &e, out, sizeof(out), &n), 0);
	/* header, question, then OPT with RDLENGTH 26: one EDE option */
	assert_int_equal(n, 30 + 11 + 26);
	assert_memory_equal(out + 2, "\x81\x83\x00\x01\x00\x00\x00\x00\x00\x01", 10);
	assert_memory_equal(out + 30, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x1a", 11);
	assert_memory_equal(out + 41,
			    "\x00\x0f\x00\x16\x00\x0f"
			    "denied by agentgw: x",
			    26);
	/* the reply parses back as a message whose OPT is where we put it */
	out[2] &= 0x7f; /* as a query: the parser only takes queries */
	assert_int_equal(dns_parse_query(out, n, &q), 0);
	assert_true(q.has_opt);

	/* no EDNS in the query: no OPT in the reply (RFC 6891), same bytes
	 * as without an EDE */
	q.has_opt = false;
	assert_int_equal(
	    dns_build_response_ede(&q, DNS_RC_REFUSED, NULL, 0, &e, out, sizeof(out), &n), 0);
	assert_int_equal(dns_build_response(&q, DNS_RC_REFUSED, NULL, 0, plain, sizeof(plain), &pn),
			 0);
	assert_int_equal(n, 30);
	assert_int_equal(n, pn);
	assert_memory_equal(out, plain, n);

	/* short room: the text goes first, then the option */
	q.has_opt = true;
	assert_int_equal(dns_build_response_ede(&q, 5, NULL, 0, &e, out, 30 + 11 + 25, &n), 0);
	assert_int_equal(n, 30 + 11 + 6);
	assert_memory_equal(out + 41, "\x00\x0f\x00\x02\x00\x0f", 6);
	assert_int_equal(dns_build_response_ede(&q, 5, NULL, 0, &e, out, 30 + 11 + 5, &n), 0);
	assert_int_equal(n, 30 + 11);
	assert_int_equal(out[40], 0); /* RDLENGTH 0 */
	/* answers that fit stay, with the EDE */
	{
		struct dns_rr rr = {.type = DNS_T_A, .ttl = 5, .addr = {192, 0, 2, 1}};

		assert_int_equal(dns_build_response_ede(&q, 0, &rr, 1, &e, out, sizeof(out), &n),
				 0);
		assert_int_equal(n, 30 + 16 + 11 + 26);
		assert_int_equal(out[7], 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_name_limits),
	    cmocka_unit_test(test_real_dig_and_truncations),
	    cmocka_unit_test(test_build_response),
	    cmocka_unit_test(test_build_response_limits),
	    cmocka_unit_test(test_build_error),
	    cmocka_unit_test(test_ede_encode),
	    cmocka_unit_test(test_build_response_ede),
	    cmocka_unit_test(test_tcp_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
