/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QEMU command line for a sandbox microvm and its process: machine
 * microvm,acpi=on (accepted by QEMU 7.2; ACPI gives the guest a working
 * power-off), KVM when /dev/kvm opens read-write, TCG otherwise, an ELF
 * vmlinux booted through PVH, the console to a file, the virtio-serial control
 * port as a client of the host's unix socket, QMP on a unix socket and
 * optionally a virtio-net device on an inherited tap fd and two virtio-blk
 * disks (an image's read-only root and the sandbox's writable layer).
 */
#ifndef AGW_QEMU_H
#define AGW_QEMU_H

#include <stddef.h>
#include <sys/types.h>

enum qemu_accel { QEMU_ACCEL_AUTO, QEMU_ACCEL_KVM, QEMU_ACCEL_TCG };

struct qemu_cfg {
	const char *binary;	 /* NULL: qemu_binary() */
	const char *kernel;	 /* ELF vmlinux with a PVH note */
	const char *initrd;	 /* newc cpio */
	const char *append;	 /* extra kernel command line (agentgw.ip=...), may be NULL */
	unsigned int mem_mb;	 /* 0: 512 */
	unsigned int vcpus;	 /* 0: 1 */
	enum qemu_accel accel;	 /* AUTO: KVM if usable */
	int tap_fd;		 /* -1: no NIC; else inherited by QEMU */
	const char *mac;	 /* NULL: 52:54:00:77:00:02 */
	const char *ctl_sock;	 /* host-listening socket for agentgw.ctl */
	const char *qmp_sock;	 /* QMP server socket QEMU creates */
	const char *console_log; /* serial console output file */
	int sandbox;		 /* add QEMU's -sandbox (seccomp) with every deny option */
	/* An image's root filesystem: read-only raw disk (serial "agwroot") and
	 * the sandbox's writable raw disk (serial "agwrw"); both or neither. */
	const char *root_disk, *rw_disk;
	/* virtio-fs: the fs child's vhost-user socket (QEMU connects; it must
	 * be listening). Guest RAM then comes from a shared memfd so the fs
	 * child can map it; the device's tag is "workspace". NULL: none. */
	const char *vfs_sock;
};

/* TCG's translation cache, MiB (QEMU's default is 1 GiB). */
#define QEMU_TCG_TB_MIB 256

#define QEMU_MAX_ARGS 64
#define QEMU_ARG_STORE 8192

/* A built command line; argv points into store. */
struct qemu_argv {
	int argc;
	char *argv[QEMU_MAX_ARGS + 1];
	char store[QEMU_ARG_STORE];
	size_t used;
	enum qemu_accel accel; /* what AUTO resolved to */
};

/* The KVM device: $AGENTGW_KVM_DEV (absolute; tests pair it with a
 * stand-in QEMU) or /dev/kvm. */
const char *qemu_kvm_dev(void);

/* 1 if the KVM device opens O_RDWR, else 0. Opening proves little: see
 * vmctl/accel.h. Never blocks. */
int qemu_kvm_usable(void);

/* The host's TSC rate in kHz from /proc/cpuinfo ("cpu MHz"), 0 if unknown.
 * Under TCG the guest's TSC ticks at this rate. Never blocks. */
int qemu_host_tsc_khz(void);

/* The QEMU binary: $AGENTGW_QEMU (a stand-in, for tests) or
 * "qemu-system-x86_64" from PATH. Static or environment storage. */
const char *qemu_binary(void);

/* Name of an accelerator ("kvm", "tcg"). Static storage. */
const char *qemu_accel_name(enum qemu_accel a);

/*
 * Build the argv for cfg. Returns 0, -AGW_EINVAL when kernel, initrd or a
 * socket path is missing, -AGW_ETOOBIG when it does not fit. Resolves AUTO
 * with qemu_kvm_usable(); otherwise pure.
 */
int qemu_build_argv(const struct qemu_cfg *cfg, struct qemu_argv *out);

#endif
