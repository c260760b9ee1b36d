// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw gateway`: enforce a policy on an existing interface (a veth or a
 * tap) without a VM, by running the supervisor (supervisor/sup.c) in the
 * foreground; and `agentgw policy reload N`, which checks the policy file a
 * running supervisor uses and signals it (SIGHUP) through the pid file in
 * its state directory /run/agentgw/<name>/.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "cli.h"
#include "log.h"
#include "policies/pol.h"
#include "supervisor/sbx.h"
#include "supervisor/sup.h"

static void gateway_usage(FILE *f)
{
	fprintf(f, "usage: agentgw gateway --iface IF --policy FILE [--audit DB] [--name N]\n"
		   "                       [--dns-port P] [--proxy-port P] [--guest-addr A]\n"
		   "                       [--nflog-group G] [--net-workers N] [--no-fs] [-v]\n\n"
		   "Enforces FILE on the sandbox behind interface IF (a veth or tap with an\n"
		   "IPv4 address): installs the nftables table, serves DNS and the transparent\n"
		   "proxy on IF's address, records every action in the audit database.\n"
		   "Runs in the foreground until SIGINT/SIGTERM; SIGHUP or\n"
		   "'agentgw policy reload N' re-reads FILE.\n"
		   "--net-workers N: N processes (1-%d) accept the sandbox's connections,\n"
		   "each with its own event loop (default: one per CPU, at most %d); the\n"
		   "first also serves DNS.\n",
		SUP_NET_MAX, SUP_NET_WORKERS_AUTO);
}

static int gateway_port(const char *s, uint16_t *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end || v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int gateway_print_errors(const char *path, int rc, struct pol_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "%s:%d:%d: %s\n", errs->v[i].file ? errs->v[i].file : path,
			errs->v[i].line, errs->v[i].col, errs->v[i].msg);
	if (!errs->n)
		fprintf(stderr, "%s: %s\n", path, agw_strerror(rc));
	return CLI_USAGE;
}

int cmd_gateway(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"iface", required_argument, NULL, 'i'},
	    {"policy", required_argument, NULL, 'p'},
	    {"audit", required_argument, NULL, 'a'},
	    {"name", required_argument, NULL, 'n'},
	    {"dns-port", required_argument, NULL, 'd'},
	    {"proxy-port", required_argument, NULL, 'P'},
	    {"guest-addr", required_argument, NULL, 'g'},
	    {"nflog-group", required_argument, NULL, 'G'},
	    {"no-fs", no_argument, NULL, 'F'},
	    {"net-workers", required_argument, NULL, 'W'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sup_config c = {.nflog_group = -1};
	struct pol_errors errs = {0};
	struct sup *s = NULL;
	char name[64], err[512];
	int opt, verbose = 0, rc;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "i:p:a:n:vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			c.iface = optarg;
			break;
		case 'p':
			c.policy_path = optarg;
			break;
		case 'a':
			c.audit_db = optarg;
			break;
		case 'n':
			c.name = optarg;
			break;
		case 'd':
		case 'P':
			if (gateway_port(optarg, opt == 'd' ? &c.dns_port : &c.proxy_port)) {
				fprintf(stderr, "agentgw gateway: bad port '%s' (1-65535)\n",
					optarg);
				return CLI_USAGE;
			}
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &c.guest_addr) != 1) {
				fprintf(stderr, "agentgw gateway: bad --guest-addr '%s' (IPv4)\n",
					optarg);
				return CLI_USAGE;
			}
			break;
		case 'G':
			c.nflog_group = atoi(optarg);
			if (c.nflog_group < 0 || c.nflog_group > 65535) {
				fprintf(stderr, "agentgw gateway: bad --nflog-group '%s'\n",
					optarg);
				return CLI_USAGE;
			}
			break;
		case 'F':
			c.no_fs = true;
			break;
		case 'W': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end || v < 1 || v > SUP_NET_MAX) {
				fprintf(stderr, "agentgw gateway: bad --net-workers '%s' (1-%d)\n",
					optarg, SUP_NET_MAX);
				return CLI_USAGE;
			}
			c.net_workers = (unsigned)v;
			break;
		}
		case 'v':
			verbose++;
			break;
		case 'h':
			gateway_usage(stdout);
			return CLI_OK;
		default:
			fprintf(stderr,
				"agentgw gateway: unknown option '%s' (see 'agentgw gateway --help')\n",
				argv[optind - 1]);
			return CLI_USAGE;
		}
	}
	if (!c.iface || !c.policy_path || optind != argc) {
		gateway_usage(stderr);
		return CLI_USAGE;
	}
	log_init("supervisor", verbose > 1 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);
	rc = pol_load_file(c.policy_path, &c.pol, &errs);
	if (rc) {
		rc = gateway_print_errors(c.policy_path, rc, &errs);
		pol_errors_free(&errs);
		return rc;
	}
	pol_errors_free(&errs);
	if (!c.name) {
		snprintf(name, sizeof(name), "gw-%s", c.iface);
		for (char *p = name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
				*p = '_';
		c.name = name;
	}
	rc = sup_new(&c, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "agentgw gateway: %s\n", err);
		return CLI_FAIL;
	}
	rc = sup_run(s);
	sup_free(s);
	return rc ? CLI_FAIL : CLI_OK;
}

#define RELOAD_WAIT_MS 8000 /* above the supervisor's 5 s for the children's answers */

/* The sequence number of the last outcome in <state>/reload (0: none), its
 * line in line[cap] when line is not NULL. */
static unsigned reload_outcome(const char *name, char *line, size_t cap)
{
	char path[PATH_MAX], buf[320];
	unsigned seq = 0;
	FILE *f;

	if (sbx_path(path, sizeof(path), name, "reload") < 0 || !(f = fopen(path, "re")))
		return 0;
	if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%u", &seq) == 1 && line)
		snprintf(line, cap, "%s", buf);
	fclose(f);
	return seq;
}

/* argv: "reload" NAME. */
int cmd_policy_reload(int argc, char **argv)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	struct sbx_info info;
	char policy[PATH_MAX];
	long pid = 0;
	unsigned before;
	int rc;

	if (argc != 2 || cli_wants_help(argc, argv)) {
		fprintf(argc == 2 ? stdout : stderr,
			"usage: agentgw policy reload NAME\n\n"
			"Checks the policy file the sandbox NAME was started with and, when it is\n"
			"valid, makes the running gateway re-read it (new connections only), and\n"
			"waits until both gateway children applied it: exit 0 when they did, 1\n"
			"with the reason when they did not (or gave no answer within 8 s).\n");
		return argc == 2 ? CLI_OK : CLI_USAGE;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "agentgw policy reload: needs root (signals the sandbox's "
				"supervisor); run with sudo\n");
		return CLI_FAIL;
	}
	if (!sbx_name_valid(argv[1]) || sbx_info_read(argv[1], &info) < 0 ||
	    sbx_state_of(&info) == SBX_DEAD) {
		fprintf(stderr, "agentgw policy reload: no running sandbox '%s' in %s\n", argv[1],
			sbx_run_dir());
		return CLI_FAIL;
	}
	if (!info.policy[0]) {
		fprintf(stderr, "agentgw policy reload: sandbox '%s' did not record its policy\n",
			argv[1]);
		return CLI_FAIL;
	}
	pid = info.pid;
	snprintf(policy, sizeof(policy), "%s", info.policy);
	rc = pol_load_file(policy, &p, &errs);
	if (rc) {
		rc = gateway_print_errors(policy, rc, &errs);
		pol_errors_free(&errs);
		fprintf(stderr, "agentgw policy reload: %s has errors; the running policy stays\n",
			policy);
		return rc;
	}
	pol_errors_free(&errs);
	printf("reloading %s (%s, sha256 %.12s) in sandbox %s\n", policy, pol_name(p),
	       pol_sha256(p), argv[1]);
	pol_free(p);
	before = reload_outcome(argv[1], NULL, 0);
	if (kill((pid_t)pid, SIGHUP) < 0) {
		fprintf(stderr, "agentgw policy reload: cannot signal pid %ld: %s\n", pid,
			strerror(errno));
		return CLI_FAIL;
	}
	/* The supervisor writes the outcome once every child answered. */
	for (int i = 0; i < RELOAD_WAIT_MS / 20; i++) {
		char line[320], *reason;

		if (reload_outcome(argv[1], line, sizeof(line)) > before) {
			const char *sha, *verdict;

			strtok_r(line, " \n", &reason);
			sha = strtok_r(NULL, " \n", &reason);
			verdict = strtok_r(NULL, " \n", &reason);
			if (verdict && !strcmp(verdict, "allow")) {
				printf("applied (sha256 %.12s) by the sandbox's gateway\n", sha);
				return CLI_OK;
			}
			fprintf(stderr, "agentgw policy reload: %s: not applied: %s\n", argv[1],
				reason && reason[0] ? reason : "unknown reason");
			return CLI_FAIL;
		}
		if (kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			fprintf(stderr, "agentgw policy reload: sandbox %s stopped\n", argv[1]);
			return CLI_FAIL;
		}
		usleep(20000);
	}
	fprintf(stderr,
		"agentgw policy reload: %s: no answer within %d s; see "
		"'agentgw audit query --kind policy'\n",
		argv[1], RELOAD_WAIT_MS / 1000);
	return CLI_FAIL;
}
