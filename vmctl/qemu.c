// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * QEMU microvm command line and process start. The kernel command line
 * makes a panic reboot at once and -no-reboot turns any reboot into QEMU's
 * exit, so a guest that cannot go on never lingers.
 */
#include "qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"

const char *qemu_kvm_dev(void)
{
	const char *d = getenv("AGENTGW_KVM_DEV");

	return d && d[0] == '/' ? d : "/dev/kvm";
}

int qemu_kvm_usable(void)
{
	int fd = open(qemu_kvm_dev(), O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

const char *qemu_binary(void)
{
	const char *b = getenv("AGENTGW_QEMU");

	return b && *b ? b : "qemu-system-x86_64";
}

const char *qemu_accel_name(enum qemu_accel a)
{
	return a == QEMU_ACCEL_KVM ? "kvm" : a == QEMU_ACCEL_TCG ? "tcg" : "auto";
}

int qemu_host_tsc_khz(void)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	double mhz = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "cpu MHz", 7) == 0 && sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	fclose(f);
	return mhz > 100 && mhz < 100000 ? (int)(mhz * 1000) : 0;
}

static int add(struct qemu_argv *qa, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add(struct qemu_argv *qa, const char *fmt, ...)
{
	size_t room = sizeof(qa->store) - qa->used;
	va_list ap;
	int n;

	if (qa->argc >= QEMU_MAX_ARGS)
		return -AGW_ETOOBIG;
	va_start(ap, fmt);
	n = vsnprintf(qa->store + qa->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -AGW_ETOOBIG;
	qa->argv[qa->argc++] = qa->store + qa->used;
	qa->argv[qa->argc] = NULL;
	qa->used += (size_t)n + 1;
	return 0;
}

/* QEMU option values are comma-separated: a path with a comma cannot be passed. */
static int safe_path(const char *p)
{
	return p && *p && !strchr(p, ',');
}

/* The root filesystem's disks; agentgw-init finds them by serial. */
static int qemu_add_drives(const struct qemu_cfg *cfg, struct qemu_argv *qa)
{
	int r = 0;

	if (!cfg->root_disk && !cfg->rw_disk)
		return 0;
	if (!safe_path(cfg->root_disk) || !safe_path(cfg->rw_disk))
		return -AGW_EINVAL;
	r |= add(qa, "-drive");
	r |= add(qa, "if=none,id=root,file=%s,format=raw,readonly=on", cfg->root_disk);
	r |= add(qa, "-device");
	r |= add(qa, "virtio-blk-device,drive=root,serial=agwroot");
	r |= add(qa, "-drive");
	r |= add(qa, "if=none,id=rw,file=%s,format=raw,discard=unmap", cfg->rw_disk);
	r |= add(qa, "-device");
	r |= add(qa, "virtio-blk-device,drive=rw,serial=agwrw");
	return r ? -AGW_ETOOBIG : 0;
}

int qemu_build_argv(const struct qemu_cfg *cfg, struct qemu_argv *qa)
{
	enum qemu_accel accel = cfg->accel;
	int r = 0;

	memset(qa, 0, sizeof(*qa));
	if (!safe_path(cfg->kernel) || !safe_path(cfg->initrd) || !safe_path(cfg->ctl_sock) ||
	    !safe_path(cfg->qmp_sock) || !safe_path(cfg->console_log) ||
	    (cfg->vfs_sock && !safe_path(cfg->vfs_sock)))
		return -AGW_EINVAL;
	if (cfg->append && strchr(cfg->append, '"'))
		return -AGW_EINVAL;
	if (accel == QEMU_ACCEL_AUTO)
		accel = qemu_kvm_usable() ? QEMU_ACCEL_KVM : QEMU_ACCEL_TCG;
	qa->accel = accel;
	r |= add(qa, "%s", cfg->binary ? cfg->binary : qemu_binary());
	r |= add(qa, "-M");
	if (cfg->vfs_sock) {
		/* vhost-user maps guest memory in the fs child: it must be a
		 * shared memfd, not QEMU's private anonymous memory. */
		r |= add(qa, "microvm,acpi=on,memory-backend=mem");
		r |= add(qa, "-object");
		r |= add(qa, "memory-backend-memfd,id=mem,size=%uM,share=on",
			 cfg->mem_mb ? cfg->mem_mb : 512);
	} else {
		r |= add(qa, "microvm,acpi=on");
	}
	r |= add(qa, "-accel");
	/*
	 * TCG's translation cache defaults to 1 GiB, and with transparent huge
	 * pages it is resident as soon as it is touched: bound it, so QEMU fits
	 * the sandbox's cgroup (vmctl/cg.h; measured: a guest under memory
	 * pressure took QEMU past 1.5 GiB with the default).
	 */
	if (accel == QEMU_ACCEL_TCG)
		r |= add(qa, "tcg,tb-size=%d", QEMU_TCG_TB_MIB);
	else
		r |= add(qa, "%s", qemu_accel_name(accel));
	r |= add(qa, "-cpu");
	r |= add(qa, "%s", accel == QEMU_ACCEL_KVM ? "host" : "max");
	r |= add(qa, "-m");
	r |= add(qa, "%u", cfg->mem_mb ? cfg->mem_mb : 512);
	r |= add(qa, "-smp");
	r |= add(qa, "%u", cfg->vcpus ? cfg->vcpus : 1);
	r |= add(qa, "-nodefaults");
	r |= add(qa, "-no-user-config");
	r |= add(qa, "-nographic");
	r |= add(qa, "-no-reboot");
	if (cfg->sandbox) {
		/* QEMU's own seccomp filter, on top of the jail (vmctl/jail.h). */
		r |= add(qa, "-sandbox");
		r |= add(qa, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	}
	r |= add(qa, "-kernel");
	r |= add(qa, "%s", cfg->kernel);
	r |= add(qa, "-initrd");
	r |= add(qa, "%s", cfg->initrd);
	r |= add(qa, "-append");
	if (accel == QEMU_ACCEL_TCG) {
		/*
		 * Under TCG on a busy host the guest fails to calibrate the TSC
		 * against the PIT and hangs before init (measured: most boots
		 * at load 4 on 2 cores). TCG's TSC runs at the host's rate, so
		 * hand that over and skip the timer check.
		 */
		int khz = qemu_host_tsc_khz();

		if (khz)
			r |= add(qa,
				 "console=ttyS0 quiet panic=-1 no_timer_check tsc_early_khz=%d %s",
				 khz, cfg->append ? cfg->append : "");
		else
			r |= add(qa, "console=ttyS0 quiet panic=-1 no_timer_check %s",
				 cfg->append ? cfg->append : "");
	} else {
		r |= add(qa, "console=ttyS0 quiet panic=-1 %s", cfg->append ? cfg->append : "");
	}
	r |= add(qa, "-chardev");
	r |= add(qa, "file,id=con0,path=%s", cfg->console_log);
	r |= add(qa, "-serial");
	r |= add(qa, "chardev:con0");
	r |= add(qa, "-device");
	r |= add(qa, "virtio-serial-device,max_ports=2");
	r |= add(qa, "-chardev");
	/* The host listens and QEMU connects: the guest's writes never block. */
	r |= add(qa, "socket,id=ctl0,path=%s,server=off", cfg->ctl_sock);
	r |= add(qa, "-device");
	r |= add(qa, "virtserialport,chardev=ctl0,name=agentgw.ctl");
	r |= add(qa, "-qmp");
	r |= add(qa, "unix:%s,server=on,wait=off", cfg->qmp_sock);
	if (cfg->tap_fd >= 0) {
		r |= add(qa, "-netdev");
		r |= add(qa, "tap,id=net0,fd=%d,vhost=off", cfg->tap_fd);
		r |= add(qa, "-device");
		r |= add(qa, "virtio-net-device,netdev=net0,mac=%s",
			 cfg->mac ? cfg->mac : "52:54:00:77:00:02");
	}
	if (cfg->vfs_sock) {
		r |= add(qa, "-chardev");
		r |= add(qa, "socket,id=vfs0,path=%s", cfg->vfs_sock);
		r |= add(qa, "-device");
		/* The largest ring: a 1 MiB request takes 256 page descriptors. */
		r |= add(qa, "vhost-user-fs-device,chardev=vfs0,tag=workspace,queue-size=1024");
	}
	if (r)
		return -AGW_ETOOBIG;
	return qemu_add_drives(cfg, qa);
}
