/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A named sandbox seen from outside its supervisor: the state directory
 * <run>/<name>/ (<run> is $AGENTGW_RUN_DIR or /run/agentgw) with `pid` and
 * `policy` (written by the supervisor, supervisor/sup.c), `info` (key=value lines:
 * iface, guest, started_at, audit_db, sandbox_id, runner, qemu, accel, fs,
 * boot_ms, ports; later lines win),
 * `sbx.sock` (the control socket), `supervisor.log` (stderr of `up -d`) and
 * `vm/` (QEMU's sockets, console.log, qemu.log). Also the CLI <-> supervisor
 * control protocol, which reuses the guest's frame codec (vmctl/ctl.h) over
 * a SOCK_SEQPACKET unix socket, one frame per packet:
 *
 *   client -> supervisor: EXEC (argv, pty, rows, cols; the client's stdin,
 *     stdout and stderr ride along by SCM_RIGHTS), RESIZE, SIGNAL, POWEROFF
 *     (stop the sandbox);
 *   supervisor -> client: EXIT (code, signal) or ERROR (errno, text) when the
 *     exec could not start, then the supervisor closes the connection.
 *
 * The supervisor writes the exec's output straight into the passed fds, so
 * the socket carries only control. sbx_cleanup() removes what a supervisor
 * killed with SIGKILL leaves behind.
 */
#ifndef AGW_SBX_H
#define AGW_SBX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_RUN_DIR_DEFAULT "/run/agentgw"
#define SBX_NAME_MAX 32
#define SBX_SOCK "sbx.sock"
#define SBX_PATH_MAX 108 /* sun_path */

/* What `info` and `pid` say about one sandbox. Missing fields: "" or 0. */
struct sbx_info {
	char name[SBX_NAME_MAX + 1];
	char iface[16];
	char guest[16];
	char accel[8];
	char fs[12]; /* the /workspace transport: "virtiofs", "9p", "" (none) */
	char policy[4096]; /* a path (PATH_MAX) */
	char audit_db[4096];
	char ports[800]; /* published ports: "127.0.0.1:8080->3000,..." (supervisor/pub.h) */
	int64_t sandbox_id; /* row in audit_db */
	pid_t pid, runner, qemu;
	int64_t started_at; /* unix seconds */
	int64_t boot_ms;
};

enum sbx_state {
	SBX_STARTING, /* supervisor alive, VM not ready yet (also: `gateway` without VM is running)
		       */
	SBX_RUNNING,
	SBX_DEAD, /* supervisor gone, leftovers remain */
};

/* $AGENTGW_RUN_DIR or SBX_RUN_DIR_DEFAULT. Static storage. */
const char *sbx_run_dir(void);
/* True for [a-z0-9_-]{1,SBX_NAME_MAX} starting with a letter or digit. */
bool sbx_name_valid(const char *name);
/* buf = <run>/<name>[/<file>] (file may be NULL). -AGW_ETOOBIG if it does not fit. */
int sbx_path(char *buf, size_t cap, const char *name, const char *file);

/*
 * Parse `info` text (key=value lines) into *info (fields not present are
 * left as they are). Pure; unknown keys are ignored. Returns 0.
 */
int sbx_info_parse(const char *text, size_t n, struct sbx_info *info);
/* Read <run>/<name>/{pid,policy,info}. Returns 0, or -ENOENT if no state dir. */
int sbx_info_read(const char *name, struct sbx_info *info);
/* Append "key=value\n" to <run>/<name>/info (created 0644). Returns 0 or -errno. */
int sbx_info_add(const char *name, const char *key, const char *value);

/* True if pid is alive and its /proc cmdline argv[0] contains `what`. */
bool sbx_pid_is(pid_t pid, const char *what);
/* State from the pid file and info (see enum sbx_state). */
enum sbx_state sbx_state_of(const struct sbx_info *info);
const char *sbx_state_name(enum sbx_state s);

/*
 * Clean up after a supervisor that is gone: SIGKILL the runner and QEMU
 * recorded in info (only if /proc says they are agentgw and qemu), remove
 * the nftables table and the tap, record lifecycle/stop and close the
 * sandbox row in the audit database, remove the state dir. Refuses with
 * -EBUSY while the supervisor is alive. Returns 0 (also if there was
 * nothing to do) or the first error. Blocks briefly.
 */
int sbx_cleanup(const char *name);
/*
 * SIGKILL every QEMU whose command line uses <run>/<name>/vm/ (found in
 * /proc, so also one whose pid was never recorded because its supervisor
 * died during boot) and wait for it. Returns how many were killed.
 */
int sbx_kill_qemu(const char *name);
/*
 * Pick a free /30 for a new sandbox out of POOL ("A.B.C.D/len", len 8..30;
 * NULL: $AGENTGW_POOL, else SBX_POOL_DEFAULT), starting at a slot derived
 * from `seed` so concurrent `up`s spread out. A /30 is taken when any host
 * interface has an address in it or another sandbox's state dir names its
 * guest address. Sets host (.1) and guest (.2) in network order. Returns 0,
 * -AGW_EINVAL for a bad pool, -ENOSPC when every /30 is taken.
 */
#define SBX_POOL_DEFAULT "10.77.0.0/16"
int sbx_subnet_pick(const char *pool, unsigned seed, uint32_t *host, uint32_t *guest);
/*
 * Keep a failed sandbox's logs (supervisor.log, vm/qemu.log,
 * vm/console.log, info) by moving them to <run>/<name>.failed/ (replacing
 * an older failure's), whose path goes to dir. Call before
 * sbx_state_remove(). Returns how many files were kept, -AGW_ENOTFOUND
 * when there was none, -AGW_ETOOBIG.
 */
int sbx_keep_logs(const char *name, char *dir, size_t cap);
/* Remove the state dir's known files, vm/ and the dir itself. */
void sbx_state_remove(const char *name);

/*
 * Shell-quote argv, joined by spaces, into buf (always NUL-terminated,
 * truncated with "..." when it does not fit). Safe words stay bare, others
 * get '...' and control bytes $'\n' escapes, so the result is one line.
 * Pure. Returns the length written.
 */
size_t sbx_quote_argv(char *buf, size_t cap, const char *const *argv);
/*
 * The exec audit target: argv with secret-shaped parts replaced
 * (vmctl/redact.h), then quoted as by sbx_quote_argv(). Allocates
 * temporarily. Returns the length written.
 */
size_t sbx_audit_argv(char *buf, size_t cap, const char *const *argv);

/* Client: connect to <run>/<name>/sbx.sock. Returns an fd or -errno. */
int sbx_connect(const char *name);
/*
 * Send one packet with up to 3 fds (nfds 0..3). Returns 0 or -errno.
 * Receive one packet into buf (cap) with up to *nfds fds (set to the number
 * received; extra fds are closed). Returns the length, 0 on EOF, or -errno.
 */
int sbx_send(int sock, const void *buf, size_t len, const int *fds, int nfds);
ssize_t sbx_recv(int sock, void *buf, size_t cap, int *fds, int *nfds);

#endif
