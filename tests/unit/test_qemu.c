// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for the QEMU command line (vmctl/qemu.h): the microvm machine,
 * PVH kernel and initrd, control and QMP sockets, the tap NIC, TCG timer
 * parameters, and refusal of paths QEMU would split at commas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/qemu.h"

static struct qemu_argv qa;

static const char *after(const char *opt)
{
	for (int i = 0; i + 1 < qa.argc; i++)
		if (strcmp(qa.argv[i], opt) == 0)
			return qa.argv[i + 1];
	return NULL;
}

static int count(const char *opt)
{
	int n = 0;

	for (int i = 0; i < qa.argc; i++)
		n += strcmp(qa.argv[i], opt) == 0;
	return n;
}

static struct qemu_cfg base(void)
{
	struct qemu_cfg c = {
	    .kernel = "/img/vmlinux",
	    .initrd = "/img/initramfs.cpio",
	    .append = "agentgw.ip=10.77.0.2/30 agentgw.gw=10.77.0.1",
	    .accel = QEMU_ACCEL_TCG,
	    .tap_fd = -1,
	    .ctl_sock = "/run/agentgw/x/ctl.sock",
	    .qmp_sock = "/run/agentgw/x/qmp.sock",
	    .console_log = "/run/agentgw/x/console.log",
	};
	return c;
}

static void test_tcg_no_nic(void **state)
{
	struct qemu_cfg c = base();

	(void)state;
	assert_int_equal(qemu_build_argv(&c, &qa), 0);
	assert_null(qa.argv[qa.argc]);
	assert_string_equal(qa.argv[0], "qemu-system-x86_64");
	assert_string_equal(after("-M"), "microvm,acpi=on");
	assert_string_equal(after("-accel"), "tcg,tb-size=256");
	assert_string_equal(after("-cpu"), "max");
	assert_string_equal(after("-m"), "512");
	assert_string_equal(after("-smp"), "1");
	assert_string_equal(after("-kernel"), "/img/vmlinux");
	assert_string_equal(after("-initrd"), "/img/initramfs.cpio");
	assert_int_equal(count("-no-reboot"), 1);
	assert_int_equal(count("-nodefaults"), 1);
	assert_non_null(strstr(after("-append"), "console=ttyS0"));
	assert_non_null(strstr(after("-append"), "no_timer_check"));
	assert_non_null(strstr(after("-append"), "agentgw.ip=10.77.0.2/30 agentgw.gw=10.77.0.1"));
	assert_string_equal(after("-qmp"), "unix:/run/agentgw/x/qmp.sock,server=on,wait=off");
	assert_int_equal(count("-netdev"), 0);
	/* The control port: QEMU is the client of the host's socket. */
	for (int i = 0; i < qa.argc; i++)
		if (strncmp(qa.argv[i], "socket,", 7) == 0)
			assert_string_equal(
			    qa.argv[i], "socket,id=ctl0,path=/run/agentgw/x/ctl.sock,server=off");
	for (int i = 0; i < qa.argc; i++)
		if (strncmp(qa.argv[i], "virtserialport", 14) == 0)
			assert_non_null(strstr(qa.argv[i], "name=agentgw.ctl"));
}

static void test_kvm_with_tap(void **state)
{
	struct qemu_cfg c = base();

	(void)state;
	c.accel = QEMU_ACCEL_KVM;
	c.tap_fd = 7;
	c.mem_mb = 1024;
	c.vcpus = 2;
	assert_int_equal(qemu_build_argv(&c, &qa), 0);
	assert_string_equal(after("-accel"), "kvm");
	assert_string_equal(after("-cpu"), "host");
	assert_string_equal(after("-m"), "1024");
	assert_string_equal(after("-smp"), "2");
	assert_string_equal(after("-netdev"), "tap,id=net0,fd=7,vhost=off");
	assert_null(strstr(after("-append"), "tsc_early_khz"));
	assert_int_equal(qa.accel, QEMU_ACCEL_KVM);
}

static void test_refuses(void **state)
{
	struct qemu_cfg c = base();

	(void)state;
	c.kernel = "/img,evil/vmlinux";
	assert_int_equal(qemu_build_argv(&c, &qa), -AGW_EINVAL);
	c = base();
	c.ctl_sock = NULL;
	assert_int_equal(qemu_build_argv(&c, &qa), -AGW_EINVAL);
	c = base();
	c.append = "a=\"b\"";
	assert_int_equal(qemu_build_argv(&c, &qa), -AGW_EINVAL);
	c = base();
	{
		static char big[QEMU_ARG_STORE];

		memset(big, 'a', sizeof(big) - 1);
		c.append = big;
		assert_int_equal(qemu_build_argv(&c, &qa), -AGW_ETOOBIG);
	}
}

/* virtio-fs: guest RAM from a shared memfd of the guest's size, the
 * vhost-user socket as a chardev, the device with its tag and ring size. */
static void test_virtiofs(void **state)
{
	struct qemu_cfg c = base();

	(void)state;
	c.mem_mb = 768;
	c.vfs_sock = "/run/agentgw/x/vm/vfs.sock";
	assert_int_equal(qemu_build_argv(&c, &qa), 0);
	assert_string_equal(after("-M"), "microvm,acpi=on,memory-backend=mem");
	assert_string_equal(after("-object"), "memory-backend-memfd,id=mem,size=768M,share=on");
	assert_int_equal(count("-chardev"), 3); /* console, control port, vhost-user */
	{
		int found = 0;

		for (int i = 0; i + 1 < qa.argc; i++) {
			found += strcmp(qa.argv[i + 1],
					"socket,id=vfs0,path=/run/agentgw/x/vm/vfs.sock") == 0;
			found += strcmp(qa.argv[i + 1],
					"vhost-user-fs-device,chardev=vfs0,tag=workspace,"
					"queue-size=1024") == 0;
		}
		assert_int_equal(found, 2);
	}
	/* without it: QEMU's own memory, no such device */
	c = base();
	assert_int_equal(qemu_build_argv(&c, &qa), 0);
	assert_int_equal(count("-object"), 0);
	/* a comma would end QEMU's option value */
	c.vfs_sock = "/run/a,b/vfs.sock";
	assert_int_equal(qemu_build_argv(&c, &qa), -AGW_EINVAL);
}

static void test_disks(void **state)
{
	struct qemu_cfg c = base();
	int drives = 0;

	(void)state;
	c.root_disk = "/img/rootfs.ext4";
	c.rw_disk = "/var/lib/agentgw/sandboxes/x/rw.img";
	assert_int_equal(qemu_build_argv(&c, &qa), 0);
	assert_int_equal(count("-drive"), 2);
	for (int i = 0; i + 1 < qa.argc; i++) {
		if (strcmp(qa.argv[i], "-drive") != 0)
			continue;
		drives++;
		if (strstr(qa.argv[i + 1], "id=root"))
			assert_string_equal(qa.argv[i + 1], "if=none,id=root,file=/img/rootfs.ext4,"
							    "format=raw,readonly=on");
		else
			assert_non_null(strstr(
			    qa.argv[i + 1], "file=/var/lib/agentgw/sandboxes/x/rw.img,format=raw"));
	}
	assert_int_equal(drives, 2);
	for (int i = 0; i < qa.argc; i++)
		if (strncmp(qa.argv[i], "virtio-blk-device", 17) == 0)
			assert_true(strstr(qa.argv[i], "serial=agwroot") ||
				    strstr(qa.argv[i], "serial=agwrw"));
	/* Without disks: none; with one of the two, or a comma: refused. */
	c = base();
	assert_int_equal(qemu_build_argv(&c, &qa), 0);
	assert_int_equal(count("-drive"), 0);
	c.root_disk = "/img/rootfs.ext4";
	assert_int_equal(qemu_build_argv(&c, &qa), -AGW_EINVAL);
	c.rw_disk = "/x,y/rw.img";
	assert_int_equal(qemu_build_argv(&c, &qa), -AGW_EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(qemu_accel_name(QEMU_ACCEL_KVM), "kvm");
	assert_string_equal(qemu_accel_name(QEMU_ACCEL_TCG), "tcg");
	assert_true(qemu_kvm_usable() == 0 || qemu_kvm_usable() == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcg_no_nic), cmocka_unit_test(test_kvm_with_tap),
	    cmocka_unit_test(test_refuses),    cmocka_unit_test(test_disks),
	    cmocka_unit_test(test_names),      cmocka_unit_test(test_virtiofs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
