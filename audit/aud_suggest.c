// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * aud_suggest: turn denials into the allow rules that would have passed
 * them. One entry per host name (from dns queries, connects and http
 * requests), per bare address (connects without a name: suggested only as
 * a commented-out cidr rule, since names are what the gateway re-resolves)
 * and per workspace path (the access words the filesystem asked for, from
 * the event's detail, else from its op). Each entry counts what was denied
 * ("dns query", "connect :8443", "create") so a reviewer sees why a rule is
 * there. Rows decided by an explicit rule are kept apart and only listed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "audit/aud_suggest.h"
#include "policies/pol.h"

#define SUG_WHAT_MAX 6
#define SUG_PORTS_MAX 8

enum sug_class { SUG_HOST, SUG_ADDR, SUG_PATH, SUG_RULED, SUG_NCLASS };

struct sug_what {
	char label[48];
	unsigned long n;
};

struct sug_ent {
	enum sug_class cls;
	char *key;  /* host, address, path; for SUG_RULED "kind op target" */
	char *rule; /* SUG_RULED: the deciding rule */
	unsigned access;
	uint16_t ports[SUG_PORTS_MAX];
	size_t nports;
	struct sug_what what[SUG_WHAT_MAX];
	size_t nwhat;
	unsigned long total, other;
};

#define SUG_IDX_SLOTS 8192 /* power of two, > 2 * AUD_SUGGEST_MAX */
#define SUG_IDX_EMPTY UINT32_MAX

struct aud_suggest {
	struct sug_ent *v;
	size_t n, cap, dropped, denials;
	uint32_t idx[SUG_IDX_SLOTS]; /* open addressing into v */
};

int aud_suggest_new(struct aud_suggest **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -AGW_ENOMEM;
	for (size_t i = 0; i < SUG_IDX_SLOTS; i++)
		(*out)->idx[i] = SUG_IDX_EMPTY;
	return 0;
}

void aud_suggest_free(struct aud_suggest *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].rule);
	}
	free(s->v);
	free(s);
}

size_t aud_suggest_denials(const struct aud_suggest *s)
{
	return s->denials;
}

size_t aud_suggest_count(const struct aud_suggest *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].cls != SUG_RULED;
	return n;
}

static uint32_t sug_hash(enum sug_class cls, const char *key, const char *rule)
{
	uint32_t h = 2166136261u ^ (uint32_t)cls;

	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (const char *p = rule ? rule : ""; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

/* The entry for (cls, key, rule), made when new; NULL past the cap or out of memory. */
static struct sug_ent *sug_find(struct aud_suggest *s, enum sug_class cls, const char *key,
				const char *rule)
{
	uint32_t slot = sug_hash(cls, key, rule) & (SUG_IDX_SLOTS - 1);
	struct sug_ent *e;

	for (; s->idx[slot] != SUG_IDX_EMPTY; slot = (slot + 1) & (SUG_IDX_SLOTS - 1)) {
		e = &s->v[s->idx[slot]];
		if (e->cls == cls && !strcmp(e->key, key) &&
		    !strcmp(e->rule ? e->rule : "", rule ? rule : ""))
			return e;
	}
	if (s->n >= AUD_SUGGEST_MAX) {
		s->dropped++;
		return NULL;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct sug_ent *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n];
	memset(e, 0, sizeof(*e));
	e->cls = cls;
	e->key = strdup(key);
	e->rule = rule ? strdup(rule) : NULL;
	if (!e->key || (rule && !e->rule)) {
		free(e->key);
		free(e->rule);
		return NULL;
	}
	s->idx[slot] = (uint32_t)s->n++;
	return e;
}

static void sug_count(struct sug_ent *e, const char *label)
{
	e->total++;
	for (size_t i = 0; i < e->nwhat; i++)
		if (!strcmp(e->what[i].label, label)) {
			e->what[i].n++;
			return;
		}
	if (e->nwhat == SUG_WHAT_MAX) {
		e->other++;
		return;
	}
	snprintf(e->what[e->nwhat].label, sizeof(e->what[0].label), "%s", label);
	e->what[e->nwhat++].n = 1;
}

static void sug_port(struct sug_ent *e, unsigned port)
{
	if (!port || port > 65535)
		return;
	for (size_t i = 0; i < e->nports; i++)
		if (e->ports[i] == port)
			return;
	if (e->nports < SUG_PORTS_MAX)
		e->ports[e->nports++] = (uint16_t)port;
}

/* Access words a filesystem op needs when its detail does not say. */
static unsigned sug_op_access(const char *op)
{
	static const char *const create[] = {"create", "mkdir", "symlink", "link", "mknod"};
	static const char *const del[] = {"unlink", "remove", "rmdir", "rename"};
	static const char *const write[] = {"setattr", "write", "fsync"};

	for (size_t i = 0; i < AGW_ARRAY_LEN(create); i++)
		if (!strcmp(op, create[i]))
			return POL_ACC_CREATE;
	for (size_t i = 0; i < AGW_ARRAY_LEN(del); i++)
		if (!strcmp(op, del[i]))
			return POL_ACC_DELETE;
	for (size_t i = 0; i < AGW_ARRAY_LEN(write); i++)
		if (!strcmp(op, write[i]))
			return POL_ACC_WRITE;
	return POL_ACC_READ;
}

/* The "access" string of an fs event's detail, e.g. {"access":"read,write"}. */
static unsigned sug_detail_access(const char *detail)
{
	const char *p = detail ? strstr(detail, "\"access\":\"") : NULL;
	char words[48];
	unsigned acc = 0;
	size_t n;

	if (!p)
		return 0;
	p += strlen("\"access\":\"");
	n = strcspn(p, "\"");
	if (n >= sizeof(words))
		return 0;
	memcpy(words, p, n);
	words[n] = '\0';
	return pol_access_parse(words, &acc) == 0 ? acc : 0;
}

static bool sug_is_addr(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
}

/* Letters, digits, '-', '_' and '.', with at least one letter: a name a host rule can hold. */
static bool sug_is_hostname(const char *h)
{
	bool alpha = false;

	for (; *h; h++) {
		if (isalpha((unsigned char)*h))
			alpha = true;
		else if (!isdigit((unsigned char)*h) && *h != '-' && *h != '_' && *h != '.')
			return false;
	}
	return alpha;
}

/* Split "host:port", "[v6]:port" or "host/path" into host and port. */
static void sug_split_target(const char *t, char *host, size_t cap, unsigned *port)
{
	const char *end;
	size_t n;

	*port = 0;
	/* An IPv6 address without brackets (a dropped packet's target): all of it. */
	n = strcspn(t, "/");
	if (n < cap) {
		size_t colons = 0;

		for (size_t i = 0; i < n; i++)
			colons += t[i] == ':';
		snprintf(host, cap, "%.*s", (int)n, t);
		if (colons >= 2 && sug_is_addr(host))
			return;
	}
	if (t[0] == '[') {
		end = strchr(t, ']');
		n = end ? (size_t)(end - t - 1) : strlen(t + 1);
		snprintf(host, cap, "%.*s", (int)n, t + 1);
		if (end && end[1] == ':')
			*port = (unsigned)strtoul(end + 2, NULL, 10);
		return;
	}
	n = strcspn(t, ":/");
	snprintf(host, cap, "%.*s", (int)n, t);
	if (t[n] == ':')
		*port = (unsigned)strtoul(t + n + 1, NULL, 10);
}

int aud_suggest_add(struct aud_suggest *s, const struct aud_row *r)
{
	char host[300], label[48];
	struct sug_ent *e;
	unsigned port;

	if (!r->decision || !r->kind || !r->op || !r->target || !r->target[0] ||
	    (strcmp(r->decision, "deny") && strcmp(r->decision, "would_deny")))
		return 0;
	if (strcmp(r->kind, "dns") && strcmp(r->kind, "net") && strcmp(r->kind, "http") &&
	    strcmp(r->kind, "fs"))
		return 0;
	s->denials++;
	if (r->rule && r->rule[0]) {
		char key[400];

		snprintf(key, sizeof(key), "%s %s %s", r->kind, r->op, r->target);
		e = sug_find(s, SUG_RULED, key, r->rule);
		if (!e)
			return s->dropped ? 0 : -AGW_ENOMEM;
		sug_count(e, "denied");
		return 0;
	}
	if (!strcmp(r->kind, "fs")) {
		unsigned acc = sug_detail_access(r->detail);

		e = sug_find(s, SUG_PATH, r->target, NULL);
		if (!e)
			return s->dropped ? 0 : -AGW_ENOMEM;
		e->access |= acc ? acc : sug_op_access(r->op);
		sug_count(e, r->op);
		return 0;
	}
	sug_split_target(r->target, host, sizeof(host), &port);
	if (!host[0])
		return 0;
	/* Never a host rule from an address, nor from what is not a host name. */
	e = sug_find(s, sug_is_addr(host) || !sug_is_hostname(host) ? SUG_ADDR : SUG_HOST, host,
		     NULL);
	if (!e)
		return s->dropped ? 0 : -AGW_ENOMEM;
	if (!strcmp(r->kind, "net") && port) {
		sug_port(e, port);
		snprintf(label, sizeof(label), "%s :%u", r->op, port);
	} else {
		snprintf(label, sizeof(label), "%s %s", r->kind, r->op);
	}
	sug_count(e, label);
	return 0;
}

static void sug_write_what(const struct sug_ent *e, FILE *out)
{
	fprintf(out, "    # ");
	for (size_t i = 0; i < e->nwhat; i++)
		fprintf(out, "%s%s x%lu", i ? ", " : "", e->what[i].label, e->what[i].n);
	if (e->other)
		fprintf(out, ", other x%lu", e->other);
	fputc('\n', out);
}

/* YAML double-quoted scalar: the targets come from the guest. */
static void sug_write_quoted(const char *s, FILE *out)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(out, "\\x%02x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void sug_write_ports(const struct sug_ent *e, FILE *out)
{
	bool odd = false;

	for (size_t i = 0; i < e->nports; i++)
		odd |= e->ports[i] != 80 && e->ports[i] != 443;
	if (!odd)
		return; /* host rules allow 80 and 443 by default */
	fprintf(out, "      ports: [");
	for (size_t i = 0; i < e->nports; i++)
		fprintf(out, "%s%u", i ? ", " : "", e->ports[i]);
	fprintf(out, "]\n");
}

static size_t sug_n(const struct aud_suggest *s, enum sug_class cls)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].cls == cls;
	return n;
}

void aud_suggest_write(const struct aud_suggest *s, FILE *out)
{
	char words[40];

	if (!aud_suggest_count(s) && !sug_n(s, SUG_RULED)) {
		fprintf(out, "# nothing was denied: no rules to suggest\n");
		return;
	}
	if (sug_n(s, SUG_HOST) || sug_n(s, SUG_ADDR)) {
		fprintf(out, "network:\n  allow:\n");
		for (size_t i = 0; i < s->n; i++) {
			const struct sug_ent *e = &s->v[i];

			if (e->cls != SUG_HOST)
				continue;
			sug_write_what(e, out);
			fprintf(out, "    - host: ");
			sug_write_quoted(e->key, out);
			fputc('\n', out);
			sug_write_ports(e, out);
		}
		for (size_t i = 0; i < s->n; i++) {
			const struct sug_ent *e = &s->v[i];

			if (e->cls != SUG_ADDR)
				continue;
			sug_write_what(e, out);
			if (!sug_is_addr(e->key)) {
				fprintf(out, "    # not a host name or address: ");
				sug_write_quoted(e->key, out);
				fputc('\n', out);
				continue;
			}
			fprintf(out, "    # a bare address: allow the name the agent meant instead,\n"
				     "    # or uncomment this if it really has no name\n");
			fprintf(out, "    # - cidr: %s%s\n", e->key, strchr(e->key, ':') ? "/128" : "/32");
			/* cidr rules without ports allow every port: keep the ones used */
			if (e->nports) {
				fprintf(out, "    #   ports: [");
				for (size_t k = 0; k < e->nports; k++)
					fprintf(out, "%s%u", k ? ", " : "", e->ports[k]);
				fprintf(out, "]\n");
			}
		}
	}
	if (sug_n(s, SUG_PATH)) {
		fprintf(out, "filesystem:\n  allow:\n");
		for (size_t i = 0; i < s->n; i++) {
			const struct sug_ent *e = &s->v[i];

			if (e->cls != SUG_PATH)
				continue;
			sug_write_what(e, out);
			/* Globs have no escape: such a rule would match more than this path. */
			if (strpbrk(e->key, "*?"))
				fprintf(out, "    # the name holds '*' or '?', which a rule cannot match "
					     "literally:\n    # ");
			else
				fprintf(out, "    ");
			fprintf(out, "- { path: ");
			sug_write_quoted(e->key, out);
			pol_access_str(e->access, words, sizeof(words));
			fprintf(out, ", access: [");
			for (const char *w = words; *w; w++)
				fputs(*w == ',' ? ", " : (char[2]){*w, 0}, out);
			fprintf(out, "] }\n");
		}
	}
	if (sug_n(s, SUG_RULED)) {
		fprintf(out, "# Denied by an explicit rule (not suggested; change the rule if it is "
			     "wrong):\n");
		for (size_t i = 0; i < s->n; i++) {
			const struct sug_ent *e = &s->v[i];

			if (e->cls != SUG_RULED)
				continue;
			fprintf(out, "#   ");
			for (const char *p = e->key; *p; p++)
				fputc((unsigned char)*p < 0x20 ? '?' : *p, out);
			fprintf(out, "  (%s) x%lu\n", e->rule, e->total);
		}
	}
	if (s->dropped)
		fprintf(out, "# %zu more denials over the %d distinct targets kept were not grouped\n",
			s->dropped, AUD_SUGGEST_MAX);
}
