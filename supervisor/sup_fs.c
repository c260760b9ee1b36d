// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fs child as the supervisor forks it (see sup_int.h): sup_fork_fs
 * starts fsd_run on the 9P or virtio-fs listener, and the callbacks here
 * are the child's side of its channel to the supervisor: audit events
 * and approval requests out, the audit writer's state, approval answers
 * and policy updates in. Everything here but sup_fork_fs's parent side
 * runs in the fs child.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/fs/fsd.h"
#include "ipc.h"
#include "log.h"
#include "priv.h"
#include "sup_int.h"

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

int sup_fork_fs(struct sup *s, int lfd, int vfd)
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
