/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dropping root in a gateway child once it holds every privileged resource
 * it needs (bound sockets, the NFLOG socket): switch to an unprivileged
 * user, with no supplementary groups, no capabilities left (or only the
 * file-system ones the fs child needs) and no_new_privs set, and check that
 * root cannot be regained. Then a seccomp allow-list per child: any system
 * call, argument or syscall ABI outside it kills the process (SIGSYS).
 */
#ifndef AGW_PRIV_H
#define AGW_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PRIV_USER_DEFAULT "nobody"

/*
 * The fs child's uid and gid when the workspace is owned by root: a
 * dedicated id below the jail range (vmctl/jail.h JAIL_ID_BASE), owned by no
 * account, that keeps only CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_FOWNER (see
 * priv_drop_fs).
 */
#define PRIV_FS_ID 1999999999u

/*
 * Become `user` (a name from the passwd database). A no-op returning 0 when
 * not running as root. Returns 0, -ENOENT when the user is unknown or is
 * root, or -errno of the failed call; on failure the caller must not go on.
 */
int priv_drop(const char *user);
/* The same with numeric ids; uid 0 is refused with -EINVAL. */
int priv_drop_ids(uid_t uid, gid_t gid);

/*
 * Become uid/gid (never 0) but keep the capabilities in `caps` (a mask of
 * 1 << CAP_*) effective and permitted; every other capability leaves the
 * bounding set too, no ambient or inheritable ones remain, no_new_privs is
 * set. A no-op returning 0 when not running as root. Returns 0, -EINVAL for
 * uid 0, or -errno; on failure the caller must not go on.
 */
int priv_drop_caps(uid_t uid, gid_t gid, uint64_t caps);

/* The capabilities the fs child keeps when it serves a root-owned workspace. */
#define PRIV_FS_CAPS ((1ull << 0) /* CAP_CHOWN */ | (1ull << 1) /* CAP_DAC_OVERRIDE */ | \
		      (1ull << 3) /* CAP_FOWNER */)

/*
 * Landlock: from now on this process opens, creates, removes or renames
 * files only beneath ws_fd (an O_PATH directory fd; -1: nowhere), with no
 * exec and no device, fifo or socket nodes there, plus read of /dev/null
 * when dev_null; abstract unix sockets and signals outside the domain are
 * refused too where the kernel can (ABI 6). Files already open are not
 * affected. Sets no_new_privs. Call before priv_seccomp (its syscalls are
 * not on the lists). Returns 0, -EOPNOTSUPP without landlock, or -errno.
 */
int priv_landlock(int ws_fd, bool dev_null);

enum priv_child {
	PRIV_CHILD_NET, /* DNS, proxy: inet sockets, no files written */
	PRIV_CHILD_FS,	/* 9P: the workspace through openat2; no new sockets */
};

/*
 * Install the allow-list of `who` (no_new_privs is set first). The default
 * action is SECCOMP_RET_KILL_PROCESS: a call outside the list, a foreign
 * syscall ABI (i386, x32) or a refused argument kills the process with
 * SIGSYS, which the supervisor records as a seccomp kill. Arguments are
 * checked for clone (no thread or process is ever created), socket (only
 * the families `who` opens once the filter is on), ioctl (a few fd and
 * socket queries; no TIOCSTI), kill/tgkill (only this process), prctl and
 * prlimit64 (this process). mknod, execve, ptrace, namespaces and mounts
 * are never allowed. Returns 0, -ENOSYS on an architecture without a list,
 * or -errno. Inherited by children; cannot be undone.
 */
int priv_seccomp(enum priv_child who);

#endif
