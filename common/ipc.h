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

#endif
