// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw policy suggest [--db F | --policy FILE] [--sandbox N] [--since T]
 * [--until T]`: reads the audit database and prints, as YAML to paste into
 * a policy, the allow rules that would have passed what was denied without
 * a deciding rule (audit/aud_suggest.h). The usual loop: run the agent with
 * `mode: audit`, then `policy suggest`, review, enforce.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agw.h"
#include "audit/aud.h"
#include "audit/aud_suggest.h"
#include "cli.h"

static void suggest_usage(FILE *out)
{
	fprintf(out,
		"usage: agentgw policy suggest [--db F | --policy FILE] [--sandbox N] [--since T]\n"
		"                              [--until T]\n\n"
		"Prints the allow rules (YAML) that would have passed what the audit database\n"
		"shows denied with no rule deciding it (deny and would_deny): host names from\n"
		"DNS queries, connections and HTTP requests, workspace paths with the access\n"
		"they asked for. Denials by an explicit rule are listed, never suggested.\n"
		"Bare addresses come out commented: allow the name instead. Review before use.\n"
		"  --db F         the audit database (default: the policy's audit.database,\n"
		"                 else the sandbox's, as in 'agentgw audit')\n"
		"  --policy FILE  take the database from FILE\n"
		"  --sandbox N    one sandbox (name or id)\n"
		"  --since T, --until T   a time window: 10m, 2h, 2026-11-23T10:00, ...\n");
}

int cmd_policy_suggest(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, 'd'},      {"policy", required_argument, NULL, 'p'},
	    {"sandbox", required_argument, NULL, 's'}, {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},   {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	const char *db = NULL, *policy = NULL;
	struct aud_filter f = {0};
	struct aud_suggest *sg = NULL;
	struct aud_cursor *cur = NULL;
	struct aud_db *adb = NULL;
	struct aud_row row;
	char dbpath[PATH_MAX];
	int64_t now = agw_now_us();
	int o, rc;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (o) {
		case 'd':
			db = optarg;
			break;
		case 'p':
			policy = optarg;
			break;
		case 's':
			f.sandbox = optarg;
			break;
		case 'S':
		case 'U':
			if (aud_parse_time(optarg, now, o == 'S' ? &f.since : &f.until) < 0) {
				fprintf(stderr,
					"agentgw policy suggest: bad time '%s' (want 10m, 2h, 3d, "
					"2026-11-23 or 2026-11-23T10:00)\n",
					optarg);
				return CLI_USAGE;
			}
			break;
		case 'h':
			suggest_usage(stdout);
			return CLI_OK;
		default:
			fprintf(stderr, "agentgw policy suggest: %s '%s'\n",
				o == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentgw policy suggest: unexpected argument '%s'\n", argv[optind]);
		return CLI_USAGE;
	}
	rc = cli_audit_open("policy suggest", db, policy, f.sandbox, dbpath, sizeof(dbpath), &adb);
	if (rc != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (aud_suggest_new(&sg) < 0) {
		fprintf(stderr, "agentgw policy suggest: out of memory\n");
		goto out;
	}
	/* Only the denials are read (the kind/decision index helps). */
	for (size_t d = 0; d < 2; d++) {
		f.decision = d ? "would_deny" : "deny";
		if (aud_query_open(adb, &f, &cur) < 0) {
			fprintf(stderr, "agentgw policy suggest: %s: %s\n", dbpath,
				aud_db_errmsg(adb));
			goto out;
		}
		for (;;) {
			int r = aud_cursor_next(cur, &row);

			if (r == 0)
				break;
			if (r < 0 || aud_suggest_add(sg, &row) < 0) {
				fprintf(stderr, "agentgw policy suggest: %s: %s\n", dbpath,
					r < 0 ? aud_db_errmsg(adb) : "out of memory");
				goto out;
			}
		}
		aud_cursor_free(cur);
		cur = NULL;
	}
	printf("version: 1\n"
	       "# agentgw policy suggest: %zu denials in %s%s%s -> %zu rules.\n"
	       "# Each rule would have allowed what the comment above it says was denied;\n"
	       "# keep only what the agent should be able to do.\n",
	       aud_suggest_denials(sg), dbpath, f.sandbox ? ", sandbox " : "",
	       f.sandbox ? f.sandbox : "", aud_suggest_count(sg));
	aud_suggest_write(sg, stdout);
	rc = CLI_OK;
out:
	aud_cursor_free(cur);
	aud_suggest_free(sg);
	aud_db_close(adb);
	return rc;
}
