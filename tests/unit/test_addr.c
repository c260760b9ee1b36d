// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for address classification and formatting: the edges of
 * every special-purpose IPv4 and IPv6 range, IPv6 spellings of private
 * IPv4 addresses (mapped, NAT64, 6to4, compatible, Teredo), the
 * documentation ranges the test suite uses as its fake internet, and
 * address:port formatting with small buffers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/addr.h"

struct acase {
	const char *ip;
	enum addr_class cls;
};

static const struct acase acases[] = {
    /* IPv4 */
    {"0.0.0.0", ADDR_UNSPECIFIED},
    {"0.255.255.255", ADDR_UNSPECIFIED},
    {"1.0.0.0", ADDR_PUBLIC},
    {"8.8.8.8", ADDR_PUBLIC},
    {"9.255.255.255", ADDR_PUBLIC},
    {"10.0.0.0", ADDR_PRIVATE},
    {"10.255.255.255", ADDR_PRIVATE},
    {"11.0.0.0", ADDR_PUBLIC},
    {"100.63.255.255", ADDR_PUBLIC},
    {"100.64.0.0", ADDR_CGNAT},
    {"100.127.255.255", ADDR_CGNAT},
    {"100.128.0.0", ADDR_PUBLIC},
    {"126.255.255.255", ADDR_PUBLIC},
    {"127.0.0.1", ADDR_LOOPBACK},
    {"127.255.255.254", ADDR_LOOPBACK},
    {"128.0.0.0", ADDR_PUBLIC},
    {"169.253.255.255", ADDR_PUBLIC},
    {"169.254.0.0", ADDR_LINKLOCAL},
    {"169.254.169.254", ADDR_LINKLOCAL},
    {"169.255.0.0", ADDR_PUBLIC},
    {"172.15.255.255", ADDR_PUBLIC},
    {"172.16.0.0", ADDR_PRIVATE},
    {"172.31.255.255", ADDR_PRIVATE},
    {"172.32.0.0", ADDR_PUBLIC},
    {"192.0.0.0", ADDR_RESERVED},
    {"192.0.0.255", ADDR_RESERVED},
    {"192.0.1.0", ADDR_PUBLIC},
    {"192.0.2.1", ADDR_PUBLIC}, /* TEST-NET-1: the tests' fake internet */
    {"192.167.255.255", ADDR_PUBLIC},
    {"192.168.0.0", ADDR_PRIVATE},
    {"192.168.255.255", ADDR_PRIVATE},
    {"192.169.0.0", ADDR_PUBLIC},
    {"198.17.255.255", ADDR_PUBLIC},
    {"198.18.0.0", ADDR_RESERVED},
    {"198.19.255.255", ADDR_RESERVED},
    {"198.20.0.0", ADDR_PUBLIC},
    {"198.51.100.7", ADDR_PUBLIC}, /* TEST-NET-2 */
    {"203.0.113.9", ADDR_PUBLIC},  /* TEST-NET-3 */
    {"223.255.255.255", ADDR_PUBLIC},
    {"224.0.0.1", ADDR_MULTICAST},
    {"239.255.255.255", ADDR_MULTICAST},
    {"240.0.0.0", ADDR_RESERVED},
    {"255.255.255.254", ADDR_RESERVED},
    {"255.255.255.255", ADDR_BROADCAST},
    /* IPv6 */
    {"::", ADDR_UNSPECIFIED},
    {"::1", ADDR_LOOPBACK},
    {"::2", ADDR_RESERVED},
    {"::127.0.0.1", ADDR_RESERVED},
    {"::8.8.8.8", ADDR_RESERVED},
    {"::ffff:8.8.8.8", ADDR_V4MAPPED},
    {"::ffff:127.0.0.1", ADDR_V4MAPPED},
    {"::ffff:0:8.8.8.8", ADDR_RESERVED}, /* SIIT translated: not global unicast */
    {"64:ff9b::8.8.8.8", ADDR_PUBLIC},
    {"64:ff9b::10.0.0.1", ADDR_PRIVATE},
    {"64:ff9b::127.0.0.1", ADDR_LOOPBACK},
    {"64:ff9b::169.254.169.254", ADDR_LINKLOCAL},
    {"64:ff9b:1::10.0.0.1", ADDR_RESERVED}, /* local-use NAT64: outside 2000::/3 */
    {"2002:0a00:0001::1", ADDR_PRIVATE},
    {"2002:7f00:0001::", ADDR_LOOPBACK},
    {"2002:0808:0808::1", ADDR_PUBLIC},
    {"2002:a9fe:a9fe::", ADDR_LINKLOCAL},
    {"2001::1", ADDR_RESERVED},
    {"2001:0:ffff::1", ADDR_RESERVED},
    {"2001:1::1", ADDR_PUBLIC},
    {"2001:db8::1", ADDR_PUBLIC}, /* documentation: the tests' fake internet */
    {"2606:4700::1111", ADDR_PUBLIC},
    {"fe80::1", ADDR_LINKLOCAL},
    {"febf:ffff::1", ADDR_LINKLOCAL},
    {"fec0::1", ADDR_RESERVED},
    {"fc00::1", ADDR_ULA},
    {"fdff:ffff::1", ADDR_ULA},
    {"fbff::1", ADDR_RESERVED},
    {"4000::1", ADDR_RESERVED},
    {"3fff:ffff::1", ADDR_PUBLIC},
    {"1fff::1", ADDR_RESERVED},
    {"fe00::1", ADDR_RESERVED},
    {"ff02::1", ADDR_MULTICAST},
    {"ff0e::1", ADDR_MULTICAST},
};

static void test_classify_table(void **state)
{
	for (size_t i = 0; i < AGW_ARRAY_LEN(acases); i++) {
		struct sockaddr_storage ss;
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		memset(&ss, 0, sizeof(ss));
		if (strchr(acases[i].ip, ':')) {
			in6->sin6_family = AF_INET6;
			assert_int_equal(inet_pton(AF_INET6, acases[i].ip, &in6->sin6_addr), 1);
		} else {
			in->sin_family = AF_INET;
			assert_int_equal(inet_pton(AF_INET, acases[i].ip, &in->sin_addr), 1);
		}
		print_message("%s -> %s\n", acases[i].ip,
			      addr_class_str(addr_classify((struct sockaddr *)&ss)));
		assert_int_equal(addr_classify((struct sockaddr *)&ss), acases[i].cls);
	}
}

static void test_classify_other(void **state)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(addr_classify((struct sockaddr *)&ss), ADDR_RESERVED);
	assert_int_equal(addr_classify(NULL), ADDR_RESERVED);
	assert_string_equal(addr_class_str(ADDR_PUBLIC), "public");
	assert_string_equal(addr_class_str(ADDR_V4MAPPED), "v4-mapped");
	assert_string_equal(addr_class_str(ADDR_ULA), "ula");
	assert_string_equal(addr_class_str((enum addr_class)99), "unknown");
}

static void test_format(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(443)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(8443)};
	struct sockaddr_storage ss = {.ss_family = AF_UNIX};
	char out[64];

	inet_pton(AF_INET, "192.0.2.10", &in.sin_addr);
	inet_pton(AF_INET6, "2001:db8::a", &in6.sin6_addr);
	assert_int_equal(addr_format((struct sockaddr *)&in, out, sizeof(out)), 0);
	assert_string_equal(out, "192.0.2.10:443");
	assert_int_equal(addr_format((struct sockaddr *)&in6, out, sizeof(out)), 0);
	assert_string_equal(out, "[2001:db8::a]:8443");
	in.sin_port = 0;
	in6.sin6_port = 0;
	assert_int_equal(addr_format((struct sockaddr *)&in, out, sizeof(out)), 0);
	assert_string_equal(out, "192.0.2.10");
	assert_int_equal(addr_format((struct sockaddr *)&in6, out, sizeof(out)), 0);
	assert_string_equal(out, "[2001:db8::a]");
	/* Exactly fitting and one byte short. */
	assert_int_equal(addr_format((struct sockaddr *)&in, out, 11), 0);
	assert_int_equal(addr_format((struct sockaddr *)&in, out, 10), -AGW_ETOOBIG);
	assert_string_equal(out, "");
	assert_int_equal(addr_format((struct sockaddr *)&in, out, 0), -AGW_ETOOBIG);
	assert_int_equal(addr_format((struct sockaddr *)&ss, out, sizeof(out)), -AGW_EINVAL);
	assert_int_equal(addr_format(NULL, out, sizeof(out)), -AGW_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify_table),
	    cmocka_unit_test(test_classify_other),
	    cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
