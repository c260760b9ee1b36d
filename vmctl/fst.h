/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How a sandbox's guest reaches /workspace: virtio-fs (QEMU's
 * vhost-user-fs-device served by the fs child; no TCP in the path and the
 * guest's page cache) or 9P over TCP. An explicit choice comes from
 * `up --fs-transport`, else the policy's sandbox.fs_transport, else
 * $AGENTGW_FS_TRANSPORT; `auto` (the default) is virtio-fs when QEMU has
 * the device and the image has the virtiofs module, else 9P. Both give the
 * same policy decisions and audit rows (docs/fs.md).
 */
#ifndef AGW_FST_H
#define AGW_FST_H

#include <stddef.h>

enum fst {
	FST_AUTO = 0,
	FST_VIRTIOFS,
	FST_9P,
};

/* "auto", "virtiofs", "9p" -> *out. Returns 0 or -AGW_EINVAL. Pure. */
int fst_parse(const char *s, enum fst *out);
/* "auto", "virtiofs" or "9p". Static storage. */
const char *fst_name(enum fst t);

/*
 * The requested transport: flag beats policy beats $AGENTGW_FS_TRANSPORT;
 * each may be NULL. *out is AUTO when none says. Returns 0, or -AGW_EINVAL
 * with *bad naming the source of an unknown value. Never blocks.
 */
int fst_requested(const char *flag, const char *policy, enum fst *out, const char **bad);

/*
 * What the image (its manifest.txt under image_dir) and QEMU (qemu_binary()
 * asked for its device list; runs it once, about 50 ms) support. Returns 1
 * or 0; why says what is missing when 0.
 */
int fst_virtiofs_ok(const char *image_dir, char *why, size_t cap);

/*
 * Resolve want to VIRTIOFS or 9P. AUTO falls back to 9P with why saying
 * why; VIRTIOFS when unsupported returns -AGW_EINVAL with why. Returns 0.
 * Blocks while QEMU lists its devices.
 */
int fst_resolve(enum fst want, const char *image_dir, enum fst *out, char *why, size_t cap);

#endif
