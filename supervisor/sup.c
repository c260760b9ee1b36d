// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The supervisor (see sup.h). Children are forked before the audit writer's
 * thread exists, so they never inherit a lock held by it; their events wait
 * in the socketpair until the loop runs. Every message from a child is
 * validated (ipc_event_decode); a child that sends anything else is killed
 * and the sandbox stops, failing closed.
 */
#include "sup.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/aud.h"
#include "gateway/fs/fsd.h"
#include "gateway/fs/fsd_vu.h"
#include "gateway/net/netd.h"
#include "ipc.h"
#include "json.h"
#include "log.h"
#include "priv.h"
#include "vmctl/fw.h"
#include "supervisor/appr.h"
#include "supervisor/dfeed.h"
#include "supervisor/spill.h"
#include "supervisor/supguest.h"

#define SUP_HEALTH_MS 200
#define SUP_SPILL_FILE "audit-spill.bin"
#define SUP_RELOADS_PENDING 16 /* reloads sent and not yet answered by every child */
#define SUP_RELOAD_ACK_MS 5000
#define SUP_RELOAD_FILE "reload"
/* Under load the children's channels are read every SUP_CHILD_POLL_MS
 * instead of on every message (sup_child_wake). */
#define SUP_CHILD_POLL_MS 5
/* Backpressure (sup_audit_hold): above HIGH percent of the writer's queue
 * the children's channels are not read until it is below LOW; a writer that
 * stays above for STUCK_MS is treated as failing (children deny). */
#define SUP_AUDIT_HIGH_PCT 75
#define SUP_AUDIT_LOW_PCT 50
#define SUP_AUDIT_STUCK_MS 2000

struct sup_child {
	struct sup *s;
	const char *role;
	pid_t pid;
	int fd; /* our end of the socketpair */
	bool ready;
	uint64_t nrecv;	     /* messages received */
	uint64_t poll_timer; /* reading on a timer (see sup_child_wake) */
	bool held;	     /* not read: the writer's queue is too full */
};

/* A reload sent to the children: recorded as applied once each child it
 * went to answered that it applied exactly this policy (IPC_POLICY_APPLIED;
 * children answer updates in order), as an error on a refusal or after
 * SUP_RELOAD_ACK_MS without an answer. */
struct sup_reload_wait {
	char sha[65];
	char detail[256];
	bool expect[2], answered[2]; /* [0] net, [1] fs */
	bool recorded;		     /* its row is written (an error) */
	int64_t deadline_ms;
};

struct sup {
	struct ev_loop *loop;
	char name[FW_NAME_MAX + 1];
	char iface[IF_NAMESIZE];
	char policy_path[PATH_MAX];
	char basedir[PATH_MAX];
	char state_dir[PATH_MAX];
	struct pol *pol;
	struct aud_writer *w;
	int64_t sandbox_id;
	struct in_addr gw_addr, guest_addr;
	uint16_t dns_port, proxy_port, p9_port;
	int nflog_group;
	bool fw_applied;
	bool audit_ok;
	int64_t hold_since_ms; /* children not read since (0: reading, -1: stuck) */
	bool draining;	       /* stopping: read all, wait for the writer instead */
	int exit_code;
	struct sup_child net, fs;
	uint64_t health_timer;
	struct ipc_event *ev_buf;
	struct spill *spill; /* events the writer refused, oldest first */
	uint64_t lost;	     /* events neither the writer nor the spill took */
	struct sup_reload_wait waits[SUP_RELOADS_PENDING];
	size_t nwaits;
	unsigned reload_seq;   /* outcomes written to <state dir>/reload */
	char stop_reason[192]; /* why the sandbox stopped abnormally ("" if it did not) */
	bool stop_weak;	       /* only "closed its channel" so far: an exit status says more */
	bool stopping;	       /* asked to stop: children going away now is no failure */
	char stop_note[64];     /* why a normal stop happened ("interrupted"), or "" */
	struct appr *appr;	/* pending approvals and their socket (NULL: none) */
	struct sup_session_rule *session; /* rules `approve ... session` added, in order */
	size_t nsession;
	struct dfeed *dfeed; /* the guest's denials feed, or NULL */
	struct supguest guest; /* CA and credentials until the net child has them */
};

/* A rule added for the sandbox's life: appended to the file's policy on
 * every (re)load, never written to the file. */
struct sup_session_rule {
	bool fs;
	char *rule, *comment;
};

/* ---- helpers ---- */

static int sup_iface_addr(const char *iface, struct in_addr *addr, int *prefix)
{
	struct ifaddrs *ifs = NULL;
	int rc = -AGW_ENOTFOUND;

	if (getifaddrs(&ifs) < 0)
		return -errno;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, iface))
			continue;
		*addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		*prefix = 32;
		if (i->ifa_netmask) {
			uint32_t m = ntohl(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr);

			*prefix = __builtin_popcount(m);
		}
		rc = 0;
		break;
	}
	freeifaddrs(ifs);
	return rc;
}

static int sup_listen(int type, struct in_addr a, uint16_t port, int *out)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a};
	int fd, one = 1;

	*out = -1;
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 1024) < 0)) {
		int e = -errno;

		close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

static void sup_set_audit_ok(struct sup *s, bool ok);

/*
 * Hand an event to the writer; when it refuses (queue full, database
 * failing), children are told to deny and the event goes to the spill file,
 * to be written once the database works again. While the spill holds
 * events, new ones queue behind them so the log keeps its order.
 */
static int sup_submit(struct sup *s, const struct aud_event *ev)
{
	char path[PATH_MAX + 32];
	int rc = spill_pending(s->spill) ? -AGW_EFULL : aud_writer_submit(s->w, ev);

	/* every event of this sandbox passes here, so does every denial */
	dfeed_event(s->dfeed, ev, ev_now_ms(s->loop));

	if (!rc)
		return 0;
	sup_set_audit_ok(s, false);
	if (!s->spill && s->state_dir[0]) {
		snprintf(path, sizeof(path), "%s/%s", s->state_dir, SUP_SPILL_FILE);
		if ((rc = spill_open(path, SPILL_MAX_BYTES, &s->spill)) < 0)
			log_error("audit spill %s: %s", path, agw_strerror(rc));
	}
	if (s->spill && (rc = spill_add(s->spill, ev)) == 0)
		return 0;
	if (!s->lost++)
		log_error("audit: writer failing and spill unavailable (%s): events are lost",
			  agw_strerror(rc));
	return -AGW_EFULL;
}

static void sup_event(struct sup *s, const char *kind, const char *op, const char *target,
		      const char *decision, const char *reason, const char *detail)
{
	struct aud_event ev = {0};

	if (!s->w)
		return;
	ev.sandbox_id = s->sandbox_id;
	ev.ts = agw_now_us();
	ev.kind = kind;
	ev.op = op;
	ev.target = target;
	ev.decision = decision;
	ev.reason = reason;
	ev.detail = detail;
	ev.bytes_up = ev.bytes_down = ev.duration_us = -1;
	sup_submit(s, &ev);
}

/*
 * policy/text: the text of a policy being loaded by a reload, so the log
 * keeps what each sha256 in the reload rows stood for (the sandbox row
 * holds only the first policy's text). Cut to fit the detail cap.
 */
static void sup_policy_text_event(struct sup *s, const struct pol *p)
{
	size_t cap = AUD_DETAIL_MAX - 64, n;
	char *d = malloc(AUD_DETAIL_MAX);

	if (!d)
		return;
	n = (size_t)snprintf(d, cap, "{\"sha256\":\"%s\",\"text\":\"", pol_sha256(p));
	n += json_esc_str(d + n, cap - n, pol_text(p));
	snprintf(d + n, AUD_DETAIL_MAX - n, "\"%s}", n + 1 >= cap ? ",\"cut\":true" : "");
	sup_event(s, "policy", "text", s->policy_path, "allow", NULL, d);
	free(d);
}

static void sup_broadcast(struct sup *s, unsigned type, const void *buf, size_t len)
{
	struct sup_child *cs[] = {&s->net, &s->fs};

	for (size_t i = 0; i < AGW_ARRAY_LEN(cs); i++)
		if (cs[i]->fd >= 0 && ipc_send(cs[i]->fd, type, buf, len, NULL, 0))
			log_warn("cannot send %s to the %s child", ipc_type_str(type), cs[i]->role);
}

static void sup_set_audit_ok(struct sup *s, bool ok)
{
	uint8_t b = ok ? 1 : 0;

	if (s->audit_ok == ok)
		return;
	s->audit_ok = ok;
	log_warn("audit writer %s", ok ? "healthy again" : "failing: children deny new actions");
	sup_broadcast(s, IPC_AUDIT_STATE, &b, 1);
}

/* ---- children ---- */

/* Records why the sandbox stops; a precise reason replaces a weak one. */
static void sup_set_stop_reason(struct sup *s, bool weak, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sup_set_stop_reason(struct sup *s, bool weak, const char *fmt, ...)
{
	va_list ap;

	if (s->stop_reason[0] && (weak || !s->stop_weak))
		return;
	if (s->stopping && !s->stop_weak)
		return; /* only a failure seen before the stop is refined */
	va_start(ap, fmt);
	vsnprintf(s->stop_reason, sizeof(s->stop_reason), fmt, ap);
	va_end(ap);
	s->stop_weak = weak;
}

static void sup_child_status(const struct sup_child *c, pid_t pid, int st, char *out, size_t cap)
{
	if (WIFSIGNALED(st)) {
		const char *abbr = sigabbrev_np(WTERMSIG(st));

		/* SIGSYS is the seccomp allow-list's kill (common/priv.c); the
		 * kernel logs the call as an audit SECCOMP record (dmesg). */
		snprintf(out, cap, "%s child (pid %d) killed by signal %d (SIG%s)%s", c->role,
			 (int)pid, WTERMSIG(st), abbr ? abbr : "?",
			 WTERMSIG(st) == SIGSYS ? ": seccomp: a system call outside its allow-list "
						  "(the kernel log names it)"
						: "");
	} else {
		snprintf(out, cap, "%s child (pid %d) exited with status %d", c->role, (int)pid,
			 WEXITSTATUS(st));
	}
}

static void sup_kill_child(struct sup *s, struct sup_child *c, const char *why)
{
	if (c->pid > 0) {
		log_error("%s child: %s; stopping it", c->role, why);
		kill(c->pid, SIGKILL);
	}
	sup_set_stop_reason(s, false, "%s child %s", c->role, why);
	if (c->fd >= 0) {
		ev_del_fd(s->loop, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	s->exit_code = 1;
	ev_stop(s->loop);
}

static int sup_reload_answer(struct sup *s, const struct sup_child *c, const uint8_t *buf,
			     size_t len);

/* A child's IPC_ASK. Without an approvals server (no state dir) the ask is
 * denied at once. Returns -AGW_EPROTO for a bad message. */
static int sup_on_ask(struct sup *s, struct sup_child *c, const uint8_t *buf, size_t len)
{
	struct ipc_ask q;
	int child = c == &s->net ? 0 : 1;

	if (ipc_ask_decode(buf, len, &q))
		return -AGW_EPROTO;
	if ((q.kind == IPC_ASK_FS) != (child == 1))
		return -AGW_EPROTO;
	if (!s->appr) {
		struct ipc_answer ans = {.id = q.id, .scope = IPC_SCOPE_TIMEOUT};
		uint8_t out[64 + IPC_ASK_REASON_MAX];
		size_t n;

		snprintf(ans.reason, sizeof(ans.reason), "approvals unavailable");
		if (!ipc_answer_encode(&ans, out, sizeof(out), &n))
			ipc_send(c->fd, IPC_ASK_ANSWER, out, n, NULL, 0);
		return 0;
	}
	return appr_ask(s->appr, child, &q);
}

/* One audit event from a child: decoded, stamped, handed to the writer.
 * Returns 0 or -AGW_EPROTO (the child is then killed). */
static int sup_child_event(struct sup *s, const uint8_t *buf, size_t len)
{
	if (ipc_event_decode(buf, len, s->ev_buf))
		return -AGW_EPROTO;
	s->ev_buf->ev.sandbox_id = s->sandbox_id;
	if (!s->ev_buf->ev.ts)
		s->ev_buf->ev.ts = agw_now_us();
	sup_submit(s, &s->ev_buf->ev);
	return 0;
}

/* The events of one pass of a child's loop (IPC_AUDIT_BATCH), in order,
 * as if each had come alone: those before a malformed record are kept,
 * like the single messages before a malformed one. Returns 0 or
 * -AGW_EPROTO. */
static int sup_child_batch(struct sup *s, const uint8_t *buf, size_t len)
{
	const uint8_t *rec;
	size_t off = 0, n;
	int r;

	if (len == 0)
		return -AGW_EPROTO;
	while ((r = ipc_batch_next(buf, len, &off, &rec, &n)) > 0)
		if (sup_child_event(s, rec, n))
			return -AGW_EPROTO;
	return r;
}

/*
 * Backpressure: true while the children's channels must not be read
 * because the writer's queue is above SUP_AUDIT_HIGH_PCT (until it is
 * below SUP_AUDIT_LOW_PCT). Their messages then wait in the socket; a
 * full socket makes the net child pause its intake (gateway/net/netd.c)
 * instead of the writer refusing events and every child denying. Not while
 * the writer fails (its refusals are spilled and the children deny, as
 * before), and not for more than SUP_AUDIT_STUCK_MS in a row: a writer
 * that does not drain by then is stuck, the channels are read again, the
 * queue fills and the children are told to deny (sup_submit).
 */
static bool sup_audit_hold(struct sup *s)
{
	int64_t now = ev_now_ms(s->loop);
	unsigned pct;

	if (!s->w || !s->audit_ok) {
		s->hold_since_ms = 0;
		return false;
	}
	pct = aud_writer_fill_pct(s->w);
	if (s->draining) { /* blocking is fine now; spilling is not needed */
		if (pct >= SUP_AUDIT_HIGH_PCT)
			aud_writer_flush(s->w);
		return false;
	}
	if (pct < (s->hold_since_ms ? SUP_AUDIT_LOW_PCT : SUP_AUDIT_HIGH_PCT)) {
		if (s->hold_since_ms > 0)
			log_debug("audit writer caught up after %lld ms: reading the children",
				  (long long)(now - s->hold_since_ms));
		s->hold_since_ms = 0;
		return false;
	}
	if (s->hold_since_ms < 0) /* stuck: read until it drains or fails */
		return false;
	if (!s->hold_since_ms) {
		s->hold_since_ms = now > 0 ? now : 1;
		log_debug("audit writer queue %u%% full: children wait", pct);
	} else if (now - s->hold_since_ms >= SUP_AUDIT_STUCK_MS) {
		log_warn("audit writer has not drained for %d ms: reading the children again, "
			 "they deny once its queue is full",
			 SUP_AUDIT_STUCK_MS);
		s->hold_since_ms = -1;
		return false;
	}
	return true;
}

static void sup_child_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct sup *s = ctx;
	struct sup_child *c = fd == s->net.fd ? &s->net : &s->fs;
	static uint8_t buf[IPC_PAYLOAD_MAX];

	(void)loop;
	(void)events;
	c->held = false;
	for (int i = 0; i < 256; i++) {
		unsigned type;
		size_t len;
		int rc;

		if (sup_audit_hold(s)) {
			c->held = true; /* sup_child_poll looks again */
			return;
		}
		rc = ipc_recv(fd, &type, buf, sizeof(buf), &len, NULL, NULL);

		if (rc == -EAGAIN)
			return;
		if (rc == -EPIPE) {
			ev_del_fd(s->loop, c->fd);
			close(c->fd);
			c->fd = -1;
			log_info("%s child closed its channel", c->role);
			sup_set_stop_reason(s, true, "%s child closed its channel", c->role);
			s->exit_code = 1;
			ev_stop(s->loop);
			return;
		}
		if (rc) {
			sup_kill_child(s, c, "sent a malformed message");
			return;
		}
		c->nrecv++;
		switch (type) {
		case IPC_AUDIT_EVENT:
			if (sup_child_event(s, buf, len)) {
				sup_kill_child(s, c, "sent an invalid audit event");
				return;
			}
			break;
		case IPC_AUDIT_BATCH:
			if (sup_child_batch(s, buf, len)) {
				sup_kill_child(s, c, "sent an invalid audit batch");
				return;
			}
			break;
		case IPC_READY:
			if (len) {
				sup_kill_child(s, c, "sent a bad ready message");
				return;
			}
			c->ready = true;
			log_debug("%s child ready", c->role);
			break;
		case IPC_STATS:
			if (len % 8 || len > IPC_STATS_MAX * 8) {
				sup_kill_child(s, c, "sent bad stats");
				return;
			}
			break;
		case IPC_POLICY_APPLIED:
			if (sup_reload_answer(s, c, buf, len)) {
				sup_kill_child(s, c, "sent an unexpected policy answer");
				return;
			}
			break;
		case IPC_ASK:
			if (sup_on_ask(s, c, buf, len)) {
				sup_kill_child(s, c, "sent a bad approval request");
				return;
			}
			break;
		default:
			sup_kill_child(s, c, "sent an unexpected message type");
			return;
		}
	}
}

static void sup_child_poll(struct ev_loop *loop, uint64_t id, void *ctx);

/*
 * A child's channel became readable. Its messages are already in our
 * socket's queue (the child's events are recorded in the kernel before
 * its actions; see gateway/net/netd.c), so they need not be read the
 * moment they come: after this wake-up the channel is read on a
 * SUP_CHILD_POLL_MS timer for as long as messages keep coming, and
 * watched again once a tick found none. Under load the supervisor wakes
 * some 200 times a second instead of once per message (a new connection
 * sends two or three); an idle sandbox costs no timer. The queue is deep
 * (IPC_SNDBUF): a burst between two ticks does not fill it.
 */
static void sup_child_wake(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct sup *s = ctx;
	struct sup_child *c = fd == s->net.fd ? &s->net : &s->fs;

	sup_child_cb(loop, fd, events, s);
	if (c->fd != fd || c->poll_timer)
		return;
	c->poll_timer = ev_timer_add(loop, SUP_CHILD_POLL_MS, sup_child_poll, c);
	if (c->poll_timer)
		ev_mod_fd(loop, fd, 0);
}

static void sup_child_poll(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct sup_child *c = ctx;
	uint64_t before = c->nrecv;

	(void)id;
	c->poll_timer = 0;
	if (c->fd < 0)
		return;
	sup_child_cb(loop, c->fd, EV_READ, c->s);
	if (c->fd < 0)
		return;
	if (c->nrecv != before || c->held)
		c->poll_timer = ev_timer_add(loop, SUP_CHILD_POLL_MS, sup_child_poll, c);
	if (!c->poll_timer)
		ev_mod_fd(loop, c->fd, EV_READ);
}

/*
 * Fork child c with a socketpair to it. In the child: returns 0 and its end
 * in *fd, with every other file descriptor closed but stdio and the nkeep
 * in keep (its listeners): not the supervisor's epoll set, the audit
 * database, the other child's channel or anything a later version opens
 * before forking; logging as c->role and a SIGTERM when the supervisor
 * dies. In the supervisor: records pid and fd in c and returns 1. -errno
 * when it cannot.
 */
static int sup_spawn(struct sup_child *c, int *fd, const int *keep, size_t nkeep)
{
	int sv[2], rc, k[8];
	pid_t pid;

	rc = ipc_pair(sv);
	if (rc)
		return rc;
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		return rc;
	}
	if (pid == 0) {
		k[0] = sv[1];
		for (size_t i = 0; i < nkeep && i + 1 < AGW_ARRAY_LEN(k); i++)
			k[i + 1] = keep[i];
		agw_close_fds_except(k, AGW_MIN(nkeep + 1, AGW_ARRAY_LEN(k)));
		log_init(c->role, log_get_level());
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* die with the supervisor */
		setpgid(0, 0); /* the terminal's ^C is for the supervisor, which stops us */
		*fd = sv[1];
		return 0;
	}
	close(sv[1]);
	c->pid = pid;
	c->fd = sv[0];
	return 1;
}

static int sup_fork_net(struct sup *s, int udp, int tcp, int pfd)
{
	const int keep[] = {udp, tcp, pfd};
	int fd, rc = sup_spawn(&s->net, &fd, keep, AGW_ARRAY_LEN(keep));

	if (rc == 0) {
		struct netd_config nc = {.ipc_fd = fd,
					 .dns_udp_fd = udp,
					 .dns_tcp_fd = tcp,
					 .proxy_fd = pfd,
					 .nflog_group = s->nflog_group,
					 .pol = s->pol,
					 .policy_path = s->policy_path,
					 .drop_user = PRIV_USER_DEFAULT,
					 .ca = s->guest.ca,
					 .creds = s->guest.creds};

		_exit(netd_run(&nc));
	}
	return rc < 0 ? rc : 0;
}

/* The fs server borrows its policy until the next swap: the one handed
 * over last (cur) is in use, the one before (prev) is free to go once a
 * newer one has been handed over, so at most two are ever kept. */
struct sup_fsctx {
	int fd;
	bool audit_failing; /* the supervisor said the writer fails */
	struct pol *cur, *prev;
};

static int sup_fs_emit(void *ctx, const struct aud_event *ev)
{
	struct sup_fsctx *f = ctx;
	static uint8_t buf[IPC_PAYLOAD_MAX];
	size_t len;
	int rc = ipc_event_encode(ev, buf, sizeof(buf), &len);

	if (!rc)
		rc = ipc_send(f->fd, IPC_AUDIT_EVENT, buf, len, NULL, 0);
	/* Fail closed like the net child: deny while the writer fails. */
	return rc || f->audit_failing ? -AGW_EFULL : 0;
}

/* The writer's state as the supervisor last told it (IPC_AUDIT_STATE). */
static bool sup_fs_audit_ok(void *ctx)
{
	const struct sup_fsctx *f = ctx;

	return !f->audit_failing;
}

/* fsd's ask: an IPC_ASK to the supervisor. Paths it could not show
 * (controls, too long) are denied at once. */
static int sup_fs_ask(void *ctx, uint32_t id, const char *path, unsigned acc, const char *rule)
{
	struct sup_fsctx *f = ctx;
	struct ipc_ask q = {.id = id, .kind = IPC_ASK_FS, .access = (uint8_t)acc};
	uint8_t buf[IPC_ASK_SUBJECT_MAX + 64];
	size_t len, n = strlen(path);

	if (!ipc_ask_subject_ok(IPC_ASK_FS, path))
		return -AGW_EINVAL;
	memcpy(q.subject, path, n + 1);
	snprintf(q.rule, sizeof(q.rule), "%s", rule ? rule : "");
	if (ipc_ask_encode(&q, buf, sizeof(buf), &len) ||
	    ipc_send(f->fd, IPC_ASK, buf, len, NULL, 0))
		return -AGW_EFULL;
	return 0;
}

static int sup_fs_ctl(void *ctx, int fd, const struct pol **newpol, struct fsd_answer *ans)
{
	struct sup_fsctx *f = ctx;
	static uint8_t buf[IPC_PAYLOAD_MAX];
	uint8_t ack[IPC_POLICY_ACK_LEN];
	struct ipc_policy *ip;
	unsigned type;
	size_t len;
	int rc = ipc_recv(fd, &type, buf, sizeof(buf), &len, NULL, NULL);

	if (rc == -EAGAIN)
		return 0;
	if (rc)
		return -1;
	if (type == IPC_AUDIT_STATE && len == 1) {
		f->audit_failing = buf[0] != 1;
		return 0;
	}
	if (type == IPC_ASK_ANSWER) {
		struct ipc_answer a;

		if (ipc_answer_decode(buf, len, &a))
			return 0;
		ans->have = true;
		ans->id = a.id;
		ans->allow = a.allow;
		ans->approval = a.approval;
		if (a.allow)
			snprintf(ans->why, sizeof(ans->why), "approved (%s) by %s",
				 ipc_scope_str(a.scope), a.who);
		else if (a.scope == IPC_SCOPE_TIMEOUT)
			snprintf(ans->why, sizeof(ans->why), "%s",
				 a.reason[0] ? a.reason : "approval timed out");
		else
			snprintf(ans->why, sizeof(ans->why), "denied by %s%s%.100s", a.who,
				 a.reason[0] ? ": " : "", a.reason);
		return 0;
	}
	if (type != IPC_POLICY_UPDATE)
		return 0;
	ip = malloc(sizeof(*ip));
	if (ip && ipc_policy_decode(buf, len, ip) == 0) {
		struct pol_errors errs = {0};
		struct pol *p = NULL;

		if (pol_load_buf(ip->path, ip->text, ip->text_len,
				 ip->basedir[0] ? ip->basedir : NULL, &p, &errs) == 0) {
			/* fsd swaps to p as soon as we return, before any
			 * other request: prev is no longer referenced. */
			pol_free(f->prev);
			f->prev = f->cur;
			f->cur = p;
			*newpol = p;
		} else {
			log_error("policy update rejected: %s",
				  errs.n && errs.v[0].msg ? errs.v[0].msg : "cannot load");
		}
		pol_errors_free(&errs);
	}
	free(ip);
	ipc_policy_ack_encode(*newpol != NULL, *newpol ? pol_sha256(*newpol) : NULL, ack);
	if (ipc_send(fd, IPC_POLICY_APPLIED, ack, sizeof(ack), NULL, 0))
		log_warn("cannot answer the policy update");
	return 0;
}

static int sup_fork_fs(struct sup *s, int lfd, int vfd)
{
	const int keep[] = {lfd, vfd};
	int fd, rc = sup_spawn(&s->fs, &fd, keep, AGW_ARRAY_LEN(keep));

	if (rc == 0) {
		struct sup_fsctx f = {.fd = fd};
		char peer[INET_ADDRSTRLEN] = "";
		struct fsd_config fc = {0};

		if (s->guest_addr.s_addr)
			inet_ntop(AF_INET, &s->guest_addr, peer, sizeof(peer));
		fc.listen_fd = lfd;
		fc.vu_fd = vfd;
		fc.allow_peer = peer[0] ? peer : NULL;
		fc.pol = s->pol;
		fc.emit = sup_fs_emit;
		fc.emit_ctx = &f;
		fc.audit_ok = sup_fs_audit_ok;
		fc.owner_uid = (uid_t)-1;
		fc.owner_gid = (gid_t)-1;
		fc.ctl_fd = fd;
		fc.on_ctl = sup_fs_ctl;
		fc.ctl_ctx = &f;
		fc.ask = sup_fs_ask;
		/* A workspace with a non-root owner is served as that owner; a
		 * root-owned one by PRIV_FS_ID with three capabilities. */
		fc.drop_to_owner = true;
		ipc_send(fd, IPC_READY, NULL, 0, NULL, 0);
		rc = fsd_run(&fc);
		if (rc)
			log_error("fs server: %s", agw_strerror(rc));
		_exit(rc ? 1 : 0);
	}
	return rc < 0 ? rc : 0;
}

static void sup_reload_overdue(struct sup *s);

/* ---- signals and timers ---- */

static void sup_on_term(struct ev_loop *loop, int signo, void *ctx)
{
	struct sup *s = ctx;

	log_info("signal %d: stopping", signo);
	s->stopping = true;
	s->exit_code = 0;
	ev_stop(loop);
}

static void sup_on_hup(struct ev_loop *loop, int signo, void *ctx)
{
	(void)loop;
	(void)signo;
	sup_reload(ctx);
}

static void sup_on_chld(struct ev_loop *loop, int signo, void *ctx)
{
	struct sup *s = ctx;
	struct sup_child *cs[] = {&s->net, &s->fs};
	char why[160];
	int st;

	(void)signo;
	for (size_t i = 0; i < AGW_ARRAY_LEN(cs); i++) {
		if (cs[i]->pid <= 0 || waitpid(cs[i]->pid, &st, WNOHANG) != cs[i]->pid)
			continue;
		sup_child_status(cs[i], cs[i]->pid, st, why, sizeof(why));
		log_error("%s; stopping the sandbox", why);
		sup_set_stop_reason(s, false, "%s", why);
		cs[i]->pid = 0;
		s->exit_code = 1;
		ev_stop(loop);
	}
}

static void sup_health_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct sup *s = ctx;

	(void)id;
	/* Spilled events go first; children may act again once they are out. */
	if (spill_pending(s->spill) && aud_writer_healthy(s->w) && spill_replay(s->spill, s->w) > 0 &&
	    !spill_pending(s->spill))
		log_warn("audit: spilled events written");
	sup_set_audit_ok(s, aud_writer_healthy(s->w) && !spill_pending(s->spill));
	sup_reload_overdue(s);
	s->health_timer = ev_timer_add(loop, SUP_HEALTH_MS, sup_health_cb, s);
}

/* ---- reload ---- */

static void sup_write_file(const char *dir, const char *name, const char *text);

/*
 * Records a reload's outcome for `agentgw policy reload`, which waits for
 * it: "<seq> <sha256 or -> allow" or "... error <reason>", replaced
 * atomically, seq counting up so every outcome is a new line.
 */
static void sup_reload_outcome(struct sup *s, const char *sha, const char *reason)
{
	char line[320];

	if (!s->state_dir[0])
		return;
	snprintf(line, sizeof(line), "%u %s %s%s%s\n", ++s->reload_seq, sha && sha[0] ? sha : "-",
		 reason ? "error" : "allow", reason ? " " : "", reason ? reason : "");
	sup_write_file(s->state_dir, "reload.tmp", line);
	{
		char a[PATH_MAX + 16], b[PATH_MAX + 16];

		snprintf(a, sizeof(a), "%s/reload.tmp", s->state_dir);
		snprintf(b, sizeof(b), "%s/%s", s->state_dir, SUP_RELOAD_FILE);
		if (rename(a, b) < 0)
			log_warn("cannot write %s: %s", b, strerror(errno));
	}
}

/*
 * The policy file with the session rules appended (the sandbox's policy):
 * loaded as pol_load_file does. A session rule that no longer fits (the
 * file changed shape) is dropped with a warning.
 */
static int sup_load_policy(struct sup *s, struct pol **out, struct pol_errors *errs)
{
	struct pol *p = NULL;
	char *text = NULL, msg[300];
	int rc = pol_load_file(s->policy_path, &p, errs);

	*out = NULL;
	if (rc || !s->nsession) {
		*out = p;
		return rc;
	}
	if (!(text = strdup(pol_text(p)))) {
		pol_free(p);
		return -AGW_ENOMEM;
	}
	pol_free(p);
	p = NULL;
	for (size_t i = 0; i < s->nsession; i++) {
		char *t2 = NULL;

		if (pol_text_add_rule(text, s->session[i].fs, s->session[i].rule,
				      s->session[i].comment, &t2, msg, sizeof(msg))) {
			log_warn("session rule %s no longer fits the policy: %s",
				 s->session[i].rule, msg);
			continue;
		}
		free(text);
		text = t2;
	}
	rc = pol_load_buf(s->policy_path, text, strlen(text), s->basedir, out, errs);
	free(text);
	return rc;
}

int sup_reload(struct sup *s)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	static uint8_t buf[IPC_PAYLOAD_MAX];
	struct sup_child *cs[] = {&s->net, &s->fs};
	struct sup_reload_wait *w;
	char why[160];
	size_t len;
	int rc;

	rc = sup_load_policy(s, &p, &errs);
	if (rc) {
		char detail[256];

		for (size_t i = 0; i < errs.n; i++)
			log_error("%s:%d:%d: %s", errs.v[i].file ? errs.v[i].file : s->policy_path,
				  errs.v[i].line, errs.v[i].col, errs.v[i].msg);
		log_error("policy reload rejected (%s); the old policy stays", agw_strerror(rc));
		snprintf(detail, sizeof(detail), "{\"errors\":%zu,\"kept_sha256\":\"%s\"}", errs.n,
			 pol_sha256(s->pol));
		sup_event(s, "policy", "reload", s->policy_path, "error",
			  errs.n && errs.v[0].msg ? errs.v[0].msg : agw_strerror(rc), detail);
		sup_reload_outcome(s, NULL,
				   errs.n && errs.v[0].msg ? errs.v[0].msg : agw_strerror(rc));
		pol_errors_free(&errs);
		return rc;
	}
	pol_errors_free(&errs);
	/* The fs child keeps the directory it was started on (it holds its fd);
	 * so does the policy, whatever the file (or `up --workspace`) said. */
	if (pol_workspace(s->pol) && pol_workspace(p))
		pol_set_workspace(p, pol_workspace(s->pol));
	rc = ipc_policy_encode(s->policy_path, s->basedir, pol_text(p), strlen(pol_text(p)), buf,
			       sizeof(buf), &len);
	if (rc) {
		log_error("policy reload: policy too large to send (%s)", agw_strerror(rc));
		sup_event(s, "policy", "reload", s->policy_path, "error", "policy too large", NULL);
		sup_reload_outcome(s, pol_sha256(p), "policy too large");
		pol_free(p);
		return rc;
	}
	if (s->nwaits == SUP_RELOADS_PENDING) {
		log_error("policy reload refused: %d reloads still wait for the children",
			  SUP_RELOADS_PENDING);
		sup_event(s, "policy", "reload", s->policy_path, "error",
			  "earlier reloads not yet applied by the children", NULL);
		sup_reload_outcome(s, pol_sha256(p),
				   "earlier reloads not yet applied by the children");
		pol_free(p);
		return -AGW_EFULL;
	}
	w = &s->waits[s->nwaits];
	memset(w, 0, sizeof(*w));
	snprintf(w->sha, sizeof(w->sha), "%s", pol_sha256(p));
	snprintf(w->detail, sizeof(w->detail),
		 "{\"sha256\":\"%s\",\"old_sha256\":\"%s\",\"name\":\"%s\"}", pol_sha256(p),
		 pol_sha256(s->pol), pol_name(p));
	w->deadline_ms = ev_now_ms(s->loop) + SUP_RELOAD_ACK_MS;
	sup_policy_text_event(s, p);
	for (size_t i = 0; i < AGW_ARRAY_LEN(cs); i++) {
		if (cs[i]->fd < 0)
			continue;
		rc = ipc_send(cs[i]->fd, IPC_POLICY_UPDATE, buf, len, NULL, 0);
		if (rc) {
			/* Never claim what did not happen: this reload is an
			 * error, whatever the other child does with it. */
			snprintf(why, sizeof(why), "not delivered to the %s child: %s", cs[i]->role,
				 agw_strerror(rc));
			log_error("policy reload %s", why);
			sup_event(s, "policy", "reload", s->policy_path, "error", why, w->detail);
			if (!w->recorded)
				sup_reload_outcome(s, w->sha, why);
			w->recorded = true;
			continue;
		}
		w->expect[i] = true;
	}
	if (w->expect[0] || w->expect[1])
		s->nwaits++;
	else if (!w->recorded) {
		sup_event(s, "policy", "reload", s->policy_path, "error", "no child to apply it",
			  w->detail);
		sup_reload_outcome(s, w->sha, "no child to apply it");
	}
	log_info("policy %s (%.12s) sent to the children", pol_name(p), pol_sha256(p));
	pol_free(s->pol);
	s->pol = p;
	return 0;
}

/* Drops the oldest waits every child has answered. */
static void sup_reload_pop(struct sup *s)
{
	while (s->nwaits) {
		struct sup_reload_wait *w = &s->waits[0];

		if ((w->expect[0] && !w->answered[0]) || (w->expect[1] && !w->answered[1]))
			return;
		if (!w->recorded) {
			sup_event(s, "policy", "reload", s->policy_path, "allow", NULL, w->detail);
			sup_reload_outcome(s, w->sha, NULL);
			log_info("policy reloaded: %.12s applied by the children", w->sha);
		}
		memmove(&s->waits[0], &s->waits[1], --s->nwaits * sizeof(s->waits[0]));
	}
}

/* A child's IPC_POLICY_APPLIED: answers its oldest unanswered wait. Returns
 * 0, or -AGW_EPROTO when malformed or nothing waits for it. */
static int sup_reload_answer(struct sup *s, const struct sup_child *c, const uint8_t *buf,
			     size_t len)
{
	size_t ci = c == &s->net ? 0 : 1;
	struct sup_reload_wait *w = NULL;
	char sha[65];
	bool applied;

	if (ipc_policy_ack_decode(buf, len, &applied, sha))
		return -AGW_EPROTO;
	for (size_t i = 0; i < s->nwaits && !w; i++)
		if (s->waits[i].expect[ci] && !s->waits[i].answered[ci])
			w = &s->waits[i];
	if (!w)
		return -AGW_EPROTO;
	w->answered[ci] = true;
	if ((!applied || strcmp(sha, w->sha)) && !w->recorded) {
		char why[160];

		snprintf(why, sizeof(why), "the %s child did not apply it (%s)", c->role,
			 applied ? "it runs another policy" : "rejected");
		log_error("policy reload %.12s: %s", w->sha, why);
		sup_event(s, "policy", "reload", s->policy_path, "error", why, w->detail);
		sup_reload_outcome(s, w->sha, why);
		w->recorded = true;
	}
	sup_reload_pop(s);
	return 0;
}

/* Waits past their deadline become error rows (late answers still count
 * for the order). */
static void sup_reload_overdue(struct sup *s)
{
	int64_t now = ev_now_ms(s->loop);
	char why[160];

	for (size_t i = 0; i < s->nwaits; i++) {
		struct sup_reload_wait *w = &s->waits[i];

		if (w->recorded || now < w->deadline_ms)
			continue;
		snprintf(why, sizeof(why), "not applied by the %s child within %d ms",
			 w->expect[0] && !w->answered[0] ? "net" : "fs", SUP_RELOAD_ACK_MS);
		log_error("policy reload %.12s: %s", w->sha, why);
		sup_event(s, "policy", "reload", s->policy_path, "error", why, w->detail);
		sup_reload_outcome(s, w->sha, why);
		w->recorded = true;
	}
}

/* ---- approvals ---- */

static int sup_appr_answer(void *ctx, int child, const struct ipc_answer *a)
{
	struct sup *s = ctx;
	struct sup_child *c = child == 0 ? &s->net : &s->fs;
	uint8_t out[64 + IPC_ASK_WHO_MAX + IPC_ASK_REASON_MAX];
	size_t n;
	int rc;

	if (c->fd < 0)
		return -EPIPE;
	rc = ipc_answer_encode(a, out, sizeof(out), &n);
	if (!rc)
		rc = ipc_send(c->fd, IPC_ASK_ANSWER, out, n, NULL, 0);
	return rc;
}

static void sup_appr_emit(void *ctx, const struct aud_event *ev)
{
	sup_emit(ctx, ev);
}

static unsigned sup_appr_timeout(void *ctx)
{
	struct sup *s = ctx;

	return pol_ask_timeout(s->pol);
}

static bool sup_appr_allowed(void *ctx, const struct appr_item *it)
{
	struct sup *s = ctx;
	struct pol_decision d;

	if (it->q.kind == IPC_ASK_DNS)
		pol_check_dns_name(s->pol, it->q.subject, &d);
	else if (it->q.kind == IPC_ASK_CONNECT)
		pol_check_host(s->pol, it->q.subject, it->q.port, &d);
	else
		pol_check_fs(s->pol, it->q.subject, it->q.access, &d);
	return d.verdict == POL_ALLOW;
}

/* Replaces path with text, keeping its mode and owner (a temporary file
 * beside it, renamed over it). Returns 0 or -errno. Blocks. */
static int sup_write_policy(const char *path, const char *text)
{
	char tmp[PATH_MAX + 16];
	struct stat st;
	size_t n = strlen(text);
	int fd, rc = 0;

	if (stat(path, &st) < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.agentgw-tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, st.st_mode & 07777);
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n || fchmod(fd, st.st_mode & 07777) < 0 ||
	    fchown(fd, st.st_uid, st.st_gid) < 0 || fsync(fd) < 0)
		rc = -errno ? -errno : -EIO;
	close(fd);
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int sup_appr_add_rule(void *ctx, const struct appr_item *it, bool always, const char *rule,
			     const char *comment, char *msg, size_t cap)
{
	struct sup *s = ctx;
	bool fs = it->q.kind == IPC_ASK_FS;
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	char *text = NULL;
	int rc;

	if (fs && !pol_workspace(s->pol)) {
		snprintf(msg, cap, "the policy has no filesystem section");
		return -AGW_EINVAL;
	}
	if (always) {
		/* The file as it is now (it may have been edited since the
		 * start), plus the rule; it must load as it will be read. */
		rc = pol_load_file(s->policy_path, &p, &errs);
		if (rc) {
			snprintf(msg, cap,
				 "the policy file %s does not load now (%s); fix it first",
				 s->policy_path,
				 errs.n && errs.v[0].msg ? errs.v[0].msg : agw_strerror(rc));
			goto out;
		}
		rc = pol_text_add_rule(pol_text(p), fs, rule, comment, &text, msg, cap);
		if (rc)
			goto out;
		rc = sup_write_policy(s->policy_path, text);
		if (rc) {
			snprintf(msg, cap, "cannot write %s: %s", s->policy_path, agw_strerror(rc));
			goto out;
		}
		log_info("approval %u: rule %s written to %s", it->id, rule, s->policy_path);
	} else {
		struct sup_session_rule *v =
		    realloc(s->session, (s->nsession + 1) * sizeof(*s->session));

		if (!v) {
			rc = -AGW_ENOMEM;
			snprintf(msg, cap, "out of memory");
			goto out;
		}
		s->session = v;
		v[s->nsession].fs = fs;
		v[s->nsession].rule = strdup(rule);
		v[s->nsession].comment = strdup(comment ? comment : "");
		if (!v[s->nsession].rule || !v[s->nsession].comment) {
			free(v[s->nsession].rule);
			free(v[s->nsession].comment);
			rc = -AGW_ENOMEM;
			snprintf(msg, cap, "out of memory");
			goto out;
		}
		s->nsession++;
	}
	rc = sup_reload(s);
	if (rc) {
		if (!always) {
			s->nsession--;
			free(s->session[s->nsession].rule);
			free(s->session[s->nsession].comment);
		}
		snprintf(msg, cap, "the policy with the new rule was not applied (%s)",
			 agw_strerror(rc));
	}
out:
	pol_errors_free(&errs);
	pol_free(p);
	free(text);
	return rc;
}

/* ---- state dir ---- */

static void sup_write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		log_warn("cannot write %s", path);
	close(fd);
}

static void sup_state_path(struct sup *s)
{
	const char *run = getenv("AGENTGW_RUN_DIR"); /* tests isolate their state */

	if (!run || run[0] != '/')
		run = SUP_RUN_DIR;
	snprintf(s->state_dir, sizeof(s->state_dir), "%s/%s", run, s->name);
}

static void sup_state_dir(struct sup *s)
{
	char pid[32];

	sup_state_path(s);
	{
		char run[PATH_MAX];
		char *slash;

		snprintf(run, sizeof(run), "%s", s->state_dir);
		slash = strrchr(run, '/');
		if (slash && slash != run)
			*slash = '\0';
		mkdir(run, 0755);
	}
	if (mkdir(s->state_dir, 0755) < 0 && errno != EEXIST) {
		log_warn("cannot create %s: %s", s->state_dir, strerror(errno));
		s->state_dir[0] = '\0';
		return;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	sup_write_file(s->state_dir, "pid", pid);
	sup_write_file(s->state_dir, "policy", s->policy_path);
}

static void sup_state_dir_remove(struct sup *s)
{
	char path[PATH_MAX + 16];

	if (!s->state_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/pid", s->state_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/policy", s->state_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", s->state_dir, SUP_RELOAD_FILE);
	unlink(path);
	supguest_remove(&s->guest);
	rmdir(s->state_dir);
}

/* ---- lifecycle ---- */

int sup_new(const struct sup_config *c, struct sup **out, char *err, size_t errcap)
{
	struct sup *s = NULL;
	struct fw_config fc = {0};
	char dbpath[PATH_MAX];
	const char *db;
	int prefix = 0, rc;
	int udp = -1, tcp = -1, pfd = -1, p9fd = -1, vfd = -1;
	uint32_t h = 2166136261u;

	*out = NULL;
	err[0] = '\0';
	s = calloc(1, sizeof(*s));
	if (!s) {
		pol_free(c->pol);
		snprintf(err, errcap, "out of memory");
		return -AGW_ENOMEM;
	}
	s->pol = c->pol;
	s->net.role = "net";
	s->fs.role = "fs";
	s->net.s = s->fs.s = s;
	s->net.fd = s->fs.fd = -1;
	s->audit_ok = true;
	s->ev_buf = malloc(sizeof(*s->ev_buf));
	if (!s->ev_buf) {
		rc = -AGW_ENOMEM;
		snprintf(err, errcap, "out of memory");
		goto out;
	}
	if (!fw_name_valid(c->name) || !c->iface || strlen(c->iface) >= sizeof(s->iface)) {
		rc = -AGW_EINVAL;
		snprintf(err, errcap, "bad sandbox name '%s' (want [a-z0-9_-]{1,32}) or interface",
			 c->name ? c->name : "");
		goto out;
	}
	snprintf(s->name, sizeof(s->name), "%s", c->name);
	snprintf(s->iface, sizeof(s->iface), "%s", c->iface);
	if (!realpath(c->policy_path, s->policy_path))
		snprintf(s->policy_path, sizeof(s->policy_path), "%s", c->policy_path);
	snprintf(s->basedir, sizeof(s->basedir), "%s", s->policy_path);
	snprintf(s->basedir, sizeof(s->basedir), "%s", dirname(s->basedir));
	s->dns_port = c->dns_port ? c->dns_port : SUP_DNS_PORT;
	s->proxy_port = c->proxy_port ? c->proxy_port : SUP_PROXY_PORT;
	s->p9_port = c->p9_port ? c->p9_port : SUP_P9_PORT;
	for (const char *p = s->name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	s->nflog_group = c->nflog_group >= 0 ? c->nflog_group : (int)(1000 + h % 30000);

	rc = sup_iface_addr(s->iface, &s->gw_addr, &prefix);
	if (rc) {
		snprintf(err, errcap, "interface %s has no IPv4 address (%s)", s->iface,
			 agw_strerror(rc));
		goto out;
	}
	s->guest_addr = c->guest_addr;
	if (!s->guest_addr.s_addr && prefix == 30) {
		uint32_t g = ntohl(s->gw_addr.s_addr), net = g & ~3u;

		s->guest_addr.s_addr = htonl((g & 3u) == 1 ? net + 2 : net + 1);
	}

	rc = ev_new(&s->loop);
	if (rc) {
		snprintf(err, errcap, "event loop: %s", agw_strerror(rc));
		goto out;
	}
	/* Listeners first, so redirected connections queue until the child
	 * runs. */
	rc = sup_listen(SOCK_DGRAM, s->gw_addr, s->dns_port, &udp);
	if (!rc)
		rc = sup_listen(SOCK_STREAM, s->gw_addr, s->dns_port, &tcp);
	if (!rc)
		rc = sup_listen(SOCK_STREAM, s->gw_addr, s->proxy_port, &pfd);
	if (rc) {
		snprintf(err, errcap, "cannot listen on %s ports %u/%u: %s", inet_ntoa(s->gw_addr),
			 s->dns_port, s->proxy_port, agw_strerror(rc));
		goto out;
	}
	fc.name = s->name;
	fc.iface = s->iface;
	fc.gw_addr = s->gw_addr;
	fc.guest_addr = s->guest_addr;
	fc.dns_port = s->dns_port;
	fc.proxy_port = s->proxy_port;
	/* virtio-fs needs no TCP port: the guest reaches the fs child only
	 * through QEMU's vhost-user socket. */
	fc.p9_port = !c->no_fs && !c->vfs_sock && pol_workspace(s->pol) ? s->p9_port : 0;
	fc.nflog_group = (uint16_t)s->nflog_group;
	rc = fw_apply(&fc);
	if (rc) {
		snprintf(err, errcap, "nftables table for %s: %s", s->iface, agw_strerror(rc));
		goto out;
	}
	s->fw_applied = true;

	/* The CA and the credentials, and the guest folder, before the VM
	 * exists; the net child takes the key and the secrets in memory. */
	sup_state_path(s);
	rc = supguest_make(&s->guest, s->name, s->state_dir, s->pol, err, errcap);
	if (rc)
		goto out;
	rc = sup_fork_net(s, udp, tcp, pfd);
	supguest_release(&s->guest);
	if (rc) {
		snprintf(err, errcap, "cannot start the net child: %s", agw_strerror(rc));
		goto out;
	}
	/* Each child holds only its own listeners. */
	close(udp);
	close(tcp);
	close(pfd);
	udp = tcp = pfd = -1;
	if (fc.p9_port) {
		char a[64];

		snprintf(a, sizeof(a), "%s:%u", inet_ntoa(s->gw_addr), s->p9_port);
		rc = fsd_listen(a, &p9fd);
		if (rc) {
			snprintf(err, errcap, "cannot listen on %s for 9P: %s", a,
				 agw_strerror(rc));
			goto out;
		}
		rc = sup_fork_fs(s, p9fd, -1);
		if (rc) {
			snprintf(err, errcap, "cannot start the fs child: %s", agw_strerror(rc));
			goto out;
		}
		close(p9fd);
		p9fd = -1;
	} else if (!c->no_fs && c->vfs_sock && pol_workspace(s->pol)) {
		rc = fsd_vu_listen(c->vfs_sock, &vfd);
		if (rc) {
			snprintf(err, errcap, "cannot listen on %s for virtio-fs: %s", c->vfs_sock,
				 agw_strerror(rc));
			goto out;
		}
		rc = sup_fork_fs(s, -1, vfd);
		if (rc) {
			snprintf(err, errcap, "cannot start the fs child: %s", agw_strerror(rc));
			goto out;
		}
		close(vfd);
		vfd = -1;
	}

	/* Block our signals before the writer's thread exists, so it inherits
	 * the mask and they all arrive through the loop's signalfd. */
	if ((rc = ev_signal_add(s->loop, SIGINT, sup_on_term, s)) ||
	    (rc = ev_signal_add(s->loop, SIGTERM, sup_on_term, s)) ||
	    (rc = ev_signal_add(s->loop, SIGHUP, sup_on_hup, s)) ||
	    (rc = ev_signal_add(s->loop, SIGCHLD, sup_on_chld, s))) {
		snprintf(err, errcap, "signals: %s", agw_strerror(rc));
		goto out;
	}
	db = c->audit_db ? c->audit_db : pol_audit_db(s->pol);
	if (!db) {
		rc = aud_default_db_path(dbpath, sizeof(dbpath));
		if (rc) {
			snprintf(err, errcap, "no audit database path: %s", agw_strerror(rc));
			goto out;
		}
		db = dbpath;
		{
			char d[PATH_MAX];

			snprintf(d, sizeof(d), "%s", dbpath);
			mkdir(dirname(d), 0700);
		}
	}
	rc = aud_writer_new(db, &s->w);
	if (rc) {
		snprintf(err, errcap, "audit database %s: %s", db, agw_strerror(rc));
		goto out;
	}
	if (pol_audit_retention_days(s->pol)) {
		/* audit.retention_days, applied at start: older events go,
		 * each shortened chain keeps an anchor so it still verifies */
		int64_t rows = 0, days = pol_audit_retention_days(s->pol);
		int pr = aud_writer_prune(s->w, agw_now_us() - days * 86400 * 1000000LL, &rows);

		if (pr < 0)
			log_warn("audit database %s: retention of %lld days not applied: %s", db,
				 (long long)days, agw_strerror(pr));
		else if (rows)
			log_info("audit database %s: %lld events older than %lld days pruned", db,
				 (long long)rows, (long long)days);
	}
	rc = aud_writer_sandbox_start(s->w, s->name, pol_name(s->pol), pol_sha256(s->pol),
				      pol_text(s->pol), c->image, &s->sandbox_id);
	if (rc) {
		snprintf(err, errcap, "audit database %s: %s", db, agw_strerror(rc));
		goto out;
	}
	sup_event(s, "lifecycle", "start", s->iface, "allow", NULL, NULL);

	if ((rc = ev_add_fd(s->loop, s->net.fd, EV_READ, sup_child_wake, s)) ||
	    (s->fs.fd >= 0 && (rc = ev_add_fd(s->loop, s->fs.fd, EV_READ, sup_child_wake, s)))) {
		snprintf(err, errcap, "event loop: %s", agw_strerror(rc));
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	s->health_timer = ev_timer_add(s->loop, SUP_HEALTH_MS, sup_health_cb, s);
	sup_state_dir(s);
	if (s->state_dir[0]) {
		struct appr_ops ops = {.ctx = s,
				       .answer = sup_appr_answer,
				       .emit = sup_appr_emit,
				       .add_rule = sup_appr_add_rule,
				       .allowed = sup_appr_allowed,
				       .timeout_s = sup_appr_timeout};

		rc = appr_new(s->loop, s->state_dir, s->name, &ops, &s->appr);
		if (rc)
			log_warn("approvals socket in %s: %s; asked actions are denied",
				 s->state_dir, agw_strerror(rc));
	}
	log_info("gateway %s on %s: %s, dns :%u, proxy :%u%s, policy %s (%.12s)", s->name, s->iface,
		 inet_ntoa(s->gw_addr), s->dns_port, s->proxy_port, s->fs.pid > 0 ? (c->vfs_sock ? ", virtio-fs" : ", 9p") : "",
		 pol_name(s->pol), pol_sha256(s->pol));
	*out = s;
	s = NULL;
	rc = 0;
out:
	if (udp >= 0)
		close(udp);
	if (tcp >= 0)
		close(tcp);
	if (pfd >= 0)
		close(pfd);
	if (p9fd >= 0)
		close(p9fd);
	if (vfd >= 0)
		close(vfd);
	sup_free(s);
	return rc;
}

const char *sup_guest_dir(const struct sup *s)
{
	return s->guest.dir;
}

struct ev_loop *sup_loop(struct sup *s)
{
	return s->loop;
}

int sup_emit(struct sup *s, const struct aud_event *ev)
{
	struct aud_event e = *ev;

	if (!s->w)
		return -AGW_EINVAL;
	e.sandbox_id = s->sandbox_id;
	if (!e.ts)
		e.ts = agw_now_us();
	return sup_submit(s, &e);
}

void sup_set_denials_fd(struct sup *s, int fd)
{
	dfeed_free(s->dfeed);
	s->dfeed = NULL;
	if (fd >= 0 && dfeed_new(fd, &s->dfeed) < 0)
		log_warn("the guest's denials feed is off: out of memory");
}

int64_t sup_sandbox_id(const struct sup *s)
{
	return s->sandbox_id;
}

/* A child that closed its channel is usually dying: give it a moment, so
 * the reason names its signal or status, not just the closed channel. */
static void sup_settle_reason(struct sup *s)
{
	struct sup_child *cs[] = {&s->net, &s->fs};
	char why[160];
	int st;

	for (int i = 0; i < 50 && s->stop_weak; i++) {
		for (size_t k = 0; k < AGW_ARRAY_LEN(cs); k++) {
			if (cs[k]->pid <= 0 || waitpid(cs[k]->pid, &st, WNOHANG) != cs[k]->pid)
				continue;
			sup_child_status(cs[k], cs[k]->pid, st, why, sizeof(why));
			sup_set_stop_reason(s, false, "%s", why);
			cs[k]->pid = 0;
		}
		if (s->stop_weak)
			usleep(10000);
	}
}

int sup_run(struct sup *s)
{
	int rc;

	s->exit_code = 0;
	rc = ev_run(s->loop);
	sup_settle_reason(s);
	if (rc)
		return 1;
	return s->exit_code;
}

void sup_stop(struct sup *s)
{
	s->stopping = true;
	ev_stop(s->loop);
}

void sup_fail(struct sup *s, const char *reason)
{
	sup_set_stop_reason(s, false, "%s", reason);
	s->exit_code = 1;
	sup_stop(s);
}

const char *sup_stop_reason(const struct sup *s)
{
	return s && s->stop_reason[0] ? s->stop_reason : NULL;
}

void sup_set_stop_note(struct sup *s, const char *note)
{
	snprintf(s->stop_note, sizeof(s->stop_note), "%s", note ? note : "");
}

/* Reads every message c sent (sup_child_cb stops after 256), waiting for
 * the writer when its queue is full instead of holding (sup_audit_hold):
 * a child held back by backpressure may have filled its socket. */
static void sup_child_drain(struct sup *s, struct sup_child *c)
{
	uint64_t before;

	s->draining = true;
	do {
		before = c->nrecv;
		sup_child_cb(s->loop, c->fd, EV_READ, s);
	} while (c->fd >= 0 && c->nrecv != before);
	s->draining = false;
}

static void sup_reap_child(struct sup *s, struct sup_child *c)
{
	int st;

	if (c->fd >= 0) /* events still queued from the child */
		sup_child_drain(s, c);
	if (c->pid > 0) {
		pid_t pid = c->pid;
		bool gone = waitpid(pid, &st, WNOHANG) == pid;
		char why[160];

		if (!gone)
			kill(pid, SIGTERM);
		for (int i = 0; !gone && i < 300; i++) {
			if (waitpid(pid, &st, WNOHANG) == pid)
				gone = true;
			else
				usleep(10000);
		}
		if (!gone) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		} else if (s->stop_weak && !(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)) {
			/* It closed its channel by dying, not by our SIGTERM:
			 * say how. */
			sup_child_status(c, pid, st, why, sizeof(why));
			sup_set_stop_reason(s, false, "%s", why);
		}
		c->pid = 0;
	}
	if (c->fd >= 0) {
		sup_child_drain(s, c); /* events sent while stopping */
		if (c->fd >= 0) {
			ev_del_fd(s->loop, c->fd);
			close(c->fd);
			c->fd = -1;
		}
	}
}

void sup_free(struct sup *s)
{
	if (!s)
		return;
	dfeed_free(s->dfeed);
	s->dfeed = NULL;
	s->stopping = true;
	appr_free(s->appr); /* pending asks are denied while the children listen */
	s->appr = NULL;
	if (s->loop) {
		sup_reap_child(s, &s->net);
		sup_reap_child(s, &s->fs);
	}
	/* On stderr of `up` and `gateway` (supervisor.log when detached). */
	if (s->stop_reason[0])
		log_error("sandbox %s stopped: %s", s->name, s->stop_reason);
	if (s->fw_applied) {
		int rc = fw_remove(s->name);

		if (rc)
			log_error("cannot remove nftables table of %s: %s", s->name,
				  agw_strerror(rc));
	}
	if (s->w) {
		for (size_t i = 0; i < s->nwaits; i++)
			if (!s->waits[i].recorded)
				sup_event(s, "policy", "reload", s->policy_path, "error",
					  "not applied by the children before the sandbox stopped",
					  s->waits[i].detail);
		if (s->sandbox_id) {
			/* An abnormal stop says why (which child, signal or
			 * status); `up` and `gateway` print the same. */
			sup_event(s, "lifecycle", "stop", s->iface,
				  s->stop_reason[0] ? "error" : "allow",
				  s->stop_reason[0] ? s->stop_reason
				  : s->stop_note[0] ? s->stop_note
						    : NULL,
				  NULL);
			aud_writer_sandbox_stop(s->w, s->sandbox_id);
		}
		aud_writer_flush(s->w);
		if (spill_pending(s->spill) && spill_replay(s->spill, s->w) >= 0)
			aud_writer_flush(s->w);
		aud_writer_free(s->w);
	}
	if (spill_pending(s->spill))
		log_error("audit: %zu events could not be written; they stay in %s",
			  spill_pending(s->spill), spill_path(s->spill));
	spill_close(s->spill);
	if (s->lost)
		log_error("audit: %llu events were lost", (unsigned long long)s->lost);
	sup_state_dir_remove(s);
	if (s->loop) {
		ev_timer_del(s->loop, s->health_timer);
		ev_free(s->loop);
	}
	pol_free(s->pol);
	for (size_t i = 0; i < s->nsession; i++) {
		free(s->session[i].rule);
		free(s->session[i].comment);
	}
	free(s->session);
	free(s->ev_buf);
	free(s);
}
