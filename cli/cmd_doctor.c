// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw doctor [--json]`: checks that this machine can run sandboxes and
 * says how to fix what is missing. Each check tries the real thing (opens
 * the device, creates and deletes the sandbox's nftables table in a scratch
 * network namespace, binds an NFLOG group there, calls openat2, runs QEMU,
 * reads the image) and prints one line: ok, warn (sandboxes run, with a
 * handicap) or FAIL (they cannot run), with a fix under each that is not
 * ok. Exit 0 when nothing failed, 1 otherwise. The host's own network,
 * ruleset and files are never changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "cli.h"
#include "gateway/net/nlog.h"
#include "vmctl/accel.h"
#include "vmctl/cg.h"
#include "vmctl/fw.h"
#include "vmctl/img.h"
#include "supervisor/sbx.h"
#include "supervisor/sup.h"

#define DOCTOR_MSG_MAX 512
#define DOCTOR_OUT_MAX 16384
#define DOCTOR_TIMEOUT_S 10
#define DOCTOR_KVM_API 12
#define DOCTOR_QEMU_MIN_MAJOR 7
#define DOCTOR_NFLOG_GROUP 4242

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_check {
	const char *name;
	void (*run)(struct doctor_check *c);
	enum doctor_status status;
	char msg[DOCTOR_MSG_MAX];
	char fix[DOCTOR_MSG_MAX];
};

static const char *const doctor_status_names[] = {"ok", "warn", "FAIL"};

__attribute__((format(printf, 4, 5))) static void
doctor_set(struct doctor_check *c, enum doctor_status st, const char *fix, const char *fmt, ...)
{
	va_list ap;

	c->status = st;
	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	snprintf(c->fix, sizeof(c->fix), "%s", fix ? fix : "");
}

static void doctor_root(struct doctor_check *c)
{
	uid_t euid = geteuid();

	if (euid == 0)
		doctor_set(c, DOCTOR_OK, NULL, "running as root (euid 0)");
	else
		doctor_set(c, DOCTOR_FAIL, "run with sudo: sudo agentgw ...",
			   "not root (euid %u): the supervisor creates the tap and the nftables "
			   "table",
			   (unsigned)euid);
}

/*
 * /dev/kvm opens: only a boot of the guest shows that KVM runs it. Reads
 * the probe's cached verdict for the current image, or runs the probe (as
 * `up` would) when there is none.
 */
static void doctor_kvm_boot(struct doctor_check *c, int ver)
{
	static const char fix_tcg[] = "nothing to do: sandboxes run under TCG (software, slower); "
				      "on a host where KVM works, 'rm' the cached verdict to "
				      "probe again";
	char key[ACCEL_KEY_MAX];
	struct accel_verdict v;
	struct img_info img;

	if (img_find(NULL, NULL, &img) < 0) {
		doctor_set(c, DOCTOR_WARN, "run 'agentgw image build', then doctor again",
			   "/dev/kvm opens (API version %d), but there is no guest image to "
			   "probe a KVM boot with; 'up' probes on first use",
			   ver);
		return;
	}
	if (accel_key(img.dir, key, sizeof(key)) < 0 ||
	    (accel_cache_read(key, &v) < 0 && (geteuid() != 0 ||
					       accel_probe(key, img.kernel, img.initrd, 0, &v) < 0))) {
		doctor_set(c, DOCTOR_WARN, "run 'sudo agentgw doctor' to probe a KVM boot",
			   "/dev/kvm opens (API version %d); whether it boots the guest is not "
			   "probed yet",
			   ver);
		return;
	}
	if (v.accel == QEMU_ACCEL_KVM)
		doctor_set(c, DOCTOR_OK, NULL, "KVM boots the guest (%s%s)",
			   v.cached ? "cached verdict: " : "", v.why);
	else
		doctor_set(c, DOCTOR_WARN, fix_tcg,
			   "/dev/kvm opens but cannot boot the guest (%s%s); 'up' uses TCG%s%s",
			   v.cached ? "cached verdict: " : "probe: ", v.why,
			   v.cache[0] ? "; verdict in " : "", v.cache);
}

static void doctor_kvm(struct doctor_check *c)
{
	static const char fix[] = "enable virtualization (VT-x/AMD-V) in firmware, load kvm_intel "
				  "or kvm_amd (modprobe kvm_intel), or add the user to the kvm "
				  "group";
	const char *tcg = "microvms run under TCG (software emulation, ~10x slower boot)";
	int fd, ver;

	fd = open(qemu_kvm_dev(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		doctor_set(c, DOCTOR_WARN, fix, "no usable %s (%s): %s", qemu_kvm_dev(),
			   strerror(errno), tcg);
		return;
	}
	ver = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (ver < 0)
		doctor_set(c, DOCTOR_WARN, fix, "no usable /dev/kvm (KVM_GET_API_VERSION: %s): %s",
			   strerror(errno), tcg);
	else if (ver != DOCTOR_KVM_API)
		doctor_set(c, DOCTOR_WARN, fix, "no usable /dev/kvm (API version %d, not %d): %s",
			   ver, DOCTOR_KVM_API, tcg);
	else
		doctor_kvm_boot(c, ver);
	close(fd);
}

static void doctor_tun(struct doctor_check *c)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		close(fd);
		doctor_set(c, DOCTOR_OK, NULL, "/dev/net/tun opens read-write");
		return;
	}
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		doctor_set(c, DOCTOR_FAIL,
			   "modprobe tun (or: mkdir -p /dev/net && mknod /dev/net/tun c 10 200)",
			   "/dev/net/tun: %s: sandboxes need a tap device", strerror(errno));
	else
		doctor_set(c, DOCTOR_FAIL, "run with sudo",
			   "/dev/net/tun: %s: sandboxes need a tap device", strerror(errno));
}

/*
 * Runs fn in a forked child inside a new, empty network namespace (with a
 * new user namespace when not root, so the check works unprivileged where
 * the kernel allows it). *stage is 0 when fn ran, 1 when the namespace could
 * not be made. Returns fn's result, or -errno.
 */
static int doctor_in_netns(int (*fn)(void), int *stage)
{
	int p[2] = {-1, -1};
	int res[2] = {1, -EIO};
	int st, err = 0;
	pid_t pid;
	ssize_t n;

	*stage = 1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		/* Library code logs its own errors; the parent explains them. */
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		alarm(DOCTOR_TIMEOUT_S);
		close(p[0]);
		if (unshare(geteuid() == 0 ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET) < 0) {
			res[0] = 1;
			res[1] = -errno;
		} else {
			res[0] = 0;
			res[1] = fn();
		}
		n = write(p[1], res, sizeof(res));
		_exit(n == (ssize_t)sizeof(res) ? 0 : 1);
	}
	close(p[1]);
	p[1] = -1;
	do
		n = read(p[0], res, sizeof(res));
	while (n < 0 && errno == EINTR);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(res)) {
		err = WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? -ETIMEDOUT : -EIO;
		*stage = 0;
		goto out;
	}
	*stage = res[0];
	err = res[1];
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return err;
}

/* In the scratch namespace: the very table `up` installs, then gone. */
static int doctor_nft_child(void)
{
	struct fw_config fc = {
	    .name = "doctor",
	    .iface = "agwdoctor0",
	    .dns_port = SUP_DNS_PORT,
	    .proxy_port = SUP_PROXY_PORT,
	    .p9_port = SUP_P9_PORT,
	    .nflog_group = DOCTOR_NFLOG_GROUP,
	};
	int r;

	fc.gw_addr.s_addr = htonl(0x0aff0001);	  /* 10.255.0.1, only in this namespace */
	fc.guest_addr.s_addr = htonl(0x0aff0002); /* 10.255.0.2 */
	r = fw_apply(&fc);
	if (r < 0)
		return r;
	if (!fw_exists(fc.name))
		return -AGW_ENOTFOUND;
	r = fw_remove(fc.name);
	if (r < 0)
		return r;
	return fw_exists(fc.name) ? -EEXIST : 0;
}

static int doctor_nflog_child(void)
{
	struct nlog *nl = NULL;
	int r = nlog_open(DOCTOR_NFLOG_GROUP, &nl);

	nlog_free(nl);
	return r;
}

static void doctor_netns_unavailable(struct doctor_check *c, int err)
{
	if (geteuid() == 0)
		doctor_set(c, DOCTOR_FAIL, "check that the kernel has CONFIG_NET_NS",
			   "cannot make a scratch network namespace to test in: %s",
			   agw_strerror(err));
	else
		doctor_set(c, DOCTOR_WARN, "run agentgw doctor with sudo to check it",
			   "not checked: no scratch network namespace without root (%s)",
			   agw_strerror(err));
}

static void doctor_nft(struct doctor_check *c)
{
	int stage, r = doctor_in_netns(doctor_nft_child, &stage);

	if (stage) {
		doctor_netns_unavailable(c, r);
	} else if (r == 0) {
		doctor_set(c, DOCTOR_OK, NULL,
			   "nf_tables works: the sandbox table (nat redirect, fib, ct, log) was "
			   "created and deleted in a scratch network namespace");
	} else if (r == -ENOENT || r == -EAFNOSUPPORT || r == -EPROTONOSUPPORT ||
		   r == -EOPNOTSUPP) {
		doctor_set(c, DOCTOR_FAIL,
			   "modprobe nf_tables nft_nat nft_redir nft_fib_inet nft_ct nft_log "
			   "(install nftables; the kernel needs CONFIG_NF_TABLES and friends)",
			   "the kernel refused the sandbox table: %s (an nf_tables module is "
			   "missing)",
			   agw_strerror(r));
	} else if (r == -EPERM) {
		doctor_set(c, DOCTOR_FAIL, "run with sudo",
			   "the kernel refused the sandbox table: %s", agw_strerror(r));
	} else {
		doctor_set(c, DOCTOR_FAIL, "modprobe nf_tables; install nftables",
			   "the sandbox table could not be created: %s", agw_strerror(r));
	}
}

static void doctor_nflog(struct doctor_check *c)
{
	int stage, r = doctor_in_netns(doctor_nflog_child, &stage);

	if (stage)
		doctor_netns_unavailable(c, r);
	else if (r == 0)
		doctor_set(c, DOCTOR_OK, NULL,
			   "nfnetlink_log works: an NFLOG group was bound in a scratch network "
			   "namespace (dropped packets are audited)");
	else
		doctor_set(c, DOCTOR_WARN, "modprobe nfnetlink_log",
			   "cannot bind an NFLOG group: %s: dropped packets will not be audited",
			   agw_strerror(r));
}

static void doctor_openat2(struct doctor_check *c)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	long fd;

	if (root < 0) {
		doctor_set(c, DOCTOR_FAIL, "check the process's mount namespace", "open /: %s",
			   strerror(errno));
		return;
	}
	fd = syscall(SYS_openat2, root, ".", &how, sizeof(how));
	if (fd >= 0) {
		close((int)fd);
		doctor_set(c, DOCTOR_OK, NULL,
			   "openat2 with RESOLVE_BENEATH works (the workspace cannot be escaped)");
	} else if (errno == ENOSYS) {
		doctor_set(c, DOCTOR_FAIL, "upgrade to a Linux kernel >= 5.6",
			   "no openat2 system call (kernel older than 5.6): the fs gateway "
			   "needs it");
	} else {
		doctor_set(c, DOCTOR_FAIL,
			   "allow openat2 in the seccomp profile of the container running agentgw",
			   "openat2 failed: %s", strerror(errno));
	}
	close(root);
}

/*
 * Runs argv with stdout and stderr into out (NUL-terminated, cut at cap),
 * killed after DOCTOR_TIMEOUT_S. Returns the exit status (0..255), or -errno
 * when it could not run (-ENOENT: not found), or -ETIMEDOUT.
 */
static int doctor_run(char *const argv[], char *out, size_t cap)
{
	int p[2] = {-1, -1};
	size_t used = 0;
	int st, err;
	pid_t pid;
	ssize_t n;
	char sink[512];

	out[0] = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		alarm(DOCTOR_TIMEOUT_S); /* survives execve */
		execvp(argv[0], argv);
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(p[1]);
	p[1] = -1;
	for (;;) {
		char *dst = used + 1 < cap ? out + used : sink;
		size_t room = used + 1 < cap ? cap - 1 - used : sizeof(sink);

		n = read(p[0], dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			used += (size_t)n;
	}
	out[used] = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(st))
		err = WTERMSIG(st) == SIGALRM ? -ETIMEDOUT : -EIO;
	else if (WEXITSTATUS(st) == 127)
		err = -ENOENT;
	else
		err = WEXITSTATUS(st);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return err;
}

static void doctor_qemu(struct doctor_check *c)
{
	static const char fix_install[] = "apt-get install qemu-system-x86";
	char *ver_argv[] = {"qemu-system-x86_64", "--version", NULL};
	char *mach_argv[] = {"qemu-system-x86_64", "-machine", "help", NULL};
	char *out = NULL, *v;
	int r, major = 0, minor = 0, micro = 0;

	out = malloc(DOCTOR_OUT_MAX);
	if (!out) {
		doctor_set(c, DOCTOR_FAIL, "", "%s", agw_strerror(-AGW_ENOMEM));
		return;
	}
	r = doctor_run(ver_argv, out, DOCTOR_OUT_MAX);
	if (r == -ENOENT) {
		doctor_set(c, DOCTOR_FAIL, fix_install, "qemu-system-x86_64 not found in PATH");
		goto out;
	}
	v = strstr(out, "version ");
	if (r != 0 || !v || sscanf(v, "version %d.%d.%d", &major, &minor, &micro) < 2) {
		doctor_set(c, DOCTOR_FAIL, fix_install,
			   "qemu-system-x86_64 --version did not work (%s): %.*s",
			   r < 0 ? agw_strerror(r) : "no version", (int)strcspn(out, "\n"), out);
		goto out;
	}
	r = doctor_run(mach_argv, out, DOCTOR_OUT_MAX);
	if (r != 0 || !strstr(out, "\nmicrovm ")) {
		doctor_set(c, DOCTOR_FAIL, fix_install,
			   "QEMU %d.%d.%d has no microvm machine type (qemu-system-x86_64 "
			   "-machine help)",
			   major, minor, micro);
		goto out;
	}
	if (major < DOCTOR_QEMU_MIN_MAJOR)
		doctor_set(c, DOCTOR_WARN,
			   "install QEMU >= 7.0 (Debian 12: apt-get install "
			   "qemu-system-x86)",
			   "QEMU %d.%d.%d is older than 7.0: microvm with acpi=on is tested with "
			   "7.2",
			   major, minor, micro);
	else
		doctor_set(c, DOCTOR_OK, NULL, "QEMU %d.%d.%d with the microvm machine type", major,
			   minor, micro);
out:
	free(out);
}

static void doctor_image(struct doctor_check *c)
{
	struct img_info *info = NULL;
	char cache[IMG_PATH_MAX], init[IMG_PATH_MAX];
	void *map = MAP_FAILED;
	struct stat sb;
	int fd = -1, r;

	info = calloc(1, sizeof(*info));
	if (!info) {
		doctor_set(c, DOCTOR_FAIL, "", "%s", agw_strerror(-AGW_ENOMEM));
		return;
	}
	if (img_default_cache_dir(cache, sizeof(cache)) < 0)
		snprintf(cache, sizeof(cache), "(path too long)");
	if (img_find(NULL, NULL, info) < 0) {
		if (img_default_init(init, sizeof(init)) < 0)
			doctor_set(c, DOCTOR_FAIL,
				   "make (builds agentgw-init), then agentgw image build",
				   "no guest image in %s, and no agentgw-init to build one", cache);
		else
			doctor_set(c, DOCTOR_FAIL, "agentgw image build (downloads ~70 MB once)",
				   "no guest image in %s", cache);
		goto out;
	}
	/* The kernel must boot through PVH; a stale or truncated build does not. */
	fd = open(info->kernel, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		doctor_set(c, DOCTOR_FAIL, "agentgw image build --force", "%s: %s", info->kernel,
			   strerror(errno));
		goto out;
	}
	if (sb.st_size == 0) {
		doctor_set(c, DOCTOR_FAIL, "agentgw image build --force", "%s is empty",
			   info->kernel);
		goto out;
	}
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		doctor_set(c, DOCTOR_FAIL, "agentgw image build --force", "%s: %s", info->kernel,
			   strerror(errno));
		goto out;
	}
	r = img_elf_has_pvh(map, (size_t)sb.st_size);
	if (r != 1)
		doctor_set(c, DOCTOR_FAIL, "agentgw image build --force",
			   "%s is not an ELF kernel with a PVH entry (%s)", info->kernel,
			   r < 0 ? agw_strerror(r) : "no PVH note");
	else
		doctor_set(c, DOCTOR_OK, NULL, "guest image %s (kernel %s)", info->dir,
			   info->kver[0] ? info->kver : "unknown version");
out:
	if (map != MAP_FAILED)
		munmap(map, (size_t)sb.st_size);
	if (fd >= 0)
		close(fd);
	free(info);
}

/*
 * Whether directory dir can be written to: it exists and is writable, or
 * its nearest existing ancestor is (so it can be created). Returns 0 or
 * -errno; where is set to the directory that was checked.
 */
static int doctor_dir_writable(const char *dir, char *where, size_t cap)
{
	char path[IMG_PATH_MAX];
	struct stat sb;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	for (;;) {
		snprintf(where, cap, "%s", path);
		if (stat(path, &sb) == 0) {
			if (!S_ISDIR(sb.st_mode))
				return -ENOTDIR;
			return access(path, W_OK | X_OK) == 0 ? 0 : -errno;
		}
		if (errno != ENOENT)
			return -errno;
		char *slash = strrchr(path, '/');
		if (!slash || strcmp(path, "/") == 0)
			return -ENOENT;
		slash[slash == path ? 1 : 0] = 0;
	}
}

/*
 * One check for a folder agentgw writes into (what names it for the user)
 * and, when file is not NULL, the file in it that must be writable if it
 * already exists.
 */
static void doctor_writable_dir(struct doctor_check *c, const char *what, const char *dir,
				const char *file)
{
	char where[IMG_PATH_MAX];
	struct stat sb;
	int exists = stat(dir, &sb) == 0;
	int r = doctor_dir_writable(dir, where, sizeof(where));

	if (r < 0) {
		doctor_set(c, DOCTOR_FAIL, "run with sudo (or fix the permissions of the folder)",
			   "%s: folder %s %s (%s: %s)", what, dir,
			   !exists	   ? "cannot be created"
			   : r == -ENOTDIR ? "is not a folder"
					   : "is not writable",
			   where, strerror(-r));
		return;
	}
	if (file && access(file, F_OK) == 0) {
		if (access(file, R_OK | W_OK) != 0)
			doctor_set(c, DOCTOR_FAIL, "run with sudo (or fix the file's permissions)",
				   "%s %s is not writable: %s", what, file, strerror(errno));
		else
			doctor_set(c, DOCTOR_OK, NULL, "%s %s is writable", what, file);
		return;
	}
	if (file)
		doctor_set(c, DOCTOR_OK, NULL, "%s %s will be created (its folder %s)", what, file,
			   exists ? "is writable" : "can be created");
	else
		doctor_set(c, DOCTOR_OK, NULL, "%s: folder %s %s", what, dir,
			   exists ? "is writable" : "can be created");
}

static void doctor_audit(struct doctor_check *c)
{
	char db[IMG_PATH_MAX], dir[IMG_PATH_MAX];
	char *slash;
	int r = aud_default_db_path(db, sizeof(db));

	if (r < 0) {
		doctor_set(c, DOCTOR_FAIL, "set HOME, or give audit.database in the policy",
			   "no default audit database path: %s", agw_strerror(r));
		return;
	}
	snprintf(dir, sizeof(dir), "%s", db);
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = 0;
	doctor_writable_dir(c, "audit database", dir, db);
}

static void doctor_cgroup(struct doctor_check *c)
{
	char why[512];
	int mode = cg_mode(why, sizeof(why));

	if (mode == 2)
		doctor_set(c, DOCTOR_OK, NULL,
			   "cgroup v2 with memory, cpu and pids: each sandbox gets agentgw/<name>");
	else if (mode == 1)
		doctor_set(c, DOCTOR_OK, NULL,
			   "cgroup v1 memory, cpu and pids hierarchies (v2 lacks them): each "
			   "sandbox gets agentgw/<name> in each");
	else
		doctor_set(c, DOCTOR_WARN,
			   "mount the cgroup v2 hierarchy with the memory, cpu and pids controllers "
			   "at /sys/fs/cgroup (or the v1 ones), as root",
			   "sandboxes run without resource limits: %s", why);
}

static void doctor_state(struct doctor_check *c)
{
	doctor_writable_dir(c, "sandbox state", sbx_run_dir(), NULL);
}

static void doctor_json_str(const char *s)
{
	aud_fmt_json_str(stdout, s);
}

static void doctor_usage(FILE *out)
{
	fprintf(out, "usage: agentgw doctor [--json]\n\n"
		     "Checks that this machine can run sandboxes: root, KVM, /dev/net/tun,\n"
		     "nftables and NFLOG (tried in a scratch network namespace), openat2, QEMU,\n"
		     "the guest image, and the audit and state folders; says how to fix each.\n"
		     "  --json  one JSON object per check: check, status (ok|warn|FAIL),\n"
		     "          message, fix (null when ok)\n"
		     "Exit status: 0 when no check FAILed, 1 otherwise.\n");
}

int cmd_doctor(int argc, char **argv)
{
	struct doctor_check checks[] = {
	    {.name = "root", .run = doctor_root},      {.name = "kvm", .run = doctor_kvm},
	    {.name = "tun", .run = doctor_tun},	       {.name = "nftables", .run = doctor_nft},
	    {.name = "nflog", .run = doctor_nflog},    {.name = "openat2", .run = doctor_openat2},
	    {.name = "qemu", .run = doctor_qemu},      {.name = "image", .run = doctor_image},
	    {.name = "audit-db", .run = doctor_audit}, {.name = "state-dir", .run = doctor_state},
	    {.name = "cgroups", .run = doctor_cgroup},
	};
	int json = 0, counts[3] = {0, 0, 0};

	if (cli_wants_help(argc, argv)) {
		doctor_usage(stdout);
		return CLI_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			fprintf(stderr,
				"agentgw doctor: unknown option '%s' (see 'agentgw doctor --help')\n",
				argv[i]);
			return CLI_USAGE;
		}
	}
	if (!json)
		printf("agentgw doctor: can this machine run sandboxes?\n\n");
	for (size_t i = 0; i < AGW_ARRAY_LEN(checks); i++) {
		struct doctor_check *c = &checks[i];

		c->run(c);
		counts[c->status]++;
		if (json) {
			printf("{\"check\":");
			doctor_json_str(c->name);
			printf(",\"status\":");
			doctor_json_str(doctor_status_names[c->status]);
			printf(",\"message\":");
			doctor_json_str(c->msg);
			printf(",\"fix\":");
			doctor_json_str(c->status == DOCTOR_OK ? NULL : c->fix);
			printf("}\n");
		} else {
			printf("  %-4s  %-9s  %s\n", doctor_status_names[c->status], c->name,
			       c->msg);
			if (c->status != DOCTOR_OK && c->fix[0])
				printf("  %-4s  %-9s  fix: %s\n", "", "", c->fix);
		}
		fflush(stdout);
	}
	if (!json)
		printf("\n%d ok, %d warn, %d FAIL: %s\n", counts[DOCTOR_OK], counts[DOCTOR_WARN],
		       counts[DOCTOR_FAIL],
		       counts[DOCTOR_FAIL]   ? "sandboxes cannot run until the FAIL lines are fixed"
		       : counts[DOCTOR_WARN] ? "sandboxes can run (see the warnings)"
					     : "sandboxes can run");
	return counts[DOCTOR_FAIL] ? CLI_FAIL : CLI_OK;
}
