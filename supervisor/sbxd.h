/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sandbox's control server, run by `agentgw up`'s VM runner process (the
 * one that owns the VM): it listens on <run>/<name>/sbx.sock (supervisor/sbx.h
 * protocol), multiplexes the clients' execs and the optional initial
 * command over the guest's control connection, writes their output into
 * the fds the clients passed, and reports each finished exec to the
 * supervisor as one line on report_fd for the audit database:
 *
 *   "E <duration_us> <code> <signal> <errno> <shell-quoted argv>\n"
 */
#ifndef AGW_SBXD_H
#define AGW_SBXD_H

#include "vmctl/vm.h"

struct sbxd_cfg {
	const char *name;	 /* sandbox name (state dir) */
	struct vm *vm;		 /* started, HELLO done */
	int report_fd;		 /* pipe to the supervisor, or -1 */
	const char *const *argv; /* initial command on fds 0/1/2, or NULL */
	const char *const *env;	 /* its extra environment (K=V, NULL-terminated), or NULL */
	const char *cwd;	 /* its working directory, NULL: /workspace */
	const char *user;	 /* its user, NULL: the guest's default */
	int pty;		 /* initial command gets a PTY (caller set raw mode) */
	int listen_fd;		 /* from sbxd_listen() */
	int denials_fd;		 /* lines from the supervisor for the guest's denials file, or -1 */
};

/* Bind and listen on <run>/<name>/sbx.sock (0600). Returns an fd or -errno. */
int sbxd_listen(const char *name);

/*
 * Serve until the initial command exits (*status = its exit status, 128+sig
 * when killed, 127 when it could not start), a client asks POWEROFF, the
 * guest connection ends, or SIGTERM/SIGHUP arrive (*status = 0 then, or 1
 * when the guest went away). Blocks. Returns 0 or a negative code when
 * setting up failed. Closes nothing it did not open, except accepted
 * clients and the fds they passed.
 */
int sbxd_run(const struct sbxd_cfg *cfg, int *status);

#endif
