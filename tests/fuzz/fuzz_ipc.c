// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the supervisor's decoders of child messages (audit
 * events, batches of them, policy updates, approval asks and answers):
 * whatever a compromised child sends must be rejected or decode into
 * NUL-terminated strings from the known sets, and a decoded event or ask
 * must re-encode and decode to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ipc_event ev, ev2;
static struct ipc_policy pol;
static struct ipc_ask ask, ask2;
static struct ipc_answer ans;
static uint8_t buf[IPC_PAYLOAD_MAX];

static void same(const char *a, const char *b)
{
	if ((a == NULL) != (b == NULL) || (a && strcmp(a, b)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;

	if (ipc_event_decode(data, size, &ev) == 0) {
		if (!ev.ev.kind || !ev.ev.op || !ev.ev.decision)
			abort();
		if (ipc_event_encode(&ev.ev, buf, sizeof(buf), &len) != 0)
			abort();
		if (ipc_event_decode(buf, len, &ev2) != 0)
			abort();
		same(ev.ev.kind, ev2.ev.kind);
		same(ev.ev.op, ev2.ev.op);
		same(ev.ev.target, ev2.ev.target);
		same(ev.ev.decision, ev2.ev.decision);
		same(ev.ev.rule, ev2.ev.rule);
		same(ev.ev.detail, ev2.ev.detail);
		if (ev.ev.bytes_up != ev2.ev.bytes_up || ev.ev.duration_us != ev2.ev.duration_us)
			abort();
	}
	{
		/* a batch: every record inside the payload, walked to its end */
		const uint8_t *rec;
		size_t off = 0, n, prev = 0;
		int r;

		while ((r = ipc_batch_next(data, size, &off, &rec, &n)) == 1) {
			if (off <= prev || off > size || n == 0 || rec + n != data + off)
				abort();
			prev = off;
			(void)ipc_event_decode(rec, n, &ev2);
		}
		if (r == 0 && off != size)
			abort();
	}
	if (ipc_policy_decode(data, size, &pol) == 0) {
		if (!pol.path || !pol.basedir || !pol.text || strlen(pol.text) != pol.text_len)
			abort();
	}
	if (ipc_ask_decode(data, size, &ask) == 0) {
		if (!ask.subject[0] || ask.kind < IPC_ASK_DNS || ask.kind > IPC_ASK_FS)
			abort();
		if (ipc_ask_encode(&ask, buf, sizeof(buf), &len) != 0 || len != size ||
		    memcmp(buf, data, size) != 0)
			abort();
		if (ipc_ask_decode(buf, len, &ask2) != 0 || memcmp(&ask, &ask2, sizeof(ask)) != 0)
			abort();
	}
	if (ipc_answer_decode(data, size, &ans) == 0) {
		if (ans.scope < IPC_SCOPE_ONCE || ans.scope > IPC_SCOPE_TIMEOUT ||
		    strlen(ans.who) > IPC_ASK_WHO_MAX || strlen(ans.reason) > IPC_ASK_REASON_MAX)
			abort();
		if (ipc_answer_encode(&ans, buf, sizeof(buf), &len) != 0 || len != size)
			abort();
	}
	return 0;
}
