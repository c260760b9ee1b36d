// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the packet summariser: IPv4 with and without options,
 * TCP/UDP ports, ICMP types, fragments, IPv6 with extension headers (and
 * an over-long chain), truncated captures at every length, and the text
 * and JSON forms used in drop events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/pkt.h"

struct buf {
	uint8_t b[256];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
	uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	put(b, x, 2);
}

/* IPv4 header with ihl_words*4 bytes (options filled with NOPs). */
static void ipv4(struct buf *b, uint8_t proto, const char *src, const char *dst, int ihl_words,
		 uint16_t frag, size_t payload)
{
	struct in_addr a;

	put8(b, (uint8_t)(0x40 | ihl_words));
	put8(b, 0);
	put16(b, (uint16_t)(ihl_words * 4 + payload));
	put16(b, 0x1234);
	put16(b, frag);
	put8(b, 64);
	put8(b, proto);
	put16(b, 0);
	assert_int_equal(inet_pton(AF_INET, src, &a), 1);
	put(b, &a, 4);
	assert_int_equal(inet_pton(AF_INET, dst, &a), 1);
	put(b, &a, 4);
	for (int i = 5; i < ihl_words; i++)
		put(b, "\x01\x01\x01\x01", 4);
}

static void ipv6(struct buf *b, uint8_t nh, const char *src, const char *dst, size_t payload)
{
	struct in6_addr a;

	put(b, "\x60\x00\x00\x00", 4);
	put16(b, (uint16_t)payload);
	put8(b, nh);
	put8(b, 64);
	assert_int_equal(inet_pton(AF_INET6, src, &a), 1);
	put(b, &a, 16);
	assert_int_equal(inet_pton(AF_INET6, dst, &a), 1);
	put(b, &a, 16);
}

static void udp(struct buf *b, uint16_t sport, uint16_t dport)
{
	put16(b, sport);
	put16(b, dport);
	put16(b, 8);
	put16(b, 0);
}

static void tcp_syn(struct buf *b, uint16_t sport, uint16_t dport)
{
	put16(b, sport);
	put16(b, dport);
	put(b, "\0\0\0\1\0\0\0\0", 8);
	put8(b, 0x50);
	put8(b, 0x02);
	put(b, "\xff\xff\0\0\0\0", 6);
}

static void test_ipv4_udp(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	char s[PKT_ADDR_STRLEN];

	ipv4(&b, IPPROTO_UDP, "10.77.0.2", "8.8.8.8", 5, 0, 8);
	udp(&b, 40000, 53);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_int_equal(pi.family, AF_INET);
	assert_int_equal(pi.proto, IPPROTO_UDP);
	assert_true(pi.has_ports);
	assert_false(pi.has_icmp);
	assert_int_equal(pi.sport, 40000);
	assert_int_equal(pi.dport, 53);
	assert_int_equal(ntohs(pi.dst.sin.sin_port), 53);
	assert_int_equal(pi.ip_len, 28);
	assert_int_equal(pkt_format_dst(&pi, s, sizeof(s)), 0);
	assert_string_equal(s, "8.8.8.8:53");
	assert_int_equal(pkt_format_src(&pi, s, sizeof(s)), 0);
	assert_string_equal(s, "10.77.0.2:40000");
	assert_string_equal(pkt_proto_name(pi.proto), "udp");
}

static void test_ipv4_options_tcp(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	char j[256];

	ipv4(&b, IPPROTO_TCP, "10.77.0.2", "203.0.113.10", 15, 0x4000, 20);
	tcp_syn(&b, 5555, 8080);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_int_equal(pi.proto, IPPROTO_TCP);
	assert_int_equal(pi.sport, 5555);
	assert_int_equal(pi.dport, 8080);
	assert_int_equal(pi.tcp_flags, 0x02);
	assert_false(pi.fragment);
	assert_int_equal(pkt_format_json(&pi, j, sizeof(j)), 0);
	assert_string_equal(j, "{\"proto\":\"tcp\",\"proto_num\":6,\"src\":\"10.77.0.2:5555\","
			       "\"dst\":\"203.0.113.10:8080\",\"len\":80,\"flags\":2}");
}

static void test_ipv4_icmp(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	char s[PKT_ADDR_STRLEN], j[256];

	ipv4(&b, IPPROTO_ICMP, "10.77.0.2", "1.1.1.1", 5, 0, 8);
	put(&b, "\x08\x00\x00\x00\x00\x01\x00\x01", 8);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_int_equal(pi.proto, IPPROTO_ICMP);
	assert_true(pi.has_icmp);
	assert_false(pi.has_ports);
	assert_int_equal(pi.icmp_type, 8);
	assert_int_equal(pi.icmp_code, 0);
	assert_int_equal(pkt_format_dst(&pi, s, sizeof(s)), 0);
	assert_string_equal(s, "1.1.1.1");
	assert_int_equal(pkt_format_json(&pi, j, sizeof(j)), 0);
	assert_string_equal(j, "{\"proto\":\"icmp\",\"proto_num\":1,\"src\":\"10.77.0.2\","
			       "\"dst\":\"1.1.1.1\",\"len\":28,\"icmp_type\":8,\"icmp_code\":0}");
	/* Too small a buffer: error and an empty string, never a partial one. */
	assert_int_equal(pkt_format_json(&pi, j, 40), -AGW_ETOOBIG);
	assert_string_equal(j, "");
	assert_int_equal(pkt_format_dst(&pi, s, 4), -AGW_ETOOBIG);
	assert_string_equal(s, "");
}

static void test_ipv4_fragment(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	char j[256];

	/* Non-first fragment: the bytes after the header are not a UDP header. */
	ipv4(&b, IPPROTO_UDP, "10.77.0.2", "8.8.8.8", 5, 0x0010, 8);
	udp(&b, 1, 2);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_true(pi.fragment);
	assert_false(pi.has_ports);
	assert_int_equal(pkt_format_json(&pi, j, sizeof(j)), 0);
	assert_non_null(strstr(j, "\"fragment\":true"));
	assert_non_null(strstr(j, "\"dst\":\"8.8.8.8\""));
}

static void test_ipv4_bad(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;

	ipv4(&b, IPPROTO_UDP, "10.77.0.2", "8.8.8.8", 5, 0, 8);
	udp(&b, 1, 2);
	b.b[0] = 0x44; /* ihl 16 bytes */
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), -AGW_EPARSE);
	assert_int_equal(pi.family, 0);
	b.b[0] = 0x4f; /* ihl 60 bytes > 28 captured */
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), -AGW_EPARSE);
	b.b[0] = 0x45;
	b.b[2] = 0;
	b.b[3] = 10; /* total length below the header */
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), -AGW_EPARSE);
	b.b[0] = 0x55; /* version 5 */
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), -AGW_EPARSE);
	assert_int_equal(pkt_summarize(NULL, 0, &pi), -AGW_EPARSE);
	assert_int_equal(pkt_summarize(b.b, b.n, NULL), -AGW_EINVAL);
}

static void test_ipv4_truncated(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;

	ipv4(&b, IPPROTO_TCP, "10.77.0.2", "203.0.113.10", 5, 0, 20);
	tcp_syn(&b, 5555, 443);
	for (size_t n = 0; n < 20; n++)
		assert_int_equal(pkt_summarize(b.b, n, &pi), -AGW_EPARSE);
	for (size_t n = 20; n < 24; n++) {
		assert_int_equal(pkt_summarize(b.b, n, &pi), -AGW_ETRUNC);
		assert_int_equal(pi.family, AF_INET);
		assert_int_equal(pi.proto, IPPROTO_TCP);
		assert_false(pi.has_ports);
	}
	for (size_t n = 24; n <= b.n; n++) {
		assert_int_equal(pkt_summarize(b.b, n, &pi), 0);
		assert_int_equal(pi.dport, 443);
	}
	/* The IP total length bounds the packet even when more bytes follow. */
	b.b[2] = 0;
	b.b[3] = 22;
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), -AGW_ETRUNC);
}

static void test_ipv6_udp(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	char s[PKT_ADDR_STRLEN];

	ipv6(&b, IPPROTO_UDP, "fd77::2", "2001:db8::10", 8);
	udp(&b, 1234, 53);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_int_equal(pi.family, AF_INET6);
	assert_int_equal(pi.proto, IPPROTO_UDP);
	assert_int_equal(pi.dport, 53);
	assert_int_equal(pi.ip_len, 48);
	assert_int_equal(pkt_format_dst(&pi, s, sizeof(s)), 0);
	assert_string_equal(s, "[2001:db8::10]:53");
}

static void test_ipv6_ext_headers(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;

	/* hop-by-hop (8) -> dest opts (16) -> fragment offset 0 (8) -> TCP */
	ipv6(&b, IPPROTO_HOPOPTS, "fd77::2", "fd77::1", 8 + 16 + 8 + 20);
	put(&b, "\x3c\x00\x01\x04\x00\x00\x00\x00", 8);
	put8(&b, IPPROTO_FRAGMENT);
	put8(&b, 1);
	put(&b, "\x01\x0c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 14);
	put8(&b, IPPROTO_TCP);
	put(&b, "\x00\x00\x01\x00\x00\x00\x2a", 7); /* first fragment, M flag */
	tcp_syn(&b, 40000, 443);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_int_equal(pi.proto, IPPROTO_TCP);
	assert_false(pi.fragment);
	assert_int_equal(pi.dport, 443);
	/* Every cut inside the extension headers is a partial result. */
	for (size_t n = 40; n < 40 + 8 + 16 + 8 + 4; n++)
		assert_int_equal(pkt_summarize(b.b, n, &pi), -AGW_ETRUNC);
	for (size_t n = 0; n < 40; n++)
		assert_int_equal(pkt_summarize(b.b, n, &pi), -AGW_EPARSE);
}

static void test_ipv6_fragment_and_icmp(void **state)
{
	struct buf b = {0}, c = {0};
	struct pkt_info pi;

	ipv6(&b, IPPROTO_FRAGMENT, "fd77::2", "fd77::1", 16);
	put8(&b, IPPROTO_UDP);
	put(&b, "\x00\x00\x08\x00\x00\x00\x2a", 7); /* offset 1 (8 bytes) */
	udp(&b, 7, 9);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_true(pi.fragment);
	assert_false(pi.has_ports);
	assert_int_equal(pi.proto, IPPROTO_UDP);

	ipv6(&c, IPPROTO_ICMPV6, "fd77::2", "ff02::2", 8);
	put(&c, "\x85\x00\x00\x00\x00\x00\x00\x00", 8); /* router solicitation */
	assert_int_equal(pkt_summarize(c.b, c.n, &pi), 0);
	assert_int_equal(pi.proto, IPPROTO_ICMPV6);
	assert_true(pi.has_icmp);
	assert_int_equal(pi.icmp_type, 133);
	assert_string_equal(pkt_proto_name(pi.proto), "icmpv6");
}

static void test_ipv6_chain_too_long(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	int i;

	ipv6(&b, IPPROTO_DSTOPTS, "fd77::2", "fd77::1", (PKT_MAX_EXT_HDRS + 1) * 8 + 8);
	for (i = 0; i < PKT_MAX_EXT_HDRS + 1; i++) {
		put8(&b, IPPROTO_DSTOPTS);
		put(&b, "\x00\x01\x04\x00\x00\x00\x00", 7);
	}
	udp(&b, 1, 2);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), -AGW_EPARSE);
	assert_int_equal(pi.family, 0);

	/* Exactly the maximum is fine. */
	memset(&b, 0, sizeof(b));
	ipv6(&b, IPPROTO_DSTOPTS, "fd77::2", "fd77::1", PKT_MAX_EXT_HDRS * 8 + 8);
	for (i = 0; i < PKT_MAX_EXT_HDRS; i++) {
		put8(&b, i == PKT_MAX_EXT_HDRS - 1 ? IPPROTO_UDP : IPPROTO_DSTOPTS);
		put(&b, "\x00\x01\x04\x00\x00\x00\x00", 7);
	}
	udp(&b, 1, 2);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_int_equal(pi.dport, 2);
}

static void test_other_proto(void **state)
{
	struct buf b = {0};
	struct pkt_info pi;
	char j[256];

	ipv4(&b, IPPROTO_GRE, "10.77.0.2", "203.0.113.12", 5, 0, 4);
	put(&b, "\0\0\0\0", 4);
	assert_int_equal(pkt_summarize(b.b, b.n, &pi), 0);
	assert_false(pi.has_ports);
	assert_false(pi.has_icmp);
	assert_string_equal(pkt_proto_name(pi.proto), "gre");
	assert_string_equal(pkt_proto_name(253), "other");
	assert_int_equal(pkt_format_json(&pi, j, sizeof(j)), 0);
	assert_string_equal(j, "{\"proto\":\"gre\",\"proto_num\":47,\"src\":\"10.77.0.2\","
			       "\"dst\":\"203.0.113.12\",\"len\":24}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_udp),
	    cmocka_unit_test(test_ipv4_options_tcp),
	    cmocka_unit_test(test_ipv4_icmp),
	    cmocka_unit_test(test_ipv4_fragment),
	    cmocka_unit_test(test_ipv4_bad),
	    cmocka_unit_test(test_ipv4_truncated),
	    cmocka_unit_test(test_ipv6_udp),
	    cmocka_unit_test(test_ipv6_ext_headers),
	    cmocka_unit_test(test_ipv6_fragment_and_icmp),
	    cmocka_unit_test(test_ipv6_chain_too_long),
	    cmocka_unit_test(test_other_proto),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
