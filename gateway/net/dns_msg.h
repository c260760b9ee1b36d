/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * DNS wire format for the gateway's resolver: a pure parser for incoming
 * queries (one question, strict name rules so DNS cannot be used to smuggle
 * data out), builders for answers and error replies, and the TCP two-byte
 * length framing. No I/O, no globals, no allocation; every function only
 * reads and writes the buffers it is given and never blocks.
 */
#ifndef AGW_DNS_MSG_H
#define AGW_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agw.h"

#define DNS_NAME_MAX 255 /* presentation form incl. NUL fits in 256 */
#define DNS_HDR_LEN 12
#define DNS_UDP_MIN 512	   /* classic UDP payload limit without EDNS */
#define DNS_EDNS_SIZE 1232 /* our advertised EDNS UDP payload size */
#define DNS_TCP_MAX 65535

enum {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_OPT = 41,
	DNS_T_HTTPS = 65,
	DNS_T_ANY = 255
};

enum {
	DNS_RC_NOERROR = 0,
	DNS_RC_FORMERR = 1,
	DNS_RC_SERVFAIL = 2,
	DNS_RC_NXDOMAIN = 3,
	DNS_RC_NOTIMP = 4,
	DNS_RC_REFUSED = 5
};

#define DNS_CLASS_IN 1

/* Extended DNS Errors (RFC 8914): the EDNS option and the INFO-CODEs the
 * gateway uses. */
#define DNS_OPT_EDE 15
enum {
	DNS_EDE_OTHER = 0,	/* gateway trouble (audit down, overload) */
	DNS_EDE_BLOCKED = 15,	/* the policy denies the name */
	DNS_EDE_PROHIBITED = 18 /* a query this client may not make (type, class) */
};
#define DNS_EDE_TEXT_MAX 200 /* EXTRA-TEXT bytes at most */

struct dns_ede {
	uint16_t code;
	const char *text; /* EXTRA-TEXT; NULL or "" for none */
};

struct dns_query {
	uint16_t id;
	uint16_t flags; /* header flags word as received */
	uint8_t opcode;
	bool rd;
	char name[DNS_NAME_MAX + 1]; /* lowercase, no trailing dot, "" for root */
	uint16_t qtype, qclass;
	bool has_opt;	       /* an EDNS OPT record was in the additional section */
	uint16_t udp_size;     /* from OPT (at least 512), or 512 without OPT */
	size_t question_end;   /* offset after the question */
	bool name_is_hostname; /* every label LDH (letters digits hyphen; '_' allowed for _srv) */
};

/*
 * Parses a whole DNS query message (UDP datagram or one TCP frame without
 * its length prefix). Returns 0 and fills *q, or -AGW_EPARSE when malformed:
 * QR set, qdcount != 1, a compression pointer in the question, a label over
 * 63 octets, a name over 255 octets, truncated input, or a name with a byte
 * outside printable ASCII or a '.' or '\\' inside a label (DNS exfiltration
 * or smuggling). Label case is folded to lowercase. The additional section
 * is scanned for an OPT record (compression pointers are allowed there but
 * never followed). Never returns -AGW_ETRUNC: a UDP datagram is whole.
 */
int dns_parse_query(const uint8_t *buf, size_t len, struct dns_query *q);

struct dns_rr {
	uint16_t type; /* DNS_T_A or DNS_T_AAAA */
	uint32_t ttl;
	uint8_t addr[16]; /* 4 bytes used for A */
};

/*
 * Builds a response to q into out[cap]: header with QR and RA set, RD copied,
 * AA clear, opcode copied; the question echoed (name re-encoded from
 * q->name); answers[] as A/AAAA records whose owner is a compression pointer
 * to the question name (0xC00C); an OPT record (udp size 1232) when
 * q->has_opt. When the message would exceed cap (UDP callers pass
 * cap = dns_udp_limit(q, buffer size)), TC is set and
 * the answers are dropped. Returns 0 and *out_len, -AGW_ETOOBIG when not
 * even the header and question fit, -AGW_EINVAL for a bad answer type or
 * an unencodable name.
 */
int dns_build_response(const struct dns_query *q, int rcode, const struct dns_rr *answers,
		       size_t n_answers, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Encodes one EDE option (RFC 8914: OPTION-CODE 15, OPTION-LENGTH,
 * INFO-CODE, EXTRA-TEXT) into out[cap]. The text is cut to
 * DNS_EDE_TEXT_MAX bytes and every byte outside printable ASCII becomes
 * '?' (EXTRA-TEXT is UTF-8 shown to people; it is never NUL-terminated).
 * Returns 0 and *out_len, -AGW_ETOOBIG when cap is too small.
 */
int dns_ede_encode(const struct dns_ede *ede, uint8_t *out, size_t cap, size_t *out_len);

/*
 * dns_build_response with an Extended DNS Error in the OPT record. Only
 * when q->has_opt: RFC 6891 forbids an OPT record in a reply to a query
 * without one, so without EDNS the reply is dns_build_response's and the
 * RCODE alone tells the client. When the reply with the EDE would exceed
 * cap, the text is left out first, then the option; answers are dropped
 * (TC) only as dns_build_response drops them. ede may be NULL. Returns as
 * dns_build_response.
 */
int dns_build_response_ede(const struct dns_query *q, int rcode, const struct dns_rr *answers,
			   size_t n_answers, const struct dns_ede *ede, uint8_t *out, size_t cap,
			   size_t *out_len);

/*
 * Builds a bare error reply (FORMERR, SERVFAIL, ...) for a request that
 * parsed only partly: the id (and RD, opcode) copied from req, QR set, all
 * counts zero, no question. Returns 0, -AGW_EPARSE when req is shorter than
 * the 12-byte header or has QR set (then drop it silently: never answer an
 * answer), -AGW_ETOOBIG when cap < 12.
 */
int dns_build_error(const uint8_t *req, size_t req_len, int rcode, uint8_t *out, size_t cap,
		    size_t *out_len);

/* Reply size limit for a UDP answer to q: 512 without EDNS, else
 * min(q->udp_size, DNS_EDNS_SIZE) but at least 512; bounded by cap. */
size_t dns_udp_limit(const struct dns_query *q, size_t cap);

/*
 * TCP framing: returns 0 and *msg_len (the length in the 2-byte big-endian
 * prefix; the message is buf[2 .. 2 + *msg_len]) when the prefix is present,
 * -AGW_ETRUNC when fewer than 2 bytes are buffered. The caller must check
 * that 2 + *msg_len bytes have arrived before parsing.
 */
int dns_tcp_frame_len(const uint8_t *buf, size_t len, size_t *msg_len);

#endif
