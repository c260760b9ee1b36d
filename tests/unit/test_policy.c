// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy decisions, table-driven: host/port, HTTP method/path, DNS names and
 * addresses against one network policy; paths and accesses against one
 * filesystem policy; audit mode; explain; loader defaults and accessors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "agw.h"
#include "policies/pol.h"

static const char NET[] =
    "version: 1\n"
    "name: net\n"
    "network:\n"
    "  allow:\n"
    "    - api.example.com\n"	   /* allow[0] line 5 */
    "    - host: \"*.one.test\"\n" /* allow[1] */
    "      ports: [443]\n"
    "    - host: \"**.deep.test\"\n" /* allow[2] */
    "      ports: [443]\n"
    "    - host: \"**.b.deep.test\"\n" /* allow[3] */
    "      ports: [8443]\n"
    "    - host: \"Mixed.CASE.test.\"\n" /* allow[4] */
    "    - host: web.test\n"		 /* allow[5] */
    "      ports: [80]\n"
    "      http:\n"
    "        - { methods: [GET, HEAD], paths: [\"/docs/**\", \"/files/*.txt\", \"/v?/x\"] }\n"
    "        - { methods: [POST], paths: [\"/api/upload\"] }\n"
    "    - host: any.test\n" /* allow[6] */
    "      ports: [8080]\n"
    "      http: [{ methods: [DELETE] }]\n"
    "    - { cidr: 10.0.0.0/8, ports: [5432] }\n" /* allow[7] */
    "    - { cidr: 0.0.0.0/0, ports: [443] }\n"	  /* allow[8] */
    "    - { cidr: \"2001:db8::/32\" }\n"	  /* allow[9] */
    "    - { cidr: 192.0.2.1/32 }\n"		  /* allow[10] */
    "    - { cidr: \"::/0\", ports: [53] }\n"	  /* allow[11] */
    "    - { cidr: \"2001:db8::1/128\" }\n"	  /* allow[12] */
    "    - host: xn--bcher-kva.example\n"	  /* allow[13] */
    "    - host: \"*.tie.test\"\n"		  /* allow[14] */
    "    - host: \"**.deny.test\"\n"		  /* allow[15] */
    "  deny:\n"
    "    - host: \"*.tie.test\"\n"     /* deny[0] */
    "    - host: bad.deep.test\n"      /* deny[1] */
    "    - host: \"**.x.deep.test\"\n" /* deny[2] */
    "      ports: [443]\n"
    "    - { cidr: 10.9.0.0/16 }\n" /* deny[3] */
    "    - { cidr: 192.0.2.1 }\n"   /* deny[4] */
    "    - host: web.test\n"	    /* deny[5] */
    "      ports: [80]\n"
    "      http: [{ methods: [GET], paths: [\"/docs/secret/**\"] }]\n"
    "    - host: deny.test\n"; /* deny[6] */

enum nq { HOST, HTTP, DNS, ADDR };

struct ncase {
	enum nq q;
	const char *host;
	uint16_t port;
	const char *method, *path;
	enum pol_verdict v;
	const char *rule;
};

#define A POL_ALLOW
#define D POL_DENY
static const struct ncase ncases[] = {
    /* exact, case, trailing dot, ports */
    {HOST, "api.example.com", 443, NULL, NULL, A, "network.allow[0]"},
    {HOST, "api.example.com", 80, NULL, NULL, A, "network.allow[0]"},
    {HOST, "api.example.com", 8080, NULL, NULL, D, ""},
    {HOST, "API.Example.COM", 443, NULL, NULL, A, "network.allow[0]"},
    {HOST, "api.example.com.", 443, NULL, NULL, A, "network.allow[0]"},
    {HOST, "x.api.example.com", 443, NULL, NULL, D, ""},
    {HOST, "example.com", 443, NULL, NULL, D, ""},
    {HOST, "api.example.co", 443, NULL, NULL, D, ""},
    /* "*." is exactly one label */
    {HOST, "a.one.test", 443, NULL, NULL, A, "network.allow[1]"},
    {HOST, "one.test", 443, NULL, NULL, D, ""},
    {HOST, "a.b.one.test", 443, NULL, NULL, D, ""},
    {HOST, "A.ONE.TEST.", 443, NULL, NULL, A, "network.allow[1]"},
    {HOST, "a.one.test", 80, NULL, NULL, D, ""},
    /* "**." is one or more labels; longer suffix wins; exact beats wildcard */
    {HOST, "a.deep.test", 443, NULL, NULL, A, "network.allow[2]"},
    {HOST, "a.b.c.deep.test", 443, NULL, NULL, A, "network.allow[2]"},
    {HOST, "deep.test", 443, NULL, NULL, D, ""},
    {HOST, "bad.deep.test", 443, NULL, NULL, D, "network.deny[1]"},
    {HOST, "BAD.deep.test.", 443, NULL, NULL, D, "network.deny[1]"},
    {HOST, "y.x.deep.test", 443, NULL, NULL, D, "network.deny[2]"},
    {HOST, "z.y.x.deep.test", 443, NULL, NULL, D, "network.deny[2]"},
    {HOST, "y.x.deep.test", 8443, NULL, NULL, D, ""},
    {HOST, "x.deep.test", 443, NULL, NULL, A, "network.allow[2]"},
    {HOST, "q.b.deep.test", 8443, NULL, NULL, A, "network.allow[3]"},
    {HOST, "q.b.deep.test", 443, NULL, NULL, A, "network.allow[2]"},
    {HOST, "b.deep.test", 8443, NULL, NULL, D, ""},
    {HOST, "mixed.case.test", 80, NULL, NULL, A, "network.allow[4]"},
    {HOST, "MIXED.case.TEST.", 443, NULL, NULL, A, "network.allow[4]"},
    /* ties go to deny */
    {HOST, "x.tie.test", 443, NULL, NULL, D, "network.deny[0]"},
    {HOST, "tie.test", 443, NULL, NULL, D, ""},
    /* IDN: punycode only */
    {HOST, "xn--bcher-kva.example", 443, NULL, NULL, A, "network.allow[13]"},
    {HOST, "XN--BCHER-KVA.EXAMPLE", 443, NULL, NULL, A, "network.allow[13]"},
    {HOST,
     "b\xc3\xbc"
     "cher.example",
     443, NULL, NULL, D, ""},
    {HOST, "deny.test", 443, NULL, NULL, D, "network.deny[6]"},
    {HOST, "a.deny.test", 443, NULL, NULL, A, "network.allow[15]"},
    /* invalid names */
    {HOST, "", 443, NULL, NULL, D, ""},
    {HOST, "a..b.deep.test", 443, NULL, NULL, D, ""},
    {HOST, ".deep.test", 443, NULL, NULL, D, ""},
    {HOST, ".", 443, NULL, NULL, D, ""},
    {HOST, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.deep.test", 443, NULL,
     NULL, D, ""},
    {HOST, "*.one.test", 443, NULL, NULL, A, "network.allow[1]"}, /* '*' is just a label */
    /* http rules apply only to plain HTTP; addresses never match host rules */
    {HOST, "web.test", 80, NULL, NULL, D, ""},
    {HOST, "any.test", 8080, NULL, NULL, D, ""},
    {HOST, "10.1.2.3", 5432, NULL, NULL, D, ""},
    /* HTTP */
    {HTTP, "web.test", 80, "GET", "/docs/a", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "HEAD", "/docs", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "get", "/docs/a", D, ""},
    {HTTP, "web.test", 80, "POST", "/docs/a", D, ""},
    {HTTP, "web.test", 80, "POST", "/api/upload", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "POST", "/api/upload/x", D, ""},
    {HTTP, "web.test", 80, "GET", "/files/a.txt", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "GET", "/files/sub/a.txt", D, ""},
    {HTTP, "web.test", 80, "GET", "/v1/x", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "GET", "/v10/x", D, ""},
    {HTTP, "web.test", 80, "GET", "/docs/secret/key", D, "network.deny[5]"},
    {HTTP, "web.test", 80, "GET", "/docs/secret", D, "network.deny[5]"},
    {HTTP, "web.test", 80, "HEAD", "/docs/secret/key", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "GET", "/docs/../admin", D, ""},
    {HTTP, "web.test", 80, "GET", "/docs/%2e%2e/admin", D, ""},
    {HTTP, "web.test", 80, "GET", "/docs//a?x=../../y", A, "network.allow[5]"},
    {HTTP, "web.test", 80, "GET", "/../docs/a", D, ""},
    {HTTP, "web.test", 443, "GET", "/docs/a", D, ""},
    {HTTP, "WEB.test.", 80, "GET", "/docs/a#frag", A, "network.allow[5]"},
    {HTTP, "api.example.com", 443, "PUT", "/anything", A, "network.allow[0]"},
    {HTTP, "any.test", 8080, "DELETE", "/x/y", A, "network.allow[6]"},
    {HTTP, "any.test", 8080, "GET", "/", D, ""},
    /* DNS: any allow rule, deny only when it covers every port and request */
    {DNS, "api.example.com", 0, NULL, NULL, A, "network.allow[0]"},
    {DNS, "a.one.test", 0, NULL, NULL, A, "network.allow[1]"},
    {DNS, "bad.deep.test", 0, NULL, NULL, D, "network.deny[1]"},
    {DNS, "y.x.deep.test", 0, NULL, NULL, A, "network.allow[2]"},
    {DNS, "web.test", 0, NULL, NULL, A, "network.allow[5]"},
    {DNS, "x.tie.test", 0, NULL, NULL, D, "network.deny[0]"},
    {DNS, "nothing.test", 0, NULL, NULL, D, ""},
    {DNS, "deny.test", 0, NULL, NULL, D, "network.deny[6]"},
    {DNS, "q.b.deep.test.", 0, NULL, NULL, A, "network.allow[3]"},
    /* addresses: longest prefix, ports, families, v4-mapped */
    {ADDR, "10.1.2.3", 5432, NULL, NULL, A, "network.allow[7]"},
    {ADDR, "10.1.2.3", 443, NULL, NULL, A, "network.allow[8]"},
    {ADDR, "10.1.2.3", 22, NULL, NULL, D, ""},
    {ADDR, "10.9.1.1", 5432, NULL, NULL, D, "network.deny[3]"},
    {ADDR, "10.255.255.255", 5432, NULL, NULL, A, "network.allow[7]"},
    {ADDR, "11.0.0.0", 5432, NULL, NULL, D, ""},
    {ADDR, "192.0.2.1", 80, NULL, NULL, D, "network.deny[4]"},
    {ADDR, "192.0.2.2", 443, NULL, NULL, A, "network.allow[8]"},
    {ADDR, "8.8.8.8", 443, NULL, NULL, A, "network.allow[8]"},
    {ADDR, "::ffff:10.1.2.3", 5432, NULL, NULL, A, "network.allow[7]"},
    {ADDR, "::ffff:10.9.0.1", 5432, NULL, NULL, D, "network.deny[3]"},
    {ADDR, "2001:db8::5", 22, NULL, NULL, A, "network.allow[9]"},
    {ADDR, "2001:db8::1", 22, NULL, NULL, A, "network.allow[12]"},
    {ADDR, "2001:db9::", 53, NULL, NULL, A, "network.allow[11]"},
    {ADDR, "2001:db9::", 443, NULL, NULL, D, ""},
    {ADDR, "8.8.8.8", 53, NULL, NULL, D, ""},
};

static struct pol *load(const char *text, const char *basedir)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	int ret = pol_load_buf("t.yaml", text, strlen(text), basedir, &p, &errs);

	for (size_t i = 0; i < errs.n; i++)
		print_error("t.yaml:%d:%d: %s\n", errs.v[i].line, errs.v[i].col, errs.v[i].msg);
	pol_errors_free(&errs);
	assert_int_equal(ret, 0);
	assert_non_null(p);
	return p;
}

static void sa_of(const char *s, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, s, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	}
}

static void test_network_table(void **state)
{
	struct pol *p = load(NET, "/tmp");
	int bad = 0;

	(void)state;
	assert_true(AGW_ARRAY_LEN(ncases) >= 60);
	for (size_t i = 0; i < AGW_ARRAY_LEN(ncases); i++) {
		const struct ncase *c = &ncases[i];
		struct pol_decision d;
		struct sockaddr_storage ss;

		memset(&d, 0x5a, sizeof(d));
		switch (c->q) {
		case HOST:
			pol_check_host(p, c->host, c->port, &d);
			break;
		case HTTP:
			pol_check_http(p, c->host, c->port, c->method, c->path, &d);
			break;
		case DNS:
			pol_check_dns_name(p, c->host, &d);
			break;
		case ADDR:
			sa_of(c->host, c->port, &ss);
			pol_check_addr(p, (struct sockaddr *)&ss, c->port, &d);
			break;
		}
		if (d.verdict != c->v || strcmp(d.rule, c->rule) != 0 || !d.reason ||
		    (c->rule[0] && d.line <= 0) || (!c->rule[0] && d.line != 0)) {
			print_error("case %zu (%s %s:%u %s %s): got %s %s (%s), want %s %s\n", i,
				    c->q == HOST   ? "host"
				    : c->q == HTTP ? "http"
				    : c->q == DNS  ? "dns"
						   : "addr",
				    c->host, c->port, c->method ? c->method : "",
				    c->path ? c->path : "", pol_verdict_str(d.verdict), d.rule,
				    d.reason ? d.reason : "?", pol_verdict_str(c->v), c->rule);
			bad++;
		}
	}
	pol_free(p);
	assert_int_equal(bad, 0);
}

static void test_network_lines_and_reasons(void **state)
{
	struct pol *p = load(NET, NULL);
	struct pol_decision d;

	(void)state;
	pol_check_host(p, "api.example.com", 443, &d);
	assert_int_equal(d.line, 5);
	assert_string_equal(d.reason, "allowed by rule");
	pol_check_host(p, "x.tie.test", 443, &d);
	assert_string_equal(d.rule, "network.deny[0]");
	assert_non_null(strstr(d.reason, "ties go to deny"));
	pol_check_host(p, "nothing.example", 443, &d);
	assert_string_equal(d.reason, "no rule matches");
	pol_check_host(p, "api.example.com", 22, &d);
	assert_string_equal(d.reason, "a rule matches the host but not the port");
	pol_check_http(p, "web.test", 80, "PUT", "/docs/a", &d);
	assert_non_null(strstr(d.reason, "method or path"));
	pol_check_host(p, "a..b", 443, &d);
	assert_string_equal(d.reason, "invalid host name");
	assert_true(pol_permits(&(struct pol_decision){.verdict = POL_WOULD_DENY}));
	assert_false(pol_permits(&(struct pol_decision){.verdict = POL_DENY}));
	pol_free(p);
}

static const char FS[] =
    "version: 1\n"
    "filesystem:\n"
    "  workspace: ws\n"
    "  allow:\n"
    "    - { path: \"**\", access: [read] }\n"				  /* allow[0] */
    "    - { path: \"src/**\", access: [read, write, create, delete] }\n" /* allow[1] */
    "    - { path: \"src/gen/*.c\", access: [read, write] }\n"		  /* allow[2] */
    "    - { path: \"docs/?.md\", access: [write] }\n"			  /* allow[3] */
    "    - { path: \"/top.txt\", access: write }\n"			  /* allow[4] */
    "    - { path: \"a/**/z\", access: [create] }\n"			  /* allow[5] */
    "    - { path: tie/x, access: [read, write] }\n"			  /* allow[6] */
    "    - { path: \"**/*.log\", access: [all] }\n"			  /* allow[7] */
    "  deny:\n"
    "    - { path: \"**/.env\" }\n"					   /* deny[0] */
    "    - { path: \".git/hooks/**\", access: [write, create, delete] }\n" /* deny[1] */
    "    - { path: \"src/secret/**\", access: [read] }\n"		   /* deny[2] */
    "    - { path: tie/x, access: [write] }\n"				   /* deny[3] */
    "    - { path: \"src/gen/**\", access: [delete] }\n";		   /* deny[4] */

struct fcase {
	const char *path;
	unsigned acc;
	enum pol_verdict v;
	const char *rule;
};

#define R POL_ACC_READ
#define W POL_ACC_WRITE
#define C POL_ACC_CREATE
#define X POL_ACC_DELETE
static const struct fcase fcases[] = {
    {"README.md", R, A, "filesystem.allow[0]"},
    {"README.md", W, D, ""},
    {"README.md", R | W, D, ""},
    {"src/main.c", W, A, "filesystem.allow[1]"},
    {"src/a/b/c.c", C, A, "filesystem.allow[1]"},
    {"src", X, A, "filesystem.allow[1]"},
    {"", R, A, "filesystem.allow[0]"},
    {"/", R, A, "filesystem.allow[0]"},
    {".", R, A, "filesystem.allow[0]"},
    {"//", R, A, "filesystem.allow[0]"},
    {"src/.env", R, D, "filesystem.deny[0]"},
    {".env", R, D, "filesystem.deny[0]"},
    {"a/b/.env", W, D, "filesystem.deny[0]"},
    {"src/.env.bak", R, A, "filesystem.allow[1]"},
    {".git/hooks/pre-commit", W, D, "filesystem.deny[1]"},
    {".git/hooks/pre-commit", R, A, "filesystem.allow[0]"},
    {".git/hooks", R, A, "filesystem.allow[0]"},
    {".git/hooks", C, D, "filesystem.deny[1]"},
    {"src/secret/k", R, D, "filesystem.deny[2]"},
    {"src/secret/k", W, A, "filesystem.allow[1]"},
    {"src/secret/k", R | W, D, "filesystem.deny[2]"},
    {"src/gen/x.c", W, A, "filesystem.allow[2]"},
    {"src/gen/x.c", X, D, "filesystem.deny[4]"},
    {"src/gen/x.h", W, A, "filesystem.allow[1]"},
    {"src/gen/sub/x.c", W, A, "filesystem.allow[1]"},
    {"docs/a.md", W, A, "filesystem.allow[3]"},
    {"docs/ab.md", W, D, ""},
    {"docs/.md", W, D, ""},
    {"top.txt", W, A, "filesystem.allow[4]"},
    {"/top.txt", W, A, "filesystem.allow[4]"},
    {"sub/top.txt", W, D, ""},
    {"a/z", C, A, "filesystem.allow[5]"},
    {"a/b/c/z", C, A, "filesystem.allow[5]"},
    {"a/b/c/z/q", C, D, ""},
    {"tie/x", W, D, "filesystem.deny[3]"},
    {"tie/x", R, A, "filesystem.allow[6]"},
    {"src/../README.md", W, D, ""},
    {"src/../src/x", W, A, "filesystem.allow[1]"},
    {"../x", R, D, ""},
    {"src/../../x", R, D, ""},
    {"x/../..", R, D, ""},
    {"./src//a///b", W, A, "filesystem.allow[1]"},
    {"src/./x/..", C, A, "filesystem.allow[1]"},
    {"SRC/x", W, D, ""},
    {"src/x", R | W | C | X, A, "filesystem.allow[1]"},
    {"logs/a/b.log", W, A, "filesystem.allow[7]"},
    {".log", X, A, "filesystem.allow[7]"},
};

static void test_fs_table(void **state)
{
	struct pol *p = load(FS, "/srv/pol");
	int bad = 0;

	(void)state;
	assert_true(AGW_ARRAY_LEN(fcases) >= 40);
	assert_string_equal(pol_workspace(p), "/srv/pol/ws");
	for (size_t i = 0; i < AGW_ARRAY_LEN(fcases); i++) {
		const struct fcase *c = &fcases[i];
		struct pol_decision d;

		pol_check_fs(p, c->path, c->acc, &d);
		if (d.verdict != c->v || strcmp(d.rule, c->rule) != 0) {
			print_error("fs case %zu (%s %#x): got %s %s (%s), want %s %s\n", i,
				    c->path, c->acc, pol_verdict_str(d.verdict), d.rule, d.reason,
				    pol_verdict_str(c->v), c->rule);
			bad++;
		}
	}
	pol_free(p);
	assert_int_equal(bad, 0);
}

static void test_fs_reasons(void **state)
{
	struct pol *p = load(FS, NULL);
	struct pol_decision d;
	char *longp = malloc(5000);

	(void)state;
	assert_non_null(longp);
	pol_check_fs(p, "../etc/passwd", R, &d);
	assert_int_equal(d.verdict, POL_DENY);
	assert_string_equal(d.reason, "path escapes the workspace");
	assert_string_equal(d.rule, "");
	pol_check_fs(p, "tie/x", W, &d);
	assert_non_null(strstr(d.reason, "ties go to deny"));
	memset(longp, 'a', 4999);
	longp[4999] = 0;
	pol_check_fs(p, longp, R, &d);
	assert_int_equal(d.verdict, POL_DENY);
	assert_string_equal(d.reason, "path too long");
	free(longp);
	pol_free(p);
}

static void test_audit_mode(void **state)
{
	static const char T[] =
	    "version: 1\nmode: audit\nnetwork:\n  allow: [ok.test]\n"
	    "  deny: [{host: no.test}]\nfilesystem:\n  allow: [{path: a, access: read}]\n";
	struct pol *p = load(T, "/x");
	struct pol_decision d;

	(void)state;
	assert_int_equal(pol_mode(p), POL_MODE_AUDIT);
	pol_check_host(p, "no.test", 443, &d);
	assert_int_equal(d.verdict, POL_WOULD_DENY);
	assert_string_equal(d.rule, "network.deny[0]");
	assert_string_equal(d.reason, "denied by rule");
	assert_true(pol_permits(&d));
	pol_check_host(p, "ok.test", 443, &d);
	assert_int_equal(d.verdict, POL_ALLOW);
	pol_check_host(p, "other.test", 443, &d);
	assert_int_equal(d.verdict, POL_WOULD_DENY);
	assert_string_equal(d.reason, "no rule matches");
	pol_check_fs(p, "b", POL_ACC_READ, &d);
	assert_int_equal(d.verdict, POL_WOULD_DENY);
	pol_check_fs(p, "../b", POL_ACC_READ, &d);
	assert_int_equal(d.verdict, POL_WOULD_DENY);
	assert_string_equal(d.reason, "path escapes the workspace");
	assert_string_equal(pol_verdict_str(POL_WOULD_DENY), "would_deny");
	pol_free(p);
}

/* Ask mode and ask rules: what no rule decides is asked, an explicit deny,
 * a bad name, a path outside the workspace and addresses never are. */
static void test_ask(void **state)
{
	static const char T[] =
	    "version: 1\nmode: ask\nask_timeout: 5\nnetwork:\n"
	    "  allow:\n    - ok.test\n    - { host: maybe.test, ports: [443], ask: true }\n"
	    "    - { cidr: 203.0.113.0/24, ports: [22] }\n"
	    "  deny: [{host: no.test}]\nfilesystem:\n"
	    "  allow:\n    - {path: a, access: read}\n    - {path: \"q/**\", access: [read, "
	    "write], ask: true}\n"
	    "  deny:\n    - {path: secret}\n";
	static const char E[] = "version: 1\nnetwork:\n  allow: [{host: x.test, ask: true}]\n";
	struct pol *p = load(T, "/x");
	struct pol_decision d;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct pol_errors errs = {0};
	struct pol *q = NULL;

	(void)state;
	assert_int_equal(pol_mode(p), POL_MODE_ASK);
	assert_int_equal(pol_ask_timeout(p), 5);
	pol_check_host(p, "other.test", 443, &d);
	assert_int_equal(d.verdict, POL_ASK);
	assert_false(pol_permits(&d));
	assert_string_equal(d.rule, "");
	assert_string_equal(pol_verdict_str(d.verdict), "ask");
	pol_check_host(p, "ok.test", 8080, &d); /* host matched, port not: undecided */
	assert_int_equal(d.verdict, POL_ASK);
	pol_check_dns_name(p, "other.test", &d);
	assert_int_equal(d.verdict, POL_ASK);
	pol_check_host(p, "ok.test", 443, &d);
	assert_int_equal(d.verdict, POL_ALLOW);
	pol_check_host(p, "no.test", 443, &d);
	assert_int_equal(d.verdict, POL_DENY);
	assert_string_equal(d.rule, "network.deny[0]");
	pol_check_dns_name(p, "no.test", &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_check_host(p, "bad..name", 443, &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_check_host(p, "maybe.test", 443, &d);
	assert_int_equal(d.verdict, POL_ASK);
	assert_string_equal(d.rule, "network.allow[1]");
	assert_string_equal(d.reason, "the rule asks for approval");
	inet_pton(AF_INET, "198.51.100.9", &sin.sin_addr);
	pol_check_addr(p, (struct sockaddr *)&sin, 22, &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_check_fs(p, "a", POL_ACC_READ, &d);
	assert_int_equal(d.verdict, POL_ALLOW);
	pol_check_fs(p, "a", POL_ACC_READ | POL_ACC_WRITE, &d);
	assert_int_equal(d.verdict, POL_ASK);
	pol_check_fs(p, "q/x", POL_ACC_WRITE, &d);
	assert_int_equal(d.verdict, POL_ASK);
	assert_string_equal(d.rule, "filesystem.allow[1]");
	pol_check_fs(p, "secret", POL_ACC_READ, &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_check_fs(p, "../b", POL_ACC_READ, &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_free(p);

	/* enforce: only ask rules ask; the default timeout */
	p = load(E, "/x");
	assert_int_equal(pol_ask_timeout(p), POL_ASK_TIMEOUT_DEFAULT);
	pol_check_host(p, "x.test", 443, &d);
	assert_int_equal(d.verdict, POL_ASK);
	pol_check_host(p, "y.test", 443, &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_free(p);

	/* a deny rule never asks; cidr rules cannot; the timeout is bounded */
	static const char *const bad[] = {
	    "version: 1\nnetwork:\n  deny: [{host: x.test, ask: true}]\n",
	    "version: 1\nnetwork:\n  allow: [{cidr: 10.0.0.0/8, ask: true}]\n",
	    "version: 1\nnetwork:\n  allow: [{host: x.test, ask: maybe}]\n",
	    "version: 1\nask_timeout: 0\n",
	    "version: 1\nask_timeout: 601\n",
	    "version: 1\nfilesystem:\n  workspace: /tmp\n  deny: [{path: a, ask: true}]\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(pol_load_buf("b.yaml", bad[i], strlen(bad[i]), "/x", &q, &errs),
				 -AGW_EPOLICY);
		pol_errors_free(&errs);
		memset(&errs, 0, sizeof(errs));
	}
}

static void test_explain(void **state)
{
	struct pol *p = load(NET, NULL);
	struct pol *f = load(FS, NULL);
	struct pol_match m[8];
	struct pol_decision d;
	size_t n;

	(void)state;
	/* q.b.deep.test:443 — allow[3] matches the host but not the port */
	n = pol_explain_host(p, "q.b.deep.test", 443, NULL, NULL, &d, m, 8);
	assert_int_equal(n, 2);
	assert_string_equal(d.rule, "network.allow[2]");
	assert_string_equal(m[0].rule, "network.allow[3]");
	assert_false(m[0].matched);
	assert_non_null(m[0].note);
	assert_string_equal(m[1].rule, "network.allow[2]");
	assert_true(m[1].matched);
	assert_string_equal(m[1].pattern, "**.deep.test");
	/* tie: both listed */
	n = pol_explain_host(p, "x.tie.test", 443, NULL, NULL, &d, m, 8);
	assert_int_equal(n, 2);
	/* cap smaller than the count */
	n = pol_explain_host(p, "x.tie.test", 443, NULL, NULL, &d, m, 1);
	assert_int_equal(n, 2);
	n = pol_explain_host(p, "web.test", 80, "GET", "/docs/secret/a", &d, m, 8);
	assert_int_equal(d.verdict, POL_DENY);
	assert_int_equal(n, 2);
	/* address: most specific first */
	{
		struct sockaddr_storage ss;

		sa_of("10.9.0.1", 5432, &ss);
		n = pol_explain_addr(p, (struct sockaddr *)&ss, 5432, &d, m, 8);
		assert_int_equal(n, 3);
		assert_string_equal(m[0].rule, "network.deny[3]");
		assert_string_equal(m[1].rule, "network.allow[7]");
		assert_string_equal(m[2].rule, "network.allow[8]");
		assert_false(m[2].matched);
	}
	n = pol_explain_fs(f, "src/secret/k", R | W, &d, m, 8);
	assert_int_equal(d.verdict, POL_DENY);
	assert_int_equal(n, 3);
	assert_string_equal(m[0].rule, "filesystem.deny[2]");
	assert_int_equal(m[0].access, POL_ACC_READ);
	pol_free(p);
	pol_free(f);
}

static void test_defaults_and_accessors(void **state)
{
	static const char T[] = "version: 1\nnetwork:\n  allow: [a.test]\n";
	static const char U[] =
	    "version: 1\nname: full\nsandbox: {vcpus: 4, memory: 2G, image: dbg, disk: 8G, user: "
	    "dev}\n"
	    "network:\n  dns: {upstream: [9.9.9.9, \"2620:fe::fe\"], ttl_max: 60}\n"
	    "  max_connections: 10\n  deny: [{host: x.test}]\n"
	    "audit: {database: ../db/a.db}\n";
	struct pol *p = load(T, "/x");
	const char *const *ups;
	struct pol_decision d;
	struct pol_counts c;

	(void)state;
	assert_string_equal(pol_name(p), "t");
	assert_int_equal(pol_mode(p), POL_MODE_ENFORCE);
	assert_null(pol_workspace(p));
	assert_null(pol_audit_db(p));
	assert_int_equal(pol_max_conns(p), 256);
	assert_int_equal(pol_dns_ttl_max(p), 300);
	assert_int_equal(pol_vcpus(p), 1);
	assert_int_equal(pol_memory_mib(p), 512);
	assert_string_equal(pol_image(p), "default");
	assert_int_equal(pol_disk_mib(p), 4096);
	assert_null(pol_user(p));
	assert_int_equal(pol_dns_upstreams(p, &ups), 0);
	assert_int_equal(strlen(pol_sha256(p)), 64);
	assert_string_equal(pol_text(p), T);
	pol_check_host(p, "a.test", 80, &d);
	assert_int_equal(d.verdict, POL_ALLOW);
	pol_check_host(p, "a.test", 443, &d);
	assert_int_equal(d.verdict, POL_ALLOW);
	pol_check_host(p, "a.test", 8443, &d);
	assert_int_equal(d.verdict, POL_DENY);
	pol_free(p);

	p = load(U, "/srv/p");
	assert_string_equal(pol_name(p), "full");
	assert_int_equal(pol_vcpus(p), 4);
	assert_int_equal(pol_memory_mib(p), 2048);
	assert_string_equal(pol_image(p), "dbg");
	assert_int_equal(pol_disk_mib(p), 8192);
	assert_string_equal(pol_user(p), "dev");
	assert_int_equal(pol_dns_upstreams(p, &ups), 2);
	assert_string_equal(ups[1], "2620:fe::fe");
	assert_int_equal(pol_dns_ttl_max(p), 60);
	assert_int_equal(pol_max_conns(p), 10);
	assert_string_equal(pol_audit_db(p), "/srv/db/a.db");
	pol_counts(p, &c);
	assert_int_equal(c.net_deny, 1);
	assert_int_equal(c.net_allow, 0);
	/* a deny rule without ports covers every port */
	pol_check_host(p, "x.test", 5, &d);
	assert_string_equal(d.rule, "network.deny[0]");
	pol_free(p);
}

static void test_sha256(void **state)
{
	static const char T[] = "version: 1\n";
	struct pol *p = load(T, NULL);

	(void)state;
	assert_string_equal(pol_sha256(p),
			    "09bfcc6a14b83e2192b8673677725c84883ee9cd0c70e45c9ec09daa8f2b2847");
	pol_free(p);
}

/* TLS inspection and credentials (issue 14). */
static const char TLS[] = "version: 1\n"
			  "network:\n"
			  "  allow:\n"
			  "    - host: api.test\n" /* allow[0]: http list, inspect */
			  "      tls: inspect\n"
			  "      http: [{ methods: [POST], paths: [\"/v1/**\"] }]\n"
			  "    - host: pass.test\n" /* allow[1]: passthrough */
			  "      tls: passthrough\n"
			  "    - host: plainhttp.test\n" /* allow[2]: http list, no tls */
			  "      http: [{ methods: [GET] }]\n"
			  "    - host: keyed.test\n" /* allow[3]: http list, credential */
			  "      http: [{ methods: [GET] }]\n"
			  "    - host: \"*.wild.test\"\n" /* allow[4] */
			  "      tls: inspect\n"
			  "  deny:\n"
			  "    - host: no.wild.test\n"
			  "  tls: { upstream_ca: certs/ca.pem }\n"
			  "credentials:\n"
			  "  - name: k1\n"
			  "    env: K1\n"
			  "    from: file:secret.txt\n"
			  "    hosts: [Keyed.Test, other.test]\n"
			  "    header: X-Api-Key\n"
			  "  - { name: k2, env: K2, from: \"command:pass show k2\", hosts: [api.test], "
			  "header: authorization }\n";

static void test_tls(void **state)
{
	struct pol *p = load(TLS, "/srv/pol");
	const struct pol_cred *c;
	struct pol_decision d;
	bool insp;
	int cred;

	(void)state;
	assert_string_equal(pol_upstream_ca(p), "/srv/pol/certs/ca.pem");
	assert_int_equal(pol_creds(p, &c), 2);
	assert_string_equal(c[0].name, "k1");
	assert_string_equal(c[0].from, "file:/srv/pol/secret.txt");
	assert_string_equal(c[0].header, "x-api-key");
	assert_int_equal(c[0].nhosts, 2);
	assert_string_equal(c[0].hosts[0], "keyed.test");
	assert_string_equal(c[1].from, "command:pass show k2");
	/* An inspected rule with http lists allows the connection; each
	 * request is judged later. */
	pol_check_tls(p, "api.test", 443, &d, &insp, &cred);
	assert_int_equal(d.verdict, POL_ALLOW);
	assert_string_equal(d.rule, "network.allow[0]");
	assert_true(insp);
	assert_int_equal(cred, 1);
	pol_check_host(p, "api.test", 443, &d); /* unchanged for non-inspected use */
	assert_int_equal(d.verdict, POL_DENY);
	pol_check_tls(p, "pass.test", 443, &d, &insp, &cred);
	assert_int_equal(d.verdict, POL_ALLOW);
	assert_false(insp);
	assert_int_equal(cred, -1);
	/* http lists without inspection: still never a TLS allow */
	pol_check_tls(p, "plainhttp.test", 443, &d, &insp, &cred);
	assert_int_equal(d.verdict, POL_DENY);
	assert_false(insp);
	/* a credential implies inspect */
	pol_check_tls(p, "KEYED.test.", 443, &d, &insp, &cred);
	assert_int_equal(d.verdict, POL_ALLOW);
	assert_true(insp);
	assert_int_equal(cred, 0);
	/* a credential host that no rule allows stays denied */
	pol_check_tls(p, "other.test", 443, &d, &insp, &cred);
	assert_int_equal(d.verdict, POL_DENY);
	assert_false(insp);
	assert_int_equal(cred, 0);
	pol_check_tls(p, "a.wild.test", 443, &d, &insp, &cred);
	assert_true(insp);
	pol_check_tls(p, "no.wild.test", 443, &d, &insp, &cred);
	assert_int_equal(d.verdict, POL_DENY);
	assert_false(insp);
	assert_int_equal(pol_cred_for_host(p, "api.test"), 1);
	assert_int_equal(pol_cred_for_host(p, "x.api.test"), -1);
	pol_free(p);
}

static void test_load_file(void **state)
{
	char dir[] = "/tmp/agw-pol-XXXXXX", path[64];
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/my.policy.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("version: 1\nfilesystem: {workspace: ./w/../ws}\naudit: {database: a.db}\n", f);
	fclose(f);
	assert_int_equal(pol_load_file(path, &p, &errs), 0);
	assert_string_equal(pol_name(p), "my");
	{
		char want[128];

		snprintf(want, sizeof(want), "%s/ws", dir);
		assert_string_equal(pol_workspace(p), want);
		snprintf(want, sizeof(want), "%s/a.db", dir);
		assert_string_equal(pol_audit_db(p), want);
	}
	pol_free(p);
	unlink(path);
	assert_true(pol_load_file(path, &p, &errs) < 0);
	assert_null(p);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "cannot read"));
	pol_errors_free(&errs);
	/* A FIFO is refused at once; opening it used to wait for a writer
	 * forever (the alarm turns such a hang into a failure). */
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(10);
	assert_int_equal(pol_load_file(path, &p, &errs), -AGW_EINVAL);
	alarm(0);
	assert_null(p);
	assert_int_equal(errs.n, 1);
	assert_non_null(strstr(errs.v[0].msg, "not a regular file"));
	pol_errors_free(&errs);
	unlink(path);
	rmdir(dir);
}

static void test_access_words(void **state)
{
	unsigned a;
	char buf[64];

	(void)state;
	assert_int_equal(pol_access_parse("read,write", &a), 0);
	assert_int_equal(a, POL_ACC_READ | POL_ACC_WRITE);
	assert_int_equal(pol_access_parse("all", &a), 0);
	assert_int_equal(a, POL_ACC_ALL);
	assert_true(pol_access_parse("red", &a) < 0);
	assert_true(pol_access_parse("", &a) < 0);
	assert_string_equal(pol_access_str(POL_ACC_CREATE | POL_ACC_DELETE, buf, sizeof(buf)),
			    "create,delete");
}

static void test_examples(void **state)
{
	static const char *const files[] = {"examples/strict.yaml", "examples/dev.yaml",
					    "examples/claude-code.yaml"};

	(void)state;
	for (size_t i = 0; i < AGW_ARRAY_LEN(files); i++) {
		struct pol_errors errs = {0};
		struct pol *p = NULL;
		struct pol_decision d;

		if (pol_load_file(files[i], &p, &errs) < 0) {
			for (size_t k = 0; k < errs.n; k++)
				print_error("%s:%d:%d: %s\n", errs.v[k].file, errs.v[k].line,
					    errs.v[k].col, errs.v[k].msg);
			fail();
		}
		pol_check_fs(p, ".env", POL_ACC_READ, &d);
		assert_int_equal(d.verdict == POL_ALLOW, 0);
		pol_check_fs(p, ".git/hooks/pre-commit", POL_ACC_WRITE, &d);
		assert_int_equal(d.verdict == POL_ALLOW, 0);
		pol_check_fs(p, ".git/config", POL_ACC_WRITE, &d);
		assert_int_equal(d.verdict == POL_ALLOW, 0);
		/* what else makes host git run code: a submodule's hooks and
		 * config, a commondir file pointing git at another folder */
		for (size_t k = 0; k < 4; k++) {
			static const char *const gitw[] = {
			    ".git/commondir", ".git/modules/m/hooks/post-checkout",
			    ".git/modules/a/b/config", ".git/worktrees/w/commondir"};

			pol_check_fs(p, gitw[k], POL_ACC_WRITE | POL_ACC_CREATE, &d);
			if (d.verdict == POL_ALLOW)
				fail_msg("%s: %s writable", files[i], gitw[k]);
		}
		/* .env stays unread in every folder, also the writable ones */
		for (size_t k = 0; k < 4; k++) {
			static const char *const env[] = {"src/.env", "tests/a/.env", "x/.env",
							  "src/a/.env"};

			pol_check_fs(p, env[k], POL_ACC_READ, &d);
			if (d.verdict == POL_ALLOW)
				fail_msg("%s: %s readable", files[i], env[k]);
		}
		if (!strstr(files[i], "dev.yaml")) /* dev.yaml denies .env only */
			for (size_t k = 0; k < 3; k++) {
				static const char *const envx[] = {"src/.env.local",
								   "tests/.env.prod", "a/b/.env.x"};

				pol_check_fs(p, envx[k], POL_ACC_READ, &d);
				if (d.verdict == POL_ALLOW)
					fail_msg("%s: %s readable", files[i], envx[k]);
			}
		pol_check_host(p, "evil.pastebin.com", 443, &d);
		assert_int_equal(d.verdict == POL_ALLOW, 0);
		pol_check_host(p, "registry.npmjs.org", 443, &d);
		assert_int_equal(d.verdict, POL_ALLOW);
		pol_free(p);
		pol_errors_free(&errs);
	}
}

/*
 * Renames and links decided for what they do (issue 12): each example
 * policy with a filesystem section, and a policy with a wildcard in the
 * middle of a glob. "refused" means not an allow (claude-code.yaml is in
 * audit mode: would_deny); step is the index of the deciding step.
 */
struct mcase {
	const char *file; /* NULL: the inline policy */
	enum pol_fs_opkind k;
	const char *from, *to;
	bool from_dir, to_exists, to_dir;
	bool refused;
	int step;
};

#define RN POL_FS_RENAME
#define LN POL_FS_LINK
#define CC "examples/claude-code.yaml"
#define DV "examples/dev.yaml"
#define ST "examples/strict.yaml"
static const struct mcase mcases[] = {
    /* replacing .git/config is a write of it */
    {CC, RN, "cfg", ".git/config", false, true, false, true, 1},
    {DV, RN, "cfg", ".git/config", false, true, false, true, 1},
    {CC, RN, "cfg", ".git/config", false, false, false, true, 1},
    /* moving .git out and back in would plant hooks */
    {CC, RN, ".git", "g2", true, false, false, true, 2},
    {DV, RN, ".git", "g2", true, false, false, true, 2},
    {CC, RN, "g2", ".git", true, false, false, true, 2},
    {DV, RN, "g2", ".git", true, false, false, true, 2},
    {ST, RN, ".git", "g2", true, false, false, true, 0},
    {DV, RN, ".git/hooks", "h", true, false, false, true, 0},
    {DV, RN, "h", ".git/hooks", true, false, false, true, 1},
    {DV, RN, "x", ".git/hooks/pre-commit", false, false, false, true, 1},
    /* ... but a directory whose rules do not change moves */
    {CC, RN, "src/a", "src/b", true, false, false, false, -1},
    {DV, RN, "src/a", "src/b", true, false, false, false, -1},
    {DV, RN, "proj", "proj2", true, false, false, false, -1}, /* holds a .env: still denied there */
    {CC, RN, "certs", "keys/certs", true, false, false, false, -1},
    {ST, RN, "src/a", "src/b", true, false, false, false, -1},
    {ST, RN, "src/a", "tests/a", true, false, false, true, 2}, /* other rules: conservative */
    {ST, RN, "src/a.c", "src/b.c", false, true, false, false, -1},
    {ST, RN, "src/a.c", "tests/a.c", false, false, false, false, -1},
    {ST, RN, "README", "src/README", false, false, false, true, 0},
    {CC, RN, "src/a.c", "src/b.c", false, true, false, false, -1},
    {CC, RN, "d", "e", true, true, true, false, -1}, /* over an empty directory */
    /* secrets neither leave nor arrive */
    {CC, RN, "a/.env", "a/env", false, false, false, true, 0},
    {CC, RN, "a/env", "a/.env", false, false, false, true, 1},
    {CC, RN, "k", "k.pem", false, false, false, true, 1},
    {DV, RN, "a/.env", "a/env", false, false, false, true, 0},
    /* .git/config may leave (delete is allowed) but not come back */
    {CC, RN, ".git/config", "cfg2", false, false, false, false, -1},
    /* hard links join only names decided alike */
    {CC, LN, "src/x", ".git/config", false, false, false, true, 1},
    {DV, LN, "src/x", ".git/config", false, false, false, true, 1},
    {CC, LN, ".git/config", "src/y", false, false, false, true, 1},
    {DV, LN, ".git/hooks/pre-commit", "src/y", false, false, false, true, 1},
    {CC, LN, ".env", "src/e", false, false, false, true, 1},
    {ST, LN, "README", "src/R", false, false, false, true, 1},
    {ST, LN, "src/a.c", "tests/a.c", false, false, false, false, -1},
    {CC, LN, "src/x", "src/y", false, false, false, false, -1},
    {DV, LN, "src/x", ".git/hooks/x", false, false, false, true, 0},
    /* a wildcard in the middle: below a/<any>/secret is write-protected */
    {NULL, RN, "a/x", "a/y", true, false, false, false, -1},
    {NULL, RN, "a/x", "b/x", true, false, false, true, 2},
    {NULL, RN, "b/x", "a/x", true, false, false, true, 2},
    {NULL, RN, "a", "c", true, false, false, true, 2},
    {NULL, RN, "q", "r/s", true, false, false, false, -1},
    {NULL, RN, "a/x/secret", "a/y/secret", true, false, false, false, -1},
    {NULL, RN, "../a", "b", true, false, false, true, 0},
};

static void test_fs_move_table(void **state)
{
	static const char inl[] =
	    "version: 1\nname: m\nfilesystem:\n  workspace: /\n"
	    "  allow:\n    - { path: \"**\", access: [read, write, create, delete] }\n"
	    "  deny:\n    - { path: \"a/*/secret/**\", access: [write] }\n";
	struct pol *ex[3] = {0}, *pi = load(inl, "/");
	const char *names[3] = {CC, DV, ST};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct pol_errors errs = {0};

		assert_int_equal(pol_load_file(names[i], &ex[i], &errs), 0);
		pol_errors_free(&errs);
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(mcases); i++) {
		const struct mcase *c = &mcases[i];
		struct pol *p = pi;
		struct pol_fs_move mv = {.kind = c->k,
					 .from = c->from,
					 .to = c->to,
					 .from_dir = c->from_dir,
					 .to_exists = c->to_exists,
					 .to_dir = c->to_dir};
		struct pol_fs_step steps[POL_FS_STEPS_MAX];
		struct pol_decision d;
		int bad;

		for (size_t k = 0; k < 3; k++)
			if (c->file && !strcmp(c->file, names[k]))
				p = ex[k];
		pol_check_fs_move(p, &mv, &d, steps, &bad);
		if ((d.verdict != POL_ALLOW) != c->refused || bad != c->step) {
			print_error(
			    "move case %zu (%s %s %s -> %s): got %s step %d (%s %s), want %s "
			    "step %d\n",
			    i, c->file ? c->file : "inline", c->k == RN ? "rename" : "link",
			    c->from, c->to, pol_verdict_str(d.verdict), bad, d.rule,
			    d.reason ? d.reason : "", c->refused ? "refused" : "allow", c->step);
			fail();
		}
	}
	/* a file with other names is written only where every path is */
	{
		static const char all[] =
		    "version: 1\nname: w\nfilesystem:\n  workspace: /\n"
		    "  allow:\n    - { path: \"**\", access: [read, write] }\n"
		    "  deny:\n    - { path: \"**/.env\", access: [read] }\n";
		struct pol *pw = load(all, "/");
		struct pol_decision d;

		pol_check_fs_linked_write(pw, 2, &d);
		assert_int_equal(d.verdict, POL_ALLOW);
		pol_check_fs_linked_write(ex[1], 1, &d);
		assert_int_equal(d.verdict, POL_ALLOW);
		pol_check_fs_linked_write(ex[1], 2, &d);
		assert_int_equal(d.verdict, POL_DENY);
		assert_string_equal(d.rule, "filesystem.deny[0]");
		pol_check_fs_linked_write(ex[0], 3, &d); /* claude-code: audit mode */
		assert_int_equal(d.verdict, POL_WOULD_DENY);
		pol_check_fs_linked_write(ex[2], 2, &d); /* strict: write only in src, tests */
		assert_int_equal(d.verdict, POL_DENY);
		pol_check_fs_linked_write(pi, 2, &d);
		assert_int_equal(d.verdict, POL_DENY);
		pol_free(pw);
	}
	for (size_t i = 0; i < 3; i++)
		pol_free(ex[i]);
	pol_free(pi);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_network_table), cmocka_unit_test(test_network_lines_and_reasons),
	    cmocka_unit_test(test_fs_table),	  cmocka_unit_test(test_fs_reasons),
	    cmocka_unit_test(test_audit_mode),	  cmocka_unit_test(test_ask),
	    cmocka_unit_test(test_explain),	  cmocka_unit_test(test_defaults_and_accessors),
	    cmocka_unit_test(test_sha256),	  cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_access_words),  cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_fs_move_table),
	};

	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
