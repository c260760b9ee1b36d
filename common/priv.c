// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * priv_drop: give up root in a child process for good. Order matters:
 * groups first (needs root), then gid, then uid; setresuid from uid 0 to a
 * non-zero uid clears the permitted and effective capability sets, so the
 * child keeps nothing. no_new_privs stops set-uid programs and file
 * capabilities from giving any of it back. priv_seccomp adds a syscall
 * deny-list on top (EPERM, so a stray call fails instead of killing).
 */
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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

#if defined(__x86_64__)
#define PRIV_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PRIV_ARCH AUDIT_ARCH_AARCH64
#endif

static const int priv_denied[] = {
	SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
	SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_setns, SYS_unshare,
	SYS_kexec_load, SYS_kexec_file_load, SYS_init_module, SYS_finit_module,
	SYS_delete_module, SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_keyctl,
	SYS_add_key, SYS_request_key, SYS_open_by_handle_at, SYS_name_to_handle_at,
	SYS_swapon, SYS_swapoff, SYS_reboot, SYS_settimeofday, SYS_clock_settime,
	SYS_clock_adjtime, SYS_adjtimex, SYS_acct, SYS_quotactl, SYS_personality,
	SYS_fanotify_init, SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
	SYS_fsopen, SYS_fsmount, SYS_fspick, SYS_move_mount, SYS_open_tree, SYS_mount_setattr,
#ifdef SYS_iopl
	SYS_iopl, SYS_ioperm,
#endif
};

int priv_seccomp(void)
{
#ifdef PRIV_ARCH
	enum { N = AGW_ARRAY_LEN(priv_denied) };
	struct sock_filter f[N + 8];
	struct sock_fprog prog = {.filter = f};
	size_t i = 0;

	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PRIV_ARCH, 1, 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
	/* x32 syscalls carry bit 30 */
	f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, N + 1, 0);
#endif
	for (size_t k = 0; k < N; k++)
		f[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned)priv_denied[k], (uint8_t)(N - k), 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	prog.len = (unsigned short)i;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
#else
	return -ENOSYS;
#endif
}
