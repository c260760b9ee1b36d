// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Installing the sandbox CA in the guest. Clients look in three kinds of
 * place: the system store (OpenSSL, GnuTLS, curl, git, Go read
 * GTRUST_STORE), a bundle named by a variable (Python's ssl and pip,
 * requests, node's NODE_EXTRA_CA_CERTS), and a login shell's profile. The
 * store is rewritten directly rather than by update-ca-certificates: the
 * script forks a few hundred processes, seconds under TCG, for one line of
 * work. The CA also goes to GTRUST_LOCAL so that a later
 * update-ca-certificates in the guest keeps it.
 */
#include "itrust.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"

#define ITRUST_MAX_STORE (8 * 1024 * 1024)

/* path into a fresh buffer (NUL-terminated), at most max bytes; -errno, -EFBIG. */
static int itrust_read(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < max && (n = read(fd, buf + got, max - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		got += (size_t)n;
	}
	if (r == 0 && got == max && read(fd, &n, 1) > 0)
		r = -EFBIG;
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[got] = 0;
	*out = buf;
	*len = got;
	return 0;
}

/* Replace path with the concatenation of the parts (tmp file, fsync-less rename). */
static int itrust_write(const char *path, const char *const *parts, const size_t *lens,
			size_t nparts)
{
	char tmp[512];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s.agentgw-tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < nparts && r == 0; i++)
		r = agw_write_all(fd, parts[i], lens[i]);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static int itrust_write1(const char *path, const char *text, size_t len)
{
	return itrust_write(path, &text, &len, 1);
}

static int itrust_isdir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int itrust_load(struct itrust *t, char *why, size_t cap)
{
	char *env = NULL;
	size_t env_len = 0, o = 0, skipped = 0;
	int r;

	memset(t, 0, sizeof(*t));
	why[0] = 0;
	r = itrust_read(GTRUST_CA, GTRUST_MAX_CA, &t->ca, &t->ca_len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		snprintf(why, cap, "%s: %s", GTRUST_CA, strerror(-r));
		return r;
	}
	if (gtrust_pem_check(t->ca, t->ca_len) < 0) {
		snprintf(why, cap, "%s: not PEM certificates", GTRUST_CA);
		free(t->ca);
		t->ca = NULL;
		return -EINVAL;
	}
	r = itrust_read(GTRUST_ENV, GTRUST_MAX_ENV, &env, &env_len);
	if (r < 0 && r != -ENOENT)
		snprintf(why, cap, "%s: %s (no placeholders)", GTRUST_ENV, strerror(-r));
	t->env = calloc(1, env_len + 1);
	if (!t->env) {
		free(env);
		return -ENOMEM;
	}
	/* Lines in place, NUL-separated: vars points into them. */
	for (size_t i = 0; i < env_len;) {
		const char *nl = memchr(env + i, '\n', env_len - i);
		size_t l = nl ? (size_t)(nl - env) - i : env_len - i, name_len;
		const char *bad;

		if (l && gtrust_env_line(env + i, l, &name_len, &bad) == 0 &&
		    t->nvars < GTRUST_MAX_VARS) {
			memcpy(t->env + o, env + i, l);
			t->vars[t->nvars++] = t->env + o;
			o += l + 1;
		} else if (l) {
			skipped++;
		}
		i += l + 1;
	}
	t->env_len = o;
	if (skipped)
		snprintf(why, cap, "%s: skipped %zu line(s) that are not NAME=VALUE placeholders",
			 GTRUST_ENV, skipped);
	free(env);
	return 1;
}

/* The placeholder lines as an env file and as a profile that sets what is unset. */
static int itrust_env_files(const struct itrust *t)
{
	size_t cap = t->env_len * 3 + 512 + GTRUST_N_CA_VARS * 128, o = 0, eo = 0;
	char *prof = malloc(cap), *env = malloc(t->env_len + 1);
	int r = 0;

	if (!prof || !env) {
		r = -ENOMEM;
		goto out;
	}
	o += (size_t)snprintf(prof, cap,
			      "# agentgw: the sandbox CA and credential placeholders, as every\n"
			      "# command agentgw runs gets them (rewritten at each boot)\n");
	for (size_t i = 0; i < GTRUST_N_CA_VARS + t->nvars; i++) {
		const char *kv =
		    i < GTRUST_N_CA_VARS ? gtrust_ca_var(i) : t->vars[i - GTRUST_N_CA_VARS];
		int nl = (int)strcspn(kv, "=");

		if (i >= GTRUST_N_CA_VARS) {
			memcpy(env + eo, kv, strlen(kv));
			eo += strlen(kv);
			env[eo++] = '\n';
		}
		o += (size_t)snprintf(prof + o, cap - o, ": \"${%.*s:=%s}\"; export %.*s\n", nl, kv,
				      kv + nl + 1, nl, kv);
	}
	if ((r = itrust_write1(GTRUST_ENV, env, eo)) < 0)
		goto out;
	if (itrust_isdir("/etc/profile.d"))
		r = itrust_write1(GTRUST_PROFILE, prof, o);
out:
	free(prof);
	free(env);
	return r;
}

/* The system store without what an earlier boot added (*clean, *cl bytes). */
static int itrust_store_clean(char **clean, long *cl, char *why, size_t cap)
{
	char *store = NULL, *old = NULL;
	size_t store_len = 0, old_len = 0;
	int r = itrust_read(GTRUST_STORE, ITRUST_MAX_STORE, &store, &store_len);

	*clean = NULL;
	if (r < 0 && r != -ENOENT) {
		snprintf(why, cap, "%s: %s", GTRUST_STORE, strerror(-r));
		return r;
	}
	if (itrust_read(GTRUST_LOCAL, GTRUST_MAX_CA, &old, &old_len) < 0)
		old = NULL;
	r = 0;
	*clean = malloc(store_len + 1);
	if (!*clean)
		r = -ENOMEM;
	else if ((*cl = gtrust_store_strip(store ? store : "", store_len, old, old_len, *clean,
					   store_len)) < 0)
		r = -EFBIG;
	if (r < 0) {
		snprintf(why, cap, "%s: %s", GTRUST_STORE, strerror(-r));
		free(*clean);
		*clean = NULL;
	}
	free(store);
	free(old);
	return r;
}

int itrust_clear(char *why, size_t cap)
{
	static const char *const files[] = {GTRUST_LOCAL, GTRUST_PROFILE, GTRUST_ENV, GTRUST_BUNDLE,
					    GTRUST_CA};
	char *clean = NULL;
	long cl = 0;
	int r;

	why[0] = 0;
	if ((r = itrust_store_clean(&clean, &cl, why, cap)) < 0)
		return r;
	if (access(GTRUST_STORE, F_OK) == 0 &&
	    (r = itrust_write1(GTRUST_STORE, clean, (size_t)cl)) < 0)
		snprintf(why, cap, "%s: %s", GTRUST_STORE, strerror(-r));
	free(clean);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		unlink(files[i]);
	return r;
}

int itrust_install(struct itrust *t, char *why, size_t cap)
{
	static const char nl = '\n';
	char *clean = NULL;
	const char *parts[4];
	size_t lens[4];
	long cl = 0;
	int r;

	why[0] = 0;
	mkdir("/etc", 0755);
	mkdir("/etc/agentgw", 0755);
	mkdir("/etc/ssl", 0755);
	mkdir("/etc/ssl/certs", 0755);
	if ((r = itrust_store_clean(&clean, &cl, why, cap)) < 0)
		goto out;
	parts[0] = t->ca;
	lens[0] = t->ca_len;
	parts[1] = &nl;
	lens[1] = t->ca_len && t->ca[t->ca_len - 1] != '\n';
	parts[2] = clean;
	lens[2] = (size_t)cl;
	if ((r = itrust_write1(GTRUST_CA, t->ca, t->ca_len)) < 0 ||
	    (r = itrust_write(GTRUST_BUNDLE, parts, lens, 3)) < 0) {
		snprintf(why, cap, "%s: %s", GTRUST_BUNDLE, strerror(-r));
		goto out;
	}
	parts[0] = clean;
	lens[0] = (size_t)cl;
	/* A store that does not end its last line would glue our mark onto it. */
	parts[1] = "\n" GTRUST_MARK "\n";
	lens[1] = strlen(parts[1]);
	if (cl == 0 || clean[cl - 1] == '\n') {
		parts[1]++;
		lens[1]--;
	}
	parts[2] = t->ca;
	lens[2] = t->ca_len;
	parts[3] = &nl;
	lens[3] = t->ca_len && t->ca[t->ca_len - 1] != '\n';
	if ((r = itrust_write(GTRUST_STORE, parts, lens, 4)) < 0) {
		snprintf(why, cap, "%s: %s", GTRUST_STORE, strerror(-r));
		goto out;
	}
	if (itrust_isdir(GTRUST_LOCAL_DIR) &&
	    (r = itrust_write1(GTRUST_LOCAL, t->ca, t->ca_len)) < 0) {
		snprintf(why, cap, "%s: %s", GTRUST_LOCAL, strerror(-r));
		goto out;
	}
	if ((r = itrust_env_files(t)) < 0) {
		snprintf(why, cap, "placeholder files: %s", strerror(-r));
		goto out;
	}
	/* Every exec: the CA variables first, the placeholders after them. */
	memmove(t->vars + GTRUST_N_CA_VARS, t->vars, t->nvars * sizeof(t->vars[0]));
	for (size_t i = 0; i < GTRUST_N_CA_VARS; i++)
		t->vars[i] = gtrust_ca_var(i);
	t->nvars += GTRUST_N_CA_VARS;
	t->vars[t->nvars] = NULL;
	t->installed = 1;
	r = 0;
out:
	free(clean);
	return r;
}
