// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * common/priv.c in forked children (the filter and the uid change are for
 * good): after priv_seccomp, running a program, ptrace and unshare fail
 * with EPERM while the calls a gateway child makes still work; after
 * priv_drop (as root) the child is nobody and cannot become root again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "priv.h"

/* Run fn in a child; returns its exit status (0: every check held). */
static int in_child(int (*fn)(void))
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static int seccomp_child(void)
{
	char *const argv[] = {"false", NULL}; /* if it ran, the child exits 1 */
	int fd, sv[2];

	if (priv_seccomp() < 0)
		return 10;
	/* still fine: files, sockets, time, pids */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 11;
	close(fd);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return 12;
	if (getpid() <= 0)
		return 13;
	/* denied */
	if (execve("/bin/false", argv, NULL) == 0 || errno != EPERM)
		return 20;
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 || errno != EPERM)
		return 21;
	if (unshare(CLONE_NEWNET) == 0 || errno != EPERM)
		return 22;
	if (chroot("/") == 0 || errno != EPERM)
		return 23;
	return 0;
}

static void test_seccomp(void **state)
{
	(void)state;
	assert_int_equal(in_child(seccomp_child), 0);
}

static int drop_child(void)
{
	struct passwd *pw = getpwnam("nobody");
	gid_t groups[4];

	if (!pw)
		return 30;
	if (priv_drop("nobody") < 0)
		return 31;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid)
		return 32;
	if (getgroups(4, groups) != 0)
		return 33;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 34;
	if (open("/etc/shadow", O_RDONLY) >= 0)
		return 35;
	return 0;
}

static void test_drop(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(drop_child), 0);
}

static int bad_user_child(void)
{
	if (priv_drop("no-such-user-agw") != -ENOENT)
		return 40;
	if (priv_drop("root") != -ENOENT) /* never "drop" to root */
		return 41;
	if (priv_drop_ids(0, 0) != -EINVAL)
		return 42;
	return 0;
}

static void test_bad_user(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(bad_user_child), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seccomp),
	    cmocka_unit_test(test_drop),
	    cmocka_unit_test(test_bad_user),
	};

	return cmocka_run_group_tests_name("priv", tests, NULL, NULL);
}
