// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw policy` as a user runs it: cmd_policy with real argv and real
 * files, stdout and stderr captured; exit codes, the summary line, errors
 * with file:line:col, explain's text and JSON.
 */
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "cli/cli.h"

/* argv terminator: a typed null pointer, as variadic calls need */
#define END ((const char *)NULL)

static char out[65536], err[65536];

static void slurp(int fd, char *buf, size_t sz)
{
	ssize_t n;
	size_t o = 0;

	lseek(fd, 0, SEEK_SET);
	while (o + 1 < sz && (n = read(fd, buf + o, sz - 1 - o)) > 0)
		o += (size_t)n;
	buf[o] = 0;
}

/* Run `agentgw VERB ARGS...` through fn; returns the exit code. */
static int vrun(int (*fn)(int, char **), const char *verb, const char *first, va_list ap)
{
	static char args[32][256];
	char *argv[32];
	int argc = 0, rc, o1, o2;
	FILE *f1 = tmpfile(), *f2 = tmpfile();

	assert_non_null(f1);
	assert_non_null(f2);
	snprintf(args[0], sizeof(args[0]), "%s", verb);
	argv[argc++] = args[0];
	for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *)) {
		snprintf(args[argc], sizeof(args[argc]), "%s", a);
		argv[argc] = args[argc];
		argc++;
	}
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	o1 = dup(1);
	o2 = dup(2);
	dup2(fileno(f1), 1);
	dup2(fileno(f2), 2);
	rc = fn(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(o1, 1);
	dup2(o2, 2);
	close(o1);
	close(o2);
	slurp(fileno(f1), out, sizeof(out));
	slurp(fileno(f2), err, sizeof(err));
	fclose(f1);
	fclose(f2);
	return rc;
}

/* Run `agentgw policy ARGS...` (NULL-terminated); returns the exit code. */
static int run(const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = vrun(cmd_policy, "policy", first, ap);
	va_end(ap);
	return rc;
}

/* The same for `agentgw fs-serve ARGS...`. */
static int run_fs(const char *first, ...)
{
	va_list ap;
	int rc;

	va_start(ap, first);
	rc = vrun(cmd_fs, "fs-serve", first, ap);
	va_end(ap);
	return rc;
}

static void test_check(void **state)
{
	char path[] = "/tmp/agw-cli-XXXXXX";
	int fd;

	(void)state;
	assert_int_equal(run("check", "examples/strict.yaml", END), 0);
	assert_non_null(strstr(
	    out, "strict.yaml: ok — policy 'strict', enforce, 3 network rules (2 allow, 1 deny)"));
	assert_non_null(strstr(out, "sha256 "));
	assert_int_equal(run("check", "examples/strict.yaml", "examples/dev.yaml",
			     "examples/claude-code.yaml", END),
			 0);
	assert_non_null(strstr(out, "policy 'claude-code', audit"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(
	    write(fd, "version: 1\nnetwork:\n  alow: [a.test]\n  allow: [\"a.*.b\"]\n", 56) == 56);
	close(fd);
	assert_int_equal(run("check", path, END), 2);
	assert_string_equal(out, "");
	{
		char want[200];

		snprintf(want, sizeof(want),
			 "%s:3:3: unknown key 'alow' in network (did you mean 'allow'?)\n%s:4:11: "
			 "bad host pattern",
			 path, path);
		assert_non_null(strstr(err, want));
	}
	/* one bad file fails the run, the good one is still summarised */
	assert_int_equal(run("check", "examples/dev.yaml", path, END), 2);
	assert_non_null(strstr(out, "dev.yaml: ok"));
	unlink(path);
	assert_int_equal(run("check", "/nonexistent/p.yaml", END), 2);
	assert_non_null(strstr(err, "/nonexistent/p.yaml: cannot read the policy"));
	assert_null(strstr(err, ":0:0:"));
	assert_int_equal(run("check", END), 2);
}

/* A workspace that does not exist fails `policy check`, not `up` seconds later. */
static void test_check_workspace(void **state)
{
	char dir[] = "/tmp/agw-cli-ws-XXXXXX", path[64], want[128];
	json_error_t je;
	json_t *o;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("version: 1\nfilesystem:\n  workspace: nope\n", f);
	fclose(f);
	assert_int_equal(run("check", path, END), 2);
	assert_string_equal(out, "");
	snprintf(want, sizeof(want), "%s: filesystem.workspace %s/nope: No such file or directory\n",
		 path, dir);
	assert_string_equal(err, want);

	/* --json: one array, an object per file */
	assert_int_equal(run("check", "--json", "examples/strict.yaml", path, END), 2);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_array_size(o), 2);
	assert_true(json_is_true(json_object_get(json_array_get(o, 0), "ok")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(o, 0), "name")),
			    "strict");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(json_array_get(o, 0), "network"),
					       "allow")),
	    2);
	assert_true(json_is_false(json_object_get(json_array_get(o, 1), "ok")));
	assert_int_equal(json_array_size(json_object_get(json_array_get(o, 1), "errors")), 1);
	json_decref(o);

	mkdir(strcat(strcpy(want, dir), "/nope"), 0755);
	assert_int_equal(run("check", path, END), 0);
	rmdir(want);
	unlink(path);
	rmdir(dir);
}

static void test_explain_text(void **state)
{
	(void)state;
	/* exit 1 on deny, so scripts can use it (issue 18, item 7) */
	assert_int_equal(run("explain", "examples/strict.yaml", "--host", "x.pastebin.com", END),
			 1);
	assert_non_null(strstr(out, "x.pastebin.com port 443: deny"));
	assert_non_null(strstr(out, "rule:   network.deny[0] (examples/strict.yaml:"));
	assert_non_null(strstr(out, "reason: denied by rule"));

	assert_int_equal(
	    run("explain", "examples/strict.yaml", "--fs", "src/.env", "--access", "read", END),
	    1);
	assert_non_null(strstr(out, "read src/.env: deny"));
	assert_non_null(strstr(out, "filesystem.allow[1]")); /* also matched, listed */
	assert_int_equal(
	    run("explain", "examples/strict.yaml", "--fs", "src/a.c", "--access", "write", END),
	    0);

	assert_int_equal(run("explain", "examples/strict.yaml", "--host", "api.anthropic.com",
			     "--port", "22", END),
			 1);
	assert_non_null(strstr(out, ": deny"));
	assert_non_null(strstr(out, "not counted: port not listed in the rule"));
}

static void test_explain_json(void **state)
{
	json_error_t je;
	json_t *o, *m;

	(void)state;
	assert_int_equal(run("explain", "examples/dev.yaml", "--host", "raw.githubusercontent.com",
			     "--json", END),
			 0);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")), "allow");
	assert_string_equal(json_string_value(json_object_get(o, "rule")), "network.allow[2]");
	assert_true(json_integer_value(json_object_get(o, "line")) > 0);
	m = json_object_get(o, "matches");
	assert_int_equal(json_array_size(m), 1);
	assert_true(json_is_true(json_object_get(json_array_get(m, 0), "deciding")));
	json_decref(o);

	assert_int_equal(run("explain", "examples/claude-code.yaml", "--fs", "a/.env", "--access",
			     "read,write", "--json", END),
			 1);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")), "would_deny");
	json_decref(o);
}

/* Renames and links are explainable, with the steps the fs gateway takes
 * (issue 12, item 3). */
static void test_explain_move(void **state)
{
	json_error_t je;
	json_t *o, *st;

	(void)state;
	assert_int_equal(run("explain", "examples/dev.yaml", "--fs-rename", "cfg", ".git/config",
			     "--replace", END),
			 1);
	assert_non_null(strstr(out, "rename cfg -> .git/config (replacing): deny"));
	assert_non_null(strstr(out, "* deny       create the target with the source's contents"));
	assert_non_null(strstr(out, "write,create on .git/config"));
	assert_non_null(strstr(out, "replace the existing target"));

	assert_int_equal(
	    run("explain", "examples/dev.yaml", "--fs-rename", "g2", ".git", "--dir", END), 1);
	assert_non_null(strstr(out, "(directory): deny"));
	assert_non_null(strstr(out, "paths below keep their rules at the new place"));

	assert_int_equal(
	    run("explain", "examples/dev.yaml", "--fs-rename", "src/a", "src/b", "--dir", END), 0);
	assert_non_null(strstr(out, "rename src/a -> src/b (directory): allow"));

	assert_int_equal(run("explain", "examples/claude-code.yaml", "--fs-link", "src/x",
			     ".git/config", "--json", END),
			 1);
	o = json_loads(out, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "verdict")), "would_deny");
	assert_string_equal(json_string_value(json_object_get(o, "rule")), "filesystem.deny[5]");
	st = json_array_get(json_object_get(o, "steps"), 1);
	assert_true(json_is_true(json_object_get(st, "deciding")));
	assert_string_equal(json_string_value(json_object_get(st, "access")), "write");
	json_decref(o);

	assert_int_equal(run("explain", "examples/dev.yaml", "--fs-link", "a", END), 2);
	assert_int_equal(run("explain", "examples/dev.yaml", "--fs-link", "a", "b", "--dir", END),
			 2);
	assert_int_equal(
	    run("explain", "examples/dev.yaml", "--fs", "a", "--access", "read", "--dir", END), 2);
}

/* explain decides an HTTP path as the proxy does: decoded, and refused
 * before any rule when servers could read it another way. */
static void test_explain_http_path(void **state)
{
	static const char pol[] = "version: 1\nnetwork:\n  allow:\n    - host: a.test\n"
				  "      ports: [80]\n"
				  "      http: [{ methods: [GET], paths: [\"/docs/**\"] }]\n";
	static const struct {
		const char *path, *want;
	} cases[] = {
	    {"/docs/a", ": allow"},
	    {"/d%6fcs/a", ": allow"},
	    {"/docs/..%2fadmin", "reason: encoded '/' (%2F) in the path"},
	    {"/docs/%2e%2e%2fadmin", "reason: encoded '/' (%2F) in the path"},
	    {"/docs/..;/admin", "reason: dot segment"},
	    {"/docs/..%5cadmin", "reason: backslash in the path"},
	    {"/docs/../admin", "reason: dot segment"},
	};
	char path[] = "/tmp/agw-cli-XXXXXX";
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, pol, sizeof(pol) - 1) == (ssize_t)(sizeof(pol) - 1));
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* explain exits 0 on allow, 1 on deny */
		assert_int_equal(run("explain", path, "--host", "a.test", "--port", "80",
				     "--method", "GET", "--path", cases[i].path, END),
				 strcmp(cases[i].want, ": allow") == 0 ? 0 : 1);
		if (!strstr(out, cases[i].want))
			fail_msg("%s: want '%s' in: %s", cases[i].path, cases[i].want, out);
	}
	unlink(path);
}

static void test_usage(void **state)
{
	(void)state;
	assert_int_equal(run("--help", END), 0);
	assert_non_null(strstr(out, "check"));
	assert_non_null(strstr(out, "explain"));
	assert_int_equal(run("check", "--help", END), 0);
	assert_non_null(strstr(out, "usage: agentgw policy check"));
	assert_int_equal(run("explain", "-h", END), 0);
	assert_int_equal(run(END), 2);
	assert_int_equal(run("frobnicate", END), 2);
	assert_non_null(strstr(err, "unknown subverb 'frobnicate'"));
	assert_int_equal(run("explain", "examples/dev.yaml", END), 2);
	assert_int_equal(run("explain", "examples/dev.yaml", "--host", "a", "--fs", "b", END), 2);
	assert_int_equal(run("explain", "examples/dev.yaml", "--host", "a", "--port", "0", END), 2);
	assert_int_equal(run("explain", "examples/dev.yaml", "--fs", "a", "--access", "rd", END),
			 2);
	assert_int_equal(run("explain", "examples/dev.yaml", "--host", END), 2);
}

/* fs-serve --msize takes a whole number: "65536abc" used to pass as 65536. */
static void test_fs_msize(void **state)
{
	(void)state;
	assert_int_equal(run_fs("--msize", "65536abc", "--policy", "/nonexistent.yaml", NULL),
			 CLI_USAGE);
	assert_non_null(strstr(err, "--msize"));
	assert_int_equal(run_fs("--msize", "", "--policy", "/nonexistent.yaml", NULL), CLI_USAGE);
	assert_non_null(strstr(err, "--msize"));
	assert_int_equal(run_fs("--msize", "1024", NULL), CLI_USAGE);
	assert_non_null(strstr(err, "--msize"));
	/* a good value goes on to the policy, which does not exist */
	assert_int_equal(run_fs("--msize", "65536", "--policy", "/nonexistent.yaml", NULL),
			 CLI_USAGE);
	assert_null(strstr(err, "--msize"));
}

/* Ask mode: check names the mode, explain says "ask" (exit 1, as a deny)
 * for what no rule decides, and "deny" for an explicit deny. */
static void test_ask(void **state)
{
	static const char pol[] = "version: 1\nmode: ask\nask_timeout: 12\nnetwork:\n"
				  "  allow: [ok.test]\n  deny: [{host: no.test}]\n";
	char path[] = "/tmp/agw-cli-XXXXXX";
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, pol, sizeof(pol) - 1) == (ssize_t)(sizeof(pol) - 1));
	close(fd);
	assert_int_equal(run("check", path, END), 0);
	assert_non_null(strstr(out, ", ask, "));
	assert_int_equal(run("check", "--json", path, END), 0);
	assert_non_null(strstr(out, "\"mode\":\"ask\""));
	assert_int_equal(run("explain", path, "--host", "new.test", END), 1);
	assert_non_null(strstr(out, "new.test port 443: ask"));
	assert_non_null(strstr(out, "agentgw approve"));
	assert_int_equal(run("explain", path, "--host", "no.test", END), 1);
	assert_non_null(strstr(out, "no.test port 443: deny"));
	assert_int_equal(run("explain", path, "--host", "new.test", "--json", END), 1);
	assert_non_null(strstr(out, "\"verdict\":\"ask\""));
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check),	 cmocka_unit_test(test_explain_text),
	    cmocka_unit_test(test_explain_json), cmocka_unit_test(test_explain_move),
	    cmocka_unit_test(test_usage),	 cmocka_unit_test(test_fs_msize),
	    cmocka_unit_test(test_explain_http_path), cmocka_unit_test(test_check_workspace),
	    cmocka_unit_test(test_ask),
	};

	return cmocka_run_group_tests_name("policy_cli", tests, NULL, NULL);
}
