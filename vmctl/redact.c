// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Secret-shaped parts of a command line replaced before it is audited
 * (vmctl/redact.h). Pure string work, no allocation.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "vmctl/redact.h"

static const char *const redact_words[] = {"pass", "pwd",  "secret", "token",	"key",
					   "auth", "cred", "cookie", "session", NULL};
static const char *const redact_prefixes[] = {"sk-",	     "ghp_",   "gho_",	"ghs_",	 "ghu_",
					      "github_pat_", "glpat-", "xoxb-", "xoxp-", "AKIA",
					      "hf_",	     "AIza",   NULL};

/* Does s[0..n) contain one of the secret words, ignoring case? */
static bool redact_is_secret_name(const char *s, size_t n)
{
	for (size_t w = 0; redact_words[w]; w++) {
		size_t wl = strlen(redact_words[w]);

		for (size_t i = 0; i + wl <= n; i++)
			if (strncasecmp(s + i, redact_words[w], wl) == 0)
				return true;
	}
	return false;
}

static bool redact_tok_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == '/' ||
	       c == '+' || c == '=';
}

struct redact_out {
	char *p;
	size_t cap, n;
	bool hit;
};

static void redact_put(struct redact_out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && o->n + 1 < o->cap; i++)
		o->p[o->n++] = s[i];
	o->p[o->n] = '\0';
}

static void redact_mark(struct redact_out *o)
{
	redact_put(o, REDACT_MARK, strlen(REDACT_MARK));
	o->hit = true;
}

/* Copy s, replacing bearer tokens and prefixed keys anywhere in it. */
static void redact_scan(struct redact_out *o, const char *s)
{
	size_t i = 0, n = strlen(s);

	while (i < n) {
		bool word_start = i == 0 || !redact_tok_char(s[i - 1]);
		size_t skip = 0;

		if (word_start && (strncasecmp(s + i, "bearer ", 7) == 0 ||
				   strncasecmp(s + i, "basic ", 6) == 0)) {
			size_t k = s[i + 1] == 'e' || s[i + 1] == 'E' ? 7 : 6, t = 0;

			while (redact_tok_char(s[i + k + t]))
				t++;
			if (t >= 8) {
				redact_put(o, s + i, k);
				redact_mark(o);
				i += k + t;
				continue;
			}
		}
		for (size_t p = 0; word_start && redact_prefixes[p] && !skip; p++) {
			size_t pl = strlen(redact_prefixes[p]), t = 0;

			if (strncmp(s + i, redact_prefixes[p], pl) != 0)
				continue;
			while (redact_tok_char(s[i + t]))
				t++;
			if (t >= 16)
				skip = t;
		}
		if (skip) {
			redact_mark(o);
			i += skip;
			continue;
		}
		/* NAME=VALUE and --name=VALUE inside a longer argument (sh -c '...') */
		if (word_start) {
			size_t k = strspn(s + i, "-"), id;

			id = k;
			while (isalnum((unsigned char)s[i + id]) || s[i + id] == '_' ||
			       s[i + id] == '-')
				id++;
			if (id > k && s[i + id] == '=' &&
			    redact_is_secret_name(s + i + k, id - k)) {
				size_t v = id + 1;

				while (s[i + v] && !strchr(" \t\n'\";&|)", s[i + v]))
					v++;
				redact_put(o, s + i, id + 1);
				redact_mark(o);
				i += v;
				continue;
			}
		}
		redact_put(o, s + i, 1);
		i++;
	}
}

bool redact_arg(const char *arg, const char *prev, char *out, size_t cap)
{
	struct redact_out o = {.p = out, .cap = cap};
	const char *eq, *colon, *at, *scheme;

	if (!cap)
		return false;
	out[0] = '\0';
	/* The value after --token, --api-key, ...; curl's -u user:password. */
	if (prev && prev[0] == '-' && !strchr(prev, '=')) {
		const char *name = prev + strspn(prev, "-");

		if (!strcmp(prev, "-u") || !strcmp(prev, "--user")) {
			if ((colon = strchr(arg, ':'))) {
				redact_put(&o, arg, (size_t)(colon + 1 - arg));
				redact_mark(&o);
				return true;
			}
		} else if (prev[1] == '-' && redact_is_secret_name(name, strlen(name))) {
			redact_mark(&o);
			return true;
		}
	}
	/* NAME=VALUE, --NAME=VALUE */
	eq = strchr(arg, '=');
	if (eq && eq > arg && !memchr(arg, ' ', (size_t)(eq - arg)) &&
	    redact_is_secret_name(arg, (size_t)(eq - arg))) {
		redact_put(&o, arg, (size_t)(eq + 1 - arg));
		redact_mark(&o);
		return true;
	}
	/* "Authorization: ...", "X-Api-Key: ..." */
	colon = strchr(arg, ':');
	if (colon && colon > arg && colon[1] == ' ' && !memchr(arg, ' ', (size_t)(colon - arg)) &&
	    redact_is_secret_name(arg, (size_t)(colon - arg))) {
		redact_put(&o, arg, (size_t)(colon + 2 - arg));
		redact_mark(&o);
		return true;
	}
	/* scheme://user:password@host */
	if ((scheme = strstr(arg, "://")) && (at = strchr(scheme + 3, '@')) &&
	    (colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3))) &&
	    !memchr(scheme + 3, '/', (size_t)(at - scheme - 3))) {
		redact_put(&o, arg, (size_t)(colon + 1 - arg));
		redact_mark(&o);
		redact_scan(&o, at);
		return true;
	}
	redact_scan(&o, arg);
	return o.hit;
}
