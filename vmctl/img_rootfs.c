// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Named images with a root filesystem and the sandboxes' writable disks.
 * A Debian root is made by mmdebstrap in unshare mode (no mounts on the
 * host), customised by hooks (user agent, the host's CA bundle, /etc/hosts,
 * the --run commands in a chroot) and packed into a read-only ext4 file
 * with mkfs.ext4 -d. An OCI root (image build --oci) is unpacked by umoci
 * instead (img_oci.c checks the layout first) and finished by the same
 * steps. It is cached under <cache>/rootfs/<sha256 of its inputs>.ext4,
 * independently of the kernel and agentgw-init, which live in the initramfs
 * of img_build(); an image folder joins the two by hard links and
 * <cache>/names/<NAME> names it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agw.h"
#include "img.h"

#define IMG_ROOTFS_FORMAT "agentgw-rootfs 1"
#define IMG_ROOTFS_SUITE "bookworm"
#define IMG_ROOTFS_OUT 8192
#define IMG_HOST_CA "/etc/ssl/certs/ca-certificates.crt"

struct img_rctx {
	const struct img_rootfs_opts *o;
	char cache[IMG_PATH_MAX];
	char *errbuf;
	size_t errcap;
	struct img_oci_ref oci; /* with o->oci: the checked layout or archive */
};

/* snprintf whose truncation the callers check (or accept, for messages). */
static int img_rfmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int img_rfmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

static void img_rprogress(struct img_rctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void img_rprogress(struct img_rctx *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!c->o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->o->progress(line, c->o->arg);
}

static int img_rcat(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int img_rcat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap - len ? -AGW_ETOOBIG : 0;
}

int img_name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > IMG_NAME_MAX ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_' || name[i] == '-' || name[i] == '.'))
			return 0;
	return 1;
}

/* Debian package names (and name=version), comma-separated. */
static int img_packages_valid(const char *p)
{
	for (; p && *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      strchr("+-.,:=~", *p)))
			return 0;
	return 1;
}

static int img_cache_of(const char *cache_dir, char *buf, size_t cap)
{
	if (cache_dir)
		return img_rfmt(buf, cap, "%s", cache_dir) < (int)cap ? 0 : -AGW_ETOOBIG;
	return img_default_cache_dir(buf, cap);
}

int img_lookup(const char *cache_dir, const char *name, struct img_info *info)
{
	char cache[IMG_PATH_MAX], path[IMG_PATH_MAX];
	int r;

	memset(info, 0, sizeof(*info));
	if (!name || strcmp(name, "default") == 0)
		return img_find(cache_dir, NULL, info);
	if (!img_name_valid(name))
		return -AGW_EINVAL;
	if ((r = img_cache_of(cache_dir, cache, sizeof(cache))) < 0)
		return r;
	if (img_rfmt(path, sizeof(path), "%s/names/%s", cache, name) >= (int)sizeof(path))
		return -AGW_ETOOBIG;
	return img_find(NULL, path, info);
}

/* A shell word in single quotes; paths with a quote are refused. */
static int img_squote_ok(const char *s)
{
	return !strchr(s, '\'');
}

/*
 * The finishing steps, as shell commands with $1 = the new root, run as
 * root: mmdebstrap runs them as its customize hooks, an OCI root gets them
 * from img_rootfs_finish(). Writes the --run scripts into tmp.
 */
static int img_rootfs_hooks(struct img_rctx *c, const char *tmp, char hooks[][IMG_PATH_MAX + 256],
			    size_t *nhp)
{
	const struct img_rootfs_opts *o = c->o;
	size_t nh = 0;

	img_rfmt(hooks[nh++], sizeof(hooks[0]),
		 "chroot \"$1\" sh -c 'id -u agent >/dev/null 2>&1 || "
		 "useradd -m -u 1000 -U -s /bin/bash agent'");
	img_rfmt(hooks[nh++], sizeof(hooks[0]),
		 "printf '127.0.0.1 localhost agentgw\\n::1 localhost\\n' "
		 ">\"$1/etc/hosts\"; mkdir -p \"$1/workspace\" \"$1/etc/ssl/certs\"; "
		 "printf '[safe]\\n\\tdirectory = *\\n' >>\"$1/etc/gitconfig\"");
	/* The guest reaches TLS servers through this host's network: trust what it trusts. */
	if (access(IMG_HOST_CA, R_OK) == 0)
		img_rfmt(hooks[nh++], sizeof(hooks[0]),
			 "cp " IMG_HOST_CA " \"$1/etc/ssl/certs/ca-certificates.crt\"");
	for (size_t i = 0; i < o->n_run; i++) {
		char file[IMG_PATH_MAX];
		FILE *f;

		img_rfmt(file, sizeof(file), "%s/run%zu.sh", tmp, i);
		if (!img_squote_ok(file))
			return agw_errf(c->errbuf, c->errcap, -AGW_EINVAL,
					"%s: a quote in the cache path", file);
		f = fopen(file, "we");
		if (!f || fprintf(f, "set -e\ncd /root\n%s\n", o->run[i]) < 0 || fclose(f) != 0)
			return agw_errf(c->errbuf, c->errcap, -EIO, "%s: cannot write", file);
		img_rfmt(hooks[nh++], sizeof(hooks[0]),
			 "mkdir -p \"$1/tmp\" && cp '%s' \"$1/tmp/agentgw-run.sh\" && "
			 "chroot \"$1\" env HOME=/root "
			 "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "
			 "sh /tmp/agentgw-run.sh && rm -f \"$1/tmp/agentgw-run.sh\"",
			 file);
	}
	/* A run step may have replaced it (update-ca-certificates). */
	if (o->n_run && access(IMG_HOST_CA, R_OK) == 0)
		img_rfmt(hooks[nh++], sizeof(hooks[0]),
			 "cp " IMG_HOST_CA " \"$1/etc/ssl/certs/ca-certificates.crt\"");
	*nhp = nh;
	return 0;
}

/* mmdebstrap into root, finished by the hooks as its customize hooks. */
static int img_rootfs_debian(struct img_rctx *c, const char *tmp, const char *root, char *out)
{
	const struct img_rootfs_opts *o = c->o;
	char include[4096], hooks[IMG_MAX_RUN + 8][IMG_PATH_MAX + 256];
	char hookargs[IMG_MAX_RUN + 8][IMG_PATH_MAX + 300];
	char *argv[64];
	size_t n = 0, nh = 0;
	int r;

	if ((r = img_rootfs_hooks(c, tmp, hooks, &nh)) < 0)
		return r;
	img_rfmt(include, sizeof(include), "--include=%s", o->packages ? o->packages : "");
	argv[n++] = "mmdebstrap";
	argv[n++] = "--mode=unshare";
	argv[n++] = "--variant=apt";
	argv[n++] = "--quiet";
	argv[n++] = "--dpkgopt=path-exclude=/usr/share/man/*";
	argv[n++] = "--dpkgopt=path-exclude=/usr/share/doc/*";
	argv[n++] = "--dpkgopt=path-include=/usr/share/doc/*/copyright";
	argv[n++] = "--dpkgopt=path-exclude=/usr/share/info/*";
	if (o->packages && *o->packages)
		argv[n++] = include;
	for (size_t i = 0; i < nh; i++) {
		img_rfmt(hookargs[i], sizeof(hookargs[i]), "--customize-hook=%s", hooks[i]);
		argv[n++] = hookargs[i];
	}
	argv[n++] = IMG_ROOTFS_SUITE;
	argv[n++] = (char *)(uintptr_t)root;
	argv[n] = NULL;
	img_rprogress(c, "mmdebstrap %s with %s", IMG_ROOTFS_SUITE,
		      o->packages && *o->packages ? o->packages : "no extra packages");
	r = img_run(argv, NULL, NULL, out, IMG_ROOTFS_OUT);
	if (r != 0)
		return agw_errf(c->errbuf, c->errcap, -AGW_EPARSE, "mmdebstrap failed (%d): %s", r,
				img_last_line(out));
	return 0;
}

/*
 * An OCI root: a docker save archive is first turned into a layout by
 * skopeo; umoci unpacks the layers in order (whiteouts, opaque
 * directories) into tmp/bundle/rootfs; then the hooks finish it.
 */
static int img_rootfs_oci(struct img_rctx *c, const char *tmp, char *root, size_t rootcap,
			  char *out)
{
	const struct img_rootfs_opts *o = c->o;
	char hooks[IMG_MAX_RUN + 8][IMG_PATH_MAX + 256], image[IMG_PATH_MAX + 160];
	char bundle[IMG_PATH_MAX], layout[IMG_PATH_MAX + 32];
	const struct img_oci_ref *ref = &c->oci;
	size_t nh = 0;
	int r;

	if (ref->archive) {
		char src[IMG_PATH_MAX + 32], dst[IMG_PATH_MAX + 64];
		char *sk[] = {"skopeo", "copy", "--quiet", src, dst, NULL};

		img_rfmt(layout, sizeof(layout), "%s/oci", tmp);
		img_rfmt(src, sizeof(src), "docker-archive:%s", ref->path);
		img_rfmt(dst, sizeof(dst), "oci:%s:agentgw", layout);
		img_rprogress(c, "skopeo copy %s (docker save archive) to an OCI layout",
			      ref->path);
		if ((r = img_run(sk, NULL, NULL, out, IMG_ROOTFS_OUT)) != 0)
			return agw_errf(c->errbuf, c->errcap, -AGW_EPARSE,
					"%s: not a docker save archive: %s", ref->path,
					img_last_line(out));
		img_rfmt(image, sizeof(image), "%s:agentgw", layout);
	} else {
		img_rfmt(image, sizeof(image), "%s:%s", ref->path, ref->tag);
	}
	img_rfmt(bundle, sizeof(bundle), "%s/bundle", tmp);
	{
		char *um[] = {"umoci", "--log", "error", "unpack", "--image", image, bundle, NULL};
		char *umr[] = {"umoci",	  "--log", "error", "unpack", "--rootless",
			       "--image", image,   bundle,  NULL};

		img_rprogress(c, "umoci unpack %s", image);
		r = img_run(geteuid() == 0 ? um : umr, NULL, NULL, out, IMG_ROOTFS_OUT);
		if (r != 0)
			return agw_errf(c->errbuf, c->errcap, -AGW_EPARSE,
					"%s: umoci unpack failed: %s", o->oci, img_last_line(out));
	}
	img_rfmt(root, rootcap, "%s/rootfs", bundle);
	if ((r = img_rootfs_hooks(c, tmp, hooks, &nh)) < 0)
		return r;
	for (size_t i = 0; i < nh; i++) {
		char *sh[] = {"sh", "-ec", hooks[i], "sh", root, NULL};

		if ((r = img_run(sh, NULL, NULL, out, IMG_ROOTFS_OUT)) != 0)
			return agw_errf(c->errbuf, c->errcap, -AGW_EPARSE,
					"%s: finishing the root failed (%s): %s", o->oci,
					i == 0 ? "useradd agent; the image needs useradd"
					       : "a step",
					img_last_line(out));
	}
	return 0;
}

/* The root (Debian or OCI), finished; then mkfs.ext4 -d into dst. */
static int img_rootfs_make(struct img_rctx *c, const char *tmp, const char *dst)
{
	const struct img_rootfs_opts *o = c->o;
	char root[IMG_PATH_MAX], *out = NULL, size[32];
	int64_t t0 = agw_mono_us();
	int r;

	out = malloc(IMG_ROOTFS_OUT);
	if (!out)
		return -AGW_ENOMEM;
	img_rfmt(root, sizeof(root), "%s/root", tmp);
	if (o->oci)
		r = img_rootfs_oci(c, tmp, root, sizeof(root), out);
	else
		r = img_rootfs_debian(c, tmp, root, out);
	if (r < 0)
		goto out;
	img_rprogress(c, "root filesystem made in %.1f s", (double)(agw_mono_us() - t0) / 1e6);
	{
		char *du[] = {"du", "-sk", "--apparent-size", root, NULL};
		unsigned long long kb;

		if (img_run(du, NULL, NULL, out, IMG_ROOTFS_OUT) != 0 ||
		    sscanf(out, "%llu", &kb) != 1) {
			r = agw_errf(c->errbuf, c->errcap, -EIO, "du %s: %s", root,
				     img_last_line(out));
			goto out;
		}
		/* ext4 metadata and block rounding need room; the file stays sparse. */
		img_rfmt(size, sizeof(size), "%lluM", kb * 13 / 10 / 1024 + 256);
	}
	{
		char *mkfs[] = {"mkfs.ext4", "-q", "-F", "-L", "agwroot",
				"-m",	     "0",  "-d", root, (char *)(uintptr_t)dst,
				size,	     NULL};

		img_rprogress(c, "mkfs.ext4 -d (%s)", size);
		if ((r = img_run(mkfs, NULL, NULL, out, IMG_ROOTFS_OUT)) != 0) {
			r = agw_errf(c->errbuf, c->errcap, -EIO, "mkfs.ext4 -d %s: %s", root,
				     img_last_line(out));
			goto out;
		}
	}
	r = 0;
out:
	free(out);
	return r;
}

/* Link src to dst (same file system: the cache), copying when that fails. */
static int img_link(const char *src, const char *dst)
{
	char *cp[] = {"cp", "--sparse=always", (char *)(uintptr_t)src, (char *)(uintptr_t)dst,
		      NULL};

	unlink(dst);
	if (link(src, dst) == 0)
		return 0;
	return img_run(cp, NULL, NULL, NULL, 0) == 0 ? 0 : -EIO;
}

static int img_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	if (fputs(text, f) < 0) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

int img_rootfs_build(const struct img_rootfs_opts *o, struct img_info *info, char *errbuf,
		     size_t errcap)
{
	struct img_rctx c = {.o = o, .errbuf = errbuf, .errcap = errcap};
	struct img_opts bo = {.cache_dir = o->cache_dir,
			      .init_path = o->init_path,
			      .rootfs_modules = 1,
			      .keep_current = 1,
			      .progress = o->progress,
			      .arg = o->arg};
	struct img_info base;
	char manifest[16384] = "", rkey[65], key[65], hex[65], rootfs[IMG_PATH_MAX];
	char dir[IMG_PATH_MAX], tmp[IMG_PATH_MAX] = "", path[IMG_PATH_MAX], link_tmp[IMG_PATH_MAX];
	int r;

	memset(info, 0, sizeof(*info));
	if (errbuf && errcap)
		errbuf[0] = 0;
	if (!img_name_valid(o->name) || strcmp(o->name, "default") == 0)
		return agw_errf(c.errbuf, c.errcap, -AGW_EINVAL,
				"bad image name '%s': use [a-z0-9][a-z0-9_.-]{0,63}, not 'default'",
				o->name ? o->name : "");
	if (o->oci && o->distro)
		return agw_errf(c.errbuf, c.errcap, -AGW_EINVAL,
				"--oci and --distro exclude each other");
	if (o->oci && o->packages && *o->packages)
		return agw_errf(c.errbuf, c.errcap, -AGW_EINVAL,
				"--packages needs --distro debian (use --run with --oci)");
	if (!o->oci && (!o->distro || strcmp(o->distro, "debian") != 0))
		return agw_errf(c.errbuf, c.errcap, -AGW_EINVAL,
				"unsupported distribution '%s' (supported: debian)",
				o->distro ? o->distro : "");
	if (!img_packages_valid(o->packages))
		return agw_errf(c.errbuf, c.errcap, -AGW_EINVAL, "bad package list '%s'",
				o->packages);
	if (o->n_run > IMG_MAX_RUN)
		return agw_errf(c.errbuf, c.errcap, -AGW_ETOOBIG, "at most %d --run commands",
				IMG_MAX_RUN);
	if ((r = img_cache_of(o->cache_dir, c.cache, sizeof(c.cache))) < 0)
		return agw_errf(c.errbuf, c.errcap, r, "image cache path too long");
	/* The root disk's key: its inputs only, not the kernel or agentgw-init. */
	if (o->oci) {
		/* Checked before the kernel work, so a bad layout fails at once. */
		if ((r = img_oci_check(o->oci, &c.oci, errbuf, errcap)) < 0)
			return r;
		img_rcat(manifest, sizeof(manifest), "%s\noci %s %s\n", IMG_ROOTFS_FORMAT,
			 c.oci.archive ? "docker-archive" : "manifest", c.oci.key);
	} else {
		img_rcat(manifest, sizeof(manifest), "%s\ndistro debian %s\npackages %s\n",
			 IMG_ROOTFS_FORMAT, IMG_ROOTFS_SUITE, o->packages ? o->packages : "");
	}
	if (access(IMG_HOST_CA, R_OK) == 0 && img_sha256_file(IMG_HOST_CA, hex) == 0)
		img_rcat(manifest, sizeof(manifest), "ca %s\n", hex);
	for (size_t i = 0; i < o->n_run; i++)
		if (img_rcat(manifest, sizeof(manifest), "run %s\n", o->run[i]) < 0)
			return agw_errf(c.errbuf, c.errcap, -AGW_ETOOBIG,
					"--run commands too long");
	if ((r = img_build(&bo, &base, errbuf, errcap)) < 0)
		return r;
	img_sha256_text(manifest, rkey);
	rkey[16] = 0;
	img_rfmt(path, sizeof(path), "%s/rootfs", c.cache);
	mkdir(path, 0755);
	img_rfmt(rootfs, sizeof(rootfs), "%s/rootfs/%s.ext4", c.cache, rkey);
	if (o->force || access(rootfs, R_OK) != 0) {
		char out_file[IMG_PATH_MAX];

		img_rfmt(tmp, sizeof(tmp), "%s/rootfs/%s.tmp.%d", c.cache, rkey, (int)getpid());
		img_rm_rf(tmp);
		if (mkdir(tmp, 0755) < 0) {
			r = agw_errf(c.errbuf, c.errcap, -errno, "%s: %s", tmp, strerror(errno));
			tmp[0] = 0;
			goto out;
		}
		img_rfmt(out_file, sizeof(out_file), "%s/rootfs.ext4", tmp);
		if ((r = img_rootfs_make(&c, tmp, out_file)) < 0)
			goto out;
		if (rename(out_file, rootfs) < 0) {
			r = agw_errf(c.errbuf, c.errcap, -errno, "%s: %s", rootfs, strerror(errno));
			goto out;
		}
		img_rfmt(path, sizeof(path), "%s/rootfs/%s.txt", c.cache, rkey);
		img_write_text(path, manifest);
	} else {
		img_rprogress(&c, "root filesystem up to date: %s", rootfs);
	}

	/* The image: this initramfs and this root disk. */
	img_rfmt(path, sizeof(path), "%s\nbase %s\nrootfs %s\n", IMG_ROOTFS_FORMAT, base.key, rkey);
	img_sha256_text(path, key);
	key[16] = 0;
	img_rfmt(dir, sizeof(dir), "%s/%s", c.cache, key);
	if (access(dir, F_OK) != 0 || o->force) {
		char stage[IMG_PATH_MAX], text[16384 + 512];

		img_rfmt(stage, sizeof(stage), "%s.tmp.%d", dir, (int)getpid());
		img_rm_rf(stage);
		if (mkdir(stage, 0755) < 0) {
			r = agw_errf(c.errbuf, c.errcap, -errno, "%s: %s", stage, strerror(errno));
			goto out;
		}
		img_rfmt(text, sizeof(text), "%skver %s\nbase %s\nrootfs %s\ncreated %lld\n",
			 manifest, base.kver, base.key, rkey, (long long)time(NULL));
		img_rfmt(path, sizeof(path), "%s/vmlinux", stage);
		r = img_link(base.kernel, path);
		img_rfmt(path, sizeof(path), "%s/initramfs.cpio", stage);
		if (!r)
			r = img_link(base.initrd, path);
		img_rfmt(path, sizeof(path), "%s/rootfs.ext4", stage);
		if (!r)
			r = img_link(rootfs, path);
		img_rfmt(path, sizeof(path), "%s/manifest.txt", stage);
		if (!r)
			r = img_write_text(path, text);
		if (r < 0 || img_rm_rf(dir) < 0 || rename(stage, dir) < 0) {
			img_rm_rf(stage);
			r = agw_errf(c.errbuf, c.errcap, r < 0 ? r : -errno,
				     "%s: cannot put the image in place", dir);
			goto out;
		}
	}
	img_rfmt(path, sizeof(path), "%s/names", c.cache);
	mkdir(path, 0755);
	img_rfmt(path, sizeof(path), "%s/names/%s", c.cache, o->name);
	img_rfmt(link_tmp, sizeof(link_tmp), "%s.%d", path, (int)getpid());
	img_rfmt(dir, sizeof(dir), "../%s", key);
	unlink(link_tmp);
	if (symlink(dir, link_tmp) < 0 || rename(link_tmp, path) < 0) {
		r = agw_errf(c.errbuf, c.errcap, -errno, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((r = img_lookup(c.cache, o->name, info)) < 0)
		r = agw_errf(c.errbuf, c.errcap, r, "%s: the new image is incomplete", path);
out:
	if (tmp[0])
		img_rm_rf(tmp);
	return r;
}

int img_remove(const char *cache_dir, const char *name)
{
	char cache[IMG_PATH_MAX], path[IMG_PATH_MAX], other[IMG_PATH_MAX], *real = NULL;
	struct dirent *de;
	int r, shared = 0;
	DIR *d;

	if (!img_name_valid(name) || strcmp(name, "default") == 0)
		return -AGW_EINVAL;
	if ((r = img_cache_of(cache_dir, cache, sizeof(cache))) < 0)
		return r;
	img_rfmt(path, sizeof(path), "%s/names/%s", cache, name);
	real = realpath(path, NULL);
	if (unlink(path) < 0) {
		free(real);
		return errno == ENOENT ? -AGW_ENOTFOUND : -errno;
	}
	if (!real)
		return 0;
	/* A name may point into another cache (a test's shared image): leave that alone. */
	{
		char *rc = realpath(cache, NULL);
		size_t n = rc ? strlen(rc) : 0;

		shared = !rc || strncmp(real, rc, n) != 0 || real[n] != '/';
		free(rc);
	}
	img_rfmt(path, sizeof(path), "%s/names", cache);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		char *o;

		if (de->d_name[0] == '.')
			continue;
		img_rfmt(other, sizeof(other), "%s/names/%s", cache, de->d_name);
		o = realpath(other, NULL);
		shared |= o && strcmp(o, real) == 0;
		free(o);
	}
	if (d)
		closedir(d);
	if (!shared) {
		/* The cached root disk goes too: that is what takes the space. */
		FILE *f;
		char line[256];

		img_rfmt(path, sizeof(path), "%s/manifest.txt", real);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (strncmp(line, "rootfs ", 7) == 0) {
				line[strcspn(line, "\n")] = 0;
				img_rfmt(path, sizeof(path), "%s/rootfs/%s.ext4", cache, line + 7);
				unlink(path);
				img_rfmt(path, sizeof(path), "%s/rootfs/%s.txt", cache, line + 7);
				unlink(path);
			}
		if (f)
			fclose(f);
		r = img_rm_rf(real);
	}
	free(real);
	return r;
}

int img_sandbox_dir(char *buf, size_t cap)
{
	const char *env = getenv("AGENTGW_STATE_DIR");
	char cache[IMG_PATH_MAX], *s;
	int r;

	if (env && *env)
		return img_rfmt(buf, cap, "%s", env) < (int)cap ? 0 : -AGW_ETOOBIG;
	if ((r = img_default_cache_dir(cache, sizeof(cache))) < 0)
		return r;
	while ((s = strrchr(cache, '/')) && s[1] == 0 && s != cache)
		*s = 0;
	s = strrchr(cache, '/');
	if (s)
		s[1] = 0;
	else
		img_rfmt(cache, sizeof(cache), "./");
	return img_rfmt(buf, cap, "%ssandboxes", cache) < (int)cap ? 0 : -AGW_ETOOBIG;
}

int img_disk_prepare(const char *name, const struct img_info *info, uint64_t size_mib, char *path,
		     size_t cap, int *resumed, char *errbuf, size_t errcap)
{
	char dir[IMG_PATH_MAX], file[IMG_PATH_MAX], have[128] = "", out[2048], size[32];
	FILE *f;
	int fd, r;

	*resumed = 0;
	if ((r = img_sandbox_dir(dir, sizeof(dir))) < 0)
		return r;
	mkdir(dir, 0700);
	if (img_rfmt(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", name) >=
	    (int)(sizeof(dir) - strlen(dir)))
		return -AGW_ETOOBIG;
	mkdir(dir, 0700);
	img_rfmt(file, sizeof(file), "%s/image", dir);
	if ((f = fopen(file, "re"))) {
		if (!fgets(have, sizeof(have), f))
			have[0] = 0;
		fclose(f);
		have[strcspn(have, "\n")] = 0;
	}
	if (img_rfmt(path, cap, "%s/rw.img", dir) >= (int)cap)
		return -AGW_ETOOBIG;
	if (have[0] && access(path, R_OK | W_OK) == 0) {
		if (strcmp(have, info->rootfs_key) != 0) {
			img_rfmt(errbuf, errcap,
				 "sandbox '%s' keeps a disk made over another root filesystem "
				 "(%s, this image has %s); 'agentgw rm %s' deletes it",
				 name, have, info->rootfs_key, name);
			return -EEXIST;
		}
		*resumed = 1;
		return 0;
	}
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		img_rfmt(errbuf, errcap, "%s: %s", path, strerror(errno));
		return -errno;
	}
	close(fd);
	img_rfmt(size, sizeof(size), "%lluM", (unsigned long long)size_mib);
	{
		char *mkfs[] = {"mkfs.ext4",
				"-q",
				"-F",
				"-L",
				"agwrw",
				"-E",
				"lazy_itable_init=1,lazy_journal_init=1,discard",
				"-m",
				"0",
				path,
				size,
				NULL};

		if ((r = img_run(mkfs, NULL, NULL, out, sizeof(out))) != 0) {
			img_rfmt(errbuf, errcap, "mkfs.ext4 %s: %s", path, img_last_line(out));
			unlink(path);
			return -EIO;
		}
	}
	if ((r = img_write_text(file, info->rootfs_key)) < 0) {
		img_rfmt(errbuf, errcap, "%s: %s", file, strerror(-r));
		return r;
	}
	return 0;
}

int img_disk_remove(const char *name)
{
	char dir[IMG_PATH_MAX];
	int r;

	if ((r = img_sandbox_dir(dir, sizeof(dir))) < 0)
		return r;
	if (img_rfmt(dir + strlen(dir), sizeof(dir) - strlen(dir), "/%s", name) >=
	    (int)(sizeof(dir) - strlen(dir)))
		return -AGW_ETOOBIG;
	if (access(dir, F_OK) != 0)
		return -AGW_ENOTFOUND;
	return img_rm_rf(dir);
}
