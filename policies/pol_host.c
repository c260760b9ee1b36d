// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Host patterns: validation (LDH labels, length limits, wildcards only as a
 * whole leading label, punycode for non-ASCII) and the reversed-label trie
 * that finds every rule whose pattern covers a name. Trie edges live in one
 * open-addressing table keyed by (parent node, label), so a lookup costs one
 * hash probe per label of the name and never allocates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "policies/pol_int.h"

static inline char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* RFC 3492 punycode of one label given as code points; 0 or -1. */
static int puny_label(const uint32_t *cp, size_t n, char *out, size_t outsz)
{
	uint32_t nn = 128, delta = 0, bias = 72, h, b = 0;
	size_t o = 0;

	if (outsz < 5)
		return -1;
	memcpy(out, "xn--", 4);
	o = 4;
	for (size_t i = 0; i < n; i++)
		if (cp[i] < 128) {
			if (o + 2 >= outsz)
				return -1;
			out[o++] = lower((char)cp[i]);
			b++;
		}
	h = b;
	if (b > 0)
		out[o++] = '-';
	while (h < n) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++)
			if (cp[i] >= nn && cp[i] < m)
				m = cp[i];
		if ((uint64_t)(m - nn) * (h + 1) + delta > UINT32_MAX / 2)
			return -1;
		delta += (m - nn) * (h + 1);
		nn = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < nn)
				delta++;
			if (cp[i] == nn) {
				uint32_t q = delta;

				for (uint32_t k = 36;; k += 36) {
					uint32_t t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
					uint32_t d;

					if (q < t)
						break;
					d = t + (q - t) % (36 - t);
					if (o + 2 >= outsz)
						return -1;
					out[o++] = (char)(d < 26 ? 'a' + d : '0' + d - 26);
					q = (q - t) / (36 - t);
				}
				if (o + 2 >= outsz)
					return -1;
				out[o++] = (char)(q < 26 ? 'a' + q : '0' + q - 26);
				/* adapt the bias */
				{
					uint32_t dd = h == b ? delta / 700 : delta / 2, k = 0;

					dd += dd / (h + 1);
					while (dd > 455) {
						dd /= 35;
						k += 36;
					}
					bias = k + (36 * dd) / (dd + 38);
				}
				delta = 0;
				h++;
			}
		}
		delta++;
		nn++;
	}
	out[o] = 0;
	return 0;
}

/* Suggest the punycode form of a UTF-8 name; 0 if out holds it. */
static int puny_suggest(const char *s, size_t len, char *out, size_t outsz)
{
	uint32_t cp[64];
	size_t n = 0, o = 0, i = 0;

	while (i <= len) {
		if (i == len || s[i] == '.') {
			bool ascii = true;
			char lab[80];

			for (size_t k = 0; k < n; k++)
				if (cp[k] >= 128)
					ascii = false;
			if (ascii) {
				if (n >= sizeof(lab))
					return -1;
				for (size_t k = 0; k < n; k++)
					lab[k] = lower((char)cp[k]);
				lab[n] = 0;
			} else if (puny_label(cp, n, lab, sizeof(lab)) < 0) {
				return -1;
			}
			if (o + strlen(lab) + 2 > outsz)
				return -1;
			memcpy(out + o, lab, strlen(lab));
			o += strlen(lab);
			if (i < len)
				out[o++] = '.';
			n = 0;
			i++;
			continue;
		}
		{
			unsigned char c = (unsigned char)s[i];
			uint32_t v;
			size_t k;

			if (c < 0x80) {
				v = lower((char)c);
				k = 1;
			} else if ((c & 0xe0) == 0xc0) {
				v = c & 0x1f;
				k = 2;
			} else if ((c & 0xf0) == 0xe0) {
				v = c & 0x0f;
				k = 3;
			} else if ((c & 0xf8) == 0xf0) {
				v = c & 0x07;
				k = 4;
			} else {
				return -1;
			}
			if (i + k > len)
				return -1;
			for (size_t j = 1; j < k; j++) {
				if (((unsigned char)s[i + j] & 0xc0) != 0x80)
					return -1;
				v = (v << 6) | ((unsigned char)s[i + j] & 0x3f);
			}
			if (n >= AGW_ARRAY_LEN(cp) || v > 0x10ffff)
				return -1;
			cp[n++] = v;
			i += k;
		}
	}
	out[o] = 0;
	return 0;
}

const char *pol_host_parse(const char *s, size_t len, char *norm, size_t normsz,
			   enum pol_wild *wild, char *msg, size_t msgsz)
{
	size_t i, lab = 0, labstart;
	bool alldigits = true;

	*wild = POL_W_EXACT;
	norm[0] = 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80) {
			char sug[300];

			if (puny_suggest(s, len, sug, sizeof(sug)) == 0)
				snprintf(msg, msgsz,
					 "host names must be ASCII; write non-ASCII names in "
					 "punycode: '%s'",
					 sug);
			else
				snprintf(msg, msgsz,
					 "host names must be ASCII; write non-ASCII names in "
					 "punycode ('xn--...')");
			return msg;
		}
	if (memchr(s, ':', len) || memchr(s, '/', len)) {
		snprintf(msg, msgsz,
			 "'%.*s' is not a host name; give ports with 'ports:' and addresses with "
			 "'cidr:'",
			 (int)AGW_MIN(len, 80), s);
		return msg;
	}
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len >= 3 && memcmp(s, "**.", 3) == 0) {
		*wild = POL_W_DSTAR;
		s += 3;
		len -= 3;
	} else if (len >= 2 && memcmp(s, "*.", 2) == 0) {
		*wild = POL_W_STAR;
		s += 2;
		len -= 2;
	} else if ((len == 1 && s[0] == '*') || (len == 2 && s[0] == '*' && s[1] == '*')) {
		snprintf(msg, msgsz,
			 "a wildcard needs a suffix, like '*.example.com' (one label) or "
			 "'**.example.com' (any depth)");
		return msg;
	}
	if (len == 0) {
		snprintf(msg, msgsz, "empty host name");
		return msg;
	}
	if (len > POL_HOST_MAX || len + 1 > normsz) {
		snprintf(msg, msgsz, "host name longer than %d characters", POL_HOST_MAX);
		return msg;
	}
	labstart = 0;
	for (i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			lab = i - labstart;
			if (lab == 0) {
				snprintf(msg, msgsz,
					 "empty label ('..' or a leading '.') in host name");
				return msg;
			}
			if (lab > POL_LABEL_MAX) {
				snprintf(msg, msgsz,
					 "label '%.20s...' is longer than %d characters",
					 s + labstart, POL_LABEL_MAX);
				return msg;
			}
			if (s[labstart] == '-' || s[i - 1] == '-') {
				snprintf(msg, msgsz, "label '%.*s' starts or ends with '-'",
					 (int)lab, s + labstart);
				return msg;
			}
			labstart = i + 1;
			if (i < len) {
				norm[i] = '.';
				alldigits = true;
			}
			continue;
		}
		if (c == '*') {
			snprintf(msg, msgsz,
				 "'*' is allowed only as a whole leading label: '*.' (exactly one "
				 "label) or '**.' (one or more)");
			return msg;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-')) {
			snprintf(msg, msgsz,
				 "character '%c' is not allowed in a host name (letters, digits, "
				 "'-' and '.' only)",
				 c >= 0x20 && c < 0x7f ? c : '?');
			return msg;
		}
		if (!(c >= '0' && c <= '9'))
			alldigits = false;
		norm[i] = lower(c);
	}
	norm[len] = 0;
	if (alldigits) {
		snprintf(msg, msgsz,
			 "'%.*s' looks like an IP address; write addresses as 'cidr: %.*s/32'",
			 (int)AGW_MIN(len, 60), s, (int)AGW_MIN(len, 60), s);
		return msg;
	}
	return NULL;
}

/* ---- trie ---- */

static inline uint32_t mix(uint32_t h, uint32_t parent)
{
	h ^= parent * 0x9e3779b1u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static uint32_t lab_hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)lower(s[i])) * 16777619u;
	return h;
}

static int tab_grow(struct pol_trie *t)
{
	size_t nsz = t->tabsz ? t->tabsz * 2 : 1024;
	struct pol_tedge *nt = calloc(nsz, sizeof(*nt));

	if (!nt)
		return -AGW_ENOMEM;
	for (size_t i = 0; i < t->tabsz; i++) {
		struct pol_tedge *e = &t->tab[i];
		size_t j;

		if (!e->child)
			continue;
		for (j = e->hash & (nsz - 1); nt[j].child; j = (j + 1) & (nsz - 1))
			;
		nt[j] = *e;
	}
	free(t->tab);
	t->tab = nt;
	t->tabsz = nsz;
	return 0;
}

static int64_t node_new(struct pol_trie *t)
{
	if (t->nnodes == t->capnodes) {
		size_t cap = t->capnodes ? t->capnodes * 2 : 256;
		struct pol_tnode *n = realloc(t->nodes, cap * sizeof(*n));

		if (!n)
			return -AGW_ENOMEM;
		t->nodes = n;
		t->capnodes = cap;
	}
	memset(&t->nodes[t->nnodes], 0, sizeof(t->nodes[0]));
	return (int64_t)t->nnodes++;
}

static inline const struct pol_tedge *find_edge(const struct pol_trie *t, uint32_t parent,
						const char *lab, size_t n, uint32_t h)
{
	size_t mask = t->tabsz - 1;

	for (size_t j = h & mask;; j = (j + 1) & mask) {
		const struct pol_tedge *e = &t->tab[j];

		if (!e->child)
			return NULL;
		if (e->hash == h && e->parent == parent && (e->lab & 0xff) == n) {
			const char *l = t->labels + (e->lab >> 8);
			size_t k;

			for (k = 0; k < n && l[k] == lower(lab[k]); k++)
				;
			if (k == n)
				return e;
		}
	}
}

int64_t pol_trie_insert(struct pol_trie *t, const char *suffix)
{
	size_t len = strlen(suffix);
	uint32_t node = 0;
	int64_t r;

	if (t->nnodes == 0 && (r = node_new(t)) < 0)
		return r;
	while (len > 0) {
		const char *dot = memrchr(suffix, '.', len);
		const char *lab = dot ? dot + 1 : suffix;
		size_t n = (size_t)(suffix + len - lab);
		uint32_t h = mix(lab_hash(lab, n), node);
		const struct pol_tedge *e = t->tabsz ? find_edge(t, node, lab, n, h) : NULL;

		if (e) {
			node = e->child;
		} else {
			size_t j;

			if (t->llen + n + 1 >= (1u << 24))
				return -AGW_ETOOBIG; /* label offsets are 24 bits */
			if ((t->tabused + 1) * 2 > t->tabsz && tab_grow(t) < 0)
				return -AGW_ENOMEM;
			if (t->llen + n + 1 > t->lcap) {
				size_t cap = t->lcap ? t->lcap * 2 : 4096;
				char *l;

				while (cap < t->llen + n + 1)
					cap *= 2;
				l = realloc(t->labels, cap);
				if (!l)
					return -AGW_ENOMEM;
				t->labels = l;
				t->lcap = cap;
			}
			if ((r = node_new(t)) < 0)
				return r;
			for (j = h & (t->tabsz - 1); t->tab[j].child; j = (j + 1) & (t->tabsz - 1))
				;
			t->tab[j].parent = node;
			t->tab[j].child = (uint32_t)r;
			t->tab[j].hash = h;
			t->tab[j].lab = (uint32_t)t->llen << 8 | (uint32_t)n;
			memcpy(t->labels + t->llen, lab, n);
			t->labels[t->llen + n] = 0;
			t->llen += n + 1;
			t->tabused++;
			node = (uint32_t)r;
		}
		len = dot ? (size_t)(dot - suffix) : 0;
	}
	return node;
}

static int pend_cmp(const void *a, const void *b)
{
	const struct pol_tpend *x = a, *y = b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	if (x->wild != y->wild)
		return x->wild < y->wild ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

int pol_trie_finish(struct pol_trie *t, struct pol_tpend *pend, size_t n)
{
	if (t->nnodes == 0 && node_new(t) < 0)
		return -AGW_ENOMEM;
	if (t->tabsz == 0 && tab_grow(t) < 0)
		return -AGW_ENOMEM;
	if (n > 1)
		qsort(pend, n, sizeof(*pend), pend_cmp);
	t->rules = calloc(n ? n : 1, sizeof(*t->rules));
	if (!t->rules)
		return -AGW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct pol_tnode *nd = &t->nodes[pend[i].node];

		if (nd->cnt[pend[i].wild] == 0)
			nd->off[pend[i].wild] = (uint32_t)i;
		nd->cnt[pend[i].wild]++;
		t->rules[i] = pend[i].rule;
	}
	t->nrules = n;
	return 0;
}

void pol_trie_free(struct pol_trie *t)
{
	free(t->nodes);
	free(t->tab);
	free(t->labels);
	free(t->rules);
	memset(t, 0, sizeof(*t));
}

int pol_trie_walk(const struct pol_trie *t, const char *host, uint32_t *nodes, int *nlabels)
{
	size_t len = host ? strlen(host) : 0;
	int d = 0, labels = 0;
	bool walking = t->tabsz > 0;

	*nlabels = 0;
	nodes[0] = 0;
	if (len > 0 && host[len - 1] == '.')
		len--;
	if (len == 0 || len > POL_HOST_MAX)
		return -1;
	while (len > 0) {
		const char *dot = memrchr(host, '.', len);
		const char *lab = dot ? dot + 1 : host;
		size_t n = (size_t)(host + len - lab);

		if (n == 0 || n > POL_LABEL_MAX || labels >= POL_MAX_LABELS - 1)
			return -1;
		labels++;
		if (walking) {
			const struct pol_tedge *e =
			    find_edge(t, nodes[d], lab, n, mix(lab_hash(lab, n), nodes[d]));

			if (e)
				nodes[++d] = e->child;
			else
				walking = false;
		}
		if (dot && dot == host)
			return -1; /* leading dot */
		len = dot ? (size_t)(dot - host) : 0;
	}
	*nlabels = labels;
	return d;
}
