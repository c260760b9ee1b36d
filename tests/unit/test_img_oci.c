// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests for OCI image layouts (vmctl/img_oci.c): index.json picks the
 * one manifest of a tag and refuses an index (multi-platform) or another
 * media type; a manifest yields its config and layers and refuses zstd or
 * foreign layers, bad digests, too many layers; img_oci_check of a layout
 * written here: not a layout, no such tag, missing blob, size and digest
 * mismatch, PATH:TAG; an archive without manifest.json. Needs tar. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agw.h"
#include "vmctl/img.h"

#define MT_MAN "application/vnd.oci.image.manifest.v1+json"
#define MT_TAR "application/vnd.oci.image.layer.v1.tar"
#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char tmp[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/agw-img-oci.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) == 0 ? 0 : -1;
}

static int pick(const char *json, const char *tag, struct img_oci_desc *d, char *err)
{
	return img_oci_index_pick((const uint8_t *)json, strlen(json), tag, d, err, 256);
}

static void test_digest_and_types(void **state)
{
	(void)state;
	assert_true(img_oci_digest_valid("sha256:" D64));
	assert_false(img_oci_digest_valid("sha512:" D64));
	assert_false(img_oci_digest_valid("sha256:" D64 "0"));
	assert_false(img_oci_digest_valid("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef"
					  "0123456789abcdef"));
	assert_false(img_oci_digest_valid("sha256:../../../../etc/passwd"));
	assert_true(img_oci_layer_type_ok(MT_TAR));
	assert_true(img_oci_layer_type_ok(MT_TAR "+gzip"));
	assert_false(img_oci_layer_type_ok(MT_TAR "+zstd"));
	assert_false(img_oci_layer_type_ok(NULL));
}

static void test_index_pick(void **state)
{
	struct img_oci_desc d;
	char err[256];
	const char *two =
	    "{\"schemaVersion\":2,\"manifests\":["
	    "{\"mediaType\":\"" MT_MAN "\",\"digest\":\"sha256:" D64 "\",\"size\":7,"
	    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}},"
	    "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"sha256:" D64
	    "\",\"size\":9,\"annotations\":{\"org.opencontainers.image.ref.name\":\"multi\"}},"
	    "{\"mediaType\":\"text/plain\",\"digest\":\"sha256:" D64 "\",\"size\":9,"
	    "\"annotations\":{\"org.opencontainers.image.ref.name\":\"odd\"}}]}";

	(void)state;
	assert_int_equal(pick(two, "v1", &d, err), 0);
	assert_string_equal(d.digest, "sha256:" D64);
	assert_int_equal(d.size, 7);
	assert_string_equal(d.ref, "v1");
	assert_int_equal(pick(two, "nope", &d, err), -AGW_ENOTFOUND);
	assert_non_null(strstr(err, "no image tagged 'nope'"));
	assert_int_equal(pick(two, "multi", &d, err), -AGW_EPARSE);
	assert_non_null(strstr(err, "one platform's image manifest"));
	assert_int_equal(pick(two, "odd", &d, err), -AGW_EPARSE);
	assert_non_null(strstr(err, "unsupported media type 'text/plain'"));
	assert_int_equal(pick("{", "v1", &d, err), -AGW_EPARSE);
	assert_non_null(strstr(err, "bad JSON"));
	assert_int_equal(pick("{\"manifests\":{}}", "v1", &d, err), -AGW_EPARSE);
	assert_int_equal(pick("{\"manifests\":[{\"digest\":\"md5:1\",\"size\":1}]}", "v1", &d, err),
			 -AGW_EPARSE);
	assert_non_null(strstr(err, "unsupported digest"));
	assert_int_equal(pick("{\"manifests\":[{\"digest\":\"sha256:" D64 "\",\"size\":-1}]}",
			      "latest", &d, err),
			 -AGW_EPARSE);
	assert_int_equal(pick("{\"manifests\":[{\"digest\":\"sha256:" D64 "\"}]}", "v1", &d, err),
			 -AGW_EPARSE);
	/* Two entries with one tag are ambiguous. */
	assert_int_equal(
	    pick("{\"manifests\":[{\"mediaType\":\"" MT_MAN "\",\"digest\":\"sha256:" D64
		 "\",\"size\":1,\"annotations\":{\"org.opencontainers.image.ref.name\":\"a\"}},"
		 "{\"mediaType\":\"" MT_MAN "\",\"digest\":\"sha256:" D64
		 "\",\"size\":1,\"annotations\":{\"org.opencontainers.image.ref.name\":\"a\"}}]}",
		 "a", &d, err),
	    -AGW_EPARSE);
	/* Duplicate keys are refused, not resolved one way or the other. */
	assert_int_equal(pick("{\"manifests\":[],\"manifests\":[]}", "a", &d, err), -AGW_EPARSE);
}

static int man(const char *json, struct img_oci_desc *layers, size_t max, size_t *n, char *err)
{
	struct img_oci_desc cfg;

	return img_oci_manifest_parse((const uint8_t *)json, strlen(json), &cfg, layers, max, n,
				      err, 256);
}

static void test_manifest(void **state)
{
	struct img_oci_desc l[4];
	char err[256], js[2048];
	size_t n;

	(void)state;
	snprintf(js, sizeof(js),
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_MAN "\","
		 "\"config\":{\"mediaType\":\"c\",\"digest\":\"sha256:" D64 "\",\"size\":3},"
		 "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"sha256:" D64 "\",\"size\":10},"
		 "{\"mediaType\":\"%s\",\"digest\":\"sha256:" D64 "\",\"size\":20}]}",
		 MT_TAR, MT_TAR "+gzip");
	assert_int_equal(man(js, l, 4, &n, err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(l[1].size, 20);
	assert_string_equal(l[1].media_type, MT_TAR "+gzip");
	assert_int_equal(man(js, l, 1, &n, err), -AGW_ETOOBIG);
	snprintf(js, sizeof(js),
		 "{\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":3},"
		 "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"sha256:" D64 "\",\"size\":10},"
		 "{\"mediaType\":\"%s\",\"digest\":\"sha256:" D64 "\",\"size\":20}]}",
		 MT_TAR, MT_TAR "+zstd");
	assert_int_equal(man(js, l, 4, &n, err), -AGW_EPARSE);
	assert_non_null(strstr(err, "manifest layer 2: unsupported media type"));
	assert_int_equal(n, 0);
	assert_int_equal(
	    man("{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
		"\"config\":{},\"layers\":[]}",
		l, 4, &n, err),
	    -AGW_EPARSE);
	assert_non_null(strstr(err, "manifest: unsupported media type"));
	assert_int_equal(
	    man("{\"config\":{\"digest\":\"sha256:" D64 "\",\"size\":3}}", l, 4, &n, err),
	    -AGW_EPARSE);
	assert_non_null(strstr(err, "no layers"));
	assert_int_equal(man("[]", l, 4, &n, err), -AGW_EPARSE);
}

/* A layout with one empty layer; returns the config digest hex in cfg. */
static void write_layout(const char *dir, char cfg_hex[65], char man_hex[65])
{
	char cmd[4096];

	snprintf(
	    cmd, sizeof(cmd),
	    "set -e; d='%s'; mkdir -p $d/blobs/sha256; cd $d; "
	    "printf '{\"imageLayoutVersion\":\"1.0.0\"}' >oci-layout; "
	    "mkdir -p e; tar -C e -cf l.tar .; rmdir e; "
	    "lh=$(sha256sum l.tar | cut -c1-64); mv l.tar blobs/sha256/$lh; "
	    "printf '{\"os\":\"linux\"}' >c.json; ch=$(sha256sum c.json | cut -c1-64); "
	    "mv c.json blobs/sha256/$ch; "
	    "printf '{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:%%s\",\"size\":14},"
	    "\"layers\":[{\"mediaType\":\"" MT_TAR "\",\"digest\":\"sha256:%%s\",\"size\":%%s}]}' "
	    "$ch $lh $(stat -c %%s blobs/sha256/$lh) >m.json; "
	    "mh=$(sha256sum m.json | cut -c1-64); ms=$(stat -c %%s m.json); "
	    "mv m.json blobs/sha256/$mh; "
	    "printf '{\"manifests\":[{\"mediaType\":\"" MT_MAN "\",\"digest\":\"sha256:%%s\","
	    "\"size\":%%s,\"annotations\":{\"org.opencontainers.image.ref.name\":\"latest\"}}]}' "
	    "$mh $ms >index.json; echo $ch >../cfg.hex; echo $mh >../man.hex",
	    dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/../cfg.hex", dir);
	FILE *f = fopen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%64s", cfg_hex), 1);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/../man.hex", dir);
	f = fopen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%64s", man_hex), 1);
	fclose(f);
}

static void test_check_layout(void **state)
{
	struct img_oci_ref ref;
	char dir[300], spec[340], blob[400], err[512], cfg[65], mh[65];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/oci", tmp);
	write_layout(dir, cfg, mh);
	assert_int_equal(img_oci_check(dir, &ref, err, sizeof(err)), 0);
	assert_string_equal(ref.key, mh);
	assert_string_equal(ref.tag, "latest");
	assert_int_equal(ref.n_layers, 1);
	assert_false(ref.archive);
	snprintf(spec, sizeof(spec), "%s:latest", dir);
	assert_int_equal(img_oci_check(spec, &ref, err, sizeof(err)), 0);
	assert_string_equal(ref.path, dir);
	snprintf(spec, sizeof(spec), "%s:v9", dir);
	assert_int_equal(img_oci_check(spec, &ref, err, sizeof(err)), -AGW_ENOTFOUND);
	assert_non_null(strstr(err, "no image tagged 'v9'"));
	assert_int_equal(img_oci_check(tmp, &ref, err, sizeof(err)), -AGW_EINVAL);
	assert_non_null(strstr(err, "not an OCI image layout"));
	snprintf(spec, sizeof(spec), "%s/nothing-here", tmp);
	assert_int_equal(img_oci_check(spec, &ref, err, sizeof(err)), -AGW_ENOTFOUND);

	/* Same size, other content: a digest mismatch naming the blob. */
	snprintf(blob, sizeof(blob), "%s/blobs/sha256/%s", dir, cfg);
	f = fopen(blob, "w");
	assert_non_null(f);
	fputs("{\"os\":\"LINUX\"}", f);
	fclose(f);
	assert_int_equal(img_oci_check(dir, &ref, err, sizeof(err)), -AGW_EPARSE);
	assert_non_null(strstr(err, "digest mismatch in blob sha256:"));
	assert_non_null(strstr(err, "(config)"));
	f = fopen(blob, "w");
	assert_non_null(f);
	fputs("{}", f);
	fclose(f);
	assert_int_equal(img_oci_check(dir, &ref, err, sizeof(err)), -AGW_EPARSE);
	assert_non_null(strstr(err, "has 2 bytes, the descriptor says 14"));
	unlink(blob);
	assert_int_equal(img_oci_check(dir, &ref, err, sizeof(err)), -AGW_ENOTFOUND);
	assert_non_null(strstr(err, "missing blob sha256:"));
	assert_null(strchr(err, '\n'));
}

static void test_check_archive(void **state)
{
	struct img_oci_ref ref;
	char path[300], cmd[700], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/junk.tar", tmp);
	snprintf(cmd, sizeof(cmd), "echo junk >'%s'", path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(img_oci_check(path, &ref, err, sizeof(err)), -AGW_EINVAL);
	assert_non_null(strstr(err, "not a docker save archive"));
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && echo '[]' >manifest.json && tar -cf save.tar manifest.json", tmp);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/save.tar", tmp);
	assert_int_equal(img_oci_check(path, &ref, err, sizeof(err)), 0);
	assert_true(ref.archive);
	assert_int_equal(strlen(ref.key), 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_and_types),
	    cmocka_unit_test(test_index_pick),
	    cmocka_unit_test(test_manifest),
	    cmocka_unit_test_setup_teardown(test_check_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_archive, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
