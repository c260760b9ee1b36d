// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Supervisor <-> child message framing and the tagged payload encodings for
 * audit events and policy updates (see ipc.h). The receive side is written
 * for a hostile sender: every length is checked against what arrived, and
 * fds that come with a bad message are closed.
 */
#include "ipc.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

enum ipc_tag {
	IPC_T_KIND = 1,
	IPC_T_OP,
	IPC_T_TARGET,
	IPC_T_DECISION,
	IPC_T_RULE,
	IPC_T_REASON,
	IPC_T_SRC,
	IPC_T_DST,
	IPC_T_DETAIL,
	IPC_T_TS,
	IPC_T_UP,
	IPC_T_DOWN,
	IPC_T_DUR,
	IPC_T_SANDBOX,
	IPC_T_LAST
};

enum ipc_ptag { IPC_P_PATH = 1, IPC_P_BASEDIR, IPC_P_TEXT, IPC_P_LAST };

const char *ipc_type_str(unsigned type)
{
	switch (type) {
	case IPC_AUDIT_EVENT:
		return "audit-event";
	case IPC_AUDIT_STATE:
		return "audit-state";
	case IPC_POLICY_UPDATE:
		return "policy-update";
	case IPC_READY:
		return "ready";
	case IPC_STATS:
		return "stats";
	case IPC_POLICY_APPLIED:
		return "policy-applied";
	case IPC_ASK:
		return "ask";
	case IPC_ASK_ANSWER:
		return "ask-answer";
	case IPC_AUDIT_BATCH:
		return "audit-batch";
	default:
		return "unknown";
	}
}

int ipc_pair(int sv[2])
{
	int sz = IPC_SNDBUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	/* A burst of events must not look like a full queue (which denies
	 * actions): ask for a deep buffer, above wmem_max when privileged. */
	for (int i = 0; i < 2; i++)
		if (setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
			setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return 0;
}

int ipc_send(int fd, unsigned type, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	uint8_t hdr[IPC_HDR_LEN];
	struct iovec iov[2];
	struct msghdr msg = {0};
	ssize_t n;

	if (len > IPC_PAYLOAD_MAX || nfds > IPC_MAX_FDS || type == 0 || type >= IPC_TYPE_LAST)
		return -AGW_ETOOBIG;
	hdr[0] = (uint8_t)type;
	hdr[1] = (uint8_t)(type >> 8);
	hdr[2] = 0;
	hdr[3] = 0;
	hdr[4] = (uint8_t)len;
	hdr[5] = (uint8_t)(len >> 8);
	hdr[6] = (uint8_t)(len >> 16);
	hdr[7] = (uint8_t)(len >> 24);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)buf;
	iov[1].iov_len = len;
	msg.msg_iov = iov;
	msg.msg_iovlen = len ? 2 : 1;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)n != IPC_HDR_LEN + len)
		return -EPIPE; /* SEQPACKET is all or nothing; be safe */
	return 0;
}

static void ipc_close_fds(int *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] >= 0)
			close(v[i]);
}

int ipc_recv(int fd, unsigned *type, void *buf, size_t cap, size_t *len, int *fds, size_t *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
		struct cmsghdr align;
	} cbuf;
	uint8_t hdr[IPC_HDR_LEN];
	struct iovec iov[2];
	struct msghdr msg = {0};
	int got[IPC_MAX_FDS];
	size_t ngot = 0, plen;
	ssize_t n;
	int rc;

	*type = 0;
	*len = 0;
	if (nfds)
		*nfds = 0;
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = buf;
	iov[1].iov_len = cap;
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	do
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && ngot < IPC_MAX_FDS; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (msg.msg_flags & MSG_CTRUNC) {
		rc = -AGW_EPROTO;
		goto bad;
	}
	if (n < IPC_HDR_LEN) {
		rc = -AGW_EPROTO;
		goto bad;
	}
	plen = (size_t)hdr[4] | (size_t)hdr[5] << 8 | (size_t)hdr[6] << 16 | (size_t)hdr[7] << 24;
	if (msg.msg_flags & MSG_TRUNC) {
		rc = plen > cap ? -AGW_ETOOBIG : -AGW_EPROTO;
		goto bad;
	}
	if (plen != (size_t)n - IPC_HDR_LEN || plen > IPC_PAYLOAD_MAX) {
		rc = -AGW_EPROTO;
		goto bad;
	}
	*type = (unsigned)hdr[0] | (unsigned)hdr[1] << 8;
	if (*type == 0 || *type >= IPC_TYPE_LAST || hdr[2] || hdr[3]) {
		*type = 0;
		rc = -AGW_EPROTO;
		goto bad;
	}
	if (ngot && !fds) {
		ipc_close_fds(got, ngot);
		ngot = 0;
	}
	if (ngot) {
		memcpy(fds, got, ngot * sizeof(int));
		*nfds = ngot;
	}
	*len = plen;
	return 0;
bad:
	ipc_close_fds(got, ngot);
	return rc;
}

/* ---- tagged fields ---- */

static int ipc_put(uint8_t *out, size_t cap, size_t *off, unsigned tag, const void *v, size_t n)
{
	if (n > 0xffff || cap - *off < 3 + n || *off > cap)
		return -AGW_ETOOBIG;
	out[*off] = (uint8_t)tag;
	out[*off + 1] = (uint8_t)n;
	out[*off + 2] = (uint8_t)(n >> 8);
	if (n)
		memcpy(out + *off + 3, v, n);
	*off += 3 + n;
	return 0;
}

static int ipc_put_str(uint8_t *out, size_t cap, size_t *off, unsigned tag, const char *s,
		       size_t max)
{
	if (!s)
		return 0;
	return ipc_put(out, cap, off, tag, s, strnlen(s, max));
}

static int ipc_put_i64(uint8_t *out, size_t cap, size_t *off, unsigned tag, int64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)((uint64_t)v >> (8 * i));
	return ipc_put(out, cap, off, tag, b, 8);
}

int ipc_event_encode(const struct aud_event *ev, uint8_t *out, size_t cap, size_t *len)
{
	const char *strs[] = {ev->kind,	  ev->op,  ev->target, ev->decision, ev->rule,
			      ev->reason, ev->src, ev->dst,    ev->detail};
	size_t off = 0;
	int rc = 0;

	*len = 0;
	for (unsigned i = 0; i < AGW_ARRAY_LEN(strs) && !rc; i++)
		rc = ipc_put_str(out, cap, &off, IPC_T_KIND + i, strs[i],
				 IPC_T_KIND + i == IPC_T_DETAIL ? IPC_DETAIL_MAX : IPC_STR_MAX);
	if (!rc && ev->ts)
		rc = ipc_put_i64(out, cap, &off, IPC_T_TS, ev->ts);
	if (!rc && ev->bytes_up >= 0)
		rc = ipc_put_i64(out, cap, &off, IPC_T_UP, ev->bytes_up);
	if (!rc && ev->bytes_down >= 0)
		rc = ipc_put_i64(out, cap, &off, IPC_T_DOWN, ev->bytes_down);
	if (!rc && ev->duration_us >= 0)
		rc = ipc_put_i64(out, cap, &off, IPC_T_DUR, ev->duration_us);
	if (!rc && ev->sandbox_id)
		rc = ipc_put_i64(out, cap, &off, IPC_T_SANDBOX, ev->sandbox_id);
	if (rc)
		return rc;
	*len = off;
	return 0;
}

int ipc_batch_add(struct ipc_batch *b, const struct aud_event *ev)
{
	size_t n;
	int rc;

	if (b->len + 2 >= sizeof(b->buf))
		return -AGW_ETOOBIG;
	rc = ipc_event_encode(ev, b->buf + b->len + 2, sizeof(b->buf) - b->len - 2, &n);
	if (rc)
		return rc;
	if (n == 0 || n > 0xffff)
		return -AGW_ETOOBIG;
	b->buf[b->len] = (uint8_t)n;
	b->buf[b->len + 1] = (uint8_t)(n >> 8);
	b->len += 2 + n;
	b->n++;
	return 0;
}

int ipc_batch_send(int fd, struct ipc_batch *b)
{
	int rc;

	if (!b->n)
		return 0;
	rc = ipc_send(fd, IPC_AUDIT_BATCH, b->buf, b->len, NULL, 0);
	if (rc)
		return rc;
	b->len = 0;
	b->n = 0;
	return 0;
}

int ipc_batch_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **rec,
		   size_t *rec_len)
{
	size_t n;

	if (*off >= len)
		return 0;
	if (len - *off < 2)
		return -AGW_EPROTO;
	n = (size_t)buf[*off] | (size_t)buf[*off + 1] << 8;
	if (n == 0 || n > len - *off - 2)
		return -AGW_EPROTO;
	*rec = buf + *off + 2;
	*rec_len = n;
	*off += 2 + n;
	return 1;
}

static bool ipc_in_set(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

static const char *const ipc_kinds[] = {"dns", "net", "http", "fs", "exec", "lifecycle", "policy"};
static const char *const ipc_decisions[] = {"allow", "deny", "would_deny", "error"};

/*
 * The next tag-length-value field of buf[len] at *off: tag 1..last-1, seen
 * at most once (bit set in *seen), value inside buf. Returns 1 with *tag,
 * *val and *n (off moved past it), 0 at the end, -AGW_EPROTO when malformed.
 */
static int ipc_tlv_next(const uint8_t *buf, size_t len, size_t *off, unsigned last,
			unsigned *seen, unsigned *tag, const uint8_t **val, size_t *n)
{
	if (*off == len)
		return 0;
	if (len - *off < 3)
		return -AGW_EPROTO;
	*tag = buf[*off];
	*n = (size_t)buf[*off + 1] | (size_t)buf[*off + 2] << 8;
	*off += 3;
	if (*n > len - *off || *tag == 0 || *tag >= last || (*seen & (1u << *tag)))
		return -AGW_EPROTO;
	*seen |= 1u << *tag;
	*val = buf + *off;
	*off += *n;
	return 1;
}

int ipc_event_decode(const uint8_t *buf, size_t len, struct ipc_event *out)
{
	const char **strs[] = {&out->ev.kind,	  &out->ev.op,	 &out->ev.target,
			       &out->ev.decision, &out->ev.rule, &out->ev.reason,
			       &out->ev.src,	  &out->ev.dst,	 &out->ev.detail};
	int64_t *nums[] = {&out->ev.ts, &out->ev.bytes_up, &out->ev.bytes_down,
			   &out->ev.duration_us, &out->ev.sandbox_id};
	unsigned seen = 0, tag;
	size_t off = 0, so = 0, n;
	const uint8_t *val;
	int r;

	memset(&out->ev, 0, sizeof(out->ev));
	out->ev.bytes_up = out->ev.bytes_down = out->ev.duration_us = -1;
	if (len > IPC_PAYLOAD_MAX)
		return -AGW_EPROTO;
	while ((r = ipc_tlv_next(buf, len, &off, IPC_T_LAST, &seen, &tag, &val, &n)) > 0) {
		if (tag <= IPC_T_DETAIL) {
			if (n > (tag == IPC_T_DETAIL ? IPC_DETAIL_MAX : IPC_STR_MAX) ||
			    memchr(val, 0, n) || so + n + 1 > sizeof(out->store))
				return -AGW_EPROTO;
			memcpy(out->store + so, val, n);
			out->store[so + n] = '\0';
			*strs[tag - IPC_T_KIND] = out->store + so;
			so += n + 1;
		} else {
			uint64_t v = 0;

			if (n != 8)
				return -AGW_EPROTO;
			for (int i = 7; i >= 0; i--)
				v = v << 8 | val[i];
			*nums[tag - IPC_T_TS] = (int64_t)v;
			if ((tag != IPC_T_TS && tag != IPC_T_SANDBOX && (int64_t)v < 0))
				return -AGW_EPROTO;
		}
	}
	if (r < 0)
		return r;
	if (!out->ev.kind || !out->ev.op || !out->ev.decision || !out->ev.op[0] ||
	    !ipc_in_set(out->ev.kind, ipc_kinds, AGW_ARRAY_LEN(ipc_kinds)) ||
	    !ipc_in_set(out->ev.decision, ipc_decisions, AGW_ARRAY_LEN(ipc_decisions)))
		return -AGW_EPROTO;
	return 0;
}

int ipc_policy_encode(const char *path, const char *basedir, const char *text, size_t text_len,
		      uint8_t *out, size_t cap, size_t *len)
{
	size_t off = 0;
	int rc;

	*len = 0;
	if (text_len > 0xffff)
		return -AGW_ETOOBIG;
	rc = ipc_put_str(out, cap, &off, IPC_P_PATH, path ? path : "", IPC_STR_MAX);
	if (!rc)
		rc =
		    ipc_put_str(out, cap, &off, IPC_P_BASEDIR, basedir ? basedir : "", IPC_STR_MAX);
	if (!rc)
		rc = ipc_put(out, cap, &off, IPC_P_TEXT, text, text_len);
	if (rc)
		return rc;
	*len = off;
	return 0;
}

int ipc_policy_decode(const uint8_t *buf, size_t len, struct ipc_policy *out)
{
	const char **dst[] = {&out->path, &out->basedir, &out->text};
	unsigned seen = 0, tag;
	size_t off = 0, so = 0, n;
	const uint8_t *val;
	int r;

	out->path = out->basedir = out->text = NULL;
	out->text_len = 0;
	if (len > IPC_PAYLOAD_MAX)
		return -AGW_EPROTO;
	while ((r = ipc_tlv_next(buf, len, &off, IPC_P_LAST, &seen, &tag, &val, &n)) > 0) {
		if (memchr(val, 0, n) || so + n + 1 > sizeof(out->store))
			return -AGW_EPROTO;
		memcpy(out->store + so, val, n);
		out->store[so + n] = '\0';
		*dst[tag - 1] = out->store + so;
		if (tag == IPC_P_TEXT)
			out->text_len = n;
		so += n + 1;
	}
	if (r < 0)
		return r;
	if (seen != ((1u << IPC_P_PATH) | (1u << IPC_P_BASEDIR) | (1u << IPC_P_TEXT)))
		return -AGW_EPROTO;
	return 0;
}

void ipc_policy_ack_encode(bool applied, const char *sha256, uint8_t out[IPC_POLICY_ACK_LEN])
{
	memset(out, '0', IPC_POLICY_ACK_LEN);
	out[0] = applied ? 1 : 0;
	if (applied && sha256 && strlen(sha256) == IPC_POLICY_ACK_LEN - 1)
		memcpy(out + 1, sha256, IPC_POLICY_ACK_LEN - 1);
}

int ipc_policy_ack_decode(const uint8_t *buf, size_t len, bool *applied, char sha256[65])
{
	sha256[0] = '\0';
	if (len != IPC_POLICY_ACK_LEN || buf[0] > 1)
		return -AGW_EPROTO;
	for (size_t i = 1; i < len; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f')))
			return -AGW_EPROTO;
	*applied = buf[0] == 1;
	if (*applied) {
		memcpy(sha256, buf + 1, 64);
		sha256[64] = '\0';
	}
	return 0;
}

/* ---- asks ---- */

const char *ipc_ask_kind_str(unsigned kind)
{
	return kind == IPC_ASK_DNS	 ? "dns"
	       : kind == IPC_ASK_CONNECT ? "connect"
	       : kind == IPC_ASK_FS	 ? "fs"
					 : "?";
}

const char *ipc_scope_str(unsigned scope)
{
	return scope == IPC_SCOPE_ONCE	    ? "once"
	       : scope == IPC_SCOPE_SESSION ? "session"
	       : scope == IPC_SCOPE_ALWAYS  ? "always"
	       : scope == IPC_SCOPE_TIMEOUT ? "timeout"
					    : "?";
}

static void ipc_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t ipc_from_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int ipc_ask_encode(const struct ipc_ask *a, uint8_t *out, size_t cap, size_t *len)
{
	size_t sn = strnlen(a->subject, sizeof(a->subject)), rn = strnlen(a->rule, sizeof(a->rule));

	*len = 0;
	if (!sn || sn > IPC_ASK_SUBJECT_MAX || rn >= sizeof(a->rule))
		return -AGW_EINVAL;
	if (cap < 11 + sn + rn)
		return -AGW_ETOOBIG;
	ipc_le(out, a->id, 4);
	out[4] = a->kind;
	ipc_le(out + 5, a->port, 2);
	out[7] = a->access;
	ipc_le(out + 8, sn, 2);
	memcpy(out + 10, a->subject, sn);
	out[10 + sn] = (uint8_t)rn;
	memcpy(out + 11 + sn, a->rule, rn);
	*len = 11 + sn + rn;
	return 0;
}

/* Bytes >= 0x20 but DEL: printable ASCII and UTF-8 sequences' bytes. */
static bool ipc_printable(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static const char ipc_host_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "0123456789.-_";

bool ipc_ask_subject_ok(unsigned kind, const char *subject)
{
	size_t n = strnlen(subject, IPC_ASK_SUBJECT_MAX + 1);

	if (n == 0 || n > IPC_ASK_SUBJECT_MAX || !ipc_printable((const uint8_t *)subject, n))
		return false;
	if (kind == IPC_ASK_DNS || kind == IPC_ASK_CONNECT)
		return strspn(subject, ipc_host_chars) == n;
	return kind == IPC_ASK_FS;
}

int ipc_ask_decode(const uint8_t *buf, size_t len, struct ipc_ask *out)
{
	size_t sn, rn;

	memset(out, 0, sizeof(*out));
	if (len < 11)
		return -AGW_EPROTO;
	out->id = (uint32_t)ipc_from_le(buf, 4);
	out->kind = buf[4];
	out->port = (uint16_t)ipc_from_le(buf + 5, 2);
	out->access = buf[7];
	sn = (size_t)ipc_from_le(buf + 8, 2);
	if (sn == 0 || sn > IPC_ASK_SUBJECT_MAX || len < 11 + sn)
		return -AGW_EPROTO;
	rn = buf[10 + sn];
	if (rn >= sizeof(out->rule) || len != 11 + sn + rn)
		return -AGW_EPROTO;
	if (!ipc_printable(buf + 10, sn) || !ipc_printable(buf + 11 + sn, rn))
		return -AGW_EPROTO;
	memcpy(out->subject, buf + 10, sn);
	memcpy(out->rule, buf + 11 + sn, rn);
	switch (out->kind) {
	case IPC_ASK_DNS:
	case IPC_ASK_CONNECT:
		if (strspn(out->subject, ipc_host_chars) != sn)
			return -AGW_EPROTO;
		if ((out->kind == IPC_ASK_CONNECT) != (out->port != 0) || out->access)
			return -AGW_EPROTO;
		break;
	case IPC_ASK_FS:
		if (out->port || !out->access || out->access > 15)
			return -AGW_EPROTO;
		break;
	default:
		return -AGW_EPROTO;
	}
	return 0;
}

int ipc_answer_encode(const struct ipc_answer *a, uint8_t *out, size_t cap, size_t *len)
{
	size_t wn = strnlen(a->who, sizeof(a->who)), rn = strnlen(a->reason, sizeof(a->reason));

	*len = 0;
	if (wn > IPC_ASK_WHO_MAX || rn > IPC_ASK_REASON_MAX)
		return -AGW_ETOOBIG;
	if (cap < 12 + wn + rn)
		return -AGW_ETOOBIG;
	ipc_le(out, a->id, 4);
	ipc_le(out + 4, a->approval, 4);
	out[8] = a->allow ? 1 : 0;
	out[9] = a->scope;
	out[10] = (uint8_t)wn;
	memcpy(out + 11, a->who, wn);
	out[11 + wn] = (uint8_t)rn;
	memcpy(out + 12 + wn, a->reason, rn);
	*len = 12 + wn + rn;
	return 0;
}

int ipc_answer_decode(const uint8_t *buf, size_t len, struct ipc_answer *out)
{
	size_t wn, rn;

	memset(out, 0, sizeof(*out));
	if (len < 12)
		return -AGW_EPROTO;
	out->id = (uint32_t)ipc_from_le(buf, 4);
	out->approval = (uint32_t)ipc_from_le(buf + 4, 4);
	if (buf[8] > 1 || buf[9] < IPC_SCOPE_ONCE || buf[9] > IPC_SCOPE_TIMEOUT)
		return -AGW_EPROTO;
	out->allow = buf[8] == 1;
	out->scope = buf[9];
	wn = buf[10];
	if (wn > IPC_ASK_WHO_MAX || len < 12 + wn)
		return -AGW_EPROTO;
	rn = buf[11 + wn];
	if (len != 12 + wn + rn || memchr(buf + 11, 0, wn) || memchr(buf + 12 + wn, 0, rn))
		return -AGW_EPROTO;
	memcpy(out->who, buf + 11, wn);
	memcpy(out->reason, buf + 12 + wn, rn);
	return 0;
}
