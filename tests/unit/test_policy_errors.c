// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy load errors: one case per error class, each checking the line, the
 * column and the message a user reads; plus collecting every error in one
 * run, limits, and inputs that must be refused without crashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "policies/pol.h"

struct ecase {
	const char *what;
	const char *text;
	int line, col;
	const char *msg; /* substring of the first error */
};

#define V "version: 1\n"
static const struct ecase ecases[] = {
    {"unknown top-level key", V "nework: {}\n", 2, 1,
     "unknown key 'nework' in the policy (did you mean 'network'?)"},
    {"unknown key, no suggestion", V "zzzzzz: 1\n", 2, 1, "expected one of: version, name"},
    {"unknown nested key", V "network:\n  alow: [a.test]\n", 3, 3, "did you mean 'allow'?"},
    {"unknown rule key", V "network:\n  allow:\n    - { hots: a.test }\n", 4, 9,
     "did you mean 'host'?"},
    {"unknown fs key", V "filesystem:\n  allow:\n    - { path: a, acess: [read] }\n", 4, 18,
     "did you mean 'access'?"},
    {"unknown fs_transport", V "sandbox: {fs_transport: virtiofsd}\n", 2, 25,
     "unknown fs_transport 'virtiofsd' (did you mean 'virtiofs'?)"},
    {"wrong type: section", V "network: [a]\n", 2, 10, "'network' expects a mapping"},
    {"wrong type: list", V "network:\n  allow: a.test\n", 3, 10, "'allow' expects a list"},
    {"wrong type: string", V "name: [x]\n", 2, 7, "'name' expects a string, got a list"},
    {"wrong type: number", V "sandbox: {vcpus: two}\n", 2, 18, "'vcpus' expects a whole number"},
    {"wrong type: quoted number", V "network:\n  max_connections: \"5\"\n", 3, 20,
     "got the string '5'"},
    {"empty string", V "mode:\n", 2, 6, "'mode' expects a string, got an empty value"},
    {"host: wildcard in the middle", V "network:\n  allow: [\"a.*.test\"]\n", 3, 11,
     "'*' is allowed only as a whole leading label"},
    {"host: partial wildcard", V "network:\n  allow: [\"*foo.test\"]\n", 3, 11,
     "'*' is allowed only"},
    {"host: empty label", V "network:\n  allow:\n    - host: a..test\n", 4, 13, "empty label"},
    {"host: leading dot", V "network:\n  allow:\n    - host: .a.test\n", 4, 13, "empty label"},
    {"host: long label",
     V "network:\n  allow:\n    - host: "
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test\n",
     4, 13, "longer than 63"},
    {"host: long name",
     V "network:\n  allow:\n    - "
       "aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa."
       "aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa."
       "aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.aaaaaaaaa.test\n",
     4, 7, "longer than 253"},
    {"host: bad character", V "network:\n  allow: [a_b.test]\n", 3, 11,
     "character '_' is not allowed"},
    {"host: hyphen edge", V "network:\n  allow: [-a.test]\n", 3, 11, "starts or ends with '-'"},
    {"host: non-ASCII",
     V "network:\n  allow: [\"b\xc3\xbc"
       "cher.example\"]\n",
     3, 11, "punycode: 'xn--bcher-kva.example'"},
    {"host: bare wildcard", V "network:\n  deny: [\"**\"]\n", 3, 10, "a wildcard needs a suffix"},
    {"host: IP address", V "network:\n  allow:\n    - host: 1.2.3.4\n", 4, 13,
     "looks like an IP address"},
    {"host: with port", V "network:\n  allow: [\"a.test:8080\"]\n", 3, 11,
     "give ports with 'ports:'"},
    {"shorthand address", V "network:\n  allow: [10.0.0.0/8]\n", 3, 11,
     "is an address; write it as '{cidr:"},
    {"cidr: bad address", V "network:\n  allow:\n    - cidr: 300.0.0.0/8\n", 4, 13,
     "is not an IPv4 or IPv6 address"},
    {"cidr: prefix too long v4", V "network:\n  allow:\n    - cidr: 10.0.0.0/33\n", 4, 13,
     "prefix length /33 is out of range (0-32)"},
    {"cidr: prefix too long v6", V "network:\n  allow:\n    - cidr: \"2001:db8::/129\"\n", 4, 13,
     "/129 is out of range (0-128)"},
    {"cidr: host bits", V "network:\n  allow:\n    - cidr: 10.1.0.0/8\n", 4, 13,
     "did you mean 10.0.0.0/8?"},
    {"cidr: bad prefix", V "network:\n  allow:\n    - cidr: 10.0.0.0/x\n", 4, 13,
     "must be a number"},
    {"cidr and host", V "network:\n  allow:\n    - { host: a.test, cidr: 10.0.0.0/8 }\n", 4, 23,
     "either 'host' or 'cidr'"},
    {"neither host nor cidr", V "network:\n  allow:\n    - { ports: [1] }\n", 4, 7, "needs 'host'"},
    {"http on cidr", V "network:\n  allow:\n    - { cidr: 10.0.0.0/8, http: [] }\n", 4, 27,
     "'http' needs a 'host' rule"},
    {"port zero", V "network:\n  allow:\n    - { host: a.test, ports: [443, 0] }\n", 4, 36,
     "port 0 is out of range (1-65535)"},
    {"port too big", V "network:\n  allow:\n    - host: a.test\n      ports: [65536]\n", 5, 15,
     "port 65536 is out of range (1-65535)"},
    {"port negative", V "network:\n  allow:\n    - host: a.test\n      ports: [-1]\n", 5, 15,
     "expects a whole number (1-65535)"},
    {"ports empty", V "network:\n  allow:\n    - host: a.test\n      ports: []\n", 5, 14,
     "empty 'ports' list"},
    {"http method case",
     V "network:\n  allow:\n    - host: a.test\n      http: [{methods: [get]}]\n", 5, 25,
     "write 'GET', not 'get'"},
    {"http method junk",
     V "network:\n  allow:\n    - host: a.test\n      http: [{methods: [\"G T\"]}]\n", 5, 25,
     "is not an HTTP method"},
    {"http path glob", V "network:\n  allow:\n    - host: a.test\n      http: [{paths: [docs]}]\n",
     5, 23, "start with '/'"},
    {"http unknown key",
     V "network:\n  allow:\n    - host: a.test\n      http: [{method: [GET]}]\n", 5, 15,
     "did you mean 'methods'?"},
    {"glob: ** inside a segment",
     V "filesystem:\n  allow:\n    - { path: \"src/a**\", access: [read] }\n", 4, 15,
     "'**' must be a whole path segment"},
    {"glob: trailing slash", V "filesystem:\n  allow:\n    - { path: src/, access: [read] }\n", 4,
     15, "write 'dir/**'"},
    {"glob: dot-dot", V "filesystem:\n  allow:\n    - { path: a/../b, access: [read] }\n", 4, 15,
     "'..' segments are not allowed"},
    {"glob: empty segment", V "filesystem:\n  allow:\n    - { path: a//b, access: [read] }\n", 4,
     15, "empty path segment"},
    {"access: unknown word", V "filesystem:\n  allow:\n    - { path: a, access: [read, wrte] }\n",
     4, 33, "unknown access 'wrte' (did you mean 'write'?)"},
    {"access: empty list", V "filesystem:\n  allow:\n    - { path: a, access: [] }\n", 4, 26,
     "empty 'access' list"},
    {"access: missing in allow", V "filesystem:\n  allow:\n    - { path: a }\n", 4, 7,
     "needs 'access'"},
    {"fs rule without path", V "filesystem:\n  deny:\n    - { access: [read] }\n", 4, 7,
     "needs 'path'"},
    {"duplicate key", V "name: a\nname: b\n", 3, 1,
     "duplicate key 'name' in the policy (first at line 2)"},
    {"duplicate nested key", V "network:\n  allow: []\n  deny: []\n  allow: []\n", 5, 3,
     "duplicate key 'allow' in network (first at line 3)"},
    {"wrong version", "version: 2\n", 1, 10, "unsupported policy version 2"},
    {"version as string", "version: \"1\"\n", 1, 10, "got the string '1'"},
    {"missing version", "name: x\nmode: audit\n", 1, 1, "missing 'version: 1'"},
    {"bad mode", V "mode: audti\n", 2, 7, "unknown mode 'audti' (did you mean 'audit'?)"},
    {"bad mode, far", V "mode: permissive\n", 2, 7, "expected 'enforce', 'audit' or 'ask'"},
    {"memory without unit", V "sandbox: {memory: 512}\n", 2, 19, "like 512M or 2G"},
    {"memory out of range", V "sandbox: {memory: 1M}\n", 2, 19, "out of range"},
    {"disk out of range", V "sandbox: {disk: 10M}\n", 2, 17, "disk 10M is out of range"},
    {"bad image name", V "sandbox: {image: ../x}\n", 2, 18, "bad image name '../x'"},
    {"bad user", V "sandbox: {user: \"a:b\"}\n", 2, 17, "bad user name 'a:b'"},
    {"unknown sandbox key", V "sandbox: {cpus: 2}\n", 2, 11, "unknown key 'cpus'"},
    {"dns upstream", V "network:\n  dns: {upstream: [dns.google]}\n", 3, 20,
     "is not an IP address"},
    {"ttl range", V "network:\n  dns: {ttl_max: 100000}\n", 3, 18,
     "ttl_max 100000 is out of range"},
    {"anchor", V "name: &n x\n", 2, 7, "YAML anchors ('&n') are not supported"},
    {"alias", V "network:\n  allow: &a [a.test]\n  deny: *a\n", 3, 10, "YAML anchors"},
    {"alias alone", V "x: *a\n", 2, 4, "YAML aliases ('*a') are not supported"},
    {"tag", V "name: !!str x\n", 2, 7, "YAML tags ('tag:yaml.org,2002:str') are not supported"},
    /* the unclosed '[', not the end of the file where the parser gave up */
    {"syntax error", V "network:\n  allow: [a.test\n", 3, 10, "YAML syntax error"},
    {"unclosed flow mapping", V "network: {allow: [a.test]\n", 2, 10, "flow mapping that starts here"},
    {"two documents", V "---\n" V, 2, 1, "one YAML document"},
    {"empty policy", "", 1, 1, "empty policy"},
    {"root not a mapping", "- a\n", 1, 1, "'the policy' expects a mapping"},
    {"tab indentation", V "network:\n\tallow: []\n", 3, 1, "YAML syntax error"},
    /* TLS inspection and credentials (issue 14) */
    {"tls: unknown mode", V "network:\n  allow:\n    - { host: a.test, tls: inspekt }\n", 4, 28,
     "unknown tls mode 'inspekt' (did you mean 'inspect'?)"},
    {"tls on a deny rule", V "network:\n  deny:\n    - { host: a.test, tls: inspect }\n", 4, 23,
     "'tls' belongs on allow rules"},
    {"tls on a cidr rule", V "network:\n  allow:\n    - { cidr: 10.0.0.0/8, tls: inspect }\n", 4,
     27, "'tls: inspect' needs a 'host' rule"},
    {"network.tls unknown key", V "network:\n  tls: { upstream_cert: a.pem }\n", 3, 10,
     "did you mean 'upstream_ca'?"},
    {"credentials: typo in a key",
     V "credentials:\n  - { name: k, env: K, from: env:K, hosts: [a.test], headr: x }\n", 3,
     54, "unknown key 'headr' in a credential (did you mean 'header'?)"},
    {"credentials: missing key",
     V "credentials:\n  - { name: k, env: K, from: env:K, hosts: [a.test] }\n", 3, 5,
     "credentials[0] needs 'header'"},
    {"credentials: bad from",
     V "credentials:\n  - { name: k, env: K, from: \"fil:/x\", hosts: [a.test], header: x }\n",
     3, 30, "(did you mean 'file:'?)"},
    {"credentials: pattern host",
     V "credentials:\n  - { name: k, env: K, from: env:K, hosts: [\"*.a.test\"], header: x }\n",
     3, 45, "credential hosts are exact names"},
    {"credentials: duplicate name",
     V "credentials:\n  - { name: k, env: K, from: env:K, hosts: [a.test], header: x }\n"
       "  - { name: k, env: L, from: env:L, hosts: [b.test], header: x }\n",
     4, 13, "duplicate credential name 'k' (first at line 3)"},
    {"credentials: bad name", V "credentials:\n  - { name: K!, env: K, from: env:K, hosts: [a.test], "
			      "header: x }\n",
     3, 13, "bad credential name 'K!'"},
    {"credentials: framing header",
     V "credentials:\n  - { name: k, env: K, from: env:K, hosts: [a.test], header: Host }\n", 3,
     62, "header 'Host' frames or routes the request"},
};

static void test_error_classes(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < AGW_ARRAY_LEN(ecases); i++) {
		const struct ecase *c = &ecases[i];
		struct pol_errors errs = {0};
		struct pol *p = NULL;
		int ret = pol_load_buf("e.yaml", c->text, strlen(c->text), "/b", &p, &errs);

		if (ret != -AGW_EPOLICY || p || errs.n == 0 || errs.v[0].line != c->line ||
		    errs.v[0].col != c->col || !strstr(errs.v[0].msg, c->msg) ||
		    strcmp(errs.v[0].file, "e.yaml") != 0) {
			print_error("case %zu (%s): ret %d, want line %d col %d '%s'\n", i, c->what,
				    ret, c->line, c->col, c->msg);
			for (size_t k = 0; k < errs.n; k++)
				print_error("   got %s:%d:%d: %s\n", errs.v[k].file, errs.v[k].line,
					    errs.v[k].col, errs.v[k].msg);
			bad++;
		}
		pol_free(p);
		pol_errors_free(&errs);
	}
	assert_int_equal(bad, 0);
}

static void test_collects_every_error(void **state)
{
	static const char T[] = "version: 3\n"
				"mode: x\n"
				"network:\n"
				"  allow:\n"
				"    - a..b\n"
				"    - ok.test\n"
				"    - { host: c.test, ports: [0] }\n"
				"filesystem:\n"
				"  allow: [{path: \"a**\", access: [nope]}]\n";
	struct pol_errors errs = {0};
	struct pol *p = NULL;

	(void)state;
	assert_int_equal(pol_load_buf("m.yaml", T, strlen(T), NULL, &p, &errs), -AGW_EPOLICY);
	assert_null(p);
	assert_int_equal(errs.n, 6);
	/* sorted by position */
	assert_int_equal(errs.v[0].line, 1);
	assert_int_equal(errs.v[1].line, 2);
	assert_int_equal(errs.v[2].line, 5);
	assert_int_equal(errs.v[3].line, 7);
	assert_int_equal(errs.v[4].line, 9);
	assert_int_equal(errs.v[5].line, 9);
	assert_true(errs.v[4].col < errs.v[5].col);
	pol_errors_free(&errs);
	assert_int_equal(errs.n, 0);
	pol_errors_free(&errs);
}

static void test_limits(void **state)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	size_t n = POL_MAX_BYTES + 1, o;
	char *big = malloc(n + 1);

	(void)state;
	assert_non_null(big);
	memset(big, '#', n);
	big[n] = 0;
	assert_int_equal(pol_load_buf("big.yaml", big, n, NULL, &p, &errs), -AGW_ETOOBIG);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "larger than 4 MiB"));
	pol_errors_free(&errs);

	/* many errors: capped, with a note at the end */
	o = (size_t)snprintf(big, n, "version: 1\nnetwork:\n  allow:\n");
	for (int i = 0; i < 1000; i++)
		o += (size_t)snprintf(big + o, n - o, "    - bad_%d.test\n", i);
	assert_int_equal(pol_load_buf("many.yaml", big, o, NULL, &p, &errs), -AGW_EPOLICY);
	assert_true(errs.n > 100 && errs.n < 1000);
	assert_non_null(strstr(errs.v[errs.n - 1].msg, "too many errors"));
	pol_errors_free(&errs);

	/* deep nesting */
	o = (size_t)snprintf(big, n, "version: 1\nx: ");
	for (int i = 0; i < 200; i++)
		big[o++] = '[';
	assert_int_equal(pol_load_buf("deep.yaml", big, o, NULL, &p, &errs), -AGW_EPOLICY);
	assert_non_null(strstr(errs.v[0].msg, "nested too deeply"));
	pol_errors_free(&errs);

	/* a NUL in a scalar */
	assert_int_equal(
	    pol_load_buf("nul.yaml", "version: 1\nname: \"a\\0b\"\n", 24, NULL, &p, &errs),
	    -AGW_EPOLICY);
	assert_non_null(strstr(errs.v[0].msg, "NUL"));
	pol_errors_free(&errs);

	/* a raw NUL byte in the input */
	assert_int_equal(pol_load_buf("raw.yaml", "version: 1\n\0", 12, NULL, &p, &errs),
			 -AGW_EPOLICY);
	pol_errors_free(&errs);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_error_classes),
	    cmocka_unit_test(test_collects_every_error),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests_name("policy_errors", tests, NULL, NULL);
}
