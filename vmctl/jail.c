// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Spawning QEMU in its jail. The child is made with a raw clone(2) (fork
 * semantics, new namespaces at once, so it is pid 1 of its own pid
 * namespace and sees only itself in /proc), builds its root on a tmpfs
 * mounted over an empty folder of the sandbox's state (visible only in its
 * own mount namespace), pivots into it, drops every capability from the
 * bounding and ambient sets, sets no_new_privs and becomes the jail's uid
 * and gid before exec. Every step that fails ends the child with 127 and a
 * line in QEMU's log, which vm_start() quotes.
 */
#include "jail.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agw.h"

#define JAIL_PATH_MAX 1024

/* Host paths bound read-only into every jail (those that exist). */
static const char *const jail_sys_ro[] = {"/usr",   "/bin",  "/lib",
					  "/lib64", "/sbin", "/etc/ld.so.cache"};
static const char *const jail_devs[] = {"/dev/null", "/dev/zero", "/dev/urandom"};

uid_t jail_id(uint32_t slot)
{
	return (uid_t)(JAIL_ID_BASE + slot);
}

void jail_init(struct jail *j, uint32_t slot, const char *root_dir, const char *rw_dir)
{
	memset(j, 0, sizeof(*j));
	if (geteuid() != 0)
		return;
	j->uid = jail_id(slot);
	j->gid = (gid_t)j->uid;
	j->root_dir = root_dir;
	j->rw_dir = rw_dir;
}

int jail_add_ro(struct jail *j, const char *path)
{
	if (j->n_ro >= JAIL_MAX_PATHS)
		return -AGW_ETOOBIG;
	j->ro[j->n_ro++] = path;
	return 0;
}

int jail_add_rw(struct jail *j, const char *path)
{
	if (j->n_rw >= JAIL_MAX_RW)
		return -AGW_ETOOBIG;
	j->rw[j->n_rw++] = path;
	return 0;
}

/* mkdir -p of dir (0755); the last component too. */
static int jail_mkdirs(char *dir)
{
	for (char *c = dir + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = 0;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -1;
		*c = '/';
	}
	return mkdir(dir, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/*
 * Make path appear at root+path: a symlink is copied as a symlink, a
 * folder or file is bind-mounted (read-only unless rw; device files keep
 * their dev flag). A path missing on the host is skipped when optional.
 */
static int jail_bind(const char *root, const char *path, int rw, int dev, int optional)
{
	char dst[JAIL_PATH_MAX], link[JAIL_PATH_MAX], *slash;
	unsigned long fl =
	    MS_REMOUNT | MS_BIND | MS_NOSUID | (rw ? 0 : MS_RDONLY) | (dev ? 0 : MS_NODEV);
	struct stat st;
	ssize_t n;
	int fd;

	if (lstat(path, &st) < 0)
		return optional && errno == ENOENT ? 0 : -1;
	if ((size_t)snprintf(dst, sizeof(dst), "%s%s", root, path) >= sizeof(dst)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dst, '/');
	*slash = 0;
	if (jail_mkdirs(dst) < 0)
		return -1;
	*slash = '/';
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			return -1;
		link[n] = 0;
		return symlink(link, dst) < 0 && errno != EEXIST ? -1 : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return -1;
	} else {
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (mount(path, dst, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    mount(NULL, dst, NULL, fl, NULL) < 0)
		return -1;
	return 0;
}

/*
 * /dev/kvm is often 0600 root: the jail gets its own node of the same
 * device, owned by the jail's uid, visible only in its mount namespace.
 */
static int jail_kvm_node(const char *root, const struct jail *j)
{
	char p[JAIL_PATH_MAX];
	struct stat st;

	if (stat("/dev/kvm", &st) < 0 || !S_ISCHR(st.st_mode))
		return -1;
	snprintf(p, sizeof(p), "%s/dev/kvm", root);
	if (mknod(p, S_IFCHR | 0600, st.st_rdev) < 0 || chown(p, j->uid, j->gid) < 0)
		return -1;
	return 0;
}

/* In the child, in its new namespaces: build the root, enter it, drop privileges. */
static int jail_enter(const struct jail *j, const char **step)
{
	const char *r = j->root_dir;
	char p[JAIL_PATH_MAX];
	size_t i;

	*step = "private mounts";
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	*step = "root tmpfs";
	/* Without nodev: /dev/kvm is made here for the jail's uid (below). */
	if (mount("agentgw-qemu", r, "tmpfs", MS_NOSUID, "mode=0755,size=1m") < 0)
		return -1;
	*step = "system binds";
	for (i = 0; i < AGW_ARRAY_LEN(jail_sys_ro); i++)
		if (jail_bind(r, jail_sys_ro[i], 0, 0, 1) < 0)
			return -1;
	*step = "device binds";
	for (i = 0; i < AGW_ARRAY_LEN(jail_devs); i++)
		if (jail_bind(r, jail_devs[i], 1, 1, 0) < 0)
			return -1;
	*step = "/dev/kvm";
	if (j->kvm && jail_kvm_node(r, j) < 0)
		return -1;
	*step = "image binds";
	for (i = 0; i < j->n_ro; i++)
		if (jail_bind(r, j->ro[i], 0, 0, 0) < 0)
			return -1;
	*step = "state bind";
	if (j->rw_dir && jail_bind(r, j->rw_dir, 1, 0, 0) < 0)
		return -1;
	*step = "disk binds";
	for (i = 0; i < j->n_rw; i++)
		if (jail_bind(r, j->rw[i], 1, 0, 0) < 0)
			return -1;
	*step = "proc";
	snprintf(p, sizeof(p), "%s/proc", r);
	if (mkdir(p, 0555) < 0 ||
	    mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return -1;
	*step = "pivot_root";
	if (chdir(r) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0)
		return -1;
	*step = "hostname";
	if (sethostname("agentgw-qemu", 12) < 0)
		return -1;
	*step = "capabilities";
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -1;
	*step = "ids";
	if (setgroups(0, NULL) < 0 || setresgid(j->gid, j->gid, j->gid) < 0 ||
	    setresuid(j->uid, j->uid, j->uid) < 0)
		return -1;
	*step = "no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	/* A uid change clears it: set it again, so QEMU dies with its runner. */
	*step = "parent death signal";
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return -1;
	if (getuid() != j->uid || geteuid() != j->uid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

int jail_spawn(const struct jail *j, char *const argv[], int keep_fd, int log_fd, pid_t *pid)
{
	char bin[JAIL_PATH_MAX];
	unsigned long flags = SIGCHLD;
	int jailed = j && j->uid != 0, nullfd, r;
	long child;

	*pid = -1;
	if ((r = agw_which(argv[0], bin, sizeof(bin))) < 0)
		return r;
	if (jailed) {
		if (!j->root_dir || (mkdir(j->root_dir, 0700) < 0 && errno != EEXIST))
			return j->root_dir ? -errno : -EINVAL;
		if (j->rw_dir &&
		    (chown(j->rw_dir, j->uid, j->gid) < 0 || chmod(j->rw_dir, 0700) < 0))
			return -errno;
		flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET;
	}
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nullfd < 0)
		return -errno;
	fflush(NULL);
	child = syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (child < 0) {
		r = -errno;
		close(nullfd);
		return r;
	}
	if (child == 0) {
		const char *step = "";
		int out = log_fd >= 0 ? log_fd : nullfd;

		/* QEMU never outlives the process that started it (kill -9 included). */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		setpgid(0, 0); /* the terminal's ^C is for `up`, which powers QEMU off */
		if (dup2(nullfd, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
			_exit(127);
		if (jailed && jail_enter(j, &step) < 0) {
			dprintf(2, "agentgw: jail for QEMU: %s: %s\n", step, strerror(errno));
			_exit(127);
		}
		if (keep_fd > 2) {
			fcntl(keep_fd, F_SETFD, 0);
			syscall(SYS_close_range, 3, (unsigned)keep_fd - 1, 0);
			syscall(SYS_close_range, (unsigned)keep_fd + 1, ~0u, 0);
		} else {
			syscall(SYS_close_range, 3, ~0u, 0);
		}
		execv(bin, argv);
		dprintf(2, "agentgw: exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(nullfd);
	*pid = (pid_t)child;
	return 0;
}
