// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control protocol codec: frame header parsing and the typed message
 * encoders and decoders. Pure functions over byte buffers; linked into both
 * libagentgw and the static guest init, so it uses nothing but libc.
 */
#include "ctl.h"

#include <string.h>

#include "agw.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

const char *ctl_type_name(uint16_t type)
{
	static const char *const names[] = {
	    [CTL_HELLO] = "HELLO",   [CTL_EXEC] = "EXEC",	    [CTL_STARTED] = "STARTED",
	    [CTL_STDIN] = "STDIN",   [CTL_STDIN_EOF] = "STDIN_EOF", [CTL_RESIZE] = "RESIZE",
	    [CTL_SIGNAL] = "SIGNAL", [CTL_STDOUT] = "STDOUT",	    [CTL_STDERR] = "STDERR",
	    [CTL_EXIT] = "EXIT",     [CTL_ERROR] = "ERROR",	    [CTL_POWEROFF] = "POWEROFF",
	    [CTL_DENIAL] = "DENIAL",
	};

	if (type == 0 || type > CTL_TYPE_MAX)
		return "?";
	return names[type];
}

int ctl_frame_parse(const uint8_t *buf, size_t n, struct ctl_hdr *h, size_t *frame_len)
{
	if (n < CTL_HDR_LEN)
		return -AGW_ETRUNC;
	h->len = get32(buf);
	h->type = get16(buf + 4);
	h->flags = get16(buf + 6);
	h->id = get32(buf + 8);
	if (h->len > CTL_MAX_PAYLOAD)
		return -AGW_ETOOBIG;
	if (h->type == 0 || h->type > CTL_TYPE_MAX)
		return -AGW_EPROTO;
	if (n - CTL_HDR_LEN < h->len)
		return -AGW_ETRUNC;
	*frame_len = CTL_HDR_LEN + (size_t)h->len;
	return 0;
}

/* Write the header for a payload of plen bytes; the caller fills the rest. */
static int put_hdr(uint8_t *buf, size_t cap, uint16_t type, uint16_t flags, uint32_t id,
		   size_t plen)
{
	if (type == 0 || type > CTL_TYPE_MAX)
		return -AGW_EINVAL;
	if (plen > CTL_MAX_PAYLOAD || cap < CTL_HDR_LEN || cap - CTL_HDR_LEN < plen)
		return -AGW_ETOOBIG;
	put32(buf, (uint32_t)plen);
	put16(buf + 4, type);
	put16(buf + 6, flags);
	put32(buf + 8, id);
	return (int)(CTL_HDR_LEN + plen);
}

int ctl_encode(uint8_t *buf, size_t cap, uint16_t type, uint16_t flags, uint32_t id,
	       const void *payload, size_t plen)
{
	int r = put_hdr(buf, cap, type, flags, id, plen);

	if (r >= 0 && plen)
		memcpy(buf + CTL_HDR_LEN, payload, plen);
	return r;
}

int ctl_encode_hello(uint8_t *buf, size_t cap, const char *text)
{
	size_t tl = text ? strnlen(text, 256) : 0;
	int r = put_hdr(buf, cap, CTL_HELLO, 0, 0, 8 + tl);

	if (r < 0)
		return r;
	put32(buf + CTL_HDR_LEN, CTL_VERSION);
	put32(buf + CTL_HDR_LEN + 4, CTL_MAX_PAYLOAD);
	if (tl)
		memcpy(buf + CTL_HDR_LEN + 8, text, tl);
	return r;
}

/* Append s and its NUL at *off; fails when it does not fit in cap. */
static int put_str(uint8_t *buf, size_t cap, size_t *off, const char *s)
{
	size_t l = strlen(s) + 1;

	if (*off > cap || cap - *off < l)
		return -AGW_ETOOBIG;
	memcpy(buf + *off, s, l);
	*off += l;
	return 0;
}

int ctl_encode_exec(uint8_t *buf, size_t cap, uint32_t id, const char *const *argv,
		    const char *const *env, const char *cwd, int pty, uint16_t rows, uint16_t cols)
{
	return ctl_encode_exec_as(buf, cap, id, argv, env, cwd, NULL, pty, rows, cols);
}

int ctl_encode_exec_as(uint8_t *buf, size_t cap, uint32_t id, const char *const *argv,
		       const char *const *env, const char *cwd, const char *user, int pty,
		       uint16_t rows, uint16_t cols)
{
	uint16_t flags = (uint16_t)((pty ? CTL_EXEC_PTY : 0) | (user && *user ? CTL_EXEC_USER : 0));
	size_t argc = 0, envc = 0, off = CTL_HDR_LEN + 12, lim;
	int r;

	if (!argv || !argv[0])
		return -AGW_EINVAL;
	while (argv[argc])
		argc++;
	while (env && env[envc])
		envc++;
	if (argc > CTL_MAX_ARGS || envc > CTL_MAX_ARGS)
		return -AGW_ETOOBIG;
	lim = AGW_MIN(cap, (size_t)CTL_MAX_FRAME);
	if (lim < off)
		return -AGW_ETOOBIG;
	if ((r = put_str(buf, lim, &off, cwd ? cwd : "")) < 0)
		return r;
	if ((flags & CTL_EXEC_USER) && (r = put_str(buf, lim, &off, user)) < 0)
		return r;
	for (size_t i = 0; i < argc; i++)
		if ((r = put_str(buf, lim, &off, argv[i])) < 0)
			return r;
	for (size_t i = 0; i < envc; i++)
		if ((r = put_str(buf, lim, &off, env[i])) < 0)
			return r;
	r = put_hdr(buf, cap, CTL_EXEC, flags, id, off - CTL_HDR_LEN);
	if (r < 0)
		return r;
	put16(buf + CTL_HDR_LEN, rows);
	put16(buf + CTL_HDR_LEN + 2, cols);
	put32(buf + CTL_HDR_LEN + 4, (uint32_t)argc);
	put32(buf + CTL_HDR_LEN + 8, (uint32_t)envc);
	return r;
}

int ctl_encode_u32(uint8_t *buf, size_t cap, uint16_t type, uint32_t id, uint32_t v)
{
	int r = put_hdr(buf, cap, type, 0, id, 4);

	if (r >= 0)
		put32(buf + CTL_HDR_LEN, v);
	return r;
}

int ctl_encode_resize(uint8_t *buf, size_t cap, uint32_t id, uint16_t rows, uint16_t cols)
{
	int r = put_hdr(buf, cap, CTL_RESIZE, 0, id, 4);

	if (r >= 0) {
		put16(buf + CTL_HDR_LEN, rows);
		put16(buf + CTL_HDR_LEN + 2, cols);
	}
	return r;
}

int ctl_encode_exit(uint8_t *buf, size_t cap, uint32_t id, int32_t code, uint32_t sig)
{
	int r = put_hdr(buf, cap, CTL_EXIT, 0, id, 8);

	if (r >= 0) {
		put32(buf + CTL_HDR_LEN, (uint32_t)code);
		put32(buf + CTL_HDR_LEN + 4, sig);
	}
	return r;
}

int ctl_encode_error(uint8_t *buf, size_t cap, uint32_t id, int32_t err, const char *text)
{
	size_t tl = text ? strnlen(text, 1024) : 0;
	int r = put_hdr(buf, cap, CTL_ERROR, 0, id, 4 + tl);

	if (r < 0)
		return r;
	put32(buf + CTL_HDR_LEN, (uint32_t)err);
	if (tl)
		memcpy(buf + CTL_HDR_LEN + 4, text, tl);
	return r;
}

int ctl_hello_decode(const uint8_t *p, size_t n, uint32_t *version, uint32_t *max_payload)
{
	if (n < 8)
		return -AGW_EPROTO;
	*version = get32(p);
	*max_payload = get32(p + 4);
	return 0;
}

/* Take the NUL-terminated string at *off; fails if p[*off..n) has no NUL. */
static int take_str(uint8_t *p, size_t n, size_t *off, char **out)
{
	const uint8_t *nul;

	if (*off >= n)
		return -AGW_EPROTO;
	nul = memchr(p + *off, 0, n - *off);
	if (!nul)
		return -AGW_EPROTO;
	*out = (char *)(p + *off);
	*off = (size_t)(nul - p) + 1;
	return 0;
}

int ctl_exec_decode(uint8_t *p, size_t n, uint16_t flags, struct ctl_exec *e)
{
	size_t off = 12;
	uint32_t i;

	memset(e, 0, sizeof(*e));
	if (n < 12)
		return -AGW_EPROTO;
	e->pty = (flags & CTL_EXEC_PTY) != 0;
	e->rows = get16(p);
	e->cols = get16(p + 2);
	e->argc = get32(p + 4);
	e->envc = get32(p + 8);
	if (e->argc == 0 || e->argc > CTL_MAX_ARGS || e->envc > CTL_MAX_ARGS)
		goto bad;
	if (take_str(p, n, &off, &e->cwd) < 0)
		goto bad;
	if (flags & CTL_EXEC_USER) {
		if (take_str(p, n, &off, &e->user) < 0 || !e->user[0])
			goto bad;
	} else {
		e->user = e->cwd + strlen(e->cwd); /* "" */
	}
	for (i = 0; i < e->argc; i++)
		if (take_str(p, n, &off, &e->argv[i]) < 0)
			goto bad;
	for (i = 0; i < e->envc; i++)
		if (take_str(p, n, &off, &e->env[i]) < 0)
			goto bad;
	if (off != n || e->argv[0][0] == '\0')
		goto bad;
	return 0;
bad:
	memset(e, 0, sizeof(*e));
	return -AGW_EPROTO;
}

int ctl_u32_decode(const uint8_t *p, size_t n, uint32_t *v)
{
	if (n != 4)
		return -AGW_EPROTO;
	*v = get32(p);
	return 0;
}

int ctl_resize_decode(const uint8_t *p, size_t n, uint16_t *rows, uint16_t *cols)
{
	if (n != 4)
		return -AGW_EPROTO;
	*rows = get16(p);
	*cols = get16(p + 2);
	return 0;
}

int ctl_exit_decode(const uint8_t *p, size_t n, int32_t *code, uint32_t *sig)
{
	if (n != 8)
		return -AGW_EPROTO;
	*code = (int32_t)get32(p);
	*sig = get32(p + 4);
	return 0;
}

int ctl_error_decode(const uint8_t *p, size_t n, int32_t *err, const char **text, size_t *text_len)
{
	if (n < 4)
		return -AGW_EPROTO;
	*err = (int32_t)get32(p);
	*text = (const char *)(p + 4);
	*text_len = n - 4;
	return 0;
}
