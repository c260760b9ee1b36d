/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a denied client is told, in a form an agent can read. One place
 * builds each answer so every path that refuses says the same thing: the
 * JSON body of an HTTP 403 (plain HTTP, inspected HTTPS), the whole 403
 * response around it, and the TLS alert a passthrough connection gets.
 * (DNS denials carry an Extended DNS Error: dns_msg.h.) Pure functions: no
 * I/O, no allocation.
 */
#ifndef AGW_DENY_H
#define AGW_DENY_H

#include <stddef.h>
#include <stdint.h>

/* Input bytes of each of rule, reason and host that are used at most. */
#define DENY_FIELD_MAX 256
/* A buffer this size always holds deny_http_response's output (each
 * field escapes to at most 6 bytes per input byte). */
#define DENY_HTTP_MAX 6144

/*
 * The JSON body of a denial, one object and a newline:
 *   {"error":"denied by agentgw","rule":"network.allow[2]",
 *    "reason":"no rule matches","host":"example.org"}
 * rule and host are null when NULL or empty; reason is "denied" when NULL
 * or empty. Each field is cut to DENY_FIELD_MAX bytes of input (between
 * UTF-8 characters) and escaped as JSON (controls, quotes, backslashes,
 * U+2028/9; invalid UTF-8 becomes U+FFFD). Returns 0 and *out_len (out is
 * NUL-terminated), -AGW_ETOOBIG when cap is too small (out is then "").
 */
int deny_http_body(char *out, size_t cap, const char *rule, const char *reason, const char *host,
		   size_t *out_len);

/*
 * A complete "HTTP/1.1 403 Forbidden" response (Content-Type:
 * application/json, Content-Length, Cache-Control: no-store, Connection:
 * close) whose body is deny_http_body's. Same arguments and returns;
 * DENY_HTTP_MAX bytes are always enough.
 */
int deny_http_response(char *out, size_t cap, const char *rule, const char *reason,
		       const char *host, size_t *out_len);

/* A TLS alert record: type 21, version, length 2, level, description. */
#define DENY_TLS_ALERT_LEN 7
#define DENY_TLS_ACCESS_DENIED 49

/*
 * A fatal access_denied alert as a plaintext TLS record, for a client
 * whose ClientHello (the first len bytes it sent, hello) was refused
 * before any server byte. The record version is the ClientHello's
 * client_version capped at TLS 1.2 (0x0303, also TLS 1.3's
 * legacy_record_version), else its record-layer version, else TLS 1.0
 * (0x0301) when hello is too short or not TLS. Writes
 * DENY_TLS_ALERT_LEN bytes to out and returns that length.
 */
size_t deny_tls_alert(const uint8_t *hello, size_t len, uint8_t out[DENY_TLS_ALERT_LEN]);

#endif
