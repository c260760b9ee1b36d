// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Denials an agent can read (see deny.h): the JSON body of a 403, the
 * response that carries it, and the TLS access_denied alert. The strings
 * come from the policy and from the agent's own request (the host), so
 * everything is escaped and bounded.
 */
#include <stdio.h>
#include <string.h>

#include "agw.h"
#include "json.h"
#include "deny.h"

/* One JSON value: "escaped", or null. Appends to out[*n], bounded by cap. */
static int deny_put_str(char *out, size_t cap, size_t *n, const char *key, const char *s)
{
	char in[DENY_FIELD_MAX + 1], esc[DENY_FIELD_MAX * 6 + 1];
	size_t len;
	int w;

	if (!s || !s[0]) {
		w = snprintf(out + *n, cap - *n, ",\"%s\":null", key);
	} else {
		len = strnlen(s, DENY_FIELD_MAX);
		/* cut between UTF-8 characters, never inside one */
		if (s[len])
			while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
				len--;
		memcpy(in, s, len);
		in[len] = '\0';
		json_esc_str(esc, sizeof(esc), in);
		w = snprintf(out + *n, cap - *n, ",\"%s\":\"%s\"", key, esc);
	}
	if (w < 0 || (size_t)w >= cap - *n)
		return -AGW_ETOOBIG;
	*n += (size_t)w;
	return 0;
}

int deny_http_body(char *out, size_t cap, const char *rule, const char *reason, const char *host,
		   size_t *out_len)
{
	static const char head[] = "{\"error\":\"denied by agentgw\"";
	size_t n = sizeof(head) - 1;
	int rc = -AGW_ETOOBIG;

	*out_len = 0;
	if (!out || cap < n + 3)
		goto out;
	memcpy(out, head, n);
	rc = deny_put_str(out, cap, &n, "rule", rule);
	if (rc == 0)
		rc = deny_put_str(out, cap, &n, "reason", reason && reason[0] ? reason : "denied");
	if (rc == 0)
		rc = deny_put_str(out, cap, &n, "host", host);
	if (rc == 0 && cap - n < 3)
		rc = -AGW_ETOOBIG;
	if (rc < 0)
		goto out;
	out[n++] = '}';
	out[n++] = '\n';
	out[n] = '\0';
	*out_len = n;
out:
	if (rc < 0 && out && cap)
		out[0] = '\0';
	return rc;
}

int deny_http_response(char *out, size_t cap, const char *rule, const char *reason,
		       const char *host, size_t *out_len)
{
	char body[DENY_HTTP_MAX];
	size_t bn;
	int n, rc;

	*out_len = 0;
	rc = deny_http_body(body, sizeof(body), rule, reason, host, &bn);
	if (rc < 0)
		goto out;
	n = out ? snprintf(out, cap,
			   "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n"
			   "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			   "Connection: close\r\n\r\n%s",
			   bn, body)
		: -1;
	if (n < 0 || (size_t)n >= cap) {
		rc = -AGW_ETOOBIG;
		goto out;
	}
	*out_len = (size_t)n;
out:
	if (rc < 0 && out && cap)
		out[0] = '\0';
	return rc;
}

size_t deny_tls_alert(const uint8_t *hello, size_t len, uint8_t out[DENY_TLS_ALERT_LEN])
{
	unsigned v = 0x0301;

	/* record: 22, version(2), length(2); handshake: 1, length(3),
	 * client_version(2) */
	if (hello && len >= 11 && hello[0] == 0x16 && hello[5] == 0x01)
		v = (unsigned)(hello[9] << 8 | hello[10]);
	else if (hello && len >= 3 && hello[0] == 0x16)
		v = (unsigned)(hello[1] << 8 | hello[2]);
	if (v >> 8 != 3)
		v = 0x0301;
	else if (v > 0x0303)
		v = 0x0303;
	else if (v < 0x0301)
		v = 0x0301; /* SSL 3.0 is gone; the alert layout is the same */
	out[0] = 21;
	out[1] = (uint8_t)(v >> 8);
	out[2] = (uint8_t)v;
	out[3] = 0;
	out[4] = 2;
	out[5] = 2; /* fatal */
	out[6] = DENY_TLS_ACCESS_DENIED;
	return DENY_TLS_ALERT_LEN;
}
