// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw up --policy FILE [--name N] [-v] [-- CMD [ARG...]]`, foreground
 * form: creates a tap with a /30 (10.77.X.Y, host .1, guest .2), starts the
 * supervisor on it (nftables table, net and fs children, audit), boots the
 * guest image in a microvm on that tap and runs CMD (default: /bin/sh with a
 * PTY when stdin is a terminal) with the terminal attached; when it exits,
 * or on SIGINT/SIGTERM, everything is torn down and the command's status is
 * the exit code. The VM runs in a forked "runner" process because the
 * supervisor's loop owns this one; the runner reports QEMU's pid and the
 * exit status over a pipe that the loop watches. Not yet: -d, --workspace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agw.h"
#include "cli.h"
#include "ev.h"
#include "log.h"
#include "policies/pol.h"
#include "vmctl/img.h"
#include "vmctl/sup.h"
#include "vmctl/tap.h"
#include "vmctl/vm.h"

struct up_state {
	struct sup *sup;
	int pipe_r;
	pid_t runner, qemu;
	int status; /* exit status reported by the runner, -1 until then */
	char line[64];
	size_t len;
};

static void up_usage(FILE *out)
{
	fprintf(out,
		"usage: agentgw up --policy FILE [--name N] [-v] [-- CMD [ARG...]]\n\n"
		"Boots a microvm whose network and /workspace go through the gateway with\n"
		"FILE's policy and runs CMD in it (default: a shell), then tears it down.\n"
		"Needs root (tap, nftables). The guest image comes from 'agentgw image build'.\n");
}

static void up_on_pipe(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct up_state *u = ctx;
	ssize_t n = read(fd, u->line + u->len, sizeof(u->line) - 1 - u->len);
	char *nl;

	(void)loop;
	(void)events;
	if (n <= 0) {
		ev_del_fd(loop, fd);
		sup_stop(u->sup);
		return;
	}
	u->len += (size_t)n;
	u->line[u->len] = 0;
	while ((nl = strchr(u->line, '\n'))) {
		*nl = 0;
		if (u->line[0] == 'Q')
			u->qemu = (pid_t)atoi(u->line + 2);
		else if (u->line[0] == 'X') {
			u->status = atoi(u->line + 2);
			sup_stop(u->sup);
		}
		memmove(u->line, nl + 1, u->len - (size_t)(nl + 1 - u->line));
		u->len -= (size_t)(nl + 1 - u->line);
	}
	if (u->len == sizeof(u->line) - 1)
		u->len = 0;
}

/* The runner: boot, run the command, power off, report. Never returns. */
static void up_runner(int wfd, int tap_fd, const struct img_info *img, const char *append,
		      char **cmd, int verbose)
{
	struct vm_cfg cfg = {
	    .kernel = img->kernel, .initrd = img->initrd, .append = append, .tap_fd = tap_fd};
	const char *sh[] = {"/bin/sh", NULL};
	char state[128], err[1024], msg[64];
	int pty = isatty(0) && isatty(1), code = 1, r;
	struct vm *vm = NULL;
	struct vm_exit ex;
	struct termios saved;
	int restore = 0;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_IGN); /* the terminal's ^C goes to the guest or the supervisor */
	signal(SIGPIPE, SIG_IGN);
	snprintf(state, sizeof(state), "/tmp/agentgw-up.%d", (int)getpid());
	cfg.state_dir = state;
	if ((r = vm_start(&cfg, &vm, err, sizeof(err))) < 0) {
		fprintf(stderr, "agentgw up: %s\n", err[0] ? err : agw_strerror(r));
		goto out;
	}
	snprintf(msg, sizeof(msg), "Q %d\n", (int)vm_qemu_pid(vm));
	if (write(wfd, msg, strlen(msg)) < 0)
		goto out;
	if (verbose)
		fprintf(stderr, "agentgw up: guest ready in %.0f ms (%s)\n",
			(double)vm_boot_us(vm) / 1000, qemu_accel_name(vm_accel(vm)));
	/* Raw mode: the guest's PTY does the line editing and echo. */
	if (pty && tcgetattr(0, &saved) == 0) {
		struct termios raw = saved;

		cfmakeraw(&raw);
		restore = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	r = vm_exec(vm, cmd && cmd[0] ? (const char *const *)cmd : sh, NULL, "/workspace", pty, 0,
		    1, 2, &ex);
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	if (r < 0)
		fprintf(stderr, "agentgw up: exec: %s\n", agw_strerror(r));
	else if (ex.err) {
		fprintf(stderr, "agentgw up: %s\n", ex.text);
		code = 127;
	} else
		code = ex.sig ? 128 + ex.sig : ex.code;
out:
	vm_free(vm);
	{
		char p[200];

		snprintf(p, sizeof(p), "%s/console.log", state);
		unlink(p);
		snprintf(p, sizeof(p), "%s/qemu.log", state);
		unlink(p);
		rmdir(state);
	}
	snprintf(msg, sizeof(msg), "X %d\n", code);
	if (write(wfd, msg, strlen(msg)) < 0)
		_exit(code);
	_exit(code);
}

int cmd_up(int argc, char **argv)
{
	struct sup_config c = {.nflog_group = -1};
	struct up_state u = {.pipe_r = -1, .runner = -1, .qemu = -1, .status = -1};
	struct pol_errors errs = {0};
	struct img_info img;
	struct in_addr host, guest;
	char name[40], ifname[16] = "", append[256], err[512], hs[16], gs[16];
	int tap_fd = -1, p[2] = {-1, -1}, verbose = 0, rc = CLI_FAIL, r, i;
	char **cmd = NULL;
	unsigned int net;

	if (cli_wants_help(argc, argv)) {
		up_usage(stdout);
		return CLI_OK;
	}
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			cmd = argv + i + 1;
			break;
		} else if (strcmp(argv[i], "--policy") == 0 && i + 1 < argc) {
			c.policy_path = argv[++i];
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			c.name = argv[++i];
		} else if (strcmp(argv[i], "-v") == 0) {
			verbose++;
		} else {
			fprintf(stderr, "agentgw up: unknown or unsupported option '%s'\n",
				argv[i]);
			up_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (!c.policy_path) {
		up_usage(stderr);
		return CLI_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr,
			"agentgw up: needs root (tap device and nftables); run with sudo\n");
		return CLI_FAIL;
	}
	if (img_find(NULL, NULL, &img) < 0) {
		fprintf(stderr, "agentgw up: no guest image; run 'agentgw image build'\n");
		return CLI_FAIL;
	}
	log_init("supervisor", verbose > 1 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);
	r = pol_load_file(c.policy_path, &c.pol, &errs);
	if (r) {
		for (size_t k = 0; k < errs.n; k++)
			fprintf(stderr, "%s:%d:%d: %s\n",
				errs.v[k].file ? errs.v[k].file : c.policy_path, errs.v[k].line,
				errs.v[k].col, errs.v[k].msg);
		if (!errs.n)
			fprintf(stderr, "%s: %s\n", c.policy_path, agw_strerror(r));
		pol_errors_free(&errs);
		return CLI_USAGE;
	}
	pol_errors_free(&errs);
	/* A /30 out of 10.77.0.0/16 picked from the pid; tap names are unique per name. */
	net = ((unsigned int)getpid() % 16384) * 4;
	host.s_addr = htonl(0x0a4d0000u | net | 1);
	guest.s_addr = htonl(0x0a4d0000u | net | 2);
	inet_ntop(AF_INET, &host, hs, sizeof(hs));
	inet_ntop(AF_INET, &guest, gs, sizeof(gs));
	if (!c.name) {
		snprintf(name, sizeof(name), "sb%d", (int)getpid());
		c.name = name;
	}
	snprintf(ifname, sizeof(ifname), "agw-%.11s", c.name);
	if ((r = tap_create(ifname, &tap_fd)) < 0 || (r = tap_addr_add(ifname, host, 30)) < 0 ||
	    (r = tap_link_up(ifname)) < 0) {
		fprintf(stderr, "agentgw up: tap %s: %s\n", ifname, agw_strerror(r));
		pol_free(c.pol);
		goto out;
	}
	c.iface = ifname;
	c.guest_addr = guest;
	c.image = img.dir;
	if (sup_new(&c, &u.sup, err, sizeof(err)) < 0) {
		fprintf(stderr, "agentgw up: %s\n", err);
		goto out;
	}
	snprintf(append, sizeof(append), "agentgw.ip=%s/30 agentgw.gw=%s agentgw.9p=%d", gs, hs,
		 SUP_P9_PORT);
	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "agentgw up: pipe: %s\n", strerror(errno));
		goto out;
	}
	u.runner = fork();
	if (u.runner < 0) {
		fprintf(stderr, "agentgw up: fork: %s\n", strerror(errno));
		goto out;
	}
	if (u.runner == 0) {
		close(p[0]);
		up_runner(p[1], tap_fd, &img, append, cmd, verbose);
	}
	close(p[1]);
	p[1] = -1;
	u.pipe_r = p[0];
	if (ev_add_fd(sup_loop(u.sup), u.pipe_r, EV_READ, up_on_pipe, &u) < 0) {
		fprintf(stderr, "agentgw up: cannot watch the VM runner\n");
		goto out;
	}
	sup_run(u.sup);
	rc = u.status >= 0 ? u.status : CLI_FAIL;
out:
	if (u.runner > 0) {
		if (u.status < 0) { /* stopped by a signal or a dead child: end the VM now */
			if (u.qemu > 0)
				kill(u.qemu, SIGKILL);
			kill(u.runner, SIGKILL);
		}
		waitpid(u.runner, NULL, 0);
	}
	if (u.sup && u.pipe_r >= 0)
		ev_del_fd(sup_loop(u.sup), u.pipe_r);
	sup_free(u.sup);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (tap_fd >= 0)
		close(tap_fd);
	if (ifname[0] && tap_link_exists(ifname) == 1)
		tap_delete(ifname);
	return rc;
}
