// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw approvals`, `agentgw approve` and `agentgw deny`: the person's
 * side of ask mode. Each running sandbox's supervisor listens on
 * <run dir>/<name>/approvals.sock (supervisor/appr.h); these verbs send it
 * one JSON line and print its answer. Without a name they look at every
 * running sandbox; an id names one pending action of one sandbox.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "cli.h"
#include "supervisor/appr.h"
#include "supervisor/sbx.h"

#define CAPPR_MAX_SBX 64
#define CAPPR_REPLY_MAX (4u << 20)

/* Names of the sandboxes with an approvals socket (all, or just name). */
static size_t cappr_sandboxes(const char *name, char names[][SBX_NAME_MAX + 1], size_t cap)
{
	char path[4096];
	size_t n = 0;
	DIR *d;
	struct dirent *e;

	if (name) {
		if (sbx_path(path, sizeof(path), name, APPR_SOCK) == 0 && access(path, F_OK) == 0) {
			snprintf(names[0], SBX_NAME_MAX + 1, "%s", name);
			return 1;
		}
		return 0;
	}
	d = opendir(sbx_run_dir());
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < cap) {
		if (!sbx_name_valid(e->d_name) ||
		    sbx_path(path, sizeof(path), e->d_name, APPR_SOCK) || access(path, F_OK) != 0)
			continue;
		snprintf(names[n++], SBX_NAME_MAX + 1, "%.*s", SBX_NAME_MAX, e->d_name);
	}
	closedir(d);
	return n;
}

/* Sends req to sandbox name and returns its answer (NULL with err). */
static json_t *cappr_call(const char *name, json_t *req, char *err, size_t cap)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 15};
	char *line = json_dumps(req, JSON_COMPACT), *buf = NULL;
	size_t len = 0, bcap = 0;
	json_t *res = NULL;
	json_error_t je;
	int fd = -1;

	if (!line || sbx_path(sun.sun_path, sizeof(sun.sun_path), name, APPR_SOCK)) {
		snprintf(err, cap, "out of memory or path too long");
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, cap, "sandbox %s: cannot connect to %s: %s (is it running?)", name,
			 sun.sun_path, strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		snprintf(err, cap, "sandbox %s: %s", name, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (len + 4096 > bcap) {
			char *nb = bcap < CAPPR_REPLY_MAX ? realloc(buf, bcap + 65536) : NULL;

			if (!nb) {
				snprintf(err, cap, "sandbox %s: answer too long", name);
				goto out;
			}
			buf = nb;
			bcap += 65536;
		}
		r = read(fd, buf + len, bcap - len);
		if (r <= 0) {
			snprintf(err, cap, "sandbox %s: no answer (%s)", name,
				 r < 0 ? strerror(errno) : "connection closed");
			goto out;
		}
		len += (size_t)r;
		if (memchr(buf, '\n', len))
			break;
	}
	res = json_loadb(buf, (size_t)((char *)memchr(buf, '\n', len) - buf), 0, &je);
	if (!res)
		snprintf(err, cap, "sandbox %s: bad answer: %s", name, je.text);
out:
	if (fd >= 0)
		close(fd);
	free(line);
	free(buf);
	return res;
}

/* ---- approvals ---- */

static void cappr_list_usage(FILE *out)
{
	fprintf(out, "usage: agentgw approvals [--json] [-f] [NAME]\n\n"
		     "Lists the actions that wait for a person in running sandboxes (policy\n"
		     "mode: ask, or rules with ask: true): id, age, kind (dns, connect, fs),\n"
		     "subject (name, host:port, path and access) and sandbox. Answer them\n"
		     "with `agentgw approve ID once|session|always` or `agentgw deny ID`;\n"
		     "one nobody answers is denied after the policy's ask_timeout.\n\n"
		     "  NAME     only this sandbox (default: every running one)\n"
		     "  --json   one JSON array (with -f: one JSON object per line)\n"
		     "  -f       follow: print actions as they start waiting, until ^C\n");
}

/* One line per item; AGE in seconds. */
static void cappr_row(json_t *it, bool json, bool *header)
{
	const char *access = json_string_value(json_object_get(it, "access"));
	const char *rule = json_string_value(json_object_get(it, "rule"));
	char age[32];

	if (json) {
		char *s = json_dumps(it, JSON_COMPACT);

		if (s)
			printf("%s\n", s);
		free(s);
		fflush(stdout);
		return;
	}
	if (!*header) {
		printf("%-5s %-5s %-8s %-14s %s\n", "ID", "AGE", "KIND", "SANDBOX", "SUBJECT");
		*header = true;
	}
	snprintf(age, sizeof(age), "%llds",
		 (long long)json_integer_value(json_object_get(it, "age_ms")) / 1000);
	printf("%-5lld %-5s %-8s %-14s %s%s%s%s%s\n",
	       (long long)json_integer_value(json_object_get(it, "id")), age,
	       json_string_value(json_object_get(it, "kind")),
	       json_string_value(json_object_get(it, "sandbox")),
	       json_string_value(json_object_get(it, "subject")), access ? " (" : "",
	       access ? access : "", access ? ")" : "", rule ? "  [rule]" : "");
	fflush(stdout);
}

/* The pending items of every named sandbox, into one array; with since (a
 * JSON object of sandbox name -> last id seen), the waits that started
 * after that id instead, answered or not. */
static json_t *cappr_collect(char names[][SBX_NAME_MAX + 1], size_t n, bool quiet_errors,
			     json_t *since)
{
	json_t *all = json_array();
	char err[512];

	for (size_t i = 0; i < n; i++) {
		json_t *req = json_pack("{s:s}", "op", "list"), *res, *p, *it;
		size_t k;

		if (since)
			json_object_set_new(
			    req, "since",
			    json_integer(json_integer_value(json_object_get(since, names[i]))));
		res = cappr_call(names[i], req, err, sizeof(err));
		json_decref(req);
		if (!res) {
			if (!quiet_errors)
				fprintf(stderr, "agentgw approvals: %s\n", err);
			continue;
		}
		p = json_object_get(res, "pending");
		json_array_foreach(p, k, it) json_array_append(all, it);
		json_decref(res);
	}
	return all;
}

int cmd_approvals(int argc, char **argv)
{
	char names[CAPPR_MAX_SBX][SBX_NAME_MAX + 1];
	const char *name = NULL;
	bool json = false, follow = false, header = false;
	size_t n;
	json_t *all;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cappr_list_usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow")) {
			follow = true;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "agentgw approvals: unexpected '%s'\n", argv[i]);
			cappr_list_usage(stderr);
			return CLI_USAGE;
		} else {
			name = argv[i];
		}
	}
	if (name && !sbx_name_valid(name)) {
		fprintf(stderr, "agentgw approvals: bad sandbox name '%s'\n", name);
		return CLI_USAGE;
	}
	n = cappr_sandboxes(name, names, CAPPR_MAX_SBX);
	if (!n && !follow) {
		if (name)
			fprintf(stderr,
				"agentgw approvals: sandbox %s is not running (no %s/%s/%s)\n",
				name, sbx_run_dir(), name, APPR_SOCK);
		else
			fprintf(stderr, "agentgw approvals: no running sandbox (nothing in %s)\n",
				sbx_run_dir());
		return CLI_FAIL;
	}
	if (!follow) {
		size_t k;
		json_t *it;

		all = cappr_collect(names, n, false, NULL);
		if (json) {
			char *s = json_dumps(all, JSON_COMPACT);

			printf("%s\n", s ? s : "[]");
			free(s);
		} else if (json_array_size(all) == 0) {
			printf("no actions wait for approval\n");
		} else {
			json_array_foreach(all, k, it) cappr_row(it, false, &header);
		}
		json_decref(all);
		return CLI_OK;
	}
	{
		/* Follow: print each wait once, as it starts (ids are per
		 * sandbox; the supervisor keeps recent waits for us, so one
		 * answered between two polls is still printed). */
		json_t *seen = json_object();

		for (;;) {
			size_t k;
			json_t *it;

			n = cappr_sandboxes(name, names, CAPPR_MAX_SBX);
			all = cappr_collect(names, n, true, seen);
			json_array_foreach(all, k, it)
			{
				const char *sb = json_string_value(json_object_get(it, "sandbox"));
				json_int_t id = json_integer_value(json_object_get(it, "id"));

				if (!sb || id <= json_integer_value(json_object_get(seen, sb)))
					continue;
				json_object_set_new(seen, sb, json_integer(id));
				cappr_row(it, json, &header);
			}
			json_decref(all);
			usleep(300000);
		}
	}
}

/* ---- approve / deny ---- */

static void cappr_answer_usage(FILE *out, bool allow)
{
	if (allow)
		fprintf(out,
			"usage: agentgw approve ID|--all once|session|always [--sandbox NAME]\n\n"
			"Lets an action that waits for a person go ahead (see agentgw "
			"approvals).\n"
			"  once      this action only\n"
			"  session   and add a rule for it to the sandbox's policy in memory, for\n"
			"            the sandbox's life (dns: the name, ports 80 and 443;\n"
			"            connect: the name and port; fs: the path and access)\n"
			"  always    and write that rule into the policy file (with a comment\n"
			"            naming who and when), then reload it\n"
			"  --all     every action waiting (in every sandbox, or NAME's)\n"
			"  --sandbox NAME   the sandbox (needed when the id waits in several)\n");
	else
		fprintf(out,
			"usage: agentgw deny ID|--all [--reason TEXT] [--sandbox NAME]\n\n"
			"Refuses an action that waits for a person (see agentgw approvals);\n"
			"the agent sees it refused, and the audit row carries TEXT.\n"
			"  --all           every action waiting (in every sandbox, or NAME's)\n"
			"  --reason TEXT   why (at most 255 bytes)\n"
			"  --sandbox NAME  the sandbox (needed when the id waits in several)\n");
}

static int cappr_answer(int argc, char **argv, bool allow)
{
	const char *verb = allow ? "approve" : "deny";
	const char *name = NULL, *scope = allow ? NULL : "once", *reason = NULL;
	char names[CAPPR_MAX_SBX][SBX_NAME_MAX + 1], err[512];
	long long id = 0;
	bool all = false;
	size_t n, hits = 0, where = 0;
	int rc = CLI_OK;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cappr_answer_usage(stdout, allow);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--all")) {
			all = true;
		} else if (!strcmp(argv[i], "--sandbox") && i + 1 < argc) {
			name = argv[++i];
		} else if (!allow && !strcmp(argv[i], "--reason") && i + 1 < argc) {
			reason = argv[++i];
		} else if (allow && !scope &&
			   (!strcmp(argv[i], "once") || !strcmp(argv[i], "session") ||
			    !strcmp(argv[i], "always"))) {
			scope = argv[i];
		} else if (!id && !all && argv[i][0] >= '1' && argv[i][0] <= '9' &&
			   strspn(argv[i], "0123456789") == strlen(argv[i]) &&
			   strlen(argv[i]) <= 10) {
			id = atoll(argv[i]);
		} else {
			fprintf(stderr, "agentgw %s: unexpected '%s'\n", verb, argv[i]);
			cappr_answer_usage(stderr, allow);
			return CLI_USAGE;
		}
	}
	if ((!id && !all) || (id && all) || !scope) {
		fprintf(stderr, "agentgw %s: give an ID or --all%s\n", verb,
			allow ? ", and once, session or always" : "");
		cappr_answer_usage(stderr, allow);
		return CLI_USAGE;
	}
	if (reason && strlen(reason) > IPC_ASK_REASON_MAX) {
		fprintf(stderr, "agentgw deny: --reason is longer than %d bytes\n",
			IPC_ASK_REASON_MAX);
		return CLI_USAGE;
	}
	if (name && !sbx_name_valid(name)) {
		fprintf(stderr, "agentgw %s: bad sandbox name '%s'\n", verb, name);
		return CLI_USAGE;
	}
	n = cappr_sandboxes(name, names, CAPPR_MAX_SBX);
	if (!n) {
		if (name)
			fprintf(stderr, "agentgw %s: sandbox %s is not running\n", verb, name);
		else
			fprintf(stderr, "agentgw %s: no running sandbox (nothing in %s)\n", verb,
				sbx_run_dir());
		return CLI_FAIL;
	}
	if (id) {
		/* Which sandbox holds the id? */
		json_t *list = cappr_collect(names, n, false, NULL), *it;
		size_t k;

		json_array_foreach(list, k, it)
		{
			if (json_integer_value(json_object_get(it, "id")) != id)
				continue;
			for (size_t j = 0; j < n; j++)
				if (!strcmp(names[j],
					    json_string_value(json_object_get(it, "sandbox"))))
					where = j;
			hits++;
		}
		json_decref(list);
		if (hits == 0) {
			fprintf(stderr,
				"agentgw %s: no pending approval %lld%s%s (answered, timed out, "
				"or never asked; `agentgw approvals` lists them)\n",
				verb, id, name ? " in sandbox " : "", name ? name : "");
			return CLI_FAIL;
		}
		if (hits > 1) {
			fprintf(stderr,
				"agentgw %s: approval %lld waits in %zu sandboxes; name one with "
				"--sandbox NAME\n",
				verb, id, hits);
			return CLI_USAGE;
		}
	}
	for (size_t i = 0; i < n; i++) {
		json_t *req, *res, *done, *v;
		size_t k;

		if (id && i != where)
			continue;
		req = json_pack("{s:s, s:b, s:s}", "op", "answer", "allow", allow, "scope", scope);
		if (id)
			json_object_set_new(req, "id", json_integer(id));
		else
			json_object_set_new(req, "all", json_true());
		if (reason)
			json_object_set_new(req, "reason", json_string(reason));
		res = cappr_call(names[i], req, err, sizeof(err));
		json_decref(req);
		if (!res) {
			fprintf(stderr, "agentgw %s: %s\n", verb, err);
			rc = CLI_FAIL;
			continue;
		}
		done = json_object_get(res, "answered");
		json_array_foreach(done, k, v)
		    printf("%s %lld (%s)%s%s\n", allow ? "approved" : "denied",
			   (long long)json_integer_value(v), names[i], allow ? " " : "",
			   allow ? scope : "");
		json_array_foreach(json_object_get(res, "errors"), k, v)
		    fprintf(stderr, "agentgw %s: %s: %s\n", verb, names[i], json_string_value(v));
		if (!json_is_true(json_object_get(res, "ok"))) {
			if (!json_array_size(json_object_get(res, "errors")))
				fprintf(stderr, "agentgw %s: %s: %s\n", verb, names[i],
					json_string_value(json_object_get(res, "error")));
			rc = CLI_FAIL;
		}
		json_decref(res);
	}
	return rc;
}

int cmd_approve(int argc, char **argv)
{
	return cappr_answer(argc, argv, true);
}

int cmd_deny(int argc, char **argv)
{
	return cappr_answer(argc, argv, false);
}
