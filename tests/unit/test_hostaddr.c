// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the gateway host's own addresses (hostaddr.h): the set
 * (duplicates, one address on two interfaces, deletes), the rtnetlink
 * message parser on hand-built datagrams (IPv4 point-to-point local vs
 * peer, IPv6, deletes, end of dump, errors, truncation), and, as root in
 * a namespace of its own, the live subscription: an address added or
 * removed with ip(8) changes the class at the next lookup.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "gateway/net/hostaddr.h"
#include "test_netns_util.h"

static struct sockaddr_storage sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(443);
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return ss;
}

static bool has(const struct hostaddr_set *s, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);

	return hostaddr_set_has(s, (struct sockaddr *)&ss);
}

static void test_set(void **state)
{
	struct hostaddr_set s = {0};
	uint8_t a[16] = {198, 51, 100, 1}, b[16];

	(void)state;
	inet_pton(AF_INET6, "2001:db8::1", b);
	assert_false(has(&s, "198.51.100.1"));
	assert_int_equal(hostaddr_set_add(&s, AF_INET, 2, a), 0);
	assert_int_equal(hostaddr_set_add(&s, AF_INET, 2, a), 0); /* duplicate */
	assert_int_equal(s.n, 1);
	assert_int_equal(hostaddr_set_add(&s, AF_INET, 3, a), 0); /* second interface */
	assert_int_equal(hostaddr_set_add(&s, AF_INET6, 2, b), 0);
	assert_int_equal(hostaddr_set_add(&s, AF_UNIX, 2, b), -AGW_EINVAL);
	assert_true(has(&s, "198.51.100.1"));
	assert_false(has(&s, "198.51.100.2"));
	assert_true(has(&s, "2001:db8::1"));
	/* The IPv4 bytes spelled as IPv6 are another address. */
	assert_false(has(&s, "c633:6401::"));
	hostaddr_set_del(&s, AF_INET, 2, a);
	assert_true(has(&s, "198.51.100.1")); /* still on interface 3 */
	hostaddr_set_del(&s, AF_INET, 3, a);
	assert_false(has(&s, "198.51.100.1"));
	hostaddr_set_del(&s, AF_INET, 3, a); /* absent: fine */
	assert_true(has(&s, "2001:db8::1"));
	assert_false(hostaddr_set_has(&s, NULL));
	assert_false(hostaddr_set_has(NULL, NULL));
	hostaddr_set_clear(&s);
	assert_int_equal(s.n, 0);
	hostaddr_set_clear(NULL);
}

/* ---- hand-built rtnetlink datagrams ---- */

struct nlbuf {
	uint8_t b[1024];
	size_t len;
};

static struct nlmsghdr *nl_msg(struct nlbuf *nb, uint16_t type)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(void *)(nb->b + nb->len);

	memset(h, 0, NLMSG_HDRLEN);
	h->nlmsg_type = type;
	h->nlmsg_len = NLMSG_HDRLEN;
	return h;
}

static void nl_put(struct nlbuf *nb, struct nlmsghdr *h, const void *p, size_t n)
{
	memcpy((uint8_t *)h + h->nlmsg_len, p, n);
	h->nlmsg_len += (uint32_t)NLMSG_ALIGN(n);
}

static void nl_attr(struct nlbuf *nb, struct nlmsghdr *h, uint16_t type, const void *p, size_t n)
{
	struct rtattr ra = {.rta_len = (unsigned short)RTA_LENGTH(n), .rta_type = type};
	uint8_t tmp[64] = {0};

	memcpy(tmp, &ra, sizeof(ra));
	memcpy(tmp + RTA_LENGTH(0), p, n);
	nl_put(nb, h, tmp, RTA_SPACE(n));
}

static void nl_end(struct nlbuf *nb, struct nlmsghdr *h)
{
	nb->len += NLMSG_ALIGN(h->nlmsg_len);
}

static void nl_addr(struct nlbuf *nb, uint16_t type, int family, uint32_t ifindex,
		    const char *local, const char *address)
{
	struct nlmsghdr *h = nl_msg(nb, type);
	struct ifaddrmsg ifa = {.ifa_family = (uint8_t)family, .ifa_index = ifindex};
	uint8_t a[16];

	nl_put(nb, h, &ifa, sizeof(ifa));
	if (local) {
		inet_pton(family, local, a);
		nl_attr(nb, h, IFA_LOCAL, a, family == AF_INET ? 4 : 16);
	}
	if (address) {
		inet_pton(family, address, a);
		nl_attr(nb, h, IFA_ADDRESS, a, family == AF_INET ? 4 : 16);
	}
	nl_end(nb, h);
}

static void test_nl_apply(void **state)
{
	struct hostaddr_set s = {0};
	struct nlbuf nb = {0};
	bool done = false;

	(void)state;
	/* point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer */
	nl_addr(&nb, RTM_NEWADDR, AF_INET, 4, "192.0.2.1", "192.0.2.2");
	nl_addr(&nb, RTM_NEWADDR, AF_INET, 5, NULL, "198.51.100.1");
	nl_addr(&nb, RTM_NEWADDR, AF_INET6, 5, NULL, "2001:db8::1");
	nl_addr(&nb, RTM_NEWADDR, AF_INET6, 6, NULL, NULL); /* no address: ignored */
	nl_end(&nb, nl_msg(&nb, RTM_NEWLINK));		    /* another type: ignored */
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, nb.len, &done), 0);
	assert_false(done);
	assert_true(has(&s, "192.0.2.1"));
	assert_false(has(&s, "192.0.2.2"));
	assert_true(has(&s, "198.51.100.1"));
	assert_true(has(&s, "2001:db8::1"));
	assert_int_equal(s.n, 3);

	nb.len = 0;
	nl_addr(&nb, RTM_DELADDR, AF_INET, 5, NULL, "198.51.100.1");
	nl_end(&nb, nl_msg(&nb, NLMSG_DONE));
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, nb.len, &done), 0);
	assert_true(done);
	assert_false(has(&s, "198.51.100.1"));
	assert_true(has(&s, "192.0.2.1"));

	/* NLMSG_ERROR: 0 is an ack, anything else an error */
	nb.len = 0;
	{
		struct nlmsghdr *h = nl_msg(&nb, NLMSG_ERROR);
		struct nlmsgerr e = {0};

		nl_put(&nb, h, &e, sizeof(e));
		nl_end(&nb, h);
	}
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, nb.len, NULL), 0);
	{
		struct nlmsgerr *e = (struct nlmsgerr *)(void *)(nb.b + NLMSG_HDRLEN);

		e->error = -EPERM;
	}
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, nb.len, NULL), -AGW_EPROTO);
	hostaddr_set_clear(&s);
}

static void test_nl_malformed(void **state)
{
	struct hostaddr_set s = {0};
	struct nlbuf nb = {0};
	struct nlmsghdr *h;
	size_t one;

	(void)state;
	nl_addr(&nb, RTM_NEWADDR, AF_INET, 5, NULL, "198.51.100.1");
	one = nb.len;
	/* every truncation parses or fails cleanly; none adds a half address */
	for (size_t n = 0; n < one; n++) {
		int rc = hostaddr_nl_apply(&s, nb.b, n, NULL);

		assert_true(rc == 0 || rc == -AGW_EPARSE);
		assert_int_equal(s.n, 0);
	}
	/* length past the datagram */
	h = (struct nlmsghdr *)(void *)nb.b;
	h->nlmsg_len = (uint32_t)one + 4;
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, one, NULL), -AGW_EPARSE);
	h->nlmsg_len = 3;
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, one, NULL), -AGW_EPARSE);
	/* an address attribute too short for the family */
	nb.len = 0;
	h = nl_msg(&nb, RTM_NEWADDR);
	{
		struct ifaddrmsg ifa = {.ifa_family = AF_INET6, .ifa_index = 1};
		uint8_t a[4] = {1, 2, 3, 4};

		nl_put(&nb, h, &ifa, sizeof(ifa));
		nl_attr(&nb, h, IFA_ADDRESS, a, sizeof(a));
	}
	nl_end(&nb, h);
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, nb.len, NULL), -AGW_EPARSE);
	/* a zero-length attribute would loop forever */
	{
		struct rtattr *ra =
		    (struct rtattr *)(void *)(nb.b + NLMSG_HDRLEN +
					      NLMSG_ALIGN(sizeof(struct ifaddrmsg)));

		ra->rta_len = 0;
	}
	assert_int_equal(hostaddr_nl_apply(&s, nb.b, nb.len, NULL), -AGW_EPARSE);
	assert_int_equal(s.n, 0);
	hostaddr_set_clear(&s);
}

static enum addr_class cls(struct hostaddr *h, const char *ip)
{
	struct sockaddr_storage ss = sa_of(ip);

	return hostaddr_classify(h, (struct sockaddr *)&ss);
}

static void test_live(void **state)
{
	struct hostaddr *h = NULL;
	char out[256];

	(void)state;
	need_netns();
	assert_int_equal(
	    run("ip link set lo up && ip link add agwha0 type veth peer name agwha1 && "
		"ip link set agwha0 up && "
		"ip addr add 198.51.100.7/24 dev agwha0 2>&1",
		out, sizeof(out)),
	    0);
	assert_int_equal(hostaddr_new(&h), 0);
	assert_true(hostaddr_count(h) >= 3); /* 127.0.0.1, ::1, 198.51.100.7 */
	assert_int_equal(cls(h, "198.51.100.7"), ADDR_GATEWAY);
	assert_int_equal(cls(h, "198.51.100.8"), ADDR_PUBLIC);
	assert_int_equal(cls(h, "127.0.0.1"), ADDR_LOOPBACK); /* keeps its own name */
	assert_int_equal(cls(NULL, "198.51.100.7"), ADDR_PUBLIC);
	/* added later: seen at the next lookup, without the loop running */
	assert_int_equal(run("ip addr add 203.0.113.9/32 dev agwha0 && "
			     "ip addr add 2001:db8::9/64 dev agwha0 nodad 2>&1",
			     out, sizeof(out)),
			 0);
	assert_int_equal(cls(h, "203.0.113.9"), ADDR_GATEWAY);
	assert_int_equal(cls(h, "2001:db8::9"), ADDR_GATEWAY);
	assert_int_equal(run("ip addr del 203.0.113.9/32 dev agwha0 && "
			     "ip addr del 2001:db8::9/64 dev agwha0 2>&1",
			     out, sizeof(out)),
			 0);
	assert_int_equal(cls(h, "203.0.113.9"), ADDR_PUBLIC);
	assert_int_equal(cls(h, "2001:db8::9"), ADDR_PUBLIC);
	assert_int_equal(cls(h, "198.51.100.7"), ADDR_GATEWAY);
	/* the interface goes away: its addresses too */
	assert_int_equal(run("ip link del agwha0 2>&1", out, sizeof(out)), 0);
	assert_int_equal(cls(h, "198.51.100.7"), ADDR_PUBLIC);
	hostaddr_free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set),
	    cmocka_unit_test(test_nl_apply),
	    cmocka_unit_test(test_nl_malformed),
	    cmocka_unit_test(test_live),
	};

	tnn_enter("test_hostaddr");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
