// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * agentgw main: finds the verb and hands it argv. The verb table is the one
 * place that lists what the command line can do; `agentgw --help` prints it.
 */
#include <stdio.h>
#include <string.h>

#include "agw.h"
#include "cli.h"

struct verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct verb verbs[] = {
    /* verbs: keep one line each, in the order of the help text */
    {"policy", cmd_policy, "check, explain and reload policies"},
    {"audit", cmd_audit, "query, tail, summarise and export the audit database"},
    {"gateway", cmd_gateway, "enforce a policy on an existing interface (no VM)"},
    {"fs-serve", cmd_fs,
     "serve a workspace over 9P2000.L with the policy's path rules, without a VM"},
    {"up", cmd_up, "boot a sandbox microvm behind the gateway and run a command in it"},
    {"ps", cmd_ps, "list sandboxes: name, state, uptime, guest address, accelerator, fs, audit db"},
    {"exec", cmd_exec, "run a command in a running sandbox (-t: with a PTY)"},
    {"shell", cmd_shell, "open a shell in a running sandbox"},
    {"logs", cmd_logs, "print a sandbox's guest console (-f: follow)"},
    {"down", cmd_down, "stop a sandbox, or clean up after a dead one"},
    {"rm", cmd_rm, "delete a stopped sandbox's writable disk (images with a root filesystem)"},
    {"approvals", cmd_approvals, "list actions that wait for a person's decision (ask mode)"},
    {"approve", cmd_approve, "let a waiting action go ahead: once, for the session, or always"},
    {"deny", cmd_deny, "refuse a waiting action"},
    {"image", cmd_image,
     "build, list and remove guest images (initramfs, or a Debian root filesystem)"},
    {"doctor", cmd_doctor,
     "check this machine can run sandboxes, and say how to fix what is missing"},
    {"vm-run", cmd_vm_run, "development: boot the guest image and run commands in it"},
    {"completion", cmd_completion, "print a bash or zsh completion script"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "print this help"},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: agentgw VERB [ARGS...]\n\n"
		"A policy-enforcing network and filesystem gateway for sandboxed AI agents.\n\n"
		"verbs:\n");
	for (size_t i = 0; i < AGW_ARRAY_LEN(verbs); i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\nRun 'agentgw VERB --help' for a verb's options.\n");
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("agentgw %s\n", AGW_VERSION);
	return CLI_OK;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return CLI_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return cmd_help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < AGW_ARRAY_LEN(verbs); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "agentgw: unknown verb '%s'; run 'agentgw --help' for the list\n", argv[1]);
	return CLI_USAGE;
}
