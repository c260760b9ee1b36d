// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The sandbox control server: the event loop of common/ev.h over the
 * listening socket, the guest's control connection, a signalfd, the clients
 * and their stdin fds. The set of fds changes with every request and exec,
 * so a before-sleep hook registers exactly the fds that are wanted now
 * (as the poll loop this replaced rebuilt its array); an fd epoll cannot
 * watch (a regular file as a client's stdin) is always readable, as poll
 * would say, and is served from a zero-delay timer.
 * Exec ids come from vm_new_id(); each exec owns the fds its client passed
 * and is finished exactly once (sbxd_finish), which answers the client,
 * reports to the supervisor for the audit and frees the slot. Output is
 * written to the clients' fds with blocking writes: a client that stops
 * reading its stdout stalls the guest's port, which is the backpressure the
 * control protocol relies on.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "agw.h"
#include "ev.h"
#include "log.h"
#include "vmctl/ctl.h"
#include "supervisor/sbx.h"
#include "supervisor/sbxd.h"

#define SBXD_MAX_EXEC 32
#define SBXD_MAX_PENDING 16
#define SBXD_TARGET_MAX 1024
#define SBXD_STDIN_CHUNK 32768

struct sbxd_exec {
	int used;
	uint32_t id;
	int client; /* control connection, -1 for the initial command or after hang-up */
	int in, out, err;
	int in_open;
	int local; /* the initial command: fds 0/1/2 are ours, not to be closed */
	int64_t t0;
	char target[SBXD_TARGET_MAX];
};

enum {
	SBXD_P_LISTEN,
	SBXD_P_GUEST,
	SBXD_P_SIG,
	SBXD_P_PENDING,
	SBXD_P_CLIENT,
	SBXD_P_STDIN,
	SBXD_P_DENIALS
};
#define SBXD_MAX_REG (4 + SBXD_MAX_PENDING + 2 * SBXD_MAX_EXEC)

struct sbxd;

/* One registration: what the fd is to the server. */
struct sbxd_reg {
	struct sbxd *s;
	int fd, kind, idx;
	int polled; /* registered with the loop (else always readable) */
};

struct sbxd {
	const struct sbxd_cfg *cfg;
	struct ev_loop *loop;
	struct sbxd_reg reg[SBXD_MAX_REG];
	size_t nreg;
	uint64_t ready_timer; /* armed while an fd cannot be polled */
	struct sbxd_exec ex[SBXD_MAX_EXEC];
	int pending[SBXD_MAX_PENDING];
	int sfd;
	int stop, status;
	uint8_t wbuf[CTL_MAX_FRAME];
	uint8_t rbuf[CTL_MAX_FRAME];
	char dbuf[2 * CTL_DENIAL_MAX]; /* denial lines from the supervisor */
	size_t dlen;
	int denials_eof;
};

int sbxd_listen(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (sbx_path(sa.sun_path, sizeof(sa.sun_path), name, SBX_SOCK) < 0)
		return -AGW_ETOOBIG;
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int sbxd_to_guest(struct sbxd *s, int len)
{
	if (len < 0)
		return len;
	return vm_send_frame(s->cfg->vm, s->wbuf, (size_t)len);
}

static void sbxd_close_fds(struct sbxd_exec *e)
{
	if (!e->local) {
		int fds[3] = {e->in, e->out, e->err};

		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	e->in = e->out = e->err = -1;
	if (e->client >= 0)
		close(e->client);
	e->client = -1;
}

static void sbxd_finish(struct sbxd *s, struct sbxd_exec *e, int code, int sig, int err,
			const char *text, size_t tlen)
{
	int status = err ? (err == ENOENT ? 127 : 126) : sig ? 128 + sig : code;
	char line[SBXD_TARGET_MAX + 128];
	int n;

	if (e->client >= 0) {
		uint8_t f[512];
		char t[256];

		snprintf(t, sizeof(t), "%.*s", (int)AGW_MIN(tlen, sizeof(t) - 1), text ? text : "");
		n = err ? ctl_encode_error(f, sizeof(f), 0, err, t)
			: ctl_encode_exit(f, sizeof(f), 0, code, (uint32_t)sig);
		if (n > 0)
			sbx_send(e->client, f, (size_t)n, NULL, 0);
	}
	if (e->local && err)
		fprintf(stderr, "agentgw: %.*s\n", (int)AGW_MIN(tlen, 256), text ? text : "");
	if (s->cfg->report_fd >= 0) {
		n = snprintf(line, sizeof(line), "E %lld %d %d %d %s\n",
			     (long long)(agw_mono_us() - e->t0), code, sig, err, e->target);
		if (n > 0 && (size_t)n < sizeof(line) &&
		    agw_write_all(s->cfg->report_fd, (const uint8_t *)line, (size_t)n) < 0)
			log_warn("cannot report an exec to the supervisor");
	}
	if (e->local) {
		s->stop = 1;
		s->status = status;
	}
	sbxd_close_fds(e);
	e->used = 0;
}

static struct sbxd_exec *sbxd_start(struct sbxd *s, const char *const *argv, const char *const *env,
				    const char *cwd, const char *user, int pty, uint16_t rows,
				    uint16_t cols, int *err)
{
	struct sbxd_exec *e = NULL;
	int r;

	for (size_t i = 0; i < SBXD_MAX_EXEC && !e; i++)
		if (!s->ex[i].used)
			e = &s->ex[i];
	if (!e) {
		*err = EAGAIN;
		return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->id = vm_new_id(s->cfg->vm);
	e->client = e->in = e->out = e->err = -1;
	r = sbxd_to_guest(s, ctl_encode_exec_as(s->wbuf, sizeof(s->wbuf), e->id, argv, env,
						cwd && cwd[0] ? cwd : "/workspace", user, pty, rows,
						cols));
	if (r < 0) {
		*err = r == -AGW_ETOOBIG ? E2BIG : EPIPE;
		return NULL;
	}
	e->used = 1;
	e->in_open = 1;
	e->t0 = agw_mono_us();
	sbx_audit_argv(e->target, sizeof(e->target), argv);
	return e;
}

static void sbxd_reply_error(int fd, int err, const char *text)
{
	uint8_t f[512];
	int n = ctl_encode_error(f, sizeof(f), 0, err, text);

	if (n > 0)
		sbx_send(fd, f, (size_t)n, NULL, 0);
}

/* A new client's first packet: EXEC with 3 fds, or POWEROFF. Consumes fd. */
static void sbxd_on_request(struct sbxd *s, int fd)
{
	int fds[3] = {-1, -1, -1}, nfds = 3, err = 0;
	ssize_t n = sbx_recv(fd, s->rbuf, sizeof(s->rbuf), fds, &nfds);
	struct ctl_exec *ce = NULL;
	struct sbxd_exec *e;
	struct ctl_hdr h;
	size_t flen;

	if (n <= 0 || ctl_frame_parse(s->rbuf, (size_t)n, &h, &flen) < 0 || flen != (size_t)n) {
		if (n > 0)
			sbxd_reply_error(fd, EPROTO, "malformed request");
		goto drop;
	}
	if (h.type == CTL_POWEROFF) {
		log_info("stop requested over the control socket");
		s->stop = 1;
		s->status = 0;
		goto drop;
	}
	ce = calloc(1, sizeof(*ce));
	if (h.type != CTL_EXEC || nfds != 3 || !ce ||
	    ctl_exec_decode(s->rbuf + CTL_HDR_LEN, h.len, h.flags, ce) < 0) {
		sbxd_reply_error(fd, EPROTO, "expected EXEC with stdin, stdout and stderr");
		goto drop;
	}
	e = sbxd_start(s, (const char *const *)ce->argv, (const char *const *)ce->env, ce->cwd,
		       ce->user, ce->pty, ce->rows, ce->cols, &err);
	if (!e) {
		sbxd_reply_error(fd, err, err == EAGAIN ? "too many execs" : "cannot start exec");
		goto drop;
	}
	e->client = fd;
	e->in = fds[0];
	e->out = fds[1];
	e->err = fds[2];
	free(ce);
	return;
drop:
	free(ce);
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	close(fd);
}

/* A packet from a client whose exec runs: RESIZE, SIGNAL, or hang-up. */
static void sbxd_on_client(struct sbxd *s, struct sbxd_exec *e)
{
	uint8_t p[64];
	ssize_t n = sbx_recv(e->client, p, sizeof(p), NULL, NULL);
	struct ctl_hdr h;
	size_t flen;
	uint32_t sig;
	uint16_t rows, cols;

	if (n <= 0) { /* the client went away: its process goes too */
		close(e->client);
		e->client = -1;
		sbxd_to_guest(s,
			      ctl_encode_u32(s->wbuf, sizeof(s->wbuf), CTL_SIGNAL, e->id, SIGKILL));
		return;
	}
	if (ctl_frame_parse(p, (size_t)n, &h, &flen) < 0 || flen != (size_t)n)
		return;
	if (h.type == CTL_RESIZE && ctl_resize_decode(p + CTL_HDR_LEN, h.len, &rows, &cols) == 0)
		sbxd_to_guest(s, ctl_encode_resize(s->wbuf, sizeof(s->wbuf), e->id, rows, cols));
	else if (h.type == CTL_SIGNAL && ctl_u32_decode(p + CTL_HDR_LEN, h.len, &sig) == 0 &&
		 sig > 0 && sig < 65)
		sbxd_to_guest(s, ctl_encode_u32(s->wbuf, sizeof(s->wbuf), CTL_SIGNAL, e->id, sig));
}

static void sbxd_on_stdin(struct sbxd *s, struct sbxd_exec *e)
{
	ssize_t n = read(e->in, s->rbuf, SBXD_STDIN_CHUNK);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		sbxd_to_guest(s, ctl_encode(s->wbuf, sizeof(s->wbuf), CTL_STDIN, 0, e->id, s->rbuf,
					    (size_t)n));
		return;
	}
	e->in_open = 0;
	sbxd_to_guest(s, ctl_encode(s->wbuf, sizeof(s->wbuf), CTL_STDIN_EOF, 0, e->id, NULL, 0));
}

static struct sbxd_exec *sbxd_find(struct sbxd *s, uint32_t id)
{
	for (size_t i = 0; i < SBXD_MAX_EXEC; i++)
		if (s->ex[i].used && s->ex[i].id == id)
			return &s->ex[i];
	return NULL;
}

/* Drain the guest's frames. Returns 0, or -EPIPE / -AGW_EPROTO when it is gone. */
static int sbxd_on_guest(struct sbxd *s)
{
	struct ctl_hdr h;
	uint8_t *p;
	int r;

	while ((r = vm_poll_frame(s->cfg->vm, &h, &p)) == 0) {
		struct sbxd_exec *e = sbxd_find(s, h.id);
		int32_t code, err;
		uint32_t sig;
		const char *text;
		size_t tlen;

		if (e && (h.type == CTL_STDOUT || h.type == CTL_STDERR)) {
			int fd = h.type == CTL_STDOUT ? e->out : e->err;

			if (fd >= 0 && agw_write_all(fd, p, h.len) < 0) {
				/* The reader is gone: drop further output, keep running. */
				if (h.type == CTL_STDOUT)
					e->out = e->local ? -1 : (close(e->out), -1);
				else
					e->err = e->local ? -1 : (close(e->err), -1);
			}
		} else if (e && h.type == CTL_EXIT && ctl_exit_decode(p, h.len, &code, &sig) == 0) {
			sbxd_finish(s, e, code, (int)sig, 0, NULL, 0);
		} else if (e && h.type == CTL_ERROR &&
			   ctl_error_decode(p, h.len, &err, &text, &tlen) == 0 && err != ENOBUFS) {
			sbxd_finish(s, e, -1, 0, err > 0 ? err : EIO, text, tlen);
		}
		vm_frame_done(s->cfg->vm, &h);
	}
	return r == -EAGAIN ? 0 : r;
}

static void sbxd_on_signal(struct sbxd *s)
{
	struct signalfd_siginfo si;
	struct winsize ws;

	if (read(s->sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		for (size_t i = 0; i < SBXD_MAX_EXEC; i++)
			if (s->ex[i].used && s->ex[i].local && s->cfg->pty &&
			    ioctl(0, TIOCGWINSZ, &ws) == 0)
				sbxd_to_guest(s,
					      ctl_encode_resize(s->wbuf, sizeof(s->wbuf),
								s->ex[i].id, ws.ws_row, ws.ws_col));
		return;
	}
	log_info("signal %u: stopping the sandbox", si.ssi_signo);
	s->stop = 1;
	s->status = 0;
}

/* Serve one ready fd: what the poll loop's switch did. */
/*
 * Lines from the supervisor's denials feed (supervisor/dfeed.h): each goes
 * to the guest as one DENIAL frame, if its agentgw-init knows them. The
 * supervisor bounds the rate; a line too long for a frame is dropped.
 */
static void sbxd_on_denials(struct sbxd *s)
{
	int fd = s->cfg->denials_fd;
	ssize_t n = read(fd, s->dbuf + s->dlen, sizeof(s->dbuf) - s->dlen);
	bool can = vm_guest_can(s->cfg->vm, CTL_CAP_DENIALS);
	char *nl, *p = s->dbuf;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		s->denials_eof = 1;
		return;
	}
	s->dlen += (size_t)n;
	while ((nl = memchr(p, '\n', s->dlen - (size_t)(p - s->dbuf)))) {
		size_t len = (size_t)(nl - p);

		if (can && len > 0 && len <= CTL_DENIAL_MAX)
			sbxd_to_guest(s, ctl_encode(s->wbuf, sizeof(s->wbuf), CTL_DENIAL, 0, 0,
						    (const uint8_t *)p, len));
		p = nl + 1;
	}
	s->dlen -= (size_t)(p - s->dbuf);
	memmove(s->dbuf, p, s->dlen);
	if (s->dlen == sizeof(s->dbuf))
		s->dlen = 0; /* no newline in a full buffer: not a line of ours */
}

static void sbxd_dispatch(struct sbxd *s, const struct sbxd_reg *g)
{
	const struct sbxd_cfg *cfg = s->cfg;
	struct sbxd_exec *e = NULL;

	if (s->stop)
		return;
	if (g->kind == SBXD_P_CLIENT || g->kind == SBXD_P_STDIN) {
		e = &s->ex[g->idx];
		if (!e->used) /* finished by an earlier fd in this round */
			return;
	}
	switch (g->kind) {
	case SBXD_P_LISTEN: {
		int c = accept4(cfg->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		int slot = -1;

		for (int i = 0; i < SBXD_MAX_PENDING && slot < 0 && c >= 0; i++)
			if (s->pending[i] < 0)
				slot = i;
		if (c >= 0 && slot < 0) {
			sbxd_reply_error(c, EAGAIN, "too many clients");
			close(c);
		} else if (c >= 0) {
			s->pending[slot] = c;
		}
		break;
	}
	case SBXD_P_GUEST:
		if (sbxd_on_guest(s) < 0) {
			log_warn("the guest's control connection ended");
			s->stop = 1;
			s->status = 1;
		}
		break;
	case SBXD_P_SIG:
		sbxd_on_signal(s);
		break;
	case SBXD_P_PENDING: {
		int fd = s->pending[g->idx];

		if (fd != g->fd)
			break;
		s->pending[g->idx] = -1;
		sbxd_on_request(s, fd);
		break;
	}
	case SBXD_P_CLIENT:
		if (e->client == g->fd)
			sbxd_on_client(s, e);
		break;
	case SBXD_P_STDIN:
		if (e->in_open && e->in == g->fd)
			sbxd_on_stdin(s, e);
		break;
	case SBXD_P_DENIALS:
		sbxd_on_denials(s);
		break;
	}
}

static void sbxd_on_fd(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct sbxd_reg *g = ctx;

	(void)fd;
	(void)events;
	sbxd_dispatch(g->s, g);
	if (g->s->stop)
		ev_stop(loop);
}

/* The fds epoll cannot watch are always readable (as poll says of them). */
static void sbxd_on_ready(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct sbxd *s = ctx;

	(void)id;
	s->ready_timer = 0;
	for (size_t i = 0; i < s->nreg && !s->stop; i++)
		if (!s->reg[i].polled)
			sbxd_dispatch(s, &s->reg[i]);
	if (s->stop)
		ev_stop(loop);
}

static void sbxd_want(struct sbxd *s, int fd, int kind, int idx)
{
	struct sbxd_reg *g;
	int r;

	if (s->nreg >= SBXD_MAX_REG)
		return;
	g = &s->reg[s->nreg++];
	*g = (struct sbxd_reg){.s = s, .fd = fd, .kind = kind, .idx = idx, .polled = 1};
	r = ev_add_fd(s->loop, fd, EV_READ, sbxd_on_fd, g);
	if (r == -EPERM) {
		g->polled = 0;
		if (!s->ready_timer)
			s->ready_timer = ev_timer_add(s->loop, 0, sbxd_on_ready, s);
	} else if (r < 0) {
		log_warn("cannot watch fd %d: %s", fd, agw_strerror(r));
		s->nreg--;
	}
}

/* Before each wait: watch exactly the fds that matter now. */
static void sbxd_sync(struct ev_loop *loop, void *ctx)
{
	struct sbxd *s = ctx;
	const struct sbxd_cfg *cfg = s->cfg;

	if (s->stop) {
		ev_stop(loop);
		return;
	}
	for (size_t i = 0; i < s->nreg; i++)
		if (s->reg[i].polled)
			ev_del_fd(loop, s->reg[i].fd);
	s->nreg = 0;
	sbxd_want(s, cfg->listen_fd, SBXD_P_LISTEN, 0);
	sbxd_want(s, vm_ctl_fd(cfg->vm), SBXD_P_GUEST, 0);
	sbxd_want(s, s->sfd, SBXD_P_SIG, 0);
	if (cfg->denials_fd >= 0 && !s->denials_eof)
		sbxd_want(s, cfg->denials_fd, SBXD_P_DENIALS, 0);
	for (int i = 0; i < SBXD_MAX_PENDING; i++)
		if (s->pending[i] >= 0)
			sbxd_want(s, s->pending[i], SBXD_P_PENDING, i);
	for (int i = 0; i < SBXD_MAX_EXEC; i++) {
		if (!s->ex[i].used)
			continue;
		if (s->ex[i].client >= 0)
			sbxd_want(s, s->ex[i].client, SBXD_P_CLIENT, i);
		if (s->ex[i].in_open && s->ex[i].in >= 0)
			sbxd_want(s, s->ex[i].in, SBXD_P_STDIN, i);
	}
}

int sbxd_run(const struct sbxd_cfg *cfg, int *status)
{
	struct sbxd *s = calloc(1, sizeof(*s));
	sigset_t set;
	int rc = 0;

	*status = 1;
	if (!s)
		return -AGW_ENOMEM;
	s->cfg = cfg;
	s->sfd = -1;
	for (size_t i = 0; i < SBXD_MAX_PENDING; i++)
		s->pending[i] = -1;
	if ((rc = ev_new(&s->loop)) < 0 || (rc = ev_before_sleep(s->loop, sbxd_sync, s)) < 0)
		goto out;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, NULL);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s->sfd < 0) {
		rc = -errno;
		goto out;
	}
	if (cfg->argv) {
		struct winsize ws = {.ws_row = 24, .ws_col = 80};
		struct sbxd_exec *e;
		int err = 0;

		if (cfg->pty)
			ioctl(0, TIOCGWINSZ, &ws);
		e = sbxd_start(s, cfg->argv, cfg->env, cfg->cwd, cfg->user, cfg->pty, ws.ws_row,
			       ws.ws_col, &err);
		if (!e) {
			rc = -err;
			goto out;
		}
		e->local = 1;
		e->in = 0;
		e->out = 1;
		e->err = 2;
	}
	if ((rc = ev_run(s->loop)) < 0)
		goto out;
	*status = s->status;
out:
	for (size_t i = 0; i < SBXD_MAX_EXEC; i++)
		if (s->ex[i].used)
			sbxd_close_fds(&s->ex[i]);
	for (size_t i = 0; i < SBXD_MAX_PENDING; i++)
		if (s->pending[i] >= 0)
			close(s->pending[i]);
	if (s->sfd >= 0)
		close(s->sfd);
	ev_free(s->loop);
	free(s);
	return rc;
}
