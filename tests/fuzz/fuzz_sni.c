// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the TLS ClientHello / SNI parser. A returned host
 * must be a lowercase LDH name; every prefix of an input that parses must
 * report "need more bytes" or a definite verdict, never a different host.
 */
#include <stdint.h>
#include <string.h>

#include "gateway/net/sni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t refrag[6 * (SNI_HELLO_MAX + 4) + 64];

/* Re-splits the first record's payload into records of frag bytes; the
 * verdict and host must not depend on the split. */
static void check_refrag(const uint8_t *data, size_t size, int ret, const struct sni_info *info)
{
	struct sni_info again;
	size_t rec_len, frag, n = 0;

	if (size < 6)
		return;
	rec_len = (size_t)data[3] << 8 | data[4];
	if (rec_len > size - 5 || rec_len > SNI_HELLO_MAX + 4 || rec_len < 4)
		return;
	/* Only when the first record holds the whole ClientHello. */
	if (4 + ((size_t)data[6] << 16 | (size_t)data[7] << 8 | data[8]) > rec_len)
		return;
	frag = 1 + data[size - 1] % 61;
	for (size_t off = 0; off < rec_len; off += frag) {
		size_t k = rec_len - off < frag ? rec_len - off : frag;

		refrag[n++] = 0x16;
		refrag[n++] = 0x03;
		refrag[n++] = 0x01;
		refrag[n++] = (uint8_t)(k >> 8);
		refrag[n++] = (uint8_t)k;
		memcpy(refrag + n, data + 5 + off, k);
		n += k;
	}
	if (sni_parse_info(refrag, n, &again) != ret || strcmp(again.host, info->host) != 0 ||
	    again.has_ech != info->has_ech || strcmp(again.alpn, info->alpn) != 0)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_info info;
	char host[SNI_HOST_MAX + 1];
	int ret;

	ret = sni_parse_info(data, size, &info);
	if (ret != 0 && ret != -AGW_ENOTFOUND && ret != -AGW_ETRUNC && ret != -AGW_EPARSE)
		__builtin_trap();
	if (ret == 0) {
		size_t n = strlen(info.host);

		if (n == 0 || n > SNI_HOST_MAX)
			__builtin_trap();
		for (size_t i = 0; i < n; i++) {
			char c = info.host[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.'))
				__builtin_trap();
		}
		if (info.host[n - 1] == '.' || info.host[0] == '.' || strstr(info.host, ".."))
			__builtin_trap();
		/* A shorter prefix can never name a different host. */
		if (size > 1 && sni_parse(data, size / 2, host, sizeof(host)) == 0 &&
		    strcmp(host, info.host) != 0)
			__builtin_trap();
	}
	/* Verdicts reached within the first record survive re-fragmenting. */
	if (ret == 0 || ret == -AGW_ENOTFOUND)
		check_refrag(data, size, ret, &info);
	if (strlen(info.alpn) >= sizeof(info.alpn))
		__builtin_trap();
	if (ret == 0 && !sni_looks_like_tls(data, size))
		__builtin_trap();
	/* Whatever sni_parse accepts, the proxy's first look calls TLS. */
	if ((ret == 0 || ret == -AGW_ENOTFOUND) && sni_sniff(data, size) != 1)
		__builtin_trap();
	return 0;
}
