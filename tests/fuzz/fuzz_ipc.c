// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the supervisor's decoders of child messages (audit
 * events and policy updates): whatever a compromised child sends must be
 * rejected or decode into NUL-terminated strings from the known sets, and
 * a decoded event must re-encode and decode to the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ipc_event ev, ev2;
static struct ipc_policy pol;
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
	if (ipc_policy_decode(data, size, &pol) == 0) {
		if (!pol.path || !pol.basedir || !pol.text || strlen(pol.text) != pol.text_len)
			abort();
	}
	return 0;
}
