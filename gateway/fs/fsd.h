/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fs child's main loop: accept 9P connections on a TCP listener (only
 * from the allowed peer address), feed them to the p9 server over the ev
 * event loop, and stop on SIGTERM/SIGINT or when the control hook says so.
 * fsd_run() is meant to be called in a forked child (the supervisor's fs
 * child) or by `agentgw fs-serve`; it blocks until stopped.
 */
#ifndef AGW_FSD_H
#define AGW_FSD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "gateway/fs/p9_srv.h"

struct pol;

/* A person's answer to an fsd ask, filled by on_ctl (have set). */
struct fsd_answer {
	bool have;
	uint32_t id;
	bool allow;
	uint32_t approval;
	char why[512];
};

struct fsd_config {
	/* Where to listen: a bound, listening TCP socket (made non-blocking by
	 * fsd_run, not closed), or listen_fd = -1 and listen_addr "ADDR:PORT"
	 * (IPv4 or [IPv6]; port 0 picks a free one). */
	int listen_fd;
	const char *listen_addr;
	/* The one numeric peer address allowed to connect (e.g. the guest's
	 * "10.0.0.2"); NULL allows any. Others are closed at once and audited
	 * as fs/connect deny events. */
	const char *allow_peer;
	/* The policy (borrowed, must outlive fsd_run or its replacement):
	 * pol_workspace() is the export root, filesystem rules and mode apply. */
	const struct pol *pol;
	/* Audit sink, see p9_emit_fn: a negative return denies the operation. */
	p9_emit_fn *emit;
	void *emit_ctx;
	/* Optional, called with emit_ctx: is the audit sink healthy (see
	 * p9_audit_ok_fn)? While not, actions are refused and recorded as errors. */
	p9_audit_ok_fn *audit_ok;
	int64_t sandbox_id;
	/* Owner of created files; (uid_t)-1 / (gid_t)-1: the owner of the
	 * workspace directory. */
	uid_t owner_uid;
	gid_t owner_gid;
	/* Once the workspace is open, become its owner when that is not root
	 * (common/priv.h): the kernel's permission checks then back the
	 * policy's; then install the seccomp filter (common/priv.h) in any
	 * case. Failing to is an error. */
	bool drop_to_owner;
	/* virtio-fs: a listening unix socket for QEMU's vhost-user-fs-device
	 * (borrowed), or vu_fd = -1 and vu_path (fsd_run binds it), or neither
	 * (vu_fd = -1, vu_path NULL): 9P only. Served by the same p9_srv, so
	 * the same policy, quota and audit (gateway/fs/fuse_srv.h). */
	int vu_fd;
	const char *vu_path;
	unsigned max_conns; /* 0: 64 */
	uint32_t max_msize; /* 0: 1 MiB */
	/* Optional control fd (e.g. the supervisor's socketpair end): when it is
	 * readable fsd_run calls on_ctl. on_ctl returns < 0 to stop fsd_run
	 * (e.g. EOF), 0 to go on; setting *newpol swaps the policy (the caller
	 * keeps ownership of both policies). */
	int ctl_fd;
	int (*on_ctl)(void *ctx, int fd, const struct pol **newpol, struct fsd_answer *ans);
	void *ctl_ctx;
	/* Optional, called with ctl_ctx: ask a person about path/acc (policy
	 * verdict ask) under id; 0 when the question went out. on_ctl hands
	 * the answer back in *ans. Without it asks are denied. */
	int (*ask)(void *ctx, uint32_t id, const char *path, unsigned acc, const char *rule);
	/* Optional: called once listening, with the bound "ADDR:PORT". */
	void (*on_ready)(void *ctx, const char *addr);
	void *ready_ctx;
};

/*
 * Serve until SIGTERM/SIGINT (handled through the loop's signalfd; they are
 * blocked in the calling thread while it runs) or on_ctl < 0. Returns 0 when
 * stopped that way, or a negative code when it could not start: -AGW_EINVAL
 * (no workspace in the policy, bad address), -errno (workspace cannot be
 * opened, bind failed). Open connections are closed and their fids' events
 * emitted before it returns. Blocks; single-threaded.
 */
int fsd_run(const struct fsd_config *c);

/*
 * Bind and listen on "ADDR:PORT" (IPv4 "1.2.3.4:564" or "[::1]:564").
 * Returns 0 and *fd (CLOEXEC, non-blocking) or -AGW_EINVAL / -errno.
 */
int fsd_listen(const char *addr, int *fd);

#endif
