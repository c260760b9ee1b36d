// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTTP/1.x request head parser and body framing (see http.h).
 * The proxy judges each request on a keep-alive connection, so it must find
 * request boundaries exactly where the upstream server will. The parser
 * therefore accepts only one spelling of everything that decides framing or
 * the target (Host, Content-Length, Transfer-Encoding, line endings) and
 * rejects the rest instead of guessing.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gateway/net/http.h"

#define HTTP_CL_MAX (1ULL << 62)

static bool http_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

static uint8_t http_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c - 'A' + 'a') : c;
}

static bool http_ieq(const uint8_t *a, size_t n, const char *b)
{
	if (strlen(b) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (http_lower(a[i]) != (uint8_t)b[i])
			return false;
	return true;
}

bool http_looks_like_http(const uint8_t *buf, size_t len)
{
	size_t i;

	if (!buf || len == 0)
		return false;
	for (i = 0; i < len && i < 16; i++) {
		uint8_t c = buf[i];

		if (c == ' ')
			return i > 0;
		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			return false;
	}
	return i < 16; /* all uppercase so far: may still become a method */
}

/* A reg-name whose last label is numeric is an IPv4 address to some
 * resolvers (inet_aton reads 127.1, 0x7f.1 and 2130706433 as 127.0.0.1).
 * Only the canonical dotted quad is accepted, so a name and an address
 * can never be confused. */
static bool http_host_numeric_ok(const uint8_t *s, size_t n)
{
	size_t last = n, parts = 0;
	bool numeric = true;

	while (last > 0 && s[last - 1] != '.')
		last--;
	for (size_t i = last; i < n; i++)
		if (!(s[i] >= '0' && s[i] <= '9'))
			numeric = false;
	if (n - last >= 2 && s[last] == '0' && (s[last + 1] == 'x' || s[last + 1] == 'X'))
		numeric = true;
	if (!numeric)
		return true;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		unsigned v = 0;

		while (j < n && s[j] >= '0' && s[j] <= '9' && j - i < 3)
			v = v * 10 + (unsigned)(s[j++] - '0');
		if (j == i || (j < n && s[j] != '.') || v > 255 || (s[i] == '0' && j - i > 1))
			return false;
		parts++;
		i = j + 1;
		if (j == n)
			break;
	}
	return parts == 4;
}

/*
 * Parses "host[:port]" (reg-name, IPv4 or [IPv6]) into host/port. The
 * host is lowercased, a single trailing dot dropped. Userinfo, empty
 * hosts, bad ports and any character outside the host grammar fail.
 */
static int http_parse_authority(const uint8_t *s, size_t n, char *host, size_t cap, uint16_t *port)
{
	size_t hlen, i, out = 0;
	const uint8_t *h = s;

	*port = 0;
	host[0] = '\0';
	if (n == 0)
		return -AGW_EPARSE;
	if (s[0] == '[') {
		const uint8_t *end = memchr(s, ']', n);

		if (!end)
			return -AGW_EPARSE;
		h = s + 1;
		hlen = (size_t)(end - h);
		if (hlen < 2)
			return -AGW_EPARSE;
		for (i = 0; i < hlen; i++) {
			uint8_t c = http_lower(h[i]);

			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' ||
			      c == '.'))
				return -AGW_EPARSE; /* no zone ids, no IPvFuture */
		}
		i = (size_t)(end - s) + 1;
	} else {
		for (i = 0; i < n && s[i] != ':'; i++) {
			uint8_t c = http_lower(s[i]);

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '.' || c == '_'))
				return -AGW_EPARSE; /* '@' (userinfo), '%', '/', ... */
		}
		hlen = i;
		if (hlen > 1 && s[hlen - 1] == '.')
			hlen--;
		if (hlen == 0 || s[0] == '.')
			return -AGW_EPARSE;
		for (size_t j = 1; j < hlen; j++)
			if (s[j] == '.' && s[j - 1] == '.')
				return -AGW_EPARSE;
		if (!http_host_numeric_ok(s, hlen))
			return -AGW_EPARSE;
	}
	if (hlen + 1 > cap || hlen > HTTP_HOST_MAX)
		return -AGW_EPARSE;
	for (size_t j = 0; j < hlen; j++)
		host[out++] = (char)http_lower(h[j]);
	host[out] = '\0';
	if (i < n) {
		unsigned long v = 0;
		size_t digits = n - i - 1;

		if (s[i] != ':' || digits == 0 || digits > 5)
			return -AGW_EPARSE;
		for (size_t j = i + 1; j < n; j++) {
			if (s[j] < '0' || s[j] > '9')
				return -AGW_EPARSE;
			v = v * 10 + (unsigned long)(s[j] - '0');
		}
		if (v == 0 || v > 65535)
			return -AGW_EPARSE;
		*port = (uint16_t)v;
	}
	return 0;
}

/* Request-target characters: visible ASCII except '#' (fragments are
 * never sent), '\\' (some servers read it as '/', which would slip past
 * path rules) and '"', '<', '>' (only seen in injection attempts). Clients
 * do send '|', '{', '}', '^' and '`' unencoded; they change nothing. */
static bool http_target_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '#' && c != '"' && c != '<' && c != '>' && c != '\\';
}

static int http_parse_target(const uint8_t *t, size_t n, struct http_req *r)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!http_target_char(t[i]))
			return -AGW_EPARSE;
	if (strcmp(r->method, "CONNECT") == 0) {
		r->upgrade = true;
		if (n == 0 || t[0] == '/')
			return -AGW_EPARSE;
		if (http_parse_authority(t, n, r->host, sizeof(r->host), &r->host_port) < 0 ||
		    r->host_port == 0)
			return -AGW_EPARSE;
		r->path[0] = '\0';
		return 0;
	}
	if (n == 1 && t[0] == '*') {
		if (strcmp(r->method, "OPTIONS") != 0)
			return -AGW_EPARSE;
		memcpy(r->path, "*", 2);
		return 0;
	}
	if (n > 0 && t[0] == '/') {
		if (n + 1 > sizeof(r->path))
			return -AGW_EPARSE;
		memcpy(r->path, t, n);
		r->path[n] = '\0';
		return 0;
	}
	if (n > 7 && http_ieq(t, 7, "http://")) {
		i = 7;
	} else if (n > 8 && http_ieq(t, 8, "https://")) {
		i = 8;
		r->https_scheme = true;
	} else {
		return -AGW_EPARSE;
	}
	r->absolute_form = true;
	{
		size_t a = i, p, plen;

		while (i < n && t[i] != '/' && t[i] != '?')
			i++;
		if (http_parse_authority(t + a, i - a, r->host, sizeof(r->host), &r->host_port) < 0)
			return -AGW_EPARSE;
		p = 0;
		plen = n - i;
		if (plen == 0 || t[i] == '?')
			r->path[p++] = '/';
		if (p + plen + 1 > sizeof(r->path))
			return -AGW_EPARSE;
		memcpy(r->path + p, t + i, plen);
		r->path[p + plen] = '\0';
	}
	return 0;
}

/* Parses "1*DIGIT" (optionally a list of identical values) into *v. */
static int http_parse_cl(const uint8_t *v, size_t n, int64_t *out)
{
	int64_t val = -1;
	size_t i = 0;

	while (i < n) {
		uint64_t x = 0;
		size_t start = i;

		while (i < n && v[i] >= '0' && v[i] <= '9') {
			if (x > HTTP_CL_MAX / 10)
				return -AGW_EPARSE;
			x = x * 10 + (uint64_t)(v[i] - '0');
			if (x > HTTP_CL_MAX)
				return -AGW_EPARSE;
			i++;
		}
		if (i == start)
			return -AGW_EPARSE;
		if (val >= 0 && (uint64_t)val != x)
			return -AGW_EPARSE;
		val = (int64_t)x;
		if (i == n)
			break;
		/* list form "5, 5" (RFC 9110 8.6): comma with optional spaces */
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n || v[i] != ',')
			return -AGW_EPARSE;
		i++;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			return -AGW_EPARSE;
	}
	if (val < 0)
		return -AGW_EPARSE;
	*out = val;
	return 0;
}

struct http_hdrs {
	bool have_host, have_te, have_cl;
	bool conn_close, conn_keepalive, conn_upgrade, upgrade_hdr;
	char host[254];
	uint16_t host_port;
};

/* Notes the close, keep-alive and upgrade tokens of a Connection value. */
static void http_conn_tokens(const uint8_t *v, size_t n, struct http_hdrs *h)
{
	size_t i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (http_ieq(v + s, e - s, "close"))
			h->conn_close = true;
		else if (http_ieq(v + s, e - s, "keep-alive"))
			h->conn_keepalive = true;
		else if (http_ieq(v + s, e - s, "upgrade"))
			h->conn_upgrade = true;
	}
}

static int http_header(const uint8_t *line, size_t n, struct http_req *r, struct http_hdrs *h)
{
	const uint8_t *colon = memchr(line, ':', n);
	const uint8_t *v;
	size_t name_len, vlen;

	if (line[0] == ' ' || line[0] == '\t')
		return -AGW_EPARSE; /* obs-fold: joined differently by peers */
	if (!colon || colon == line)
		return -AGW_EPARSE;
	name_len = (size_t)(colon - line);
	for (size_t i = 0; i < name_len; i++)
		if (!http_tchar(line[i]))
			return -AGW_EPARSE; /* includes "Host :" */
	v = colon + 1;
	vlen = n - name_len - 1;
	while (vlen && (v[0] == ' ' || v[0] == '\t')) {
		v++;
		vlen--;
	}
	while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	for (size_t i = 0; i < vlen; i++)
		if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return -AGW_EPARSE;

	if (http_ieq(line, name_len, "host")) {
		if (h->have_host)
			return -AGW_EPARSE;
		h->have_host = true;
		return http_parse_authority(v, vlen, h->host, sizeof(h->host), &h->host_port);
	}
	if (http_ieq(line, name_len, "content-length")) {
		int64_t cl;

		if (http_parse_cl(v, vlen, &cl) < 0)
			return -AGW_EPARSE;
		if (h->have_cl && cl != r->content_length)
			return -AGW_EPARSE;
		h->have_cl = true;
		r->content_length = cl;
		return 0;
	}
	if (http_ieq(line, name_len, "transfer-encoding")) {
		if (h->have_te || !http_ieq(v, vlen, "chunked"))
			return -AGW_EPARSE;
		h->have_te = true;
		r->chunked = true;
		return 0;
	}
	if (http_ieq(line, name_len, "connection")) {
		http_conn_tokens(v, vlen, h);
		return 0;
	}
	if (http_ieq(line, name_len, "upgrade")) {
		/* Only a WebSocket handshake may turn the connection raw:
		 * h2c and the rest would carry requests no rule judges. */
		if (h->upgrade_hdr || !http_ieq(v, vlen, "websocket"))
			r->upgrade_other = true;
		h->upgrade_hdr = true;
		return 0;
	}
	if (http_ieq(line, name_len, "x-http-method-override") ||
	    http_ieq(line, name_len, "x-http-method") ||
	    http_ieq(line, name_len, "x-method-override")) {
		r->method_override = true;
		return 0;
	}
	if (http_ieq(line, name_len, "expect")) {
		if (http_ieq(v, vlen, "100-continue"))
			r->expect_continue = true;
		return 0;
	}
	return 0;
}

/* Checks the raw head bytes: CRLF line ends only, no NUL or controls
 * except HT. Returns the head length, 0 if incomplete, or -AGW_EPARSE. */
static long http_scan_head(const uint8_t *buf, size_t len)
{
	size_t lim = AGW_MIN(len, (size_t)HTTP_HEAD_MAX);

	for (size_t i = 0; i < lim; i++) {
		uint8_t c = buf[i];

		if (c == '\r') {
			if (i + 1 < len && buf[i + 1] != '\n')
				return -AGW_EPARSE; /* bare CR */
		} else if (c == '\n') {
			if (i == 0 || buf[i - 1] != '\r')
				return -AGW_EPARSE; /* bare LF */
			if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r')
				return (long)(i + 1);
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return -AGW_EPARSE;
		}
	}
	return 0;
}

static int http_request_line(const uint8_t *l, size_t n, struct http_req *r)
{
	const uint8_t *sp1 = memchr(l, ' ', n), *sp2;
	size_t mlen, tlen, vlen;

	if (!sp1)
		return -AGW_EPARSE;
	mlen = (size_t)(sp1 - l);
	if (mlen == 0 || mlen >= sizeof(r->method))
		return -AGW_EPARSE;
	for (size_t i = 0; i < mlen; i++)
		if (!http_tchar(l[i]))
			return -AGW_EPARSE;
	memcpy(r->method, l, mlen);
	r->method[mlen] = '\0';
	sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
	if (!sp2)
		return -AGW_EPARSE; /* HTTP/0.9 "GET /" */
	tlen = (size_t)(sp2 - sp1 - 1);
	vlen = n - mlen - tlen - 2;
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return -AGW_EPARSE; /* also HTTP/2.0 ("PRI * HTTP/2.0") */
	r->version_minor = sp2[8] - '0';
	if (tlen == 0)
		return -AGW_EPARSE;
	return http_parse_target(sp1 + 1, tlen, r);
}

int http_parse_request(const uint8_t *buf, size_t len, struct http_req *r)
{
	struct http_hdrs h;
	size_t off, line_end;
	long head;
	int ret;

	memset(r, 0, sizeof(*r));
	memset(&h, 0, sizeof(h));
	r->content_length = -1;
	if (!buf || len == 0)
		return -AGW_ETRUNC;
	if (!http_looks_like_http(buf, len))
		return -AGW_EPARSE;
	head = http_scan_head(buf, len);
	if (head < 0)
		return (int)head;
	if (head == 0)
		return len >= HTTP_HEAD_MAX ? -AGW_ETOOBIG : -AGW_ETRUNC;
	r->head_len = (size_t)head;

	line_end = (size_t)((const uint8_t *)memchr(buf, '\n', r->head_len) - buf) - 1;
	ret = http_request_line(buf, line_end, r);
	if (ret < 0)
		return ret;
	off = line_end + 2;
	while (off < r->head_len - 2) {
		const uint8_t *nl = memchr(buf + off, '\n', r->head_len - off);
		size_t n = (size_t)(nl - buf) - 1 - off;

		ret = http_header(buf + off, n, r, &h);
		if (ret < 0)
			return ret;
		off += n + 2;
	}

	if (h.have_cl && h.have_te)
		return -AGW_EPARSE;
	if (h.have_te && r->version_minor == 0)
		return -AGW_EPARSE; /* RFC 9112 6.1: TE in 1.0 is not trustworthy */
	if (r->version_minor == 1 && !h.have_host && strcmp(r->method, "CONNECT") != 0)
		return -AGW_EPARSE;
	if (r->absolute_form || strcmp(r->method, "CONNECT") == 0) {
		if (h.have_host) {
			uint16_t def = r->https_scheme ? 443 : 80;
			uint16_t tp = r->host_port ? r->host_port : def;
			uint16_t hp = h.host_port ? h.host_port : def;

			if (strcmp(r->method, "CONNECT") == 0 && !h.host_port)
				hp = tp;
			if (strcmp(h.host, r->host) != 0 || tp != hp)
				return -AGW_EPARSE;
		}
	} else if (h.have_host) {
		memcpy(r->host, h.host, sizeof(r->host));
		r->host_port = h.host_port;
	}
	r->conn_close = h.conn_close || (r->version_minor == 0 && !h.conn_keepalive);
	if (h.upgrade_hdr && h.conn_upgrade)
		r->upgrade = true;
	return 0;
}

int http_sniff(const uint8_t *buf, size_t len)
{
	static const char http_s[] = "https:";
	size_t i, k;

	if (!buf || len == 0)
		return -AGW_ETRUNC;
	if (buf[0] == '\r' || buf[0] == '\n' || buf[0] == ' ' || buf[0] == '\t')
		return 1;
	for (i = 0; i < len && i <= 32; i++) {
		if (buf[i] == ' ')
			break;
		if (!http_tchar(buf[i]))
			return 0;
	}
	if (i > 32 || i == 0)
		return 0;
	if (i == len)
		return -AGW_ETRUNC;
	/* A proxy at the address would tunnel anywhere. */
	if (http_ieq(buf, i, "connect"))
		return 1;
	/* Any other token is a method only if a request target follows
	 * (SMTP's "EHLO host" and FTP's "USER name" are not requests). */
	i++;
	if (i == len)
		return -AGW_ETRUNC;
	if (buf[i] == '/' || buf[i] == '*')
		return 1;
	for (k = 0; k < 6 && i + k < len; k++) {
		if (k == 4 && buf[i + k] == ':')
			return 1; /* "http:" */
		if (http_lower(buf[i + k]) != (uint8_t)http_s[k])
			return 0;
	}
	return k == 6 ? 1 : -AGW_ETRUNC;
}

bool http_scan_shaped(const uint8_t *buf, size_t len)
{
	static const uint8_t line[] = " HTTP/1.";

	if (!buf)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == 0x16 && len - i >= 11 && buf[i + 1] == 0x03 && buf[i + 2] >= 1 &&
		    buf[i + 2] <= 3 && buf[i + 5] == 0x01 && buf[i + 6] == 0x00 &&
		    buf[i + 9] == 0x03 && buf[i + 10] <= 4)
			return true;
		if (buf[i] == ' ' && len - i >= 10 && memcmp(buf + i, line, 8) == 0 &&
		    (buf[i + 8] == '0' || buf[i + 8] == '1') &&
		    (buf[i + 9] == '\r' || buf[i + 9] == '\n'))
			return true;
	}
	return false;
}

/* Case-insensitive: does the header line [l, l+n) have this name? Sets
 * *v to the value with leading blanks skipped. */
static bool http_resp_hdr_is(const char *l, size_t n, const char *name, const char **v)
{
	size_t k = strlen(name);

	if (n <= k || l[k] != ':' || strncasecmp(l, name, k) != 0)
		return false;
	*v = l + k + 1;
	while (*v < l + n && (**v == ' ' || **v == '\t'))
		(*v)++;
	return true;
}

int http_parse_resp(const uint8_t *buf, size_t len, struct http_resp *r)
{
	const char *b = (const char *)buf, *end = NULL, *l, *v;
	size_t max = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	int64_t cl = -1;
	bool chunked = false;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	if (!buf)
		return -AGW_EPARSE;
	for (size_t i = 0; i + 3 < max; i++) {
		if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
			end = b + i + 2; /* the empty line */
			break;
		}
	}
	if (!end) {
		/* Refuse early what can never become a response head. */
		if (len >= HTTP_HEAD_MAX)
			return -AGW_EPARSE;
		if (memcmp(b, "HTTP/1.", AGW_MIN(len, (size_t)7)) != 0)
			return -AGW_EPARSE;
		return -AGW_ETRUNC;
	}
	if (end - b < 14 || memcmp(b, "HTTP/1.", 7) != 0 || (b[7] != '0' && b[7] != '1') ||
	    b[8] != ' ' || b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' || b[11] < '0' ||
	    b[11] > '9' || (b[12] != ' ' && b[12] != '\r'))
		return -AGW_EPARSE;
	r->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	r->head_len = (size_t)(end - b) + 2;
	l = (const char *)memchr(b, '\n', (size_t)(end - b)) + 1;
	while (l < end) {
		const char *nl = memchr(l, '\n', (size_t)(end - l));
		size_t n = (size_t)(nl - l);

		if (n && l[n - 1] == '\r')
			n--;
		if (http_resp_hdr_is(l, n, "Transfer-Encoding", &v)) {
			/* RFC 9112 6.3: chunked last frames it, else close. */
			if ((size_t)(l + n - v) == 7 && strncasecmp(v, "chunked", 7) == 0 &&
			    !chunked && cl != -2)
				chunked = true;
			else
				cl = -2;
		} else if (http_resp_hdr_is(l, n, "Content-Length", &v) && cl != -2 && !chunked) {
			int64_t x = 0;
			const char *p = v;

			/* Longer than the bound: left unread, so not framed. */
			for (; p < l + n && *p >= '0' && *p <= '9' && x < ((int64_t)1 << 62) / 10;
			     p++)
				x = x * 10 + (*p - '0');
			if (p == v || p != l + n || (cl >= 0 && cl != x))
				cl = -2;
			else
				cl = x;
		}
		l = nl + 1;
	}
	if (chunked && cl == -2)
		chunked = false;
	r->content_length = cl;
	r->chunked = chunked;
	return 0;
}

int http_path_decode(const uint8_t *path, size_t len, char *out, size_t cap, unsigned flags,
		     const char **why)
{
	size_t o = 0, i = 0;
	size_t seg_len = 0; /* decoded bytes of this segment before any ';' */
	bool seg_dots = true, in_params = false, stripping = false;

	*why = NULL;
	if (cap == 0)
		return -AGW_ETOOBIG;
	out[0] = '\0';
	if (!path)
		return 0;
	if (len == 0 || (len == 1 && path[0] == '*')) {
		if (len + 1 > cap)
			return -AGW_ETOOBIG;
		memcpy(out, path, len);
		out[len] = '\0';
		return 0;
	}
	if (path[0] != '/') {
		*why = "request path does not start with '/'";
		return -AGW_EPARSE;
	}
	for (i = 0; i <= len; i++) {
		int c;
		bool raw = true;
		const char *esc = NULL;

		if (i == len || path[i] == '?' || path[i] == '/') {
			/* End of a segment: "." and ".." are read as steps by
			 * servers and clients; refuse rather than guess. */
			if (seg_dots && (seg_len == 1 || seg_len == 2)) {
				*why =
				    "dot segment ('.' or '..', also %2e or before ';') in the path";
				return -AGW_EPARSE;
			}
			seg_len = 0;
			seg_dots = true;
			in_params = false;
			stripping = false;
			if (i == len || path[i] == '?')
				break;
			if (o + 2 > cap)
				return -AGW_ETOOBIG;
			out[o++] = '/';
			continue;
		}
		c = path[i];
		if (c == '%') {
			c = agw_pct_byte(path + i, len - i);
			if (c < 0) {
				*why = "bad %-escape in the path";
				return -AGW_EPARSE;
			}
			raw = false;
			i += 2;
		}
		if (c == '/' && !raw) {
			*why = "encoded '/' (%2F) in the path";
			return -AGW_EPARSE;
		}
		if (c == '\\') {
			*why = "backslash in the path";
			return -AGW_EPARSE;
		}
		if (c < 0x20 || c == 0x7f) {
			*why = "NUL or control character in the path";
			return -AGW_EPARSE;
		}
		if (c == ';')
			in_params = true; /* raw or decoded: either may be a param */
		else if (!in_params) {
			seg_len++;
			if (c != '.')
				seg_dots = false;
		}
		if ((flags & HTTP_PATH_STRIP_PARAMS) && c == ';' && raw)
			stripping = true;
		if (stripping)
			continue;
		if (c == '%')
			esc = "%25";
		else if (c == '?')
			esc = "%3F";
		else if (c == '#')
			esc = "%23";
		if (esc) {
			if (o + 4 > cap)
				return -AGW_ETOOBIG;
			memcpy(out + o, esc, 3);
			o += 3;
		} else {
			if (o + 2 > cap)
				return -AGW_ETOOBIG;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return 0;
}

void http_body_init(struct http_body *b, const struct http_req *r)
{
	memset(b, 0, sizeof(*b));
	if (r->chunked) {
		b->state = HTTP_BODY_CHUNK_SIZE;
	} else if (r->content_length > 0) {
		b->state = HTTP_BODY_LENGTH;
		b->remaining = (uint64_t)r->content_length;
	} else {
		b->state = HTTP_BODY_DONE;
	}
}

int http_body_consume(struct http_body *b, const uint8_t *buf, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	while (b->state != HTTP_BODY_DONE) {
		uint8_t c;

		if (i >= len) {
			*used = len;
			return 0;
		}
		if (b->state == HTTP_BODY_LENGTH || b->state == HTTP_BODY_CHUNK_DATA) {
			size_t take = (size_t)AGW_MIN(b->remaining, (uint64_t)(len - i));

			i += take;
			b->remaining -= take;
			if (b->remaining == 0)
				b->state = b->state == HTTP_BODY_LENGTH ? HTTP_BODY_DONE
									: HTTP_BODY_CHUNK_DATA_CR;
			continue;
		}
		c = buf[i++];
		switch (b->state) {
		case HTTP_BODY_CHUNK_SIZE:
			if (++b->line_len > HTTP_CHUNK_LINE_MAX)
				return -AGW_EPARSE;
			if (agw_hexval(c) >= 0) {
				if (++b->digits > 15)
					return -AGW_EPARSE;
				b->remaining = b->remaining << 4 | (uint64_t)agw_hexval(c);
			} else if (b->digits == 0) {
				return -AGW_EPARSE;
			} else if (c == ';') {
				b->state = HTTP_BODY_CHUNK_EXT;
			} else if (c == '\r') {
				b->state = HTTP_BODY_CHUNK_SIZE_LF;
			} else {
				return -AGW_EPARSE;
			}
			break;
		case HTTP_BODY_CHUNK_EXT:
			if (++b->line_len > HTTP_CHUNK_LINE_MAX)
				return -AGW_EPARSE;
			if (c == '\r')
				b->state = HTTP_BODY_CHUNK_SIZE_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -AGW_EPARSE;
			break;
		case HTTP_BODY_CHUNK_SIZE_LF:
			if (c != '\n')
				return -AGW_EPARSE;
			b->line_len = 0;
			b->digits = 0;
			if (b->remaining == 0) {
				b->last_chunk = true;
				b->state = HTTP_BODY_TRAILER;
			} else {
				b->state = HTTP_BODY_CHUNK_DATA;
			}
			break;
		case HTTP_BODY_CHUNK_DATA_CR:
			if (c != '\r')
				return -AGW_EPARSE;
			b->state = HTTP_BODY_CHUNK_DATA_LF;
			break;
		case HTTP_BODY_CHUNK_DATA_LF:
			if (c != '\n')
				return -AGW_EPARSE;
			b->state = HTTP_BODY_CHUNK_SIZE;
			break;
		case HTTP_BODY_TRAILER:
			if (c == '\r') {
				b->state = HTTP_BODY_FINAL_LF;
				break;
			}
			if (c == ' ' || c == '\t' || !http_tchar(c))
				return -AGW_EPARSE; /* obs-fold or not a field name */
			b->state = HTTP_BODY_TRAILER_LINE;
			__attribute__((fallthrough));
		case HTTP_BODY_TRAILER_LINE:
			if (++b->trailer_len > HTTP_TRAILER_MAX)
				return -AGW_EPARSE;
			if (c == '\r')
				b->state = HTTP_BODY_TRAILER_LF;
			else if ((c < 0x20 && c != '\t') || c == 0x7f)
				return -AGW_EPARSE;
			break;
		case HTTP_BODY_TRAILER_LF:
			if (c != '\n')
				return -AGW_EPARSE;
			b->state = HTTP_BODY_TRAILER;
			break;
		case HTTP_BODY_FINAL_LF:
			if (c != '\n')
				return -AGW_EPARSE;
			b->state = HTTP_BODY_DONE;
			break;
		default:
			return -AGW_EPARSE;
		}
	}
	*used = i;
	return 1;
}

uint64_t http_body_data_left(const struct http_body *b)
{
	return b->state == HTTP_BODY_LENGTH || b->state == HTTP_BODY_CHUNK_DATA ? b->remaining : 0;
}

int http_body_skip(struct http_body *b, uint64_t n)
{
	if (n > http_body_data_left(b))
		return -AGW_EINVAL;
	b->remaining -= n;
	if (b->remaining == 0 && n > 0)
		b->state = b->state == HTTP_BODY_LENGTH ? HTTP_BODY_DONE : HTTP_BODY_CHUNK_DATA_CR;
	return b->state == HTTP_BODY_DONE;
}
