// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the NFLOG packet summariser: any bytes must give 0,
 * -AGW_ETRUNC or -AGW_EPARSE without reading out of bounds, and the text
 * and JSON forms of whatever parsed must fit their documented sizes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "gateway/net/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pkt_info pi;
	char s[PKT_ADDR_STRLEN], j[512];
	uint8_t *copy;
	int err;

	/* An exact-size heap copy lets the sanitizer catch any over-read. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	err = pkt_summarize(copy, size, &pi);
	if (err != 0 && err != -AGW_ETRUNC && err != -AGW_EPARSE)
		abort();
	if (err != -AGW_EPARSE) {
		if (pkt_format_dst(&pi, s, sizeof(s)) != 0)
			abort();
		if (pkt_format_src(&pi, s, sizeof(s)) != 0)
			abort();
		if (pkt_format_json(&pi, j, sizeof(j)) != 0)
			abort();
		if (size > 0)
			(void)pkt_format_json(&pi, j, (size_t)(data[0] % 64) + 1);
	}
	free(copy);
	return 0;
}
