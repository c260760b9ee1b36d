// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The options that shape a command run in a sandbox, shared by `up`,
 * `exec` and `shell`: -e K=V (repeatable), --env-file F, -w DIR and
 * --user NAME. The env file is read as docker reads one: one K=V a line,
 * blank lines and lines starting with '#' skipped, a bare K taking this
 * process's value of K (skipped when unset).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agw.h"
#include "cli.h"

static int cli_env_store(struct cli_exec_opts *o, const char *kv, size_t len)
{
	char *s;

	if (len == 0 || kv[0] == '=' || memchr(kv, 0, len))
		return -AGW_EINVAL;
	if (o->n_env == CLI_MAX_ENV)
		return -AGW_ETOOBIG;
	s = strndup(kv, len);
	if (!s)
		return -AGW_ENOMEM;
	o->env[o->n_env++] = s;
	o->env[o->n_env] = NULL;
	return 0;
}

int cli_env_add(struct cli_exec_opts *o, const char *kv)
{
	const char *v;
	char buf[1024];

	if (strchr(kv, '='))
		return cli_env_store(o, kv, strlen(kv));
	if (!*kv)
		return -AGW_EINVAL;
	v = getenv(kv);
	if (!v)
		return 0;
	if (snprintf(buf, sizeof(buf), "%s=%s", kv, v) >= (int)sizeof(buf))
		return -AGW_ETOOBIG;
	return cli_env_store(o, buf, strlen(buf));
}

int cli_env_parse(struct cli_exec_opts *o, const char *text, size_t n, size_t *bad_line)
{
	size_t line = 0;
	int r;

	*bad_line = 0;
	while (n) {
		const char *nl = memchr(text, '\n', n);
		size_t len = nl ? (size_t)(nl - text) : n, l = len;
		const char *p = text;
		char key[1024];

		line++;
		if (l && p[l - 1] == '\r')
			l--;
		while (l && (*p == ' ' || *p == '\t')) {
			p++;
			l--;
		}
		if (l && *p != '#') {
			if (memchr(p, '=', l)) {
				r = cli_env_store(o, p, l);
			} else if (l < sizeof(key) && !memchr(p, 0, l)) {
				memcpy(key, p, l);
				key[l] = 0;
				r = cli_env_add(o, key);
			} else {
				r = -AGW_EINVAL;
			}
			if (r < 0) {
				*bad_line = line;
				return r;
			}
		}
		text += nl ? len + 1 : len;
		n -= nl ? len + 1 : len;
	}
	return 0;
}

int cli_env_file(struct cli_exec_opts *o, const char *path, char *err, size_t errcap)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t n = 0, bad = 0;
	int r;

	if (!f) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return -errno;
	}
	text = malloc(CLI_ENV_FILE_MAX + 1);
	if (!text) {
		fclose(f);
		return -AGW_ENOMEM;
	}
	n = fread(text, 1, CLI_ENV_FILE_MAX + 1, f);
	fclose(f);
	if (n > CLI_ENV_FILE_MAX) {
		snprintf(err, errcap, "%s: larger than %d bytes", path, CLI_ENV_FILE_MAX);
		free(text);
		return -AGW_ETOOBIG;
	}
	r = cli_env_parse(o, text, n, &bad);
	if (r < 0)
		snprintf(err, errcap, "%s:%zu: %s", path, bad,
			 r == -AGW_ETOOBIG ? "too many variables (or a line too long)"
					   : "expected KEY=VALUE or KEY");
	free(text);
	return r;
}

int cli_exec_opt(struct cli_exec_opts *o, int argc, char **argv, int *i, const char *verb)
{
	const char *a = argv[*i];
	char err[512];
	int r;

	if (strcmp(a, "-e") != 0 && strcmp(a, "--env") != 0 && strcmp(a, "--env-file") != 0 &&
	    strcmp(a, "-w") != 0 && strcmp(a, "--workdir") != 0 && strcmp(a, "--user") != 0 &&
	    strcmp(a, "-u") != 0)
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "agentgw %s: %s needs a value\n", verb, a);
		return -1;
	}
	(*i)++;
	if (a[1] == 'w' || strcmp(a, "--workdir") == 0) {
		if (argv[*i][0] != '/') {
			fprintf(stderr, "agentgw %s: %s %s: give an absolute path in the guest\n",
				verb, a, argv[*i]);
			return -1;
		}
		o->cwd = argv[*i];
	} else if (a[1] == 'u' || strcmp(a, "--user") == 0) {
		if (!argv[*i][0] || strpbrk(argv[*i], ":/ ")) {
			fprintf(stderr, "agentgw %s: bad user name '%s'\n", verb, argv[*i]);
			return -1;
		}
		o->user = argv[*i];
	} else if (strcmp(a, "--env-file") == 0) {
		if ((r = cli_env_file(o, argv[*i], err, sizeof(err))) < 0) {
			fprintf(stderr, "agentgw %s: --env-file %s\n", verb, err);
			return -1;
		}
	} else if ((r = cli_env_add(o, argv[*i])) < 0) {
		fprintf(stderr, "agentgw %s: -e '%s': %s\n", verb, argv[*i],
			r == -AGW_ETOOBIG ? "too many variables" : "expected KEY=VALUE or KEY");
		return -1;
	}
	return 1;
}

void cli_exec_opts_free(struct cli_exec_opts *o)
{
	for (size_t i = 0; i < o->n_env; i++)
		free(o->env[i]);
	o->n_env = 0;
	o->env[0] = NULL;
}
