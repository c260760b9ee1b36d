/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HTTP/1.x request parsing for the transparent proxy: a strict parser for
 * the request head (method, target, Host, framing headers) that rejects
 * anything two HTTP implementations could read differently (request
 * smuggling), body framing for keep-alive connections (Content-Length and
 * chunked with trailers) so every pipelined request is seen and judged.
 * The 403 reply for a denied request is deny.h's. Pure: no I/O, no globals, no
 * allocation; never blocks.
 */
#ifndef AGW_HTTP_H
#define AGW_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agw.h"

#define HTTP_HEAD_MAX 16384
#define HTTP_HOST_MAX 253
#define HTTP_CHUNK_LINE_MAX 4096 /* chunk-size line incl. extensions */
#define HTTP_TRAILER_MAX 8192	 /* all trailer lines of one body */

struct http_req {
	char method[16];
	char path[2048];	/* origin-form path+query as sent; for absolute-form
				   the path part ("/" when empty); "*" for OPTIONS *;
				   "" for CONNECT */
	char host[254];		/* from Host (or absolute-form / CONNECT authority),
				   lowercased, port stripped; IPv6 literal without
				   brackets */
	uint16_t host_port;	/* port in Host (or authority), 0 if none */
	int version_minor;	/* 0 or 1 */
	size_t head_len;	/* bytes up to and including the blank line */
	int64_t content_length; /* -1 if none */
	bool chunked;
	bool conn_close; /* Connection: close, or HTTP/1.0 without keep-alive */
	bool upgrade;	 /* Upgrade header with Connection: upgrade, or CONNECT.
			    The request only asks: relay raw bytes only after
			    the server answered 101 (or 2xx to CONNECT) */
	bool expect_continue;
	bool method_override; /* X-HTTP-Method-Override, X-HTTP-Method or
				 X-Method-Override present: many frameworks
				 then act on that method, not the request
				 line's, so method rules cannot be trusted */
	bool upgrade_other;   /* an Upgrade header that is not exactly the one
				 token "websocket" (h2c, a list, two headers):
				 the proxy refuses it, as the new protocol's
				 requests would pass unjudged */
	bool absolute_form;   /* target was http://authority/path */
	bool https_scheme;    /* absolute-form target used https:// */
};

/*
 * Parses a request head from the start of buf (re-parse from the start
 * when more bytes arrive: linear in len, at most HTTP_HEAD_MAX). Returns
 *  0            a complete head; *r filled, r->head_len bytes consumed;
 *  -AGW_ETRUNC  the head is not complete yet (and len < HTTP_HEAD_MAX);
 *  -AGW_ETOOBIG no blank line within HTTP_HEAD_MAX bytes;
 *  -AGW_EPARSE  malformed or dangerous: missing Host on 1.1 (except
 *               CONNECT), duplicate Host, Host with
 *               invalid characters or userinfo, absolute-form/CONNECT
 *               authority differing from Host, obs-fold, both
 *               Content-Length and Transfer-Encoding, differing duplicate
 *               Content-Length, Transfer-Encoding other than exactly
 *               "chunked", bare CR or LF-only line ends, NUL or other
 *               control characters, method not an uppercase token, target
 *               not origin/absolute form (asterisk-form only with OPTIONS,
 *               authority-form only with CONNECT), HTTP/0.9, HTTP/2.0
 *               (including the "PRI * HTTP/2.0" preface), any version
 *               other than 1.0/1.1.
 */
int http_parse_request(const uint8_t *buf, size_t len, struct http_req *r);

/* Cheap dispatcher check: starts with 1..15 uppercase letters (or '-'/'_')
 * followed by a space; with fewer bytes, true if what is there could still
 * become that. */
bool http_looks_like_http(const uint8_t *buf, size_t len);

/*
 * Protocol sniffing for the proxy's first look at a connection. Both
 * return 1 when the bytes are shaped like the protocol, 0 when they are
 * not, and -AGW_ETRUNC when more bytes are needed to tell.
 *
 * http_sniff: HTTP-shaped is a leading CR, LF, SP or HT (servers such as
 * nginx skip empty lines before a request), the token CONNECT (any case)
 * followed by SP, or any other token of at most 32 bytes (Go accepts
 * lowercase methods) followed by SP and then '/', '*' or "http:"/"https:"
 * (case-insensitive). "EHLO host" or "USER name" are not HTTP.
 */
int http_sniff(const uint8_t *buf, size_t len);

/*
 * Scans bytes in the middle of a stream for the start of a TLS ClientHello
 * (record header 16 03 01..03, handshake type 1 and legacy_version 3.x at
 * their offsets) or the end of an HTTP/1 request line (" HTTP/1.0" or
 * " HTTP/1.1" then CR or LF). True when either is in buf. Random bytes
 * match with odds of about 2^-50 per offset.
 */
bool http_scan_shaped(const uint8_t *buf, size_t len);

/*
 * The response to a request, as far as the proxy needs it to find where
 * it ends: status, head length and framing.
 */
struct http_resp {
	int status;		/* 100..599 */
	size_t head_len;	/* bytes up to and including the empty line */
	int64_t content_length; /* -1 none; -2 cannot be framed by length
				   (bad or conflicting Content-Length, a
				   Transfer-Encoding other than chunked) */
	bool chunked;		/* Transfer-Encoding: chunked frames the body */
};

/*
 * Reads a response head at the start of buf: "HTTP/1.x NNN ...", header
 * lines, an empty line (CRLF CRLF), within HTTP_HEAD_MAX bytes. Returns
 * 0 with *r filled, -AGW_ETRUNC when the head is not complete yet,
 * -AGW_EPARSE when it is not an HTTP/1.x response head or has no empty
 * line within HTTP_HEAD_MAX bytes (the proxy then stops tracking responses
 * on the connection). Lenient on header syntax: it only frames bodies.
 */
int http_parse_resp(const uint8_t *buf, size_t len, struct http_resp *r);

/* http_path_decode flags */
#define HTTP_PATH_STRIP_PARAMS 0x1 /* drop ";params" from each segment */

/*
 * The path of a request target as servers will read it, for matching
 * path rules. path is the target as http_parse_request reported it
 * (origin-form path and query, "*" or ""); only the part before '?' is
 * decoded. Every %XX escape is decoded; '%', '?' and '#' in the result are
 * written re-escaped (%25, %3F, %23) so nothing downstream decodes twice or
 * cuts the path. With HTTP_PATH_STRIP_PARAMS, ";..." is removed from each
 * segment, as Tomcat and Spring do (a raw ';' only).
 * Returns 0 and out (NUL-terminated); -AGW_ETOOBIG when cap is too small;
 * -AGW_EPARSE with *why (static text) for a path servers could read
 * another way: a target not starting with '/', a bad %-escape, an encoded
 * '/' (%2F) or any '\\' (raw or %5C), NUL or another control character
 * after decoding, a '.' or '..' segment (also spelled %2e, or before a
 * ';': "..;/" is ".." to Tomcat).
 */
int http_path_decode(const uint8_t *path, size_t len, char *out, size_t cap, unsigned flags,
		     const char **why);

enum http_body_state {
	HTTP_BODY_DONE = 0,
	HTTP_BODY_LENGTH,     /* Content-Length bytes left in remaining */
	HTTP_BODY_CHUNK_SIZE, /* hex digits of a chunk-size line */
	HTTP_BODY_CHUNK_EXT,  /* ;extensions up to CR */
	HTTP_BODY_CHUNK_SIZE_LF,
	HTTP_BODY_CHUNK_DATA, /* remaining bytes of chunk data */
	HTTP_BODY_CHUNK_DATA_CR,
	HTTP_BODY_CHUNK_DATA_LF,
	HTTP_BODY_TRAILER, /* start of a trailer line (or the final CRLF) */
	HTTP_BODY_TRAILER_LINE,
	HTTP_BODY_TRAILER_LF,
	HTTP_BODY_FINAL_LF,
};

struct http_body {
	int state;	    /* enum http_body_state */
	uint64_t remaining; /* bytes left in a Content-Length body or chunk */
	unsigned digits;    /* hex digits read in this chunk-size line */
	size_t line_len;    /* bytes in this chunk-size line */
	size_t trailer_len; /* bytes of trailers so far */
	bool last_chunk;    /* the size line was 0 */
};

/* Sets up body framing for the request r: Content-Length, chunked, or none
 * (a request without either has no body: state DONE). */
void http_body_init(struct http_body *b, const struct http_req *r);

/*
 * Consumes up to len body bytes. Returns 1 when the body is complete
 * (*used = bytes of buf that belong to this body; the next request starts
 * at buf + *used), 0 when more is needed (*used = len), -AGW_EPARSE on bad
 * chunk syntax (bad hex, more than 15 hex digits (sizes over 2^60), missing
 * CRLF after data, chunk line or trailers too long, control characters in
 * trailers). An already-complete body returns 1 with *used = 0.
 */
int http_body_consume(struct http_body *b, const uint8_t *buf, size_t len, size_t *used);

/* How many of the next body bytes are data that need no look to be framed
 * (the rest of a Content-Length body or of a chunk's data); 0 when the
 * next byte is framing (a chunk-size line, a CRLF, trailers) or the body
 * is complete. */
uint64_t http_body_data_left(const struct http_body *b);
/* n such data bytes went by unread (n <= http_body_data_left): returns 1
 * when they completed the body, 0 when more follows, -AGW_EINVAL when n
 * is larger (nothing changed). */
int http_body_skip(struct http_body *b, uint64_t n);

#endif
