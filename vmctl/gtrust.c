// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest's trust material, as pure checks shared by the host (before it
 * delivers the files) and agentgw-init (before it installs them): PEM and
 * env-line validation, the CA variables, and the system store with an
 * earlier boot's CA taken out. libc only: the static guest init links it.
 */
#include "gtrust.h"

#include <string.h>

#include "agw.h"

#define GTRUST_BEGIN "-----BEGIN CERTIFICATE-----"
#define GTRUST_END "-----END CERTIFICATE-----"

static const char *const gtrust_vars[GTRUST_N_CA_VARS] = {
    "SSL_CERT_FILE=" GTRUST_BUNDLE,  "REQUESTS_CA_BUNDLE=" GTRUST_BUNDLE,
    "CURL_CA_BUNDLE=" GTRUST_BUNDLE, "GIT_SSL_CAINFO=" GTRUST_BUNDLE,
    "PIP_CERT=" GTRUST_BUNDLE,	     "NODE_EXTRA_CA_CERTS=" GTRUST_CA,
};

/* Names init sets itself: a credential may not take them over. */
static const char *const gtrust_reserved[] = {
    "PATH", "HOME", "USER",	  "LOGNAME",	     "SHELL",
    "TERM", "LANG", "LD_PRELOAD", "LD_LIBRARY_PATH", "SSL_CERT_DIR"};

const char *gtrust_ca_var(size_t i)
{
	return i < GTRUST_N_CA_VARS ? gtrust_vars[i] : NULL;
}

static int gtrust_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int gtrust_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/' || c == '=';
}

/* Whether p[i..n) starts with s. */
static int gtrust_at(const char *p, size_t n, size_t i, const char *s)
{
	size_t l = strlen(s);

	return i <= n && n - i >= l && memcmp(p + i, s, l) == 0;
}

int gtrust_pem_check(const char *p, size_t n)
{
	size_t i = 0, blocks = 0;

	if (n > GTRUST_MAX_CA)
		return -AGW_ETOOBIG;
	for (;;) {
		size_t body = 0;

		while (i < n && gtrust_space(p[i]))
			i++;
		if (i == n)
			return blocks ? 0 : -AGW_EPARSE;
		if (!gtrust_at(p, n, i, GTRUST_BEGIN))
			return -AGW_EPARSE;
		i += strlen(GTRUST_BEGIN);
		while (i < n && !gtrust_at(p, n, i, GTRUST_END)) {
			if (gtrust_b64(p[i]))
				body++;
			else if (!gtrust_space(p[i]))
				return -AGW_EPARSE;
			i++;
		}
		if (i == n || body == 0)
			return -AGW_EPARSE;
		i += strlen(GTRUST_END);
		blocks++;
	}
}

static int gtrust_value_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       strchr("._:/+=@%,-", c) != NULL;
}

int gtrust_env_line(const char *line, size_t n, size_t *name_len, const char **why)
{
	const char *eq = memchr(line, '=', n);
	size_t nl = eq ? (size_t)(eq - line) : n, vl;

	*name_len = 0;
	*why = NULL;
	if (!eq || nl == 0) {
		*why = "not NAME=VALUE";
		return -AGW_EINVAL;
	}
	if (nl > GTRUST_MAX_NAME) {
		*why = "name too long";
		return -AGW_EINVAL;
	}
	for (size_t i = 0; i < nl; i++) {
		char c = line[i];
		int ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (i > 0 && c >= '0' && c <= '9');

		if (!ok) {
			*why = "bad character in the name";
			return -AGW_EINVAL;
		}
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(gtrust_reserved) + GTRUST_N_CA_VARS; i++) {
		const char *r = i < AGW_ARRAY_LEN(gtrust_reserved)
				    ? gtrust_reserved[i]
				    : gtrust_vars[i - AGW_ARRAY_LEN(gtrust_reserved)];
		size_t rl = strcspn(r, "=");

		if (rl == nl && memcmp(r, line, nl) == 0) {
			*why = "a name agentgw-init sets itself";
			return -AGW_EINVAL;
		}
	}
	vl = n - nl - 1;
	if (vl == 0 || vl > GTRUST_MAX_VALUE) {
		*why = vl ? "value too long" : "empty value";
		return -AGW_EINVAL;
	}
	for (size_t i = nl + 1; i < n; i++)
		if (!gtrust_value_char(line[i])) {
			*why = "bad character in the value";
			return -AGW_EINVAL;
		}
	*name_len = nl;
	return 0;
}

/* old_ca's first certificate block: *b and its length, 0 if none. */
static size_t gtrust_first_block(const char *p, size_t n, const char **b)
{
	const char *s = p ? memmem(p, n, GTRUST_BEGIN, strlen(GTRUST_BEGIN)) : NULL;
	const char *e = s ? memmem(s, n - (size_t)(s - p), GTRUST_END, strlen(GTRUST_END)) : NULL;

	*b = s;
	return e ? (size_t)(e - s) + strlen(GTRUST_END) : 0;
}

static size_t gtrust_line_end(const char *in, size_t n, size_t i)
{
	const char *nl = memchr(in + i, '\n', n - i);

	return nl ? (size_t)(nl - in) + 1 : n;
}

long gtrust_store_strip(const char *in, size_t n, const char *old_ca, size_t old_n, char *out,
			size_t cap)
{
	const char *blk;
	size_t blen = gtrust_first_block(old_ca, old_n, &blk), i = 0, o = 0,
	       ml = strlen(GTRUST_MARK);

	while (i < n) {
		size_t e = gtrust_line_end(in, n, i), l = e - i;

		while (l && (in[i + l - 1] == '\n' || in[i + l - 1] == '\r'))
			l--;
		if (l == ml && memcmp(in + i, GTRUST_MARK, ml) == 0) {
			/* Our block: through its END line. */
			while (i < n && !gtrust_at(in, n, i, GTRUST_END))
				i = gtrust_line_end(in, n, i);
			i = gtrust_line_end(in, n, i);
			continue;
		}
		if (blen && gtrust_at(in, n, i, "-----BEGIN") && n - i >= blen &&
		    memcmp(in + i, blk, blen) == 0) {
			i = gtrust_line_end(in, n, i + blen - 1);
			continue;
		}
		if (e - i > cap - o)
			return -AGW_ETOOBIG;
		memcpy(out + o, in + i, e - i);
		o += e - i;
		i = e;
	}
	return (long)o;
}
