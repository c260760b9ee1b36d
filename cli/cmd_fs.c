// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw fs-serve`: serve a policy's workspace over 9P2000.L with its path
 * rules, without a VM. Loads the policy, opens the audit writer, records a
 * sandbox row for the session and runs the fs loop (gateway/fs/fsd.h) in the
 * foreground until SIGINT/SIGTERM; SIGHUP reloads the policy file. Useful for mounting a policed
 * workspace into a container, and used by the integration tests and benchmarks.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "audit/aud.h"
#include "cli.h"
#include "gateway/fs/fsd.h"
#include "log.h"
#include "policies/pol.h"

static void fs_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: agentgw fs-serve --policy FILE [--listen ADDR:PORT] [--allow-peer ADDR]\n"
	    "                        [--audit DB] [--name N] [--msize BYTES]\n"
	    "                        [--vhost-user SOCKET] [-v]\n\n"
	    "Serve the policy's filesystem.workspace over 9P2000.L (TCP) with its path rules;\n"
	    "every operation is checked and written to the audit database.\n\n"
	    "  --policy FILE       policy with a filesystem section\n"
	    "  --listen ADDR:PORT  listen address (default 127.0.0.1:5640; port 0: any free port,\n"
	    "                      printed on stdout as 'listening ADDR:PORT')\n"
	    "  --allow-peer ADDR   only this client address may connect (default: any)\n"
	    "  --audit DB          audit database (default: the policy's audit.database,\n"
	    "                      else the default path)\n"
	    "  --name N            sandbox name recorded in the audit database (default fs-serve)\n"
	    "  --msize BYTES       largest 9P message (4096..1048576, default 1048576)\n"
	    "  --vhost-user SOCKET also serve virtio-fs: QEMU's vhost-user-fs-device connects\n"
	    "                      to this unix socket (guest memory must be shared: a\n"
	    "                      memory-backend-memfd with share=on)\n"
	    "  -v                  debug logging\n\n"
	    "Mount it with: mount -t 9p -o trans=tcp,port=5640,version=9p2000.L 127.0.0.1 /mnt\n");
}

static int fs_emit(void *ctx, const struct aud_event *ev)
{
	return aud_writer_submit(ctx, ev);
}

static bool fs_audit_ok(void *ctx)
{
	return aud_writer_healthy(ctx);
}

/* SIGHUP: reload the policy file (same workspace only). */
struct fs_reload {
	const char *path;
	struct pol *cur, *prev; /* prev stays alive until the next reload */
	struct aud_writer *w;
	int64_t sid;
};

static void fs_print_errors(const char *path, int rc, const struct pol_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		if (errs->v[i].line > 0)
			fprintf(stderr, "%s:%d:%d: %s\n", errs->v[i].file, errs->v[i].line,
				errs->v[i].col, errs->v[i].msg);
		else
			fprintf(stderr, "%s: %s\n", errs->v[i].file, errs->v[i].msg);
	}
	if (!errs->n)
		fprintf(stderr, "agentgw fs-serve: %s: %s\n", path, agw_strerror(rc));
}

static int fs_on_hup(void *ctx, int fd, const struct pol **newpol, struct fsd_answer *ans)
{
	struct fs_reload *r = ctx;
	struct signalfd_siginfo si;
	struct pol_errors errs = {0};
	struct pol *np = NULL;
	char detail[96];
	struct aud_event ev = {
	    .kind = "policy", .op = "reload", .bytes_up = -1, .bytes_down = -1, .duration_us = -1};
	int rc;

	(void)ans; /* no approvals without a supervisor: asks are denied */
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
	}
	ev.sandbox_id = r->sid;
	ev.target = r->path;
	rc = pol_load_file(r->path, &np, &errs);
	if (rc < 0) {
		fs_print_errors(r->path, rc, &errs);
		ev.decision = "error";
		ev.reason = "policy does not load; the old one stays";
	} else if (!pol_workspace(np) || strcmp(pol_workspace(np), pol_workspace(r->cur)) != 0) {
		fprintf(stderr,
			"agentgw fs-serve: %s: the workspace cannot change on reload; "
			"restart fs-serve\n",
			r->path);
		ev.decision = "error";
		ev.reason = "workspace changed; the old policy stays";
		pol_free(np);
		np = NULL;
	} else {
		snprintf(detail, sizeof(detail), "{\"sha256\":\"%s\"}", pol_sha256(np));
		ev.decision = "allow";
		ev.detail = detail;
		pol_free(r->prev);
		r->prev = r->cur;
		r->cur = np;
		*newpol = np;
		fprintf(stderr, "agentgw fs-serve: policy reloaded from %s\n", r->path);
	}
	aud_writer_submit(r->w, &ev);
	pol_errors_free(&errs);
	return 0;
}

static void fs_ready(void *ctx, const char *addr)
{
	printf("listening %s\n", addr);
	fflush(stdout);
}

int cmd_fs(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"policy", required_argument, NULL, 'p'},
	    {"listen", required_argument, NULL, 'l'},
	    {"allow-peer", required_argument, NULL, 'a'},
	    {"audit", required_argument, NULL, 'd'},
	    {"name", required_argument, NULL, 'n'},
	    {"msize", required_argument, NULL, 'm'},
	    {"vhost-user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *policy = NULL, *listen = "127.0.0.1:5640", *peer = NULL, *db = NULL;
	const char *name = "fs-serve", *vu_path = NULL;
	struct pol_errors errs = {0};
	struct aud_writer *w = NULL;
	struct fsd_config fc = {0};
	struct pol *p = NULL;
	struct fs_reload hup = {0};
	char dbpath[PATH_MAX];
	int hupfd = -1;
	int64_t sid = 0;
	long msize = 0;
	sigset_t block;
	int c, rc, ret = CLI_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:l:a:d:n:m:u:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'a':
			peer = optarg;
			break;
		case 'd':
			db = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'm': {
			char *end = NULL;

			errno = 0;
			msize = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || msize < 4096 || msize > 1048576) {
				fprintf(stderr,
					"agentgw fs-serve: --msize must be 4096..1048576\n");
				return CLI_USAGE;
			}
			break;
		}
		case 'u':
			vu_path = optarg;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			fs_usage(stdout);
			return CLI_OK;
		default: /* getopt said what was wrong */
			fprintf(stderr, "agentgw fs-serve: see 'agentgw fs-serve --help'\n");
			return CLI_USAGE;
		}
	}
	if (!policy || optind != argc) {
		fs_usage(stderr);
		return CLI_USAGE;
	}
	rc = pol_load_file(policy, &p, &errs);
	if (rc < 0) {
		fs_print_errors(policy, rc, &errs);
		ret = CLI_USAGE;
		goto out;
	}
	if (!pol_workspace(p)) {
		fprintf(stderr,
			"agentgw fs-serve: %s: no filesystem section; add filesystem.workspace\n",
			policy);
		ret = CLI_USAGE;
		goto out;
	}
	if (!db)
		db = pol_audit_db(p);
	if (!db) {
		if (aud_default_db_path(dbpath, sizeof(dbpath)) < 0) {
			fprintf(stderr, "agentgw fs-serve: no audit database; pass --audit DB\n");
			goto out;
		}
		db = dbpath;
	}
	/* Block the stop signals before the writer thread starts, so only the
	 * loop's signalfd sees them. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = aud_writer_new(db, &w);
	if (rc < 0) {
		fprintf(stderr, "agentgw fs-serve: audit database %s: %s\n", db, agw_strerror(rc));
		goto out;
	}
	rc = aud_writer_sandbox_start(w, name, pol_name(p), pol_sha256(p), pol_text(p), NULL, &sid);
	if (rc < 0) {
		fprintf(stderr, "agentgw fs-serve: audit database %s: %s\n", db, agw_strerror(rc));
		goto out;
	}
	fc.listen_fd = -1;
	fc.listen_addr = listen;
	fc.allow_peer = peer;
	fc.pol = p;
	fc.emit = fs_emit;
	fc.emit_ctx = w;
	fc.audit_ok = fs_audit_ok;
	fc.sandbox_id = sid;
	fc.owner_uid = (uid_t)-1;
	fc.owner_gid = (gid_t)-1;
	fc.max_msize = (uint32_t)msize;
	fc.vu_fd = -1;
	fc.vu_path = vu_path;
	hup.path = policy;
	hup.cur = p;
	hup.w = w;
	hup.sid = sid;
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	hupfd = signalfd(-1, &block, SFD_NONBLOCK | SFD_CLOEXEC);
	fc.ctl_fd = hupfd;
	fc.on_ctl = hupfd >= 0 ? fs_on_hup : NULL;
	fc.ctl_ctx = &hup;
	fc.on_ready = fs_ready;
	rc = fsd_run(&fc);
	if (rc < 0) {
		fprintf(stderr, "agentgw fs-serve: cannot serve %s on %s: %s\n", pol_workspace(p),
			listen, agw_strerror(rc));
		goto out;
	}
	ret = CLI_OK;
out:
	if (w && sid)
		aud_writer_sandbox_stop(w, sid);
	aud_writer_free(w);
	if (hupfd >= 0)
		close(hupfd);
	if (hup.cur)
		p = hup.cur; /* the live policy after reloads */
	pol_free(hup.prev);
	pol_free(p);
	pol_errors_free(&errs);
	return ret;
}
