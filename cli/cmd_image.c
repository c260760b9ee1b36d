// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `agentgw image build|path|ls|rm`: builds the initramfs guest image
 * (vmctl/img.h) or, with --name and --distro, an image with a root
 * filesystem (img_rootfs_build), printing progress lines to stderr and the
 * image folder to stdout; lists and removes named images.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agw.h"
#include "cli.h"
#include "vmctl/img.h"

static void image_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: agentgw image build [--force] [--cache-dir DIR] [--init PATH] [--add "
	    "PROGRAM...]\n"
	    "       agentgw image build --name NAME --distro debian [--packages A,B,C]\n"
	    "                           [--run 'SHELL COMMAND']... [--force] [--cache-dir DIR]\n"
	    "       agentgw image build --name NAME --oci PATH[:TAG]|ARCHIVE.tar\n"
	    "                           [--run 'SHELL COMMAND']... [--force] [--cache-dir DIR]\n"
	    "       agentgw image path [--cache-dir DIR]\n"
	    "       agentgw image ls [--cache-dir DIR]\n"
	    "       agentgw image rm NAME [--cache-dir DIR]\n\n"
	    "Builds the guest image (kernel, modules, busybox, agentgw-init, added programs)\n"
	    "into the cache (default build/images or /var/lib/agentgw/images; env\n"
	    "AGENTGW_IMAGE_DIR) and prints its folder. Rebuilt only when an input changes.\n"
	    "With --name and --distro debian: an image whose root filesystem is Debian\n"
	    "bookworm (mmdebstrap, no root mounts) with the packages, a user 'agent'\n"
	    "(uid 1000) and each --run command run as root in it (with this host's\n"
	    "network), as a read-only ext4 disk; 'up --image NAME' or the policy's\n"
	    "sandbox.image boots it. 'default' is the initramfs image.\n"
	    "With --oci: the root filesystem of an OCI image layout folder (tag TAG,\n"
	    "default 'latest') or of a 'docker save' archive: its layers applied in order\n"
	    "with whiteouts (umoci; skopeo converts an archive), then the same user\n"
	    "'agent' (the image needs useradd, or an agent user) and --run steps. Needs\n"
	    "root; cached by the manifest digest (the archive's sha256). Every blob's\n"
	    "digest is checked first.\n");
}

static void image_progress(const char *line, void *arg)
{
	(void)arg;
	fprintf(stderr, "image: %s\n", line);
}

static long long image_du_kib(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_blocks / 2 : 0;
}

/* One row of `image ls`: name, size on disk, created, contents. */
static void image_row(const char *name, const struct img_info *info)
{
	char path[IMG_PATH_MAX + 32], line[1024], packages[512] = "-", created[32] = "-";
	long long kib = image_du_kib(info->kernel) + image_du_kib(info->initrd) +
			(info->rootfs[0] ? image_du_kib(info->rootfs) : 0);
	int runs = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/manifest.txt", info->dir);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "packages ", 9) == 0 && line[9])
			snprintf(packages, sizeof(packages), "%.200s", line + 9);
		else if (strncmp(line, "oci manifest ", 13) == 0)
			snprintf(packages, sizeof(packages), "oci sha256:%.12s", line + 13);
		else if (strncmp(line, "oci docker-archive ", 19) == 0)
			snprintf(packages, sizeof(packages), "docker save sha256:%.12s", line + 19);
		else if (strncmp(line, "run ", 4) == 0)
			runs++;
		else if (strncmp(line, "created ", 8) == 0) {
			time_t t = (time_t)atoll(line + 8);
			struct tm tm;

			if (gmtime_r(&t, &tm))
				strftime(created, sizeof(created), "%Y-%m-%d %H:%M", &tm);
		}
	}
	if (f)
		fclose(f);
	if (!info->rootfs[0]) {
		struct stat st;

		if (stat(info->initrd, &st) == 0) {
			struct tm tm;

			if (gmtime_r(&st.st_mtime, &tm))
				strftime(created, sizeof(created), "%Y-%m-%d %H:%M", &tm);
		}
		snprintf(packages, sizeof(packages), "initramfs (busybox)");
	}
	printf("%-20s %-6s %8.1fM  %-16s  %s%s%s\n", name, info->rootfs[0] ? "rootfs" : "initrd",
	       (double)kib / 1024, created, packages, runs ? " + run steps: " : "",
	       runs ? (snprintf(line, sizeof(line), "%d", runs), line) : "");
}

static int image_ls(const char *cache_dir)
{
	char cache[IMG_PATH_MAX], path[IMG_PATH_MAX + 8];
	struct img_info info;
	struct dirent *de;
	DIR *d;

	if (cache_dir)
		snprintf(cache, sizeof(cache), "%s", cache_dir);
	else if (img_default_cache_dir(cache, sizeof(cache)) < 0)
		return CLI_FAIL;
	printf("%-20s %-6s %9s  %-16s  %s\n", "NAME", "KIND", "SIZE", "CREATED (UTC)", "CONTENTS");
	if (img_lookup(cache, "default", &info) == 0)
		image_row("default", &info);
	snprintf(path, sizeof(path), "%s/names", cache);
	d = opendir(path);
	while (d && (de = readdir(d)))
		if (img_name_valid(de->d_name) && img_lookup(cache, de->d_name, &info) == 0)
			image_row(de->d_name, &info);
	if (d)
		closedir(d);
	return CLI_OK;
}

int cmd_image(int argc, char **argv)
{
	struct img_opts o = {.progress = image_progress};
	struct img_rootfs_opts ro = {.progress = image_progress};
	struct img_info info;
	char err[1024];
	const char *verb = argc >= 2 ? argv[1] : "", *rm_name = NULL;
	int r, i = 2;

	if (cli_wants_help(argc, argv)) {
		image_usage(stdout);
		return CLI_OK;
	}
	if (strcmp(verb, "build") != 0 && strcmp(verb, "path") != 0 && strcmp(verb, "ls") != 0 &&
	    strcmp(verb, "rm") != 0) {
		image_usage(stderr);
		return CLI_USAGE;
	}
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			o.force = ro.force = 1;
		} else if (strcmp(argv[i], "--cache-dir") == 0 && i + 1 < argc) {
			o.cache_dir = ro.cache_dir = argv[++i];
		} else if (strcmp(argv[i], "--init") == 0 && i + 1 < argc) {
			o.init_path = ro.init_path = argv[++i];
		} else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
			ro.name = argv[++i];
		} else if (strcmp(argv[i], "--distro") == 0 && i + 1 < argc) {
			ro.distro = argv[++i];
		} else if (strcmp(argv[i], "--oci") == 0 && i + 1 < argc) {
			ro.oci = argv[++i];
		} else if (strcmp(argv[i], "--packages") == 0 && i + 1 < argc) {
			ro.packages = argv[++i];
		} else if (strcmp(argv[i], "--run") == 0 && i + 1 < argc) {
			if (ro.n_run == IMG_MAX_RUN) {
				fprintf(stderr, "agentgw image: at most %d --run commands\n",
					IMG_MAX_RUN);
				return CLI_USAGE;
			}
			ro.run[ro.n_run++] = argv[++i];
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
		} else if (strcmp(verb, "rm") == 0 && !rm_name && argv[i][0] != '-') {
			rm_name = argv[i];
		} else {
			fprintf(stderr,
				"agentgw image: unknown option '%s' (see 'agentgw image --help')\n",
				argv[i]);
			return CLI_USAGE;
		}
	}
	if (strcmp(verb, "path") == 0) {
		r = img_find(o.cache_dir, NULL, &info);
		if (r < 0) {
			fprintf(stderr,
				"agentgw image: no image built yet; run 'agentgw image build'\n");
			return CLI_FAIL;
		}
		printf("%s\n", info.dir);
		return CLI_OK;
	}
	if (strcmp(verb, "ls") == 0)
		return image_ls(o.cache_dir);
	if (strcmp(verb, "rm") == 0) {
		if (!rm_name) {
			image_usage(stderr);
			return CLI_USAGE;
		}
		r = img_remove(o.cache_dir, rm_name);
		if (r < 0) {
			fprintf(stderr, "agentgw image rm %s: %s\n", rm_name,
				r == -AGW_ENOTFOUND ? "no such image (see 'agentgw image ls')"
				: r == -AGW_EINVAL  ? "not a removable image name"
						    : agw_strerror(r));
			return r == -AGW_EINVAL ? CLI_USAGE : CLI_FAIL;
		}
		return CLI_OK;
	}
	if (ro.name || ro.distro || ro.oci || ro.packages || ro.n_run) {
		if (!ro.name || (!ro.distro && !ro.oci) || o.n_add) {
			fprintf(stderr,
				"agentgw image: an image with a root filesystem needs --name "
				"and --distro or --oci (and takes no --add)\n");
			return CLI_USAGE;
		}
		r = img_rootfs_build(&ro, &info, err, sizeof(err));
	} else {
		r = img_build(&o, &info, err, sizeof(err));
	}
	if (r < 0) {
		fprintf(stderr, "agentgw image: %s\n", err[0] ? err : agw_strerror(r));
		return r == -AGW_EINVAL ? CLI_USAGE : CLI_FAIL;
	}
	printf("%s\n", info.dir);
	return CLI_OK;
}
