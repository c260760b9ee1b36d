// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target for the guest's trust checks (vmctl/gtrust.h): the input
 * is checked as PEM, split into env lines, and stripped as a system store
 * with its own first half as the earlier CA; the output never grows and an
 * accepted env line's name ends at its '='. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "vmctl/gtrust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *why;
	char *out = malloc(size ? size : 1);
	size_t i = 0, nl;
	long n;

	if (!out)
		return 0;
	gtrust_pem_check(p, size);
	while (i < size) {
		const char *e = memchr(p + i, '\n', size - i);
		size_t l = e ? (size_t)(e - p) - i : size - i;

		if (gtrust_env_line(p + i, l, &nl, &why) == 0 &&
		    (nl == 0 || nl >= l || p[i + nl] != '='))
			abort();
		i += l + 1;
	}
	n = gtrust_store_strip(p, size, p, size / 2, out, size);
	if (n > (long)size)
		abort();
	free(out);
	return 0;
}
