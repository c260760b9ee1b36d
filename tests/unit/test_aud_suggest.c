// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `policy suggest` (audit/aud_suggest.c): audit rows in, YAML out. The
 * strongest check is the round trip: the suggestion, appended to a policy
 * header, must load with the policy loader and allow exactly what was
 * denied (and no more than the explicit deny rules let through).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/aud_suggest.h"
#include "policies/pol.h"

static void add(struct aud_suggest *s, const char *kind, const char *op, const char *target,
		const char *decision, const char *rule, const char *detail)
{
	struct aud_row r = {.kind = kind,
			    .op = op,
			    .target = target,
			    .decision = decision,
			    .rule = rule,
			    .detail = detail,
			    .bytes_up = -1,
			    .bytes_down = -1,
			    .duration_us = -1};

	assert_int_equal(aud_suggest_add(s, &r), 0);
}

/* The suggestion as a string (caller frees). */
static char *render(const struct aud_suggest *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	aud_suggest_write(s, f);
	fclose(f);
	return buf;
}

static struct pol *load_suggestion(const char *yaml)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	size_t n = strlen(yaml) + 64;
	char *text = malloc(n);
	int rc;

	assert_non_null(text);
	snprintf(text, n, "version: 1\n%s", yaml);
	rc = pol_load_buf("suggested.yaml", text, strlen(text), "/tmp", &p, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	if (rc)
		fprintf(stderr, "---\n%s---\n", text);
	assert_int_equal(rc, 0);
	pol_errors_free(&errs);
	free(text);
	return p;
}

static enum pol_verdict host(const struct pol *p, const char *h, uint16_t port)
{
	struct pol_decision d;

	pol_check_host(p, h, port, &d);
	return d.verdict;
}

static enum pol_verdict fs(const struct pol *p, const char *path, unsigned acc)
{
	struct pol_decision d;

	pol_check_fs(p, path, acc, &d);
	return d.verdict;
}

static void test_round_trip(void **state)
{
	struct aud_suggest *s;
	struct pol *p;
	char *out;

	(void)state;
	assert_int_equal(aud_suggest_new(&s), 0);
	add(s, "dns", "query", "github.com", "deny", NULL, "{\"qtype\":\"A\"}");
	add(s, "dns", "query", "github.com", "deny", NULL, "{\"qtype\":\"AAAA\"}");
	add(s, "net", "connect", "github.com:443", "deny", NULL, NULL);
	add(s, "net", "connect", "db.internal.test:5432", "would_deny", NULL, NULL);
	add(s, "http", "request", "docs.example.org/guide/x", "deny", NULL, "{\"method\":\"GET\"}");
	add(s, "net", "connect", "93.184.216.34:80", "deny", NULL, NULL);
	add(s, "net", "connect", "[2001:db8::1]:443", "deny", NULL, NULL);
	add(s, "fs", "create", "build/out.o", "deny", NULL, "{\"access\":\"create,write\"}");
	add(s, "fs", "unlink", "old.txt", "deny", NULL, NULL); /* no detail: from the op */
	add(s, "fs", "rename", "old.txt", "deny", NULL, NULL);
	add(s, "fs", "open", "notes.md", "would_deny", NULL, "{\"access\":\"read\"}");
	add(s, "fs", "getattr", ".env", "deny", "filesystem.deny[0]", NULL);
	add(s, "dns", "query", "paste.example", "deny", "network.deny[1]", NULL);
	/* not denials, or kinds with nothing to allow: ignored */
	add(s, "dns", "query", "allowed.test", "allow", "network.allow[0]", NULL);
	add(s, "exec", "run", "make", "allow", NULL, NULL);
	add(s, "lifecycle", "start", "agw-x", "deny", NULL, NULL);
	add(s, "fs", "open", "x", "error", NULL, NULL);

	assert_int_equal(aud_suggest_denials(s), 13);
	assert_int_equal(aud_suggest_count(s), 8); /* 3 hosts, 2 addresses, 3 paths */
	out = render(s);
	assert_non_null(strstr(out, "    - host: \"github.com\"\n"));
	assert_non_null(strstr(out, "dns query x2, connect :443 x1"));
	assert_non_null(strstr(out, "      ports: [5432]\n"));
	assert_non_null(strstr(out, "    # - cidr: 93.184.216.34/32\n"));
	assert_non_null(strstr(out, "    # - cidr: 2001:db8::1/128\n"));
	assert_non_null(strstr(out, "#   fs getattr .env  (filesystem.deny[0]) x1\n"));
	assert_null(strstr(out, "host: \"paste.example\""));

	p = load_suggestion(out);
	assert_int_equal(host(p, "github.com", 443), POL_ALLOW);
	assert_int_equal(host(p, "db.internal.test", 5432), POL_ALLOW);
	assert_int_equal(host(p, "docs.example.org", 80), POL_ALLOW);
	assert_int_equal(host(p, "paste.example", 443), POL_DENY);
	assert_int_equal(host(p, "api.github.com", 443), POL_DENY); /* exact names only */
	assert_int_equal(fs(p, "build/out.o", POL_ACC_CREATE | POL_ACC_WRITE), POL_ALLOW);
	assert_int_equal(fs(p, "build/out.o", POL_ACC_DELETE), POL_DENY);
	assert_int_equal(fs(p, "old.txt", POL_ACC_DELETE), POL_ALLOW);
	assert_int_equal(fs(p, "old.txt", POL_ACC_WRITE), POL_DENY);
	assert_int_equal(fs(p, "notes.md", POL_ACC_READ), POL_ALLOW);
	assert_int_equal(fs(p, ".env", POL_ACC_READ), POL_DENY);
	pol_free(p);
	free(out);
	aud_suggest_free(s);
}

/* Targets come from the guest: quotes, backslashes, control bytes and glob
 * characters must not break the YAML or widen a rule. */
static void test_hostile_targets(void **state)
{
	struct aud_suggest *s;
	struct pol *p;
	char *out;

	(void)state;
	assert_int_equal(aud_suggest_new(&s), 0);
	add(s, "fs", "create", "a\"b\\c", "deny", NULL, NULL);
	add(s, "fs", "create", "line\nbreak: [x]", "deny", NULL, NULL);
	add(s, "fs", "create", "star*.txt", "deny", NULL, NULL);
	add(s, "fs", "open", "q?", "deny", NULL, NULL);
	add(s, "fs", "getattr", "evil\n- host: x", "deny", "filesystem.deny[0]", NULL);
	out = render(s);
	assert_non_null(strstr(out, "    # - { path: \"star*.txt\", access: [create] }\n"));
	assert_non_null(strstr(out, "#   fs getattr evil?- host: x  (filesystem.deny[0]) x1\n"));
	p = load_suggestion(out);
	assert_int_equal(fs(p, "a\"b\\c", POL_ACC_CREATE), POL_ALLOW);
	assert_int_equal(fs(p, "line\nbreak: [x]", POL_ACC_CREATE), POL_ALLOW);
	assert_int_equal(fs(p, "star*.txt", POL_ACC_CREATE), POL_DENY);
	assert_int_equal(fs(p, "starX.txt", POL_ACC_CREATE), POL_DENY);
	pol_free(p);
	free(out);
	aud_suggest_free(s);
}

/* Issue 18, item 2: the guest's IPv6 multicast ("ff02::2", dropped packets'
 * targets without brackets) became `host: "ff02"`; a commented cidr lost
 * its port. */
static void test_addresses(void **state)
{
	struct aud_suggest *s;
	struct pol *p;
	char *out;

	(void)state;
	assert_int_equal(aud_suggest_new(&s), 0);
	add(s, "net", "drop", "ff02::2", "would_deny", NULL, NULL);
	add(s, "net", "drop", "ff02::16", "would_deny", NULL, NULL);
	add(s, "net", "drop", "[fe80::1]:546", "would_deny", NULL, NULL);
	add(s, "net", "connect", "203.0.113.7:5432", "deny", NULL, NULL);
	add(s, "net", "drop", "224.0.0.251:5353", "would_deny", NULL, NULL);
	add(s, "dns", "query", "bad name!", "deny", NULL, NULL);
	out = render(s);
	assert_null(strstr(out, "- host:"));
	assert_null(strstr(out, "ff02\""));
	assert_non_null(strstr(out, "    # - cidr: ff02::2/128\n"));
	assert_non_null(strstr(out, "    # - cidr: ff02::16/128\n"));
	assert_non_null(strstr(out, "    # - cidr: fe80::1/128\n    #   ports: [546]\n"));
	assert_non_null(strstr(out, "    # - cidr: 203.0.113.7/32\n    #   ports: [5432]\n"));
	assert_non_null(strstr(out, "    # not a host name or address: \"bad name!\"\n"));
	p = load_suggestion(out); /* all commented: still a valid policy */
	pol_free(p);
	free(out);
	aud_suggest_free(s);
}

static void test_nothing_denied(void **state)
{
	struct aud_suggest *s;
	char *out;

	(void)state;
	assert_int_equal(aud_suggest_new(&s), 0);
	add(s, "net", "connect", "allowed.test:443", "allow", "network.allow[0]", NULL);
	out = render(s);
	assert_string_equal(out, "# nothing was denied: no rules to suggest\n");
	assert_int_equal(aud_suggest_count(s), 0);
	free(out);
	aud_suggest_free(s);
}

static void test_cap(void **state)
{
	struct aud_suggest *s;
	char path[32], *out;

	(void)state;
	assert_int_equal(aud_suggest_new(&s), 0);
	for (int i = 0; i < AUD_SUGGEST_MAX + 10; i++) {
		snprintf(path, sizeof(path), "f%d", i);
		add(s, "fs", "create", path, "deny", NULL, NULL);
	}
	assert_int_equal(aud_suggest_count(s), AUD_SUGGEST_MAX);
	out = render(s);
	assert_non_null(strstr(out, "# 10 more denials"));
	free(out);
	aud_suggest_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_hostile_targets),
	    cmocka_unit_test(test_addresses),
	    cmocka_unit_test(test_nothing_denied),
	    cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests_name("aud_suggest", tests, NULL, NULL);
}
