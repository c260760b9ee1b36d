// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * common/priv.c in forked children (the filter and the uid change are for
 * good). Under each child's seccomp allow-list (net, fs), the calls that
 * child makes still work, and each refused call kills the test child with
 * SIGSYS: clone with namespace flags, fork, unshare, mknod, AF_PACKET,
 * AF_ALG and (after the filter) netlink sockets, TIOCSTI, execve, ptrace,
 * kill(-1) and kill of another process, the i386 ABI. priv_drop (as root)
 * leaves nobody with no way back; priv_drop_caps leaves the fs child's
 * dedicated uid with exactly CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER.
 * priv_landlock keeps the fs child to its workspace and the net child to
 * reading /dev/null.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <dirent.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "priv.h"

#ifndef AF_ALG
#define AF_ALG 38
#endif

static enum priv_child test_who;
static char test_dir[64];

/* Run fn in a child; returns its wait status. */
static int test_in_child(int (*fn)(void))
{
	int st = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int test_exit_code(int (*fn)(void))
{
	int st = test_in_child(fn);

	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* ---- what each child does keeps working ---- */

static int test_common_ops(void)
{
	struct itimerspec its = {.it_value = {.tv_nsec = 1000000}};
	struct epoll_event ev = {.events = EPOLLIN};
	struct timespec ts;
	sigset_t set;
	uint8_t rnd[16];
	void *big;
	int ep, tfd, sfd, fd, n = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ep < 0 || tfd < 0 || sfd < 0)
		return 2;
	if (timerfd_settime(tfd, 0, &its, NULL) < 0)
		return 3;
	ev.data.fd = tfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0 || epoll_wait(ep, &ev, 1, 1000) != 1)
		return 4;
	/* a signal to itself arrives through the signalfd */
	if (kill(getpid(), SIGUSR1) < 0 || read(sfd, &(struct signalfd_siginfo){0},
						 sizeof(struct signalfd_siginfo)) < 0)
		return 5;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || getrandom(rnd, sizeof(rnd), 0) < 0)
		return 6;
	big = malloc(8u << 20); /* mmap */
	if (!big)
		return 7;
	memset(big, 1, 8u << 20);
	free(big);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		return 8;
	close(fd);
	fprintf(stderr, "log line from a filtered child\n");
	if (ioctl(STDERR_FILENO, FIONREAD, &n) < 0 && errno != ENOTTY && errno != EINVAL)
		return 10;
	close(ep);
	close(tfd);
	close(sfd);
	return 0;
}

static int test_net_ops(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
	int u, t, u6, rc;

	if (priv_seccomp(PRIV_CHILD_NET) < 0)
		return 1;
	rc = test_common_ops();
	if (rc)
		return rc;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	t = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	u6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (u < 0 || t < 0 || u6 < 0)
		return 20;
	if (connect(u, (struct sockaddr *)&a, sizeof(a)) < 0 || send(u, "x", 1, 0) != 1)
		return 21;
	if (connect(t, (struct sockaddr *)&a, sizeof(a)) == 0 || errno != EINPROGRESS)
		if (errno != ECONNREFUSED)
			return 22;
	if (setsockopt(u, SOL_SOCKET, SO_RCVBUF, &(int){65536}, sizeof(int)) < 0)
		return 23;
	close(u);
	close(t);
	close(u6);
	return 0;
}

static int test_fs_ops(void)
{
	struct open_how how = {.flags = O_RDWR | O_CREAT, .mode = 0644,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	struct timespec tm[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	struct stat st;
	struct dirent *de;
	DIR *d;
	int root, fd, rc;
	char buf[8];

	root = open(test_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return 1;
	if (priv_seccomp(PRIV_CHILD_FS) < 0)
		return 1;
	rc = test_common_ops();
	if (rc)
		return rc;
	fd = (int)syscall(SYS_openat2, root, "f", &how, sizeof(how));
	if (fd < 0)
		return 30;
	if (write(fd, "hello", 5) != 5 || pwrite(fd, "J", 1, 0) != 1 || pread(fd, buf, 5, 0) != 5 ||
	    memcmp(buf, "Jello", 5) || ftruncate(fd, 2) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0 ||
	    st.st_size != 2)
		return 31;
	close(fd);
	if (mkdirat(root, "d", 0755) < 0 || renameat(root, "f", root, "d/g") < 0 ||
	    linkat(root, "d/g", root, "h", 0) < 0 || symlinkat("h", root, "s") < 0 ||
	    readlinkat(root, "s", buf, sizeof(buf)) != 1 ||
	    fchmodat(root, "h", 0600, 0) < 0 || utimensat(root, "h", tm, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(root, "h", &st, AT_SYMLINK_NOFOLLOW) < 0 || (st.st_mode & 0777) != 0600)
		return 32;
	if (renameat2(root, "h", root, "d/g", RENAME_EXCHANGE) < 0)
		return 33;
	fd = openat(root, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return 34;
	for (rc = 0; (de = readdir(d));)
		rc += strcmp(de->d_name, "g") == 0;
	closedir(d);
	if (rc != 1)
		return 35;
	if (unlinkat(root, "s", 0) < 0 || unlinkat(root, "h", 0) < 0 ||
	    unlinkat(root, "d/g", 0) < 0 || unlinkat(root, "d", AT_REMOVEDIR) < 0)
		return 36;
	return 0;
}

static void test_net_allowed(void **state)
{
	(void)state;
	assert_int_equal(test_exit_code(test_net_ops), 0);
}

static void test_fs_allowed(void **state)
{
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/agw-test-priv-XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	assert_int_equal(test_exit_code(test_fs_ops), 0);
	rmdir(test_dir);
}

/* ---- what each child must never do ---- */

static int test_bad_clone_ns(void)
{
	return syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0) == 0 ? 0 : 90;
}

static int test_bad_clone3(void)
{
	struct {
		uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	} args = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
	long r = syscall(SYS_clone3, &args, sizeof(args));

	return r == 0 ? 0 : 90;
}

static int test_bad_fork(void)
{
	pid_t p = fork();

	return p == 0 ? 0 : 90;
}

static int test_bad_unshare(void)
{
	return unshare(CLONE_NEWUSER) == 0 ? 91 : 90;
}

static int test_bad_mknod(void)
{
	char p[96];

	snprintf(p, sizeof(p), "/tmp/agw-test-priv-fifo-%d", (int)getpid());
	if (mknod(p, S_IFIFO | 0600, 0) == 0) {
		unlink(p);
		return 91;
	}
	return 90;
}

static int test_bad_packet(void)
{
	return socket(AF_PACKET, SOCK_RAW, 0) >= 0 ? 91 : 90;
}

static int test_bad_alg(void)
{
	return socket(AF_ALG, SOCK_SEQPACKET, 0) >= 0 ? 91 : 90;
}

static int test_bad_netlink(void)
{
	return socket(AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */) >= 0 ? 91 : 90;
}

static int test_bad_unix(void)
{
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 91 : 90;
}

static int test_bad_tiocsti(void)
{
	char c = 'x';

	return ioctl(STDIN_FILENO, TIOCSTI, &c) == 0 ? 91 : 90;
}

static int test_bad_execve(void)
{
	char *const argv[] = {"true", NULL};

	execve("/bin/true", argv, NULL);
	return 90;
}

static int test_bad_ptrace(void)
{
	return ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0 ? 91 : 90;
}

static int test_bad_kill_all(void)
{
	return kill(-1, 0) == 0 ? 91 : 90;
}

static int test_bad_kill_parent(void)
{
	return kill(getppid(), 0) == 0 ? 91 : 90;
}

static int test_bad_i386(void)
{
#ifdef __x86_64__
	long r = 20; /* getpid in the i386 table */

	__asm__ volatile("int $0x80" : "+a"(r) : : "memory");
	return 91;
#else
	return 90;
#endif
}

static const struct test_bad {
	const char *name;
	int (*fn)(void);
} test_bads[] = {
	{"clone(CLONE_NEWUSER|CLONE_NEWNET)", test_bad_clone_ns},
	{"clone3(CLONE_NEWUSER)", test_bad_clone3},
	{"fork", test_bad_fork},
	{"unshare(CLONE_NEWUSER)", test_bad_unshare},
	{"mknod", test_bad_mknod},
	{"socket(AF_PACKET)", test_bad_packet},
	{"socket(AF_ALG)", test_bad_alg},
	{"socket(AF_NETLINK)", test_bad_netlink},
	{"socket(AF_UNIX)", test_bad_unix},
	{"ioctl(TIOCSTI)", test_bad_tiocsti},
	{"execve", test_bad_execve},
	{"ptrace", test_bad_ptrace},
	{"kill(-1, 0)", test_bad_kill_all},
	{"kill(parent, 0)", test_bad_kill_parent},
	{"i386 ABI", test_bad_i386},
};

static const struct test_bad *test_bad_cur;

static int test_bad_run(void)
{
	if (priv_seccomp(test_who) < 0)
		return 1;
	return test_bad_cur->fn();
}

static void test_refused(enum priv_child who)
{
	for (size_t i = 0; i < sizeof(test_bads) / sizeof(test_bads[0]); i++) {
		int st;

		test_who = who;
		test_bad_cur = &test_bads[i];
		st = test_in_child(test_bad_run);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("%s child: %s not killed by SIGSYS (status %#x)",
				 who == PRIV_CHILD_NET ? "net" : "fs", test_bads[i].name, st);
	}
}

static void test_net_refused(void **state)
{
	(void)state;
	test_refused(PRIV_CHILD_NET);
}

static void test_fs_refused(void **state)
{
	(void)state;
	test_refused(PRIV_CHILD_FS);
}

/* The fs child opens no socket at all; the net child only inet ones. */
static int test_fs_inet(void)
{
	if (priv_seccomp(PRIV_CHILD_FS) < 0)
		return 1;
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 91 : 90;
}

static void test_fs_no_socket(void **state)
{
	int st;

	(void)state;
	st = test_in_child(test_fs_inet);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
}

/* ---- uid changes ---- */

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
	assert_int_equal(test_exit_code(drop_child), 0);
}

/* "CapEff:\t0000000000000000" and friends from /proc/self/status. */
static unsigned long long test_status_hex(const char *key)
{
	char line[256];
	unsigned long long v = ~0ull;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = strtoull(line + strlen(key), NULL, 16);
	if (f)
		fclose(f);
	return v;
}

static int caps_child(void)
{
	char p[128];
	int fd;

	if (priv_drop_caps(PRIV_FS_ID, PRIV_FS_ID, PRIV_FS_CAPS) < 0)
		return 50;
	if (getuid() != PRIV_FS_ID || geteuid() != PRIV_FS_ID || getgid() != PRIV_FS_ID)
		return 51;
	if (test_status_hex("CapEff:") != PRIV_FS_CAPS || test_status_hex("CapPrm:") != PRIV_FS_CAPS ||
	    test_status_hex("CapBnd:") != PRIV_FS_CAPS || test_status_hex("CapInh:") != 0 ||
	    test_status_hex("CapAmb:") != 0 || test_status_hex("NoNewPrivs:") != 1)
		return 52;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 53;
	/* a root-owned 0700 directory stays usable, and new files go to root */
	snprintf(p, sizeof(p), "%s/new", test_dir);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fchown(fd, 0, 0) < 0 || fchmod(fd, 0640) < 0)
		return 54;
	close(fd);
	if (unlink(p) < 0)
		return 55;
	/* but not a privileged port, nor another uid */
	if (setresuid(1, 1, 1) == 0)
		return 56;
	return 0;
}

static void test_drop_caps(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(test_dir, sizeof(test_dir), "/tmp/agw-test-priv-XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	assert_int_equal(chmod(test_dir, 0700), 0);
	assert_int_equal(test_exit_code(caps_child), 0);
	rmdir(test_dir);
}

static int bad_user_child(void)
{
	if (priv_drop("no-such-user-agw") != -ENOENT)
		return 40;
	if (priv_drop("root") != -ENOENT) /* never "drop" to root */
		return 41;
	if (priv_drop_ids(0, 0) != -EINVAL)
		return 42;
	if (priv_drop_caps(0, 0, PRIV_FS_CAPS) != -EINVAL)
		return 43;
	return 0;
}

static void test_bad_user(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(test_exit_code(bad_user_child), 0);
}

/* ---- landlock ---- */

static int ll_fs_child(void)
{
	int root = open(test_dir, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, rc;

	if (root < 0)
		return 60;
	rc = priv_landlock(root, false);
	if (rc == -EOPNOTSUPP)
		return 77;
	if (rc < 0)
		return 61;
	/* the workspace: create, write, move between directories, remove */
	fd = openat(root, "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return 62;
	close(fd);
	if (mkdirat(root, "d", 0755) < 0 || renameat(root, "f", root, "d/f") < 0 ||
	    linkat(root, "d/f", root, "g", 0) < 0 || unlinkat(root, "g", 0) < 0 ||
	    unlinkat(root, "d/f", 0) < 0 || unlinkat(root, "d", AT_REMOVEDIR) < 0)
		return 63;
	/* no fifo there; nothing outside it */
	if (mkfifoat(root, "p", 0600) == 0 || errno != EACCES)
		return 64;
	if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 65;
	if (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 66;
	if (open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 67;
	return 0;
}

static void test_landlock_fs(void **state)
{
	int rc;

	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/agw-test-priv-XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	rc = test_exit_code(ll_fs_child);
	rmdir(test_dir);
	if (rc == 77)
		skip();
	assert_int_equal(rc, 0);
}

static int ll_net_child(void)
{
	int rc = priv_landlock(-1, true), fd;

	if (rc == -EOPNOTSUPP)
		return 77;
	if (rc < 0)
		return 70;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 71;
	close(fd);
	if (open("/dev/null", O_WRONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 72;
	if (open("/etc/passwd", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES)
		return 73;
	if (open("/tmp/agw-test-priv-new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 ||
	    errno != EACCES)
		return 74;
	/* then the allow-list on top still works */
	if (priv_seccomp(PRIV_CHILD_NET) < 0)
		return 75;
	return 0;
}

static void test_landlock_net(void **state)
{
	int rc;

	(void)state;
	rc = test_exit_code(ll_net_child);
	if (rc == 77)
		skip();
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_net_allowed),	 cmocka_unit_test(test_fs_allowed),
	    cmocka_unit_test(test_net_refused),	 cmocka_unit_test(test_fs_refused),
	    cmocka_unit_test(test_fs_no_socket), cmocka_unit_test(test_drop),
	    cmocka_unit_test(test_drop_caps),	 cmocka_unit_test(test_bad_user),
	    cmocka_unit_test(test_landlock_fs),	 cmocka_unit_test(test_landlock_net),
	};

	return cmocka_run_group_tests_name("priv", tests, NULL, NULL);
}
