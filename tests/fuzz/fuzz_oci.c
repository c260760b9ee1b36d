// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the OCI index.json and manifest parsers
 * (vmctl/img_oci.c). The first byte picks the tag; a picked descriptor
 * has a valid sha256 digest, a size >= 0 and the manifest media type;
 * parsed layers are at most max, each with a valid digest and a layer
 * type umoci applies; the error is one line.
 */
#include <stdint.h>
#include <string.h>

#include "agw.h"
#include "vmctl/img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct img_oci_desc fuzz_oci_layers[8];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"latest", "v1", "", "a:b"};
	struct img_oci_desc d, cfg;
	char err[256] = "";
	size_t n = 99;
	int r;

	if (size < 1)
		return 0;
	r = img_oci_index_pick(data + 1, size - 1, tags[data[0] % 4], &d, err, sizeof(err));
	if (r != 0 && r != -AGW_EPARSE && r != -AGW_ENOTFOUND)
		__builtin_trap();
	if (r == 0 && (!img_oci_digest_valid(d.digest) || d.size < 0 ||
		       strcmp(d.media_type, "application/vnd.oci.image.manifest.v1+json") != 0 ||
		       strcmp(d.ref, tags[data[0] % 4]) != 0))
		__builtin_trap();
	if (r != 0 && (!err[0] || strchr(err, '\n')))
		__builtin_trap();
	err[0] = 0;
	r = img_oci_manifest_parse(data + 1, size - 1, &cfg, fuzz_oci_layers, 1 + data[0] % 8, &n,
				   err, sizeof(err));
	if (r != 0 && r != -AGW_EPARSE && r != -AGW_ETOOBIG)
		__builtin_trap();
	if (r != 0 && (n != 0 || !err[0] || strchr(err, '\n')))
		__builtin_trap();
	if (r == 0) {
		if (n > 1 + (size_t)(data[0] % 8) || !img_oci_digest_valid(cfg.digest))
			__builtin_trap();
		for (size_t i = 0; i < n; i++)
			if (!img_oci_digest_valid(fuzz_oci_layers[i].digest) ||
			    !img_oci_layer_type_ok(fuzz_oci_layers[i].media_type) ||
			    fuzz_oci_layers[i].size < 0)
				__builtin_trap();
	}
	return 0;
}
