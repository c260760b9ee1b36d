/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages between the supervisor and its children over a SOCK_SEQPACKET
 * socketpair: an 8-byte header {uint16 type, uint16 flags, uint32 len}
 * followed by len payload bytes, one message per datagram, file descriptors
 * by SCM_RIGHTS. Payloads that carry fields use a tagged encoding
 * {uint8 tag, uint16 len (little endian), len bytes}; the decoders check
 * every tag, length and value, so the supervisor can treat anything
 * unexpected from a child as hostile (and kill it).
 */
#ifndef AGW_IPC_H
#define AGW_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agw.h"
#include "audit/aud.h"

#define IPC_HDR_LEN 8
#define IPC_MSG_MAX 65536 /* header + payload */
#define IPC_PAYLOAD_MAX (IPC_MSG_MAX - IPC_HDR_LEN)
#define IPC_MAX_FDS 8
#define IPC_STR_MAX 4096 /* one event string field (detail may be longer) */
#define IPC_DETAIL_MAX 16384
#define IPC_STATS_MAX 32
#define IPC_SNDBUF (4 << 20) /* socket send buffer asked for by ipc_pair */

enum ipc_type {
	IPC_AUDIT_EVENT = 1, /* child -> sup: ipc_event_encode() payload */
	IPC_AUDIT_STATE,     /* sup -> child: 1 byte, 1 ok / 0 failing */
	IPC_POLICY_UPDATE,   /* sup -> child: ipc_policy_encode() payload */
	IPC_READY,	     /* child -> sup: empty */
	IPC_STATS,	     /* child -> sup: up to IPC_STATS_MAX uint64 (host order) */
	IPC_POLICY_APPLIED,  /* child -> sup: ipc_policy_ack_encode() payload, one per update */
	IPC_ASK,	 /* child -> sup: ipc_ask_encode() payload: an action waits for a person */
	IPC_ASK_ANSWER,	 /* sup -> child: ipc_answer_encode() payload, one per IPC_ASK */
	IPC_AUDIT_BATCH, /* child -> sup: events of one loop pass (struct ipc_batch) */
	IPC_TYPE_LAST
};

/* Name of a type for logs ("audit-event", ...; "unknown"). */
const char *ipc_type_str(unsigned type);

/*
 * Creates a SOCK_SEQPACKET socketpair, close-on-exec, non-blocking, with
 * IPC_SNDBUF send buffers where the kernel allows. Returns 0 or -errno.
 */
int ipc_pair(int sv[2]);

/*
 * Sends one message with optional fds. Never blocks: returns 0, -EAGAIN
 * when the socket buffer is full (the caller fails closed), -AGW_ETOOBIG
 * when len > IPC_PAYLOAD_MAX or nfds > IPC_MAX_FDS, or -errno (-EPIPE when
 * the peer is gone).
 */
int ipc_send(int fd, unsigned type, const void *buf, size_t len, const int *fds, size_t nfds);

/*
 * Receives one message. Never blocks: returns 0 with *type, payload in
 * buf[*len] and *nfds fds received (the caller owns them; pass fds NULL to
 * have any received fds closed), -EAGAIN when nothing is there, -EPIPE at
 * end of stream, -AGW_EPROTO when the message is malformed (short header,
 * length mismatch, truncated, unknown type, too many fds; any fds received
 * with it are closed), -AGW_ETOOBIG when the payload exceeds cap.
 */
int ipc_recv(int fd, unsigned *type, void *buf, size_t cap, size_t *len, int *fds, size_t *nfds);

/*
 * Encodes an audit event (every non-NULL string, ts, counts >= 0 and
 * sandbox_id) into out[cap]. Strings longer than their maximum are cut (at
 * a UTF-8 boundary is not attempted: the writer stores bytes). Returns 0
 * and *len, or -AGW_ETOOBIG.
 */
int ipc_event_encode(const struct aud_event *ev, uint8_t *out, size_t cap, size_t *len);

/*
 * Audit events batched per event-loop pass (IPC_AUDIT_BATCH): the payload
 * is records {uint16 len (little endian), len bytes of ipc_event_encode()}
 * back to back, at least one. A child appends each event before the action
 * it records and sends the batch once per pass, before its loop sleeps
 * (netd.c explains why that keeps "recorded before it happens").
 */
struct ipc_batch {
	size_t len; /* payload bytes in buf */
	unsigned n; /* events in buf */
	uint8_t buf[IPC_PAYLOAD_MAX];
};

/* Appends ev to b. Returns 0, or -AGW_ETOOBIG when it does not fit (send
 * the batch, then append again; an event that does not fit an empty batch
 * never will). b is unchanged on failure. */
int ipc_batch_add(struct ipc_batch *b, const struct aud_event *ev);

/* Sends b as one IPC_AUDIT_BATCH message (nothing when empty) and empties
 * it. Returns 0, or what ipc_send returns (b is kept: -EAGAIN, retry when
 * the socket is writable). Never blocks. */
int ipc_batch_send(int fd, struct ipc_batch *b);

/* The next record of a batch payload buf[len] at *off. Returns 1 with
 * *rec and *rec_len (and *off moved past it), 0 at the end, -AGW_EPROTO when a
 * record's length runs past the payload or is 0. A pure function. */
int ipc_batch_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **rec,
		   size_t *rec_len);

/* A decoded event: ev's strings point into store. */
struct ipc_event {
	struct aud_event ev;
	char store[IPC_PAYLOAD_MAX + 16];
};

/*
 * Decodes and validates an event: known tags once each, string fields
 * without NUL bytes and within their maximum, kind and decision from the
 * known sets, op present. Returns 0 or -AGW_EPROTO.
 */
int ipc_event_decode(const uint8_t *buf, size_t len, struct ipc_event *out);

/* Encodes a policy update: the file name shown in messages, the base
 * directory for relative paths, and the policy text. Returns 0 and *len, or
 * -AGW_ETOOBIG. */
int ipc_policy_encode(const char *path, const char *basedir, const char *text, size_t text_len,
		      uint8_t *out, size_t cap, size_t *len);

/* A decoded policy update; pointers into store, NUL-terminated. */
struct ipc_policy {
	const char *path;
	const char *basedir;
	const char *text;
	size_t text_len;
	char store[IPC_PAYLOAD_MAX + 16];
};

/* Decodes a policy update. Returns 0 or -AGW_EPROTO. */
int ipc_policy_decode(const uint8_t *buf, size_t len, struct ipc_policy *out);

/*
 * A child's answer to each policy update, in order: applied (sha256 is the
 * 64 hex chars of the policy now in effect) or rejected (sha256 NULL).
 */
#define IPC_POLICY_ACK_LEN 65
void ipc_policy_ack_encode(bool applied, const char *sha256, uint8_t out[IPC_POLICY_ACK_LEN]);
/* Decodes it: 0 with *applied and sha256[65] (NUL-terminated, "" when
 * rejected), or -AGW_EPROTO (wrong size, flag or characters). */
int ipc_policy_ack_decode(const uint8_t *buf, size_t len, bool *applied, char sha256[65]);

/*
 * An action held for a person's decision (policy verdict POL_ASK). id is the
 * child's own (unique among its open asks); the supervisor answers each
 * with exactly one IPC_ASK_ANSWER carrying the same id.
 */
enum ipc_ask_kind { IPC_ASK_DNS = 1, IPC_ASK_CONNECT, IPC_ASK_FS };
#define IPC_ASK_SUBJECT_MAX 1024
#define IPC_ASK_WHO_MAX 63
#define IPC_ASK_REASON_MAX 255

struct ipc_ask {
	uint32_t id;
	uint8_t kind;			       /* enum ipc_ask_kind */
	uint16_t port;			       /* connect: the port (1..65535); else 0 */
	uint8_t access;			       /* fs: POL_ACC_* bits (1..15); else 0 */
	char subject[IPC_ASK_SUBJECT_MAX + 1]; /* dns, connect: host name; fs: workspace path */
	char rule[48]; /* the ask: true rule that asked, or "" (no rule decided) */
};

/* "dns" | "connect" | "fs" ("?" for anything else). */
const char *ipc_ask_kind_str(unsigned kind);

/*
 * Encodes a (u32 id, u8 kind, u16 port, u8 access, u16 n + subject, u8 n +
 * rule, little endian) into out[cap]. Returns 0 and *len, or -AGW_ETOOBIG /
 * -AGW_EINVAL (empty subject).
 */
int ipc_ask_encode(const struct ipc_ask *a, uint8_t *out, size_t cap, size_t *len);
/*
 * Decodes and validates: known kind, port only and always for connect,
 * access only and always for fs, subject 1..IPC_ASK_SUBJECT_MAX bytes of
 * printable ASCII or UTF-8 without controls (a host name for dns and
 * connect: [A-Za-z0-9._-]), rule printable. Returns 0 or -AGW_EPROTO.
 */
int ipc_ask_decode(const uint8_t *buf, size_t len, struct ipc_ask *out);
/* Would ipc_ask_decode take subject for kind? Senders check first: a
 * subject it refuses is denied at once, never sent (the supervisor kills a
 * child that sends a bad message). Pure. */
bool ipc_ask_subject_ok(unsigned kind, const char *subject);

enum ipc_ask_scope { IPC_SCOPE_ONCE = 1, IPC_SCOPE_SESSION, IPC_SCOPE_ALWAYS, IPC_SCOPE_TIMEOUT };

struct ipc_answer {
	uint32_t id;	   /* the child's ask id */
	uint32_t approval; /* the supervisor's public id (agentgw approvals) */
	bool allow;
	uint8_t scope;			     /* enum ipc_ask_scope (deny: once or timeout) */
	char who[IPC_ASK_WHO_MAX + 1];	     /* "root (uid 0)", "" for a timeout */
	char reason[IPC_ASK_REASON_MAX + 1]; /* deny reason, or "" */
};

/* "once" | "session" | "always" | "timeout" ("?" otherwise). */
const char *ipc_scope_str(unsigned scope);
/* Encodes an answer. Returns 0 and *len, or -AGW_ETOOBIG. */
int ipc_answer_encode(const struct ipc_answer *a, uint8_t *out, size_t cap, size_t *len);
/* Decodes an answer (known scope, strings without NUL). 0 or -AGW_EPROTO. */
int ipc_answer_decode(const uint8_t *buf, size_t len, struct ipc_answer *out);

#endif
