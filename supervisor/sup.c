// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The supervisor (see sup.h). Children are forked before the audit writer's
 * thread exists, so they never inherit a lock held by it; their events wait
 * in the socketpair until the loop runs. Every message from a child is
 * validated (ipc_event_decode); a child that sends anything else is killed
 * and the sandbox stops, failing closed.
 *
 * This file is the core: helpers, forking the net child, signals and
 * timers, the state directory and the lifecycle. Reading the children's
 * channels is in sup_chan.c, the fs child's side in sup_fs.c, policy
 * reloads in sup_reload.c, the approvals glue in sup_appr.c (what they
 * share: sup_int.h).
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/aud.h"
#include "gateway/fs/fsd.h"
#include "gateway/fs/fsd_vu.h"
#include "gateway/net/dnsb.h"
#include "gateway/net/netd.h"
#include "ipc.h"
#include "log.h"
#include "priv.h"
#include "vmctl/fw.h"
#include "supervisor/appr.h"
#include "supervisor/dfeed.h"
#include "supervisor/spill.h"
#include "supervisor/supguest.h"
#include "sup_int.h"

#define SUP_HEALTH_MS 200
#define SUP_SPILL_FILE "audit-spill.bin"

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
int sup_submit(struct sup *s, const struct aud_event *ev)
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

void sup_event(struct sup *s, const char *kind, const char *op, const char *target,
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

static void sup_broadcast(struct sup *s, unsigned type, const void *buf, size_t len)
{
	struct sup_child *cs[SUP_KIDS_MAX];
	size_t k = sup_kids(s, cs);

	for (size_t i = 0; i < k; i++)
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
void sup_set_stop_reason(struct sup *s, bool weak, const char *fmt, ...)
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

/*
 * Fork child c with a socketpair to it. In the child: returns 0 and its end
 * in *fd, with every other file descriptor closed but stdio and the nkeep
 * in keep (its listeners): not the supervisor's epoll set, the audit
 * database, the other child's channel or anything a later version opens
 * before forking; logging as c->role, named agentgw-<role> (ps, pgrep -x)
 * and a SIGTERM when the supervisor dies. In the supervisor: records pid
 * and fd in c and returns 1. -errno when it cannot.
 */
int sup_spawn(struct sup_child *c, int *fd, const int *keep, size_t nkeep)
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
		{
			/* ps and pgrep -x tell them apart: agentgw-net, agentgw-net1, agentgw-fs */
			char comm[16];

			snprintf(comm, sizeof(comm), "agentgw-%s", c->role);
			prctl(PR_SET_NAME, comm);
		}
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

/* want, or (0) one per online CPU up to SUP_NET_WORKERS_AUTO; 1 to
 * SUP_NET_MAX. */
static unsigned sup_net_workers(unsigned want)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!want)
		want = cpus > 0 ? (unsigned)AGW_MIN(cpus, SUP_NET_WORKERS_AUTO) : 1;
	return AGW_MAX(1u, AGW_MIN(want, (unsigned)SUP_NET_MAX));
}

/*
 * Forks the net workers: each its own process and loop on the shared proxy
 * listener; worker 0 also serves DNS and reads NFLOG. The DNS bindings
 * worker 0 records are in memory every worker maps (dnsb_new_shared), so a
 * connection any worker accepts is judged by the same bindings.
 */
static int sup_fork_net(struct sup *s, unsigned workers, int udp, int tcp, int pfd)
{
	struct dnsb *dnsb;
	int rc = dnsb_new_shared(NETD_DNSB_MAX, &dnsb);
	long *conns = mmap(NULL, sizeof(*conns), PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (conns == MAP_FAILED) {
		dnsb_free(dnsb);
		return -AGW_ENOMEM;
	}
	if (rc) {
		munmap(conns, sizeof(*conns));
		return rc;
	}
	s->nnet = 0;
	for (unsigned i = 0; i < workers; i++) {
		const int keep[] = {pfd, udp, tcp};
		int fd;

		rc = sup_spawn(&s->net[i], &fd, keep, i ? 1 : AGW_ARRAY_LEN(keep));
		if (rc == 0) {
			struct netd_config nc = {.ipc_fd = fd,
						 .dns_udp_fd = i ? -1 : udp,
						 .dns_tcp_fd = i ? -1 : tcp,
						 .proxy_fd = pfd,
						 .nflog_group = i ? -1 : s->nflog_group,
						 .dnsb = dnsb,
						 .conns = conns,
						 .pol = s->pol,
						 .policy_path = s->policy_path,
						 .drop_user = PRIV_USER_DEFAULT,
						 .ca = s->guest.ca,
						 .creds = s->guest.creds};

			_exit(netd_run(&nc));
		}
		if (rc < 0)
			break;
		s->nnet++;
	}
	/* the workers have it; nothing of the guest's in the supervisor */
	dnsb_free(dnsb);
	munmap(conns, sizeof(*conns));
	return rc < 0 ? rc : 0;
}

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
	struct sup_child *cs[SUP_KIDS_MAX];
	size_t k = sup_kids(s, cs);
	char why[160];
	int st;

	(void)signo;
	for (size_t i = 0; i < k; i++) {
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

/* ---- state dir ---- */

void sup_write_file(const char *dir, const char *name, const char *text)
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
	s->nnet = 1;
	for (size_t i = 0; i < SUP_NET_MAX; i++) {
		/* log lines say which worker: net, net1, net2... */
		static const char *const roles[SUP_NET_MAX] = {"net",  "net1", "net2", "net3",
							       "net4", "net5", "net6", "net7"};

		s->net[i].role = roles[i];
		s->net[i].s = s;
		s->net[i].fd = -1;
	}
	s->fs.role = "fs";
	s->fs.s = s;
	s->fs.fd = -1;
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
	rc = sup_fork_net(s, sup_net_workers(c->net_workers), udp, tcp, pfd);
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

	for (size_t i = 0; i < s->nnet && !rc; i++)
		rc = ev_add_fd(s->loop, s->net[i].fd, EV_READ, sup_child_wake, s);
	if (rc || (s->fs.fd >= 0 && (rc = ev_add_fd(s->loop, s->fs.fd, EV_READ, sup_child_wake, s)))) {
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
	struct sup_child *cs[SUP_KIDS_MAX];
	size_t nk = sup_kids(s, cs);
	char why[160];
	int st;

	for (int i = 0; i < 50 && s->stop_weak; i++) {
		for (size_t k = 0; k < nk; k++) {
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

/* Takes the events still queued from a child, then asks it to stop. A
 * child that is already gone keeps the status of its own death. */
static void sup_term_child(struct sup *s, struct sup_child *c)
{
	if (c->fd >= 0)
		sup_child_drain(s, c);
	if (c->pid > 0)
		kill(c->pid, SIGTERM);
}

/* Waits for a child sup_term_child asked to stop (up to 3 s, then
 * SIGKILL) and closes its channel after the events it sent meanwhile. */
static void sup_reap_child(struct sup *s, struct sup_child *c)
{
	int st;

	if (c->pid > 0) {
		pid_t pid = c->pid;
		bool gone = false;
		char why[160];

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
	if (s->loop) { /* every child is told first: they stop side by side */
		struct sup_child *kids[SUP_KIDS_MAX];
		size_t nk = sup_kids(s, kids);

		for (size_t i = 0; i < nk; i++)
			sup_term_child(s, kids[i]);
		for (size_t i = 0; i < nk; i++)
			sup_reap_child(s, kids[i]);
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
