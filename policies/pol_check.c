// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Decisions. For each question (host and port, HTTP request, address, DNS
 * name, filesystem path and access) the candidate rules are visited from the
 * most specific down; the first level with a matching rule decides, a deny
 * at that level wins a tie, and no match is a deny. In audit mode a deny
 * becomes would_deny. In ask mode a question no rule decides (no match, or a
 * host matched but not its port or HTTP request) becomes an ask; an allow
 * rule with ask: true makes its matches asks in any mode but audit. The same walk feeds explain,
 * which also lists the rules that matched the host or path but not the rest. Never allocates.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agw.h"
#include "policies/pol_int.h"

static const char R_ALLOW[] = "allowed by rule";
static const char R_DENY[] = "denied by rule";
static const char R_TIE[] = "an allow and a deny rule are equally specific; ties go to deny";
static const char R_NONE[] = "no rule matches";
static const char R_PORT[] = "a rule matches the host but not the port";
static const char R_HTTP[] = "a rule matches the host and port but not the HTTP method or path";
static const char R_BADHOST[] = "invalid host name";
static const char R_ESCAPE[] = "path escapes the workspace";
static const char R_LONG[] = "path too long";
static const char R_NOADDR[] = "no cidr rule matches the address";
static const char R_BADADDR[] = "not an IPv4 or IPv6 address";
static const char R_ASKRULE[] = "the rule asks for approval";

static const char N_PORT[] = "port not listed in the rule";
static const char N_HTTP[] = "HTTP method or path not matched";
static const char N_HTTPONLY[] = "has http rules, which apply only to plain HTTP requests";
static const char N_DNSPORT[] = "deny limited to some ports or requests; the name still resolves";
static const char N_ACCESS[] = "does not cover the requested access";

struct coll {
	struct pol_match *m;
	size_t cap, n;
};

static void coll_add(struct coll *c, const char *name, int line, bool deny, const char *pattern,
		     unsigned access, unsigned spec, bool matched, const char *note)
{
	struct pol_match *m;

	if (!c)
		return;
	if (c->n < c->cap) {
		m = &c->m[c->n];
		memset(m, 0, sizeof(*m));
		memcpy(m->rule, name, sizeof(m->rule));
		m->rule[sizeof(m->rule) - 1] = 0;
		m->line = line;
		m->deny = deny;
		m->pattern = pattern;
		m->access = access;
		m->specificity = spec;
		m->matched = matched;
		m->note = note;
	}
	c->n++;
}

static void set(struct pol_decision *d, enum pol_verdict v, const char *rule, int line,
		const char *reason)
{
	size_t n = rule ? strlen(rule) : 0;

	d->verdict = v;
	if (n >= sizeof(d->rule))
		n = sizeof(d->rule) - 1;
	memcpy(d->rule, rule ? rule : "", n);
	d->rule[n] = 0;
	d->line = line;
	d->reason = reason;
}

/* askable: d is a deny because no rule decided (not an explicit deny, not
 * an invalid question); in ask mode it is asked instead. */
static void finish(const struct pol *p, struct pol_decision *d, bool askable)
{
	if (d->verdict == POL_DENY && p->mode == POL_MODE_AUDIT)
		d->verdict = POL_WOULD_DENY;
	else if (d->verdict == POL_DENY && askable && p->mode == POL_MODE_ASK)
		d->verdict = POL_ASK;
	else if (d->verdict == POL_ASK && p->mode == POL_MODE_AUDIT)
		d->verdict = POL_ALLOW; /* audit mode never holds an action */
}

static bool port_ok(const struct pol_nrule *r, uint16_t port)
{
	size_t lo = 0, hi = r->nports;

	if (r->nports == 0)
		return true;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->ports[mid] == port)
			return true;
		if (r->ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool http_ok(const struct pol_nrule *r, const char *method, const struct pol_path *path,
		    bool path_ok)
{
	if (r->nhttp == 0)
		return true;
	for (uint32_t i = 0; i < r->nhttp; i++) {
		const struct pol_http *h = &r->http[i];
		bool mok = h->nmethods == 0, pok = h->npaths == 0;

		for (uint32_t k = 0; k < h->nmethods && !mok; k++)
			mok = strcmp(h->methods[k], method) == 0;
		if (!mok)
			continue;
		for (uint32_t k = 0; k < h->npaths && !pok; k++)
			pok = path_ok && pol_glob_match(&h->paths[k], path);
		if (pok)
			return true;
	}
	return false;
}

enum q { Q_HOST, Q_HTTP, Q_DNS, Q_TLS };

struct hq {
	enum q q;
	bool cred; /* Q_TLS: a credential lists the host (implies inspect) */
	const struct pol_nrule *chosen; /* the rule that decided */
	uint16_t port;
	const char *method;
	const struct pol_path *path;
	bool path_ok;
	bool port_miss, http_miss;
};

/* Visit one level of candidates; returns true if it decided. */
static bool level(const struct pol *p, const struct pol_tnode *nd, enum pol_wild w, unsigned spec,
		  struct hq *q, struct pol_decision *d, bool decided, struct coll *c)
{
	const struct pol_nrule *allow = NULL, *deny = NULL;

	for (uint32_t i = 0; i < nd->cnt[w]; i++) {
		const struct pol_nrule *r = &p->nr[p->trie.rules[nd->off[w] + i]];
		const char *note = NULL;

		if (q->q == Q_DNS) {
			if (r->deny && (r->nports || r->nhttp))
				note = N_DNSPORT;
		} else if (!port_ok(r, q->port)) {
			note = N_PORT;
			q->port_miss = true;
		} else if ((q->q == Q_HOST || (q->q == Q_TLS && !r->tls && !q->cred)) &&
			   r->nhttp) {
			note = N_HTTPONLY;
			q->http_miss = true;
		} else if (q->q == Q_HTTP && !http_ok(r, q->method, q->path, q->path_ok)) {
			note = N_HTTP;
			q->http_miss = true;
		}
		coll_add(c, r->name, r->line, r->deny, r->pattern, 0, spec, !note, note);
		if (note)
			continue;
		if (r->deny && !deny)
			deny = r;
		if (!r->deny && !allow)
			allow = r;
		if (!c && deny)
			break;
	}
	if (decided || (!allow && !deny))
		return false;
	if (deny)
		set(d, POL_DENY, deny->name, deny->line, allow ? R_TIE : R_DENY);
	else if (allow->ask)
		set(d, POL_ASK, allow->name, allow->line, R_ASKRULE);
	else
		set(d, POL_ALLOW, allow->name, allow->line, R_ALLOW);
	q->chosen = deny ? deny : allow;
	return true;
}

static size_t host_decide(const struct pol *p, const char *host, struct hq *q,
			  struct pol_decision *d, struct coll *c)
{
	uint32_t nodes[POL_MAX_LABELS + 1];
	int nl, depth = pol_trie_walk(&p->trie, host, nodes, &nl);
	bool decided = false, askable = false;

	if (depth < 0) {
		set(d, POL_DENY, NULL, 0, R_BADHOST);
		goto out;
	}
	if (depth == nl)
		decided = level(p, &p->trie.nodes[nodes[nl]], POL_W_EXACT, 512u + (unsigned)nl, q,
				d, decided, c);
	if ((!decided || c) && nl >= 2 && depth >= nl - 1)
		decided |= level(p, &p->trie.nodes[nodes[nl - 1]], POL_W_STAR,
				 256u + (unsigned)nl - 1, q, d, decided, c);
	for (int j = AGW_MIN(depth, nl - 1); j >= 1 && (!decided || c); j--)
		decided |=
		    level(p, &p->trie.nodes[nodes[j]], POL_W_DSTAR, (unsigned)j, q, d, decided, c);
	if (!decided) {
		set(d, POL_DENY, NULL, 0, q->http_miss ? R_HTTP : q->port_miss ? R_PORT : R_NONE);
		askable = true;
	}
out:
	finish(p, d, askable);
	return c ? c->n : 0;
}

void pol_check_host(const struct pol *p, const char *host, uint16_t port, struct pol_decision *d)
{
	struct hq q = {.q = Q_HOST, .port = port};

	host_decide(p, host, &q, d, NULL);
}

int pol_cred_for_host(const struct pol *p, const char *host)
{
	size_t n = strlen(host);

	if (n && host[n - 1] == '.')
		n--;
	for (size_t i = 0; i < p->ncreds; i++)
		for (size_t k = 0; k < p->creds[i].nhosts; k++)
			if (strlen(p->creds[i].hosts[k]) == n &&
			    strncasecmp(p->creds[i].hosts[k], host, n) == 0)
				return (int)i;
	return -1;
}

static size_t tls_decide(const struct pol *p, const char *host, uint16_t port,
			 struct pol_decision *d, bool *inspect, int *cred, struct coll *c)
{
	struct hq q = {.q = Q_TLS, .port = port};
	size_t n;

	*cred = pol_cred_for_host(p, host);
	q.cred = *cred >= 0;
	n = host_decide(p, host, &q, d, c);
	*inspect = d->verdict != POL_DENY && q.chosen && !q.chosen->deny &&
		   (q.chosen->tls || q.cred);
	return n;
}

void pol_check_tls(const struct pol *p, const char *host, uint16_t port, struct pol_decision *d,
		   bool *inspect, int *cred)
{
	tls_decide(p, host, port, d, inspect, cred, NULL);
}

size_t pol_explain_tls(const struct pol *p, const char *host, uint16_t port,
		       struct pol_decision *d, bool *inspect, int *cred, struct pol_match *m,
		       size_t cap)
{
	struct coll c = {.m = m, .cap = cap};

	return tls_decide(p, host, port, d, inspect, cred, &c);
}

static size_t http_decide(const struct pol *p, const char *host, uint16_t port, const char *method,
			  const char *path, struct pol_decision *d, struct coll *c)
{
	struct pol_path pp;
	struct hq q = {.q = Q_HTTP, .port = port, .method = method ? method : "", .path = &pp};

	q.path_ok = pol_path_norm(path ? path : "/", true, &pp) == POL_NORM_OK;
	return host_decide(p, host, &q, d, c);
}

void pol_check_http(const struct pol *p, const char *host, uint16_t port, const char *method,
		    const char *path, struct pol_decision *d)
{
	http_decide(p, host, port, method, path, d, NULL);
}

void pol_check_dns_name(const struct pol *p, const char *host, struct pol_decision *d)
{
	struct hq q = {.q = Q_DNS};

	host_decide(p, host, &q, d, NULL);
}

size_t pol_explain_host(const struct pol *p, const char *host, uint16_t port, const char *method,
			const char *path, struct pol_decision *d, struct pol_match *m, size_t cap)
{
	struct coll c = {.m = m, .cap = cap};
	struct hq q = {.q = Q_HOST, .port = port};

	if (method)
		return http_decide(p, host, port, method, path, d, &c);
	return host_decide(p, host, &q, d, &c);
}

/* ---- addresses ---- */

static bool addr16(const struct sockaddr *sa, uint8_t a[16], bool *v4)
{
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &s4->sin_addr, 4);
		*v4 = true;
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(a, &s6->sin6_addr, 16);
		*v4 = IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
		return true;
	}
	return false;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	return rest == 0 || ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static size_t addr_decide(const struct pol *p, const struct sockaddr *sa, uint16_t port,
			  struct pol_decision *d, struct coll *c)
{
	const struct pol_nrule *allow = NULL, *deny = NULL;
	int best = -1;
	bool v4 = false, port_miss = false;
	uint8_t a[16];

	if (!addr16(sa, a, &v4)) {
		set(d, POL_DENY, NULL, 0, R_BADADDR);
		goto out;
	}
	for (int pass = c ? 128 : -1; pass >= -1; pass--) {
		for (size_t i = 0; i < p->ncidr; i++) {
			const struct pol_nrule *r = &p->nr[p->cidr[i]];
			bool pok;

			if (pass >= 0 && r->prefix != pass)
				continue;
			if ((r->v4 && !v4) || (!r->v4 && sa->sa_family != AF_INET6) ||
			    !prefix_eq(r->addr, a, r->prefix))
				continue;
			pok = port == 0 || port_ok(r, port); /* 0: any port, see pol.h */
			if (pass >= 0) {
				coll_add(c, r->name, r->line, r->deny, r->pattern, 0, r->prefix,
					 pok, pok ? NULL : N_PORT);
				continue;
			}
			if (!pok) {
				port_miss = true;
				continue;
			}
			if (r->prefix > best) {
				best = r->prefix;
				allow = deny = NULL;
			}
			if (r->prefix == best) {
				if (r->deny && !deny)
					deny = r;
				if (!r->deny && !allow)
					allow = r;
			}
		}
	}
	if (deny)
		set(d, POL_DENY, deny->name, deny->line, allow ? R_TIE : R_DENY);
	else if (allow)
		set(d, POL_ALLOW, allow->name, allow->line, R_ALLOW);
	else
		set(d, POL_DENY, NULL, 0, port_miss ? R_PORT : R_NOADDR);
out:
	finish(p, d, false); /* addresses alone are never asked */
	return c ? c->n : 0;
}

void pol_check_addr(const struct pol *p, const struct sockaddr *sa, uint16_t port,
		    struct pol_decision *d)
{
	addr_decide(p, sa, port, d, NULL);
}

size_t pol_explain_addr(const struct pol *p, const struct sockaddr *sa, uint16_t port,
			struct pol_decision *d, struct pol_match *m, size_t cap)
{
	struct coll c = {.m = m, .cap = cap};

	return addr_decide(p, sa, port, d, &c);
}

/* ---- filesystem ---- */

static int match_cmp(const void *a, const void *b)
{
	const struct pol_match *x = a, *y = b;

	if (x->specificity != y->specificity)
		return x->specificity > y->specificity ? -1 : 1;
	if (x->deny != y->deny)
		return x->deny ? -1 : 1;
	return x->line - y->line;
}

static size_t fs_decide(const struct pol *p, const char *relpath, unsigned access,
			struct pol_decision *d, struct coll *c)
{
	struct pol_path path;
	int64_t best[4] = {-1, -1, -1, -1};
	const struct pol_frule *allow[4] = {0}, *deny[4] = {0};
	const struct pol_frule *first_allow = NULL, *ask_rule = NULL;
	bool askable = false, unruled = false;
	enum pol_norm nr;

	access &= POL_ACC_ALL;
	nr = pol_path_norm(relpath ? relpath : "", false, &path);
	if (nr != POL_NORM_OK) {
		set(d, POL_DENY, NULL, 0, nr == POL_NORM_ESCAPE ? R_ESCAPE : R_LONG);
		goto out;
	}
	if (!access) {
		set(d, POL_DENY, NULL, 0, R_NONE);
		goto out;
	}
	for (size_t i = 0; i < p->nfr; i++) {
		const struct pol_frule *r = &p->fr[i];
		int64_t spec = (int64_t)r->g.lit_segs * 65536 + r->g.lit_chars;
		unsigned bits = r->access & access;

		if (!pol_glob_match(&r->g, &path))
			continue;
		coll_add(c, r->name, r->line, r->deny, r->g.text, r->access, (unsigned)spec, bits,
			 bits ? NULL : N_ACCESS);
		for (unsigned b = 0; b < 4; b++) {
			if (!(bits & (1u << b)))
				continue;
			if (spec > best[b]) {
				best[b] = spec;
				allow[b] = deny[b] = NULL;
			}
			if (spec == best[b]) {
				if (r->deny && !deny[b])
					deny[b] = r;
				if (!r->deny && !allow[b])
					allow[b] = r;
			}
		}
	}
	/* An explicit deny of any access decides; then an access no rule
	 * covers (asked in ask mode); then an ask rule. */
	for (unsigned b = 0; b < 4; b++) {
		if (!(access & (1u << b)))
			continue;
		if (deny[b]) {
			set(d, POL_DENY, deny[b]->name, deny[b]->line, allow[b] ? R_TIE : R_DENY);
			goto out;
		}
		if (!allow[b]) {
			unruled = true;
			continue;
		}
		if (!first_allow)
			first_allow = allow[b];
		if (allow[b]->ask && !ask_rule)
			ask_rule = allow[b];
	}
	if (unruled) {
		set(d, POL_DENY, NULL, 0, R_NONE);
		askable = true;
	} else if (ask_rule) {
		set(d, POL_ASK, ask_rule->name, ask_rule->line, R_ASKRULE);
	} else {
		set(d, POL_ALLOW, first_allow->name, first_allow->line, R_ALLOW);
	}
out:
	finish(p, d, askable);
	if (c && c->m)
		qsort(c->m, AGW_MIN(c->n, c->cap), sizeof(*c->m), match_cmp);
	return c ? c->n : 0;
}

void pol_check_fs(const struct pol *p, const char *relpath, unsigned access, struct pol_decision *d)
{
	fs_decide(p, relpath, access, d, NULL);
}

size_t pol_explain_fs(const struct pol *p, const char *relpath, unsigned access,
		      struct pol_decision *d, struct pol_match *m, size_t cap)
{
	struct coll c = {.m = m, .cap = cap};

	return fs_decide(p, relpath, access, d, &c);
}
