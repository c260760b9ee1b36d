/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JSON string escaping, one character at a time, shared by the audit output
 * formats (audit/aud_format.c) and the JSON details the 9P server writes
 * into audit events (gateway/fs/p9_path.c). Strings come from the agent, so
 * invalid UTF-8 becomes U+FFFD, controls and U+2028/U+2029 are escaped, and
 * a caller that stops early never cuts a UTF-8 sequence in half. Pure
 * functions: no I/O, no allocation.
 */
#ifndef AGW_JSON_H
#define AGW_JSON_H

#include <stddef.h>

/* Room for the escape of one character plus its NUL ("\u2028", or a
 * 4-byte UTF-8 sequence copied as is). */
#define JSON_ESC_MAX 8

/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there
 * are not one (bad lead, bad continuation, overlong, surrogate, > U+10FFFF).
 * s must be NUL-terminated; it is never read past its NUL.
 */
size_t json_utf8_len(const unsigned char *s);

/*
 * The JSON string form of the character at s (not the NUL that ends s)
 * into out, NUL-terminated: at most JSON_ESC_MAX bytes with the NUL.
 * Returns how many bytes of s it stands for (1..4).
 */
size_t json_esc_char(const char *s, char out[JSON_ESC_MAX]);

/*
 * The escaped body of s (no quotes) into out[cap], NUL-terminated, cut
 * between characters when it does not fit. Returns the length written.
 */
size_t json_esc_str(char *out, size_t cap, const char *s);

#endif
