/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One cgroup per sandbox, holding its supervisor and everything it starts
 * (net and fs children, the VM runner, QEMU), so nothing one sandbox does
 * can take the host's memory, CPUs or pid space: memory (guest memory plus
 * QEMU's and the gateway's overhead), CPU (the guest's vCPUs plus half a
 * CPU for the gateway) and pids. cgroup v2 when /sys/fs/cgroup is a v2
 * hierarchy with the memory, cpu and pids controllers; otherwise the v1
 * memory, cpu and pids hierarchies (each must be mounted). The cgroups are
 * agentgw/<name>-<supervisor pid> under each root.
 */
#ifndef AGW_CG_H
#define AGW_CG_H

#include <stddef.h>
#include <stdint.h>

#define CG_PATH_MAX 256
/* Memory beyond the guest's: QEMU (TCG's translation cache, device state),
 * the gateway children and the supervisor. */
#define CG_OVERHEAD_MIB 1024
#define CG_PIDS_MAX 512

struct cg_limits {
	uint64_t memory_bytes; /* 0: no memory limit */
	unsigned cpu_pct;      /* 100 per CPU; 0: no CPU limit */
	unsigned pids_max;     /* 0: no pids limit */
};

struct cg {
	int v2;
	char dirs[3][CG_PATH_MAX]; /* v2: dirs[0] only; v1: memory, cpu, pids */
	size_t ndirs;
};

/*
 * Which hierarchy this host offers: 2, 1, or 0 (none usable; *why says what
 * is missing). Never blocks.
 */
int cg_mode(char *why, size_t cap);

/* The limits for a guest of mem_mib MiB and vcpus vCPUs. Pure. */
struct cg_limits cg_limits_for(uint64_t mem_mib, unsigned vcpus);

/*
 * Create agentgw/<name>-<pid> (removing empty leftovers of that name), set the limits and
 * move the calling process into it (its future children follow). Returns
 * 0, -AGW_ENOTFOUND when no hierarchy is usable, or -errno; on error
 * nothing is left behind. Never blocks.
 */
int cg_enter(const char *name, const struct cg_limits *lim, struct cg *out);

/*
 * Move the calling process back to the root cgroup(s) and remove the
 * sandbox's (it must be empty by then: call after every child is reaped).
 * Returns 0 or -errno. Never blocks.
 */
int cg_leave(struct cg *cg);

/* Remove the empty cgroups of dead sandboxes called name. Never blocks. */
void cg_remove(const char *name);

/* The value of one limit file of the sandbox's cgroup (e.g. "memory.max"),
 * for tests and doctor. Returns 0 or -errno. */
int cg_read(const struct cg *cg, const char *file, char *buf, size_t cap);

#endif
