// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the DNS query parser and the response builders: any
 * query that parses must be answerable (the builder re-encodes the parsed
 * name), a denial's Extended DNS Error fits and parses back, and error
 * replies must never read past the input.
 */
#include <stdint.h>
#include <string.h>

#include "gateway/net/dns_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_query q;
	struct dns_rr rr[3] = {
	    {.type = DNS_T_A, .ttl = 60, .addr = {192, 0, 2, 1}},
	    {.type = DNS_T_AAAA, .ttl = 60, .addr = {0x20, 0x01, 0x0d, 0xb8}},
	    {.type = DNS_T_A, .ttl = 60, .addr = {198, 51, 100, 7}},
	};
	uint8_t out[1500];
	size_t out_len, msg_len;
	int ret;

	ret = dns_parse_query(data, size, &q);
	if (ret == 0) {
		size_t n = strlen(q.name);

		if (n > 253 || q.question_end > size || q.udp_size < 512)
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (q.name[i] <= 0x20 || q.name[i] >= 0x7f ||
			    (q.name[i] >= 'A' && q.name[i] <= 'Z'))
				__builtin_trap();
		ret = dns_build_response(&q, DNS_RC_NOERROR, rr, 3, out,
					 dns_udp_limit(&q, sizeof(out)), &out_len);
		if (ret != 0 || out_len > sizeof(out))
			__builtin_trap();
		/* The echoed question is byte-identical to the parsed one
		 * once case is folded. */
		if (out_len < q.question_end)
			__builtin_trap();
		for (size_t i = 12; i < q.question_end; i++) {
			uint8_t c = data[i];

			if (i < q.question_end - 4 && c >= 'A' && c <= 'Z')
				c = (uint8_t)(c - 'A' + 'a');
			if (c != out[i])
				__builtin_trap();
		}
		/* a denial with an EDE: an OPT only when the query had one, and
		 * the reply still parses (as a query) with one OPT */
		{
			struct dns_ede e = {.code = DNS_EDE_BLOCKED, .text = q.name};
			struct dns_query q2;

			ret = dns_build_response_ede(&q, DNS_RC_NXDOMAIN, NULL, 0, &e, out,
						     dns_udp_limit(&q, sizeof(out)), &out_len);
			if (ret != 0 || out_len > dns_udp_limit(&q, sizeof(out)))
				__builtin_trap();
			out[2] &= 0x7f;
			if (dns_parse_query(out, out_len, &q2) != 0 || q2.has_opt != q.has_opt)
				__builtin_trap();
		}
	} else if (ret != -AGW_EPARSE) {
		__builtin_trap();
	}
	ret = dns_build_error(data, size, DNS_RC_FORMERR, out, sizeof(out), &out_len);
	if (ret == 0 && out_len != 12)
		__builtin_trap();
	if (dns_tcp_frame_len(data, size, &msg_len) == 0 && msg_len > 65535)
		__builtin_trap();
	return 0;
}
