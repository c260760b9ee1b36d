/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Dropping root in a gateway child once it holds every privileged resource
 * it needs (bound sockets, the NFLOG socket): switch to an unprivileged
 * user, with no supplementary groups, no capabilities left and
 * no_new_privs set, and check that root cannot be regained.
 */
#ifndef AGW_PRIV_H
#define AGW_PRIV_H

#include <sys/types.h>

#define PRIV_USER_DEFAULT "nobody"

/*
 * Become `user` (a name from the passwd database). A no-op returning 0 when
 * not running as root. Returns 0, -ENOENT when the user is unknown or is
 * root, or -errno of the failed call; on failure the caller must not go on.
 */
int priv_drop(const char *user);
/* The same with numeric ids; uid 0 is refused with -EINVAL. */
int priv_drop_ids(uid_t uid, gid_t gid);

/*
 * Install a seccomp filter (no_new_privs is set first) that answers EPERM
 * to what a process parsing hostile input never needs: running programs
 * (execve, execveat), looking into or changing other processes (ptrace,
 * process_vm_*), namespaces and mounts, kernel modules, kexec, bpf,
 * perf_event_open, userfaultfd, io_uring, keyrings, the clock, reboot. A
 * foreign syscall ABI (x32, i386 on x86_64) is denied the same way.
 * Returns 0 or -errno. Inherited by children; cannot be undone.
 */
int priv_seccomp(void);

#endif
