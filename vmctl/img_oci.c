// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * OCI image layouts for 'image build --oci': the pure parsers of
 * index.json and of an image manifest (jansson), and img_oci_check(),
 * which checks a layout before umoci unpacks it, so that a broken one
 * fails with one specific line (not an OCI layout, no such tag, missing
 * blob, digest mismatch, unsupported media type) and yields the manifest
 * digest that keys the root disk cache. A docker save archive (a file) is
 * keyed by its own sha256; tar checks it has a manifest.json, skopeo the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agw.h"
#include "img.h"

#define IMG_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMG_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define IMG_OCI_REF "org.opencontainers.image.ref.name"
#define IMG_OCI_JSON_MAX (4u << 20)

int img_oci_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return 0;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

int img_oci_layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
	    "application/vnd.oci.image.layer.v1.tar",
	    "application/vnd.oci.image.layer.v1.tar+gzip",
	    "application/vnd.docker.image.rootfs.diff.tar.gzip",
	};

	for (size_t i = 0; mt && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(mt, ok[i]) == 0)
			return 1;
	return 0;
}

/* A descriptor object into d; what names it goes into err. */
static int img_oci_desc(json_t *o, struct img_oci_desc *d, const char *what, char *err, size_t cap)
{
	json_t *mt = json_object_get(o, "mediaType"), *dg = json_object_get(o, "digest");
	json_t *sz = json_object_get(o, "size");

	memset(d, 0, sizeof(*d));
	if (!json_is_object(o) || !json_is_string(dg) || !json_is_integer(sz) ||
	    (mt && !json_is_string(mt)))
		return agw_errf(err, cap, -AGW_EPARSE, "%s: a descriptor needs digest and size",
				what);
	if (!img_oci_digest_valid(json_string_value(dg)))
		return agw_errf(err, cap, -AGW_EPARSE,
				"%s: unsupported digest '%.80s' (sha256 only)", what,
				json_string_value(dg));
	if (json_integer_value(sz) < 0)
		return agw_errf(err, cap, -AGW_EPARSE, "%s: negative size", what);
	snprintf(d->digest, sizeof(d->digest), "%s", json_string_value(dg));
	if (mt && strlen(json_string_value(mt)) >= sizeof(d->media_type))
		return agw_errf(err, cap, -AGW_EPARSE, "%s: media type too long", what);
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? json_string_value(mt) : "");
	d->size = (int64_t)json_integer_value(sz);
	return 0;
}

int img_oci_index_pick(const uint8_t *buf, size_t n, const char *tag, struct img_oci_desc *out,
		       char *err, size_t cap)
{
	json_t *root = NULL, *ms;
	struct img_oci_desc d;
	size_t i, found = 0;
	json_error_t je;
	int r;

	memset(out, 0, sizeof(*out));
	root = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		r = agw_errf(err, cap, -AGW_EPARSE, "index.json: bad JSON (line %d: %.80s)",
			     je.line, je.text);
		goto out;
	}
	ms = json_object_get(root, "manifests");
	if (!json_is_object(root) || !json_is_array(ms)) {
		r = agw_errf(err, cap, -AGW_EPARSE, "index.json: no manifests array");
		goto out;
	}
	for (i = 0; i < json_array_size(ms); i++) {
		json_t *m = json_array_get(ms, i);
		json_t *ann = json_object_get(m, "annotations");
		json_t *ref = json_object_get(ann, IMG_OCI_REF);
		const char *name = json_is_string(ref) ? json_string_value(ref) : "";

		if ((r = img_oci_desc(m, &d, "index.json", err, cap)) < 0)
			goto out;
		if (strcmp(name, tag) != 0)
			continue;
		if (strlen(name) >= sizeof(d.ref)) {
			r = agw_errf(err, cap, -AGW_EPARSE, "index.json: tag too long");
			goto out;
		}
		snprintf(d.ref, sizeof(d.ref), "%s", name);
		if (found++ == 0)
			*out = d;
	}
	if (found == 0) {
		r = agw_errf(err, cap, -AGW_ENOTFOUND, "no image tagged '%.128s' in index.json",
			     tag);
		goto out;
	}
	if (found > 1) {
		r = agw_errf(err, cap, -AGW_EPARSE, "tag '%.128s' names %zu images", tag, found);
		goto out;
	}
	if (strcmp(out->media_type, IMG_OCI_MANIFEST) != 0) {
		r = agw_errf(err, cap, -AGW_EPARSE,
			     "tag '%.128s': unsupported media type '%.100s' (want %s)", tag,
			     out->media_type[0] ? out->media_type : "none",
			     strcmp(out->media_type, IMG_OCI_INDEX) == 0
				 ? "one platform's image manifest"
				 : IMG_OCI_MANIFEST);
		goto out;
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

int img_oci_manifest_parse(const uint8_t *buf, size_t n, struct img_oci_desc *config,
			   struct img_oci_desc *layers, size_t max, size_t *n_layers, char *err,
			   size_t cap)
{
	json_t *root = NULL, *ls, *mt;
	json_error_t je;
	char what[64];
	int r;

	*n_layers = 0;
	root = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		r = agw_errf(err, cap, -AGW_EPARSE, "manifest: bad JSON (line %d: %.80s)", je.line,
			     je.text);
		goto out;
	}
	mt = json_object_get(root, "mediaType");
	if (mt && (!json_is_string(mt) || strcmp(json_string_value(mt), IMG_OCI_MANIFEST) != 0)) {
		r = agw_errf(err, cap, -AGW_EPARSE, "manifest: unsupported media type '%.100s'",
			     json_is_string(mt) ? json_string_value(mt) : "?");
		goto out;
	}
	if ((r = img_oci_desc(json_object_get(root, "config"), config, "manifest config", err,
			      cap)) < 0)
		goto out;
	ls = json_object_get(root, "layers");
	if (!json_is_array(ls)) {
		r = agw_errf(err, cap, -AGW_EPARSE, "manifest: no layers array");
		goto out;
	}
	if (json_array_size(ls) > max) {
		r = agw_errf(err, cap, -AGW_ETOOBIG, "manifest: more than %zu layers", max);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(ls); i++) {
		snprintf(what, sizeof(what), "manifest layer %zu", i + 1);
		if ((r = img_oci_desc(json_array_get(ls, i), &layers[i], what, err, cap)) < 0)
			goto out;
		if (!img_oci_layer_type_ok(layers[i].media_type)) {
			r = agw_errf(err, cap, -AGW_EPARSE,
				     "%s: unsupported media type '%.100s' (tar or tar+gzip)", what,
				     layers[i].media_type);
			goto out;
		}
	}
	*n_layers = json_array_size(ls);
	r = 0;
out:
	json_decref(root);
	return r;
}

/* The blob's path; 0, or an error naming the missing blob. */
static int img_oci_blob(const char *layout, const struct img_oci_desc *d, const char *what,
			char *path, size_t pcap, char *err, size_t cap)
{
	struct stat st;

	if ((size_t)snprintf(path, pcap, "%s/blobs/sha256/%s", layout, d->digest + 7) >= pcap)
		return agw_errf(err, cap, -AGW_ETOOBIG, "%s: path too long", layout);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return agw_errf(err, cap, -AGW_ENOTFOUND, "%s: missing blob %s (%s)", layout,
				d->digest, what);
	if (st.st_size != d->size)
		return agw_errf(err, cap, -AGW_EPARSE,
				"%s: blob %s (%s) has %lld bytes, the descriptor says %lld", layout,
				d->digest, what, (long long)st.st_size, (long long)d->size);
	return 0;
}

static int img_oci_verify(const char *layout, const struct img_oci_desc *d, const char *what,
			  char *err, size_t cap)
{
	char path[IMG_PATH_MAX], hex[65];
	int r;

	if ((r = img_oci_blob(layout, d, what, path, sizeof(path), err, cap)) < 0)
		return r;
	if (img_sha256_file(path, hex) != 0)
		return agw_errf(err, cap, -EIO, "%s: cannot read", path);
	if (strcmp(hex, d->digest + 7) != 0)
		return agw_errf(err, cap, -AGW_EPARSE,
				"%s: digest mismatch in blob %s (%s): content is sha256:%s", layout,
				d->digest, what, hex);
	return 0;
}

/* The whole file (at most IMG_OCI_JSON_MAX) in a malloc'ed buffer. */
static int img_oci_slurp(const char *path, uint8_t **buf, size_t *n)
{
	struct stat st;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	*buf = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size > (off_t)IMG_OCI_JSON_MAX) {
		r = -AGW_ETOOBIG;
		goto out;
	}
	*buf = malloc((size_t)st.st_size + 1);
	if (!*buf) {
		r = -AGW_ENOMEM;
		goto out;
	}
	got = read(fd, *buf, (size_t)st.st_size);
	if (got != st.st_size) {
		free(*buf);
		*buf = NULL;
		r = -EIO;
		goto out;
	}
	*n = (size_t)got;
	r = 0;
out:
	close(fd);
	return r;
}

int img_oci_check(const char *spec, struct img_oci_ref *ref, char *err, size_t cap)
{
	struct img_oci_desc man, cfg, *layers = NULL;
	char path[IMG_PATH_MAX + 32], *colon;
	uint8_t *buf = NULL;
	size_t n, nl;
	struct stat st;
	int r;

	memset(ref, 0, sizeof(*ref));
	if (!spec || !*spec || strlen(spec) >= sizeof(ref->path))
		return agw_errf(err, cap, -AGW_EINVAL, "--oci needs PATH or PATH:TAG");
	snprintf(ref->path, sizeof(ref->path), "%s", spec);
	snprintf(ref->tag, sizeof(ref->tag), "latest");
	/* PATH:TAG when PATH itself is not there but the part before the last ':' is. */
	colon = strrchr(ref->path, ':');
	if (stat(ref->path, &st) != 0 && colon && colon[1] && !strchr(colon, '/')) {
		*colon = 0;
		if (strlen(colon + 1) >= sizeof(ref->tag))
			return agw_errf(err, cap, -AGW_EINVAL, "%s: tag too long", spec);
		snprintf(ref->tag, sizeof(ref->tag), "%s", colon + 1);
	}
	if (stat(ref->path, &st) != 0)
		return agw_errf(err, cap, -AGW_ENOTFOUND, "%s: %s", ref->path, strerror(errno));
	if (S_ISREG(st.st_mode)) {
		char *tar[] = {"tar", "-tf", ref->path, "manifest.json", NULL};

		ref->archive = 1;
		if (img_sha256_file(ref->path, ref->key) != 0)
			return agw_errf(err, cap, -EIO, "%s: cannot read", ref->path);
		/* What skopeo needs first, checked before any other work. */
		if (img_run(tar, NULL, NULL, NULL, 0) != 0)
			return agw_errf(err, cap, -AGW_EINVAL,
					"%s: not a docker save archive (a tar with manifest.json)",
					ref->path);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return agw_errf(err, cap, -AGW_EINVAL,
				"%s: neither an OCI layout folder nor a docker save archive",
				ref->path);
	snprintf(path, sizeof(path), "%s/oci-layout", ref->path);
	if ((r = img_oci_slurp(path, &buf, &n)) < 0 ||
	    !memmem(buf, n, "\"imageLayoutVersion\"", 20)) {
		r = agw_errf(err, cap, -AGW_EINVAL,
			     "%s: not an OCI image layout (no valid oci-layout file)", ref->path);
		goto out;
	}
	free(buf);
	buf = NULL;
	snprintf(path, sizeof(path), "%s/index.json", ref->path);
	if ((r = img_oci_slurp(path, &buf, &n)) < 0) {
		r = agw_errf(err, cap, -AGW_EINVAL, "%s: not an OCI image layout (%s)", ref->path,
			     r == -ENOENT ? "no index.json" : agw_strerror(r));
		goto out;
	}
	if ((r = img_oci_index_pick(buf, n, ref->tag, &man, err, cap)) < 0)
		goto out;
	free(buf);
	buf = NULL;
	if ((r = img_oci_verify(ref->path, &man, "manifest", err, cap)) < 0)
		goto out;
	if ((r = img_oci_blob(ref->path, &man, "manifest", path, sizeof(path), err, cap)) < 0)
		goto out;
	if ((r = img_oci_slurp(path, &buf, &n)) < 0) {
		r = agw_errf(err, cap, r, "%s: %s", path, agw_strerror(r));
		goto out;
	}
	layers = calloc(IMG_OCI_MAX_LAYERS, sizeof(*layers));
	if (!layers) {
		r = -AGW_ENOMEM;
		goto out;
	}
	if ((r = img_oci_manifest_parse(buf, n, &cfg, layers, IMG_OCI_MAX_LAYERS, &nl, err, cap)) <
	    0)
		goto out;
	if ((r = img_oci_verify(ref->path, &cfg, "config", err, cap)) < 0)
		goto out;
	for (size_t i = 0; i < nl; i++) {
		char what[32];

		snprintf(what, sizeof(what), "layer %zu", i + 1);
		if ((r = img_oci_verify(ref->path, &layers[i], what, err, cap)) < 0)
			goto out;
	}
	/* The manifest digest covers the config and every layer's digest. */
	memcpy(ref->key, man.digest + 7, 64);
	ref->key[64] = 0;
	ref->n_layers = nl;
	r = 0;
out:
	free(layers);
	free(buf);
	return r;
}
