// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for supervisor <-> child IPC: framing round trips with fds,
 * event and policy encodings, and rejection of malformed messages (bad
 * header, length mismatch, unknown type, bad tags, bad kinds).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc.h"

static uint8_t buf[IPC_MSG_MAX];

static void test_roundtrip_fds(void **state)
{
	int sv[2], p[2], fds[IPC_MAX_FDS];
	unsigned type;
	size_t len, nfds;

	(void)state;
	assert_int_equal(ipc_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, fds, &nfds), -EAGAIN);
	assert_int_equal(ipc_send(sv[0], IPC_READY, "hi", 2, &p[1], 1), 0);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, fds, &nfds), 0);
	assert_int_equal(type, IPC_READY);
	assert_int_equal(len, 2);
	assert_memory_equal(buf, "hi", 2);
	assert_int_equal(nfds, 1);
	assert_int_equal(write(fds[0], "z", 1), 1);
	assert_int_equal(read(p[0], buf, 1), 1);
	assert_int_equal(buf[0], 'z');
	close(fds[0]);
	assert_int_equal(ipc_send(sv[0], 99, "x", 1, NULL, 0), -AGW_ETOOBIG);
	assert_int_equal(ipc_send(sv[0], IPC_READY, buf, IPC_PAYLOAD_MAX + 1, NULL, 0),
			 -AGW_ETOOBIG);
	close(sv[0]);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), -EPIPE);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void test_malformed_frames(void **state)
{
	int sv[2];
	unsigned type;
	size_t len;
	uint8_t raw[16] = {IPC_READY, 0, 0, 0, 5, 0, 0, 0, 'a', 'b'};

	(void)state;
	assert_int_equal(ipc_pair(sv), 0);
	/* length says 5, 2 bytes follow */
	assert_int_equal(send(sv[0], raw, 10, 0), 10);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), -AGW_EPROTO);
	/* short header */
	assert_int_equal(send(sv[0], raw, 3, 0), 3);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), -AGW_EPROTO);
	/* unknown type */
	raw[0] = 77;
	raw[4] = 0;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), -AGW_EPROTO);
	/* flags set */
	raw[0] = IPC_READY;
	raw[2] = 1;
	assert_int_equal(send(sv[0], raw, 8, 0), 8);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), -AGW_EPROTO);
	/* payload larger than the receiver's buffer */
	assert_int_equal(ipc_send(sv[0], IPC_STATS, buf, 100, NULL, 0), 0);
	assert_int_equal(ipc_recv(sv[1], &type, buf, 10, &len, NULL, NULL), -AGW_ETOOBIG);
	close(sv[0]);
	close(sv[1]);
}

static void test_event_roundtrip(void **state)
{
	struct aud_event ev = {.kind = "net",
			       .op = "connect",
			       .target = "allowed.test:443",
			       .decision = "allow",
			       .rule = "network.allow[0]",
			       .src = "10.77.0.2:5000",
			       .dst = "203.0.113.10:443",
			       .bytes_up = 5,
			       .bytes_down = -1,
			       .duration_us = 0,
			       .ts = 1234,
			       .detail = "{\"a\":1}"};
	struct ipc_event *d = malloc(sizeof(*d));
	size_t len;

	(void)state;
	assert_non_null(d);
	assert_int_equal(ipc_event_encode(&ev, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_event_decode(buf, len, d), 0);
	assert_string_equal(d->ev.kind, "net");
	assert_string_equal(d->ev.op, "connect");
	assert_string_equal(d->ev.target, "allowed.test:443");
	assert_string_equal(d->ev.rule, "network.allow[0]");
	assert_string_equal(d->ev.detail, "{\"a\":1}");
	assert_null(d->ev.reason);
	assert_int_equal(d->ev.bytes_up, 5);
	assert_int_equal(d->ev.bytes_down, -1);
	assert_int_equal(d->ev.duration_us, 0);
	assert_int_equal(d->ev.ts, 1234);
	/* every truncation of a valid event is rejected or decodes a prefix
	 * that still validates; never crashes */
	for (size_t i = 0; i < len; i++)
		(void)ipc_event_decode(buf, i, d);
	assert_int_equal(ipc_event_decode(buf, len - 1, d), -AGW_EPROTO);
	/* too small an output buffer */
	assert_int_equal(ipc_event_encode(&ev, buf, 10, &len), -AGW_ETOOBIG);
	free(d);
}

static void test_event_bad(void **state)
{
	struct ipc_event *d = malloc(sizeof(*d));
	struct aud_event ev = {.kind = "bogus",
			       .op = "x",
			       .decision = "allow",
			       .bytes_up = -1,
			       .bytes_down = -1,
			       .duration_us = -1};
	size_t len;
	uint8_t dup[] = {1, 3, 0, 'n', 'e', 't', 1, 3, 0, 'n', 'e', 't'};
	uint8_t nul[] = {1, 3, 0, 'n', 0, 't'};
	uint8_t badtag[] = {99, 0, 0};
	uint8_t badnum[] = {11, 2, 0, 1, 2};

	(void)state;
	assert_non_null(d);
	assert_int_equal(ipc_event_encode(&ev, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_event_decode(buf, len, d), -AGW_EPROTO); /* unknown kind */
	ev.kind = "dns";
	ev.decision = "maybe";
	assert_int_equal(ipc_event_encode(&ev, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_event_decode(buf, len, d), -AGW_EPROTO);
	ev.decision = "deny";
	ev.op = NULL;
	assert_int_equal(ipc_event_encode(&ev, buf, sizeof(buf), &len), 0);
	assert_int_equal(ipc_event_decode(buf, len, d), -AGW_EPROTO); /* no op */
	assert_int_equal(ipc_event_decode(dup, sizeof(dup), d), -AGW_EPROTO);
	assert_int_equal(ipc_event_decode(nul, sizeof(nul), d), -AGW_EPROTO);
	assert_int_equal(ipc_event_decode(badtag, sizeof(badtag), d), -AGW_EPROTO);
	assert_int_equal(ipc_event_decode(badnum, sizeof(badnum), d), -AGW_EPROTO);
	free(d);
}

static void test_policy(void **state)
{
	struct ipc_policy *p = malloc(sizeof(*p));
	const char *text = "version: 1\nname: x\n";
	size_t len;

	(void)state;
	assert_non_null(p);
	assert_int_equal(
	    ipc_policy_encode("/tmp/p.yaml", "/tmp", text, strlen(text), buf, sizeof(buf), &len),
	    0);
	assert_int_equal(ipc_policy_decode(buf, len, p), 0);
	assert_string_equal(p->path, "/tmp/p.yaml");
	assert_string_equal(p->basedir, "/tmp");
	assert_string_equal(p->text, text);
	assert_int_equal(p->text_len, strlen(text));
	for (size_t i = 0; i < len; i++)
		assert_int_equal(ipc_policy_decode(buf, i, p), -AGW_EPROTO);
	free(p);
}

static void test_policy_ack(void **state)
{
	const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	uint8_t b[IPC_POLICY_ACK_LEN];
	char got[65];
	bool applied = false;

	(void)state;
	ipc_policy_ack_encode(true, sha, b);
	assert_int_equal(ipc_policy_ack_decode(b, sizeof(b), &applied, got), 0);
	assert_true(applied);
	assert_string_equal(got, sha);
	ipc_policy_ack_encode(false, NULL, b);
	assert_int_equal(ipc_policy_ack_decode(b, sizeof(b), &applied, got), 0);
	assert_false(applied);
	assert_string_equal(got, "");
	/* wrong size, flag or characters */
	assert_int_equal(ipc_policy_ack_decode(b, sizeof(b) - 1, &applied, got), -AGW_EPROTO);
	b[0] = 2;
	assert_int_equal(ipc_policy_ack_decode(b, sizeof(b), &applied, got), -AGW_EPROTO);
	ipc_policy_ack_encode(true, sha, b);
	b[10] = 'G';
	assert_int_equal(ipc_policy_ack_decode(b, sizeof(b), &applied, got), -AGW_EPROTO);
	assert_string_equal(ipc_type_str(IPC_POLICY_APPLIED), "policy-applied");
}

/* Events of one loop pass in one message: in order, every record
 * decodes; a record running past the payload or of length 0 is refused. */
static void test_batch(void **state)
{
	struct aud_event ev = {.kind = "net",
			       .op = "connect",
			       .decision = "allow",
			       .bytes_up = -1,
			       .bytes_down = -1,
			       .duration_us = -1};
	struct ipc_batch *b = calloc(1, sizeof(*b));
	struct ipc_event *d = malloc(sizeof(*d));
	const char *ops[] = {"connect", "request", "close"};
	const uint8_t *rec;
	size_t off = 0, n, len;
	unsigned type;
	int sv[2], k = 0;

	(void)state;
	assert_non_null(b);
	assert_non_null(d);
	assert_int_equal(ipc_pair(sv), 0);
	assert_int_equal(ipc_batch_send(sv[0], b), 0); /* empty: nothing sent */
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), -EAGAIN);
	for (int i = 0; i < 3; i++) {
		ev.op = ops[i];
		assert_int_equal(ipc_batch_add(b, &ev), 0);
	}
	assert_int_equal(b->n, 3);
	assert_int_equal(ipc_batch_send(sv[0], b), 0);
	assert_int_equal(b->n, 0);
	assert_int_equal(ipc_recv(sv[1], &type, buf, sizeof(buf), &len, NULL, NULL), 0);
	assert_int_equal(type, IPC_AUDIT_BATCH);
	while (ipc_batch_next(buf, len, &off, &rec, &n) == 1) {
		assert_int_equal(ipc_event_decode(rec, n, d), 0);
		assert_string_equal(d->ev.op, ops[k++]);
	}
	assert_int_equal(k, 3);
	/* a truncated payload: the last record runs past it */
	off = 0;
	while ((k = ipc_batch_next(buf, len - 1, &off, &rec, &n)) == 1)
		;
	assert_int_equal(k, -AGW_EPROTO);
	off = 0;
	buf[0] = buf[1] = 0;
	assert_int_equal(ipc_batch_next(buf, len, &off, &rec, &n), -AGW_EPROTO);
	/* full: an event that does not fit leaves the batch as it was */
	ev.detail = d->store; /* IPC_DETAIL_MAX bytes */
	memset(d->store, 'x', IPC_DETAIL_MAX);
	d->store[IPC_DETAIL_MAX] = '\0';
	for (k = 0; ipc_batch_add(b, &ev) == 0; k++)
		;
	assert_true(k >= 3 && b->n == (unsigned)k);
	n = b->len;
	assert_int_equal(ipc_batch_add(b, &ev), -AGW_ETOOBIG);
	assert_int_equal(b->len, n);
	close(sv[0]);
	close(sv[1]);
	free(d);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_fds),   cmocka_unit_test(test_malformed_frames),
	    cmocka_unit_test(test_event_roundtrip), cmocka_unit_test(test_event_bad),
	    cmocka_unit_test(test_policy),	    cmocka_unit_test(test_policy_ack),
	    cmocka_unit_test(test_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
