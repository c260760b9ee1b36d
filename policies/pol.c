// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy objects: loading from a file or a buffer (size limit, sha256 of the
 * bytes, YAML parse, schema build, errors sorted by position), freeing, and
 * the accessors other modules read settings through.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "policies/pol_int.h"

const char *pol_verdict_str(enum pol_verdict v)
{
	return v == POL_ALLOW	     ? "allow"
	       : v == POL_WOULD_DENY ? "would_deny"
	       : v == POL_ASK	     ? "ask"
				     : "deny";
}

void pol_free(struct pol *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nnr; i++)
		pol_nrule_free(&p->nr[i]);
	free(p->nr);
	free(p->cidr);
	pol_trie_free(&p->trie);
	for (size_t i = 0; i < p->nfr; i++)
		pol_glob_free(&p->fr[i].g);
	free(p->fr);
	for (size_t i = 0; i < p->nupstreams; i++)
		free(p->upstreams[i]);
	free(p->upstreams);
	free(p->file);
	free(p->name);
	free(p->text);
	free(p->image);
	free(p->user);
	free(p->workspace);
	free(p->audit_db);
	free(p->upstream_ca);
	for (size_t i = 0; i < p->ncreds; i++) {
		struct pol_cred *c = &p->creds[i];

		free(c->name);
		free(c->env);
		free(c->from);
		free(c->header);
		for (size_t k = 0; k < c->nhosts; k++)
			free(c->hosts[k]);
		free(c->hosts);
	}
	free(p->creds);
	free(p);
}

/* Stable insertion sort by position: errors at one place keep report order. */
static void errs_sort(struct pol_errors *errs)
{
	for (size_t i = 1; i < errs->n; i++) {
		struct pol_error e = errs->v[i];
		size_t j = i;

		while (j > 0 && (errs->v[j - 1].line > e.line ||
				 (errs->v[j - 1].line == e.line && errs->v[j - 1].col > e.col))) {
			errs->v[j] = errs->v[j - 1];
			j--;
		}
		errs->v[j] = e;
	}
}

static char *default_name(const char *file)
{
	const char *b = file ? strrchr(file, '/') : NULL;
	size_t n;

	b = b ? b + 1 : file ? file : "policy";
	n = strcspn(b, ".");
	return strndup(b, n ? n : strlen(b));
}

int pol_load_buf(const char *name, const char *buf, size_t len, const char *basedir,
		 struct pol **out, struct pol_errors *errs)
{
	struct pol_ectx e = {.file = name ? name : "<policy>", .errs = errs};
	struct pol_yaml y = {.root = -1};
	struct pol *p = NULL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	int ret;

	*out = NULL;
	if (!buf && len) {
		ret = -AGW_EINVAL;
		goto out;
	}
	if (len > POL_MAX_BYTES) {
		pol_err(&e, 0, 0, "policy is larger than %u MiB", POL_MAX_BYTES >> 20);
		ret = -AGW_ETOOBIG;
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->text = malloc(len + 1)) || !(p->file = strdup(e.file)) ||
	    !(p->image = strdup("default"))) {
		ret = -AGW_ENOMEM;
		goto out;
	}
	if (len)
		memcpy(p->text, buf, len);
	p->text[len] = 0;
	p->mode = POL_MODE_ENFORCE;
	p->vcpus = 1;
	p->memory_mib = 512;
	p->disk_mib = 4096;
	p->ttl_max = 300;
	p->max_conns = 256;
	p->fs_max_bytes = POL_FS_MAX_BYTES_DEFAULT;
	p->fs_max_files = POL_FS_MAX_FILES_DEFAULT;
	if (!EVP_Digest(buf ? buf : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		ret = -AGW_ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(p->sha + 2 * i, 3, "%02x", md[i]);
	ret = pol_yaml_parse(&e, p->text, len, &y);
	if (ret == 0)
		ret = pol_build(&e, &y, basedir, p);
	if (ret == 0 && e.nomem)
		ret = -AGW_ENOMEM;
	if (ret == 0 && !p->name && !(p->name = default_name(name)))
		ret = -AGW_ENOMEM;
out:
	pol_yaml_free(&y);
	errs_sort(errs);
	if (e.dropped) {
		/* one slot past the cap for the note */
		struct pol_error *v = realloc(errs->v, (errs->n + 1) * sizeof(*v));

		if (v) {
			errs->v = v;
			v[errs->n].file = strdup(e.file);
			v[errs->n].msg = strdup("too many errors; the first ones are shown above");
			v[errs->n].line = v[errs->n].col = 0;
			if (v[errs->n].file && v[errs->n].msg) {
				errs->n++;
			} else {
				free(v[errs->n].file);
				free(v[errs->n].msg);
			}
		}
	}
	if (ret < 0) {
		pol_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

int pol_load_file(const char *path, struct pol **out, struct pol_errors *errs)
{
	struct pol_ectx e = {.file = path, .errs = errs};
	char *buf = NULL, *dir = NULL, *rp = NULL;
	struct stat st;
	size_t got = 0;
	int fd = -1, ret;

	*out = NULL;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is
	 * refused as not a regular file just below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		pol_err(&e, 0, 0, "cannot read the policy: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -AGW_EINVAL;
		pol_err(&e, 0, 0, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > POL_MAX_BYTES) {
		ret = -AGW_ETOOBIG;
		pol_err(&e, 0, 0, "policy is larger than %u MiB", POL_MAX_BYTES >> 20);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -AGW_ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			pol_err(&e, 0, 0, "cannot read the policy: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	rp = realpath(path, NULL);
	if (!rp) {
		ret = -errno;
		pol_err(&e, 0, 0, "cannot resolve the policy's folder: %s", strerror(errno));
		goto out;
	}
	dir = dirname(rp);
	ret = pol_load_buf(path, buf, got, dir, out, errs);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(rp);
	return ret;
}

const char *pol_name(const struct pol *p)
{
	return p->name;
}

enum pol_mode pol_mode(const struct pol *p)
{
	return p->mode;
}

const char *pol_mode_str(enum pol_mode m)
{
	return m == POL_MODE_AUDIT ? "audit" : m == POL_MODE_ASK ? "ask" : "enforce";
}

unsigned pol_ask_timeout(const struct pol *p)
{
	return p->ask_timeout ? p->ask_timeout : POL_ASK_TIMEOUT_DEFAULT;
}

const char *pol_sha256(const struct pol *p)
{
	return p->sha;
}

const char *pol_text(const struct pol *p)
{
	return p->text;
}

const char *pol_workspace(const struct pol *p)
{
	return p->workspace;
}

int pol_set_workspace(struct pol *p, const char *dir)
{
	struct stat st;
	char *abs;

	if (!p->workspace)
		return -AGW_EINVAL;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	abs = realpath(dir, NULL);
	if (!abs)
		return -errno;
	free(p->workspace);
	p->workspace = abs;
	return 0;
}

const char *pol_audit_db(const struct pol *p)
{
	return p->audit_db;
}

unsigned pol_audit_retention_days(const struct pol *p)
{
	return p->audit_retention_days;
}

size_t pol_creds(const struct pol *p, const struct pol_cred **out)
{
	*out = p->creds;
	return p->ncreds;
}

const char *pol_upstream_ca(const struct pol *p)
{
	return p->upstream_ca;
}

size_t pol_dns_upstreams(const struct pol *p, const char *const **out)
{
	*out = (const char *const *)p->upstreams;
	return p->nupstreams;
}

uint64_t pol_fs_max_bytes(const struct pol *p)
{
	return p->fs_max_bytes;
}

uint64_t pol_fs_max_files(const struct pol *p)
{
	return p->fs_max_files;
}

unsigned pol_max_conns(const struct pol *p)
{
	return p->max_conns;
}

unsigned pol_vcpus(const struct pol *p)
{
	return p->vcpus;
}

uint64_t pol_memory_mib(const struct pol *p)
{
	return p->memory_mib;
}

uint64_t pol_disk_mib(const struct pol *p)
{
	return p->disk_mib;
}

const char *pol_user(const struct pol *p)
{
	return p->user;
}

const char *pol_image(const struct pol *p)
{
	return p->image;
}

const char *pol_accel(const struct pol *p)
{
	return p->accel;
}

const char *pol_fs_transport(const struct pol *p)
{
	return p->fs_transport;
}

bool pol_fs_can_ask(const struct pol *p)
{
	if (p->mode == POL_MODE_ASK)
		return true;
	for (size_t i = 0; i < p->nfr; i++)
		if (p->fr[i].ask)
			return true;
	return false;
}

unsigned pol_dns_ttl_max(const struct pol *p)
{
	return p->ttl_max;
}

void pol_counts(const struct pol *p, struct pol_counts *c)
{
	c->net_allow = p->nnet_allow;
	c->net_deny = p->nnet_deny;
	c->fs_allow = p->nfs_allow;
	c->fs_deny = p->nfs_deny;
}
