// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Path globs and path normalisation, for filesystem rules and HTTP path
 * rules. A glob is split into '/' segments: `**` (a whole segment) matches
 * zero or more segments, `*` any run of bytes within a segment, `?` one byte.
 * Matching is iterative (one backtrack point per level), so no pattern can
 * make it exponential, and it never allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "policies/pol_int.h"

void pol_glob_free(struct pol_glob *g)
{
	if (!g)
		return;
	free(g->text);
	free(g->buf);
	free(g->seg);
	free(g->kind);
	memset(g, 0, sizeof(*g));
}

const char *pol_glob_compile(const char *text, size_t len, bool http, struct pol_glob *g)
{
	const char *s = text, *end = text + len, *msg = NULL;
	size_t nseg = 0, bo = 0;

	memset(g, 0, sizeof(*g));
	if (len == 0)
		return "empty path glob";
	if (len > POL_MAX_PATH)
		return "path glob longer than 4096 bytes";
	if (memchr(text, 0, len))
		return "path glob contains a NUL byte";
	if (http && text[0] != '/')
		return "HTTP path globs start with '/', like '/docs/**'";
	while (s < end && *s == '/')
		s++;
	g->text = strndup(text, len);
	g->buf = malloc(len + 1);
	g->seg = calloc(len / 2 + 2, sizeof(*g->seg));
	g->kind = calloc(len / 2 + 2, 1);
	if (!g->text || !g->buf || !g->seg || !g->kind) {
		msg = "out of memory";
		goto out;
	}
	while (s < end) {
		const char *e = memchr(s, '/', (size_t)(end - s));
		size_t sl;
		bool wild = false;

		if (!e)
			e = end;
		sl = (size_t)(e - s);
		if (sl == 0) {
			msg = "empty path segment ('//') in glob";
			goto out;
		}
		if ((sl == 1 && s[0] == '.') || (sl == 2 && s[0] == '.' && s[1] == '.')) {
			msg = "'.' and '..' segments are not allowed in globs; globs are relative "
			      "to the workspace";
			goto out;
		}
		if (sl == 2 && s[0] == '*' && s[1] == '*') {
			/* "**" twice in a row means the same as once */
			if (!(nseg > 0 && g->kind[nseg - 1] == POL_SEG_DSTAR)) {
				g->seg[nseg] = (uint32_t)bo;
				g->kind[nseg++] = POL_SEG_DSTAR;
				g->buf[bo++] = '*';
				g->buf[bo++] = '*';
				g->buf[bo++] = 0;
			}
		} else {
			if (memmem(s, sl, "**", 2)) {
				msg =
				    "'**' must be a whole path segment, like 'src/**' or '**/*.c'";
				goto out;
			}
			g->seg[nseg] = (uint32_t)bo;
			for (size_t i = 0; i < sl; i++) {
				if (s[i] == '*' || s[i] == '?')
					wild = true;
				else
					g->lit_chars++;
				g->buf[bo++] = s[i];
			}
			g->buf[bo++] = 0;
			g->kind[nseg++] = wild ? POL_SEG_WILD : POL_SEG_LIT;
			if (!wild)
				g->lit_segs++;
		}
		if (e == end)
			break;
		s = e + 1;
		if (s == end) {
			msg = "path glob ends with '/'; write 'dir/**' for everything under dir, "
			      "or 'dir' for the folder itself";
			goto out;
		}
	}
	g->nseg = (uint32_t)nseg;
out:
	if (msg)
		pol_glob_free(g);
	return msg;
}

static bool unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

enum pol_norm pol_path_norm(const char *path, bool http, struct pol_path *out)
{
	size_t len = 0, bo = 0;
	const char *s = path, *end;

	out->nseg = 0;
	if (!path)
		return POL_NORM_OK;
	if (http)
		len = strcspn(path, "?#");
	else
		len = strlen(path);
	if (len > POL_MAX_PATH)
		return POL_NORM_TOOLONG;
	end = path + len;
	while (s < end) {
		size_t start = bo, sl;

		while (s < end && *s == '/')
			s++;
		if (s >= end)
			break;
		while (s < end && *s != '/') {
			int c = (unsigned char)*s;
			int d = http ? agw_pct_byte((const uint8_t *)s, (size_t)(end - s)) : -1;

			if (d >= 0 && unreserved(d)) {
				c = d;
				s += 3;
			} else {
				s++;
			}
			out->buf[bo++] = (char)c;
		}
		sl = bo - start;
		if (sl == 1 && out->buf[start] == '.') {
			bo = start;
			continue;
		}
		if (sl == 2 && out->buf[start] == '.' && out->buf[start + 1] == '.') {
			if (out->nseg == 0)
				return POL_NORM_ESCAPE;
			out->nseg--;
			bo = out->off[out->nseg];
			continue;
		}
		out->off[out->nseg] = (uint16_t)start;
		out->len[out->nseg] = (uint16_t)sl;
		out->nseg++;
	}
	return POL_NORM_OK;
}

static bool seg_match(const char *pat, const char *str, size_t slen)
{
	size_t p = 0, s = 0, ss = 0;
	ssize_t star = -1;

	while (s < slen) {
		if (pat[p] && (pat[p] == '?' || pat[p] == str[s])) {
			p++;
			s++;
		} else if (pat[p] == '*') {
			star = (ssize_t)p++;
			ss = s;
		} else if (star >= 0) {
			p = (size_t)star + 1;
			s = ++ss;
		} else {
			return false;
		}
	}
	while (pat[p] == '*')
		p++;
	return pat[p] == 0;
}

static bool seg_eq(const struct pol_glob *g, uint32_t pi, const struct pol_path *p, uint32_t si)
{
	const char *pat = g->buf + g->seg[pi];
	const char *str = p->buf + p->off[si];
	size_t slen = p->len[si];

	if (g->kind[pi] == POL_SEG_LIT)
		return strlen(pat) == slen && memcmp(pat, str, slen) == 0;
	return seg_match(pat, str, slen);
}

bool pol_glob_match(const struct pol_glob *g, const struct pol_path *p)
{
	uint32_t pi = 0, si = 0, ssi = 0;
	int64_t star = -1;

	while (si < p->nseg) {
		if (pi < g->nseg && g->kind[pi] == POL_SEG_DSTAR) {
			star = pi++;
			ssi = si;
		} else if (pi < g->nseg && seg_eq(g, pi, p, si)) {
			pi++;
			si++;
		} else if (star >= 0) {
			pi = (uint32_t)star + 1;
			si = ++ssi;
		} else {
			return false;
		}
	}
	while (pi < g->nseg && g->kind[pi] == POL_SEG_DSTAR)
		pi++;
	return pi == g->nseg;
}

void pol_glob_states(const struct pol_glob *g, const struct pol_path *p,
		     uint64_t set[POL_GLOB_WORDS])
{
	uint64_t next[POL_GLOB_WORDS];

	memset(set, 0, POL_GLOB_WORDS * sizeof(*set));
	set[0] = 1;
	for (uint32_t si = 0;; si++) {
		/* '**' may match no segment: reaching it also reaches what follows */
		for (uint32_t pi = 0; pi < g->nseg; pi++)
			if ((set[pi / 64] >> (pi % 64) & 1) && g->kind[pi] == POL_SEG_DSTAR)
				set[(pi + 1) / 64] |= 1ull << ((pi + 1) % 64);
		if (si >= p->nseg)
			break;
		memset(next, 0, sizeof(next));
		for (uint32_t pi = 0; pi < g->nseg; pi++) {
			if (!(set[pi / 64] >> (pi % 64) & 1))
				continue;
			if (g->kind[pi] == POL_SEG_DSTAR)
				next[pi / 64] |= 1ull << (pi % 64);
			else if (seg_eq(g, pi, p, si))
				next[(pi + 1) / 64] |= 1ull << ((pi + 1) % 64);
		}
		memcpy(set, next, sizeof(next));
	}
	/* The end of the pattern matches only the path itself, nothing below it. */
	set[g->nseg / 64] &= ~(1ull << (g->nseg % 64));
}
