// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The verbs that act on a running sandbox by name (supervisor/sbx.h): `ps`
 * lists the state dirs, `exec` and `shell` run a command in the guest over
 * the supervisor's control socket (the command's status is the exit code),
 * `logs` prints the guest console, `down` asks the supervisor to stop and
 * cleans up after one that died. Sandboxes of an image with a root
 * filesystem keep their writable disk after `down` (img_disk_prepare):
 * `ps -a` lists them as stopped, `rm` (or `down --rm`) deletes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "cli.h"
#include "vmctl/ctl.h"
#include "vmctl/img.h"
#include "supervisor/sbx.h"

#define SBX_EXIT_LOST 255 /* like ssh: the connection ended without a status */

static volatile sig_atomic_t sbx_sig_pending[65];

static void sbx_on_signal(int sig)
{
	if (sig > 0 && sig < 65)
		sbx_sig_pending[sig] = 1;
}

static int sbx_check_name(const char *verb, const char *name)
{
	if (!sbx_name_valid(name)) {
		fprintf(stderr, "agentgw %s: bad sandbox name '%s'\n", verb, name);
		return -1;
	}
	return 0;
}

/* ---- exec / shell ---- */

static int sbx_exec(const char *verb, const char *name, char **argv, int tty,
		    const struct cli_exec_opts *o)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	int fds[3] = {0, 1, 2}, sock, n, rc = SBX_EXIT_LOST, restore = 0;
	uint8_t *buf = NULL;
	struct termios saved;
	struct sigaction sa = {.sa_handler = sbx_on_signal};

	sock = sbx_connect(name);
	if (sock < 0) {
		struct sbx_info info;

		if (sbx_info_read(name, &info) < 0)
			fprintf(stderr, "agentgw %s: no sandbox '%s' (see 'agentgw ps')\n", verb,
				name);
		else if (sock == -EACCES || sock == -EPERM)
			fprintf(stderr,
				"agentgw %s: needs root (the control socket of sandbox '%s' is "
				"root's); run with sudo\n",
				verb, name);
		else
			fprintf(stderr, "agentgw %s: sandbox '%s' is %s: %s\n", verb, name,
				sbx_state_name(sbx_state_of(&info)), agw_strerror(sock));
		return CLI_FAIL;
	}
	buf = malloc(CTL_MAX_FRAME);
	if (!buf)
		goto out;
	if (tty)
		ioctl(0, TIOCGWINSZ, &ws);
	n = ctl_encode_exec_as(buf, CTL_MAX_FRAME, 0, (const char *const *)argv,
			       (const char *const *)o->env, o->cwd ? o->cwd : "", o->user, tty,
			       ws.ws_row, ws.ws_col);
	if (n < 0) {
		fprintf(stderr, "agentgw %s: command too long or too many arguments\n", verb);
		rc = CLI_USAGE;
		goto out;
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	if (tty && tcgetattr(0, &saved) == 0) {
		struct termios raw = saved;

		cfmakeraw(&raw);
		restore = tcsetattr(0, TCSANOW, &raw) == 0;
	}
	if ((n = sbx_send(sock, buf, (size_t)n, fds, 3)) < 0) {
		fprintf(stderr, "agentgw %s: %s\n", verb, agw_strerror(n));
		goto out;
	}
	for (;;) {
		struct pollfd pf = {.fd = sock, .events = POLLIN};
		struct ctl_hdr h;
		size_t flen;
		ssize_t k;

		for (int s = 1; s < 65; s++) {
			if (!sbx_sig_pending[s])
				continue;
			sbx_sig_pending[s] = 0;
			if (s == SIGWINCH && tty && ioctl(0, TIOCGWINSZ, &ws) == 0)
				n = ctl_encode_resize(buf, CTL_MAX_FRAME, 0, ws.ws_row, ws.ws_col);
			else if (s != SIGWINCH)
				n = ctl_encode_u32(buf, CTL_MAX_FRAME, CTL_SIGNAL, 0, (uint32_t)s);
			else
				continue;
			if (n > 0)
				sbx_send(sock, buf, (size_t)n, NULL, 0);
		}
		if (poll(&pf, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		k = sbx_recv(sock, buf, CTL_MAX_FRAME, NULL, NULL);
		if (k < 0 && k == -EINTR)
			continue;
		if (k <= 0) {
			if (restore)
				tcsetattr(0, TCSANOW, &saved);
			restore = 0;
			fprintf(stderr, "agentgw %s: sandbox '%s' went away\n", verb, name);
			break;
		}
		if (ctl_frame_parse(buf, (size_t)k, &h, &flen) < 0 || flen != (size_t)k)
			continue;
		if (h.type == CTL_EXIT) {
			int32_t code;
			uint32_t sig;

			if (ctl_exit_decode(buf + CTL_HDR_LEN, h.len, &code, &sig) == 0)
				rc = sig ? 128 + (int)sig : code & 0xff;
			break;
		}
		if (h.type == CTL_ERROR) {
			int32_t err;
			const char *text;
			size_t tlen;

			if (ctl_error_decode(buf + CTL_HDR_LEN, h.len, &err, &text, &tlen) == 0) {
				if (restore)
					tcsetattr(0, TCSANOW, &saved);
				restore = 0;
				fprintf(stderr, "agentgw %s: %.*s\n", verb, (int)AGW_MIN(tlen, 512),
					text);
				rc = err == ENOENT ? 127 : 126;
			}
			break;
		}
	}
out:
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	free(buf);
	close(sock);
	return rc;
}

#define SBX_EXEC_USAGE                                                                             \
	"usage: agentgw exec NAME [-t] [-e K=V]... [--env-file F] [-w DIR] [--user U]\n"           \
	"                    [--] CMD [ARG...]\n"

int cmd_exec(int argc, char **argv)
{
	struct cli_exec_opts o = {0};
	int tty = 0, i, r, rc;
	const char *name = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf(
			    SBX_EXEC_USAGE
			    "\nRuns CMD in sandbox NAME with this terminal's stdin, stdout and\n"
			    "stderr; -t gives it a PTY (raw terminal, window size follows).\n"
			    "  -e K=V        set a variable (repeatable; a bare K passes this\n"
			    "                shell's value); --env-file F reads K=V lines\n"
			    "  -w DIR        working directory in the guest (default /workspace)\n"
			    "  --user U      run as U (default: the sandbox's user, 'agent' in\n"
			    "                images with a root filesystem, else root)\n"
			    "The exit code is CMD's (128+N when killed by signal N, 127 when\n"
			    "it cannot be found, 255 when the sandbox went away).\n");
			cli_exec_opts_free(&o);
			return CLI_OK;
		} else if (strcmp(argv[i], "-t") == 0) {
			tty = 1;
		} else if ((r = cli_exec_opt(&o, argc, argv, &i, "exec")) != 0) {
			if (r < 0) {
				cli_exec_opts_free(&o);
				return CLI_USAGE;
			}
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			break;
		}
	}
	if (!name || i >= argc) {
		fprintf(stderr, SBX_EXEC_USAGE);
		cli_exec_opts_free(&o);
		return CLI_USAGE;
	}
	if (sbx_check_name("exec", name) < 0 || (tty && !isatty(0))) {
		if (tty && !isatty(0))
			fprintf(stderr, "agentgw exec: -t needs a terminal on stdin\n");
		cli_exec_opts_free(&o);
		return CLI_USAGE;
	}
	rc = sbx_exec("exec", name, argv + i, tty, &o);
	cli_exec_opts_free(&o);
	return rc;
}

int cmd_shell(int argc, char **argv)
{
	static const char usage[] =
	    "usage: agentgw shell NAME [-e K=V]... [--env-file F] [-w DIR] [--user U]\n";
	struct cli_exec_opts o = {0};
	char *sh[] = {"/bin/sh", NULL};
	const char *name = NULL;
	int r, rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s\nOpens /bin/sh in sandbox NAME (with a PTY when stdin is a "
			       "terminal);\nthe options are those of 'agentgw exec'.\n",
			       usage);
			cli_exec_opts_free(&o);
			return CLI_OK;
		} else if ((r = cli_exec_opt(&o, argc, argv, &i, "shell")) != 0) {
			if (r < 0) {
				cli_exec_opts_free(&o);
				return CLI_USAGE;
			}
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			name = NULL;
			break;
		}
	}
	if (!name || sbx_check_name("shell", name) < 0) {
		if (!name)
			fprintf(stderr, "%s", usage);
		cli_exec_opts_free(&o);
		return CLI_USAGE;
	}
	rc = sbx_exec("shell", name, sh, isatty(0) && isatty(1), &o);
	cli_exec_opts_free(&o);
	return rc;
}

/* ---- ps ---- */

static void sbx_fmt_uptime(int64_t s, char *buf, size_t cap)
{
	if (s < 0)
		snprintf(buf, cap, "-");
	else if (s < 3600)
		snprintf(buf, cap, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, cap, "%lldh%02lldm", (long long)(s / 3600), (long long)(s / 60 % 60));
}

/* Kibibytes a sandbox's writable disk takes, -1 without one. */
static long long sbx_disk_kib(const char *name)
{
	char dir[IMG_PATH_MAX], path[IMG_PATH_MAX + 80];
	struct stat st;

	if (img_sandbox_dir(dir, sizeof(dir)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%.40s/rw.img", dir, name);
	return stat(path, &st) == 0 ? (long long)st.st_blocks / 2 : -1;
}

/* ps -a: the stopped sandboxes that keep a disk (not in the run dir). */
static void sbx_ps_stopped(int json, int *first)
{
	char dir[IMG_PATH_MAX];
	struct dirent *de;
	DIR *d;

	if (img_sandbox_dir(dir, sizeof(dir)) < 0 || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		struct sbx_info info;
		long long kib;

		if (!sbx_name_valid(de->d_name) || sbx_info_read(de->d_name, &info) == 0 ||
		    (kib = sbx_disk_kib(de->d_name)) < 0)
			continue;
		if (json) {
			printf("%s{\"name\":", *first ? "" : ",");
			aud_fmt_json_str(stdout, de->d_name);
			printf(",\"state\":\"stopped\",\"disk_kib\":%lld}", kib);
		} else {
			printf("%-20s %-9s %-9s %-15s %-5s %-8s %s (disk %.1fM)\n", de->d_name,
			       "stopped", "-", "-", "-", "-", "-", (double)kib / 1024);
		}
		*first = 0;
	}
	closedir(d);
}

int cmd_ps(int argc, char **argv)
{
	int json = 0, first = 1, all = 0;
	struct dirent *de;
	DIR *d;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "-a") == 0 || strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf(
			    "usage: agentgw ps [-a] [--json]\n\nLists the sandboxes in "
			    "$AGENTGW_RUN_DIR (default %s; now %s):\n"
			    "name, state (starting, running, dead), uptime, guest address,\n"
			    "accelerator, /workspace transport (virtiofs or 9p), supervisor pid,\n"
			    "policy, audit database, published "
			    "ports.\n"
			    "'agentgw down' cleans up dead ones. -a also lists stopped sandboxes\n"
			    "that keep a writable disk, with its size ('agentgw rm NAME' deletes "
			    "it).\n",
			    SBX_RUN_DIR_DEFAULT, sbx_run_dir());
			return CLI_OK;
		} else {
			fprintf(stderr, "usage: agentgw ps [-a] [--json]\n");
			return CLI_USAGE;
		}
	}
	if (json)
		printf("[");
	else
		printf("%-20s %-9s %-9s %-15s %-5s %-8s %-8s %s  %s  %s\n", "NAME", "STATE",
		       "UPTIME", "GUEST", "ACCEL", "FS", "PID", "POLICY", "AUDIT_DB", "PORTS");
	d = opendir(sbx_run_dir());
	while (d && (de = readdir(d))) {
		struct sbx_info info;
		enum sbx_state st;
		int64_t up;
		char ut[32];

		if (!sbx_name_valid(de->d_name) || sbx_info_read(de->d_name, &info) < 0)
			continue;
		st = sbx_state_of(&info);
		up = info.started_at > 0 ? (int64_t)time(NULL) - info.started_at : -1;
		if (json) {
			printf("%s{\"name\":", first ? "" : ",");
			aud_fmt_json_str(stdout, info.name);
			printf(",\"state\":\"%s\",\"policy\":", sbx_state_name(st));
			aud_fmt_json_str(stdout, info.policy);
			printf(",\"uptime_s\":%lld,\"guest\":", (long long)up);
			aud_fmt_json_str(stdout, info.guest);
			printf(",\"accel\":");
			aud_fmt_json_str(stdout, info.accel);
			printf(",\"fs\":");
			aud_fmt_json_str(stdout, info.fs);
			printf(",\"audit_db\":");
			aud_fmt_json_str(stdout, info.audit_db);
			printf(",\"ports\":");
			aud_fmt_json_str(stdout, info.ports);
			printf(",\"pid\":%d,\"boot_ms\":%lld}", (int)info.pid,
			       (long long)info.boot_ms);
		} else {
			sbx_fmt_uptime(up, ut, sizeof(ut));
			printf("%-20s %-9s %-9s %-15s %-5s %-8s %-8d %s  %s  %s\n", info.name,
			       sbx_state_name(st), ut, info.guest[0] ? info.guest : "-",
			       info.accel[0] ? info.accel : "-", info.fs[0] ? info.fs : "-",
			       (int)info.pid,
			       info.policy[0] ? info.policy : "-",
			       info.audit_db[0] ? info.audit_db : "-",
			       info.ports[0] ? info.ports : "-");
		}
		first = 0;
	}
	if (d)
		closedir(d);
	if (all)
		sbx_ps_stopped(json, &first);
	if (json)
		printf("]\n");
	return CLI_OK;
}

/* ---- rm ---- */

static int sbx_rm(const char *verb, const char *name)
{
	int r = img_disk_remove(name);

	if (r < 0 && r != -AGW_ENOTFOUND) {
		fprintf(stderr, "agentgw %s: deleting the disk of '%s': %s\n", verb, name,
			agw_strerror(r));
		return CLI_FAIL;
	}
	return r == -AGW_ENOTFOUND ? CLI_FAIL : CLI_OK;
}

int cmd_rm(int argc, char **argv)
{
	struct sbx_info info;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: agentgw rm NAME\n\nDeletes stopped sandbox NAME's writable disk "
		       "(its home, installed\npackages, everything outside /workspace). "
		       "'agentgw down --rm NAME' stops and deletes.\n");
		return CLI_OK;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: agentgw rm NAME\n");
		return CLI_USAGE;
	}
	if (sbx_check_name("rm", argv[1]) < 0)
		return CLI_USAGE;
	if (sbx_info_read(argv[1], &info) == 0 && sbx_state_of(&info) != SBX_DEAD) {
		fprintf(stderr, "agentgw rm: sandbox '%s' is running; 'agentgw down --rm %s'\n",
			argv[1], argv[1]);
		return CLI_FAIL;
	}
	if (sbx_rm("rm", argv[1]) != CLI_OK) {
		fprintf(stderr, "agentgw rm: no stopped sandbox '%s' (see 'agentgw ps -a')\n",
			argv[1]);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* ---- down ---- */

int cmd_down(int argc, char **argv)
{
	struct sbx_info info;
	int timeout = 30, i, r, rm = 0;
	const char *name = NULL;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--rm") == 0) {
			rm = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf(
			    "usage: agentgw down NAME [--rm] [--timeout SECONDS]\n\n"
			    "Stops sandbox NAME (the guest powers off, the supervisor tears down\n"
			    "tap, nftables table and state) and waits (default 30 s, then\n"
			    "SIGKILL). A dead sandbox's leftovers are cleaned up. A writable\n"
			    "disk (images with a root filesystem) is kept for 'up --name NAME'\n"
			    "unless --rm.\n");
			return CLI_OK;
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			fprintf(stderr, "usage: agentgw down NAME [--rm] [--timeout SECONDS]\n");
			return CLI_USAGE;
		}
	}
	if (!name) {
		fprintf(stderr, "usage: agentgw down NAME [--rm] [--timeout SECONDS]\n");
		return CLI_USAGE;
	}
	if (sbx_check_name("down", name) < 0)
		return CLI_USAGE;
	if (geteuid() != 0) {
		fprintf(stderr, "agentgw down: needs root (tap device and nftables)\n");
		return CLI_FAIL;
	}
	if (sbx_info_read(name, &info) < 0) {
		if (rm && sbx_rm("down", name) == CLI_OK)
			return CLI_OK;
		fprintf(stderr, "agentgw down: no sandbox '%s' (see 'agentgw ps')\n", name);
		return CLI_FAIL;
	}
	if (sbx_pid_is(info.pid, "agentgw")) {
		uint8_t f[CTL_HDR_LEN];
		int sock = sbx_connect(name), n;

		n = ctl_encode(f, sizeof(f), CTL_POWEROFF, 0, 0, NULL, 0);
		if (sock < 0 || n < 0 || sbx_send(sock, f, (size_t)n, NULL, 0) < 0)
			kill(info.pid, SIGTERM); /* no control socket (still booting): the signal */
		if (sock >= 0)
			close(sock);
		for (i = 0; i < timeout * 10 && sbx_pid_is(info.pid, "agentgw"); i++)
			usleep(100000);
		if (sbx_pid_is(info.pid, "agentgw")) {
			fprintf(stderr, "agentgw down: '%s' did not stop in %d s; killing it\n",
				name, timeout);
			kill(info.pid, SIGKILL);
			for (i = 0; i < 50 && sbx_pid_is(info.pid, "agentgw"); i++)
				usleep(100000);
		}
	}
	/* A supervisor that stopped cleanly left nothing; a dead one left this. */
	if (sbx_info_read(name, &info) == 0 && (r = sbx_cleanup(name)) < 0) {
		fprintf(stderr, "agentgw down: cleaning up '%s': %s\n", name, agw_strerror(r));
		return CLI_FAIL;
	}
	if (rm)
		sbx_rm("down", name);
	return CLI_OK;
}

/* ---- logs ---- */

int cmd_logs(int argc, char **argv)
{
	const char *name = NULL;
	char path[512], buf[8192];
	int follow = 0, fd, idle = 0;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
			follow = 1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: agentgw logs NAME [-f]\n\nPrints sandbox NAME's guest "
			       "console; -f keeps following until the sandbox stops.\n");
			return CLI_OK;
		} else if (!name && argv[i][0] != '-') {
			name = argv[i];
		} else {
			fprintf(stderr, "usage: agentgw logs NAME [-f]\n");
			return CLI_USAGE;
		}
	}
	if (!name) {
		fprintf(stderr, "usage: agentgw logs NAME [-f]\n");
		return CLI_USAGE;
	}
	if (sbx_check_name("logs", name) < 0)
		return CLI_USAGE;
	if (sbx_path(path, sizeof(path), name, "vm/console.log") < 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == EACCES)
			fprintf(stderr,
				"agentgw logs: needs root (the console log of '%s' is root's); run "
				"with sudo\n",
				name);
		else
			fprintf(stderr,
				"agentgw logs: no console log for '%s' (see 'agentgw ps')\n", name);
		return CLI_FAIL;
	}
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
				break;
			idle = 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || !follow)
			break;
		fflush(stdout);
		/* Following: stop once the sandbox is gone (the log was unlinked). */
		if (++idle % 10 == 0) {
			struct stat st;

			if (stat(path, &st) < 0)
				break;
		}
		usleep(100000);
	}
	close(fd);
	return CLI_OK;
}
