// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The net child's main loop (see netd.h): wires the DNS server, the proxy
 * and the NFLOG drop reader to one ev loop, one resolver and one bindings
 * table; talks to the supervisor (audit events out; audit state and policy
 * updates in); swaps policies between connections.
 */
#include "netd.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cred.h"
#include "dnsb.h"
#include "dnss.h"
#include "hostaddr.h"
#include "ipc.h"
#include "log.h"
#include "priv.h"
#include "nlog.h"
#include "prx.h"
#include "res.h"
#include "tlsi.h"

#define NETD_STATS_MS 10000
#define NETD_LAZY_MS 10 /* longest wait of a batch without an action's event */
#define NETD_BLOCK_MS 2000 /* longest pause of intake for a full audit channel */

struct netd_drops {
	struct netd *n;
	struct nlog *nl;
	struct nlog_ratelimit rl;
	uint64_t timer;
};

static struct netd_pol *netd_pol_wrap(struct pol *p)
{
	struct netd_pol *np = calloc(1, sizeof(*np));

	if (!np)
		return NULL;
	np->p = p;
	np->refs = 1;
	return np;
}

struct netd_pol *netd_pol_get(struct netd *n)
{
	n->pol->refs++;
	return n->pol;
}

void netd_pol_put(struct netd_pol *p)
{
	if (!p || --p->refs)
		return;
	pol_free(p->p);
	free(p);
}

void netd_event_init(struct aud_event *ev, const char *kind, const char *op)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts = agw_now_us();
	ev->kind = kind;
	ev->op = op;
	ev->bytes_up = ev->bytes_down = ev->duration_us = -1;
}

/*
 * Audit events leave in one message per pass of the loop (IPC_AUDIT_BATCH)
 * instead of one each, so the supervisor wakes once per pass, not once per
 * event. Why an action is still recorded before it happens:
 *  - an event is appended to n->batch before the action it records is
 *    taken (netd_audit_action returns first), in the loop's only thread;
 *    the decision to go ahead is taken on the state known then (writer
 *    healthy, no batch waiting), as before;
 *  - a batch with an action's event goes to the supervisor's socket before
 *    the loop sleeps (the last before-sleep hook, netd_flush_hook), at once
 *    when it is full, and before any other message to the supervisor
 *    (order kept); a batch of records of what already happened or was
 *    refused only (close, drop, deny) may wait NETD_LAZY_MS for the next
 *    action's batch, since nothing proceeds on them; DNS replies
 *    over UDP wait for the end of the pass too and leave after the batch
 *    (dnss calls netd_audit_flush first);
 *  - between an action and the end of its pass the event is in the child's
 *    memory only: the pass runs no blocking call, and only the net child's
 *    death inside it (a crash) would lose that pass's events; the
 *    supervisor then sees the channel close and ends the sandbox;
 *  - if the socket is full (-EAGAIN: the supervisor holds back because its
 *    writer is behind) the batch is kept and retried when the socket is
 *    writable; meanwhile (n->ipc_blocked) no new DNS query is read and no
 *    connection accepted (netd_intake: they wait in the kernel), an action
 *    that can wait for its event is held (netd_audit_action_held: a UDP
 *    answer leaves after the batch) and any other is denied. After
 *    NETD_BLOCK_MS (n->ipc_stuck) intake resumes and every new action is
 *    denied, the same fail-closed rule as a failing writer; an event that
 *    does not fit at all denies its action as before.
 * Without a batch (n->batch NULL: unit tests) each event is sent alone.
 */
static void netd_intake(struct netd *n, bool on)
{
	dnss_intake(n->dnss, on);
	prx_intake(n->prx, on);
}

/* Frees the proxy and the DNS server; netd_intake leaves them alone then
 * (their frees may flush close records into a full channel). */
static void netd_intake_free(struct netd *n)
{
	struct prx *px = n->prx;
	struct dnss *d = n->dnss;

	n->prx = NULL;
	n->dnss = NULL;
	prx_free(px);
	dnss_free(d);
}

static void netd_block_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct netd *n = ctx;

	(void)loop;
	(void)id;
	n->block_timer = 0;
	n->ipc_stuck = true;
	log_warn("audit channel full for %d ms: denying new actions until it drains",
		 NETD_BLOCK_MS);
	netd_intake(n, true);
}

int netd_audit_flush(struct netd *n)
{
	int rc;

	if (!n->batch || !n->batch->n)
		return 0;
	rc = ipc_batch_send(n->ipc_fd, n->batch);
	if (rc == 0) {
		n->batch_urgent = false;
		if (n->lazy_timer) {
			ev_timer_del(n->loop, n->lazy_timer);
			n->lazy_timer = 0;
		}
		if (n->ipc_blocked) {
			n->ipc_blocked = false;
			ev_mod_fd(n->loop, n->ipc_fd, EV_READ);
			if (n->block_timer)
				ev_timer_del(n->loop, n->block_timer);
			n->block_timer = 0;
			if (n->ipc_stuck)
				log_info("audit channel drained: new actions allowed again");
			else
				netd_intake(n, true);
			n->ipc_stuck = false;
		}
		return 0;
	}
	if (!n->ipc_blocked) {
		n->ipc_blocked = true;
		ev_mod_fd(n->loop, n->ipc_fd, EV_READ | EV_WRITE);
		n->block_timer =
		    rc == -EAGAIN ? ev_timer_add(n->loop, NETD_BLOCK_MS, netd_block_cb, n) : 0;
		if (n->block_timer) {
			log_debug("audit channel full: intake paused until it drains");
			netd_intake(n, false);
		} else {
			n->ipc_stuck = true;
			log_warn("audit channel full (%s): denying new actions until it drains",
				 agw_strerror(rc));
		}
	}
	if (rc != -EAGAIN) { /* the supervisor is gone: the batch cannot leave */
		n->batch->n = 0;
		n->batch->len = 0;
	}
	return rc;
}

static void netd_lazy_cb(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct netd *n = ctx;

	(void)loop;
	(void)id;
	n->lazy_timer = 0;
	netd_audit_flush(n);
}

/* Events of actions go now; a batch of records of what already happened
 * or was refused (netd_audit: a close, a drop, a denial) may wait up to
 * NETD_LAZY_MS for the next action's batch: nothing goes ahead on them. */
static void netd_flush_hook(struct ev_loop *loop, void *ctx)
{
	struct netd *n = ctx;

	/* The gateway's own addresses: re-read once per pass, not per
	 * answer or dial (hostaddr.h). */
	hostaddr_pass(n->hostaddr);
	if (!n->batch || !n->batch->n)
		return;
	if (n->batch_urgent || n->ipc_blocked) {
		netd_audit_flush(n);
		return;
	}
	if (!n->lazy_timer)
		n->lazy_timer = ev_timer_add(loop, NETD_LAZY_MS, netd_lazy_cb, n);
	if (!n->lazy_timer)
		netd_audit_flush(n);
}

/* Queues ev (appends it to the batch, or sends it alone without one).
 * Returns 0 or -errno / -AGW_ETOOBIG when it could not be queued. */
static int netd_send_event(struct netd *n, const struct aud_event *ev)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (n->batch) {
		rc = ipc_batch_add(n->batch, ev);
		if (rc == -AGW_ETOOBIG && n->batch->n && (rc = netd_audit_flush(n)) == 0)
			rc = ipc_batch_add(n->batch, ev);
	} else {
		buf = malloc(IPC_PAYLOAD_MAX);
		rc = buf ? ipc_event_encode(ev, buf, IPC_PAYLOAD_MAX, &len) : -AGW_ENOMEM;
		if (!rc)
			rc = ipc_send(n->ipc_fd, IPC_AUDIT_EVENT, buf, len, NULL, 0);
		free(buf);
	}
	if (rc) {
		n->stats[NETD_ST_AUDIT_FULL]++;
		log_warn("audit event %s/%s %s not sent: %s", ev->kind, ev->op,
			 ev->target ? ev->target : "", agw_strerror(rc));
	}
	return rc;
}

/* The supervisor's writer works and every queued event can leave. */
static bool netd_audit_healthy(const struct netd *n)
{
	return n->audit_ok && !n->ipc_blocked;
}

int netd_audit(struct netd *n, const struct aud_event *ev)
{
	if (netd_send_event(n, ev))
		return -AGW_EFULL;
	return netd_audit_healthy(n) ? 0 : -AGW_EFULL;
}

/* An action the event lets go ahead is denied instead: say so, once. */
static void netd_mark_denied(struct aud_event *ev)
{
	ev->decision = "error";
	ev->reason = "audit unavailable: action denied";
}

bool netd_audit_holding(const struct netd *n)
{
	return n->ipc_blocked && !n->ipc_stuck;
}

static int netd_audit_action_do(struct netd *n, struct aud_event *ev, bool can_hold)
{
	bool goes_ahead = strcmp(ev->decision, "deny") && strcmp(ev->decision, "error");
	bool held = can_hold && n->audit_ok && netd_audit_holding(n);
	bool ok = held || netd_audit_healthy(n);

	n->batch_urgent = true;
	/* Fail closed: while the supervisor cannot write, nothing goes ahead.
	 * The event still goes out (the supervisor spills it to disk later). */
	if (goes_ahead && !ok)
		netd_mark_denied(ev);
	if (netd_send_event(n, ev)) {
		if (goes_ahead && ok) {
			netd_mark_denied(ev);
			netd_send_event(n, ev); /* best effort: the socket is full */
		}
		return -AGW_EFULL;
	}
	return ok && (held || netd_audit_healthy(n)) ? 0 : -AGW_EFULL;
}

int netd_audit_action(struct netd *n, struct aud_event *ev)
{
	return netd_audit_action_do(n, ev, false);
}

int netd_audit_action_held(struct netd *n, struct aud_event *ev)
{
	return netd_audit_action_do(n, ev, true);
}

/* ---- NFLOG drops ---- */

static void netd_drop_summary(struct netd_drops *d)
{
	uint64_t k = nlog_ratelimit_take_suppressed(&d->rl);
	struct aud_event ev;
	char reason[96];

	if (!k)
		return;
	d->n->stats[NETD_ST_DROPS_LIMITED] += k;
	netd_event_init(&ev, "net", "drop");
	snprintf(reason, sizeof(reason), "%llu more dropped packets not recorded (rate limit)",
		 (unsigned long long)k);
	ev.target = "*";
	ev.decision = "deny";
	ev.reason = reason;
	netd_audit(d->n, &ev);
}

static void netd_drop_cb(void *ctx, const struct pkt_info *pi, const char *prefix)
{
	struct netd_drops *d = ctx;
	struct aud_event ev;
	char dst[PKT_ADDR_STRLEN], src[PKT_ADDR_STRLEN], json[256], name[64];
	const char *why = NULL;

	d->n->stats[NETD_ST_DROPS]++;
	if (!nlog_ratelimit_allow(&d->rl, agw_mono_us()))
		return;
	pkt_format_dst(pi, dst, sizeof(dst));
	pkt_format_src(pi, src, sizeof(src));
	pkt_format_json(pi, json, sizeof(json));
	nlog_prefix_parse(prefix, name, sizeof(name), &why);
	netd_event_init(&ev, "net", "drop");
	ev.target = dst;
	ev.decision = "deny";
	ev.rule = NULL;
	ev.reason = !why			? "dropped by the gateway firewall"
		    : strcmp(why, "v6") == 0	? "IPv6 is not routed"
		    : strcmp(why, "fwd") == 0	? "the sandbox is not routed"
		    : strcmp(why, "spoof") == 0 ? "spoofed source address"
						: "not a gateway service";
	ev.src = src;
	ev.dst = dst;
	ev.detail = json;
	netd_audit(d->n, &ev);
}

static void netd_drops_timer(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct netd_drops *d = ctx;

	(void)id;
	netd_drop_summary(d);
	d->timer = ev_timer_add(loop, 1000, netd_drops_timer, d);
}

static void netd_nlog_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct netd_drops *d = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	if (nlog_read(d->nl, netd_drop_cb, d) < 0)
		log_warn("nflog read failed");
}

static void netd_hostaddr_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct netd *n = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	hostaddr_sync(n->hostaddr);
}

/* ---- supervisor messages ---- */

static void netd_policy_update(struct netd *n, const uint8_t *buf, size_t len)
{
	struct ipc_policy *ip = malloc(sizeof(*ip));
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	struct netd_pol *np;
	uint8_t ack[IPC_POLICY_ACK_LEN];
	bool applied = false;
	int rc;

	if (!ip)
		goto out;
	if (ipc_policy_decode(buf, len, ip)) {
		log_error("bad policy update from the supervisor");
		goto out;
	}
	rc = pol_load_buf(ip->path, ip->text, ip->text_len, ip->basedir[0] ? ip->basedir : NULL, &p,
			  &errs);
	if (rc) {
		log_error("policy update rejected: %s", agw_strerror(rc));
		goto out;
	}
	np = netd_pol_wrap(p);
	if (!np) {
		pol_free(p);
		goto out;
	}
	netd_pol_put(n->pol);
	n->pol = np;
	applied = true;
	log_info("policy %s (%.12s) in effect for new connections", pol_name(p), pol_sha256(p));
out:
	/* The supervisor records the reload as applied only on this answer. */
	ipc_policy_ack_encode(applied, applied ? pol_sha256(n->pol->p) : NULL, ack);
	netd_audit_flush(n); /* the events before the answer stay before it */
	if (ipc_send(n->ipc_fd, IPC_POLICY_APPLIED, ack, sizeof(ack), NULL, 0))
		log_warn("cannot answer the policy update");
	pol_errors_free(&errs);
	free(ip);
}

static void netd_ipc_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct netd *n = ctx;
	static uint8_t buf[IPC_PAYLOAD_MAX];

	if (events & EV_WRITE)
		netd_audit_flush(n);
	for (;;) {
		unsigned type;
		size_t len;
		int rc = ipc_recv(fd, &type, buf, sizeof(buf), &len, NULL, NULL);

		if (rc == -EAGAIN)
			return;
		if (rc) {
			if (rc != -EPIPE)
				log_error("supervisor channel: %s", agw_strerror(rc));
			ev_stop(loop);
			return;
		}
		switch (type) {
		case IPC_AUDIT_STATE:
			if (len == 1) {
				if (n->audit_ok != (buf[0] == 1))
					log_warn("audit %s", buf[0] == 1
								 ? "healthy again"
								 : "failing: denying new actions");
				n->audit_ok = buf[0] == 1;
			}
			break;
		case IPC_POLICY_UPDATE:
			netd_policy_update(n, buf, len);
			break;
		case IPC_ASK_ANSWER:
			if (netd_ask_answer(n, buf, len))
				log_error("bad approval answer from the supervisor");
			break;
		default:
			log_warn("unexpected %s message from the supervisor", ipc_type_str(type));
			break;
		}
	}
}

static void netd_stats_timer(struct ev_loop *loop, uint64_t id, void *ctx)
{
	struct netd *n = ctx;

	(void)id;
	netd_audit_flush(n);
	ipc_send(n->ipc_fd, IPC_STATS, n->stats, sizeof(n->stats), NULL, 0);
	ev_timer_add(loop, NETD_STATS_MS, netd_stats_timer, n);
}

static void netd_on_term(struct ev_loop *loop, int signo, void *ctx)
{
	(void)signo;
	(void)ctx;
	ev_stop(loop);
}

/* No file but /dev/null (the proxy's spare fd), then the allow-list.
 * TLS inspection needs nothing more: tlsi_new loaded the roots and
 * upstream_ca before, and OpenSSL's randomness comes from getrandom. */
static int netd_confine(void)
{
	int rc = priv_landlock(-1, true);

	if (rc == -EOPNOTSUPP)
		log_warn("landlock unavailable: the net child can still open files as nobody");
	else if (rc < 0)
		return rc;
	return priv_seccomp(PRIV_CHILD_NET);
}

int netd_run(const struct netd_config *c)
{
	struct netd n = {0};
	struct netd_drops drops = {0};
	const char *const *ups = NULL;
	size_t nups;
	int rc, code = 1;
	int dns_udp = c->dns_udp_fd, dns_tcp = c->dns_tcp_fd, pfd = c->proxy_fd;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, SIG_IGN); /* the supervisor decides when we stop */
	n.ipc_fd = c->ipc_fd;
	n.audit_ok = true;
	n.creds = c->creds;
	if (c->ca) {
		char err[300];

		/* Roots and upstream_ca are read now, while files can be opened. */
		rc = tlsi_new(c->ca, pol_upstream_ca(c->pol), &n.tlsi, err, sizeof(err));
		if (rc) {
			log_error("TLS inspection: %s", err);
			pol_free(c->pol);
			goto out;
		}
	}
	n.pol = netd_pol_wrap(c->pol);
	if (!n.pol) {
		pol_free(c->pol);
		goto out;
	}
	rc = ev_new(&n.loop);
	if (rc)
		goto out;
	nups = pol_dns_upstreams(n.pol->p, &ups);
	rc = res_new(n.loop, ups, nups, &n.res);
	if (rc) {
		log_error("resolver: %s", agw_strerror(rc));
		goto out;
	}
	n.conns = c->conns ? c->conns : &n.conns_own;
	if (c->dnsb)
		n.dnsb = c->dnsb;
	else if ((rc = dnsb_new(NETD_DNSB_MAX, &n.dnsb)))
		goto out;
	/* Fail closed: without the list, the gateway host could be dialled. */
	rc = hostaddr_new(&n.hostaddr);
	if (!rc)
		rc = ev_add_fd(n.loop, hostaddr_fd(n.hostaddr), EV_READ, netd_hostaddr_cb, &n);
	if (rc) {
		log_error("cannot read the gateway's own addresses: %s", agw_strerror(rc));
		goto out;
	}
	rc = dnss_new(&n, dns_udp, dns_tcp, &n.dnss);
	dns_udp = dns_tcp = -1;
	if (rc) {
		log_error("dns server: %s", agw_strerror(rc));
		goto out;
	}
	rc = prx_new(&n, pfd, &n.prx);
	pfd = -1;
	if (rc) {
		log_error("proxy: %s", agw_strerror(rc));
		goto out;
	}
	if (c->nflog_group >= 0) {
		drops.n = &n;
		nlog_ratelimit_init(&drops.rl, NLOG_RATE_DEFAULT, NLOG_BURST_DEFAULT,
				    agw_mono_us());
		rc = nlog_open((uint16_t)c->nflog_group, &drops.nl);
		if (rc) {
			log_warn("nflog group %d: %s; drops will not be recorded", c->nflog_group,
				 agw_strerror(rc));
		} else {
			ev_add_fd(n.loop, nlog_fd(drops.nl), EV_READ, netd_nlog_cb, &drops);
			drops.timer = ev_timer_add(n.loop, 1000, netd_drops_timer, &drops);
			n.nlog = drops.nl;
		}
	}
	rc = ev_add_fd(n.loop, n.ipc_fd, EV_READ, netd_ipc_cb, &n);
	if (rc)
		goto out;
	/* Everything privileged is open: parse the guest's bytes as nobody. */
	if (c->drop_user && ((rc = priv_drop(c->drop_user)) < 0 || (rc = netd_confine()) < 0)) {
		log_error("cannot drop privileges to %s: %s", c->drop_user, agw_strerror(rc));
		goto out;
	}
	ev_signal_add(n.loop, SIGTERM, netd_on_term, NULL);
	ev_timer_add(n.loop, NETD_STATS_MS, netd_stats_timer, &n);
	/* The last hook: the events the other hooks queue go in this pass. */
	n.batch = malloc(sizeof(*n.batch));
	if (n.batch) {
		n.batch->n = 0;
		n.batch->len = 0;
		if (ev_before_sleep(n.loop, netd_flush_hook, &n)) {
			free(n.batch);
			n.batch = NULL;
		}
	}
	ipc_send(n.ipc_fd, IPC_READY, NULL, 0, NULL, 0);
	log_debug("net child ready");
	rc = ev_run(n.loop);
	code = rc ? 1 : 0;
out:
	netd_intake_free(&n);
	netd_ask_free_all(&n);
	if (drops.nl) {
		netd_drop_summary(&drops);
		ev_del_fd(n.loop, nlog_fd(drops.nl));
		nlog_free(drops.nl);
	}
	res_free(n.res);
	dnsb_free(n.dnsb);
	if (n.hostaddr) {
		ev_del_fd(n.loop, hostaddr_fd(n.hostaddr));
		hostaddr_free(n.hostaddr);
	}
	netd_audit_flush(&n); /* the close rows of the sessions ended above */
	if (n.block_timer)
		ev_timer_del(n.loop, n.block_timer);
	free(n.batch);
	netd_pol_put(n.pol);
	tlsi_free(n.tlsi);
	cred_set_free(n.creds);
	ev_free(n.loop);
	if (dns_udp >= 0)
		close(dns_udp);
	if (dns_tcp >= 0)
		close(dns_tcp);
	if (pfd >= 0)
		close(pfd);
	close(c->ipc_fd);
	return code;
}
