/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The jail QEMU runs in: a process of its own uid and gid (one per sandbox,
 * from a range agentgw owns), no capabilities, no_new_privs, new mount,
 * pid, ipc, uts and network namespaces, and a root of its own (a tmpfs
 * holding read-only binds of /usr and the few files QEMU needs, the
 * sandbox's vm/ folder read-write, /dev/null, /dev/urandom and /dev/kvm
 * when used), plus QEMU's own seccomp sandbox on the command line. The tap
 * reaches it as an inherited fd, so an empty network namespace costs it
 * nothing. A QEMU escape lands in an empty, unprivileged process.
 */
#ifndef AGW_JAIL_H
#define AGW_JAIL_H

#include <stdint.h>
#include <sys/types.h>

/* Jail uids and gids: JAIL_ID_BASE + slot; sandboxes use slots below
 * JAIL_SLOT_ANY (their /30's index), other VMs (vm-run, the KVM probe)
 * JAIL_SLOT_ANY + pid. */
#define JAIL_ID_BASE 2000000000u
#define JAIL_SLOT_ANY 4194304u
#define JAIL_MAX_PATHS 16
#define JAIL_MAX_RW 2

struct jail {
	uid_t uid; /* 0: no jail (the caller is not root) */
	gid_t gid;
	const char *root_dir;		/* an empty folder to mount the new root on */
	const char *rw_dir;		/* the vm/ folder: read-write, owned by uid */
	const char *ro[JAIL_MAX_PATHS]; /* extra files bound read-only at their paths */
	size_t n_ro;
	const char *rw[JAIL_MAX_RW]; /* files bound read-write (a sandbox's disk) */
	size_t n_rw;
	int kvm; /* give it a /dev/kvm of its own */
};

/* The id for a slot: JAIL_ID_BASE + slot. A sandbox's slot is its /30 index. */
uid_t jail_id(uint32_t slot);

/*
 * Fill j for running QEMU as jail_id(slot) when the caller is root (else
 * j->uid = 0: no jail). root_dir and rw_dir must outlive j. Never blocks.
 */
void jail_init(struct jail *j, uint32_t slot, const char *root_dir, const char *rw_dir);

/* Add a file (kernel, initrd, disk) to bind read-only. Returns 0 or -AGW_ETOOBIG. */
int jail_add_ro(struct jail *j, const char *path);
/* Add a file to bind read-write (a sandbox's writable disk); the caller
 * makes it the jail uid's. Returns 0 or -AGW_ETOOBIG. */
int jail_add_rw(struct jail *j, const char *path);

/*
 * Start argv (argv[0] an absolute path or a name on PATH) in the jail:
 * stdin /dev/null, stdout and stderr to log_fd (or /dev/null), keep_fd (if
 * >= 0) inherited under its number, every other fd closed. Without a jail
 * (j->uid == 0 or j NULL) it is a plain fork and exec. The jail's set-up
 * errors go to log_fd and the child exits 127. Returns 0 with *pid or
 * -errno. Does not wait.
 */
int jail_spawn(const struct jail *j, char *const argv[], int keep_fd, int log_fd, pid_t *pid);

#endif
