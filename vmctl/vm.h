/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One running microvm seen from the host: the state folder with the
 * control socket (the host listens, QEMU connects), QMP socket, console log
 * and QEMU's own log; the QEMU process; the control connection after the
 * guest's HELLO. vm_exec() runs one command synchronously through the control
 * protocol; supervisors that multiplex many execs take vm_ctl_fd() and
 * speak vmctl/ctl.h themselves. vm_stop() powers off (control POWEROFF,
 * then QMP quit, then SIGKILL) and always reaps QEMU.
 */
#ifndef AGW_VM_H
#define AGW_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmctl/qemu.h"

struct vm;

#define VM_KVM_BOOT_TIMEOUT_MS 20000

struct vm_cfg {
	const char *state_dir; /* created 0700 if missing; sockets and logs go here */
	const char *kernel, *initrd;
	const char *append; /* guest kernel command line additions */
	unsigned int mem_mb, vcpus;
	enum qemu_accel accel;
	int tap_fd; /* -1: no NIC */
	const char *mac;
	const char *root_disk, *rw_disk; /* qemu_cfg's; NULL: initramfs only */
	/* qemu_cfg's vfs_sock: a listening vhost-user socket inside state_dir
	 * (the jail sees only that folder); made the jail uid's. NULL: none. */
	const char *vfs_sock;
	/* NULL, or a folder with ca.pem and env (vmctl/gtrust.h): checked and
	 * appended to the initramfs as a second archive in <state_dir>/initrd,
	 * removed again once the guest is up. */
	const char *guest_dir;
	uint32_t jail_slot; /* 0: JAIL_SLOT_ANY + pid; a sandbox: its /30's index */
	int no_jail;	    /* run QEMU unjailed (tests of the jail's cost only) */
	int boot_timeout_ms; /* 0: 120000 under TCG (slow on a busy host), else
				VM_KVM_BOOT_TIMEOUT_MS */
};

/* Outcome of one exec. */
struct vm_exit {
	int code;	/* exit code, or -1 when killed by a signal or not started */
	int sig;	/* terminating signal, 0 if none */
	int err;	/* errno from the guest when the exec failed to start, else 0 */
	char text[256]; /* the guest's error text when err != 0 */
};

/*
 * Start QEMU and wait for the guest's HELLO (blocks up to the boot
 * timeout). On error *out is NULL, QEMU is gone, and err (if not NULL) says
 * why, including the tail of QEMU's log. Returns 0, -ETIMEDOUT, -errno,
 * -AGW_EPROTO (protocol version mismatch), -AGW_EPARSE / -AGW_EINVAL /
 * -AGW_ETOOBIG (guest_dir's files are not what vmctl/gtrust.h allows).
 */
int vm_start(const struct vm_cfg *cfg, struct vm **out, char *err, size_t errcap);

/*
 * Run argv in the guest and wait for it. in_fd (or -1 for no input) is
 * forwarded to its stdin until EOF; its stdout and stderr are written to
 * out_fd and err_fd (with pty, everything goes to out_fd). env NULL: the
 * guest's default environment; cwd NULL: "/". Blocks until the process
 * exits. Returns 0 with *ex filled (also when the command failed to
 * start: ex->err), or a negative code when the VM or connection failed.
 */
int vm_exec(struct vm *vm, const char *const *argv, const char *const *env, const char *cwd,
	    int pty, int in_fd, int out_fd, int err_fd, struct vm_exit *ex);

/*
 * Stop the guest: POWEROFF over the control port, wait up to timeout_ms,
 * then QMP quit, then SIGKILL; reaps QEMU and removes the sockets. Returns
 * 0 if the guest powered off by itself, 1 if it had to be forced. Blocks.
 */
int vm_stop(struct vm *vm, int timeout_ms);

/* vm_stop() if still running, then free; NULL-safe. */
void vm_free(struct vm *vm);

/*
 * Raw access for callers that multiplex execs (vmctl/ctl.h frames):
 * vm_new_id() hands out an unused exec id; vm_send_frame() writes one
 * encoded frame (blocks until written; -errno); vm_next_frame() waits up to
 * timeout_ms (-1: forever) for the next frame from the guest and returns 0,
 * -ETIMEDOUT, -EPIPE (QEMU or the connection gone) or -AGW_EPROTO; the
 * payload stays valid until vm_frame_done(), which must be called for each
 * frame returned.
 */
struct ctl_hdr;
uint32_t vm_new_id(struct vm *vm);
int vm_send_frame(struct vm *vm, const uint8_t *frame, size_t len);
int vm_next_frame(struct vm *vm, int timeout_ms, struct ctl_hdr *h, uint8_t **payload);
void vm_frame_done(struct vm *vm, const struct ctl_hdr *h);
/*
 * Never blocks: returns 0 with the next whole frame (buffered, or after one
 * non-blocking read of the control socket; finish it with vm_frame_done()),
 * -EAGAIN when no whole frame is there yet, -EPIPE when the connection is
 * closed, -AGW_EPROTO. For callers that poll vm_ctl_fd() themselves: call
 * it until -EAGAIN after each wake-up.
 */
int vm_poll_frame(struct vm *vm, struct ctl_hdr *h, uint8_t **payload);

pid_t vm_qemu_pid(const struct vm *vm);
int vm_ctl_fd(const struct vm *vm);
/* Did the guest's HELLO list capability cap (a word, e.g. CTL_CAP_DENIALS)? */
bool vm_guest_can(const struct vm *vm, const char *cap);
/* Microseconds from vm_start() to the guest's HELLO. */
int64_t vm_boot_us(const struct vm *vm);
enum qemu_accel vm_accel(const struct vm *vm);
/* 1 when QEMU has exited (it is reaped then), 0 while it runs. Never blocks. */
int vm_exited(struct vm *vm);

#endif
