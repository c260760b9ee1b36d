// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest folder, the sandbox CA and the credentials at start (see
 * supguest.h). Files are written to a temporary name and renamed
 * (agw_write_file), so the guest side never reads half a file.
 */
#include "supguest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/net/cred.h"
#include "gateway/net/tlsi.h"

static int supguest_write(const char *dir, const char *file, const char *text)
{
	char path[4200];

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -AGW_ETOOBIG;
	return agw_write_file(path, text, 0644);
}

int supguest_make(struct supguest *g, const char *name, const char *state_dir,
		  const struct pol *p, char *err, size_t errcap)
{
	char *pem = NULL, *env = NULL, parent[4096];
	size_t cap = 1, off = 0;
	int rc;

	memset(g, 0, sizeof(*g));
	err[0] = '\0';
	rc = cred_set_load(p, &g->creds, err, errcap);
	if (rc) {
		if (!err[0])
			snprintf(err, errcap, "credentials: %s", agw_strerror(rc));
		goto out;
	}
	rc = tlsi_ca_new(name, TLSI_CA_MARGIN_DAYS, &g->ca);
	if (rc) {
		snprintf(err, errcap, "cannot make the sandbox CA: %s", agw_strerror(rc));
		goto out;
	}
	pem = tlsi_ca_pem(g->ca);
	for (size_t i = 0; i < g->creds->n; i++)
		cap += strlen(g->creds->v[i].env) + g->creds->v[i].ph_len + 2;
	env = malloc(cap);
	if (!pem || !env) {
		rc = -AGW_ENOMEM;
		snprintf(err, errcap, "out of memory");
		goto out;
	}
	env[0] = '\0';
	for (size_t i = 0; i < g->creds->n; i++)
		off += (size_t)snprintf(env + off, cap - off, "%s=%s\n", g->creds->v[i].env,
					g->creds->v[i].ph);
	/* The run dir and the state dir may not exist yet. */
	snprintf(parent, sizeof(parent), "%s", state_dir);
	{
		char *slash = strrchr(parent, '/');

		if (slash && slash != parent) {
			*slash = '\0';
			mkdir(parent, 0755);
		}
	}
	mkdir(state_dir, 0755);
	if (snprintf(g->dir, sizeof(g->dir), "%s/%s", state_dir, SUPGUEST_DIR) >=
	    (int)sizeof(g->dir)) {
		rc = -AGW_ETOOBIG;
		snprintf(err, errcap, "state folder path too long");
		goto out;
	}
	if (mkdir(g->dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errcap, "cannot create %s: %s", g->dir, strerror(errno));
		goto out;
	}
	chmod(g->dir, 0755);
	if ((rc = supguest_write(g->dir, SUPGUEST_CA, pem)) ||
	    (rc = supguest_write(g->dir, SUPGUEST_ENV, env))) {
		snprintf(err, errcap, "cannot write %s: %s", g->dir, agw_strerror(rc));
		goto out;
	}
out:
	free(pem);
	free(env);
	if (rc)
		supguest_release(g);
	return rc;
}

void supguest_release(struct supguest *g)
{
	tlsi_ca_free(g->ca);
	cred_set_free(g->creds);
	g->ca = NULL;
	g->creds = NULL;
}

void supguest_remove(const struct supguest *g)
{
	char path[4200];

	if (!g->dir[0])
		return;
	snprintf(path, sizeof(path), "%s/%s", g->dir, SUPGUEST_CA);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", g->dir, SUPGUEST_ENV);
	unlink(path);
	rmdir(g->dir);
}
