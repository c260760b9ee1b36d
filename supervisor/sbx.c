// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Named sandboxes from outside: the state directory (paths, the `info`
 * key=value file, liveness), cleanup after a supervisor that died without
 * tearing down (SIGKILL), shell quoting for the exec audit target, and the
 * client end of the control socket (SOCK_SEQPACKET packets with fds).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agw.h"
#include "vmctl/cg.h"
#include "audit/aud.h"
#include "vmctl/fw.h"
#include "vmctl/redact.h"
#include "supervisor/sbx.h"
#include "supervisor/appr.h"
#include "vmctl/tap.h"

const char *sbx_run_dir(void)
{
	const char *d = getenv("AGENTGW_RUN_DIR");

	return d && d[0] == '/' ? d : SBX_RUN_DIR_DEFAULT;
}

bool sbx_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SBX_NAME_MAX ||
	    !(islower((unsigned char)name[0]) || isdigit((unsigned char)name[0])))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_' && name[i] != '-')
			return false;
	return true;
}

int sbx_path(char *buf, size_t cap, const char *name, const char *file)
{
	int n = file ? snprintf(buf, cap, "%s/%s/%s", sbx_run_dir(), name, file)
		     : snprintf(buf, cap, "%s/%s", sbx_run_dir(), name);

	return n < 0 || (size_t)n >= cap ? -AGW_ETOOBIG : 0;
}

static void sbx_copy(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

int sbx_info_parse(const char *text, size_t n, struct sbx_info *info)
{
	size_t i = 0;

	while (i < n) {
		const char *line = text + i, *eq, *end = memchr(line, '\n', n - i);
		size_t len = end ? (size_t)(end - line) : n - i, vlen;
		char num[24];

		i += len + 1;
		eq = memchr(line, '=', len);
		if (!eq)
			continue;
		vlen = len - (size_t)(eq + 1 - line);
		sbx_copy(num, sizeof(num), eq + 1, vlen);
#define KEY(k) ((size_t)(eq - line) == strlen(k) && memcmp(line, k, strlen(k)) == 0)
		if (KEY("iface"))
			sbx_copy(info->iface, sizeof(info->iface), eq + 1, vlen);
		else if (KEY("guest"))
			sbx_copy(info->guest, sizeof(info->guest), eq + 1, vlen);
		else if (KEY("accel"))
			sbx_copy(info->accel, sizeof(info->accel), eq + 1, vlen);
		else if (KEY("fs"))
			sbx_copy(info->fs, sizeof(info->fs), eq + 1, vlen);
		else if (KEY("audit_db"))
			sbx_copy(info->audit_db, sizeof(info->audit_db), eq + 1, vlen);
		else if (KEY("ports"))
			sbx_copy(info->ports, sizeof(info->ports), eq + 1, vlen);
		else if (KEY("sandbox_id"))
			info->sandbox_id = strtoll(num, NULL, 10);
		else if (KEY("runner"))
			info->runner = (pid_t)atoi(num);
		else if (KEY("qemu"))
			info->qemu = (pid_t)atoi(num);
		else if (KEY("started_at"))
			info->started_at = strtoll(num, NULL, 10);
		else if (KEY("boot_ms"))
			info->boot_ms = strtoll(num, NULL, 10);
#undef KEY
	}
	return 0;
}

/* Read a small file into buf (NUL-terminated). Returns length or -errno. */
static ssize_t sbx_slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, cap - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = 0;
	close(fd);
	return n;
}

int sbx_info_read(const char *name, struct sbx_info *info)
{
	char path[512], buf[4096];
	struct stat st;
	ssize_t n;

	memset(info, 0, sizeof(*info));
	snprintf(info->name, sizeof(info->name), "%s", name);
	if (sbx_path(path, sizeof(path), name, NULL) < 0)
		return -AGW_ETOOBIG;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	if (sbx_path(path, sizeof(path), name, "pid") == 0 && sbx_slurp(path, buf, sizeof(buf)) > 0)
		info->pid = (pid_t)atoi(buf);
	if (sbx_path(path, sizeof(path), name, "policy") == 0 &&
	    (n = sbx_slurp(path, buf, sizeof(buf))) > 0) {
		sbx_copy(info->policy, sizeof(info->policy), buf, strcspn(buf, "\n"));
	}
	if (sbx_path(path, sizeof(path), name, "info") == 0 &&
	    (n = sbx_slurp(path, buf, sizeof(buf))) > 0)
		sbx_info_parse(buf, (size_t)n, info);
	return 0;
}

int sbx_info_add(const char *name, const char *key, const char *value)
{
	char path[512], line[512];
	int fd, n, rc = 0;

	if (sbx_path(path, sizeof(path), name, "info") < 0)
		return -AGW_ETOOBIG;
	n = snprintf(line, sizeof(line), "%s=%s\n", key, value);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -AGW_ETOOBIG;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n)
		rc = -EIO;
	close(fd);
	return rc;
}

bool sbx_pid_is(pid_t pid, const char *what)
{
	char path[64], buf[512];
	const char *base;
	ssize_t n;

	/* EPERM: alive, but not ours (a non-root user looking at root's sandbox). */
	if (pid <= 1 || (kill(pid, 0) < 0 && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = sbx_slurp(path, buf, sizeof(buf));
	if (n <= 0)
		return false; /* a zombie has an empty cmdline */
	base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	return strstr(base, what) != NULL;
}

enum sbx_state sbx_state_of(const struct sbx_info *info)
{
	if (!sbx_pid_is(info->pid, "agentgw"))
		return SBX_DEAD;
	/* No iface in info: an `agentgw gateway` (no VM) sharing the run dir. */
	return info->qemu > 0 || !info->iface[0] ? SBX_RUNNING : SBX_STARTING;
}

const char *sbx_state_name(enum sbx_state s)
{
	switch (s) {
	case SBX_STARTING:
		return "starting";
	case SBX_RUNNING:
		return "running";
	case SBX_DEAD:
		return "dead";
	}
	return "?";
}

void sbx_state_remove(const char *name)
{
	static const char *const files[] = {
	    "vm/console.log", "vm/qemu.log", "vm/ctl.sock", "vm/qmp.sock", "vm/vfs.sock", "vm/initrd",
	    "vm/root", "vm", SBX_SOCK, APPR_SOCK, "info", "pid", "policy", "supervisor.log",
	    /* the guest folder (supervisor/supguest.h), left by a killed supervisor */
	    "guest/ca.pem", "guest/env", "guest"};
	char path[512];

	for (size_t i = 0; i < AGW_ARRAY_LEN(files); i++) {
		if (sbx_path(path, sizeof(path), name, files[i]) < 0)
			continue;
		if (unlink(path) < 0 && errno == EISDIR)
			rmdir(path);
	}
	if (sbx_path(path, sizeof(path), name, NULL) == 0)
		rmdir(path);
}

int sbx_keep_logs(const char *name, char *dir, size_t cap)
{
	static const char *const files[] = {"supervisor.log", "vm/qemu.log", "vm/console.log",
					    "info"};
	char from[512], to[600];
	int kept = 0, n;

	n = snprintf(dir, cap, "%s/%s.failed", sbx_run_dir(), name);
	if (n < 0 || (size_t)n >= cap)
		return -AGW_ETOOBIG;
	mkdir(dir, 0700);
	for (size_t i = 0; i < AGW_ARRAY_LEN(files); i++) {
		const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];

		snprintf(to, sizeof(to), "%s/%s", dir, base);
		unlink(to); /* an older failure's */
		if (sbx_path(from, sizeof(from), name, files[i]) == 0 && rename(from, to) == 0 &&
		    strcmp(base, "info") != 0)
			kept++;
	}
	if (!kept) {
		rmdir(dir);
		return -AGW_ENOTFOUND;
	}
	return kept;
}

/* SIGKILL pid if it is still `what`, and wait (up to 2 s) until it is gone. */
static void sbx_kill(pid_t pid, const char *what)
{
	if (!sbx_pid_is(pid, what))
		return;
	kill(pid, SIGKILL);
	for (int i = 0; i < 200 && sbx_pid_is(pid, what); i++)
		usleep(10000);
}

/* The supervisor could not close its sandbox row: do it for it. */
static void sbx_close_row(const struct sbx_info *info)
{
	struct aud_writer *w = NULL;
	struct aud_event ev = {0};

	if (!info->audit_db[0] || info->sandbox_id <= 0 || aud_writer_new(info->audit_db, &w) < 0)
		return;
	ev.sandbox_id = info->sandbox_id;
	ev.kind = "lifecycle";
	ev.op = "stop";
	ev.target = info->iface[0] ? info->iface : NULL;
	ev.decision = "allow";
	ev.reason = "supervisor died; cleaned up";
	ev.bytes_up = ev.bytes_down = ev.duration_us = -1;
	aud_writer_submit(w, &ev);
	aud_writer_sandbox_stop(w, info->sandbox_id);
	aud_writer_flush(w);
	aud_writer_free(w);
}

int sbx_kill_qemu(const char *name)
{
	char vmdir[512], path[64], buf[8192];
	struct dirent *de;
	int killed = 0;
	DIR *d;

	if (sbx_path(vmdir, sizeof(vmdir) - 1, name, "vm") < 0)
		return 0;
	strcat(vmdir, "/");
	d = opendir("/proc");
	while (d && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		ssize_t n;

		if (pid <= 1 || !sbx_pid_is(pid, "qemu"))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		n = sbx_slurp(path, buf, sizeof(buf));
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
			if (strstr(buf + i, vmdir)) {
				sbx_kill(pid, "qemu");
				killed++;
				break;
			}
		}
	}
	if (d)
		closedir(d);
	return killed;
}

#define SBX_TAKEN_MAX 4096

/* The /30s (host order) in use: interface addresses and other sandboxes'
 * guests, read once. Returns how many were found (at most cap). */
static size_t sbx_subnets_taken(uint32_t *taken, size_t cap)
{
	struct ifaddrs *ifa = NULL;
	struct sbx_info info;
	struct in_addr a;
	struct dirent *de;
	size_t n = 0;
	DIR *run;

	if (getifaddrs(&ifa) == 0)
		for (struct ifaddrs *i = ifa; i && n < cap; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
				taken[n++] = ntohl(((const struct sockaddr_in *)i->ifa_addr)
						       ->sin_addr.s_addr) &
					     ~3u;
	freeifaddrs(ifa);
	run = opendir(sbx_run_dir());
	while (run && n < cap && (de = readdir(run)))
		if (sbx_name_valid(de->d_name) && sbx_info_read(de->d_name, &info) == 0 &&
		    inet_pton(AF_INET, info.guest, &a) == 1)
			taken[n++] = ntohl(a.s_addr) & ~3u;
	if (run)
		closedir(run);
	return n;
}

int sbx_subnet_pick(const char *pool, unsigned seed, uint32_t *host, uint32_t *guest)
{
	char buf[32], *slash;
	struct in_addr base;
	uint32_t first, n, *taken;
	size_t ntaken;
	int len, rc = -ENOSPC;

	if (!pool)
		pool = getenv("AGENTGW_POOL");
	if (!pool || !*pool)
		pool = SBX_POOL_DEFAULT;
	if (strlen(pool) >= sizeof(buf))
		return -AGW_EINVAL;
	strcpy(buf, pool);
	slash = strchr(buf, '/');
	if (!slash)
		return -AGW_EINVAL;
	*slash = 0;
	len = atoi(slash + 1);
	if (inet_pton(AF_INET, buf, &base) != 1 || len < 8 || len > 30 ||
	    strspn(slash + 1, "0123456789") != strlen(slash + 1))
		return -AGW_EINVAL;
	n = 1u << (30 - len); /* number of /30s */
	first = ntohl(base.s_addr) & ~((1u << (32 - len)) - 1);
	taken = malloc(SBX_TAKEN_MAX * sizeof(*taken));
	if (!taken)
		return -AGW_ENOMEM;
	ntaken = sbx_subnets_taken(taken, SBX_TAKEN_MAX);
	for (uint32_t i = 0; i < n && rc; i++) {
		uint32_t net = first + ((seed + i) % n) * 4;
		size_t k = 0;

		while (k < ntaken && taken[k] != net)
			k++;
		if (k == ntaken) {
			*host = htonl(net + 1);
			*guest = htonl(net + 2);
			rc = 0;
		}
	}
	free(taken);
	return rc;
}

int sbx_cleanup(const char *name)
{
	struct sbx_info info;
	int rc = 0, r;

	if (!sbx_name_valid(name))
		return -AGW_EINVAL;
	if ((r = sbx_info_read(name, &info)) < 0)
		return r == -ENOENT ? 0 : r;
	if (sbx_pid_is(info.pid, "agentgw"))
		return -EBUSY;
	sbx_kill(info.runner, "agentgw");
	sbx_kill(info.qemu, "qemu");
	sbx_kill_qemu(name);
	if ((r = fw_remove(name)) < 0)
		rc = r;
	if (info.iface[0] && tap_link_exists(info.iface) == 1 && (r = tap_delete(info.iface)) < 0 &&
	    !rc)
		rc = r;
	sbx_close_row(&info);
	sbx_state_remove(name);
	cg_remove(name);
	return rc;
}

static bool sbx_safe_word(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_@%+=:,./-", *s))
			return false;
	return true;
}

static bool sbx_has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Append str if it fits with room left for "...". */
static int sbx_put(char *buf, size_t cap, size_t *n, const char *str)
{
	size_t l = strlen(str);

	if (*n + l + 4 > cap)
		return -1;
	memcpy(buf + *n, str, l);
	*n += l;
	return 0;
}

static int sbx_put_char(char *buf, size_t cap, size_t *n, unsigned char c, bool ansi)
{
	char tmp[8];

	if (!ansi && c == '\'')
		return sbx_put(buf, cap, n, "'\\''");
	if (ansi && (c == '\'' || c == '\\'))
		snprintf(tmp, sizeof(tmp), "\\%c", c);
	else if (ansi && c == '\n')
		snprintf(tmp, sizeof(tmp), "\\n");
	else if (ansi && c == '\t')
		snprintf(tmp, sizeof(tmp), "\\t");
	else if (ansi && (c < 0x20 || c == 0x7f))
		snprintf(tmp, sizeof(tmp), "\\x%02x", c);
	else
		tmp[0] = (char)c, tmp[1] = 0;
	return sbx_put(buf, cap, n, tmp);
}

size_t sbx_quote_argv(char *buf, size_t cap, const char *const *argv)
{
	size_t n = 0;

	if (!cap)
		return 0;
	buf[0] = 0;
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *s = argv[i];
		bool ansi = sbx_has_ctl(s);

		if (i && sbx_put(buf, cap, &n, " ") < 0)
			goto full;
		if (sbx_safe_word(s)) {
			if (sbx_put(buf, cap, &n, s) < 0)
				goto full;
			continue;
		}
		if (sbx_put(buf, cap, &n, ansi ? "$'" : "'") < 0)
			goto full;
		for (; *s; s++)
			if (sbx_put_char(buf, cap, &n, (unsigned char)*s, ansi) < 0)
				goto full;
		if (sbx_put(buf, cap, &n, "'") < 0)
			goto full;
	}
	buf[n] = 0;
	return n;
full:
	if (cap >= 4) {
		n = AGW_MIN(n, cap - 4);
		memcpy(buf + n, "...", 4);
		return n + 3;
	}
	buf[0] = 0;
	return 0;
}

size_t sbx_audit_argv(char *buf, size_t cap, const char *const *argv)
{
	size_t argc = 0, n;
	char **red = NULL;
	const char **v = NULL;

	while (argv && argv[argc])
		argc++;
	red = calloc(argc + 1, sizeof(*red));
	v = calloc(argc + 1, sizeof(*v));
	if (!red || !v) {
		free(red);
		free(v);
		return (size_t)snprintf(buf, cap, "%s", cap ? "..." : "");
	}
	for (size_t i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]) + sizeof(REDACT_MARK) + 1;

		red[i] = malloc(len);
		if (red[i] && redact_arg(argv[i], i ? argv[i - 1] : NULL, red[i], len))
			v[i] = red[i];
		else
			v[i] = argv[i];
	}
	n = sbx_quote_argv(buf, cap, v);
	for (size_t i = 0; i < argc; i++)
		free(red[i]);
	free(red);
	free(v);
	return n;
}

int sbx_connect(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (sbx_path(sa.sun_path, sizeof(sa.sun_path), name, SBX_SOCK) < 0)
		return -AGW_ETOOBIG;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

int sbx_send(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char b[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds < 0 || nfds > 3)
		return -AGW_EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.b;
		m.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
	}
	while (sendmsg(sock, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

ssize_t sbx_recv(int sock, void *buf, size_t cap, int *fds, int *nfds)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	int want = nfds ? *nfds : 0, got = 0;
	ssize_t n;

	if (nfds)
		*nfds = 0;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got < want)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nfds)
		*nfds = got;
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		if (nfds)
			*nfds = 0;
		return -AGW_ETOOBIG;
	}
	return n;
}
