// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Sandbox cgroups. The supervisor moves itself in before it starts any
 * child, so the children, the runner and QEMU are born inside and cannot
 * leave (they have no privilege to). On the way out it moves back to the
 * cgroup it came from (read from /proc/self/cgroup) and removes the
 * sandbox's; a dead sandbox's empty cgroups are removed by `up`/`down`'s
 * clean-up. Paths: agentgw/<name>-<supervisor pid> under each hierarchy's
 * root (two run dirs may each have a sandbox of one name).
 */
#include "cg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"

#define CG_ROOT "/sys/fs/cgroup"

static const char *const cg_v1_ctl[3] = {"memory", "cpu", "pids"};

static int cg_write(const char *dir, const char *file, const char *val)
{
	char p[CG_PATH_MAX + 64];
	int fd, r = 0;
	size_t n = strlen(val);

	snprintf(p, sizeof(p), "%s/%s", dir, file);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, n) != (ssize_t)n)
		r = -errno;
	close(fd);
	return r;
}

int cg_read(const struct cg *cg, const char *file, char *buf, size_t cap)
{
	char p[CG_PATH_MAX + 64];
	ssize_t n;
	int fd;

	buf[0] = 0;
	for (size_t i = 0; i < cg->ndirs; i++) {
		snprintf(p, sizeof(p), "%s/%s", cg->dirs[i], file);
		if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, cap - 1);
		close(fd);
		if (n < 0)
			return -errno;
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		return 0;
	}
	return -ENOENT;
}

/* Whether the space-separated list has every one of the three words. */
static int cg_has_all(const char *list)
{
	for (size_t i = 0; i < AGW_ARRAY_LEN(cg_v1_ctl); i++) {
		const char *w = cg_v1_ctl[i], *p = list;
		size_t n = strlen(w);
		int found = 0;

		while ((p = strstr(p, w))) {
			if ((p == list || p[-1] == ' ') &&
			    (p[n] == 0 || p[n] == ' ' || p[n] == '\n'))
				found = 1;
			p += n;
		}
		if (!found)
			return 0;
	}
	return 1;
}

int cg_mode(char *why, size_t cap)
{
	char list[256] = "", p[128];
	size_t i;
	int fd;
	ssize_t n;

	why[0] = 0;
	if ((fd = open(CG_ROOT "/cgroup.controllers", O_RDONLY | O_CLOEXEC)) >= 0) {
		n = read(fd, list, sizeof(list) - 1);
		close(fd);
		list[n > 0 ? n : 0] = 0;
		if (cg_has_all(list))
			return 2;
	}
	for (i = 0; i < AGW_ARRAY_LEN(cg_v1_ctl); i++) {
		snprintf(p, sizeof(p), CG_ROOT "/%s/cgroup.procs", cg_v1_ctl[i]);
		if (access(p, W_OK) < 0)
			break;
	}
	if (i == AGW_ARRAY_LEN(cg_v1_ctl))
		return 1;
	snprintf(why, cap,
		 "no cgroup v2 hierarchy at " CG_ROOT " with memory, cpu and pids (%s%s), and no "
		 "writable v1 %s hierarchy at " CG_ROOT "/%s",
		 list[0] ? "has: " : "none", list, cg_v1_ctl[i], cg_v1_ctl[i]);
	return 0;
}

struct cg_limits cg_limits_for(uint64_t mem_mib, unsigned vcpus)
{
	struct cg_limits l = {
	    .memory_bytes = (mem_mib + CG_OVERHEAD_MIB) << 20,
	    .cpu_pct = (vcpus ? vcpus : 1) * 100 + 50,
	    .pids_max = CG_PIDS_MAX,
	};

	return l;
}

/* Whether the comma-separated list names ctl. */
static int cg_lists(const char *list, const char *ctl)
{
	size_t n = strlen(ctl);

	for (const char *p = list; *p; p = strchrnul(p, ',') + (*strchrnul(p, ',') ? 1 : 0))
		if (strncmp(p, ctl, n) == 0 && (p[n] == ',' || p[n] == 0))
			return 1;
	return 0;
}

/* This process's cgroup in v1 hierarchy `ctl`, or the v2 one (ctl NULL), from /proc/self/cgroup. */
static int cg_self(const char *ctl, char *buf, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (r < 0 && fgets(line, sizeof(line), f)) {
		/* "ID:CONTROLLERS:PATH" */
		char *ctls = strchr(line, ':'), *path = ctls ? strchr(ctls + 1, ':') : NULL;

		if (!path)
			continue;
		*ctls++ = 0;
		*path++ = 0;
		path[strcspn(path, "\n")] = 0;
		if (ctl ? cg_lists(ctls, ctl) : strcmp(line, "0") == 0 && !*ctls) {
			snprintf(buf, cap, "%s", path);
			r = 0;
		}
	}
	fclose(f);
	return r;
}

static void cg_rmdir(const char *dir)
{
	/* The last process may still be on its way out: EBUSY for a moment. */
	for (int i = 0; i < 100 && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(10000);
}

/* Remove the empty cgroups <base>/<name>-<pid> of sandboxes called name. */
static void cg_remove_in(const char *base, const char *name)
{
	size_t n = strlen(name);
	struct dirent *de;
	char p[CG_PATH_MAX];
	DIR *d = opendir(base);

	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, name, n) == 0 && de->d_name[n] == '-' &&
		    de->d_name[n + 1] &&
		    strspn(de->d_name + n + 1, "0123456789") == strlen(de->d_name + n + 1)) {
			if ((size_t)snprintf(p, sizeof(p), "%s/%s", base, de->d_name) >= sizeof(p))
				continue;
			rmdir(p); /* fails while a process is in it: then it is not dead */
		}
	if (d)
		closedir(d);
}

void cg_remove(const char *name)
{
	char p[CG_PATH_MAX];

	cg_remove_in(CG_ROOT "/agentgw", name);
	for (size_t i = 0; i < AGW_ARRAY_LEN(cg_v1_ctl); i++) {
		snprintf(p, sizeof(p), CG_ROOT "/%s/agentgw", cg_v1_ctl[i]);
		cg_remove_in(p, name);
	}
}

int cg_leave(struct cg *cg)
{
	char back[CG_PATH_MAX], root[CG_PATH_MAX + 16], pid[24];
	int r = 0;

	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	for (size_t i = 0; i < cg->ndirs; i++) {
		const char *ctl = cg->v2 ? NULL : cg_v1_ctl[i];

		if (cg_self(ctl, back, sizeof(back)) < 0 || strstr(back, "/agentgw/"))
			snprintf(back, sizeof(back), "/"); /* came from the sandbox's: go to root */
		if (cg->v2)
			snprintf(root, sizeof(root), CG_ROOT "%s", back);
		else
			snprintf(root, sizeof(root), CG_ROOT "/%s%s", ctl, back);
		if (cg_write(root, "cgroup.procs", pid) < 0 &&
		    cg_write(cg->v2 ? CG_ROOT : root, "cgroup.procs", pid) < 0)
			r = -errno;
		cg_rmdir(cg->dirs[i]);
	}
	cg->ndirs = 0;
	return r;
}

static int cg_mkdir(const char *dir)
{
	if (mkdir(dir, 0755) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

int cg_enter(const char *name, const struct cg_limits *lim, struct cg *cg)
{
	char why[256], v[64];
	int mode = cg_mode(why, sizeof(why)), r;
	size_t i;

	memset(cg, 0, sizeof(*cg));
	if (mode == 0)
		return -AGW_ENOTFOUND;
	if (strlen(name) > 64 || strchr(name, '/'))
		return -AGW_EINVAL;
	cg_remove(name); /* empty leftovers of dead sandboxes of that name */
	cg->v2 = mode == 2;
	if (cg->v2) {
		snprintf(cg->dirs[0], CG_PATH_MAX, CG_ROOT "/agentgw/%s-%d", name, (int)getpid());
		cg->ndirs = 1;
		if ((r = cg_write(CG_ROOT, "cgroup.subtree_control", "+memory +cpu +pids")) < 0 ||
		    (r = cg_mkdir(CG_ROOT "/agentgw")) < 0 ||
		    (r = cg_write(CG_ROOT "/agentgw", "cgroup.subtree_control",
				  "+memory +cpu +pids")) < 0 ||
		    (r = cg_mkdir(cg->dirs[0])) < 0)
			goto fail;
		if (lim->memory_bytes) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory_bytes);
			if ((r = cg_write(cg->dirs[0], "memory.max", v)) < 0)
				goto fail;
		}
		if (lim->cpu_pct) {
			snprintf(v, sizeof(v), "%u 100000", lim->cpu_pct * 1000);
			if ((r = cg_write(cg->dirs[0], "cpu.max", v)) < 0)
				goto fail;
		}
		if (lim->pids_max) {
			snprintf(v, sizeof(v), "%u", lim->pids_max);
			if ((r = cg_write(cg->dirs[0], "pids.max", v)) < 0)
				goto fail;
		}
	} else {
		for (i = 0; i < AGW_ARRAY_LEN(cg_v1_ctl); i++) {
			char base[64];

			snprintf(base, sizeof(base), CG_ROOT "/%s/agentgw", cg_v1_ctl[i]);
			snprintf(cg->dirs[i], CG_PATH_MAX, "%s/%.64s-%d", base, name,
				 (int)getpid());
			if ((r = cg_mkdir(base)) < 0 || (r = cg_mkdir(cg->dirs[i])) < 0)
				goto fail;
			cg->ndirs = i + 1;
		}
		if (lim->memory_bytes) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory_bytes);
			if ((r = cg_write(cg->dirs[0], "memory.limit_in_bytes", v)) < 0)
				goto fail;
		}
		if (lim->cpu_pct) {
			snprintf(v, sizeof(v), "%u", lim->cpu_pct * 1000);
			if ((r = cg_write(cg->dirs[1], "cpu.cfs_period_us", "100000")) < 0 ||
			    (r = cg_write(cg->dirs[1], "cpu.cfs_quota_us", v)) < 0)
				goto fail;
		}
		if (lim->pids_max) {
			snprintf(v, sizeof(v), "%u", lim->pids_max);
			if ((r = cg_write(cg->dirs[2], "pids.max", v)) < 0)
				goto fail;
		}
	}
	for (i = 0; i < cg->ndirs; i++)
		if ((r = cg_write(cg->dirs[i], "cgroup.procs", "0\n")) < 0)
			goto fail;
	return 0;
fail:
	cg_leave(cg);
	return r;
}
