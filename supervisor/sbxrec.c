// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state dir's record of which audit database each sandbox writes
 * (supervisor/sbxrec.h), so `agentgw audit` finds a sandbox's log while it runs
 * and after `down` removed <run>/<name>/.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "vmctl/accel.h"
#include "supervisor/sbxrec.h"

static void sbxrec_copy(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int sbxrec_parse(const char *text, size_t n, struct sbxrec *r)
{
	size_t i = 0;

	r->name[0] = r->audit_db[0] = '\0';
	r->live = false;
	while (i < n) {
		const char *line = text + i, *eq, *end = memchr(line, '\n', n - i);
		size_t len = end ? (size_t)(end - line) : n - i, klen, vlen;

		i += len + 1;
		eq = memchr(line, '=', len);
		if (!eq)
			continue;
		klen = (size_t)(eq - line);
		vlen = len - klen - 1;
		if (klen == 4 && memcmp(line, "name", 4) == 0 && vlen <= SBX_NAME_MAX)
			sbxrec_copy(r->name, sizeof(r->name), eq + 1, vlen);
		else if (klen == 8 && memcmp(line, "audit_db", 8) == 0 &&
			 vlen < sizeof(r->audit_db))
			sbxrec_copy(r->audit_db, sizeof(r->audit_db), eq + 1, vlen);
	}
	if (!sbx_name_valid(r->name) || !r->audit_db[0])
		return -AGW_EPARSE;
	return 0;
}

static void sbxrec_mkdir_p(const char *dir)
{
	char p[512];

	if ((size_t)snprintf(p, sizeof(p), "%s", dir) >= sizeof(p))
		return;
	for (char *c = p + 1; *c; c++)
		if (*c == '/') {
			*c = 0;
			mkdir(p, 0755);
			*c = '/';
		}
	mkdir(p, 0755);
}


int sbxrec_write(const char *name, const char *audit_db)
{
	char dir[512], path[600], text[4200];
	int rc;

	if (!sbx_name_valid(name) || !audit_db || !audit_db[0] || strchr(audit_db, '\n'))
		return -AGW_EINVAL;
	if ((size_t)snprintf(text, sizeof(text), "name=%s\naudit_db=%s\n", name, audit_db) >=
		sizeof(text) ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/%s", accel_state_dir(), SBXREC_DIR) >=
		sizeof(dir))
		return -AGW_ETOOBIG;
	sbxrec_mkdir_p(dir);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((rc = agw_write_file(path, text, 0644)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", accel_state_dir(), SBXREC_LAST);
	return agw_write_file(path, text, 0644);
}

/* Read the record at <state>/<file>. */
static int sbxrec_load(const char *file, struct sbxrec *r)
{
	char path[600], buf[4400];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", accel_state_dir(), file) >= sizeof(path))
		return -AGW_ETOOBIG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -AGW_ENOTFOUND : -errno;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0)
		return -EIO;
	return sbxrec_parse(buf, (size_t)n, r) < 0 ? -AGW_ENOTFOUND : 0;
}

/* From <run>/<name>/info. */
static int sbxrec_from_run(const char *name, struct sbxrec *r, int64_t *started, bool live_only)
{
	struct sbx_info info;

	if (sbx_info_read(name, &info) < 0 || !info.audit_db[0])
		return -AGW_ENOTFOUND;
	if (live_only && sbx_state_of(&info) == SBX_DEAD)
		return -AGW_ENOTFOUND;
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->audit_db, sizeof(r->audit_db), "%s", info.audit_db);
	r->live = sbx_state_of(&info) != SBX_DEAD;
	if (started)
		*started = info.started_at;
	return 0;
}

int sbxrec_find(const char *name, struct sbxrec *r)
{
	char file[64];
	struct dirent *de;
	int64_t best = -1, t;
	struct sbxrec cand;
	DIR *d;

	memset(r, 0, sizeof(*r));
	if (name) {
		if (!sbx_name_valid(name))
			return -AGW_ENOTFOUND;
		if (sbxrec_from_run(name, r, NULL, false) == 0)
			return 0;
		snprintf(file, sizeof(file), "%s/%s", SBXREC_DIR, name);
		return sbxrec_load(file, r);
	}
	d = opendir(sbx_run_dir());
	while (d && (de = readdir(d))) {
		if (!sbx_name_valid(de->d_name) ||
		    sbxrec_from_run(de->d_name, &cand, &t, true) < 0 || t <= best)
			continue;
		best = t;
		*r = cand;
	}
	if (d)
		closedir(d);
	if (best >= 0)
		return 0;
	return sbxrec_load(SBXREC_LAST, r);
}
