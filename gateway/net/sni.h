/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS ClientHello parsing for the transparent proxy: extracts the one
 * server_name (SNI) host, the ALPN list and whether ECH is offered, from the
 * first bytes a client sent, reassembling a handshake message fragmented
 * over several TLS records. Pure: no I/O, no globals, no allocation; it
 * never blocks.
 */
#ifndef AGW_SNI_H
#define AGW_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agw.h"

#define SNI_HOST_MAX 253
#define SNI_HELLO_MAX 16384 /* largest ClientHello body we reassemble */
#define SNI_EXT_ECH 0xfe0d

struct sni_info {
	char host[SNI_HOST_MAX + 1]; /* "" when the ClientHello has no SNI */
	bool has_ech;		     /* encrypted_client_hello (0xfe0d) offered */
	char alpn[64];		     /* ALPN protocols joined by ',' ("h2,http/1.1"),
					truncated at a whole entry; "" if none */
	uint16_t legacy_version;     /* ClientHello.legacy_version, e.g. 0x0303 */
};

/*
 * Parses the first bytes a client sent (re-parsing from the start each
 * time more arrive is fine: it is linear in len and uses 16 KiB of stack).
 * Returns
 *  0             a TLS ClientHello with exactly one host_name SNI, copied
 *                lowercased into host[cap] (validated as a DNS host name:
 *                LDH labels, trailing dot dropped, <= 253 octets);
 *  -AGW_ENOTFOUND a valid ClientHello without SNI;
 *  -AGW_ETRUNC   looks like TLS but more bytes are needed (the handshake
 *                message is reassembled across records up to
 *                SNI_HELLO_MAX bytes). The caller bounds what it peeks
 *                (a ClientHello split into 1-byte records takes 6 bytes
 *                per byte); -AGW_ETRUNC with a full buffer or after the
 *                peek timeout means refuse;
 *  -AGW_EPARSE   not TLS, or malformed: bad lengths, duplicate extensions,
 *                two host_name entries, an IP literal or invalid characters
 *                in the SNI, a ClientHello larger than SNI_HELLO_MAX;
 *  -AGW_ETOOBIG  the host does not fit in cap.
 */
int sni_parse(const uint8_t *buf, size_t len, char *host, size_t cap);

/* As sni_parse(), filling *info (host, ECH, ALPN, version). Same returns;
 * on -AGW_ENOTFOUND the other fields of *info are valid. */
int sni_parse_info(const uint8_t *buf, size_t len, struct sni_info *info);

/* Cheap dispatcher check: first byte 0x16 (handshake) and, if present,
 * the record version's major byte 0x03. True on 1 byte (0x16). */
bool sni_looks_like_tls(const uint8_t *buf, size_t len);

/*
 * Is this a TLS connection? 1 when the first bytes are a TLS record header
 * (content type 20..24, version major 3) or an SSLv2-format ClientHello
 * (high bit set in the first byte, message type 1 in the third), 0 when
 * not, -AGW_ETRUNC when more bytes are needed to tell.
 */
int sni_sniff(const uint8_t *buf, size_t len);

#endif
