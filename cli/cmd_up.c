// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw up --policy FILE [--name N] [-d] [-v] [-- CMD [ARG...]]`: makes
 * the state dir <run>/<name>/ (supervisor/sbx.h; a dead sandbox of that name is
 * cleaned up first, a live one is an error), creates a tap with a /30
 * (10.77.X.Y, host .1, guest .2), starts the supervisor on it (nftables
 * table, net and fs children, audit), and boots the guest in a microvm on
 * that tap. The VM lives in a forked "runner" process, because the
 * supervisor's loop owns this one; the runner serves the control socket
 * (supervisor/sbxd.h) for `agentgw exec/shell/down` and reports to the
 * supervisor over a pipe: "Q <qemu pid>" when the guest is ready, one
 * "E ..." line per finished exec (recorded as exec/run audit events), and
 * "X <status>" when it is done.
 *
 * In the foreground, CMD (default: /bin/sh with a PTY when stdin is a
 * terminal) runs with the terminal attached and its status is the exit
 * code; everything is torn down when it exits. With -d the process
 * daemonises (fork, setsid, output to <state>/supervisor.log), prints the
 * name once the guest is ready and returns; `agentgw down` stops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "cli.h"
#include "ev.h"
#include "log.h"
#include "policies/pol.h"
#include "vmctl/accel.h"
#include "vmctl/fst.h"
#include "vmctl/cg.h"
#include "vmctl/fw.h"
#include "vmctl/img.h"
#include "supervisor/pub.h"
#include "vmctl/jail.h"
#include "supervisor/sbx.h"
#include "supervisor/sbxd.h"
#include "supervisor/sbxrec.h"
#include "supervisor/sup.h"
#include "vmctl/tap.h"
#include "vmctl/vm.h"

#define UP_LINE_MAX 2048

struct up_state {
	struct sup *sup;
	const char *name;
	int pipe_r;
	int ready_fd; /* -d: tell the waiting parent "ok" once the guest is up */
	pid_t runner, qemu;
	int status;	 /* exit status reported by the runner, -1 until then */
	int failed;	 /* the runner reported a failure ("F ...") */
	int interrupted; /* SIGINT: stop, say so, exit 130 */
	char line[UP_LINE_MAX];
	size_t len;
};

/* What the runner boots and runs. */
struct up_run {
	const struct img_info *img;
	const char *append;
	char **cmd;
	const struct cli_exec_opts *xo;
	unsigned int mem_mb, vcpus;
	const char *rw_disk; /* the sandbox's writable layer, NULL without a root disk */
	enum qemu_accel accel;
	uint32_t jail_slot;
	const char *vfs_sock; /* virtio-fs: the fs child's vhost-user socket, else NULL */
};

static void up_usage(FILE *out)
{
	fprintf(out,
		"usage: agentgw up --policy FILE [--name N] [--workspace DIR] [--image NAME]\n"
		"                  [--accel A] [--fs-transport T] [-e K=V]... [--env-file F]\n"
		"                  [-w DIR] [--user U]\n"
		"                  [-p [IP:]PORT:GUEST_PORT]... [-d] [-v] [-- CMD [ARG...]]\n\n"
		"Boots a microvm whose network and /workspace go through the gateway with\n"
		"FILE's policy and runs CMD in it (default: a shell), then tears it down.\n"
		"  --name N   sandbox name, [a-z0-9_-]{1,32} (default: sb<pid>)\n"
		"  --workspace DIR  serve DIR as /workspace instead of the policy's\n"
		"             filesystem.workspace (its path rules apply to DIR)\n"
		"  --accel A  auto (default), kvm or tcg; beats the policy's sandbox.accel,\n"
		"             which beats $AGENTGW_ACCEL. auto uses KVM only after a probe\n"
		"             boot showed that it runs the guest on this host (verdict cached\n"
		"             in $AGENTGW_STATE_DIR/accel-probe), else TCG\n"
		"  --fs-transport T  auto (default), virtiofs or 9p: how the guest reaches\n"
		"             /workspace; beats the policy's sandbox.fs_transport, which beats\n"
		"             $AGENTGW_FS_TRANSPORT. auto is virtiofs when QEMU has\n"
		"             vhost-user-fs-device and the image the virtiofs module, else 9p\n"
		"  --image NAME  boot image NAME instead of the policy's sandbox.image\n"
		"             ('agentgw image ls'); an image with a root filesystem gives\n"
		"             the sandbox a writable disk that 'down' keeps and 'up --name N'\n"
		"             resumes, until 'agentgw rm N'\n"
		"  -e, --env-file, -w, --user  for CMD, as in 'agentgw exec'\n"
		"  -d         detach: print the name once the guest is ready and return;\n"
		"             use 'agentgw exec/shell/logs/down N' afterwards. With CMD, it\n"
		"             runs without a terminal and the sandbox stops when it exits\n"
		"  -p [HOST_IP:]HOST_PORT:GUEST_PORT  publish a port of the guest on the\n"
		"             host (HOST_IP default 127.0.0.1; repeatable); each connection\n"
		"             is relayed by the gateway and audited as net/inbound\n"
		"  -v         log more (twice: debug)\n"
		"Needs root (tap, nftables). The guest image comes from 'agentgw image build'.\n"
		"Each sandbox gets a free /30 out of $AGENTGW_POOL (default %s);\n"
		"state lives in $AGENTGW_RUN_DIR/<name> (default %s/<name>).\n",
		SBX_POOL_DEFAULT, SBX_RUN_DIR_DEFAULT);
}

/* "E <dur_us> <code> <sig> <errno> <target>" from the runner: one exec/run event. */
static void up_exec_event(struct up_state *u, const char *line)
{
	struct aud_event ev = {0};
	long long dur = 0;
	int code = 0, sig = 0, err = 0, off = 0;
	char detail[96];

	if (sscanf(line, "E %lld %d %d %d %n", &dur, &code, &sig, &err, &off) < 4 || !off)
		return;
	if (err)
		snprintf(detail, sizeof(detail), "{\"exit\":%d,\"errno\":%d}",
			 err == ENOENT ? 127 : 126, err);
	else if (sig)
		snprintf(detail, sizeof(detail), "{\"signal\":%d}", sig);
	else
		snprintf(detail, sizeof(detail), "{\"exit\":%d}", code);
	ev.kind = "exec";
	ev.op = "run";
	ev.target = line + off;
	ev.decision = "allow";
	ev.detail = detail;
	ev.duration_us = dur;
	ev.bytes_up = ev.bytes_down = -1;
	if (sup_emit(u->sup, &ev) < 0)
		log_error("audit: cannot record exec %s", line + off);
}

static void up_on_pipe(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct up_state *u = ctx;
	ssize_t n = read(fd, u->line + u->len, sizeof(u->line) - 1 - u->len);
	char *nl;

	(void)events;
	if (n <= 0) {
		ev_del_fd(loop, fd);
		sup_stop(u->sup);
		return;
	}
	u->len += (size_t)n;
	u->line[u->len] = 0;
	while ((nl = strchr(u->line, '\n'))) {
		size_t used = (size_t)(nl + 1 - u->line);

		*nl = 0;
		if (u->line[0] == 'Q') {
			u->qemu = (pid_t)atoi(u->line + 2);
			if (u->ready_fd >= 0) {
				if (write(u->ready_fd, "ok\n", 3) < 0)
					log_warn("the parent of 'up -d' is gone");
				close(u->ready_fd);
				u->ready_fd = -1;
			}
		} else if (u->line[0] == 'E') {
			up_exec_event(u, u->line);
		} else if (u->line[0] == 'F') {
			u->failed = 1;
			sup_fail(u->sup, u->line + 2);
		} else if (u->line[0] == 'X') {
			u->status = atoi(u->line + 2);
			sup_stop(u->sup);
		}
		memmove(u->line, nl + 1, u->len - used);
		u->len -= used;
	}
	if (u->len == sizeof(u->line) - 1)
		u->len = 0;
}

/* "F <reason>" to the supervisor: the sandbox stops abnormally, for that reason (first line). */
static void up_report_fail(int wfd, const char *what, const char *detail)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "F %s%.*s\n", what, (int)strcspn(detail, "\n"), detail);

	if (n > 0 && write(wfd, msg, (size_t)AGW_MIN(n, (int)sizeof(msg) - 1)) < 0)
		return;
}

static void up_pub_emit(void *ctx, const struct aud_event *ev)
{
	if (sup_emit(ctx, ev) < 0)
		log_error("audit: cannot record a published port's connection");
}

/* -p: listen on the host, relay to the guest (supervisor/pub.h); ps shows the ports. */
static int up_publish(struct up_state *u, const char *name, const struct pub_spec *v, size_t n,
		      struct in_addr guest, struct pub **out)
{
	char err[256], list[PUB_MAX * 48] = "";
	int r = pub_new(sup_loop(u->sup), v, n, guest, up_pub_emit, u->sup, out, err, sizeof(err));

	if (r < 0) {
		fprintf(stderr, "agentgw up: %s\n", err);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(list);

		if (i)
			list[len++] = ',';
		pub_str(&v[i], list + len, sizeof(list) - len);
	}
	sbx_info_add(name, "ports", list);
	return 0;
}

/* ^C: the sandbox stops as on SIGTERM, but the user hears why and the stop row says so. */
static void up_on_int(struct ev_loop *loop, int signo, void *ctx)
{
	struct up_state *u = ctx;

	(void)loop;
	(void)signo;
	u->interrupted = 1;
	sup_set_stop_note(u->sup, "interrupted");
	sup_stop(u->sup);
}

/*
 * <run>/<name>/guest/ when the supervisor put a sandbox CA there (TLS
 * inspection, issue 14): its ca.pem and env go into the guest at boot
 * (vmctl/gtrust.h). NULL otherwise.
 */
static const char *up_guest_dir(const char *name, char *buf, size_t cap)
{
	char ca[600];

	if (sbx_path(buf, cap, name, "guest") < 0 ||
	    (size_t)snprintf(ca, sizeof(ca), "%s/ca.pem", buf) >= sizeof(ca) ||
	    access(ca, F_OK) < 0)
		return NULL;
	return buf;
}

/* The runner: boot, serve the control socket (and CMD), power off, report. Never returns. */
static void up_runner(int wfd, int dfd, int tap_fd, const char *name, const struct up_run *run,
		      int detach, int verbose)
{
	struct vm_cfg cfg = {.kernel = run->img->kernel,
			     .initrd = run->img->initrd,
			     .append = run->append,
			     .tap_fd = tap_fd,
			     .mem_mb = run->mem_mb,
			     .vcpus = run->vcpus,
			     .root_disk = run->rw_disk ? run->img->rootfs : NULL,
			     .rw_disk = run->rw_disk,
			     .accel = run->accel,
			     .jail_slot = run->jail_slot,
			     .vfs_sock = run->vfs_sock};
	char **cmd = run->cmd;
	const char *sh[] = {"/bin/sh", NULL};
	struct sbxd_cfg sc = {.name = name, .report_fd = wfd, .listen_fd = -1, .denials_fd = dfd};
	char state[512], err[4096], msg[64], guest[512];
	int pty = 0, code = 1, r;
	struct vm *vm = NULL;
	struct termios saved;
	int restore = 0;
	sigset_t set;

	/* Die with the supervisor; SIGTERM stays pending until sbxd_run's signalfd takes it. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_SETMASK, &set, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	signal(SIGINT, SIG_IGN); /* the terminal's ^C goes to the guest or the supervisor */
	signal(SIGPIPE, SIG_IGN);
	if (sbx_path(state, sizeof(state), name, "vm") < 0)
		goto out;
	cfg.state_dir = state;
	cfg.guest_dir = up_guest_dir(name, guest, sizeof(guest));
	snprintf(msg, sizeof(msg), "%d", (int)getpid());
	sbx_info_add(name, "runner", msg);
	if ((r = vm_start(&cfg, &vm, err, sizeof(err))) < 0) {
		fprintf(stderr, "agentgw up: %s%s\n",
			run->accel == QEMU_ACCEL_KVM ? "(accel kvm) " : "",
			err[0] ? err : agw_strerror(r));
		up_report_fail(wfd, "the guest did not start: ", err[0] ? err : agw_strerror(r));
		if (run->accel == QEMU_ACCEL_KVM)
			fprintf(stderr,
				"agentgw up: KVM opens on this host but may not run a Linux "
				"guest (nested virtualisation); try --accel auto or tcg\n");
		goto out;
	}
	snprintf(msg, sizeof(msg), "%d", (int)vm_qemu_pid(vm));
	sbx_info_add(name, "qemu", msg);
	sbx_info_add(name, "accel", qemu_accel_name(vm_accel(vm)));
	snprintf(msg, sizeof(msg), "%lld", (long long)(vm_boot_us(vm) / 1000));
	sbx_info_add(name, "boot_ms", msg);
	if ((sc.listen_fd = sbxd_listen(name)) < 0) {
		fprintf(stderr, "agentgw up: control socket: %s\n", agw_strerror(sc.listen_fd));
		goto out;
	}
	snprintf(msg, sizeof(msg), "Q %d\n", (int)vm_qemu_pid(vm));
	if (write(wfd, msg, strlen(msg)) < 0)
		goto out;
	if (verbose)
		fprintf(stderr, "agentgw up: guest ready in %.0f ms (%s)\n",
			(double)vm_boot_us(vm) / 1000, qemu_accel_name(vm_accel(vm)));
	if (detach && cmd && cmd[0]) {
		sc.argv = (const char *const *)cmd; /* no terminal; the sandbox stops with it */
	} else if (!detach) {
		sc.argv = cmd && cmd[0] ? (const char *const *)cmd : sh;
		pty = isatty(0) && isatty(1);
		/* Raw mode: the guest's PTY does the line editing and echo. */
		if (pty && tcgetattr(0, &saved) == 0) {
			struct termios raw = saved;

			cfmakeraw(&raw);
			restore = tcsetattr(0, TCSANOW, &raw) == 0;
		}
	}
	sc.vm = vm;
	sc.pty = pty;
	sc.env = (const char *const *)run->xo->env;
	sc.cwd = run->xo->cwd;
	sc.user = run->xo->user;
	r = sbxd_run(&sc, &code);
	if (restore)
		tcsetattr(0, TCSANOW, &saved);
	if (r < 0)
		fprintf(stderr, "agentgw up: %s\n", agw_strerror(r));
	{
		/* The guest's connection ended (not a stop we asked for): QEMU is on its way out.
		 */
		char peek;

		if (recv(vm_ctl_fd(vm), &peek, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			for (int i = 0; i < 200 && !vm_exited(vm); i++)
				usleep(10000);
	}
	if (vm_exited(vm))
		up_report_fail(wfd,
			       "QEMU exited while the sandbox ran (the guest powered off, or QEMU "
			       "failed: see qemu.log)",
			       "");
out:
	if (sc.listen_fd >= 0)
		close(sc.listen_fd);
	vm_free(vm);
	snprintf(msg, sizeof(msg), "X %d\n", code);
	if (write(wfd, msg, strlen(msg)) < 0)
		_exit(code);
	_exit(code);
}

/*
 * Say where the audit log goes (one line, also without -v) and note it in
 * the state dir and <state>/last-sandbox, so `agentgw audit` finds it.
 */
static void up_audit_where(const char *name, const struct pol *pol)
{
	const char *db = pol_audit_db(pol);
	char dbbuf[512];
	int r;

	if (!db && aud_default_db_path(dbbuf, sizeof(dbbuf)) == 0)
		db = dbbuf;
	if (!db)
		return;
	sbx_info_add(name, "audit_db", db);
	if ((r = sbxrec_write(name, db)) < 0)
		log_warn("cannot record the sandbox in %s: %s", accel_state_dir(), agw_strerror(r));
	fprintf(stderr, "agentgw up: sandbox '%s', audit log %s\n", name, db);
}

/*
 * Claim <run>/<name>/: a live sandbox of that name is an error, leftovers
 * of a dead one are cleaned up. mkdir is the lock against a concurrent up.
 */
static int up_claim(const char *name)
{
	struct sbx_info info;
	char path[512], ifname[16];
	int r;

	if (sbx_info_read(name, &info) == 0) {
		if (sbx_state_of(&info) != SBX_DEAD) {
			fprintf(stderr,
				"agentgw up: sandbox '%s' is already running (pid %d); "
				"use another --name or 'agentgw down %s'\n",
				name, (int)info.pid, name);
			return -EEXIST;
		}
		if ((r = sbx_cleanup(name)) < 0)
			fprintf(stderr, "agentgw up: cleaning up dead sandbox '%s': %s\n", name,
				agw_strerror(r));
		else
			fprintf(stderr,
				"agentgw up: cleaned up the leftovers of dead sandbox '%s'\n",
				name);
	}
	/* Nothing of that name runs now: a tap or table left without a state dir is stale. */
	snprintf(ifname, sizeof(ifname), "agw-%.11s", name);
	if (tap_link_exists(ifname) == 1)
		tap_delete(ifname);
	fw_remove(name);
	mkdir(sbx_run_dir(), 0755);
	if (sbx_path(path, sizeof(path), name, NULL) < 0)
		return -AGW_ETOOBIG;
	if (mkdir(path, 0755) < 0) {
		r = -errno;
		fprintf(stderr, "agentgw up: %s: %s\n", path, strerror(errno));
		return r;
	}
	return 0;
}

/* -d: fork; the parent waits for "ok" and prints the name. Returns in the daemon only. */
static int up_daemonise(const char *name, int *ready_fd)
{
	char path[512], buf[4096];
	int p[2], fd;
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		do
			n = read(p[0], buf, sizeof(buf));
		while (n < 0 && errno == EINTR);
		close(p[0]);
		if (n > 0 && strncmp(buf, "ok", 2) == 0) {
			printf("%s\n", name);
			exit(CLI_OK);
		}
		fprintf(stderr, "agentgw up: sandbox '%s' failed to start\n", name);
		/* The daemon moved its logs to <name>.failed/ before it let go of the pipe. */
		snprintf(path, sizeof(path), "%s/%s.failed/supervisor.log", sbx_run_dir(), name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
			while ((n = read(fd, buf, sizeof(buf))) > 0)
				if (write(2, buf, (size_t)n) < 0)
					break;
			close(fd);
		}
		waitpid(pid, NULL, WNOHANG);
		exit(CLI_FAIL);
	}
	close(p[0]);
	setsid();
	if (sbx_path(path, sizeof(path), name, "supervisor.log") < 0)
		return -AGW_ETOOBIG;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	dup2(fd, 1);
	dup2(fd, 2);
	close(fd);
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	*ready_fd = p[1];
	return 0;
}

/* The image to boot; prints why when there is none. policy: where the name came from. */
static int up_image(const char *image, const char *policy, struct img_info *img)
{
	int r = img_lookup(NULL, image, img);

	if (r == 0)
		return 0;
	if (r == -AGW_EINVAL)
		fprintf(stderr, "agentgw up: bad image name '%s'\n", image);
	else if (strcmp(image, "default") == 0)
		fprintf(stderr, "agentgw up: no guest image; run 'agentgw image build'\n");
	else
		fprintf(stderr,
			"agentgw up: no image '%s'%s%s (see 'agentgw image ls'; make it with "
			"'agentgw image build --name %s --distro debian ...')\n",
			image, policy ? " named by " : "", policy ? policy : "", image);
	return r;
}

/* The kernel command line for an image with a root disk and its default user. */
static void up_append_root(char *append, size_t cap, const struct img_info *img, const char *user)
{
	size_t len = strlen(append);

	if (img->rootfs[0])
		snprintf(append + len, cap - len,
			 " agentgw.root=agwroot agentgw.rw=agwrw agentgw.user=%s",
			 user ? user : "agent");
	else if (user)
		snprintf(append + len, cap - len, " agentgw.user=%s", user);
}

static int up_main(int argc, char **argv, struct cli_exec_opts *xo)
{
	struct sup_config c = {.nflog_group = -1};
	struct up_state u = {.pipe_r = -1, .ready_fd = -1, .runner = -1, .qemu = -1, .status = -1};
	struct pol_errors errs = {0};
	struct img_info img;
	struct in_addr host, guest;
	struct up_run run = {.img = &img, .xo = xo};
	char name[40], ifname[16] = "", append[512], err[1024], hs[16], gs[16], num[32], kept[600];
	char rw_disk[4096];
	int tap_fd = -1, p[2] = {-1, -1}, verbose = 0, detach = 0, claimed = 0, rc = CLI_FAIL, r, i;
	int dp[2] = {-1, -1}; /* the guest's denials feed: supervisor -> runner */
	char **cmd = NULL;
	const char *workspace = NULL, *accel_flag = NULL, *accel_bad = NULL, *image = NULL;
	const char *fst_flag = NULL, *fst_bad = NULL;
	char vfs_sock[600], fst_why[256] = "";
	enum fst fst_want, fst = FST_9P;
	struct pub_spec pubs[PUB_MAX];
	struct pub *pub = NULL;
	size_t npub = 0;
	enum qemu_accel accel_want;
	struct accel_verdict av;
	struct cg cg = {0};
	int64_t t_accel;

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
		} else if (strcmp(argv[i], "--workspace") == 0 && i + 1 < argc) {
			workspace = argv[++i];
		} else if (strcmp(argv[i], "--accel") == 0 && i + 1 < argc) {
			accel_flag = argv[++i];
		} else if (strcmp(argv[i], "--fs-transport") == 0 && i + 1 < argc) {
			fst_flag = argv[++i];
		} else if ((strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--publish") == 0) &&
			   i + 1 < argc) {
			if (npub == PUB_MAX || pub_parse(argv[++i], &pubs[npub]) < 0) {
				fprintf(
				    stderr,
				    "agentgw up: -p %s: expected [HOST_IP:]HOST_PORT:GUEST_PORT "
				    "(at most %d)\n",
				    argv[i], PUB_MAX);
				return CLI_USAGE;
			}
			npub++;
		} else if (strcmp(argv[i], "--image") == 0 && i + 1 < argc) {
			image = argv[++i];
		} else if ((r = cli_exec_opt(xo, argc, argv, &i, "up")) != 0) {
			if (r < 0)
				return CLI_USAGE;
		} else if (strcmp(argv[i], "-v") == 0) {
			verbose++;
		} else if (strcmp(argv[i], "-d") == 0 || strcmp(argv[i], "--detach") == 0) {
			detach = 1;
		} else {
			fprintf(stderr,
				"agentgw up: unknown or unsupported option '%s' (see 'agentgw up "
				"--help')\n",
				argv[i]);
			return CLI_USAGE;
		}
	}
	if (!c.policy_path) {
		up_usage(stderr);
		return CLI_USAGE;
	}
	if (c.name && !sbx_name_valid(c.name)) {
		fprintf(stderr,
			"agentgw up: bad name '%s': use [a-z0-9_-]{1,32}, starting with a "
			"letter or digit\n",
			c.name);
		return CLI_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr,
			"agentgw up: needs root (tap device and nftables); run with sudo\n");
		return CLI_FAIL;
	}
	log_init("supervisor", verbose > 1 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);
	r = pol_load_file(c.policy_path, &c.pol, &errs);
	if (r) {
		cli_pol_errors(c.policy_path, r, &errs);
		pol_errors_free(&errs);
		return CLI_USAGE;
	}
	pol_errors_free(&errs);
	if ((r = up_image(image ? image : pol_image(c.pol), image ? NULL : c.policy_path, &img)) <
	    0) {
		pol_free(c.pol);
		return r == -AGW_EINVAL ? CLI_USAGE : CLI_FAIL;
	}
	if (workspace && (r = pol_set_workspace(c.pol, workspace)) < 0) {
		if (r == -AGW_EINVAL)
			fprintf(stderr,
				"agentgw up: --workspace: %s has no 'filesystem' section, so no "
				"path rules to apply to %s\n",
				c.policy_path, workspace);
		else
			fprintf(stderr, "agentgw up: --workspace %s: %s\n", workspace,
				agw_strerror(r));
		pol_free(c.pol);
		return CLI_USAGE;
	}
	if (!workspace &&
	    cli_check_workspace(c.policy_path, c.pol, "create it or pass --workspace DIR") < 0) {
		pol_free(c.pol);
		return CLI_USAGE;
	}
	if (accel_requested(accel_flag, pol_accel(c.pol), &accel_want, &accel_bad) < 0) {
		fprintf(stderr, "agentgw up: %s: unknown accelerator '%s'; use auto, kvm or tcg\n",
			accel_bad, accel_flag ? accel_flag : getenv("AGENTGW_ACCEL"));
		pol_free(c.pol);
		return CLI_USAGE;
	}
	if (fst_requested(fst_flag, pol_fs_transport(c.pol), &fst_want, &fst_bad) < 0) {
		fprintf(stderr,
			"agentgw up: %s: unknown fs transport '%s'; use auto, virtiofs or 9p\n",
			fst_bad, fst_flag ? fst_flag : getenv("AGENTGW_FS_TRANSPORT"));
		pol_free(c.pol);
		return CLI_USAGE;
	}
	/* virtio-fs answers every request at once: a workspace access that
	 * waits for a person needs 9P, so auto picks it for such policies. */
	if (pol_workspace(c.pol) && fst_want == FST_AUTO && pol_fs_can_ask(c.pol)) {
		fst = FST_9P;
		snprintf(fst_why, sizeof(fst_why),
			 "the policy can ask a person about workspace access");
	} else if (pol_workspace(c.pol) &&
		   fst_resolve(fst_want, img.dir, &fst, fst_why, sizeof(fst_why)) < 0) {
		fprintf(stderr, "agentgw up: %s says virtiofs, but %s; use 9p or auto\n", fst_bad,
			fst_why);
		pol_free(c.pol);
		return CLI_FAIL;
	}
	t_accel = agw_mono_us();
	if ((r = accel_resolve(accel_want, img.dir, img.kernel, img.initrd, &av)) < 0) {
		fprintf(stderr, "agentgw up: choosing the accelerator: %s\n", av.why);
		pol_free(c.pol);
		return CLI_FAIL;
	}
	accel_note(accel_want, &av, err, sizeof(err));
	if (err[0])
		fprintf(stderr, "agentgw up: %s\n", err);
	if (verbose)
		fprintf(stderr, "agentgw up: accelerator %s (%s%s), decided in %.2f ms\n",
			qemu_accel_name(av.accel), av.cached ? "cached verdict: " : "", av.why,
			(double)(agw_mono_us() - t_accel) / 1000);
	if (!c.name) {
		snprintf(name, sizeof(name), "sb%d", (int)getpid());
		c.name = name;
	}
	u.name = c.name;
	if (up_claim(c.name) < 0) {
		pol_free(c.pol);
		return CLI_FAIL;
	}
	claimed = 1;
	up_audit_where(c.name, c.pol);
	if (img.rootfs[0]) {
		int resumed = 0;

		r = img_disk_prepare(c.name, &img, pol_disk_mib(c.pol), rw_disk, sizeof(rw_disk),
				     &resumed, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "agentgw up: writable disk: %s\n",
				err[0] ? err : agw_strerror(r));
			pol_free(c.pol);
			goto out;
		}
		run.rw_disk = rw_disk;
		if (resumed && verbose)
			fprintf(stderr, "agentgw up: resuming the state of '%s' (%s)\n", c.name,
				rw_disk);
		sbx_info_add(c.name, "disk", rw_disk);
	}
	sbx_info_add(c.name, "image", image ? image : pol_image(c.pol));
	if (detach && (r = up_daemonise(c.name, &u.ready_fd)) < 0) {
		fprintf(stderr, "agentgw up: detach: %s\n", agw_strerror(r));
		pol_free(c.pol);
		goto out;
	}
	/* A free /30 out of the pool; tap names are unique per name. */
	r = sbx_subnet_pick(NULL, (unsigned)getpid(), &host.s_addr, &guest.s_addr);
	if (r < 0) {
		fprintf(stderr, "agentgw up: no free /30 in the address pool %s: %s\n",
			getenv("AGENTGW_POOL") ? getenv("AGENTGW_POOL") : SBX_POOL_DEFAULT,
			r == -ENOSPC ? "all taken" : agw_strerror(r));
		pol_free(c.pol);
		goto out;
	}
	inet_ntop(AF_INET, &host, hs, sizeof(hs));
	inet_ntop(AF_INET, &guest, gs, sizeof(gs));
	snprintf(ifname, sizeof(ifname), "agw-%.11s", c.name);
	sbx_info_add(c.name, "iface", ifname);
	sbx_info_add(c.name, "guest", gs);
	snprintf(num, sizeof(num), "%lld", (long long)time(NULL));
	sbx_info_add(c.name, "started_at", num);
	if ((r = tap_create(ifname, &tap_fd)) < 0 || (r = tap_addr_add(ifname, host, 30)) < 0 ||
	    (r = tap_link_up(ifname)) < 0) {
		fprintf(stderr, "agentgw up: tap %s: %s\n", ifname, agw_strerror(r));
		pol_free(c.pol);
		goto out;
	}
	c.iface = ifname;
	c.guest_addr = guest;
	c.image = img.dir;
	/* Without a filesystem section nothing serves 9P: the guest must not wait for it.
	 * No IPv6 in the guest: the gateway drops it, its multicast only filled the log. */
	if (pol_workspace(c.pol) && fst == FST_VIRTIOFS) {
		/* The socket lives in the VM's folder: the only one QEMU's jail sees. */
		if (sbx_path(vfs_sock, sizeof(vfs_sock), c.name, "vm") < 0 ||
		    (mkdir(vfs_sock, 0700) < 0 && errno != EEXIST) ||
		    strlen(vfs_sock) + sizeof("/vfs.sock") > 108) {
			fprintf(stderr, "agentgw up: %s: cannot hold the virtio-fs socket\n",
				vfs_sock);
			pol_free(c.pol);
			goto out;
		}
		strcat(vfs_sock, "/vfs.sock");
		c.vfs_sock = vfs_sock;
		run.vfs_sock = vfs_sock;
		sbx_info_add(c.name, "fs", "virtiofs");
		snprintf(append, sizeof(append),
			 "ipv6.disable=1 agentgw.ip=%s/30 agentgw.gw=%s agentgw.fs=virtiofs", gs, hs);
	} else if (pol_workspace(c.pol)) {
		sbx_info_add(c.name, "fs", "9p");
		snprintf(append, sizeof(append),
			 "ipv6.disable=1 agentgw.ip=%s/30 agentgw.gw=%s agentgw.9p=%d", gs, hs,
			 SUP_P9_PORT);
	} else {
		snprintf(append, sizeof(append), "ipv6.disable=1 agentgw.ip=%s/30 agentgw.gw=%s",
			 gs, hs);
	}
	/* auto falling back for want of support costs a lot of speed: say so */
	if (pol_workspace(c.pol) &&
	    (verbose || (fst_want == FST_AUTO && fst == FST_9P && !pol_fs_can_ask(c.pol))))
		fprintf(stderr, "agentgw up: /workspace over %s (%s)\n", fst_name(fst), fst_why);
	{
		struct cg_limits lim = cg_limits_for(pol_memory_mib(c.pol), pol_vcpus(c.pol));

		if ((r = cg_enter(c.name, &lim, &cg)) < 0) {
			char why[256];

			if (cg_mode(why, sizeof(why)) == 0)
				fprintf(stderr,
					"agentgw up: warning: no cgroup for the sandbox: %s\n",
					why);
			else
				fprintf(stderr,
					"agentgw up: warning: no cgroup for the sandbox: %s\n",
					agw_strerror(r));
		}
	}
	up_append_root(append, sizeof(append), &img, pol_user(c.pol));
	run.append = append;
	run.cmd = cmd;
	run.mem_mb = (unsigned int)pol_memory_mib(c.pol);
	run.vcpus = pol_vcpus(c.pol);
	if (sup_new(&c, &u.sup, err, sizeof(err)) < 0) {
		fprintf(stderr, "agentgw up: %s\n", err);
		goto out;
	}
	snprintf(num, sizeof(num), "%lld", (long long)sup_sandbox_id(u.sup));
	sbx_info_add(c.name, "sandbox_id", num);
	if (npub && up_publish(&u, c.name, pubs, npub, guest, &pub) < 0)
		goto out;
	/* a second pipe, the other way: the guest's denials feed */
	if (pipe2(p, O_CLOEXEC) < 0 || pipe2(dp, O_CLOEXEC) < 0) {
		fprintf(stderr, "agentgw up: pipe: %s\n", strerror(errno));
		goto out;
	}
	fflush(NULL);
	u.runner = fork();
	if (u.runner < 0) {
		fprintf(stderr, "agentgw up: fork: %s\n", strerror(errno));
		goto out;
	}
	if (u.runner == 0) {
		/* Only its report pipe, the denials feed and the tap for QEMU:
		 * none of the supervisor's (its epoll sets, the audit database,
		 * the children's channels), and no copy of the tap beyond this
		 * one, so the tap goes when QEMU and the runner do. */
		const int keep[] = {p[1], dp[0], tap_fd};

		agw_close_fds_except(keep, AGW_ARRAY_LEN(keep));
		/* The /30's index: unique among live sandboxes, so is QEMU's jail uid. */
		uint32_t slot = (ntohl(guest.s_addr) >> 2) % (JAIL_SLOT_ANY - 1) + 1;

		run.accel = av.accel;
		run.jail_slot = slot;
		up_runner(p[1], dp[0], tap_fd, c.name, &run, detach, verbose);
	}
	close(p[1]);
	p[1] = -1;
	close(dp[0]);
	dp[0] = -1;
	/* the runner's copy is QEMU's: ours would keep the tap (and its
	 * addresses) alive after QEMU is gone */
	close(tap_fd);
	tap_fd = -1;
	sup_set_denials_fd(u.sup, dp[1]);
	dp[1] = -1;
	u.pipe_r = p[0];
	if (ev_add_fd(sup_loop(u.sup), u.pipe_r, EV_READ, up_on_pipe, &u) < 0) {
		fprintf(stderr, "agentgw up: cannot watch the VM runner\n");
		goto out;
	}
	if (ev_signal_add(sup_loop(u.sup), SIGINT, up_on_int, &u) < 0)
		log_warn("cannot watch SIGINT");
	sup_run(u.sup);
	rc = u.status >= 0 ? u.status : CLI_FAIL;
	if (u.interrupted) {
		fprintf(stderr, "agentgw up: interrupted\n");
		rc = 128 + SIGINT;
	}
out:
	if (claimed && !u.interrupted && (u.qemu <= 0 || u.status < 0 || u.failed) &&
	    sbx_keep_logs(c.name, kept, sizeof(kept)) > 0)
		fprintf(stderr, "agentgw up: sandbox '%s' %s; its logs are kept in %s\n", c.name,
			u.qemu <= 0 ? "failed to start" : "stopped abnormally", kept);
	if (u.ready_fd >= 0) /* never became ready: the parent reports the failure */
		close(u.ready_fd);
	if (u.runner > 0) {
		if (u.status < 0) {
			/* Stopped by a signal or a dead child: let the runner power off, then
			 * force. */
			kill(u.runner, SIGTERM);
			for (i = 0; i < 1000 && waitpid(u.runner, NULL, WNOHANG) == 0; i++)
				usleep(10000);
			if (i == 1000) {
				if (u.qemu > 0 && sbx_pid_is(u.qemu, "qemu"))
					kill(u.qemu, SIGKILL);
				kill(u.runner, SIGKILL);
				sbx_kill_qemu(c.name); /* still booting: its pid was not reported */
				waitpid(u.runner, NULL, 0);
			}
		} else {
			waitpid(u.runner, NULL, 0);
		}
	}
	if (u.sup && u.pipe_r >= 0)
		ev_del_fd(sup_loop(u.sup), u.pipe_r);
	pub_free(pub);
	sup_free(u.sup);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	for (i = 0; i < 2; i++)
		if (dp[i] >= 0)
			close(dp[i]);
	if (tap_fd >= 0)
		close(tap_fd);
	if (ifname[0] && tap_link_exists(ifname) == 1)
		tap_delete(ifname);
	if (cg.ndirs)
		cg_leave(&cg);
	if (claimed)
		sbx_state_remove(c.name);
	/* An unnamed sandbox cannot be resumed: its disk goes with it. */
	if (claimed && run.rw_disk && c.name == name)
		img_disk_remove(c.name);
	return rc;
}

int cmd_up(int argc, char **argv)
{
	struct cli_exec_opts xo = {0};
	int rc = up_main(argc, argv, &xo);

	cli_exec_opts_free(&xo);
	return rc;
}
