// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for supervisor/sbx.h: shell quoting of the exec audit target, the
 * `info` parser, names, the state dir under $AGENTGW_RUN_DIR, fd passing
 * over the control socket, and cleanup refusing a live supervisor. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "supervisor/sbx.h"

static void quote(const char *const *argv, const char *want)
{
	char buf[256];

	assert_int_equal(sbx_quote_argv(buf, sizeof(buf), argv), strlen(want));
	assert_string_equal(buf, want);
}

static void test_quote(void **state)
{
	(void)state;
	quote((const char *[]){"ls", "-la", "/workspace", NULL}, "ls -la /workspace");
	quote((const char *[]){"sh", "-c", "echo hi; exit 3", NULL}, "sh -c 'echo hi; exit 3'");
	quote((const char *[]){"echo", "it's", NULL}, "echo 'it'\\''s'");
	quote((const char *[]){"printf", "a\nb\\'", NULL}, "printf $'a\\nb\\\\\\''");
	quote((const char *[]){"x", "", NULL}, "x ''");
	quote((const char *[]){"t\x01", NULL}, "$'t\\x01'");
	quote((const char *[]){NULL}, "");
}

static void test_quote_truncates(void **state)
{
	const char *argv[] = {"aaaaaaaaaa", "bbbbbbbbbb", "cccccccccc", NULL};
	char buf[16];
	size_t n;

	(void)state;
	n = sbx_quote_argv(buf, sizeof(buf), argv);
	assert_true(n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	assert_string_equal(buf + n - 3, "...");
	assert_int_equal(sbx_quote_argv(buf, 0, argv), 0);
	assert_int_equal(sbx_quote_argv(buf, 2, argv), 0);
	assert_string_equal(buf, "");
}

static void test_info_parse(void **state)
{
	const char text[] = "iface=agw-x\nguest=10.77.0.2\nstarted_at=1700000000\nqemu=42\n"
			    "noeq\nunknown=1\naccel=tcg\nqemu=43\nboot_ms=5000\n"
			    "iface=this-is-far-too-long-for-an-ifname";
	struct sbx_info in;

	(void)state;
	memset(&in, 0, sizeof(in));
	assert_int_equal(sbx_info_parse(text, strlen(text), &in), 0);
	assert_string_equal(in.guest, "10.77.0.2");
	assert_string_equal(in.accel, "tcg");
	assert_int_equal(in.qemu, 43); /* the later line wins */
	assert_int_equal(in.started_at, 1700000000);
	assert_int_equal(in.boot_ms, 5000);
	assert_int_equal(strlen(in.iface), sizeof(in.iface) - 1); /* bounded */
}

static void test_names(void **state)
{
	(void)state;
	assert_true(sbx_name_valid("sb1"));
	assert_true(sbx_name_valid("a-b_c"));
	assert_false(sbx_name_valid(""));
	assert_false(sbx_name_valid(NULL));
	assert_false(sbx_name_valid("-x"));
	assert_false(sbx_name_valid("A"));
	assert_false(sbx_name_valid("../x"));
	assert_false(sbx_name_valid("123456789012345678901234567890123"));
}

static void test_state_dir(void **state)
{
	char dir[] = "/tmp/test_sbx.XXXXXX", path[512];
	struct sbx_info in;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("AGENTGW_RUN_DIR", dir, 1);
	assert_string_equal(sbx_run_dir(), dir);
	assert_int_equal(sbx_info_read("nope", &in), -ENOENT);
	assert_int_equal(sbx_path(path, sizeof(path), "t1", NULL), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(sbx_info_add("t1", "guest", "10.77.1.2"), 0);
	assert_int_equal(sbx_info_add("t1", "runner", "0"), 0);
	assert_int_equal(sbx_path(path, sizeof(path), "t1", "pid"), 0);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}
	assert_int_equal(sbx_info_read("t1", &in), 0);
	assert_string_equal(in.guest, "10.77.1.2");
	assert_int_equal(in.pid, getpid());
	/* This test binary's name does not contain "agentgw": the sandbox is dead. */
	assert_int_equal(sbx_state_of(&in), SBX_DEAD);
	assert_false(sbx_pid_is(getpid(), "agentgw"));
	assert_true(sbx_pid_is(getpid(), "test_sbx"));
	sbx_state_remove("t1");
	assert_int_equal(sbx_info_read("t1", &in), -ENOENT);
	assert_int_equal(sbx_path(path, sizeof(path), "x", "y"), 0);
	assert_int_equal(rmdir(dir), 0);
	unsetenv("AGENTGW_RUN_DIR");
	assert_string_equal(sbx_run_dir(), SBX_RUN_DIR_DEFAULT);
}

/* A /30 named by another sandbox's info is skipped; a full pool is ENOSPC. */
static void test_subnet_pick(void **state)
{
	char dir[] = "/tmp/test_sbx.XXXXXX", path[512];
	uint32_t host, guest;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("AGENTGW_RUN_DIR", dir, 1);
	/* 198.18.255.0/29 (benchmarking range, on no interface here): two /30s */
	assert_int_equal(sbx_subnet_pick("198.18.255.0/29", 0, &host, &guest), 0);
	assert_int_equal(ntohl(host), 0xc612ff01u);
	assert_int_equal(ntohl(guest), 0xc612ff02u);
	assert_int_equal(sbx_path(path, sizeof(path), "s1", NULL), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(sbx_info_add("s1", "guest", "198.18.255.2"), 0);
	assert_int_equal(sbx_subnet_pick("198.18.255.0/29", 0, &host, &guest), 0);
	assert_int_equal(ntohl(guest), 0xc612ff06u); /* the second /30 */
	assert_int_equal(sbx_path(path, sizeof(path), "s2", NULL), 0);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(sbx_info_add("s2", "guest", "198.18.255.6"), 0);
	assert_int_equal(sbx_subnet_pick("198.18.255.0/29", 1, &host, &guest), -ENOSPC);
	/* the host part of the pool is ignored, the seed picks the slot */
	assert_int_equal(sbx_subnet_pick("198.18.255.77/28", 2, &host, &guest), 0);
	assert_int_equal(ntohl(guest), 0xc612ff4au); /* .64/28, third /30 */
	assert_int_equal(sbx_subnet_pick("198.18.255.0", 0, &host, &guest), -AGW_EINVAL);
	assert_int_equal(sbx_subnet_pick("198.18.255.0/31", 0, &host, &guest), -AGW_EINVAL);
	assert_int_equal(sbx_subnet_pick("198.18.255.0/7", 0, &host, &guest), -AGW_EINVAL);
	assert_int_equal(sbx_subnet_pick("198.18.255.0/2x", 0, &host, &guest), -AGW_EINVAL);
	assert_int_equal(sbx_subnet_pick("nonsense/24", 0, &host, &guest), -AGW_EINVAL);
	sbx_state_remove("s1");
	sbx_state_remove("s2");
	assert_int_equal(rmdir(dir), 0);
	unsetenv("AGENTGW_RUN_DIR");
}

static void test_fd_passing(void **state)
{
	int sv[2], fds[3] = {0, 1, 2}, got[3] = {-1, -1, -1}, n = 3;
	char buf[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	assert_int_equal(sbx_send(sv[0], "hello", 5, fds, 3), 0);
	assert_int_equal(sbx_recv(sv[1], buf, sizeof(buf), got, &n), 5);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(got[i] > 2);
		close(got[i]);
	}
	/* More fds than the receiver wants: the extra ones are closed, not leaked. */
	n = 1;
	assert_int_equal(sbx_send(sv[0], "x", 1, fds, 3), 0);
	assert_int_equal(sbx_recv(sv[1], buf, sizeof(buf), got, &n), 1);
	assert_int_equal(n, 1);
	close(got[0]);
	/* A packet larger than the buffer is an error, not a silent truncation. */
	assert_int_equal(sbx_send(sv[0], "0123456789abcdefXYZ", 19, NULL, 0), 0);
	assert_int_equal(sbx_recv(sv[1], buf, sizeof(buf), NULL, NULL), -AGW_ETOOBIG);
	assert_int_equal(sbx_send(sv[0], "x", 1, fds, 4), -AGW_EINVAL);
	close(sv[0]);
	assert_int_equal(sbx_recv(sv[1], buf, sizeof(buf), NULL, NULL), 0);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quote),      cmocka_unit_test(test_quote_truncates),
	    cmocka_unit_test(test_info_parse), cmocka_unit_test(test_names),
	    cmocka_unit_test(test_state_dir),  cmocka_unit_test(test_fd_passing),
	    cmocka_unit_test(test_subnet_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
