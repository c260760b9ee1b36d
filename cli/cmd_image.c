// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw image build [--force] [--cache-dir DIR] [--init PATH]
 * [--add PROGRAM...]`: builds the guest image (vmctl/img.h) or reports the
 * cached one, printing progress lines to stderr and the image folder to
 * stdout.
 */
#include <stdio.h>
#include <string.h>

#include "agw.h"
#include "cli.h"
#include "vmctl/img.h"

static void image_usage(FILE *out)
{
	fprintf(out,
		"usage: agentgw image build [--force] [--cache-dir DIR] [--init PATH] [--add "
		"PROGRAM...]\n"
		"       agentgw image path [--cache-dir DIR]\n\n"
		"Builds the guest image (kernel, modules, busybox, agentgw-init, added programs)\n"
		"into the cache (default build/images or /var/lib/agentgw/images; env\n"
		"AGENTGW_IMAGE_DIR) and prints its folder. Rebuilt only when an input changes.\n");
}

static void image_progress(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "image: %s\n", line);
}

int cmd_image(int argc, char **argv)
{
	struct img_opts o = {.progress = image_progress};
	struct img_info info;
	char err[1024];
	int r, i = 2;

	if (cli_wants_help(argc, argv)) {
		image_usage(stdout);
		return CLI_OK;
	}
	if (argc < 2 || (strcmp(argv[1], "build") != 0 && strcmp(argv[1], "path") != 0)) {
		image_usage(stderr);
		return CLI_USAGE;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			o.force = 1;
		} else if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc) {
			o.cache_dir = argv[++i];
		} else if (strcmp(argv[i], "--init") == 0 && i + 1 < argc) {
			o.init_path = argv[++i];
		} else if (strcmp(argv[i], "--add") == 0 && i + 1 < argc) {
			/* --add takes every following word up to the next option. */
			while (i + 1 < argc && argv[i + 1][0] != '-') {
				if (o.n_add == IMG_MAX_ADD) {
					fprintf(stderr, "agentgw image: at most %d programs\n",
						IMG_MAX_ADD);
					return CLI_USAGE;
				}
				o.add[o.n_add++] = argv[++i];
			}
		} else {
			fprintf(stderr,
				"agentgw image: unknown option '%s' (see 'agentgw image --help')\n",
				argv[i]);
			return CLI_USAGE;
		}
	}
	if (strcmp(argv[1], "path") == 0) {
		r = img_find(o.cache_dir, NULL, &info);
		if (r < 0) {
			fprintf(stderr,
				"agentgw image: no image built yet; run 'agentgw image build'\n");
			return CLI_FAIL;
		}
		printf("%s\n", info.dir);
		return CLI_OK;
	}
	r = img_build(&o, &info, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "agentgw image: %s\n", err[0] ? err : agw_strerror(r));
		return CLI_FAIL;
	}
	printf("%s\n", info.dir);
	return CLI_OK;
}
