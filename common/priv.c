// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * priv_drop: give up root in a child process for good. Order matters:
 * groups first (needs root), then gid, then uid; setresuid from uid 0 to a
 * non-zero uid clears the permitted and effective capability sets, so the
 * child keeps nothing. no_new_privs stops set-uid programs and file
 * capabilities from giving any of it back. priv_drop_caps keeps a few
 * file-system capabilities across the uid change for the fs child.
 * priv_seccomp adds an allow-list per child on top, built as plain BPF
 * (like OpenSSH's sandbox-seccomp-filter.c): check the ABI, then one
 * compare-and-return per allowed call, then the calls whose arguments are
 * checked, then kill.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "agw.h"

#include "priv.h"

int priv_drop(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	errno = 0;
	pw = getpwnam(user ? user : PRIV_USER_DEFAULT);
	if (!pw || pw->pw_uid == 0)
		return errno ? -errno : -ENOENT;
	return priv_drop_ids(pw->pw_uid, pw->pw_gid);
}

int priv_drop_ids(uid_t uid, gid_t gid)
{
	if (uid == 0)
		return -EINVAL;
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Paranoia: if root can be regained, the drop did not happen. */
	if (setuid(0) == 0 || geteuid() == 0)
		return -EPERM;
	return 0;
}

/* The highest capability number this kernel knows. */
static int priv_cap_last(void)
{
	int last = CAP_LAST_CAP;

	while (prctl(PR_CAPBSET_READ, (unsigned long)(last + 1), 0, 0, 0) >= 0)
		last++;
	return last;
}

int priv_drop_caps(uid_t uid, gid_t gid, uint64_t caps)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {{0}};
	int last;

	if (uid == 0)
		return -EINVAL;
	if (geteuid() != 0)
		return 0;
	/* Out of the bounding set while CAP_SETPCAP is still held. */
	last = priv_cap_last();
	for (int cap = 0; cap <= last; cap++)
		if (cap >= 64 || !(caps & (1ull << cap)))
			if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0 &&
			    errno != EINVAL)
				return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* Keep the permitted set across setresuid; effective is cleared. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -errno;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	data[0].effective = data[0].permitted = (uint32_t)caps;
	data[1].effective = data[1].permitted = (uint32_t)(caps >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* Paranoia: CAP_SETUID is gone, so root cannot come back. */
	if (setuid(0) == 0 || geteuid() == 0)
		return -EPERM;
	return 0;
}

/* ---- landlock ---- */

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* The kernel's struct landlock_ruleset_attr as of ABI 6; older kernels are
 * given the prefix they know. */
struct priv_ll_attr {
	uint64_t fs, net, scoped;
};

struct priv_ll_beneath {
	uint64_t allowed;
	int32_t parent_fd;
} __attribute__((packed));

#define PRIV_LL_RULE_PATH_BENEATH 1
#define PRIV_LL_CREATE_VERSION (1u << 0)
#define PRIV_LL_FS_ABI1 ((1ull << 13) - 1) /* EXECUTE .. MAKE_SYM */
#define PRIV_LL_FS_READ_FILE (1ull << 2)
#define PRIV_LL_FS_REFER (1ull << 13)	   /* ABI 2 */
#define PRIV_LL_FS_TRUNCATE (1ull << 14)   /* ABI 3 */
#define PRIV_LL_FS_IOCTL_DEV (1ull << 15)  /* ABI 5 */
#define PRIV_LL_SCOPE_UNIX (1ull << 0)	   /* ABI 6: abstract unix sockets */
#define PRIV_LL_SCOPE_SIGNAL (1ull << 1)   /* ABI 6 */
/* In the workspace: no exec, no device, fifo or socket nodes. */
#define PRIV_LL_FS_NODES ((1ull << 0) | (1ull << 6) | (1ull << 9) | (1ull << 10) | (1ull << 11))

static int priv_ll_beneath(int rs, int fd, uint64_t allowed)
{
	struct priv_ll_beneath pb = {.allowed = allowed, .parent_fd = fd};

	if (syscall(SYS_landlock_add_rule, rs, PRIV_LL_RULE_PATH_BENEATH, &pb, 0) < 0)
		return -errno;
	return 0;
}

int priv_landlock(int ws_fd, bool dev_null)
{
	struct priv_ll_attr attr = {0};
	size_t attr_len = sizeof(attr.fs);
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, PRIV_LL_CREATE_VERSION);
	int rs = -1, fd = -1, rc = 0;

	if (abi < 1)
		return -EOPNOTSUPP;
	attr.fs = PRIV_LL_FS_ABI1;
	if (abi >= 2)
		attr.fs |= PRIV_LL_FS_REFER;
	if (abi >= 3)
		attr.fs |= PRIV_LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.fs |= PRIV_LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		attr.scoped = PRIV_LL_SCOPE_UNIX | PRIV_LL_SCOPE_SIGNAL;
		attr_len = sizeof(attr);
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_len, 0);
	if (rs < 0)
		return -errno;
	if (ws_fd >= 0 && (rc = priv_ll_beneath(rs, ws_fd, attr.fs & ~PRIV_LL_FS_NODES)) < 0)
		goto out;
	if (dev_null) {
		fd = open("/dev/null", O_PATH | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			goto out;
		}
		rc = priv_ll_beneath(rs, fd, PRIV_LL_FS_READ_FILE);
		if (rc < 0)
			goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_landlock_restrict_self, rs, 0) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	close(rs);
	return rc;
}

#if defined(__x86_64__)
#define PRIV_ARCH AUDIT_ARCH_X86_64
#endif

/* Enough for either list; priv_bpf_emit refuses to go past it. */
#define PRIV_BPF_MAX 512
#define PRIV_ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i)) /* little-endian */

struct priv_bpf {
	struct sock_filter f[PRIV_BPF_MAX];
	size_t n;
	bool overflow;
};

static size_t priv_bpf_emit(struct priv_bpf *b, struct sock_filter ins)
{
	if (b->n >= PRIV_BPF_MAX) {
		b->overflow = true;
		return b->n;
	}
	b->f[b->n] = ins;
	return b->n++;
}

static void priv_bpf_ret(struct priv_bpf *b, uint32_t action)
{
	priv_bpf_emit(b, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action));
}

/* Load the low 32 bits of argument i (enough: the arguments checked are int,
 * or unsigned int in the kernel like ioctl's cmd and clone's flags). */
static void priv_bpf_arg(struct priv_bpf *b, unsigned i)
{
	priv_bpf_emit(b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, PRIV_ARG_LO(i)));
}

/* if (A == k) return action; */
static void priv_bpf_eq_ret(struct priv_bpf *b, uint32_t k, uint32_t action)
{
	priv_bpf_emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, 0, 1));
	priv_bpf_ret(b, action);
}

/* "if (nr == k) {" ... priv_bpf_end(b, at) closes the block. The accumulator
 * holds nr again after the block: every block ends with a return. */
static size_t priv_bpf_begin(struct priv_bpf *b, uint32_t nr)
{
	return priv_bpf_emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 0));
}

static void priv_bpf_end(struct priv_bpf *b, size_t at)
{
	size_t skip = b->n - at - 1;

	if (skip > 255 || b->overflow) {
		b->overflow = true;
		return;
	}
	b->f[at].jf = (uint8_t)skip;
}

#define PRIV_ALLOW SECCOMP_RET_ALLOW
#define PRIV_KILL SECCOMP_RET_KILL_PROCESS
#define PRIV_ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

/* What any child does: memory, time, the ev loop (epoll, timerfd,
 * signalfd), I/O on the fds it holds, logging to stderr, exit. */
static const int priv_common[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_close,
	SYS_fstat, SYS_newfstatat, SYS_statx, SYS_lseek, SYS_fcntl, SYS_dup, SYS_dup3,
	SYS_openat, SYS_readlink, SYS_readlinkat, SYS_getcwd, SYS_getdents64,
	/* the sanitizer runtimes' raw calls (reports: /proc/self/maps, the binary) */
	SYS_open, SYS_stat, SYS_lstat, SYS_access,
	SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_brk,
	SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack,
	SYS_epoll_create1, SYS_epoll_ctl, SYS_epoll_wait, SYS_epoll_pwait, SYS_epoll_pwait2,
	SYS_poll, SYS_ppoll, /* agw_write_all on a full pipe */
	SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime, SYS_signalfd4,
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday, SYS_time, SYS_nanosleep,
	SYS_clock_nanosleep, SYS_getpid, SYS_gettid, SYS_getppid, SYS_getuid, SYS_geteuid,
	SYS_getgid, SYS_getegid, SYS_getresuid, SYS_getresgid, SYS_getgroups, SYS_uname,
	/* getrandom: also OpenSSL's entropy in the net child (TLS inspection:
	 * serials, leaf signatures, handshakes); its roots and upstream_ca are
	 * read before the filter, so it opens no file later. */
	SYS_futex, SYS_getrandom, SYS_sched_yield, SYS_sched_getaffinity, SYS_restart_syscall,
	SYS_exit, SYS_exit_group,
	/* sockets already open: the supervisor channel, listeners, sessions */
	SYS_recvfrom, SYS_sendto, SYS_recvmsg, SYS_sendmsg, SYS_recvmmsg, SYS_sendmmsg,
	SYS_accept4, SYS_shutdown, SYS_getsockname, SYS_getpeername, SYS_getsockopt,
	SYS_setsockopt,
};

/* The net child dials upstreams and c-ares' servers. */
static const int priv_net[] = {
	SYS_connect,
	SYS_bind, /* c-ares binds when the policy names a local address */
	SYS_pipe2, SYS_splice, /* the proxy's bulk downloads (prx_splice_in) */
};

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

/* The fs child's 9P operations, always relative to the export root fd. */
static const int priv_fs[] = {
	SYS_openat2, SYS_mkdirat, SYS_unlinkat, SYS_renameat, SYS_renameat2, SYS_linkat,
	SYS_symlinkat, SYS_fchmod, SYS_fchmodat, SYS_fchmodat2, SYS_fchown, SYS_fchownat,
	SYS_utimensat, SYS_ftruncate, SYS_fsync, SYS_fdatasync, SYS_fstatfs, SYS_statfs,
	SYS_fallocate,
};

/* ioctls a child may make: fd flags, bytes pending, isatty (stdio),
 * interface names (glibc's getnameinfo on scoped IPv6). No TIOCSTI. */
static const uint32_t priv_ioctls[] = {
	FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, TCGETS, SIOCGIFNAME, SIOCGIFINDEX,
};

/* prctl options a child may use (glibc, the sanitizer runtimes). */
static const uint32_t priv_prctls[] = {
	PR_GET_NAME, PR_SET_NAME, PR_GET_DUMPABLE, PR_GET_NO_NEW_PRIVS, PR_GET_SECCOMP,
	PR_SET_VMA, PR_GET_PDEATHSIG, PR_CAPBSET_READ,
};

static void priv_bpf_list(struct priv_bpf *b, const int *nrs, size_t n, uint32_t action)
{
	for (size_t i = 0; i < n; i++)
		priv_bpf_eq_ret(b, (uint32_t)nrs[i], action);
}

static void priv_bpf_build(struct priv_bpf *b, enum priv_child who)
{
	uint32_t self = (uint32_t)getpid();
	size_t at;

	/* The ABI first: an i386 or x32 call would have other numbers. */
	priv_bpf_emit(b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, arch)));
	priv_bpf_emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PRIV_ARCH, 1, 0));
	priv_bpf_ret(b, PRIV_KILL);
	priv_bpf_emit(b, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
						      offsetof(struct seccomp_data, nr)));
	priv_bpf_emit(b, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
						      __X32_SYSCALL_BIT, 0, 1));
	priv_bpf_ret(b, PRIV_KILL);

	priv_bpf_list(b, priv_common, AGW_ARRAY_LEN(priv_common), PRIV_ALLOW);
	if (who == PRIV_CHILD_NET)
		priv_bpf_list(b, priv_net, AGW_ARRAY_LEN(priv_net), PRIV_ALLOW);
	else
		priv_bpf_list(b, priv_fs, AGW_ARRAY_LEN(priv_fs), PRIV_ALLOW);

	/* socket(family, ...): the net child opens TCP and UDP upstream
	 * sockets; its netlink sockets are opened before the filter. The fs
	 * child gets its listener from the supervisor and opens none. */
	if (who == PRIV_CHILD_NET) {
		at = priv_bpf_begin(b, SYS_socket);
		priv_bpf_arg(b, 0);
		priv_bpf_eq_ret(b, AF_INET, PRIV_ALLOW);
		priv_bpf_eq_ret(b, AF_INET6, PRIV_ALLOW);
		priv_bpf_ret(b, PRIV_KILL);
		priv_bpf_end(b, at);
	}

	at = priv_bpf_begin(b, SYS_ioctl);
	priv_bpf_arg(b, 1);
	for (size_t i = 0; i < AGW_ARRAY_LEN(priv_ioctls); i++)
		priv_bpf_eq_ret(b, priv_ioctls[i], PRIV_ALLOW);
	priv_bpf_ret(b, PRIV_KILL);
	priv_bpf_end(b, at);

	at = priv_bpf_begin(b, SYS_prctl);
	priv_bpf_arg(b, 0);
	for (size_t i = 0; i < AGW_ARRAY_LEN(priv_prctls); i++)
		priv_bpf_eq_ret(b, priv_prctls[i], PRIV_ALLOW);
	priv_bpf_ret(b, PRIV_KILL);
	priv_bpf_end(b, at);

	/* Signals only to itself (raise, abort): never kill(-1) or another pid. */
	at = priv_bpf_begin(b, SYS_kill);
	priv_bpf_arg(b, 0);
	priv_bpf_eq_ret(b, self, PRIV_ALLOW);
	priv_bpf_ret(b, PRIV_KILL);
	priv_bpf_end(b, at);
	at = priv_bpf_begin(b, SYS_tgkill);
	priv_bpf_arg(b, 0);
	priv_bpf_eq_ret(b, self, PRIV_ALLOW);
	priv_bpf_ret(b, PRIV_KILL);
	priv_bpf_end(b, at);

	/* getrlimit/setrlimit of itself (pid 0 or its own). */
	at = priv_bpf_begin(b, SYS_prlimit64);
	priv_bpf_arg(b, 0);
	priv_bpf_eq_ret(b, 0, PRIV_ALLOW);
	priv_bpf_eq_ret(b, self, PRIV_ALLOW);
	priv_bpf_ret(b, PRIV_KILL);
	priv_bpf_end(b, at);

	/* Everything else, clone, clone3, fork, vfork, execve, ptrace, mknod,
	 * unshare, setns, mount included. Neither child makes threads. */
	priv_bpf_ret(b, PRIV_KILL);
}

int priv_seccomp(enum priv_child who)
{
#ifdef PRIV_ARCH
	struct priv_bpf *b = calloc(1, sizeof(*b));
	struct sock_fprog prog;
	int rc = 0;

	if (!b)
		return -ENOMEM;
	priv_bpf_build(b, who);
	if (b->overflow) {
		rc = -E2BIG;
		goto out;
	}
	prog.len = (unsigned short)b->n;
	prog.filter = b->f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		rc = -errno;
out:
	free(b);
	return rc;
#else
	(void)who;
	return -ENOSYS;
#endif
}
