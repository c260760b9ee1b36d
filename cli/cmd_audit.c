// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw audit`: query, tail, summarise and export the audit database.
 * This file parses the command line, picks the database (--db, the policy's
 * audit.database, or the default path) and prints; the queries, filters and
 * formats live in audit/.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agw.h"
#include "audit/aud.h"
#include "cli.h"
#include "policies/pol.h"
#include "vmctl/accel.h"
#include "supervisor/sbxrec.h"

/* Which options a sub-verb takes. */
enum {
	AOPT_FILTER = 1 << 0, /* --sandbox --kind --decision --since --until --target */
	AOPT_LIMIT = 1 << 1,
	AOPT_JSON = 1 << 2,
	AOPT_FORMAT = 1 << 3,
	AOPT_TAIL = 1 << 4,    /* -n -f */
	AOPT_PRUNE = 1 << 5,   /* --before --force */
	AOPT_SANDBOX = 1 << 6, /* --sandbox alone */
};

struct aud_cli {
	const char *db, *policy, *format;
	struct aud_filter f;
	bool json, follow, force;
	bool since_given; /* --since (a time or id:N) */
	int64_t before;	  /* prune --before */
	long long n;
	char dbpath[PATH_MAX];
};

struct aud_sub {
	const char *name;
	int (*fn)(struct aud_cli *c);
	unsigned opts;
	const char *summary;
	const char *usage;
};

static volatile sig_atomic_t aud_cli_stop;

static void aud_cli_on_signal(int sig)
{
	(void)sig;
	aud_cli_stop = 1;
}

int cli_audit_open(const char *who, const char *dbopt, const char *policy, const char *sandbox,
		   char *dbpath, size_t cap, struct aud_db **db)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	struct sbxrec rec;
	char err[PATH_MAX + 128];
	int rc;

	dbpath[0] = '\0';
	if (dbopt) {
		snprintf(dbpath, cap, "%s", dbopt);
	} else if (policy) {
		rc = pol_load_file(policy, &p, &errs);
		if (rc < 0) {
			cli_pol_errors(policy, rc, &errs);
			pol_errors_free(&errs);
			return CLI_USAGE;
		}
		if (pol_audit_db(p))
			snprintf(dbpath, cap, "%s", pol_audit_db(p));
		pol_free(p);
	} else if ((rc = sbxrec_find(sandbox, &rec)) == 0) {
		/* The sandbox's own database: named, running, or the last one started. */
		snprintf(dbpath, cap, "%s", rec.audit_db);
		if (!sandbox)
			fprintf(stderr, "agentgw %s: %s (sandbox '%s'%s)\n", who, dbpath, rec.name,
				rec.live ? "" : ", not running");
	} else if (sandbox && sandbox[strspn(sandbox, "0123456789")]) {
		fprintf(stderr,
			"agentgw %s: no sandbox '%s': not running and not recorded in %s/%s/; "
			"pass --db or --policy\n",
			who, sandbox, accel_state_dir(), SBXREC_DIR);
		return CLI_USAGE;
	}
	if (!dbpath[0] && aud_default_db_path(dbpath, cap) < 0) {
		fprintf(stderr, "agentgw %s: no default database path (HOME unset); pass --db\n",
			who);
		return CLI_USAGE;
	}
	rc = aud_db_open_ro(dbpath, db, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "agentgw %s: %s\n", who, err);
		return CLI_FAIL;
	}
	if (sandbox && (rc = aud_sandbox_known(*db, sandbox)) <= 0) {
		if (rc == 0)
			fprintf(stderr, "agentgw %s: no sandbox '%s' in %s (see 'agentgw audit stats')\n",
				who, sandbox, dbpath);
		else
			fprintf(stderr, "agentgw %s: %s: %s\n", who, dbpath, aud_db_errmsg(*db));
		aud_db_close(*db);
		*db = NULL;
		return rc == 0 ? CLI_USAGE : CLI_FAIL;
	}
	return CLI_OK;
}

static int aud_cli_open(struct aud_cli *c, struct aud_db **db)
{
	return cli_audit_open("audit", c->db, c->policy, c->f.sandbox, c->dbpath, sizeof(c->dbpath),
			      db);
}

/* Print every row of f; returns the last id seen in *last (unchanged if none). */
static int aud_cli_print(struct aud_db *db, const struct aud_filter *f, struct aud_cli *c,
			 int64_t *last)
{
	struct aud_cursor *cur = NULL;
	struct aud_row r;
	int rc;

	rc = aud_query_open(db, f, &cur);
	if (rc < 0)
		goto out;
	while ((rc = aud_cursor_next(cur, &r)) > 0) {
		if (c->format && strcmp(c->format, "csv") == 0)
			aud_fmt_csv_row(stdout, &r);
		else if (c->json || c->format)
			aud_fmt_jsonl_row(stdout, &r);
		else
			aud_fmt_table_row(stdout, &r);
		if (last)
			*last = r.id;
		if (ferror(stdout)) {
			rc = -EIO;
			goto out;
		}
	}
out:
	if (rc < 0)
		fprintf(stderr, "agentgw audit: %s: %s (%s)\n", c->dbpath, agw_strerror(rc),
			aud_db_errmsg(db));
	aud_cursor_free(cur);
	return rc;
}

static int aud_cli_query(struct aud_cli *c)
{
	struct aud_db *db = NULL;
	int rc = aud_cli_open(c, &db);

	if (rc != CLI_OK)
		return rc;
	c->f.newest = true;
	if (!c->json)
		aud_fmt_table_header(stdout);
	rc = aud_cli_print(db, &c->f, c, NULL) < 0 ? CLI_FAIL : CLI_OK;
	aud_db_close(db);
	return rc;
}

static int aud_cli_export(struct aud_cli *c)
{
	struct aud_db *db = NULL;
	int rc;

	if (!c->format || (strcmp(c->format, "jsonl") != 0 && strcmp(c->format, "csv") != 0)) {
		fprintf(stderr, "agentgw audit export: --format jsonl|csv is required\n");
		return CLI_USAGE;
	}
	rc = aud_cli_open(c, &db);
	if (rc != CLI_OK)
		return rc;
	if (strcmp(c->format, "csv") == 0)
		aud_fmt_csv_header(stdout);
	rc = aud_cli_print(db, &c->f, c, NULL) < 0 ? CLI_FAIL : CLI_OK;
	aud_db_close(db);
	return rc;
}

static int aud_cli_stats(struct aud_cli *c)
{
	struct aud_db *db = NULL;
	int rc = aud_cli_open(c, &db);

	if (rc != CLI_OK)
		return rc;
	rc = aud_stats_write(db, &c->f, c->json, stdout);
	if (rc < 0)
		fprintf(stderr, "agentgw audit: %s: %s (%s)\n", c->dbpath, agw_strerror(rc),
			aud_db_errmsg(db));
	aud_db_close(db);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

static int aud_cli_tail(struct aud_cli *c)
{
	struct aud_db *db = NULL;
	struct aud_filter f = c->f;
	struct sigaction sa = {.sa_handler = aud_cli_on_signal};
	struct timespec poll = {.tv_sec = 0, .tv_nsec = 200000000L};
	int64_t last = 0;
	int rc = aud_cli_open(c, &db);

	if (rc != CLI_OK)
		return rc;
	if (!c->json)
		aud_fmt_table_header(stdout);
	if (c->since_given) {
		/* Resuming: every matching event after the point, then on.
		 * The loop below starts there, so an event committed between
		 * a first query and the follow cannot fall in a gap. */
		last = c->f.after_id;
	} else {
		f.limit = c->n;
		f.newest = true;
		if (c->n > 0 && aud_cli_print(db, &f, c, &last) < 0) {
			rc = CLI_FAIL;
			goto out;
		}
		fflush(stdout);
		if (!c->follow)
			goto out;
	}
	if (!c->since_given && last == 0) {
		/* nothing shown: follow from the newest id that exists now */
		struct aud_filter one = {.limit = 1, .newest = true};
		struct aud_cursor *cur = NULL;
		struct aud_row r = {0};

		if (aud_query_open(db, &one, &cur) < 0 || aud_cursor_next(cur, &r) < 0) {
			fprintf(stderr, "agentgw audit: %s: %s\n", c->dbpath, aud_db_errmsg(db));
			aud_cursor_free(cur);
			rc = CLI_FAIL;
			goto out;
		}
		last = r.id;
		aud_cursor_free(cur);
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	f = c->f;
	f.limit = 0;
	f.newest = false;
	while (!aud_cli_stop) {
		/* every committed transaction becomes visible to a new read;
		 * ids grow in commit order, so "after the last id printed"
		 * misses nothing and repeats nothing */
		f.after_id = last;
		if (aud_cli_print(db, &f, c, &last) < 0) {
			rc = CLI_FAIL;
			goto out;
		}
		fflush(stdout);
		if (!c->follow)
			break;
		nanosleep(&poll, NULL);
	}
out:
	aud_db_close(db);
	return rc;
}

static int aud_cli_verify(struct aud_cli *c)
{
	struct aud_db *db = NULL;
	int64_t broken = 0;
	int rc = aud_cli_open(c, &db);

	if (rc != CLI_OK)
		return rc;
	rc = aud_verify(db, c->f.sandbox, c->json, stdout, &broken);
	if (rc < 0) {
		fprintf(stderr, "agentgw audit verify: %s: %s (%s)\n", c->dbpath, agw_strerror(rc),
			aud_db_errmsg(db));
		rc = CLI_FAIL;
	} else if (broken) {
		if (!c->json)
			fprintf(stderr,
				"agentgw audit verify: %s: the hash chain is broken; the first bad "
				"event is %lld\n",
				c->dbpath, (long long)broken);
		rc = CLI_FAIL;
	} else {
		rc = CLI_OK;
	}
	aud_db_close(db);
	return rc;
}

static int aud_cli_prune(struct aud_cli *c)
{
	struct aud_db *db = NULL;
	struct aud_prune_result res;
	char when[48];
	int rc;

	if (!c->before) {
		fprintf(stderr, "agentgw audit prune: --before T is required\n");
		return CLI_USAGE;
	}
	/* resolve and check the file as the readers do, then write to it */
	rc = aud_cli_open(c, &db);
	if (rc != CLI_OK)
		return rc;
	aud_db_close(db);
	rc = aud_prune(c->dbpath, c->before, c->f.sandbox, c->force, &res);
	if (rc < 0) {
		fprintf(stderr, "agentgw audit prune: %s: %s\n", c->dbpath, agw_strerror(rc));
		return CLI_FAIL;
	}
	aud_fmt_time(c->before, false, when, sizeof(when));
	printf("pruned %lld events before %s from %lld sandboxes (anchors recorded)\n",
	       (long long)res.rows, when, (long long)res.sandboxes);
	if (res.refused) {
		fprintf(stderr,
			"agentgw audit prune: %lld sandboxes left alone: their chain does not "
			"verify (see 'agentgw audit verify'; --force prunes anyway)\n",
			(long long)res.refused);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static const struct aud_sub aud_subs[] = {
    {"query", aud_cli_query, AOPT_FILTER | AOPT_LIMIT | AOPT_JSON,
     "search events (table or JSON lines)",
     "usage: agentgw audit query [--db F | --policy F] [--sandbox N] [--kind K]\n"
     "         [--decision D] [--since T] [--until T] [--target GLOB] [--limit N] [--json]\n"
     "Print the newest matching events (default 100), oldest first, as a table or\n"
     "as JSON lines. --sandbox takes a name or an id. K is dns, net, http, fs, exec,\n"
     "lifecycle or policy; D is allow, deny, would_deny or error.\n"
     "T is 30s, 10m, 2h, 3d, 1w ago,\n"
     "a local time 2026-11-23T10:00[:SS] (Z for UTC), a date, or unix seconds;\n"
     "--since id:N keeps the events after event N.\n"
     "--target is a case-sensitive glob (* ? [...]) over the whole target.\n"},
    {"tail", aud_cli_tail, AOPT_FILTER | AOPT_JSON | AOPT_TAIL,
     "newest events; -f follows new ones",
     "usage: agentgw audit tail [--db F | --policy F] [-n N] [-f] [--json] [--since T|id:N]\n"
     "         [filters]\n"
     "Print the newest N events (default 20); with -f keep printing new events as\n"
     "they are committed, until interrupted. With --since, print every event from\n"
     "that time, or after event N (id:N), instead: a stream killed at any moment\n"
     "resumes with --since id:<id of the last complete line> and loses and repeats\n"
     "nothing. --json: one JSON object per line, \"v\" (the schema version) first.\n"
     "Filters as in 'audit query'.\n"},
    {"verify", aud_cli_verify, AOPT_SANDBOX | AOPT_JSON, "check the hash chain of every sandbox",
     "usage: agentgw audit verify [--db F | --policy F] [--sandbox N] [--json]\n"
     "Recompute each sandbox's hash chain and print one line per sandbox: ok with\n"
     "its head (record it elsewhere to notice a rewritten chain), or the first\n"
     "event that does not fit and why (edited, deleted, not written by agentgw).\n"
     "Exit 1 when a chain is broken.\n"},
    {"prune", aud_cli_prune, AOPT_SANDBOX | AOPT_PRUNE, "delete old events, keeping the chain",
     "usage: agentgw audit prune --before T [--db F | --policy F] [--sandbox N] [--force]\n"
     "Delete each sandbox's events older than T (the oldest ones up to the first\n"
     "newer event) and record an anchor, so 'audit verify' still passes. A chain\n"
     "that does not verify is left alone (exit 1) unless --force. T as in --since.\n"},
    {"stats", aud_cli_stats, AOPT_FILTER | AOPT_JSON, "counts by decision, top denied targets",
     "usage: agentgw audit stats [--db F | --policy F] [--json] [filters]\n"
     "Counts by decision per sandbox and kind, then the 10 most denied targets;\n"
     "--json: one object {\"by_kind\": [...], \"top_denied\": [...]}.\n"},
    {"export", aud_cli_export, AOPT_FILTER | AOPT_LIMIT | AOPT_FORMAT,
     "stream events as JSON lines or CSV",
     "usage: agentgw audit export --format jsonl|csv [--db F | --policy F] [filters]\n"
     "Stream every matching event, oldest first, to stdout. CSV follows RFC 4180\n"
     "(header row, CRLF, quoted fields). JSON strings escape controls; bytes that\n"
     "are not valid UTF-8 become \\ufffd (the exact bytes stay in the database).\n"},
};

static void aud_cli_usage(FILE *out)
{
	fprintf(out, "usage: agentgw audit SUBVERB [OPTIONS]\n\nsubverbs:\n");
	for (size_t i = 0; i < AGW_ARRAY_LEN(aud_subs); i++)
		fprintf(out, "  %-8s %s\n", aud_subs[i].name, aud_subs[i].summary);
	fprintf(out, "\nDatabase: --db F, else the audit.database of --policy F, else that of\n"
		     "sandbox --sandbox N, else that of the running sandbox (the newest) or of\n"
		     "the last one started (recorded in $AGENTGW_STATE_DIR, default\n"
		     "/var/lib/agentgw), else /var/lib/agentgw/audit.db as root or\n"
		     "$XDG_STATE_HOME/agentgw/audit.db.\n"
		     "Run 'agentgw audit SUBVERB --help' for its options.\n");
}

static int aud_cli_time(const char *opt, const char *s, int64_t *out)
{
	if (aud_parse_time(s, agw_now_us(), out) < 0) {
		fprintf(stderr,
			"agentgw audit: %s '%s': expected 30s, 10m, 2h, 3d, 1w, "
			"2026-11-23T10:00[:SS][Z], unix seconds%s\n",
			opt, s, strcmp(opt, "--since") == 0 ? " or id:N" : "");
		return -1;
	}
	return 0;
}

static int aud_cli_count(const char *opt, const char *s, long long *out)
{
	char *end = NULL;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || end == s || *end || *out < 0) {
		fprintf(stderr, "agentgw audit: %s '%s': expected a number >= 0\n", opt, s);
		return -1;
	}
	return 0;
}

static const char *const aud_cli_kinds[] = {"dns",  "net",       "http",   "fs",
					     "exec", "lifecycle", "policy", NULL};
static const char *const aud_cli_decisions[] = {"allow", "deny", "would_deny", "error", NULL};

/* A filter value that can never match is a mistake: say which values exist. */
static int aud_cli_oneof(const struct aud_sub *sub, const char *opt, const char *v,
			 const char *const *ok)
{
	char list[128] = "";

	for (size_t i = 0; ok[i]; i++) {
		if (strcmp(v, ok[i]) == 0)
			return 0;
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 ok[i]);
	}
	fprintf(stderr, "agentgw audit %s: unknown %s '%s'; use one of %s\n", sub->name, opt, v,
		list);
	return -1;
}

static int aud_cli_parse(const struct aud_sub *sub, int argc, char **argv, struct aud_cli *c)
{
	enum {
		O_DB = 256,
		O_POLICY,
		O_SANDBOX,
		O_KIND,
		O_DECISION,
		O_SINCE,
		O_UNTIL,
		O_TARGET,
		O_LIMIT,
		O_JSON,
		O_FORMAT,
		O_BEFORE,
		O_FORCE
	};
	static const struct option longopts[] = {
	    {"db", required_argument, NULL, O_DB},
	    {"policy", required_argument, NULL, O_POLICY},
	    {"sandbox", required_argument, NULL, O_SANDBOX},
	    {"kind", required_argument, NULL, O_KIND},
	    {"decision", required_argument, NULL, O_DECISION},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"target", required_argument, NULL, O_TARGET},
	    {"limit", required_argument, NULL, O_LIMIT},
	    {"json", no_argument, NULL, O_JSON},
	    {"format", required_argument, NULL, O_FORMAT},
	    {"before", required_argument, NULL, O_BEFORE},
	    {"force", no_argument, NULL, O_FORCE},
	    {NULL, 0, NULL, 0},
	};
	unsigned need;
	long long v;
	int o;

	optind = 1;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":n:f", longopts, NULL)) != -1) {
		switch (o) {
		case O_DB:
		case O_POLICY:
			need = 0;
			break;
		case O_LIMIT:
			need = AOPT_LIMIT;
			break;
		case O_JSON:
			need = AOPT_JSON;
			break;
		case O_FORMAT:
			need = AOPT_FORMAT;
			break;
		case 'n':
		case 'f':
			need = AOPT_TAIL;
			break;
		case O_BEFORE:
		case O_FORCE:
			need = AOPT_PRUNE;
			break;
		case O_SANDBOX:
			need = sub->opts & AOPT_SANDBOX ? AOPT_SANDBOX : AOPT_FILTER;
			break;
		case ':':
			fprintf(stderr, "agentgw audit %s: option %s needs a value\n", sub->name,
				argv[optind - 1]);
			return -1;
		case '?':
			fprintf(stderr, "agentgw audit %s: unknown option %s (see 'agentgw audit %s --help')\n",
				sub->name, argv[optind - 1], sub->name);
			return -1;
		default:
			need = AOPT_FILTER;
		}
		if ((sub->opts & need) != need) {
			fprintf(stderr, "agentgw audit %s: option %s does not apply here\n",
				sub->name, argv[optind - 1]);
			return -1;
		}
		switch (o) {
		case O_DB:
			c->db = optarg;
			break;
		case O_POLICY:
			c->policy = optarg;
			break;
		case O_SANDBOX:
			c->f.sandbox = optarg;
			break;
		case O_KIND:
			if (aud_cli_oneof(sub, "--kind", optarg, aud_cli_kinds) < 0)
				return -1;
			c->f.kind = optarg;
			break;
		case O_DECISION:
			if (aud_cli_oneof(sub, "--decision", optarg, aud_cli_decisions) < 0)
				return -1;
			c->f.decision = optarg;
			break;
		case O_TARGET:
			c->f.target = optarg;
			break;
		case O_SINCE:
			c->since_given = true;
			if (strncmp(optarg, "id:", 3) == 0) {
				if (aud_cli_count("--since id:", optarg + 3, &v) < 0)
					return -1;
				c->f.after_id = v;
			} else if (aud_cli_time("--since", optarg, &c->f.since) < 0) {
				return -1;
			}
			break;
		case O_BEFORE:
			if (aud_cli_time("--before", optarg, &c->before) < 0)
				return -1;
			break;
		case O_FORCE:
			c->force = true;
			break;
		case O_UNTIL:
			if (aud_cli_time("--until", optarg, &c->f.until) < 0)
				return -1;
			break;
		case O_LIMIT:
			if (aud_cli_count("--limit", optarg, &v) < 0)
				return -1;
			c->f.limit = v;
			break;
		case 'n':
			if (aud_cli_count("-n", optarg, &c->n) < 0)
				return -1;
			break;
		case O_JSON:
			c->json = true;
			break;
		case O_FORMAT:
			c->format = optarg;
			break;
		case 'f':
			c->follow = true;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "agentgw audit %s: unexpected argument '%s'\n", sub->name,
			argv[optind]);
		return -1;
	}
	return 0;
}

int cmd_audit(int argc, char **argv)
{
	struct aud_cli c = {.f.limit = 100, .n = 20};
	const struct aud_sub *sub = NULL;

	if (argc < 2) {
		aud_cli_usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		aud_cli_usage(stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(aud_subs); i++)
		if (strcmp(argv[1], aud_subs[i].name) == 0)
			sub = &aud_subs[i];
	if (!sub) {
		fprintf(stderr, "agentgw audit: unknown subverb '%s'; run 'agentgw audit --help'\n",
			argv[1]);
		return CLI_USAGE;
	}
	if (cli_wants_help(argc - 1, argv + 1)) {
		fputs(sub->usage, stdout);
		return CLI_OK;
	}
	if (!(sub->opts & AOPT_LIMIT))
		c.f.limit = 0;
	if (sub->opts & AOPT_FORMAT)
		c.f.limit = 0;
	if (aud_cli_parse(sub, argc - 1, argv + 1, &c) < 0)
		return CLI_USAGE; /* the one-line error says what; --help has the rest */
	return sub->fn(&c);
}
