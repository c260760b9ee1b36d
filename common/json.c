// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * JSON string escaping of hostile text, one character at a time (see
 * json.h): the one place that decides what is valid UTF-8 and how each
 * control character is written.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"

size_t json_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		/* s[1] is checked before s[2] is read: a NUL stops the && */
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

size_t json_esc_char(const char *str, char out[JSON_ESC_MAX])
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = json_utf8_len(s);

	if (n == 0) {
		memcpy(out, "\\ufffd", 7);
		return 1;
	}
	if (n > 1) {
		/* U+2028/2029 end lines in JavaScript; escape them too */
		if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
			snprintf(out, JSON_ESC_MAX, "\\u%04x", s[2] == 0xa8 ? 0x2028 : 0x2029);
		} else {
			memcpy(out, s, n);
			out[n] = '\0';
		}
		return n;
	}
	switch (*s) {
	case '"':
		memcpy(out, "\\\"", 3);
		break;
	case '\\':
		memcpy(out, "\\\\", 3);
		break;
	case '\n':
		memcpy(out, "\\n", 3);
		break;
	case '\r':
		memcpy(out, "\\r", 3);
		break;
	case '\t':
		memcpy(out, "\\t", 3);
		break;
	default:
		if (*s < 0x20 || *s == 0x7f) {
			snprintf(out, JSON_ESC_MAX, "\\u%04x", *s);
		} else {
			out[0] = (char)*s;
			out[1] = '\0';
		}
	}
	return 1;
}

size_t json_esc_str(char *out, size_t cap, const char *s)
{
	char esc[JSON_ESC_MAX];
	size_t o = 0;

	if (!cap)
		return 0;
	while (*s) {
		size_t used = json_esc_char(s, esc), el = strlen(esc);

		if (o + el + 1 > cap)
			break;
		memcpy(out + o, esc, el);
		o += el;
		s += used;
	}
	out[o] = '\0';
	return o;
}
