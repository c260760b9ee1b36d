// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw policy`: check policies (a summary, or every error with its
 * file:line:column) and explain a decision (the verdict, the deciding rule
 * and every other rule that matched). Sub-verbs live in one table; `reload`
 * (talks to a running sandbox) is added there by the supervisor's work.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "cli.h"
#include "gateway/net/http.h"
#include "policies/pol.h"

#define EXPLAIN_MAX 64

struct subverb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *summary;
};

/* A credential whose host no rule lets through on 443 is never injected:
 * say so on stderr (not an error: the policy may be meant that way). */
static void policy_check_creds(const char *file, const struct pol *p, bool json)
{
	const struct pol_cred *pcs;
	size_t n = pol_creds(p, &pcs);

	for (size_t i = 0; i < n && !json; i++)
		for (size_t k = 0; k < pcs[i].nhosts; k++) {
			struct pol_decision d;
			bool insp;
			int ci;

			pol_check_tls(p, pcs[i].hosts[k], 443, &d, &insp, &ci);
			if (d.verdict == POL_DENY)
				fprintf(stderr,
					"%s:%d: warning: credential '%s': no rule allows %s on port "
					"443, so it is never injected there\n",
					file, pcs[i].line, pcs[i].name, pcs[i].hosts[k]);
		}
}

static int policy_check(int argc, char **argv);
static int policy_explain(int argc, char **argv);

static const struct subverb subverbs[] = {
    {"check", policy_check, "[--json] FILE...", "validate policies: a summary, or every error"},
    {"explain", policy_explain,
     "FILE (--host H [--port P] [--method M [--path P]] | --fs PATH --access A |\n"
     "                  --fs-rename SRC DST [--dir] [--replace] | --fs-link SRC DST) [--json]",
     "show the decision for one request and the rules that matched"},
    {"suggest", cmd_policy_suggest,
     "[--db F | --policy FILE] [--sandbox N] [--since T] [--until T]",
     "print the allow rules that would have passed what the audit log shows denied"},
    {"reload", cmd_policy_reload, "NAME",
     "re-read a running sandbox's policy file; an invalid file is rejected, the old policy stays"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: agentgw policy SUBVERB [ARGS...]\n\nsubverbs:\n");
	for (size_t i = 0; i < AGW_ARRAY_LEN(subverbs); i++)
		fprintf(out, "  %-8s %s\n           %s\n", subverbs[i].name, subverbs[i].args,
			subverbs[i].summary);
	fprintf(out, "\nRun 'agentgw policy SUBVERB --help' for details. "
		     "See docs/policy.md for the policy format.\n");
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(subverbs); i++)
		if (!strcmp(argv[1], subverbs[i].name))
			return subverbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "agentgw policy: unknown subverb '%s'; run 'agentgw policy --help'\n",
		argv[1]);
	return CLI_USAGE;
}

static int load_err_exit(int ret)
{
	if (ret == -AGW_ENOMEM)
		return CLI_FAIL;
	return CLI_USAGE; /* policy errors, missing or unreadable file */
}

/* Load one policy, printing every error; returns NULL on failure. With
 * jerrs, each error is also appended to it as {line, col, message}. */
static struct pol *load_json(const char *file, int *rc, json_t *jerrs)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	int ret = pol_load_file(file, &p, &errs);

	cli_pol_errors(file, ret, &errs);
	for (size_t i = 0; jerrs && i < errs.n; i++)
		json_array_append_new(jerrs, json_pack("{s:i, s:i, s:s}", "line", errs.v[i].line,
						       "col", errs.v[i].col, "message",
						       errs.v[i].msg));
	if (jerrs && ret < 0 && errs.n == 0)
		json_array_append_new(jerrs, json_pack("{s:i, s:i, s:s}", "line", 0, "col", 0,
						       "message", agw_strerror(ret)));
	pol_errors_free(&errs);
	*rc = ret < 0 ? load_err_exit(ret) : CLI_OK;
	return p;
}

static struct pol *load(const char *file, int *rc)
{
	return load_json(file, rc, NULL);
}

static int policy_check(int argc, char **argv)
{
	json_t *all = NULL;
	bool json = false;
	int rc = CLI_OK, first = 1;

	if (cli_wants_help(argc, argv)) {
		printf("usage: agentgw policy check [--json] FILE...\n\n"
		       "Loads each policy and prints one summary line, or every error as\n"
		       "file:line:column: message on stderr. The workspace must exist.\n"
		       "--json: one JSON array on stdout, an object per file (ok, name, mode,\n"
		       "sha256, rule counts, workspace, audit_db, or errors).\n"
		       "Exit 0 if all are valid, 2 if not.\n");
		return CLI_OK;
	}
	if (argc > 1 && strcmp(argv[1], "--json") == 0) {
		json = true;
		first = 2;
		all = json_array();
	}
	if (argc <= first) {
		fprintf(stderr, "usage: agentgw policy check [--json] FILE...\n");
		json_decref(all);
		return CLI_USAGE;
	}
	for (int i = first; i < argc; i++) {
		json_t *jerrs = json ? json_array() : NULL;
		struct pol_counts c;
		int one;
		struct pol *p = load_json(argv[i], &one, jerrs);
		const char *base;

		if (p && cli_check_workspace(argv[i], p, NULL) < 0) {
			if (jerrs)
				json_array_append_new(
				    jerrs, json_pack("{s:i, s:i, s:s}", "line", 0, "col", 0, "message",
						     "filesystem.workspace does not exist or is not a "
						     "directory"));
			one = CLI_USAGE;
			pol_free(p);
			p = NULL;
		}
		if (!p) {
			if (rc == CLI_OK || one == CLI_USAGE)
				rc = one;
			if (json)
				json_array_append_new(all, json_pack("{s:s, s:b, s:o}", "file", argv[i],
								     "ok", 0, "errors", jerrs));
			continue;
		}
		if (pol_upstream_ca(p) && access(pol_upstream_ca(p), R_OK) < 0) {
			if (jerrs)
				json_array_append_new(
				    jerrs, json_pack("{s:i, s:i, s:s}", "line", 0, "col", 0, "message",
						     "network.tls.upstream_ca cannot be read"));
			else
				fprintf(stderr, "%s: network.tls.upstream_ca %s cannot be read: %s\n",
					argv[i], pol_upstream_ca(p), strerror(errno));
			if (rc == CLI_OK)
				rc = CLI_USAGE;
			if (json)
				json_array_append_new(all, json_pack("{s:s, s:b, s:o}", "file", argv[i],
								     "ok", 0, "errors", jerrs));
			pol_free(p);
			continue;
		}
		policy_check_creds(argv[i], p, json);
		pol_counts(p, &c);
		if (json) {
			json_array_append_new(
			    all, json_pack(
				     "{s:s, s:b, s:s, s:s, s:s, s:{s:i, s:i}, s:{s:i, s:i}, s:s?, "
				     "s:s?}",
				     "file", argv[i], "ok", 1, "name", pol_name(p), "mode",
				     pol_mode_str(pol_mode(p)), "sha256", pol_sha256(p), "network",
				     "allow", (int)c.net_allow, "deny", (int)c.net_deny,
				     "filesystem", "allow", (int)c.fs_allow, "deny", (int)c.fs_deny,
				     "workspace", pol_workspace(p), "audit_db", pol_audit_db(p)));
			json_decref(jerrs);
			pol_free(p);
			continue;
		}
		base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		{
			const struct pol_cred *pcs;
			size_t nc = pol_creds(p, &pcs);

			printf("%s: ok — policy '%s', %s, %zu network rules (%zu allow, %zu deny), "
			       "%zu filesystem rules (%zu allow, %zu deny), %zu credential%s, "
			       "sha256 %.12s…\n",
			       base, pol_name(p),
			       pol_mode_str(pol_mode(p)),
			       c.net_allow + c.net_deny, c.net_allow, c.net_deny,
			       c.fs_allow + c.fs_deny, c.fs_allow, c.fs_deny, nc, nc == 1 ? "" : "s",
			       pol_sha256(p));
		}
		pol_free(p);
	}
	if (json) {
		char *txt = json_dumps(all, JSON_COMPACT);

		if (txt)
			printf("%s\n", txt);
		free(txt);
		json_decref(all);
	}
	return rc;
}

static void explain_help(FILE *out)
{
	fprintf(out, "usage: agentgw policy explain FILE --host H [--port P] [--method M [--path "
		     "P]] [--json]\n"
		     "       agentgw policy explain FILE --fs PATH --access A[,A...] [--json]\n"
		     "       agentgw policy explain FILE --fs-rename SRC DST [--dir] [--replace] "
		     "[--json]\n"
		     "       agentgw policy explain FILE --fs-link SRC DST [--json]\n\n"
		     "Prints the verdict (allow, deny or would_deny), the deciding rule with its\n"
		     "file:line and the reason, and every rule that matched, most specific first.\n"
		     "Rules that matched the host or path but not the port, HTTP method/path or\n"
		     "access are listed too, marked as not counted. Exit 0 when the verdict\n"
		     "is allow, 1 for deny or would_deny, 2 on usage or policy errors.\n\n"
		     "  --host H      host name, or an IP address (checked against cidr rules)\n"
		     "  --port P      port, default 443 (80 with --method)\n"
		     "  --method M    a plain HTTP request with this method (case-sensitive)\n"
		     "  --path P      its path, default /\n"
		     "  --fs PATH     workspace-relative path\n"
		     "  --access A    read, write, create, delete (comma list)\n"
		     "  --fs-rename SRC DST\n"
		     "                a rename, decided as the fs gateway does: delete on SRC,\n"
		     "                create and write on DST (create only for a directory),\n"
		     "                delete and write on a DST it replaces, and for a directory\n"
		     "                every rule alike below SRC and below DST\n"
		     "  --dir         SRC is a directory (everything below it moves)\n"
		     "  --replace     DST exists and is replaced (a directory with --dir)\n"
		     "  --fs-link SRC DST\n"
		     "                a hard link DST to the file SRC: create on DST, and both\n"
		     "                names decided alike for every access\n"
		     "  --json        one JSON object on stdout\n");
}

/* How a host's TLS connections are handled (NULL: not a host question). */
struct explain_tls {
	const char *mode; /* "inspect" | "passthrough" */
	const struct pol_cred *cred;
};

static int explain_print(const char *file, const char *what, const struct pol_decision *d,
			 const struct pol_match *m, size_t n, size_t total,
			 const struct explain_tls *tls, bool json)
{
	char acc[64];

	if (json) {
		json_t *o = json_object(), *arr = json_array();
		char *s;

		if (!o || !arr) {
			json_decref(o);
			json_decref(arr);
			return CLI_FAIL;
		}
		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "request", json_string(what));
		json_object_set_new(o, "verdict", json_string(pol_verdict_str(d->verdict)));
		json_object_set_new(o, "rule", d->rule[0] ? json_string(d->rule) : json_null());
		json_object_set_new(o, "line", d->line ? json_integer(d->line) : json_null());
		json_object_set_new(o, "reason", json_string(d->reason));
		if (tls) {
			json_object_set_new(o, "tls", json_string(tls->mode));
			json_object_set_new(o, "credential",
					    tls->cred ? json_string(tls->cred->name) : json_null());
			if (tls->cred)
				json_object_set_new(o, "credential_header",
						    json_string(tls->cred->header));
		}
		for (size_t i = 0; i < n; i++) {
			json_t *r = json_object();

			json_object_set_new(r, "rule", json_string(m[i].rule));
			json_object_set_new(r, "line", json_integer(m[i].line));
			json_object_set_new(r, "action", json_string(m[i].deny ? "deny" : "allow"));
			json_object_set_new(r, "pattern", json_string(m[i].pattern));
			if (m[i].access)
				json_object_set_new(
				    r, "access",
				    json_string(pol_access_str(m[i].access, acc, sizeof(acc))));
			json_object_set_new(r, "counted", json_boolean(m[i].matched));
			json_object_set_new(r, "specificity", json_integer(m[i].specificity));
			if (m[i].note)
				json_object_set_new(r, "note", json_string(m[i].note));
			json_object_set_new(
			    r, "deciding", json_boolean(d->rule[0] && !strcmp(d->rule, m[i].rule)));
			json_array_append_new(arr, r);
		}
		json_object_set_new(o, "matches", arr);
		json_object_set_new(o, "matches_total", json_integer((json_int_t)total));
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!s)
			return CLI_FAIL;
		printf("%s\n", s);
		free(s);
		return CLI_OK;
	}
	printf("%s: %s\n", what, pol_verdict_str(d->verdict));
	if (d->verdict == POL_ASK)
		printf("  ask:    a running sandbox would hold it for `agentgw approve`\n");
	if (d->rule[0])
		printf("  rule:   %s (%s:%d)\n", d->rule, file, d->line);
	else
		printf("  rule:   none\n");
	printf("  reason: %s\n", d->reason);
	if (tls) {
		if (!strcmp(tls->mode, "inspect"))
			printf("  tls:    inspect (TLS ends at the gateway; each HTTPS request is judged "
			       "by method and path and audited)\n");
		else
			printf("  tls:    passthrough (decided on the SNI name; requests not seen)\n");
		if (tls->cred)
			printf("  credential: %s (guest variable %s; the placeholder becomes the "
			       "value in header %s, from %.*s)\n",
			       tls->cred->name, tls->cred->env, tls->cred->header,
			       (int)strcspn(tls->cred->from, ":"), tls->cred->from);
	}
	if (n == 0) {
		printf("  no rule matched\n");
		return CLI_OK;
	}
	printf("  rules that matched, most specific first:\n");
	for (size_t i = 0; i < n; i++) {
		bool deciding = d->rule[0] && !strcmp(d->rule, m[i].rule);

		printf("  %s %-22s %s:%-4d %-5s %s%s%s%s\n", deciding ? "*" : " ", m[i].rule, file,
		       m[i].line, m[i].deny ? "deny" : "allow", m[i].pattern,
		       m[i].access ? " [" : "",
		       m[i].access ? pol_access_str(m[i].access, acc, sizeof(acc)) : "",
		       m[i].access ? "]" : "");
		if (m[i].note)
			printf("      not counted: %s\n", m[i].note);
	}
	if (total > n)
		printf("  ... and %zu more\n", total - n);
	return CLI_OK;
}

/* A rename or link: every step with its decision, then the rules that
 * matched the deciding step's path (pol_check_fs_move, as the fs child). */
static int explain_move(const char *file, const struct pol *p, const struct pol_fs_move *mv,
			bool json)
{
	struct pol_fs_step st[POL_FS_STEPS_MAX];
	struct pol_match m[EXPLAIN_MAX];
	struct pol_decision d, dm;
	char what[9000], acc[64];
	size_t n, total;
	int bad, show;

	n = pol_check_fs_move(p, mv, &d, st, &bad);
	snprintf(what, sizeof(what), "%s %s -> %s%s%s", mv->kind == POL_FS_LINK ? "link" : "rename",
		 mv->from, mv->to, mv->from_dir ? " (directory)" : "",
		 mv->to_exists ? " (replacing)" : "");
	show = bad >= 0 ? bad : 0;
	/* The rules behind the deciding step (for a comparison step: its path's
	 * rules for the accesses that differ, or all). */
	total = pol_explain_fs(p, st[show].path, st[show].access ? st[show].access : POL_ACC_ALL,
			       &dm, m, EXPLAIN_MAX);
	if (json) {
		json_t *o = json_object(), *arr = json_array(), *ms = json_array();
		char *out;

		if (!o || !arr || !ms) {
			json_decref(o);
			json_decref(arr);
			json_decref(ms);
			return CLI_FAIL;
		}
		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "request", json_string(what));
		json_object_set_new(o, "verdict", json_string(pol_verdict_str(d.verdict)));
		json_object_set_new(o, "rule", d.rule[0] ? json_string(d.rule) : json_null());
		json_object_set_new(o, "line", d.line ? json_integer(d.line) : json_null());
		json_object_set_new(o, "reason", json_string(d.reason));
		for (size_t i = 0; i < n; i++) {
			json_t *r = json_object();

			json_object_set_new(r, "step", json_string(st[i].what));
			json_object_set_new(r, "path", json_string(st[i].path));
			if (st[i].other)
				json_object_set_new(r, "other", json_string(st[i].other));
			json_object_set_new(
			    r, "access",
			    json_string(pol_access_str(st[i].access, acc, sizeof(acc))));
			json_object_set_new(r, "verdict",
					    json_string(pol_verdict_str(st[i].d.verdict)));
			json_object_set_new(
			    r, "rule", st[i].d.rule[0] ? json_string(st[i].d.rule) : json_null());
			json_object_set_new(r, "reason", json_string(st[i].d.reason));
			json_object_set_new(r, "deciding", json_boolean((int)i == bad));
			json_array_append_new(arr, r);
		}
		json_object_set_new(o, "steps", arr);
		for (size_t i = 0; i < AGW_MIN(total, (size_t)EXPLAIN_MAX); i++) {
			json_t *r = json_object();

			json_object_set_new(r, "rule", json_string(m[i].rule));
			json_object_set_new(r, "line", json_integer(m[i].line));
			json_object_set_new(r, "action", json_string(m[i].deny ? "deny" : "allow"));
			json_object_set_new(r, "pattern", json_string(m[i].pattern));
			json_object_set_new(r, "counted", json_boolean(m[i].matched));
			json_array_append_new(ms, r);
		}
		json_object_set_new(o, "matches_path", json_string(st[show].path));
		json_object_set_new(o, "matches", ms);
		out = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!out)
			return CLI_FAIL;
		printf("%s\n", out);
		free(out);
		return d.verdict == POL_ALLOW ? CLI_OK : CLI_FAIL;
	}
	printf("%s: %s\n", what, pol_verdict_str(d.verdict));
	if (d.rule[0])
		printf("  rule:   %s (%s:%d)\n", d.rule, file, d.line);
	else
		printf("  rule:   none\n");
	printf("  reason: %s\n", d.reason);
	printf("  steps (the first that is not an allow decides):\n");
	for (size_t i = 0; i < n; i++) {
		printf("  %s %-10s %s\n", (int)i == bad ? "*" : " ",
		       pol_verdict_str(st[i].d.verdict), st[i].what);
		if (st[i].other)
			printf("      %s vs %s%s%s%s\n", st[i].path, st[i].other,
			       st[i].access ? " (differ: " : "",
			       st[i].access ? pol_access_str(st[i].access, acc, sizeof(acc)) : "",
			       st[i].access ? ")" : "");
		else
			printf("      %s on %s\n", pol_access_str(st[i].access, acc, sizeof(acc)),
			       st[i].path);
		if (st[i].d.rule[0])
			printf("      rule %s (%s:%d): %s\n", st[i].d.rule, file, st[i].d.line,
			       st[i].d.reason);
		else
			printf("      %s\n", st[i].d.reason);
	}
	printf("  rules that matched %s, most specific first:\n", st[show].path);
	for (size_t i = 0; i < AGW_MIN(total, (size_t)EXPLAIN_MAX); i++)
		printf("    %-22s %s:%-4d %-5s %s [%s]%s\n", m[i].rule, file, m[i].line,
		       m[i].deny ? "deny" : "allow", m[i].pattern,
		       pol_access_str(m[i].access, acc, sizeof(acc)),
		       m[i].matched ? "" : " (not counted)");
	if (!total)
		printf("    none\n");
	return d.verdict == POL_ALLOW ? CLI_OK : CLI_FAIL; /* exit 1 on deny, as for --fs */
}

/*
 * A host, and for plain HTTP its method and path, as the proxy decides it:
 * the path decoded (http_path_decode), refused before any rule when the
 * proxy refuses it, and when ";params" change it both readings must pass.
 */
static size_t explain_http(const struct pol *p, const char *host, uint16_t port, const char *method,
			   const char *path, struct pol_decision *d, struct pol_match *m)
{
	static char dp[2048 * 3], sp[2048 * 3];
	struct pol_decision d2;
	const char *why = NULL;
	size_t total;

	if (!method || !path)
		return pol_explain_host(p, host, port, method, "/", d, m, EXPLAIN_MAX);
	if (http_path_decode((const uint8_t *)path, strlen(path), dp, sizeof(dp), 0, &why) ||
	    http_path_decode((const uint8_t *)path, strlen(path), sp, sizeof(sp),
			     HTTP_PATH_STRIP_PARAMS, &why)) {
		memset(d, 0, sizeof(*d));
		d->verdict = POL_DENY;
		d->reason = why ? why : "request path too long";
		return 0;
	}
	total = pol_explain_host(p, host, port, method, dp, d, m, EXPLAIN_MAX);
	if (pol_permits(d) && strcmp(dp, sp) != 0) {
		pol_check_http(p, host, port, method, sp, &d2);
		if (!pol_permits(&d2))
			total = pol_explain_host(p, host, port, method, sp, d, m, EXPLAIN_MAX);
	}
	return total;
}

static int policy_explain(int argc, char **argv)
{
	const char *file = NULL, *host = NULL, *method = NULL, *path = NULL, *fs = NULL,
		   *access = NULL;
	long port = -1;
	bool json = false;
	struct pol_match m[EXPLAIN_MAX];
	struct pol_fs_move mv = {.kind = POL_FS_RENAME};
	struct pol_decision d;
	struct explain_tls tls = {0}, *tlsp = NULL;
	char what[600];
	size_t total;
	struct pol *p;
	int rc;

	if (cli_wants_help(argc, argv)) {
		explain_help(stdout);
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **slot = NULL;

		if (!strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (!strcmp(a, "--dir") || !strcmp(a, "--replace")) {
			*(a[2] == 'd' ? &mv.from_dir : &mv.to_exists) = true;
			continue;
		}
		if (!strcmp(a, "--fs-rename") || !strcmp(a, "--fs-link")) {
			if (i + 2 >= argc || mv.from) {
				fprintf(stderr,
					"agentgw policy explain: %s needs SRC and DST, once\n", a);
				return CLI_USAGE;
			}
			mv.kind = a[5] == 'l' ? POL_FS_LINK : POL_FS_RENAME;
			mv.from = argv[++i];
			mv.to = argv[++i];
			continue;
		}
		if (!strcmp(a, "--host"))
			slot = &host;
		else if (!strcmp(a, "--method"))
			slot = &method;
		else if (!strcmp(a, "--path"))
			slot = &path;
		else if (!strcmp(a, "--fs"))
			slot = &fs;
		else if (!strcmp(a, "--access"))
			slot = &access;
		if (slot || !strcmp(a, "--port")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "agentgw policy explain: %s needs a value\n", a);
				return CLI_USAGE;
			}
			if (slot) {
				*slot = argv[++i];
			} else {
				char *end;

				errno = 0;
				port = strtol(argv[++i], &end, 10);
				if (errno || *end || port < 1 || port > 65535) {
					fprintf(
					    stderr,
					    "agentgw policy explain: port '%s' is not 1-65535\n",
					    argv[i]);
					return CLI_USAGE;
				}
			}
			continue;
		}
		if (a[0] == '-' || file) {
			fprintf(stderr,
				"agentgw policy explain: unexpected '%s' (see 'agentgw policy explain "
				"--help')\n",
				a);
			return CLI_USAGE;
		}
		file = a;
	}
	if (mv.from) {
		if (!file || host || fs || access || method || path || port >= 0 ||
		    (mv.kind == POL_FS_LINK && (mv.from_dir || mv.to_exists))) {
			explain_help(stderr);
			return CLI_USAGE;
		}
		mv.to_dir = mv.from_dir && mv.to_exists;
		p = load(file, &rc);
		if (!p)
			return rc;
		rc = explain_move(file, p, &mv, json);
		pol_free(p);
		return rc;
	}
	if (!file || (!host == !fs) || (fs && !access) || (host && access) ||
	    (fs && (method || path || port >= 0)) || (path && !method) || mv.from_dir ||
	    mv.to_exists) {
		explain_help(stderr);
		return CLI_USAGE;
	}
	p = load(file, &rc);
	if (!p)
		return rc;
	if (fs) {
		unsigned acc;

		if (pol_access_parse(access, &acc) < 0) {
			fprintf(stderr,
				"agentgw policy explain: unknown access in '%s'; expected read, "
				"write, create, delete\n",
				access);
			pol_free(p);
			return CLI_USAGE;
		}
		snprintf(what, sizeof(what), "%s %s", access, fs);
		total = pol_explain_fs(p, fs, acc, &d, m, EXPLAIN_MAX);
	} else {
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

		if (port < 0)
			port = method ? 80 : 443;
		if (inet_pton(AF_INET, host, &s4.sin_addr) == 1) {
			snprintf(what, sizeof(what), "%s port %ld", host, port);
			total = pol_explain_addr(p, (struct sockaddr *)&s4, (uint16_t)port, &d, m,
						 EXPLAIN_MAX);
		} else if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1) {
			snprintf(what, sizeof(what), "[%s] port %ld", host, port);
			total = pol_explain_addr(p, (struct sockaddr *)&s6, (uint16_t)port, &d, m,
						 EXPLAIN_MAX);
		} else {
			struct pol_decision td;
			const struct pol_cred *pcs;
			bool insp;
			int ci;

			/* A TLS connection to the host: inspected or passed through. */
			pol_check_tls(p, host, (uint16_t)port, &td, &insp, &ci);
			pol_creds(p, &pcs);
			tls.mode = insp ? "inspect" : "passthrough";
			tls.cred = insp && ci >= 0 ? &pcs[ci] : NULL;
			tlsp = &tls;
			if (method)
				snprintf(what, sizeof(what), "%s %s://%s:%ld%s", method,
					 insp && port != 80 ? "https" : "http", host, port,
					 path ? path : "/");
			else
				snprintf(what, sizeof(what), "%s port %ld", host, port);
			if (method)
				total = explain_http(p, host, (uint16_t)port, method, path, &d, m);
			else
				total = pol_explain_tls(p, host, (uint16_t)port, &d, &insp, &ci, m,
							EXPLAIN_MAX);
		}
	}
	rc = explain_print(file, what, &d, m, AGW_MIN(total, (size_t)EXPLAIN_MAX), total, tlsp,
			   json);
	pol_free(p);
	/* Scripts test the verdict by the exit code: 0 allow, 1 deny or would_deny. */
	if (rc == CLI_OK && d.verdict != POL_ALLOW)
		rc = CLI_FAIL;
	return rc;
}
