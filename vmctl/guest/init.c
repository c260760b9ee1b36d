// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * agentgw-init: PID 1 of the guest, a static C program. It mounts the kernel
 * filesystems, loads the modules listed in /etc/agentgw/modules, configures
 * lo and eth0 from the kernel command line (agentgw.ip=A/N agentgw.gw=G
 * agentgw.dns=D agentgw.9p=PORT), writes resolv.conf, mounts the workspace
 * (9P, or virtio-fs with agentgw.fs=virtiofs)
 * over 9P, and then serves the control protocol (vmctl/ctl.h) on the
 * virtio-serial port named agentgw.ctl: execs with pipes or a PTY, stdin,
 * resize, signals, exit status, several at once; it reaps every zombie and
 * powers the VM off on request. It logs to the console and never exits.
 *
 * With agentgw.root=SERIAL agentgw.rw=SERIAL (an image with a root
 * filesystem) it first mounts the read-only root disk and the sandbox's
 * writable disk (virtio-blk, found by serial), joins them with overlayfs
 * and moves itself into that root, keeping /proc, /sys, /dev, /tmp and
 * /run. Execs run as agentgw.user= (default root) unless EXEC names a user,
 * with a login-like environment the EXEC's env entries add to.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <poll.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "vmctl/ctl.h"
#include "vmctl/guest/itrust.h"

#define INIT_MAX_EXECS 64
#define INIT_STDIN_MAX (1024 * 1024)
#define INIT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

struct init_exec {
	int used;
	uint32_t id;
	pid_t pid;
	int pty;
	int in_fd, out_fd, err_fd; /* pty: out_fd is the master, in_fd == -1 */
	uint8_t *in_buf;
	size_t in_len;
	int in_eof; /* close stdin once in_buf is written */
};

/* Which stream of which exec a pollfd stands for. */
struct init_slot {
	struct init_exec *x;
	int which; /* 0 stdout (or PTY), 1 stderr, 2 stdin */
};

struct init_cfg {
	char ip[64], gw[64], dns[64], port9p[16], ctl[64];
	char root[32], rw[32], user[64]; /* disk serials; default exec user */
	char fs[16];			 /* "virtiofs": mount the virtio-fs tag instead of 9P */
};

/* A user of the guest's /etc/passwd. */
struct init_user {
	uid_t uid;
	gid_t gid;
	char name[64], home[256], shell[256];
};

#define INIT_MAX_GROUPS 32

static struct init_cfg cfg;
static struct itrust trust; /* the sandbox CA and placeholders (vmctl/gtrust.h) */

static struct init_exec execs[INIT_MAX_EXECS];
static int port_fd = -1;
static uint8_t rbuf[2 * CTL_MAX_FRAME];
static size_t rlen;
static uint8_t wbuf[CTL_MAX_FRAME];

static void ilog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ilog(const char *fmt, ...)
{
	char line[512];
	struct timespec ts;
	va_list ap;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	n = snprintf(line, sizeof(line), "[%4ld.%03ld] agentgw-init: ", (long)ts.tv_sec,
		     ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0)
		return;
}

static void mnt(const char *src, const char *dst, const char *type, unsigned long fl,
		const char *opt)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, fl, opt) < 0 && errno != EBUSY)
		ilog("mount %s on %s: %s", type, dst, strerror(errno));
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static void cmdline_parse(struct init_cfg *c)
{
	static char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	char *save = NULL, *tok;

	if (fd >= 0)
		close(fd);
	snprintf(c->ctl, sizeof(c->ctl), "%s", CTL_PORT_NAME);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (strncmp(tok, "agentgw.ip=", 11) == 0)
			snprintf(c->ip, sizeof(c->ip), "%s", tok + 11);
		else if (strncmp(tok, "agentgw.gw=", 11) == 0)
			snprintf(c->gw, sizeof(c->gw), "%s", tok + 11);
		else if (strncmp(tok, "agentgw.dns=", 12) == 0)
			snprintf(c->dns, sizeof(c->dns), "%s", tok + 12);
		else if (strncmp(tok, "agentgw.9p=", 11) == 0)
			snprintf(c->port9p, sizeof(c->port9p), "%s", tok + 11);
		else if (strncmp(tok, "agentgw.ctl=", 12) == 0)
			snprintf(c->ctl, sizeof(c->ctl), "%s", tok + 12);
		else if (strncmp(tok, "agentgw.root=", 13) == 0)
			snprintf(c->root, sizeof(c->root), "%s", tok + 13);
		else if (strncmp(tok, "agentgw.rw=", 11) == 0)
			snprintf(c->rw, sizeof(c->rw), "%s", tok + 11);
		else if (strncmp(tok, "agentgw.user=", 13) == 0)
			snprintf(c->user, sizeof(c->user), "%s", tok + 13);
		else if (strncmp(tok, "agentgw.fs=", 11) == 0)
			snprintf(c->fs, sizeof(c->fs), "%s", tok + 11);
	}
}

static void modules_load(void)
{
	FILE *f = fopen("/etc/agentgw/modules", "re");
	char path[512];
	int n = 0;

	if (!f)
		return;
	while (fgets(path, sizeof(path), f)) {
		int fd;

		path[strcspn(path, "\n")] = 0;
		if (!path[0] || path[0] == '#')
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ilog("module %s: %s", path, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			ilog("module %s: %s", path, strerror(errno));
		else
			n++;
		close(fd);
	}
	fclose(f);
	ilog("loaded %d modules", n);
}

/* /dev/vdX whose virtio-blk serial is want; waits for the driver's probe. */
static int blk_find(const char *want, char *dev, size_t cap)
{
	char path[300], serial[64];

	for (int tries = 0; tries < 1000; tries++) {
		DIR *d = opendir("/sys/block");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			ssize_t n;
			int fd;

			if (strncmp(de->d_name, "vd", 2) != 0)
				continue;
			snprintf(path, sizeof(path), "/sys/block/%s/serial", de->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, serial, sizeof(serial) - 1);
			close(fd);
			if (n <= 0)
				continue;
			serial[n] = 0;
			serial[strcspn(serial, "\n")] = 0;
			if (strcmp(serial, want) == 0) {
				snprintf(dev, cap, "/dev/%.32s", de->d_name);
				closedir(d);
				return 0;
			}
		}
		if (d)
			closedir(d);
		usleep(10000);
	}
	return -ENODEV;
}

/*
 * The read-only root disk under an overlay whose upper layer is on the
 * sandbox's own disk, then into it as switch_root does (the initramfs
 * cannot be pivoted away): move the mount onto / and chroot.
 */
static int root_setup(const struct init_cfg *c)
{
	static const char *const keep[] = {"/proc", "/sys", "/dev", "/tmp", "/run"};
	char lower[64] = "", upper[64] = "", path[128];
	int r;

	if ((r = blk_find(c->root, lower, sizeof(lower))) < 0 ||
	    (r = blk_find(c->rw, upper, sizeof(upper))) < 0) {
		ilog("no disk with serial %s", r < 0 && !lower[0] ? c->root : c->rw);
		return r;
	}
	mkdir("/mnt", 0755);
	mkdir("/mnt/lower", 0755);
	mkdir("/mnt/rw", 0755);
	mkdir("/newroot", 0755);
	if (mount(lower, "/mnt/lower", "ext4", MS_RDONLY, "noload") < 0) {
		ilog("mount %s (root) read-only: %s", lower, strerror(errno));
		return -errno;
	}
	if (mount(upper, "/mnt/rw", "ext4", MS_NOATIME, NULL) < 0) {
		ilog("mount %s (writable layer): %s", upper, strerror(errno));
		return -errno;
	}
	mkdir("/mnt/rw/upper", 0755);
	mkdir("/mnt/rw/work", 0755);
	if (mount("overlay", "/newroot", "overlay", MS_NOATIME,
		  "lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work") < 0) {
		ilog("overlay mount: %s", strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		snprintf(path, sizeof(path), "/newroot%s", keep[i]);
		mkdir(path, 0755);
		if (mount(keep[i], path, NULL, MS_MOVE, NULL) < 0)
			ilog("move %s: %s", keep[i], strerror(errno));
	}
	if (chdir("/newroot") < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		ilog("switching to the root filesystem: %s", strerror(errno));
		return -errno;
	}
	chmod("/tmp", 01777);
	if (access("/etc/hosts", F_OK) != 0)
		write_file("/etc/hosts", "127.0.0.1 localhost agentgw\n::1 localhost\n");
	write_file("/etc/hostname", "agentgw\n");
	ilog("root filesystem %s (read-only) with writable layer %s", lower, upper);
	return 0;
}

/* name's entry in /etc/passwd; root without one. 0 or -ESRCH. */
static int user_lookup(const char *name, struct init_user *u)
{
	FILE *f = fopen("/etc/passwd", "re");
	char line[1024];
	int r = -ESRCH;

	memset(u, 0, sizeof(*u));
	while (f && fgets(line, sizeof(line), f)) {
		char *fld[7], *p = line;
		int k;

		line[strcspn(line, "\n")] = 0;
		/* strtok would merge empty fields: split by hand. */
		for (k = 0; k < 7 && p; k++) {
			fld[k] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = 0;
		}
		if (k < 7 || strcmp(fld[0], name) != 0)
			continue;
		u->uid = (uid_t)strtoul(fld[2], NULL, 10);
		u->gid = (gid_t)strtoul(fld[3], NULL, 10);
		snprintf(u->home, sizeof(u->home), "%s", fld[5][0] ? fld[5] : "/");
		snprintf(u->shell, sizeof(u->shell), "%s", fld[6][0] ? fld[6] : "/bin/sh");
		r = 0;
		break;
	}
	if (f)
		fclose(f);
	if (r < 0 && strcmp(name, "root") == 0) {
		snprintf(u->home, sizeof(u->home), "/root");
		snprintf(u->shell, sizeof(u->shell), "/bin/sh");
		r = 0;
	}
	if (r == 0)
		snprintf(u->name, sizeof(u->name), "%s", name);
	return r;
}

/* Become u: its groups from /etc/group, gid, uid. 0 or -errno. */
static int user_become(const struct init_user *u)
{
	gid_t groups[INIT_MAX_GROUPS];
	FILE *f;
	char line[4096];
	int n = 0;

	groups[n++] = u->gid;
	f = fopen("/etc/group", "re");
	while (f && fgets(line, sizeof(line), f) && n < INIT_MAX_GROUPS) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char *c3 = c2 ? strchr(c2 + 1, ':') : NULL, *save = NULL, *m;

		if (!c3)
			continue;
		line[strcspn(line, "\n")] = 0;
		for (m = strtok_r(c3 + 1, ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (strcmp(m, u->name) == 0) {
				groups[n++] = (gid_t)strtoul(c2 + 1, NULL, 10);
				break;
			}
	}
	if (f)
		fclose(f);
	if (setgroups((size_t)n, groups) < 0 || setgid(u->gid) < 0 || setuid(u->uid) < 0)
		return -errno;
	return 0;
}

/* The default environment for u and the trust variables, then env's entries replacing or adding. */
static void env_build(const struct init_user *u, char *const *env, uint32_t envc, char **out,
		      size_t cap, char *store, size_t scap)
{
	size_t n = 0, used = 0;
	const char *defs[] = {"PATH=" INIT_DEFAULT_PATH, "TERM=linux", "LANG=C.UTF-8"};
	char kv[512];

	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]) + 4 && n + 1 < cap; i++) {
		const char *v;

		if (i < 3) {
			v = defs[i];
		} else {
			static const char *const keys[] = {"HOME", "USER", "LOGNAME", "SHELL"};
			const char *val = i == 3 ? u->home : i == 6 ? u->shell : u->name;

			snprintf(kv, sizeof(kv), "%s=%s", keys[i - 3], val);
			v = kv;
		}
		if (strlen(v) + 1 > scap - used)
			break;
		memcpy(store + used, v, strlen(v) + 1);
		out[n++] = store + used;
		used += strlen(v) + 1;
	}
	for (size_t i = 0; i < trust.nvars && n + 1 < cap; i++)
		out[n++] = (char *)(uintptr_t)trust.vars[i];
	for (uint32_t i = 0; i < envc && env[i]; i++) {
		size_t kl = strcspn(env[i], "=");
		size_t j;

		for (j = 0; j < n; j++)
			if (strncmp(out[j], env[i], kl) == 0 && out[j][kl] == '=')
				break;
		if (j < n)
			out[j] = env[i];
		else if (n + 1 < cap)
			out[n++] = env[i];
	}
	out[n] = NULL;
}

static int sin_set(struct sockaddr *sa, const char *addr)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	return inet_pton(AF_INET, addr, &sin->sin_addr) == 1 ? 0 : -EINVAL;
}

static int if_up(int s, const char *name)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &ifr) < 0 ? -errno : 0;
}

static void net_setup(const struct init_cfg *c)
{
	char addr[64], mask[32];
	struct ifreq ifr;
	struct rtentry rt;
	char *slash;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), prefix = 24, i;
	uint32_t m;

	if (s < 0)
		return;
	if_up(s, "lo");
	if (!c->ip[0])
		goto out;
	snprintf(addr, sizeof(addr), "%s", c->ip);
	slash = strchr(addr, '/');
	if (slash) {
		*slash = 0;
		prefix = atoi(slash + 1);
		if (prefix < 0 || prefix > 32)
			prefix = 24;
	}
	m = prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;
	inet_ntop(AF_INET, &m, mask, sizeof(mask));
	/* virtio_net probes asynchronously after the module load; wait for it. */
	for (i = 0; i < 200 && if_nametoindex("eth0") == 0; i++)
		usleep(10000);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	if (sin_set(&ifr.ifr_addr, addr) < 0 || ioctl(s, SIOCSIFADDR, &ifr) < 0) {
		ilog("eth0 address %s: %s", c->ip, strerror(errno));
		goto out;
	}
	sin_set(&ifr.ifr_netmask, mask);
	if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
		ilog("eth0 netmask %s: %s", mask, strerror(errno));
	if (if_up(s, "eth0") < 0)
		ilog("eth0 up: %s", strerror(errno));
	if (c->gw[0]) {
		memset(&rt, 0, sizeof(rt));
		sin_set(&rt.rt_dst, "0.0.0.0");
		sin_set(&rt.rt_genmask, "0.0.0.0");
		if (sin_set(&rt.rt_gateway, c->gw) == 0) {
			rt.rt_flags = RTF_UP | RTF_GATEWAY;
			if (ioctl(s, SIOCADDRT, &rt) < 0)
				ilog("default route via %s: %s", c->gw, strerror(errno));
		}
	}
	ilog("eth0 %s gateway %s", c->ip, c->gw[0] ? c->gw : "none");
out:
	close(s);
}

static void dns_setup(const struct init_cfg *c)
{
	const char *ns = c->dns[0] ? c->dns : c->gw;
	char text[128];

	if (!ns[0])
		return;
	snprintf(text, sizeof(text), "nameserver %s\n", ns);
	if (write_file("/etc/resolv.conf", text) < 0)
		ilog("resolv.conf: %s", strerror(errno));
}

static void fs_setup(const struct init_cfg *c)
{
	char opts[256];

	if (strcmp(c->fs, "virtiofs") == 0) {
		/* The device's tag is "workspace"; the gateway serves it over
		 * vhost-user with the same policy as 9P (docs/fs.md). */
		mkdir("/workspace", 0755);
		if (mount("workspace", "/workspace", "virtiofs", 0, NULL) < 0)
			ilog("virtiofs mount of /workspace: %s (continuing without it)",
			     strerror(errno));
		else
			ilog("/workspace mounted over virtio-fs");
		return;
	}
	if (!c->port9p[0] || !c->gw[0])
		return;
	snprintf(opts, sizeof(opts),
		 "trans=tcp,port=%s,version=9p2000.L,msize=262144,access=any,cache=none",
		 c->port9p);
	mkdir("/workspace", 0755);
	if (mount(c->gw, "/workspace", "9p", 0, opts) < 0)
		ilog("9p mount of %s:%s on /workspace: %s (continuing without it)", c->gw,
		     c->port9p, strerror(errno));
	else
		ilog("/workspace mounted from %s:%s", c->gw, c->port9p);
}

/* The host's CA and placeholders, read while the initramfs is still / . */
static void trust_load(void)
{
	char why[256];
	int r = itrust_load(&trust, why, sizeof(why));

	if (why[0])
		ilog("%s", why);
	if (r > 0)
		ilog("sandbox CA delivered, %zu credential placeholder(s)", trust.nvars);
}

/* Into the final root; its cost is logged: it is on every boot's path. */
static void trust_install(void)
{
	struct timespec a, b;
	char why[256];

	if (!trust.ca) {
		if (access(GTRUST_CA, F_OK) == 0) {
			if (itrust_clear(why, sizeof(why)) < 0)
				ilog("an earlier boot's sandbox CA: %s", why);
			else
				ilog("removed an earlier boot's sandbox CA (none delivered)");
		}
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (itrust_install(&trust, why, sizeof(why)) < 0) {
		ilog("sandbox CA not installed: %s", why);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	ilog("sandbox CA installed in %s and %s in %ld us", GTRUST_STORE, GTRUST_BUNDLE,
	     (long)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000));
}

/* Find /dev/vportNpM whose sysfs name is want; waits for the driver. */
static int port_open(const char *want)
{
	char path[300], name[128], dev[300];
	int tries;

	for (tries = 0; tries < 500; tries++) {
		DIR *d = opendir("/sys/class/virtio-ports");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			int fd;
			ssize_t n;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", de->d_name);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, name, sizeof(name) - 1);
			close(fd);
			if (n <= 0)
				continue;
			name[n] = 0;
			name[strcspn(name, "\n")] = 0;
			if (strcmp(name, want) != 0)
				continue;
			snprintf(dev, sizeof(dev), "/dev/%s", de->d_name);
			closedir(d);
			fd = open(dev, O_RDWR | O_CLOEXEC | O_NOCTTY);
			if (fd < 0)
				ilog("%s: %s", dev, strerror(errno));
			else
				ilog("control port %s on %s", want, dev);
			return fd;
		}
		if (d)
			closedir(d);
		usleep(10000);
	}
	ilog("no virtio-serial port named %s", want);
	return -1;
}

/* Blocking write of a whole frame to the port. */
static void port_send(int len)
{
	size_t off = 0;

	if (len < 0 || port_fd < 0)
		return;
	while (off < (size_t)len) {
		ssize_t n = write(port_fd, wbuf + off, (size_t)len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ilog("control port write: %s", strerror(errno));
			return;
		}
		off += (size_t)n;
	}
}

static void send_error(uint32_t id, int err, const char *what)
{
	char text[256];

	snprintf(text, sizeof(text), "%s: %s", what, strerror(err));
	port_send(ctl_encode_error(wbuf, sizeof(wbuf), id, err, text));
}

static struct init_exec *exec_find(uint32_t id)
{
	for (int i = 0; i < INIT_MAX_EXECS; i++)
		if (execs[i].used && execs[i].id == id)
			return &execs[i];
	return NULL;
}

static void fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void exec_release(struct init_exec *x)
{
	fd_close(&x->in_fd);
	fd_close(&x->out_fd);
	fd_close(&x->err_fd);
	free(x->in_buf);
	memset(x, 0, sizeof(*x));
	x->in_fd = x->out_fd = x->err_fd = -1;
}

static void child_exec(struct ctl_exec *e, int in, int out, int err, const char *pts, int errpipe)
{
	static char *envv[CTL_MAX_ARGS + 8 + GTRUST_N_CA_VARS + GTRUST_MAX_VARS];
	static char store[4096];
	const char *who = e->user[0] ? e->user : cfg.user[0] ? cfg.user : "root";
	struct init_user u;
	sigset_t all;
	int e_;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	setsid();
	if (user_lookup(who, &u) < 0) {
		errno = ESRCH;
		goto fail;
	}
	if (pts) {
		int fd = open(pts, O_RDWR);

		if (fd < 0)
			goto fail;
		ioctl(fd, TIOCSCTTY, 0);
		in = out = err = fd;
	}
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (u.uid != 0 || u.gid != 0) {
		if (pts && fchown(0, u.uid, (gid_t)-1) < 0)
			goto fail;
		if ((e_ = user_become(&u)) < 0) {
			errno = -e_;
			goto fail;
		}
	}
	if (chdir(e->cwd[0] ? e->cwd : "/") < 0)
		goto fail;
	env_build(&u, e->env, e->envc, envv, sizeof(envv) / sizeof(envv[0]), store,
		  sizeof(store));
	environ = envv;
	execvp(e->argv[0], e->argv);
fail:
	e_ = errno;
	if (write(errpipe, &e_, sizeof(e_)) < 0)
		_exit(127);
	_exit(127);
}

static void exec_start(uint32_t id, uint16_t flags, uint8_t *p, size_t n)
{
	static struct ctl_exec e;
	struct init_exec *x = NULL;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, ep[2] = {-1, -1};
	int master = -1, e_ = 0;
	char pts[64] = "";
	pid_t pid;

	if (ctl_exec_decode(p, n, flags, &e) < 0) {
		send_error(id, EINVAL, "malformed EXEC");
		return;
	}
	if (exec_find(id)) {
		send_error(id, EEXIST, "exec id in use");
		return;
	}
	for (int i = 0; i < INIT_MAX_EXECS && !x; i++)
		if (!execs[i].used)
			x = &execs[i];
	if (!x) {
		send_error(id, EAGAIN, "too many execs");
		return;
	}
	if (pipe2(ep, O_CLOEXEC) < 0)
		goto fail;
	if (e.pty) {
		struct winsize ws = {.ws_row = e.rows ? e.rows : 24,
				     .ws_col = e.cols ? e.cols : 80};
		int unlock = 0;
		unsigned int ptn = 0;

		master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
		if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0 ||
		    ioctl(master, TIOCGPTN, &ptn) < 0)
			goto fail;
		ioctl(master, TIOCSWINSZ, &ws);
		snprintf(pts, sizeof(pts), "/dev/pts/%u", ptn);
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		   pipe2(err, O_CLOEXEC) < 0) {
		goto fail;
	}
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child_exec(&e, in[0], out[1], err[1], e.pty ? pts : NULL, ep[1]);
	fd_close(&ep[1]);
	fd_close(&in[0]);
	fd_close(&out[1]);
	fd_close(&err[1]);
	if (read(ep[0], &e_, sizeof(e_)) == sizeof(e_)) {
		waitpid(pid, NULL, 0);
		errno = e_;
		if (e_ == ESRCH)
			snprintf(pts, sizeof(pts), "user %.40s", e.user[0] ? e.user : cfg.user);
		else
			snprintf(pts, sizeof(pts), "exec %.40s", e.argv[0]);
		send_error(id, e_, pts);
		goto cleanup;
	}
	memset(x, 0, sizeof(*x));
	x->used = 1;
	x->id = id;
	x->pid = pid;
	x->pty = e.pty;
	x->in_fd = e.pty ? -1 : in[1];
	x->out_fd = e.pty ? master : out[0];
	x->err_fd = e.pty ? -1 : err[0];
	in[1] = out[0] = err[0] = master = -1;
	if (x->in_fd >= 0)
		fcntl(x->in_fd, F_SETFL, O_NONBLOCK);
	port_send(ctl_encode_u32(wbuf, sizeof(wbuf), CTL_STARTED, id, (uint32_t)pid));
	goto cleanup;
fail:
	send_error(id, errno, "exec setup");
cleanup:
	fd_close(&ep[0]);
	fd_close(&ep[1]);
	fd_close(&in[0]);
	fd_close(&in[1]);
	fd_close(&out[0]);
	fd_close(&out[1]);
	fd_close(&err[0]);
	fd_close(&err[1]);
	fd_close(&master);
}

static int stdin_fd(struct init_exec *x)
{
	return x->pty ? x->out_fd : x->in_fd;
}

static void stdin_flush(struct init_exec *x)
{
	int fd = stdin_fd(x);

	while (x->in_len && fd >= 0) {
		ssize_t n = write(fd, x->in_buf, x->in_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* reader gone: drop what is left */
			x->in_len = 0;
			break;
		}
		memmove(x->in_buf, x->in_buf + n, x->in_len - (size_t)n);
		x->in_len -= (size_t)n;
	}
	if (x->in_eof && !x->in_len) {
		if (x->pty) {
			const char eot = 4; /* VEOF: the line discipline ends the read */
			if (write(x->out_fd, &eot, 1) < 0)
				ilog("pty eof: %s", strerror(errno));
		} else {
			fd_close(&x->in_fd);
		}
		x->in_eof = 0;
	}
}

static void stdin_add(struct init_exec *x, const uint8_t *p, size_t n)
{
	if (n > INIT_STDIN_MAX - x->in_len) {
		send_error(x->id, ENOBUFS, "stdin buffer full, data dropped");
		return;
	}
	if (!x->in_buf && !(x->in_buf = malloc(INIT_STDIN_MAX))) {
		send_error(x->id, ENOMEM, "stdin buffer");
		return;
	}
	memcpy(x->in_buf + x->in_len, p, n);
	x->in_len += n;
	stdin_flush(x);
}

static void poweroff(void)
{
	ilog("powering off");
	kill(-1, SIGTERM);
	usleep(100000);
	kill(-1, SIGKILL);
	sync();
	umount2("/workspace", MNT_DETACH);
	reboot(RB_POWER_OFF);
	/* Without ACPI power-off, a reset ends QEMU run with -no-reboot. */
	reboot(RB_AUTOBOOT);
	_exit(1);
}

/*
 * The sandbox's own denials, one JSON line each, for an agent harness to
 * tail: the host sends only this sandbox's rows, rate-limited. The file is
 * bounded: past INIT_DENIALS_MAX it becomes denials.1 and a new one starts.
 */
#define INIT_DENIALS_DIR "/run/agentgw"
#define INIT_DENIALS_FILE INIT_DENIALS_DIR "/denials"
#define INIT_DENIALS_MAX (256 * 1024)

static void denial_append(const uint8_t *p, size_t n)
{
	static int made;
	struct stat sb;
	char line[CTL_DENIAL_MAX + 1];
	int fd;

	if (n == 0 || n > CTL_DENIAL_MAX)
		return;
	if (!made) {
		mkdir(INIT_DENIALS_DIR, 0755);
		made = 1;
	}
	if (stat(INIT_DENIALS_FILE, &sb) == 0 && sb.st_size + (off_t)n > INIT_DENIALS_MAX)
		rename(INIT_DENIALS_FILE, INIT_DENIALS_FILE ".1");
	memcpy(line, p, n);
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\0')
			line[i] = ' '; /* one record, one line */
	line[n] = '\n';
	fd = open(INIT_DENIALS_FILE, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return;
	/* one write: a reader never sees half a line */
	if (write(fd, line, n + 1) < 0)
		ilog("%s: %s", INIT_DENIALS_FILE, strerror(errno));
	close(fd);
}

static void handle_frame(const struct ctl_hdr *h, uint8_t *p)
{
	struct init_exec *x = h->type == CTL_EXEC || h->type == CTL_HELLO ||
				      h->type == CTL_POWEROFF || h->type == CTL_DENIAL
				  ? NULL
				  : exec_find(h->id);
	uint32_t v;
	uint16_t rows, cols;

	switch (h->type) {
	case CTL_HELLO:
		break;
	case CTL_EXEC:
		exec_start(h->id, h->flags, p, h->len);
		break;
	case CTL_POWEROFF:
		poweroff();
		break;
	case CTL_DENIAL:
		denial_append(p, h->len);
		break;
	case CTL_STDIN:
		if (x)
			stdin_add(x, p, h->len);
		break;
	case CTL_STDIN_EOF:
		if (x) {
			x->in_eof = 1;
			stdin_flush(x);
		}
		break;
	case CTL_RESIZE:
		if (x && x->pty && ctl_resize_decode(p, h->len, &rows, &cols) == 0) {
			struct winsize ws = {.ws_row = rows, .ws_col = cols};
			ioctl(x->out_fd, TIOCSWINSZ, &ws);
		}
		break;
	case CTL_SIGNAL:
		if (x && ctl_u32_decode(p, h->len, &v) == 0 && v > 0 && v < NSIG)
			if (kill(-x->pid, (int)v) < 0)
				kill(x->pid, (int)v);
		break;
	default:
		ilog("unexpected %s frame from host", ctl_type_name(h->type));
	}
}

static void port_read(void)
{
	struct ctl_hdr h;
	size_t flen, off = 0;
	ssize_t n = read(port_fd, rbuf + rlen, sizeof(rbuf) - rlen);
	int r;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* Host not connected: wait instead of spinning on POLLHUP. */
		usleep(200000);
		return;
	}
	rlen += (size_t)n;
	while ((r = ctl_frame_parse(rbuf + off, rlen - off, &h, &flen)) == 0) {
		handle_frame(&h, rbuf + off + CTL_HDR_LEN);
		off += flen;
	}
	if (r != -AGW_ETRUNC) {
		ilog("bad frame from host (%d); resetting the stream", r);
		off = rlen;
	}
	memmove(rbuf, rbuf + off, rlen - off);
	rlen -= off;
}

/* Forward what a stream has: 2 sent data, 1 nothing now, 0 EOF or error. */
static int stream_pump(struct init_exec *x, int *fd, uint16_t type)
{
	static uint8_t data[16384];
	ssize_t n = read(*fd, data, sizeof(data));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0)
		return 0;
	port_send(ctl_encode(wbuf, sizeof(wbuf), type, 0, x->id, data, (size_t)n));
	return 2;
}

static void exec_finish(struct init_exec *x, int status)
{
	int32_t code = -1;
	uint32_t sig = 0;

	/* The process is gone: forward whatever is still buffered. */
	if (x->out_fd >= 0) {
		fcntl(x->out_fd, F_SETFL, O_NONBLOCK);
		while (stream_pump(x, &x->out_fd, CTL_STDOUT) == 2)
			;
	}
	if (x->err_fd >= 0) {
		fcntl(x->err_fd, F_SETFL, O_NONBLOCK);
		while (stream_pump(x, &x->err_fd, CTL_STDERR) == 2)
			;
	}
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		sig = (uint32_t)WTERMSIG(status);
	port_send(ctl_encode_exit(wbuf, sizeof(wbuf), x->id, code, sig));
	exec_release(x);
}

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < INIT_MAX_EXECS; i++) {
			if (execs[i].used && execs[i].pid == pid) {
				exec_finish(&execs[i], status);
				break;
			}
		}
	}
}

static void serve(int sfd)
{
	struct pollfd pfd[2 + 3 * INIT_MAX_EXECS];
	struct init_slot map[3 * INIT_MAX_EXECS];

	for (;;) {
		nfds_t n = 0;
		int m = 0;

		pfd[n++] = (struct pollfd){.fd = port_fd, .events = POLLIN};
		pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (int i = 0; i < INIT_MAX_EXECS; i++) {
			struct init_exec *x = &execs[i];

			if (!x->used)
				continue;
			if (x->out_fd >= 0) {
				short ev = POLLIN;

				if (x->pty && x->in_len)
					ev |= POLLOUT;
				map[m++] = (struct init_slot){x, 0};
				pfd[n++] = (struct pollfd){.fd = x->out_fd, .events = ev};
			}
			if (x->err_fd >= 0) {
				map[m++] = (struct init_slot){x, 1};
				pfd[n++] = (struct pollfd){.fd = x->err_fd, .events = POLLIN};
			}
			if (x->in_len && stdin_fd(x) >= 0 && !x->pty) {
				map[m++] = (struct init_slot){x, 2};
				pfd[n++] = (struct pollfd){.fd = x->in_fd, .events = POLLOUT};
			}
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno != EINTR)
				ilog("poll: %s", strerror(errno));
			continue;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) < 0 && errno != EAGAIN)
				ilog("signalfd: %s", strerror(errno));
		}
		for (int k = 0; k < m; k++) {
			struct init_exec *x = map[k].x;
			short re = pfd[2 + k].revents;

			if (!re || !x->used || pfd[2 + k].fd < 0)
				continue;
			if (map[k].which == 0 && x->out_fd == pfd[2 + k].fd) {
				if (re & POLLOUT)
					stdin_flush(x);
				if ((re & ~POLLOUT) && !stream_pump(x, &x->out_fd, CTL_STDOUT))
					fd_close(&x->out_fd);
			} else if (map[k].which == 1 && x->err_fd == pfd[2 + k].fd) {
				if (!stream_pump(x, &x->err_fd, CTL_STDERR))
					fd_close(&x->err_fd);
			} else if (map[k].which == 2) {
				stdin_flush(x);
			}
		}
		/* Reap after the streams so output is sent before EXIT. */
		reap();
		if (pfd[0].revents)
			port_read();
	}
}

int main(void)
{
	sigset_t set;
	int sfd;

	memset(&cfg, 0, sizeof(cfg));
	for (int i = 0; i < INIT_MAX_EXECS; i++)
		execs[i].in_fd = execs[i].out_fd = execs[i].err_fd = -1;
	setenv("PATH", INIT_DEFAULT_PATH, 1);
	umask(022);
	mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	mnt("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666");
	mnt("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mnt("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mnt("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
	if (symlink("/proc/self/fd", "/dev/fd") < 0 && errno != EEXIST)
		ilog("/dev/fd: %s", strerror(errno));
	ilog("starting (protocol %d)", CTL_VERSION);
	if (sethostname("agentgw", 7) < 0)
		ilog("hostname: %s", strerror(errno));
	cmdline_parse(&cfg);
	modules_load();
	trust_load();
	if (cfg.root[0] && cfg.rw[0] && root_setup(&cfg) < 0)
		ilog("staying on the initramfs: the image's root filesystem is not usable");
	trust_install();
	net_setup(&cfg);
	dns_setup(&cfg);
	fs_setup(&cfg);

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	port_fd = port_open(cfg.ctl);
	if (port_fd < 0 || sfd < 0) {
		/* Nothing to serve: keep reaping so the VM stays debuggable. */
		for (;;)
			if (wait(NULL) < 0)
				pause();
	}
	port_send(
	    ctl_encode_hello(wbuf, sizeof(wbuf), "agentgw-init " AGW_VERSION " " CTL_CAP_DENIALS));
	ilog("ready");
	serve(sfd);
	return 0;
}
