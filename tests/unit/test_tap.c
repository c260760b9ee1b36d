// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tests for tap creation, addresses and link state. They run inside a
 * network namespace of their own (unshare(CLONE_NEWNET) in main), so the
 * host's interfaces are never touched. Need root: skipped without it,
 * failed under CI=true.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include <cmocka.h>

#include "test_netns_util.h"

#include "agw.h"
#include "vmctl/tap.h"

static void test_tap_lifecycle(void **state)
{
	char name[16], line[512];
	struct ifreq ifr;
	struct in_addr a;
	int fd = -1, fd2 = -1;

	need_netns();
	assert_int_equal(tap_create("agwtap0", &fd), 0);
	assert_true(fd >= 0);
	assert_int_equal(tap_name(fd, name, sizeof(name)), 0);
	assert_string_equal(name, "agwtap0");
	assert_int_equal(tap_link_exists("agwtap0"), 1);
	assert_int_equal(tap_link_exists("agwtap1"), 0);

	/* The same name twice is refused, not silently attached. */
	assert_int_equal(tap_create("agwtap0", &fd2), -EBUSY);
	assert_int_equal(fd2, -1);

	/* IFF_VNET_HDR and IFF_NO_PI are what QEMU's vnet_hdr=on expects. */
	memset(&ifr, 0, sizeof(ifr));
	assert_int_equal(ioctl(fd, TUNGETIFF, &ifr), 0);
	assert_int_equal(ifr.ifr_flags & (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR),
			 IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);

	inet_pton(AF_INET, "10.99.0.1", &a);
	assert_int_equal(tap_addr_add("agwtap0", a, 30), 0);
	assert_int_equal(tap_addr_add("agwtap0", a, 30), 0); /* idempotent */
	assert_int_equal(tap_link_up("agwtap0"), 0);
	assert_int_equal(run("ip -o -4 addr show dev agwtap0", line, sizeof(line)), 0);
	assert_non_null(strstr(line, "inet 10.99.0.1/30"));
	assert_int_equal(run("ip -o link show dev agwtap0", line, sizeof(line)), 0);
	assert_non_null(strstr(line, ",UP"));

	/* Not persistent: closing the fd removes the interface. */
	close(fd);
	assert_int_equal(tap_link_exists("agwtap0"), 0);
	assert_int_not_equal(system("ip link show dev agwtap0 >/dev/null 2>&1"), 0);
}

static void test_tap_kernel_name_and_delete(void **state)
{
	char name[16];
	int fd = -1;

	need_netns();
	assert_int_equal(tap_create(NULL, &fd), 0);
	assert_int_equal(tap_name(fd, name, sizeof(name)), 0);
	assert_int_equal(strncmp(name, "tap", 3), 0);
	assert_int_equal(tap_link_exists(name), 1);
	/* Deleting while the fd is open works too. */
	assert_int_equal(tap_delete(name), 0);
	assert_int_equal(tap_link_exists(name), 0);
	assert_int_equal(tap_delete(name), 0); /* already gone */
	close(fd);
}

static void test_tap_missing_and_invalid(void **state)
{
	struct in_addr a = {0};
	int fd = 123;

	/* Validation happens before any privileged call. */
	assert_int_equal(tap_create("this-name-is-too-long", &fd), -AGW_EINVAL);
	assert_int_equal(fd, -1);
	assert_int_equal(tap_create("a/b", &fd), -AGW_EINVAL);
	assert_int_equal(tap_create("a b", &fd), -AGW_EINVAL);
	assert_int_equal(tap_addr_add("", a, 24), -AGW_EINVAL);
	assert_int_equal(tap_addr_add("lo", a, 33), -AGW_EINVAL);
	assert_int_equal(tap_link_up(NULL), -AGW_EINVAL);
	assert_int_equal(tap_delete("x y"), -AGW_EINVAL);
	assert_int_equal(tap_link_exists(".."), 0);

	need_netns();
	inet_pton(AF_INET, "10.99.0.1", &a);
	assert_int_equal(tap_addr_add("nosuch0", a, 24), -ENODEV);
	assert_int_equal(tap_link_up("nosuch0"), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tap_lifecycle),
	    cmocka_unit_test(test_tap_kernel_name_and_delete),
	    cmocka_unit_test(test_tap_missing_and_invalid),
	};

	tnn_enter("test_tap");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
