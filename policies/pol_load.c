// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The policy schema, v1: walks the YAML tree, checks every key, type and
 * pattern, reports each problem with its line and column (and goes on, so
 * one run shows every error), and fills the compiled struct pol: network
 * rules (host rules into the trie, cidr rules into a list), filesystem rules
 * with compiled globs, and the settings.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "policies/pol_int.h"

struct ld {
	struct pol_ectx *e;
	const struct pol_yaml *y;
	struct pol *p;
	const char *basedir;
	struct pol_tpend *pend;
	size_t npend, cappend, capnr, capfr;
	bool net_full, fs_full;
	size_t unknown;
	int err; /* first hard error (ENOMEM) */
};

#define ND(ld, i) (&(ld)->y->n[(i)])

static const char *kind_name(const struct ld *ld, int32_t i)
{
	const struct pol_ynode *nd = ND(ld, i);

	if (nd->type == POL_Y_SEQ)
		return "a list";
	if (nd->type == POL_Y_MAP)
		return "a mapping";
	return "a value";
}

static bool is_null(const struct ld *ld, int32_t i)
{
	const struct pol_ynode *nd = ND(ld, i);
	const char *s = pol_ystr(ld->y, nd);

	return nd->type == POL_Y_SCALAR && nd->plain &&
	       (nd->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
		strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

#define ERR(ld, i, ...) pol_err((ld)->e, ND(ld, i)->line, ND(ld, i)->col, __VA_ARGS__)

/*
 * Check a mapping's keys against the allowed ones; vals[k] gets the value
 * node of keys[k] or -1, keyn[k] the key node. ld->unknown counts keys that
 * were not allowed, so "missing key" errors can stay quiet after a typo.
 */
static bool map_keys(struct ld *ld, int32_t map, const char *what, const char *const *keys,
		     size_t nk, int32_t *vals, int32_t *keyn)
{
	for (size_t k = 0; k < nk; k++)
		vals[k] = keyn[k] = -1;
	if (ND(ld, map)->type != POL_Y_MAP) {
		ERR(ld, map, "'%s' expects a mapping (key: value), got %s", what,
		    kind_name(ld, map));
		return false;
	}
	for (int32_t k = ND(ld, map)->first; k >= 0; k = ND(ld, ND(ld, k)->next)->next) {
		int32_t v = ND(ld, k)->next;
		const char *key;
		size_t idx;

		if (ND(ld, k)->type != POL_Y_SCALAR) {
			ERR(ld, k, "keys in '%s' must be plain words, got %s", what,
			    kind_name(ld, k));
			continue;
		}
		key = pol_ystr(ld->y, ND(ld, k));
		for (idx = 0; idx < nk && strcmp(key, keys[idx]) != 0; idx++)
			;
		if (idx == nk) {
			const char *dym = pol_did_you_mean(key, keys, nk);
			char list[200] = "";
			size_t o = 0;

			ld->unknown++;
			for (size_t j = 0; j < nk && o < sizeof(list); j++)
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
						      j ? ", " : "", keys[j]);
			if (dym)
				ERR(ld, k, "unknown key '%.60s' in %s (did you mean '%s'?)", key,
				    what, dym);
			else
				ERR(ld, k, "unknown key '%.60s' in %s; expected one of: %s", key,
				    what, list);
		} else if (vals[idx] >= 0) {
			ERR(ld, k, "duplicate key '%s' in %s (first at line %d)", key, what,
			    ND(ld, keyn[idx])->line);
		} else {
			vals[idx] = v;
			keyn[idx] = k;
		}
	}
	return true;
}

static const char *get_str(struct ld *ld, int32_t i, const char *what)
{
	const struct pol_ynode *nd = ND(ld, i);

	if (nd->type != POL_Y_SCALAR) {
		ERR(ld, i, "'%s' expects a string, got %s", what, kind_name(ld, i));
		return NULL;
	}
	if (is_null(ld, i)) {
		ERR(ld, i, "'%s' expects a string, got an empty value", what);
		return NULL;
	}
	if (strlen(pol_ystr(ld->y, nd)) != nd->len) {
		ERR(ld, i, "'%s' contains a NUL character", what);
		return NULL;
	}
	return pol_ystr(ld->y, nd);
}

static bool get_uint(struct ld *ld, int32_t i, const char *what, unsigned long min,
		     unsigned long max, unsigned long *out)
{
	const struct pol_ynode *nd = ND(ld, i);
	const char *s = pol_ystr(ld->y, nd);
	unsigned long v = 0;

	if (nd->type != POL_Y_SCALAR) {
		ERR(ld, i, "'%s' expects a whole number, got %s", what, kind_name(ld, i));
		return false;
	}
	if (!nd->plain || nd->len == 0 || nd->len > 12 || strspn(s, "0123456789") != nd->len) {
		ERR(ld, i, "'%s' expects a whole number (%lu-%lu), got %s'%.40s'", what, min, max,
		    nd->plain ? "" : "the string ", s);
		return false;
	}
	v = strtoul(s, NULL, 10);
	if (v < min || v > max) {
		ERR(ld, i, "%s %lu is out of range (%lu-%lu)", what, v, min, max);
		return false;
	}
	*out = v;
	return true;
}

/* Empty value or list: items iterate from *first. False on a wrong type. */
static bool get_seq(struct ld *ld, int32_t i, const char *what, int32_t *first)
{
	*first = -1;
	if (is_null(ld, i))
		return true;
	if (ND(ld, i)->type != POL_Y_SEQ) {
		ERR(ld, i, "'%s' expects a list (lines starting with '- '), got %s", what,
		    kind_name(ld, i));
		return false;
	}
	*first = ND(ld, i)->first;
	return true;
}

/* true or false (YAML 1.2 core spellings). False on anything else. */
static bool pol_get_bool(struct ld *ld, int32_t i, const char *what, bool *out)
{
	const struct pol_ynode *nd = ND(ld, i);
	const char *s = pol_ystr(ld->y, nd);

	if (nd->type == POL_Y_SCALAR && nd->plain) {
		if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
			*out = true;
			return true;
		}
		if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
			*out = false;
			return true;
		}
	}
	ERR(ld, i, "'%s' expects true or false, got %s'%.40s'", what,
	    nd->type == POL_Y_SCALAR ? "" : "not a value ", nd->type == POL_Y_SCALAR ? s : "");
	return false;
}

/* A rule's ask: true|false; only allow rules may ask (a deny is never
 * asked). Returns false on an error (reported). */
static bool pol_rule_ask(struct ld *ld, int32_t v, int32_t k, bool deny, uint8_t *ask)
{
	bool b = false;

	if (v < 0)
		return true;
	if (!pol_get_bool(ld, v, "ask", &b))
		return false;
	if (b && deny) {
		ERR(ld, k, "'ask' is for allow rules: a deny rule is never asked");
		return false;
	}
	*ask = b;
	return true;
}

static char *abs_path(const char *basedir, const char *rel)
{
	char cwd[PATH_MAX], *joined = NULL, *out = NULL;
	size_t o = 0, n;
	const char *s;

	if (rel[0] != '/') {
		if (!basedir) {
			if (!getcwd(cwd, sizeof(cwd)))
				return NULL;
			basedir = cwd;
		}
		if (asprintf(&joined, "%s/%s", basedir, rel) < 0)
			return NULL;
	} else {
		joined = strdup(rel);
		if (!joined)
			return NULL;
	}
	n = strlen(joined);
	out = malloc(n + 2);
	if (!out)
		goto out;
	s = joined;
	while (*s) {
		const char *e;
		size_t sl;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchrnul(s, '/');
		sl = (size_t)(e - s);
		if (sl == 1 && s[0] == '.') {
		} else if (sl == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, s, sl);
			o += sl;
		}
		s = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
out:
	free(joined);
	return out;
}

/* ---- network ---- */

static int port_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static bool parse_ports(struct ld *ld, int32_t i, struct pol_nrule *r)
{
	int32_t first = -1, it;
	size_t n = 0, cap = 0;
	bool ok = true;

	if (ND(ld, i)->type == POL_Y_SCALAR && !is_null(ld, i)) {
		first = i; /* one port without a list */
		cap = 1;
	} else if (!get_seq(ld, i, "ports", &first)) {
		return false;
	} else if (first < 0) {
		ERR(ld, i, "empty 'ports' list; leave 'ports' out for the default");
		return false;
	} else {
		cap = ND(ld, i)->n;
	}
	if (cap > 1024) {
		ERR(ld, i, "more than 1024 ports in one rule");
		return false;
	}
	r->ports = calloc(cap, sizeof(*r->ports));
	if (!r->ports) {
		ld->err = -AGW_ENOMEM;
		return false;
	}
	for (it = first; it >= 0 && n < cap; it = first == i ? -1 : ND(ld, it)->next) {
		unsigned long v;

		if (!get_uint(ld, it, "port", 1, 65535, &v)) {
			ok = false;
			continue;
		}
		r->ports[n++] = (uint16_t)v;
	}
	qsort(r->ports, n, sizeof(*r->ports), port_cmp);
	r->nports = 0;
	for (size_t k = 0; k < n; k++)
		if (r->nports == 0 || r->ports[r->nports - 1] != r->ports[k])
			r->ports[r->nports++] = r->ports[k];
	return ok;
}

static bool method_ok(const char *m)
{
	size_t n = strlen(m);

	if (n == 0 || n > 20)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!((m[k] >= 'A' && m[k] <= 'Z') || m[k] == '-' || m[k] == '_'))
			return false;
	return true;
}

static bool parse_http(struct ld *ld, int32_t i, struct pol_nrule *r)
{
	static const char *const keys[] = {"methods", "paths"};
	int32_t first, it;
	bool ok = true;

	if (!get_seq(ld, i, "http", &first))
		return false;
	if (ND(ld, i)->n > 64) {
		ERR(ld, i, "more than 64 'http' entries in one rule");
		return false;
	}
	r->http = calloc(ND(ld, i)->n + 1, sizeof(*r->http));
	if (!r->http) {
		ld->err = -AGW_ENOMEM;
		return false;
	}
	for (it = first; it >= 0; it = ND(ld, it)->next) {
		struct pol_http *h = &r->http[r->nhttp++];
		int32_t v[2], k[2], f2, j;

		if (!map_keys(ld, it, "an http entry", keys, 2, v, k)) {
			ok = false;
			continue;
		}
		if (v[0] >= 0 && get_seq(ld, v[0], "methods", &f2) && f2 >= 0) {
			if (ND(ld, v[0])->n > 32) {
				ERR(ld, v[0], "more than 32 methods");
				ok = false;
			} else if (!(h->methods = calloc(ND(ld, v[0])->n, sizeof(char *)))) {
				ld->err = -AGW_ENOMEM;
				return false;
			}
			for (j = f2; j >= 0 && h->methods; j = ND(ld, j)->next) {
				const char *m = get_str(ld, j, "method");

				if (!m) {
					ok = false;
				} else if (!method_ok(m)) {
					char up[24];
					size_t q;

					for (q = 0; q < sizeof(up) - 1 && m[q]; q++)
						up[q] = (char)toupper((unsigned char)m[q]);
					up[q] = 0;
					if (method_ok(up))
						ERR(ld, j,
						    "HTTP methods are case-sensitive uppercase "
						    "words: write '%s', not '%.20s'",
						    up, m);
					else
						ERR(ld, j,
						    "'%.40s' is not an HTTP method; expected an "
						    "uppercase word like GET or POST",
						    m);
					ok = false;
				} else if (!(h->methods[h->nmethods++] = strdup(m))) {
					ld->err = -AGW_ENOMEM;
					return false;
				}
			}
		} else if (v[0] >= 0 && ND(ld, v[0])->type == POL_Y_SEQ) {
			ERR(ld, v[0],
			    "empty 'methods' list; leave 'methods' out to allow every method");
			ok = false;
		} else if (v[0] >= 0 && ND(ld, v[0])->type != POL_Y_SEQ) {
			ok = false;
		}
		if (v[1] >= 0 && get_seq(ld, v[1], "paths", &f2) && f2 >= 0) {
			if (ND(ld, v[1])->n > 256) {
				ERR(ld, v[1], "more than 256 paths");
				ok = false;
			} else if (!(h->paths = calloc(ND(ld, v[1])->n, sizeof(*h->paths)))) {
				ld->err = -AGW_ENOMEM;
				return false;
			}
			for (j = f2; j >= 0 && h->paths; j = ND(ld, j)->next) {
				const char *s = get_str(ld, j, "path");
				const char *msg;

				if (!s) {
					ok = false;
					continue;
				}
				msg =
				    pol_glob_compile(s, ND(ld, j)->len, true, &h->paths[h->npaths]);
				if (msg) {
					ERR(ld, j, "bad path glob '%.60s': %s", s, msg);
					ok = false;
				} else {
					h->npaths++;
				}
			}
		} else if (v[1] >= 0 && ND(ld, v[1])->type == POL_Y_SEQ) {
			ERR(ld, v[1], "empty 'paths' list; leave 'paths' out to allow every path");
			ok = false;
		} else if (v[1] >= 0 && ND(ld, v[1])->type != POL_Y_SEQ) {
			ok = false;
		}
	}
	return ok;
}

static void nrule_free(struct pol_nrule *r)
{
	free(r->pattern);
	free(r->ports);
	for (uint32_t i = 0; r->http && i < r->nhttp; i++) {
		for (uint32_t k = 0; k < r->http[i].nmethods; k++)
			free(r->http[i].methods[k]);
		free(r->http[i].methods);
		for (uint32_t k = 0; k < r->http[i].npaths; k++)
			pol_glob_free(&r->http[i].paths[k]);
		free(r->http[i].paths);
	}
	free(r->http);
	memset(r, 0, sizeof(*r));
}

void pol_nrule_free(struct pol_nrule *r)
{
	nrule_free(r);
}

/* Parse "a.b.c.d[/n]" or "v6[/n]". Returns NULL or a message. */
static const char *parse_cidr(const char *s, struct pol_nrule *r, char *msg, size_t msgsz)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t iplen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long pfx = 0, maxp;
	uint8_t a4[4];

	if (iplen == 0 || iplen >= sizeof(ip))
		return "expected an address with a prefix length, like 203.0.113.0/24 or "
		       "2001:db8::/32";
	memcpy(ip, s, iplen);
	ip[iplen] = 0;
	memset(r->addr, 0, sizeof(r->addr));
	if (inet_pton(AF_INET, ip, a4) == 1) {
		r->v4 = 1;
		r->addr[10] = r->addr[11] = 0xff;
		memcpy(r->addr + 12, a4, 4);
		maxp = 32;
	} else if (inet_pton(AF_INET6, ip, r->addr) == 1) {
		maxp = 128;
	} else {
		snprintf(msg, msgsz,
			 "'%.50s' is not an IPv4 or IPv6 address (expected e.g. 203.0.113.0/24 or "
			 "2001:db8::/32)",
			 ip);
		return msg;
	}
	if (slash) {
		char *end;

		if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
		    strlen(slash + 1) > 3) {
			snprintf(msg, msgsz, "prefix length after '/' must be a number 0-%lu",
				 maxp);
			return msg;
		}
		pfx = strtoul(slash + 1, &end, 10);
		if (pfx > maxp) {
			snprintf(msg, msgsz, "prefix length /%lu is out of range (0-%lu)", pfx,
				 maxp);
			return msg;
		}
	} else {
		pfx = maxp;
	}
	r->prefix = (uint8_t)(r->v4 ? pfx + 96 : pfx);
	for (unsigned b = r->prefix; b < 128; b++)
		if (r->addr[b / 8] & (0x80 >> (b % 8))) {
			char fixed[64];
			uint8_t a[16];

			memcpy(a, r->addr, 16);
			for (unsigned c = r->prefix; c < 128; c++)
				a[c / 8] &= (uint8_t) ~(0x80 >> (c % 8));
			if (r->v4)
				inet_ntop(AF_INET, a + 12, fixed, sizeof(fixed));
			else
				inet_ntop(AF_INET6, a, fixed, sizeof(fixed));
			snprintf(
			    msg, msgsz,
			    "address has bits set beyond the /%lu prefix; did you mean %s/%lu?",
			    pfx, fixed, pfx);
			return msg;
		}
	return NULL;
}

static void net_rule(struct ld *ld, int32_t it, bool deny, size_t index)
{
	static const char *const keys[] = {"host", "cidr", "ports", "http", "ask", "tls"};
	static const char *const tlsw[] = {"inspect", "passthrough"};
	struct pol *p = ld->p;
	struct pol_nrule r = {0};
	int32_t v[6], k[6], hostn = it;
	char norm[POL_HOST_MAX + 2], msg[400];
	enum pol_wild wild = POL_W_EXACT;
	const char *s;
	bool ok = true;

	if (p->nnr >= POL_MAX_NET_RULES) {
		if (!ld->net_full)
			ERR(ld, it, "more than %u network rules", POL_MAX_NET_RULES);
		ld->net_full = true;
		return;
	}
	snprintf(r.name, sizeof(r.name), "network.%s[%zu]", deny ? "deny" : "allow", index);
	r.line = ND(ld, it)->line;
	r.deny = deny;
	if (ND(ld, it)->type == POL_Y_SCALAR) {
		const char *sl;

		if (!(s = get_str(ld, it, "a network rule")))
			return;
		hostn = it;
		sl = s;
		if (strspn(sl, "0123456789abcdefABCDEF:./") == strlen(sl) &&
		    (strchr(sl, '/') || strchr(sl, ':') ||
		     strspn(sl, "0123456789.") == strlen(sl)) &&
		    !parse_cidr(sl, &r, msg, sizeof(msg))) {
			ERR(ld, it,
			    "'%.60s' is an address; write it as '{cidr: %.60s, ports: [...]}'", s,
			    s);
			return;
		}
		memset(r.addr, 0, sizeof(r.addr));
		r.v4 = 0;
		r.prefix = 0;
	} else {
		size_t unknown = ld->unknown;

		if (!map_keys(ld, it, "a network rule", keys, 6, v, k))
			return;
		if (v[5] >= 0 && (s = get_str(ld, v[5], "tls"))) {
			const char *dym = pol_did_you_mean(s, tlsw, 2);

			if (strcmp(s, "inspect") == 0) {
				r.tls = 1;
			} else if (strcmp(s, "passthrough") != 0) {
				ERR(ld, v[5],
				    "unknown tls mode '%.40s'%s%s%s; expected 'inspect' or "
				    "'passthrough'",
				    s, dym ? " (did you mean '" : "", dym ? dym : "",
				    dym ? "'?)" : "");
				ok = false;
			}
		} else if (v[5] >= 0) {
			ok = false;
		}
		if (v[5] >= 0 && deny) {
			ERR(ld, k[5], "'tls' belongs on allow rules; a deny rule refuses the "
				      "connection whatever its mode");
			ok = false;
		}
		if (v[0] >= 0 && v[1] >= 0) {
			ERR(ld, k[1],
			    "a rule has either 'host' or 'cidr', not both; split it in two");
			return;
		}
		if (v[0] < 0 && v[1] < 0) {
			if (ld->unknown > unknown)
				return;
			ERR(ld, it,
			    "a network rule needs 'host' (a name pattern) or 'cidr' (an address "
			    "range)");
			return;
		}
		if (v[1] >= 0) {
			const char *m;

			r.kind = POL_R_CIDR;
			if (!(s = get_str(ld, v[1], "cidr")))
				return;
			if ((m = parse_cidr(s, &r, msg, sizeof(msg)))) {
				ERR(ld, v[1], "bad cidr '%.60s': %s", s, m);
				ok = false;
			}
			if (v[3] >= 0) {
				ERR(ld, k[3],
				    "'http' needs a 'host' rule: cidr rules match addresses, not "
				    "HTTP requests");
				ok = false;
			}
			if (v[4] >= 0) {
				ERR(ld, k[4],
				    "'ask' needs a 'host' rule: only connections by name are "
				    "asked");
				ok = false;
			}
			if (r.tls) {
				ERR(ld, k[5],
				    "'tls: inspect' needs a 'host' rule: the gateway mints a "
				    "certificate for the name");
				ok = false;
			}
		} else {
			hostn = v[0];
			if (!(s = get_str(ld, v[0], "host")))
				ok = false;
		}
		if (v[2] >= 0 && !parse_ports(ld, v[2], &r))
			ok = false;
		if (v[3] >= 0 && r.kind == POL_R_HOST && !parse_http(ld, v[3], &r))
			ok = false;
		if (v[4] >= 0 && r.kind == POL_R_HOST &&
		    !pol_rule_ask(ld, v[4], k[4], deny, &r.ask))
			ok = false;
		if (!ok || ld->err)
			goto out;
	}
	if (!(r.pattern = strdup(s))) {
		ld->err = -AGW_ENOMEM;
		goto out;
	}
	if (r.kind == POL_R_HOST) {
		int64_t node;

		if (pol_host_parse(s, strlen(s), norm, sizeof(norm), &wild, msg, sizeof(msg))) {
			ERR(ld, hostn, "bad host pattern '%.80s': %s", s, msg);
			goto out;
		}
		r.wild = (uint8_t)wild;
		if (!r.ports && !deny) {
			r.ports = malloc(2 * sizeof(*r.ports));
			if (!r.ports) {
				ld->err = -AGW_ENOMEM;
				goto out;
			}
			r.ports[0] = 80;
			r.ports[1] = 443;
			r.nports = 2;
		}
		node = pol_trie_insert(&p->trie, norm);
		if (node < 0) {
			ld->err = (int)node;
			goto out;
		}
		if (ld->npend == ld->cappend) {
			size_t cap = ld->cappend ? ld->cappend * 2 : 64;
			struct pol_tpend *np = realloc(ld->pend, cap * sizeof(*np));

			if (!np) {
				ld->err = -AGW_ENOMEM;
				goto out;
			}
			ld->pend = np;
			ld->cappend = cap;
		}
		ld->pend[ld->npend].node = (uint32_t)node;
		ld->pend[ld->npend].wild = wild;
		ld->pend[ld->npend].rule = (uint32_t)p->nnr;
		ld->npend++;
	} else {
		uint32_t *c = realloc(p->cidr, (p->ncidr + 1) * sizeof(*c));

		if (!c) {
			ld->err = -AGW_ENOMEM;
			goto out;
		}
		p->cidr = c;
		p->cidr[p->ncidr++] = (uint32_t)p->nnr;
	}
	if (p->nnr == ld->capnr) {
		size_t cap = ld->capnr ? ld->capnr * 2 : 32;
		struct pol_nrule *n = realloc(p->nr, cap * sizeof(*n));

		if (!n) {
			ld->err = -AGW_ENOMEM;
			if (r.kind == POL_R_CIDR)
				p->ncidr--;
			else
				ld->npend--;
			goto out;
		}
		p->nr = n;
		ld->capnr = cap;
	}
	p->nr[p->nnr++] = r;
	if (deny)
		p->nnet_deny++;
	else
		p->nnet_allow++;
	return;
out:
	nrule_free(&r);
}

static void net_list(struct ld *ld, int32_t i, bool deny)
{
	int32_t first;
	size_t idx = 0;

	if (!get_seq(ld, i, deny ? "deny" : "allow", &first))
		return;
	for (int32_t it = first; it >= 0 && !ld->err; it = ND(ld, it)->next)
		net_rule(ld, it, deny, idx++);
}

static void network(struct ld *ld, int32_t i)
{
	static const char *const keys[] = {"allow", "deny", "dns", "max_connections", "tls"};
	static const char *const dkeys[] = {"upstream", "ttl_max"};
	static const char *const tkeys[] = {"upstream_ca"};
	struct pol *p = ld->p;
	int32_t v[5], k[5], dv[2], dk[2], tv[1], tk[1], first;
	unsigned long n;
	const char *s;

	if (is_null(ld, i) || !map_keys(ld, i, "network", keys, 5, v, k))
		return;
	if (v[4] >= 0 && !is_null(ld, v[4]) && map_keys(ld, v[4], "tls", tkeys, 1, tv, tk) &&
	    tv[0] >= 0 && (s = get_str(ld, tv[0], "upstream_ca"))) {
		if (!(p->upstream_ca = abs_path(ld->basedir, s)))
			ld->err = -AGW_ENOMEM;
	}
	if (v[0] >= 0)
		net_list(ld, v[0], false);
	if (v[1] >= 0)
		net_list(ld, v[1], true);
	if (v[3] >= 0 && get_uint(ld, v[3], "max_connections", 1, 65535, &n))
		p->max_conns = (unsigned)n;
	if (v[2] < 0 || is_null(ld, v[2]) || !map_keys(ld, v[2], "dns", dkeys, 2, dv, dk))
		return;
	if (dv[1] >= 0 && get_uint(ld, dv[1], "ttl_max", 0, 86400, &n))
		p->ttl_max = (unsigned)n;
	if (dv[0] >= 0 && get_seq(ld, dv[0], "upstream", &first)) {
		if (ND(ld, dv[0])->n > 8) {
			ERR(ld, dv[0], "at most 8 DNS upstreams");
			return;
		}
		p->upstreams = calloc(ND(ld, dv[0])->n + 1, sizeof(char *));
		if (!p->upstreams) {
			ld->err = -AGW_ENOMEM;
			return;
		}
		for (int32_t it = first; it >= 0; it = ND(ld, it)->next) {
			uint8_t a[16];

			s = get_str(ld, it, "upstream");
			if (!s)
				continue;
			if (inet_pton(AF_INET, s, a) != 1 && inet_pton(AF_INET6, s, a) != 1) {
				ERR(ld, it,
				    "DNS upstream '%.60s' is not an IP address (like 9.9.9.9)", s);
				continue;
			}
			if (!(p->upstreams[p->nupstreams++] = strdup(s))) {
				ld->err = -AGW_ENOMEM;
				return;
			}
		}
	}
}

/* ---- filesystem ---- */

int pol_access_parse(const char *s, unsigned *out)
{
	unsigned acc = 0;

	*out = 0;
	while (s && *s) {
		size_t n = strcspn(s, ", ");

		if (n == 4 && !strncmp(s, "read", 4))
			acc |= POL_ACC_READ;
		else if (n == 5 && !strncmp(s, "write", 5))
			acc |= POL_ACC_WRITE;
		else if (n == 6 && !strncmp(s, "create", 6))
			acc |= POL_ACC_CREATE;
		else if (n == 6 && !strncmp(s, "delete", 6))
			acc |= POL_ACC_DELETE;
		else if (n == 3 && !strncmp(s, "all", 3))
			acc |= POL_ACC_ALL;
		else if (n > 0)
			return -AGW_EINVAL;
		s += n;
		s += strspn(s, ", ");
	}
	if (!acc)
		return -AGW_EINVAL;
	*out = acc;
	return 0;
}

const char *pol_access_str(unsigned access, char *buf, size_t sz)
{
	static const char *const w[] = {"read", "write", "create", "delete"};
	size_t o = 0;

	if (sz)
		buf[0] = 0;
	for (unsigned b = 0; b < 4; b++)
		if (access & (1u << b) && o < sz)
			o += (size_t)snprintf(buf + o, sz - o, "%s%s", o ? "," : "", w[b]);
	return buf;
}

static bool parse_access(struct ld *ld, int32_t i, unsigned *acc)
{
	static const char *const words[] = {"read", "write", "create", "delete", "all"};
	int32_t first = i, it;
	bool ok = true;

	*acc = 0;
	if (ND(ld, i)->type != POL_Y_SCALAR) {
		if (!get_seq(ld, i, "access", &first))
			return false;
		if (first < 0) {
			ERR(ld, i,
			    "empty 'access' list; expected some of: read, write, create, delete");
			return false;
		}
	}
	for (it = first; it >= 0; it = it == i ? -1 : ND(ld, it)->next) {
		const char *s = get_str(ld, it, "access");
		unsigned a;

		if (!s) {
			ok = false;
		} else if (pol_access_parse(s, &a) < 0 || strchr(s, ',')) {
			const char *dym = pol_did_you_mean(s, words, AGW_ARRAY_LEN(words));

			if (dym)
				ERR(ld, it, "unknown access '%.40s' (did you mean '%s'?)", s, dym);
			else
				ERR(ld, it,
				    "unknown access '%.40s'; expected read, write, create, delete "
				    "or all",
				    s);
			ok = false;
		} else {
			*acc |= a;
		}
	}
	return ok;
}

static void fs_rule(struct ld *ld, int32_t it, bool deny, size_t index)
{
	static const char *const keys[] = {"path", "access", "ask"};
	struct pol *p = ld->p;
	struct pol_frule r = {0};
	int32_t v[3], k[3];
	const char *s, *msg;

	if (p->nfr >= POL_MAX_FS_RULES) {
		if (!ld->fs_full)
			ERR(ld, it, "more than %u filesystem rules", POL_MAX_FS_RULES);
		ld->fs_full = true;
		return;
	}
	size_t unknown = ld->unknown;

	if (!map_keys(ld, it, "a filesystem rule", keys, 3, v, k))
		return;
	snprintf(r.name, sizeof(r.name), "filesystem.%s[%zu]", deny ? "deny" : "allow", index);
	r.line = ND(ld, it)->line;
	r.deny = deny;
	r.access = POL_ACC_ALL;
	if (v[0] < 0) {
		if (ld->unknown == unknown)
			ERR(ld, it,
			    "a filesystem rule needs 'path' (a glob relative to the workspace)");
		return;
	}
	if (!(s = get_str(ld, v[0], "path")))
		return;
	if ((msg = pol_glob_compile(s, ND(ld, v[0])->len, false, &r.g))) {
		ERR(ld, v[0], "bad path glob '%.60s': %s", s, msg);
		s = NULL;
	}
	if (v[1] >= 0) {
		if (!parse_access(ld, v[1], &r.access))
			s = NULL;
	} else if (!deny) {
		if (ld->unknown == unknown)
			ERR(ld, it,
			    "an allow rule needs 'access' (some of read, write, create, delete)");
		s = NULL;
	}
	if (!pol_rule_ask(ld, v[2], k[2], deny, &r.ask))
		s = NULL;
	if (!s) {
		pol_glob_free(&r.g);
		return;
	}
	if (p->nfr == ld->capfr) {
		size_t cap = ld->capfr ? ld->capfr * 2 : 16;
		struct pol_frule *n = realloc(p->fr, cap * sizeof(*n));

		if (!n) {
			ld->err = -AGW_ENOMEM;
			pol_glob_free(&r.g);
			return;
		}
		p->fr = n;
		ld->capfr = cap;
	}
	p->fr[p->nfr++] = r;
	if (deny)
		p->nfs_deny++;
	else
		p->nfs_allow++;
}

/* A byte count: digits with an optional K, M, G or T (powers of 1024,
 * also KB/KiB...), from 1 byte to 1 PiB. */
static bool pol_parse_bytes(struct ld *ld, int32_t i, const char *what, uint64_t *out)
{
	static const struct {
		const char *sfx;
		unsigned shift;
	} units[] = {
	    {"", 0},	 {"B", 0},    {"K", 10},   {"KB", 10},	{"KiB", 10},
	    {"M", 20},	 {"MB", 20},  {"MiB", 20}, {"G", 30},	{"GB", 30},
	    {"GiB", 30}, {"T", 40},   {"TB", 40},  {"TiB", 40},
	};
	const char *s = get_str(ld, i, what);
	unsigned long long v;
	char *end;

	if (!s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || !isdigit((unsigned char)s[0]))
		goto bad;
	for (size_t u = 0; u < AGW_ARRAY_LEN(units); u++) {
		if (strcmp(end, units[u].sfx))
			continue;
		if (v == 0 || v > (1ull << 50) >> units[u].shift) {
			ERR(ld, i, "%s %s is out of range (1 byte to 1024T)", what, s);
			return false;
		}
		*out = (uint64_t)v << units[u].shift;
		return true;
	}
bad:
	ERR(ld, i, "%s expects a size like 1048576, 512M or 10G; got '%.40s'", what, s);
	return false;
}

static void filesystem(struct ld *ld, int32_t i)
{
	static const char *const keys[] = {"workspace", "allow", "deny", "max_bytes",
					   "max_files"};
	struct pol *p = ld->p;
	int32_t v[5], k[5];
	const char *ws = ".";
	unsigned long n;

	if (!is_null(ld, i) && !map_keys(ld, i, "filesystem", keys, 5, v, k))
		return;
	if (is_null(ld, i))
		v[0] = v[1] = v[2] = v[3] = v[4] = -1;
	if (v[3] >= 0)
		pol_parse_bytes(ld, v[3], "max_bytes", &p->fs_max_bytes);
	if (v[4] >= 0 && get_uint(ld, v[4], "max_files", 1, 1000000000ul, &n))
		p->fs_max_files = n;
	if (v[0] >= 0 && !(ws = get_str(ld, v[0], "workspace")))
		return;
	if (!(p->workspace = abs_path(ld->basedir, ws))) {
		ld->err = -AGW_ENOMEM;
		return;
	}
	for (int d = 0; d < 2; d++) {
		int32_t first;
		size_t idx = 0;

		if (v[1 + d] < 0 || !get_seq(ld, v[1 + d], d ? "deny" : "allow", &first))
			continue;
		for (int32_t it = first; it >= 0 && !ld->err; it = ND(ld, it)->next)
			fs_rule(ld, it, d, idx++);
	}
}

/* ---- top level ---- */

static bool parse_size(struct ld *ld, int32_t i, const char *what, uint64_t min, uint64_t max,
		       uint64_t *mib)
{
	const char *s = get_str(ld, i, what);
	char *end;
	unsigned long long v;

	if (!s)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno || !isdigit((unsigned char)s[0]))
		goto bad;
	if (!strcmp(end, "M") || !strcmp(end, "MB") || !strcmp(end, "MiB"))
		;
	else if (!strcmp(end, "G") || !strcmp(end, "GB") || !strcmp(end, "GiB"))
		v = v > (1ull << 40) ? v : v * 1024;
	else
		goto bad;
	if (v < min || v > max) {
		ERR(ld, i, "%s %s is out of range (%lluM-%lluG)", what, s, (unsigned long long)min,
		    (unsigned long long)max / 1024);
		return false;
	}
	*mib = v;
	return true;
bad:
	ERR(ld, i, "%s expects a size with a unit, like 512M or 2G; got '%.40s'", what, s);
	return false;
}

/* ---- credentials ---- */

static bool cred_word_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

static void cred_one(struct ld *ld, int32_t it, size_t index)
{
	static const char *const keys[] = {"name", "env", "from", "hosts", "header"};
	static const char *const froms[] = {"env:", "file:", "command:"};
	struct pol *p = ld->p;
	struct pol_cred *c = &p->creds[p->ncreds];
	int32_t v[5], k[5], first;
	const char *s;
	char norm[POL_HOST_MAX + 2], msg[400];
	size_t unknown = ld->unknown;
	bool ok = true;

	memset(c, 0, sizeof(*c));
	c->line = ND(ld, it)->line;
	if (!map_keys(ld, it, "a credential", keys, 5, v, k))
		return;
	for (size_t j = 0; j < 5; j++)
		if (v[j] < 0 && ld->unknown == unknown) {
			ERR(ld, it, "credentials[%zu] needs '%s'", index, keys[j]);
			ok = false;
		}
	if (v[0] >= 0 && (s = get_str(ld, v[0], "name"))) {
		if (!cred_word_ok(s, POL_CRED_NAME_MAX, "_-") || isupper((unsigned char)s[0]) ||
		    strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) {
			ERR(ld, v[0], "bad credential name '%.40s': use [a-z0-9_-], at most %d", s,
			    POL_CRED_NAME_MAX);
			ok = false;
		}
		for (size_t j = 0; j < p->ncreds; j++)
			if (strcmp(p->creds[j].name, s) == 0) {
				ERR(ld, v[0], "duplicate credential name '%s' (first at line %d)", s,
				    p->creds[j].line);
				ok = false;
			}
		if (ok && !(c->name = strdup(s)))
			ld->err = -AGW_ENOMEM;
	}
	if (v[1] >= 0 && (s = get_str(ld, v[1], "env"))) {
		if (!cred_word_ok(s, 64, "_") || isdigit((unsigned char)s[0])) {
			ERR(ld, v[1], "bad env name '%.40s': a variable name like ANTHROPIC_API_KEY",
			    s);
			ok = false;
		}
		for (size_t j = 0; j < p->ncreds; j++)
			if (strcmp(p->creds[j].env, s) == 0) {
				ERR(ld, v[1], "env '%s' is already the credential '%s''s", s,
				    p->creds[j].name);
				ok = false;
			}
		if (ok && !(c->env = strdup(s)))
			ld->err = -AGW_ENOMEM;
	}
	if (v[2] >= 0 && (s = get_str(ld, v[2], "from"))) {
		size_t j;

		for (j = 0; j < 3 && strncmp(s, froms[j], strlen(froms[j])); j++)
			;
		if (j == 3 || !s[strlen(froms[j])]) {
			char word[16];
			const char *dym;

			snprintf(word, sizeof(word), "%.*s:", (int)strcspn(s, ":"), s);
			dym = pol_did_you_mean(word, froms, 3);
			ERR(ld, v[2],
			    "bad 'from' '%.40s'%s%s%s; expected env:VAR, file:PATH or command:CMD",
			    s, dym ? " (did you mean '" : "", dym ? dym : "", dym ? "'?)" : "");
			ok = false;
		} else if (j == 1) {
			char *a = abs_path(ld->basedir, s + 5);

			if (!a || asprintf(&c->from, "file:%s", a) < 0) {
				c->from = NULL;
				ld->err = -AGW_ENOMEM;
			}
			free(a);
		} else if (!(c->from = strdup(s))) {
			ld->err = -AGW_ENOMEM;
		}
	}
	if (v[4] >= 0 && (s = get_str(ld, v[4], "header"))) {
		if (!cred_word_ok(s, 64, "!#$%&'*+-.^_`|~")) {
			ERR(ld, v[4], "bad header name '%.40s'", s);
			ok = false;
		} else if (!(c->header = strdup(s))) {
			ld->err = -AGW_ENOMEM;
		} else {
			for (char *q = c->header; *q; q++)
				*q = (char)tolower((unsigned char)*q);
			if (!strcmp(c->header, "host") || !strcmp(c->header, "content-length") ||
			    !strcmp(c->header, "transfer-encoding")) {
				ERR(ld, v[4], "header '%s' frames or routes the request; name the "
					      "header the API reads the key from",
				    s);
				ok = false;
			}
		}
	}
	if (v[3] >= 0 && get_seq(ld, v[3], "hosts", &first)) {
		if (first < 0 || ND(ld, v[3])->n > 64) {
			ERR(ld, v[3], "'hosts' lists 1 to 64 host names");
			ok = false;
		} else if (!(c->hosts = calloc(ND(ld, v[3])->n, sizeof(char *)))) {
			ld->err = -AGW_ENOMEM;
		}
		for (int32_t j = first; j >= 0 && c->hosts; j = ND(ld, j)->next) {
			enum pol_wild w;

			if (!(s = get_str(ld, j, "host"))) {
				ok = false;
				continue;
			}
			if (pol_host_parse(s, strlen(s), norm, sizeof(norm), &w, msg,
					   sizeof(msg))) {
				ERR(ld, j, "bad host '%.80s': %s", s, msg);
				ok = false;
			} else if (w != POL_W_EXACT) {
				ERR(ld, j,
				    "credential hosts are exact names (the secret goes only where "
				    "it is named); '%.80s' is a pattern",
				    s);
				ok = false;
			} else if (!(c->hosts[c->nhosts++] = strdup(norm))) {
				ld->err = -AGW_ENOMEM;
			}
		}
	} else if (v[3] >= 0) {
		ok = false;
	}
	if (ok && !ld->err && c->name && c->env && c->from && c->header && c->nhosts) {
		p->ncreds++;
		return;
	}
	free(c->name);
	free(c->env);
	free(c->from);
	free(c->header);
	for (size_t j = 0; j < c->nhosts; j++)
		free(c->hosts[j]);
	free(c->hosts);
	memset(c, 0, sizeof(*c));
}

static void credentials(struct ld *ld, int32_t i)
{
	int32_t first;
	size_t idx = 0;

	if (!get_seq(ld, i, "credentials", &first) || first < 0)
		return;
	if (ND(ld, i)->n > POL_MAX_CREDS) {
		ERR(ld, i, "more than %d credentials", POL_MAX_CREDS);
		return;
	}
	ld->p->creds = calloc(ND(ld, i)->n, sizeof(*ld->p->creds));
	if (!ld->p->creds) {
		ld->err = -AGW_ENOMEM;
		return;
	}
	for (int32_t it = first; it >= 0 && !ld->err; it = ND(ld, it)->next)
		cred_one(ld, it, idx++);
}

int pol_build(struct pol_ectx *e, const struct pol_yaml *y, const char *basedir, struct pol *p)
{
	static const char *const keys[] = {"version", "name",	    "mode",  "sandbox",
					   "network", "filesystem", "audit", "ask_timeout",
					   "credentials"};
	static const char *const skeys[] = {"vcpus", "memory", "image",
					    "accel", "disk",   "user", "fs_transport"};
	static const char *const accels[] = {"auto", "kvm", "tcg"};
	static const char *const fsts[] = {"auto", "virtiofs", "9p"};
	static const char *const akeys[] = {"database", "retention_days"};
	static const char *const modes[] = {"enforce", "audit", "ask"};
	struct ld ld = {.e = e, .y = y, .p = p, .basedir = basedir};
	int32_t v[9], k[9], sv[7], sk[7], av[2], ak[2];
	unsigned long n;
	const char *s;
	size_t nerr = e->errs->n;
	int ret = 0;

	if (y->root < 0 || is_null(&ld, y->root)) {
		pol_err(e, 1, 1, "empty policy; a policy starts with 'version: 1'");
		return -AGW_EPOLICY;
	}
	if (!map_keys(&ld, y->root, "the policy", keys, 9, v, k))
		return -AGW_EPOLICY;
	if (v[0] < 0)
		pol_err(e, ND(&ld, y->root)->line, ND(&ld, y->root)->col,
			"missing 'version: 1' at the top of the policy");
	else if (get_uint(&ld, v[0], "version", 0, 1000000, &n) && n != 1)
		ERR(&ld, v[0], "unsupported policy version %lu; this agentgw reads version: 1", n);
	if (v[1] >= 0 && (s = get_str(&ld, v[1], "name"))) {
		if (strlen(s) > 64)
			ERR(&ld, v[1], "name longer than 64 characters");
		else if (!(p->name = strdup(s)))
			ret = -AGW_ENOMEM;
	}
	if (v[2] >= 0 && (s = get_str(&ld, v[2], "mode"))) {
		if (!strcmp(s, "enforce")) {
			p->mode = POL_MODE_ENFORCE;
		} else if (!strcmp(s, "audit")) {
			p->mode = POL_MODE_AUDIT;
		} else if (!strcmp(s, "ask")) {
			p->mode = POL_MODE_ASK;
		} else {
			const char *dym = pol_did_you_mean(s, modes, 3);

			ERR(&ld, v[2],
			    "unknown mode '%.40s'%s%s%s; expected 'enforce', 'audit' or 'ask'", s,
			    dym ? " (did you mean '" : "", dym ? dym : "", dym ? "'?)" : "");
		}
	}
	if (v[7] >= 0 && get_uint(&ld, v[7], "ask_timeout", 1, POL_ASK_TIMEOUT_MAX, &n))
		p->ask_timeout = (unsigned)n;
	if (v[3] >= 0 && !is_null(&ld, v[3]) && map_keys(&ld, v[3], "sandbox", skeys, 7, sv, sk)) {
		if (sv[0] >= 0 && get_uint(&ld, sv[0], "vcpus", 1, 64, &n))
			p->vcpus = (unsigned)n;
		if (sv[1] >= 0)
			parse_size(&ld, sv[1], "memory", 64, 1024 * 1024, &p->memory_mib);
		if (sv[2] >= 0 && (s = get_str(&ld, sv[2], "image"))) {
			if (!*s || strlen(s) > 64 ||
			    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(s))
				ERR(&ld, sv[2],
				    "bad image name '%.40s': use [a-z0-9_.-], as in 'agentgw image "
				    "ls'",
				    s);
			free(p->image);
			if (!(p->image = strdup(s)))
				ret = -AGW_ENOMEM;
		}
		if (sv[3] >= 0 && (s = get_str(&ld, sv[3], "accel"))) {
			const char *dym = pol_did_you_mean(s, accels, 3);
			size_t j;

			for (j = 0; j < 3 && strcmp(s, accels[j]); j++)
				;
			if (j < 3)
				p->accel = accels[j];
			else
				ERR(&ld, sv[3],
				    "unknown accel '%.40s'%s%s%s; expected 'auto', 'kvm' or 'tcg'",
				    s, dym ? " (did you mean '" : "", dym ? dym : "",
				    dym ? "'?)" : "");
		}
		if (sv[4] >= 0)
			parse_size(&ld, sv[4], "disk", 256, 16 * 1024 * 1024, &p->disk_mib);
		if (sv[5] >= 0 && (s = get_str(&ld, sv[5], "user"))) {
			if (!*s || strlen(s) > 32 || strpbrk(s, ":/ \t"))
				ERR(&ld, sv[5], "bad user name '%.40s'", s);
			else if (!(p->user = strdup(s)))
				ret = -AGW_ENOMEM;
		}
		if (sv[6] >= 0 && (s = get_str(&ld, sv[6], "fs_transport"))) {
			const char *dym = pol_did_you_mean(s, fsts, 3);
			size_t j;

			for (j = 0; j < 3 && strcmp(s, fsts[j]); j++)
				;
			if (j < 3)
				p->fs_transport = fsts[j];
			else
				ERR(&ld, sv[6],
				    "unknown fs_transport '%.40s'%s%s%s; expected 'auto', 'virtiofs' "
				    "or '9p'",
				    s, dym ? " (did you mean '" : "", dym ? dym : "",
				    dym ? "'?)" : "");
		}
	}
	if (v[4] >= 0)
		network(&ld, v[4]);
	if (v[5] >= 0 && !ld.err)
		filesystem(&ld, v[5]);
	if (v[8] >= 0 && !ld.err)
		credentials(&ld, v[8]);
	if (v[6] >= 0 && !is_null(&ld, v[6]) && map_keys(&ld, v[6], "audit", akeys, 2, av, ak)) {
		if (av[0] >= 0 && (s = get_str(&ld, av[0], "database")) &&
		    !(p->audit_db = abs_path(basedir, s)))
			ret = -AGW_ENOMEM;
		/* 0 (the default): keep every event */
		if (av[1] >= 0 && get_uint(&ld, av[1], "retention_days", 0, 36500, &n))
			p->audit_retention_days = (unsigned)n;
	}
	if (ld.err)
		ret = ld.err;
	if (!ret && e->nomem)
		ret = -AGW_ENOMEM;
	if (!ret && e->errs->n > nerr)
		ret = -AGW_EPOLICY;
	if (!ret)
		ret = pol_trie_finish(&p->trie, ld.pend, ld.npend);
	free(ld.pend);
	return ret;
}
