/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which accelerator a microvm runs under. An explicit choice (kvm, tcg)
 * comes from `--accel`, else the policy's sandbox.accel, else
 * $AGENTGW_ACCEL; `auto` (the default) uses KVM only when this host has
 * shown that it can boot the guest under KVM: /dev/kvm opening proves
 * nothing (a nested KVM may abort on an MSR or spin without running a
 * single guest instruction). The proof is a probe boot of the image to the
 * guest's HELLO within a deadline; its verdict is cached in the state
 * dir ($AGENTGW_STATE_DIR, else /var/lib/agentgw), keyed by the host kernel, the QEMU binary and
 * the image, and re-probed when any of them changes.
 */
#ifndef AGW_ACCEL_H
#define AGW_ACCEL_H

#include <stdint.h>

#include "vmctl/qemu.h"

#define ACCEL_WHY_MAX 768
#define ACCEL_KEY_MAX 1024
/* The probe's deadline; $AGENTGW_KVM_PROBE_TIMEOUT_MS overrides it. */
#define ACCEL_PROBE_TIMEOUT_MS 6000

/* What auto decided, and why. */
struct accel_verdict {
	enum qemu_accel accel;	 /* KVM or TCG, never AUTO */
	int probed;		 /* a probe boot ran now */
	int cached;		 /* the verdict came from the cache */
	int64_t probe_us;	 /* the probe's cost when probed, else the cached probe's */
	char why[ACCEL_WHY_MAX]; /* one line: why TCG (or "guest booted under KVM in N ms") */
	char cache[512];	 /* the cache file's path ("" when none) */
};

#define ACCEL_STATE_DIR_DEFAULT "/var/lib/agentgw"

/* $AGENTGW_STATE_DIR (when absolute) or ACCEL_STATE_DIR_DEFAULT. Never blocks. */
const char *accel_state_dir(void);

/* "auto", "kvm", "tcg" -> *out. Returns 0 or -AGW_EINVAL. Pure. */
int accel_parse(const char *s, enum qemu_accel *out);

/*
 * The requested accelerator: flag beats policy beats $AGENTGW_ACCEL; each
 * may be NULL (not given). *out is AUTO when none says. Returns 0, or
 * -AGW_EINVAL with *bad naming the source of an unknown value ("--accel",
 * "sandbox.accel", "AGENTGW_ACCEL"). Never blocks.
 */
int accel_requested(const char *flag, const char *policy, enum qemu_accel *out, const char **bad);

/*
 * The cache key of this host for image_dir: host kernel (release and
 * version), the QEMU binary (path, size, mtime, inode) and the image
 * directory. Returns 0 or -AGW_ETOOBIG. Never blocks.
 */
int accel_key(const char *image_dir, char *buf, size_t cap);

/*
 * Read the cached verdict for key. Returns 0 (v filled, v->cached = 1),
 * -AGW_ENOTFOUND when there is none or it was made for another key.
 */
int accel_cache_read(const char *key, struct accel_verdict *v);

/*
 * Probe: boot kernel + initrd under KVM (no NIC) with state in a private
 * folder of the run dir, wait for HELLO up to timeout_ms (0: the default),
 * power off. Fills v (accel KVM when the guest said HELLO, else TCG with
 * why quoting QEMU's log or the console) and writes the cache for key.
 * Returns 0 (a verdict either way) or a negative code when the probe could
 * not be run at all. Blocks up to the deadline plus a few seconds.
 */
int accel_probe(const char *key, const char *kernel, const char *initrd, int timeout_ms,
		struct accel_verdict *v);

/*
 * Resolve want for this image: KVM and TCG are taken as they are; AUTO is
 * TCG without a usable /dev/kvm, else the cached verdict, else a probe's.
 * Returns 0 or a negative code (v->why says what failed). Blocks while it
 * probes.
 */
int accel_resolve(enum qemu_accel want, const char *image_dir, const char *kernel,
		  const char *initrd, struct accel_verdict *v);

/*
 * The one line to tell a user when auto fell back to TCG although /dev/kvm
 * is there (why, and how to force either); "" otherwise. Pure.
 */
void accel_note(enum qemu_accel want, const struct accel_verdict *v, char *buf, size_t cap);

#endif
