// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the credential scan and injection the proxy runs on
 * every request head and body from the guest (gateway/net/cred.c): the
 * first byte picks which credential may be injected, the rest is a head
 * followed by body bytes. Checks: nothing outside the given room is
 * touched, an injection leaves no placeholder of that credential in its
 * header and yields a head that holds the value, a leak names a
 * credential, the body and response scans fed in pieces agree with one
 * pass, and a held-back tail is the start of a value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/net/cred.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_PH0 "agw-placeholder-a-00112233445566778899aabbccddeeff"
#define FZ_PH1 "agw-placeholder-b-ffeeddccbbaa99887766554433221100"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cred cv[2];
	struct cred_set cs = {cv, 2};
	struct cred_scan a, b;
	size_t room = 4 * CRED_VALUE_MAX, hl, nl, cap;
	uint8_t *buf;
	unsigned inj;
	int leak, rc, inject, one, many = -1;
	const char *where;

	if (size < 1 || size > 70000)
		return 0;
	if (!cv[0].ph_len) {
		strcpy(cv[0].name, "a");
		strcpy(cv[0].header, "x-api-key");
		strcpy(cv[0].ph, FZ_PH0);
		cv[0].ph_len = strlen(FZ_PH0);
		strcpy(cv[0].token, "00112233445566778899aabbccddeeff");
		cv[0].value = (char *)"VALUE-OF-A-THAT-IS-LONGER-THAN-ITS-PLACEHOLDER-0123456789";
		cv[0].value_len = strlen(cv[0].value);
		strcpy(cv[1].name, "b");
		strcpy(cv[1].header, "authorization");
		strcpy(cv[1].ph, FZ_PH1);
		cv[1].ph_len = strlen(FZ_PH1);
		strcpy(cv[1].token, "ffeeddccbbaa99887766554433221100");
		cv[1].value = (char *)"v";
		cv[1].value_len = 1;
	}
	inject = (int)(data[0] % 3) - 1;
	data++;
	size--;
	hl = size < 16384 ? size : 16384;
	cap = size + room;
	buf = malloc(cap + 16);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(buf + size, 0xA5, room + 16);
	rc = cred_head(&cs, inject, buf, hl, size - hl, cap, &nl, &inj, &leak, &where);
	if (rc == 1 && (leak < 0 || leak > 1 || !where))
		__builtin_trap();
	if (rc == 0 && inj && (inject < 0 || !memmem(buf, nl, cv[inject].value, cv[inject].value_len)))
		__builtin_trap();
	if (rc == 0 && inj && memcmp(buf + nl, data + hl, size - hl) != 0)
		__builtin_trap(); /* the bytes after the head moved intact */
	for (size_t i = cap; i < cap + 16; i++)
		if (buf[i] != 0xA5)
			__builtin_trap();
	if (rc != 0 && rc != 1 && rc != -AGW_ETOOBIG)
		__builtin_trap();
	free(buf);
	/* the body scan: one pass and pieces of 7 bytes agree */
	cred_scan_init(&a);
	cred_scan_init(&b);
	one = cred_scan_feed(&cs, &a, data, size);
	for (size_t off = 0; off < size && many < 0; off += 7)
		many = cred_scan_feed(&cs, &b, data + off, size - off < 7 ? size - off : 7);
	if ((one < 0) != (many < 0))
		__builtin_trap();
	/* the value scan: one pass and pieces of 5 bytes agree, and a
	 * partial tail is always shorter than a value and matches its start */
	{
		static uint8_t ta[CRED_VALUE_MAX], tb[CRED_VALUE_MAX];
		size_t la = 0, lb = 0, part;

		one = cred_value_scan(&cs, ta, &la, data, size);
		many = -1;
		for (size_t off = 0; off < size && many < 0; off += 5)
			many = cred_value_scan(&cs, tb, &lb, data + off,
					       size - off < 5 ? size - off : 5);
		if ((one < 0) != (many < 0))
			__builtin_trap();
		part = cred_value_partial(&cs, data, size);
		if (part >= cv[0].value_len || part > size ||
		    (part && memcmp(data + size - part, cv[0].value, part) != 0 &&
		     memcmp(data + size - part, cv[1].value, part) != 0))
			__builtin_trap();
	}
	return 0;
}
