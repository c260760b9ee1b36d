/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The verbs of the agentgw command line. Each cmd_<verb> gets argv starting
 * at the verb itself and returns the process exit code: 0 ok, 1 runtime
 * failure, 2 usage or policy error. Only these functions may print for the
 * user; library code returns error codes.
 */
#ifndef AGW_CLI_H
#define AGW_CLI_H

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

#include <stddef.h>

/* True if argv has -h or --help before a "--". */
int cli_wants_help(int argc, char **argv);

int cmd_policy(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_gateway(int argc, char **argv);
/* `agentgw policy reload NAME` (argv: "reload" NAME); lives in cmd_gateway.c. */
int cmd_policy_reload(int argc, char **argv);
int cmd_fs(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_up(int argc, char **argv);
/* ps, exec, shell, logs, down, rm: cli/cmd_sbx.c */
int cmd_ps(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_shell(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_vm_run(int argc, char **argv);
/* approvals, approve, deny: cli/cmd_approvals.c */
int cmd_approvals(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_deny(int argc, char **argv);
/* `agentgw completion bash|zsh`: cli/cmd_completion.c */
int cmd_completion(int argc, char **argv);
/* `agentgw policy suggest` (argv: "suggest" ...); lives in cmd_suggest.c. */
int cmd_policy_suggest(int argc, char **argv);

/* ---- cli_env.c: -e, --env-file, -w, --user for up, exec and shell ---- */

#define CLI_MAX_ENV 256 /* the control protocol's limit */
#define CLI_ENV_FILE_MAX (256 * 1024)

struct cli_exec_opts {
	char *env[CLI_MAX_ENV + 1]; /* owned, NULL-terminated */
	size_t n_env;
	const char *cwd;  /* -w: NULL for the default (/workspace) */
	const char *user; /* --user: NULL for the sandbox's default user */
};

/* Add "K=V", or "K" with this process's value (nothing when unset).
 * Returns 0, -AGW_EINVAL (empty key), -AGW_ETOOBIG, -AGW_ENOMEM. */
int cli_env_add(struct cli_exec_opts *o, const char *kv);
/* Add every variable of an env file's text (pure apart from cli_env_add's
 * getenv). Returns 0 or a negative code with *bad_line the 1-based line. */
int cli_env_parse(struct cli_exec_opts *o, const char *text, size_t n, size_t *bad_line);
/* Read and add an env file; err says what is wrong. Blocks on the read. */
int cli_env_file(struct cli_exec_opts *o, const char *path, char *err, size_t errcap);
/*
 * If argv[*i] is one of -e/--env, --env-file, -w/--workdir, -u/--user,
 * take it and its value (advancing *i) and return 1; 0 when it is not one
 * of them; -1 after printing an error for `agentgw VERB`.
 */
int cli_exec_opt(struct cli_exec_opts *o, int argc, char **argv, int *i, const char *verb);
void cli_exec_opts_free(struct cli_exec_opts *o);

struct aud_db;
/*
 * Open the audit database read-only for verb `who`: dbopt, else the
 * policy file's audit.database, else the database of sandbox `sandbox`
 * (its state dir, else the record `up` left, supervisor/sbxrec.h), else with
 * sandbox NULL the running or last started sandbox's (named on stderr),
 * else the default path (written to dbpath). A sandbox name the database
 * does not know is an error. Prints the error; returns CLI_OK, CLI_USAGE or
 * CLI_FAIL.
 */
int cli_audit_open(const char *who, const char *dbopt, const char *policy, const char *sandbox,
		   char *dbpath, size_t cap, struct aud_db **db);

struct pol_errors;
/*
 * Print a policy load's errors on stderr, one line each: file:line:col: msg,
 * or file: msg for errors about the whole file; with none, file: the text
 * of rc (when rc < 0).
 */
void cli_pol_errors(const char *file, int rc, const struct pol_errors *errs);

struct pol;
/*
 * Check that p's workspace (if it has a filesystem section) is an existing
 * directory; if not print "file: filesystem.workspace DIR: why[; hint]" and
 * return -1. Returns 0 when fine. Blocks on stat.
 */
int cli_check_workspace(const char *file, const struct pol *p, const char *hint);

#endif
