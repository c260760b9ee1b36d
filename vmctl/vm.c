// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host side of one microvm: QEMU's lifetime, the control connection and a
 * synchronous exec over the control protocol. The control socket is
 * created before QEMU starts so QEMU's connect never races the listen.
 */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agw.h"
#include "ev.h"
#include "vmctl/cpio.h"
#include "vmctl/ctl.h"
#include "vmctl/gtrust.h"
#include "vmctl/jail.h"
#include "vmctl/qmp.h"

#define VM_PATH_MAX 108 /* sun_path */

struct vm {
	pid_t pid;
	int exited; /* QEMU reaped */
	int ctl_fd;
	enum qemu_accel accel;
	int64_t boot_us;
	uint32_t next_id;
	int intr_ok;	      /* vm_recv() returns 2 when SIGWINCH arrives */
	struct ev_loop *loop; /* every wait of this VM's host side (common/ev.h) */
	int woke;	      /* VM_WOKE_* bits of the last vm_wait() */
	int wait_fd[2];
	int winch_on; /* SIGWINCH comes through the loop */
	char ctl_path[VM_PATH_MAX], qmp_path[VM_PATH_MAX];
	uint8_t rbuf[2 * CTL_MAX_FRAME];
	size_t rlen;
	uint8_t wbuf[CTL_MAX_FRAME];
	char guest_hello[257]; /* the guest's HELLO text: version and capabilities */
};

pid_t vm_qemu_pid(const struct vm *vm)
{
	return vm->pid;
}

int vm_ctl_fd(const struct vm *vm)
{
	return vm->ctl_fd;
}

bool vm_guest_can(const struct vm *vm, const char *cap)
{
	const char *t = vm->guest_hello;
	size_t n = strlen(cap);

	/* a whole word of the HELLO text after the version */
	while ((t = strstr(t, cap))) {
		if ((t == vm->guest_hello || t[-1] == ' ') && (t[n] == ' ' || t[n] == '\0'))
			return true;
		t += n;
	}
	return false;
}

int64_t vm_boot_us(const struct vm *vm)
{
	return vm->boot_us;
}

enum qemu_accel vm_accel(const struct vm *vm)
{
	return vm->accel;
}

static int qemu_gone(struct vm *vm);

int vm_exited(struct vm *vm)
{
	return qemu_gone(vm);
}

/* Reap QEMU if it exited. Returns 1 when it is gone. */
static int qemu_gone(struct vm *vm)
{
	if (vm->exited || vm->pid <= 0)
		return 1;
	if (waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
		vm->exited = 1;
		return 1;
	}
	return 0;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EPIPE;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int vm_send(struct vm *vm, int len)
{
	if (len < 0)
		return len;
	return send_all(vm->ctl_fd, vm->wbuf, (size_t)len);
}

#define VM_WOKE_1 0x1
#define VM_WOKE_2 0x2
#define VM_WOKE_SIG 0x4

static void vm_wake_fd(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct vm *vm = ctx;

	(void)events;
	vm->woke |= fd == vm->wait_fd[0] ? VM_WOKE_1 : VM_WOKE_2;
	ev_stop(loop);
}

static void vm_wake_timer(struct ev_loop *loop, uint64_t id, void *ctx)
{
	(void)id;
	(void)ctx;
	ev_stop(loop);
}

/*
 * Wait up to ms for fd1 or fd2 (-1: none) to become readable, or for
 * SIGWINCH when it is routed here. Returns VM_WOKE_* bits (0: the time
 * passed) or a negative code. An fd epoll cannot watch (a regular file,
 * /dev/null) counts as readable at once, as poll says of it.
 */
static int vm_wait(struct vm *vm, int ms, int fd1, int fd2)
{
	uint64_t t = 0;
	int r = 0;

	vm->woke = 0;
	vm->wait_fd[0] = fd1;
	vm->wait_fd[1] = fd2;
	for (int i = 0; i < 2; i++) {
		int fd = vm->wait_fd[i];

		if (fd < 0)
			continue;
		r = ev_add_fd(vm->loop, fd, EV_READ, vm_wake_fd, vm);
		if (r == -EPERM)
			vm->woke |= i ? VM_WOKE_2 : VM_WOKE_1;
		else if (r < 0)
			goto out;
		r = 0;
	}
	if (!vm->woke) {
		t = ev_timer_add(vm->loop, ms, vm_wake_timer, vm);
		if (!t) {
			r = -AGW_ENOMEM;
			goto out;
		}
		r = ev_run(vm->loop);
	}
out:
	ev_timer_del(vm->loop, t);
	for (int i = 0; i < 2; i++)
		if (vm->wait_fd[i] >= 0)
			ev_del_fd(vm->loop, vm->wait_fd[i]);
	return r < 0 ? r : vm->woke;
}

/*
 * Next frame from the guest, waiting up to timeout_ms (-1: forever) and
 * also for extra_fd to become readable (returns 1 then, without a frame).
 * The payload stays valid until the next call. Returns 0, 1, -ETIMEDOUT,
 * -EPIPE (connection closed), -AGW_EPROTO.
 */
static int vm_recv(struct vm *vm, int timeout_ms, int extra_fd, struct ctl_hdr *h,
		   uint8_t **payload)
{
	int64_t deadline = timeout_ms < 0 ? -1 : agw_mono_us() + (int64_t)timeout_ms * 1000;
	size_t flen;
	int r;

	for (;;) {
		int left = -1, woke;
		ssize_t n;

		/* The caller consumes each frame with vm_consume(). */
		r = ctl_frame_parse(vm->rbuf, vm->rlen, h, &flen);
		if (r == 0) {
			*payload = vm->rbuf + CTL_HDR_LEN;
			return 0;
		}
		if (r != -AGW_ETRUNC)
			return -AGW_EPROTO;
		if (deadline >= 0) {
			int64_t us = deadline - agw_mono_us();

			if (us <= 0)
				return -ETIMEDOUT;
			left = (int)AGW_MIN(us / 1000 + 1, 500);
		} else {
			left = 500;
		}
		woke = vm_wait(vm, left, vm->ctl_fd, extra_fd);
		if (woke < 0)
			return woke;
		if (woke & VM_WOKE_SIG) {
			if (vm->intr_ok)
				return 2; /* a signal (SIGWINCH) for the caller */
			continue;
		}
		if (woke & VM_WOKE_2)
			return 1;
		if (!(woke & VM_WOKE_1)) {
			if (qemu_gone(vm))
				return -EPIPE;
			continue;
		}
		n = recv(vm->ctl_fd, vm->rbuf + vm->rlen, sizeof(vm->rbuf) - vm->rlen, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -EPIPE;
		vm->rlen += (size_t)n;
	}
}

/* Consume the frame last returned by vm_recv(). */
static void vm_consume(struct vm *vm, const struct ctl_hdr *h)
{
	size_t flen = CTL_HDR_LEN + h->len;

	memmove(vm->rbuf, vm->rbuf + flen, vm->rlen - flen);
	vm->rlen -= flen;
}

static volatile sig_atomic_t vm_winch;

static void vm_on_winch(struct ev_loop *loop, int signo, void *ctx)
{
	struct vm *vm = ctx;

	(void)signo;
	vm_winch = 1;
	vm->woke |= VM_WOKE_SIG;
	ev_stop(loop);
}

/* The last nlines lines of a log file into buf, each indented "    ", control bytes shown as '?'.
 */
static void vm_tail(const char *path, int nlines, char *buf, size_t cap)
{
	char raw[2048];
	int fd = open(path, O_RDONLY | O_CLOEXEC), seen = 0;
	ssize_t n = 0;
	size_t o = 0;
	off_t sz;
	char *p;

	buf[0] = 0;
	if (fd >= 0) {
		sz = lseek(fd, 0, SEEK_END);
		lseek(fd, sz > (off_t)sizeof(raw) - 1 ? sz - (off_t)sizeof(raw) + 1 : 0, SEEK_SET);
		n = read(fd, raw, sizeof(raw) - 1);
		close(fd);
	}
	if (n <= 0)
		return;
	raw[n] = 0;
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
		raw[--n] = 0;
	for (p = raw + n; p > raw; p--)
		if (p[-1] == '\n' && ++seen == nlines)
			break;
	for (; *p && o + 8 < cap; p++) {
		if (o == 0 || p[-1] == '\n') {
			memcpy(buf + o, "    ", 4);
			o += 4;
		}
		if (*p == '\r')
			continue;
		buf[o++] = *p == '\n' ? '\n' : (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
	}
	buf[o] = 0;
}

/* The last line of buf's tail (what QEMU or the guest said last), without the indent. */
static const char *vm_last_line(const char *tail, char *buf, size_t cap)
{
	const char *nl = strrchr(tail, '\n');
	const char *l = nl ? nl + 1 : tail;

	while (*l == ' ')
		l++;
	snprintf(buf, cap, "%.*s", (int)cap - 1, l);
	return buf;
}

/*
 * err: one line saying what failed, quoting what QEMU (or else the guest)
 * said last, then the last lines of both logs and where they are.
 */
static void vm_fail(char *err, size_t errcap, const char *what, const char *qlog,
		    const char *console, int quote_console)
{
	char qt[1024], ct[1024], last[256] = "";

	vm_tail(qlog, 6, qt, sizeof(qt));
	vm_tail(console, 6, ct, sizeof(ct));
	if (qt[0] && !quote_console)
		vm_last_line(qt, last, sizeof(last));
	else if (ct[0])
		vm_last_line(ct, last, sizeof(last));
	else if (qt[0])
		vm_last_line(qt, last, sizeof(last));
	snprintf(err, errcap, "%s%s%s\n  %s:%s%s\n  %s:%s%s", what, last[0] ? ": " : "", last, qlog,
		 qt[0] ? "\n" : " (empty)", qt, console, ct[0] ? "\n" : " (empty)", ct);
}

static int path_in(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -AGW_ETOOBIG : 0;
}

/* dir/name into buf (up to cap bytes, NUL-terminated after them); -errno, -AGW_ETOOBIG. */
static int vm_slurp(const char *dir, const char *name, char *buf, size_t cap, size_t *len)
{
	char path[1024];
	ssize_t n;
	size_t got = 0;
	int fd, r = 0;

	*len = 0;
	if (path_in(path, sizeof(path), dir, name) < 0)
		return -AGW_ETOOBIG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + got, cap - got)) > 0 && got + (size_t)n < cap)
		got += (size_t)n;
	if (n < 0)
		r = -errno;
	else if (n > 0)
		r = -AGW_ETOOBIG;
	close(fd);
	buf[got] = 0;
	*len = got;
	return r;
}

/* Every line of dir/env is one gtrust_env_line() allows (the error never shows
 * a line: only its number and why), and not too many. */
static int vm_env_check(const char *dir, const char *env, size_t n, char *err, size_t errcap)
{
	size_t i = 0, lines = 0, nl;
	const char *why;

	while (i < n) {
		const char *e = memchr(env + i, '\n', n - i);
		size_t l = e ? (size_t)(e - env) - i : n - i;

		if (l && gtrust_env_line(env + i, l, &nl, &why) < 0)
			return agw_errf(err, errcap, -AGW_EINVAL, "%s/env line %zu: %s", dir,
					lines + 1, why);
		if (l && ++lines > GTRUST_MAX_VARS)
			return agw_errf(err, errcap, -AGW_ETOOBIG, "%s/env: over %d variables", dir,
					GTRUST_MAX_VARS);
		i += l + 1;
	}
	return 0;
}

/* Copy all of fd in to fd out. */
static int vm_copy_fd(int in, int out)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (agw_write_all(out, buf, (size_t)n) < 0)
			return -errno;
	return n < 0 ? -errno : 0;
}

/*
 * base, zero-padded to 512 bytes (the kernel looks for a following archive
 * at a 4-byte boundary and skips zeros), then a newc archive with gdir's
 * ca.pem and env at GTRUST_CA and GTRUST_ENV, as out (in state). state is
 * the jailed QEMU's own folder: out is made anew, never through a link.
 */
static int vm_guest_initrd(const char *base, const char *gdir, const char *state, char *out,
			   size_t cap, char *err, size_t errcap)
{
	static char ca[GTRUST_MAX_CA + 1], env[GTRUST_MAX_ENV + 1];
	static const char zeros[512];
	struct cpio *cp = NULL;
	size_t ca_len, env_len;
	int in = -1, fd = -1, r;
	off_t end;

	if ((r = vm_slurp(gdir, "ca.pem", ca, sizeof(ca) - 1, &ca_len)) < 0)
		return agw_errf(err, errcap, r, "%s/ca.pem: %s", gdir, agw_strerror(r));
	if ((r = gtrust_pem_check(ca, ca_len)) < 0)
		return agw_errf(err, errcap, r, "%s/ca.pem: not PEM certificates", gdir);
	r = vm_slurp(gdir, "env", env, sizeof(env) - 1, &env_len);
	if (r < 0 && r != -ENOENT)
		return agw_errf(err, errcap, r, "%s/env: %s", gdir, agw_strerror(r));
	if ((r = vm_env_check(gdir, env, env_len, err, errcap)) < 0)
		return r;
	if (path_in(out, cap, state, "initrd") < 0)
		return agw_errf(err, errcap, -AGW_ETOOBIG, "%s: path too long", state);
	unlink(out);
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	in = open(base, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || in < 0 || (r = vm_copy_fd(in, fd)) < 0 ||
	    (end = lseek(fd, 0, SEEK_CUR)) < 0 ||
	    (r = agw_write_all(fd, zeros, (size_t)((512 - end % 512) % 512))) < 0) {
		r = r < 0 ? r : -errno;
		goto fail;
	}
	r = cpio_new_fd(fd, &cp);
	fd = -1;
	if (r < 0 || (r = cpio_data(cp, GTRUST_CA, 0644, ca, ca_len)) < 0 ||
	    (r = cpio_data(cp, GTRUST_ENV, 0644, env, env_len)) < 0 || (r = cpio_finish(cp)) < 0)
		goto fail;
	r = 0;
	goto out;
fail:
	agw_errf(err, errcap, r, "%s: %s", out, agw_strerror(r));
	unlink(out);
out:
	cpio_free(cp);
	if (in >= 0)
		close(in);
	if (fd >= 0)
		close(fd);
	return r;
}

/* An image's root disk read-only, the sandbox's disk read-write and the jail uid's. */
static int vm_jail_disks(const struct vm_cfg *cfg, struct jail *j)
{
	int r;

	if (cfg->root_disk && (r = jail_add_ro(j, cfg->root_disk)) < 0)
		return r;
	if (!cfg->rw_disk)
		return 0;
	if ((r = jail_add_rw(j, cfg->rw_disk)) < 0)
		return r;
	return chown(cfg->rw_disk, j->uid, j->gid) < 0 ? -errno : 0;
}

int vm_start(const struct vm_cfg *cfg, struct vm **out, char *err, size_t errcap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char console[1024], qlog[1024], root[1024], qbin[1024], initrd[1024] = "";
	struct qemu_cfg qc = {0};
	struct jail jail;
	struct qemu_argv *qa = NULL;
	struct vm *vm = NULL;
	int lfd = -1, logfd = -1, r, timeout = cfg->boot_timeout_ms ? cfg->boot_timeout_ms : 120000;
	int64_t t0 = agw_mono_us(), deadline = t0 + (int64_t)timeout * 1000;
	uint32_t ver = 0, maxp = 0;
	struct ctl_hdr h;
	uint8_t *p;
	char dummy[8];

	*out = NULL;
	if (!err || !errcap) {
		err = dummy;
		errcap = sizeof(dummy);
	}
	err[0] = 0;
	vm = calloc(1, sizeof(*vm));
	qa = calloc(1, sizeof(*qa));
	if (!vm || !qa) {
		r = -AGW_ENOMEM;
		goto out;
	}
	vm->ctl_fd = -1;
	vm->pid = -1;
	vm->next_id = 1;
	if ((r = ev_new(&vm->loop)) < 0) {
		snprintf(err, errcap, "event loop: %s", agw_strerror(r));
		goto out;
	}
	if (mkdir(cfg->state_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errcap, "%s: %s", cfg->state_dir, strerror(errno));
		goto out;
	}
	if ((r = path_in(vm->ctl_path, sizeof(vm->ctl_path), cfg->state_dir, "ctl.sock")) < 0 ||
	    (r = path_in(vm->qmp_path, sizeof(vm->qmp_path), cfg->state_dir, "qmp.sock")) < 0 ||
	    (r = path_in(console, sizeof(console), cfg->state_dir, "console.log")) < 0 ||
	    (r = path_in(qlog, sizeof(qlog), cfg->state_dir, "qemu.log")) < 0 ||
	    (r = path_in(root, sizeof(root), cfg->state_dir, "root")) < 0) {
		snprintf(err, errcap, "%s: path too long for a unix socket", cfg->state_dir);
		goto out;
	}
	unlink(vm->ctl_path);
	unlink(vm->qmp_path);
	unlink(console); /* an earlier boot's, maybe of another jail uid */
	memcpy(sa.sun_path, vm->ctl_path, strlen(vm->ctl_path) + 1);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		r = -errno;
		snprintf(err, errcap, "%s: %s", vm->ctl_path, strerror(errno));
		goto out;
	}
	qc.kernel = cfg->kernel;
	qc.initrd = cfg->initrd;
	if (cfg->guest_dir) {
		if ((r = vm_guest_initrd(cfg->initrd, cfg->guest_dir, cfg->state_dir, initrd,
					 sizeof(initrd), err, errcap)) < 0)
			goto out;
		qc.initrd = initrd;
	}
	qc.append = cfg->append;
	qc.mem_mb = cfg->mem_mb;
	qc.vcpus = cfg->vcpus;
	qc.accel = cfg->accel;
	qc.tap_fd = cfg->tap_fd;
	qc.mac = cfg->mac;
	qc.root_disk = cfg->root_disk;
	qc.rw_disk = cfg->rw_disk;
	qc.vfs_sock = cfg->vfs_sock;
	qc.ctl_sock = vm->ctl_path;
	qc.qmp_sock = vm->qmp_path;
	qc.console_log = console;
	jail_init(&jail, cfg->jail_slot ? cfg->jail_slot : JAIL_SLOT_ANY + (uint32_t)getpid(), root,
		  cfg->state_dir);
	if (cfg->no_jail || getenv("AGENTGW_NO_JAIL"))
		jail.uid = 0;
	qc.sandbox = jail.uid != 0;
	if (jail.uid && agw_which(qemu_binary(), qbin, sizeof(qbin)) == 0 &&
	    strncmp(qbin, "/usr/", 5) != 0 && (r = jail_add_ro(&jail, qbin)) < 0) {
		snprintf(err, errcap, "QEMU's jail: %s", agw_strerror(r));
		goto out;
	}
	if (jail.uid &&
	    ((r = jail_add_ro(&jail, cfg->kernel)) < 0 || (r = jail_add_ro(&jail, qc.initrd)) < 0 ||
	     (chown(vm->ctl_path, jail.uid, jail.gid) < 0 && (r = -errno)))) {
		snprintf(err, errcap, "QEMU's jail: %s", agw_strerror(r));
		goto out;
	}
	if (jail.uid && cfg->vfs_sock && chown(cfg->vfs_sock, jail.uid, jail.gid) < 0) {
		r = -errno;
		snprintf(err, errcap, "QEMU's jail: %s: %s", cfg->vfs_sock, strerror(errno));
		goto out;
	}
	if (jail.uid && (r = vm_jail_disks(cfg, &jail)) < 0) {
		snprintf(err, errcap, "QEMU's jail: %s: %s", cfg->rw_disk, agw_strerror(r));
		goto out;
	}
	if ((r = qemu_build_argv(&qc, qa)) < 0) {
		snprintf(err, errcap, "QEMU command line: %s", agw_strerror(r));
		goto out;
	}
	vm->accel = qa->accel;
	jail.kvm = vm->accel == QEMU_ACCEL_KVM;
	if (!cfg->boot_timeout_ms && vm->accel == QEMU_ACCEL_KVM) {
		/* KVM boots this guest in about a second; a broken one never does. */
		timeout = VM_KVM_BOOT_TIMEOUT_MS;
		deadline = t0 + (int64_t)timeout * 1000;
	}
	logfd = open(qlog, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if ((r = jail_spawn(&jail, qa->argv, cfg->tap_fd, logfd, &vm->pid)) < 0) {
		snprintf(err, errcap, "%s: %s", qa->argv[0], strerror(-r));
		goto out;
	}
	/* QEMU connects to the control socket while it sets up the machine. */
	for (;;) {
		int woke = vm_wait(vm, 50, lfd, -1);

		if (woke < 0) {
			r = woke;
			snprintf(err, errcap, "waiting for QEMU: %s", agw_strerror(r));
			goto out;
		}
		if (woke & VM_WOKE_1) {
			vm->ctl_fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (vm->ctl_fd >= 0)
				break;
		}
		if (qemu_gone(vm)) {
			r = -EPIPE;
			vm_fail(err, errcap, "QEMU exited during start", qlog, console, 0);
			goto out;
		}
		if (agw_mono_us() > deadline) {
			r = -ETIMEDOUT;
			char what[96];

			snprintf(what, sizeof(what),
				 "QEMU did not connect to the control socket within %d ms",
				 timeout);
			vm_fail(err, errcap, what, qlog, console, 0);
			goto out;
		}
	}
	r = vm_recv(vm, (int)((deadline - agw_mono_us()) / 1000), -1, &h, &p);
	if (r < 0 || h.type != CTL_HELLO) {
		r = r < 0 ? r : -AGW_EPROTO;
		if (r == -ETIMEDOUT) {
			char what[192];

			snprintf(what, sizeof(what), "guest did not say HELLO within %d ms%s",
				 timeout, vm->accel == QEMU_ACCEL_KVM ? " under KVM" : "");
			vm_fail(err, errcap, what, qlog, console, 1);
		} else {
			for (int i = 0; i < 20 && !qemu_gone(vm); i++)
				usleep(10000); /* the socket closes just before QEMU exits */
			vm_fail(err, errcap,
				vm->exited ? "QEMU exited before the guest said HELLO"
					   : "guest failed before HELLO",
				qlog, console, !vm->exited);
		}
		goto out;
	}
	if (ctl_hello_decode(p, h.len, &ver, &maxp) < 0 || ver != CTL_VERSION) {
		r = -AGW_EPROTO;
		snprintf(err, errcap, "guest speaks control protocol %u, host %d", ver,
			 CTL_VERSION);
		goto out;
	}
	if (h.len > 8) {
		size_t tl = AGW_MIN((size_t)h.len - 8, sizeof(vm->guest_hello) - 1);

		memcpy(vm->guest_hello, p + 8, tl);
		vm->guest_hello[tl] = '\0';
	}
	vm_consume(vm, &h);
	if ((r = vm_send(vm,
			 ctl_encode_hello(vm->wbuf, sizeof(vm->wbuf), "agentgw " AGW_VERSION))) < 0)
		goto out;
	vm->boot_us = agw_mono_us() - t0;
	*out = vm;
	vm = NULL;
	r = 0;
out:
	/* QEMU read it at start: the guest has its copy (the jail held a bind of it). */
	if (initrd[0])
		unlink(initrd);
	if (lfd >= 0)
		close(lfd);
	if (logfd >= 0)
		close(logfd);
	if (vm) {
		if (vm->pid > 0 && !vm->exited) {
			kill(vm->pid, SIGKILL);
			waitpid(vm->pid, NULL, 0);
			vm->exited = 1;
		}
		vm_free(vm);
	}
	free(qa);
	return r;
}

int vm_exec(struct vm *vm, const char *const *argv, const char *const *env, const char *cwd,
	    int pty, int in_fd, int out_fd, int err_fd, struct vm_exit *ex)
{
	uint32_t id = vm->next_id++;
	struct winsize ws = {.ws_row = 24, .ws_col = 80};
	struct ctl_hdr h;
	uint8_t *p;
	int r;

	memset(ex, 0, sizeof(*ex));
	ex->code = -1;
	if (pty && ioctl(out_fd, TIOCGWINSZ, &ws) < 0)
		ws = (struct winsize){.ws_row = 24, .ws_col = 80};
	r = vm_send(vm, ctl_encode_exec(vm->wbuf, sizeof(vm->wbuf), id, argv, env, cwd, pty,
					ws.ws_row, ws.ws_col));
	if (r < 0)
		return r;
	if (in_fd < 0 && (r = vm_send(vm, ctl_encode(vm->wbuf, sizeof(vm->wbuf), CTL_STDIN_EOF, 0,
						     id, NULL, 0))) < 0)
		return r;
	if (pty) {
		/* Forward the terminal's size changes: SIGWINCH wakes vm_recv() up. */
		if (!vm->winch_on && (r = ev_signal_add(vm->loop, SIGWINCH, vm_on_winch, vm)) < 0)
			return r;
		vm->winch_on = 1;
		vm->intr_ok = 1;
	}
	for (;;) {
		r = vm_recv(vm, -1, in_fd, &h, &p);
		if (r == 2) {
			if (vm_winch && ioctl(out_fd, TIOCGWINSZ, &ws) == 0 &&
			    (r = vm_send(vm, ctl_encode_resize(vm->wbuf, sizeof(vm->wbuf), id,
							       ws.ws_row, ws.ws_col))) < 0)
				goto out;
			vm_winch = 0;
			continue;
		}
		if (r == 1) {
			/* Input is ready: forward one chunk (or EOF). */
			uint8_t in[16384];
			ssize_t n = read(in_fd, in, sizeof(in));

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n > 0) {
				r = ctl_encode(vm->wbuf, sizeof(vm->wbuf), CTL_STDIN, 0, id, in,
					       (size_t)n);
			} else {
				r = ctl_encode(vm->wbuf, sizeof(vm->wbuf), CTL_STDIN_EOF, 0, id,
					       NULL, 0);
				in_fd = -1;
			}
			if ((r = vm_send(vm, r)) < 0)
				goto out;
			continue;
		}
		if (r < 0)
			goto out;
		if (h.id != id) { /* another exec's frame: not ours to handle here */
			vm_consume(vm, &h);
			continue;
		}
		switch (h.type) {
		case CTL_STDOUT:
			if (agw_write_all(out_fd, p, h.len) < 0)
				out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			break;
		case CTL_STDERR:
			if (agw_write_all(err_fd, p, h.len) < 0)
				err_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
			break;
		case CTL_EXIT: {
			int32_t code;
			uint32_t sig;

			r = ctl_exit_decode(p, h.len, &code, &sig);
			vm_consume(vm, &h);
			if (r < 0)
				goto out;
			ex->code = code;
			ex->sig = (int)sig;
			r = 0;
			goto out;
		}
		case CTL_ERROR: {
			const char *text;
			size_t tl;
			int32_t e;

			r = ctl_error_decode(p, h.len, &e, &text, &tl);
			if (r == 0) {
				snprintf(ex->text, sizeof(ex->text), "%.*s", (int)tl, text);
				ex->err = e ? e : EIO;
			}
			vm_consume(vm, &h);
			if (r < 0)
				goto out;
			/* Errors about stdin leave the process running. */
			if (e == ENOBUFS) {
				ex->err = 0;
				continue;
			}
			r = 0;
			goto out;
		}
		default: /* STARTED and anything newer */
			break;
		}
		vm_consume(vm, &h);
	}
out:
	vm->intr_ok = 0;
	return r;
}

int vm_stop(struct vm *vm, int timeout_ms)
{
	int64_t deadline = agw_mono_us() + (int64_t)timeout_ms * 1000;
	struct qmp *q = NULL;
	int forced = 0;

	if (vm->ctl_fd >= 0 && !qemu_gone(vm))
		vm_send(vm, ctl_encode(vm->wbuf, sizeof(vm->wbuf), CTL_POWEROFF, 0, 0, NULL, 0));
	while (!qemu_gone(vm) && agw_mono_us() < deadline)
		usleep(20000);
	if (!qemu_gone(vm)) {
		forced = 1;
		if (qmp_connect(vm->qmp_path, 1000, &q) == 0)
			qmp_execute(q, "quit", 1000);
		qmp_free(q);
		deadline = agw_mono_us() + 2000000;
		while (!qemu_gone(vm) && agw_mono_us() < deadline)
			usleep(20000);
	}
	if (!qemu_gone(vm)) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		vm->exited = 1;
	}
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	vm->ctl_fd = -1;
	unlink(vm->ctl_path);
	unlink(vm->qmp_path);
	return forced;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->pid > 0 && !vm->exited)
		vm_stop(vm, 5000);
	if (vm->ctl_fd >= 0)
		close(vm->ctl_fd);
	ev_free(vm->loop);
	free(vm);
}

int vm_send_frame(struct vm *vm, const uint8_t *frame, size_t len)
{
	return send_all(vm->ctl_fd, frame, len);
}

int vm_next_frame(struct vm *vm, int timeout_ms, struct ctl_hdr *h, uint8_t **payload)
{
	return vm_recv(vm, timeout_ms, -1, h, payload);
}

void vm_frame_done(struct vm *vm, const struct ctl_hdr *h)
{
	vm_consume(vm, h);
}

int vm_poll_frame(struct vm *vm, struct ctl_hdr *h, uint8_t **payload)
{
	size_t flen;
	ssize_t n;
	int r;

	for (int pass = 0; pass < 2; pass++) {
		r = ctl_frame_parse(vm->rbuf, vm->rlen, h, &flen);
		if (r == 0) {
			*payload = vm->rbuf + CTL_HDR_LEN;
			return 0;
		}
		if (r != -AGW_ETRUNC)
			return -AGW_EPROTO;
		if (pass)
			break;
		do
			n = recv(vm->ctl_fd, vm->rbuf + vm->rlen, sizeof(vm->rbuf) - vm->rlen,
				 MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EPIPE;
		vm->rlen += (size_t)n;
	}
	return -EAGAIN;
}

uint32_t vm_new_id(struct vm *vm)
{
	return vm->next_id++;
}
