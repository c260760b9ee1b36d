// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the rtnetlink address-message parser of the gateway
 * host's address set: any bytes must give 0, -AGW_EPARSE or -AGW_EPROTO
 * (never -AGW_EINVAL) without reading out of bounds, and the set must stay
 * consistent (applying the same bytes twice adds nothing new).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "gateway/net/hostaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hostaddr_set s = {0};
	uint8_t *copy;
	bool done = false;
	size_t n;
	int rc;

	/* An exact-size heap copy lets the sanitizer catch any over-read. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	rc = hostaddr_nl_apply(&s, copy, size, &done);
	if (rc != 0 && rc != -AGW_EPARSE && rc != -AGW_EPROTO && rc != -AGW_ENOMEM)
		abort();
	n = s.n;
	if (n > s.cap)
		abort();
	if (rc == 0) {
		/* Only deletes can shrink it; adds of the same entries are no-ops,
		 * so a second pass never grows it. */
		rc = hostaddr_nl_apply(&s, copy, size, &done);
		if (rc != 0 || s.n > n)
			abort();
	}
	hostaddr_set_clear(&s);
	free(copy);
	return 0;
}
