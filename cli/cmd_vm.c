// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw vm-run`: a development verb that boots the guest image in a
 * microvm without gateway or policy, runs commands through the control
 * protocol, and powers off. It is the boot path `agentgw up` builds on
 * (vmctl/vm.h) and what tests/e2e/boot.sh drives.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "cli.h"
#include "vmctl/accel.h"
#include "vmctl/ctl.h"
#include "vmctl/img.h"
#include "vmctl/vm.h"

#define VM_RUN_MAX_E 32

static void vm_usage(FILE *out)
{
	fprintf(out, "usage: agentgw vm-run [--image DIR] [--state-dir DIR] [--mem MB] [--cpus N]\n"
		     "                      [--accel auto|kvm|tcg] [--append ARGS] [--virtiofs SOCKET]\n"
		     "                      [--guest-dir DIR] [-v] [-i] [-t] [-P]\n"
		     "                      [-e SHELL-COMMAND]... [-- CMD [ARG...]]\n\n"
		     "Development verb: boots the guest image (default: the last one built by\n"
		     "'agentgw image build'; one with a root filesystem gets a throwaway writable\n"
		     "disk) with no network, runs each -e through /bin/sh -c and then CMD, and\n"
		     "powers off. -i forwards stdin to CMD, -t gives CMD a PTY,\n"
		     "-P starts all -e commands at once (exit status: the highest),\n"
		     "--virtiofs mounts /workspace over virtio-fs from a vhost-user back end\n"
		     "listening on SOCKET (agentgw fs-serve --vhost-user SOCKET; under a jail the\n"
		     "socket must be in the state folder).\n"
		     "-v prints boot time, accelerator, exit statuses and QEMU's memory.\n"
		     "--guest-dir DIR delivers DIR/ca.pem and DIR/env as 'up' delivers a\n"
		     "sandbox's CA and credential placeholders (README, Credentials).\n"
		     "Exit status: the last command's (128+N when killed by signal N).\n");
}

static long qemu_rss_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			kb = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return kb;
}

/* -P: start every -e at once and forward output as it comes. Returns the
 * highest exit status. */
static int run_parallel(struct vm *vm, const char **e, int ne, int verbose)
{
	static uint8_t frame[CTL_MAX_FRAME];
	uint32_t ids[VM_RUN_MAX_E];
	int left = ne, worst = 0, r;
	struct ctl_hdr h;
	uint8_t *p;

	for (int i = 0; i < ne; i++) {
		const char *sh[] = {"/bin/sh", "-c", e[i], NULL};

		ids[i] = vm_new_id(vm);
		r = ctl_encode_exec(frame, sizeof(frame), ids[i], sh, NULL, "/", 0, 0, 0);
		if (r < 0 || vm_send_frame(vm, frame, (size_t)r) < 0)
			return -1;
		r = ctl_encode(frame, sizeof(frame), CTL_STDIN_EOF, 0, ids[i], NULL, 0);
		if (r < 0 || vm_send_frame(vm, frame, (size_t)r) < 0)
			return -1;
	}
	while (left > 0) {
		int32_t code = -1;
		uint32_t sig = 0;
		const char *text;
		size_t tl;

		if ((r = vm_next_frame(vm, -1, &h, &p)) < 0) {
			fprintf(stderr, "agentgw vm-run: %s\n", agw_strerror(r));
			return -1;
		}
		if (h.type == CTL_STDOUT || h.type == CTL_STDERR) {
			if (write(h.type == CTL_STDOUT ? 1 : 2, p, h.len) < 0)
				worst = AGW_MAX(worst, 1);
		} else if (h.type == CTL_EXIT && ctl_exit_decode(p, h.len, &code, &sig) == 0) {
			left--;
			if (verbose)
				fprintf(stderr, "vm-run: exec %u: exit %d signal %u\n", h.id, code,
					sig);
			worst = AGW_MAX(worst, sig ? 128 + (int)sig : code);
		} else if (h.type == CTL_ERROR &&
			   ctl_error_decode(p, h.len, &code, &text, &tl) == 0) {
			left--;
			fprintf(stderr, "agentgw vm-run: %.*s\n", (int)tl, text);
			worst = AGW_MAX(worst, 127);
		}
		vm_frame_done(vm, &h);
	}
	return worst;
}

static int run_one(struct vm *vm, const char *const *argv, int in_fd, int pty, int verbose)
{
	int64_t t0 = agw_mono_us();
	struct vm_exit ex;
	int r = vm_exec(vm, argv, NULL, "/", pty, in_fd, 1, 2, &ex);

	if (r < 0) {
		fprintf(stderr, "agentgw vm-run: exec %s: %s\n", argv[0], agw_strerror(r));
		return -1;
	}
	if (ex.err) {
		fprintf(stderr, "agentgw vm-run: %s\n", ex.text);
		return 127;
	}
	if (verbose)
		fprintf(stderr, "vm-run: exec done in %.0f ms: exit %d signal %d\n",
			(double)(agw_mono_us() - t0) / 1000, ex.code, ex.sig);
	return ex.sig ? 128 + ex.sig : ex.code;
}

int cmd_vm_run(int argc, char **argv)
{
	const char *image = NULL, *state = NULL, *accel = NULL, *bad = NULL, *e[VM_RUN_MAX_E];
	enum qemu_accel want;
	struct accel_verdict av;
	struct vm_cfg cfg = {.tap_fd = -1};
	char tmpstate[256], err[4096], disk_name[32] = "", disk[1024], append[1024];
	struct img_info info;
	struct vm *vm = NULL;
	int verbose = 0, fwd_in = 0, pty = 0, par = 0, ne = 0, i, r, rc = 0, resumed = 0;
	char **cmd = NULL;
	int64_t t0;

	if (cli_wants_help(argc, argv)) {
		vm_usage(stdout);
		return CLI_OK;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--") == 0) {
			cmd = argv + i + 1;
			break;
		} else if (strcmp(a, "-v") == 0) {
			verbose = 1;
		} else if (strcmp(a, "-i") == 0) {
			fwd_in = 1;
		} else if (strcmp(a, "-t") == 0) {
			pty = 1;
		} else if (strcmp(a, "-P") == 0) {
			par = 1;
		} else if (v && strcmp(a, "-e") == 0 && ne < VM_RUN_MAX_E) {
			e[ne++] = v;
			i++;
		} else if (v && strcmp(a, "--image") == 0) {
			image = v;
			i++;
		} else if (v && strcmp(a, "--state-dir") == 0) {
			state = v;
			i++;
		} else if (v && strcmp(a, "--mem") == 0) {
			cfg.mem_mb = (unsigned int)strtoul(v, NULL, 10);
			i++;
		} else if (v && strcmp(a, "--cpus") == 0) {
			cfg.vcpus = (unsigned int)strtoul(v, NULL, 10);
			i++;
		} else if (v && strcmp(a, "--accel") == 0) {
			accel = v;
			i++;
		} else if (v && strcmp(a, "--guest-dir") == 0) {
			cfg.guest_dir = v;
			i++;
		} else if (v && strcmp(a, "--append") == 0) {
			cfg.append = v;
			i++;
		} else if (v && strcmp(a, "--virtiofs") == 0) {
			cfg.vfs_sock = v;
			i++;
		} else {
			fprintf(stderr,
				"agentgw vm-run: unknown option '%s' (see 'agentgw vm-run --help')\n",
				a);
			return CLI_USAGE;
		}
	}
	if (!ne && (!cmd || !cmd[0])) {
		vm_usage(stderr);
		return CLI_USAGE;
	}
	if (accel_requested(accel, NULL, &want, &bad) < 0) {
		fprintf(stderr, "agentgw vm-run: %s: unknown accelerator '%s'; use auto, kvm or tcg\n",
			bad, accel ? accel : getenv("AGENTGW_ACCEL"));
		return CLI_USAGE;
	}
	if ((r = img_find(NULL, image, &info)) < 0) {
		fprintf(stderr, "agentgw vm-run: no guest image%s%s; run 'agentgw image build'\n",
			image ? " in " : "", image ? image : "");
		return CLI_FAIL;
	}
	if ((r = accel_resolve(want, info.dir, info.kernel, info.initrd, &av)) < 0) {
		fprintf(stderr, "agentgw vm-run: choosing the accelerator: %s\n", av.why);
		return CLI_FAIL;
	}
	accel_note(want, &av, err, sizeof(err));
	if (err[0])
		fprintf(stderr, "agentgw vm-run: %s\n", err);
	cfg.accel = av.accel;
	if (!state) {
		snprintf(tmpstate, sizeof(tmpstate), "/tmp/agentgw-vm.%d", (int)getpid());
		state = tmpstate;
	}
	cfg.state_dir = state;
	cfg.kernel = info.kernel;
	cfg.initrd = info.initrd;
	if (info.rootfs[0]) {
		/* A root filesystem: a throwaway writable disk, as 'up' makes one. */
		snprintf(disk_name, sizeof(disk_name), "vmrun-%d", (int)getpid());
		if ((r = img_disk_prepare(disk_name, &info, 1024, disk, sizeof(disk), &resumed, err,
					  sizeof(err))) < 0) {
			fprintf(stderr, "agentgw vm-run: writable disk: %s\n",
				err[0] ? err : agw_strerror(r));
			return CLI_FAIL;
		}
		snprintf(append, sizeof(append), "%s agentgw.root=agwroot agentgw.rw=agwrw",
			 cfg.append ? cfg.append : "");
		cfg.append = append;
		cfg.root_disk = info.rootfs;
		cfg.rw_disk = disk;
	}
	signal(SIGPIPE, SIG_IGN);
	t0 = agw_mono_us();
	if ((r = vm_start(&cfg, &vm, err, sizeof(err))) < 0) {
		fprintf(stderr, "agentgw vm-run: %s\n", err[0] ? err : agw_strerror(r));
		rc = CLI_FAIL;
		goto out;
	}
	if (verbose)
		fprintf(stderr, "vm-run: accelerator %s; guest ready in %.0f ms\n",
			qemu_accel_name(vm_accel(vm)), (double)vm_boot_us(vm) / 1000);
	if (par && ne) {
		rc = run_parallel(vm, e, ne, verbose);
		if (rc < 0)
			goto stop;
		ne = 0;
	}
	for (i = 0; i < ne; i++) {
		const char *sh[] = {"/bin/sh", "-c", e[i], NULL};

		rc = run_one(vm, sh, -1, 0, verbose);
		if (rc < 0)
			goto stop;
		if (i == 0 && verbose)
			fprintf(stderr, "vm-run: first exec done %.0f ms after start\n",
				(double)(agw_mono_us() - t0) / 1000);
	}
	if (cmd && cmd[0]) {
		rc = run_one(vm, (const char *const *)cmd, fwd_in ? 0 : -1, pty, verbose);
		if (ne == 0 && verbose)
			fprintf(stderr, "vm-run: first exec done %.0f ms after start\n",
				(double)(agw_mono_us() - t0) / 1000);
	}
stop:
	if (verbose)
		fprintf(stderr, "vm-run: qemu rss %ld kB (peak %ld kB)\n",
			qemu_rss_kb(vm_qemu_pid(vm), "VmRSS:"),
			qemu_rss_kb(vm_qemu_pid(vm), "VmHWM:"));
	t0 = agw_mono_us();
	r = vm_stop(vm, 5000);
	if (verbose)
		fprintf(stderr, "vm-run: %s in %.0f ms\n", r ? "forced stop" : "powered off",
			(double)(agw_mono_us() - t0) / 1000);
	if (rc < 0)
		rc = CLI_FAIL;
out:
	vm_free(vm);
	if (disk_name[0])
		img_disk_remove(disk_name);
	if (state == tmpstate) {
		char p[300];

		snprintf(p, sizeof(p), "%s/console.log", state);
		if (rc == CLI_FAIL && verbose)
			fprintf(stderr, "vm-run: console log kept in %s\n", p);
		else {
			unlink(p);
			snprintf(p, sizeof(p), "%s/qemu.log", state);
			unlink(p);
			snprintf(p, sizeof(p), "%s/root", state);
			rmdir(p);
			rmdir(state);
		}
	}
	return rc;
}
