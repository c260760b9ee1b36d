// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guest image builder: resolves and downloads the Debian kernel package,
 * extracts an ELF vmlinux from its bzImage, picks the modules the guest
 * needs from modules.dep, and writes the initramfs (cpio.c) with busybox,
 * agentgw-init, extra programs and their libraries. The cache key is the
 * sha256 of a manifest naming every input, so an image is rebuilt only
 * when one of them changes.
 */
#include "img.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agw.h"
#include "cpio.h"

#define IMG_FORMAT "agentgw-image 2"
#define IMG_OUT_MAX (256 * 1024) /* captured output of one helper program */
#define IMG_MAX_MODULES 64

static const char *const img_modules[] = {
    "virtio_ring",    "virtio", "virtio_mmio", "virtio_net",
    "virtio_console", "9pnet",	"9pnet_fd",    "9p", "fuse", "virtiofs",
};

/* Images with a root filesystem also mount a virtio-blk disk as ext4 under
 * an overlay; crc32c is what ext4 asks the crypto API for at mount. */
static const char *const img_rootfs_modules[] = {
    "virtio_ring",  "virtio",	"virtio_mmio", "virtio_net", "virtio_console",
    "9pnet",	    "9pnet_fd", "9p",	       "virtio_blk", "crc32c_generic",
    "crc32c_intel", "ext4",	"overlay",	"fuse", "virtiofs",
};

/* Read-only state of one build. */
struct img_ctx {
	const struct img_opts *o;
	char cache[IMG_PATH_MAX];
	char tmp[IMG_PATH_MAX]; /* scratch, removed at the end */
	char *errbuf;
	size_t errcap;
};

/* snprintf that reports truncation: 0, or -AGW_ETOOBIG (buf is still a string). */
static int bprintf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap ? -AGW_ETOOBIG : n;
}

static void progress(struct img_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct img_ctx *c, const char *fmt, ...)
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

/*
 * Run argv (PATH search) in cwd. stdout goes to out_path when set,
 * otherwise stdout and stderr are captured into out (NUL-terminated,
 * truncated at cap). Returns the exit status (0..255) or -errno.
 */
static int run(char *const argv[], const char *cwd, const char *out_path, char *out, size_t cap)
{
	int p[2] = {-1, -1}, st = 0, fd;
	size_t len = 0;
	pid_t pid;

	if (out && cap)
		out[0] = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(p[0]);
		close(p[1]);
		return e;
	}
	if (pid == 0) {
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		if (out_path) {
			fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0)
				_exit(126);
			dup2(fd, 1);
		} else {
			dup2(p[1], 1);
		}
		dup2(p[1], 2);
		setenv("LC_ALL", "C", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		char tmp[4096];
		ssize_t n = read(p[0], tmp, sizeof(tmp));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && cap > len + 1) {
			size_t k = AGW_MIN((size_t)n, cap - len - 1);

			memcpy(out + len, tmp, k);
			len += k;
			out[len] = 0;
		}
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Last non-empty line of a program's output, for error messages. */
static const char *last_line(char *out)
{
	char *e = out + strlen(out), *s;

	while (e > out && (e[-1] == '\n' || e[-1] == ' '))
		*--e = 0;
	s = strrchr(out, '\n');
	return s ? s + 1 : out;
}

static int exe_dir(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
	char *s;

	if (n <= 0)
		return -ENOENT;
	buf[n] = 0;
	s = strrchr(buf, '/');
	if (!s)
		return -ENOENT;
	*s = 0;
	return 0;
}

int img_default_cache_dir(char *buf, size_t cap)
{
	const char *env = getenv("AGENTGW_IMAGE_DIR");
	char dir[IMG_PATH_MAX];
	char *s;

	if (env && *env)
		return bprintf(buf, cap, "%s", env) >= 0 ? 0 : -AGW_ETOOBIG;
	if (exe_dir(dir, sizeof(dir)) == 0) {
		/* Cut after the last path component named "build". */
		for (s = dir + strlen(dir); s > dir; s--) {
			if (*s == '/' && strncmp(s, "/build", 6) == 0 && (s[6] == '/' || !s[6])) {
				s[6] = 0;
				return bprintf(buf, cap, "%s/images", dir) >= 0 ? 0 : -AGW_ETOOBIG;
			}
		}
	}
	return bprintf(buf, cap, "/var/lib/agentgw/images") >= 0 ? 0 : -AGW_ETOOBIG;
}

int img_default_init(char *buf, size_t cap)
{
	const char *env = getenv("AGENTGW_INIT");
	char dir[IMG_PATH_MAX];

	if (env && *env)
		return bprintf(buf, cap, "%s", env) >= 0 ? 0 : -AGW_ETOOBIG;
	if (exe_dir(dir, sizeof(dir)) == 0 &&
	    bprintf(buf, cap, "%s/guest/agentgw-init", dir) >= 0 && access(buf, R_OK) == 0)
		return 0;
	bprintf(buf, cap, "/usr/lib/agentgw/agentgw-init");
	return access(buf, R_OK) == 0 ? 0 : -ENOENT;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32);
}

int img_bzimage_payload(const uint8_t *bz, size_t n, size_t *off, size_t *len, enum img_comp *comp)
{
	size_t setup, po, pl;
	const uint8_t *p;

	if (n < 0x250 || memcmp(bz + 0x202, "HdrS", 4) != 0 || le16(bz + 0x206) < 0x208)
		return -AGW_EPARSE;
	setup = bz[0x1f1] ? bz[0x1f1] : 4;
	setup = (setup + 1) * 512;
	po = le32(bz + 0x248);
	pl = le32(bz + 0x24c);
	if (setup > n || po > n - setup || pl > n - setup - po || pl < 8)
		return -AGW_EPARSE;
	p = bz + setup + po;
	if (p[0] == 0x1f && p[1] == 0x8b)
		*comp = IMG_COMP_GZIP;
	else if (memcmp(p,
			"\xfd"
			"7zXZ\0",
			6) == 0)
		*comp = IMG_COMP_XZ;
	else if (memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		*comp = IMG_COMP_ZSTD;
	else if (memcmp(p, "\x02\x21\x4c\x18", 4) == 0)
		*comp = IMG_COMP_LZ4;
	else
		return -AGW_EINVAL;
	*off = setup + po;
	*len = pl;
	return 0;
}

int img_elf_has_pvh(const uint8_t *elf, size_t n)
{
	uint64_t phoff;
	uint16_t phentsize, phnum;

	if (n < 64 ||
	    memcmp(elf,
		   "\x7f"
		   "ELF",
		   4) != 0 ||
	    elf[4] != 2 || elf[5] != 1)
		return -AGW_EPARSE;
	phoff = le64(elf + 32);
	phentsize = le16(elf + 54);
	phnum = le16(elf + 56);
	if (phentsize < 56 || phoff > n || (uint64_t)phnum * phentsize > n - phoff)
		return -AGW_EPARSE;
	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = elf + phoff + (size_t)i * phentsize;
		uint64_t o = le64(ph + 8), sz = le64(ph + 32), k = 0;

		if (le32(ph) != 4 /* PT_NOTE */ || o > n || sz > n - o)
			continue;
		while (k + 12 <= sz) {
			const uint8_t *nt = elf + o + k;
			uint32_t namesz = le32(nt), descsz = le32(nt + 4), type = le32(nt + 8);
			uint64_t step = 12 + (((uint64_t)namesz + 3) & ~3ull) +
					(((uint64_t)descsz + 3) & ~3ull);

			if (step > sz - k)
				break;
			if (namesz == 4 && memcmp(nt + 12, "Xen", 4) == 0 &&
			    type == 18 /* XEN_ELFNOTE_PHYS32_ENTRY */)
				return 1;
			k += step;
		}
	}
	return 0;
}

/* Module name of a modules.dep path: basename without .ko*, '-' as '_'. */
static void mod_name(const char *path, size_t len, char *out, size_t cap)
{
	const char *b = path;
	size_t i, k = 0;

	for (i = 0; i < len; i++)
		if (path[i] == '/')
			b = path + i + 1;
	for (; b < path + len && k + 1 < cap; b++) {
		if (b[0] == '.' && b[1] == 'k' && b[2] == 'o')
			break;
		out[k++] = *b == '-' ? '_' : *b;
	}
	out[k] = 0;
}

/* Line of dep whose module is name (by_path: whose path is name). */
static const char *dep_line(const char *dep, const char *name, int by_path, size_t *keylen)
{
	char m[128];

	for (const char *l = dep; l && *l;) {
		const char *colon = strchr(l, ':'), *nl = strchr(l, '\n');

		if (!colon || (nl && colon > nl)) {
			l = nl ? nl + 1 : NULL;
			continue;
		}
		if (by_path) {
			if ((size_t)(colon - l) == strlen(name) &&
			    strncmp(l, name, strlen(name)) == 0) {
				*keylen = (size_t)(colon - l);
				return l;
			}
		} else {
			mod_name(l, (size_t)(colon - l), m, sizeof(m));
			if (strcmp(m, name) == 0) {
				*keylen = (size_t)(colon - l);
				return l;
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

struct moddep_out {
	const char **out;
	size_t n, cap;
	char *names;
	size_t used, namecap;
};

static int moddep_visit(const char *dep, const char *line, size_t keylen, struct moddep_out *o,
			int depth)
{
	char path[512], d[512];
	const char *p, *end;
	size_t kl;
	int r;

	if (depth > IMG_MAX_MODULES || keylen >= sizeof(path))
		return -AGW_ETOOBIG;
	memcpy(path, line, keylen);
	path[keylen] = 0;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->out[i], path) == 0)
			return 0;
	p = line + keylen + 1;
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	while (p < end) {
		size_t l;

		while (p < end && *p == ' ')
			p++;
		for (l = 0; p + l < end && p[l] != ' '; l++)
			;
		if (!l)
			break;
		if (l >= sizeof(d))
			return -AGW_ETOOBIG;
		memcpy(d, p, l);
		d[l] = 0;
		p += l;
		line = dep_line(dep, d, 1, &kl);
		if (line && (r = moddep_visit(dep, line, kl, o, depth + 1)) < 0)
			return r;
	}
	for (size_t i = 0; i < o->n; i++) /* a dependency cycle may have added it */
		if (strcmp(o->out[i], path) == 0)
			return 0;
	if (o->n == o->cap || keylen + 1 > o->namecap - o->used)
		return -AGW_ETOOBIG;
	memcpy(o->names + o->used, path, keylen + 1);
	o->out[o->n++] = o->names + o->used;
	o->used += keylen + 1;
	return 0;
}

int img_moddep_order(const char *dep, const char *const *wanted, size_t n_wanted, const char **out,
		     size_t cap, char *names, size_t namecap)
{
	struct moddep_out o = {out, 0, cap, names, 0, namecap};
	size_t kl;
	int r;

	for (size_t i = 0; i < n_wanted; i++) {
		const char *line = dep_line(dep, wanted[i], 0, &kl);

		if (line && (r = moddep_visit(dep, line, kl, &o, 0)) < 0)
			return r;
	}
	return (int)o.n;
}

static int sha256_file(const char *path, char hex[65])
{
	unsigned char md[32], buf[65536];
	EVP_MD_CTX *ctx = NULL;
	int fd = -1, r = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r = -AGW_ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	for (int i = 0; i < 32; i++)
		bprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}

static void sha256_text(const char *text, char hex[65])
{
	unsigned char md[32];

	EVP_Digest(text, strlen(text), md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		bprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* Append to a bounded text buffer; fails once it is full. */
static int cat(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap - len ? -AGW_ETOOBIG : 0;
}

/* "Depends: linux-image-6.1.0-56-amd64" and its Version, from apt's cache. */
static int kernel_resolve(struct img_ctx *c, char *pkg, size_t pcap, char *ver, size_t vcap)
{
	char *out = malloc(IMG_OUT_MAX), *s;
	char *a1[] = {"apt-cache", "depends", "linux-image-amd64", NULL};
	char *a2[] = {"apt-cache", "show", "--no-all-versions", pkg, NULL};
	int r;

	if (!out)
		return -AGW_ENOMEM;
	r = run(a1, NULL, NULL, out, IMG_OUT_MAX);
	s = r == 0 ? strstr(out, "Depends: linux-image-") : NULL;
	if (!s) {
		r = agw_errf(c->errbuf, c->errcap, -AGW_ENOTFOUND,
			     "apt-cache depends linux-image-amd64: %s",
			     r == 0 ? "no kernel dependency" : last_line(out));
		goto out;
	}
	s += 9;
	bprintf(pkg, pcap, "%.*s", (int)strcspn(s, " \n<>"), s);
	r = run(a2, NULL, NULL, out, IMG_OUT_MAX);
	s = r == 0 ? strstr(out, "\nVersion: ") : NULL;
	if (!s) {
		r = agw_errf(c->errbuf, c->errcap, -AGW_ENOTFOUND, "apt-cache show %s: %s", pkg,
			     last_line(out));
		goto out;
	}
	s += 10;
	bprintf(ver, vcap, "%.*s", (int)strcspn(s, "\n"), s);
	r = 0;
out:
	free(out);
	return r;
}

/* The kernel .deb in <cache>/debs, downloading it when missing. */
static int kernel_fetch(struct img_ctx *c, const char *pkg, const char *ver, char *deb, size_t cap)
{
	char debs[IMG_PATH_MAX], fver[128], spec[256], *out = NULL;
	char *argv[] = {"apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", spec, NULL};
	size_t k = 0;
	int r;

	for (const char *s = ver; *s && k + 4 < sizeof(fver); s++) {
		if (*s == ':') { /* apt writes an epoch's colon as %3a */
			memcpy(fver + k, "%3a", 3);
			k += 3;
		} else {
			fver[k++] = *s;
		}
	}
	fver[k] = 0;
	bprintf(debs, sizeof(debs), "%s/debs", c->cache);
	mkdir(debs, 0755);
	if (bprintf(deb, cap, "%s/%s_%s_amd64.deb", debs, pkg, fver) < 0)
		return -AGW_ETOOBIG;
	if (access(deb, R_OK) == 0)
		return 0;
	progress(c, "downloading %s %s", pkg, ver);
	bprintf(spec, sizeof(spec), "%s=%s", pkg, ver);
	out = malloc(IMG_OUT_MAX);
	if (!out)
		return -AGW_ENOMEM;
	r = run(argv, debs, NULL, out, IMG_OUT_MAX);
	if (r != 0 || access(deb, R_OK) != 0)
		r = agw_errf(c->errbuf, c->errcap, -AGW_ENOTFOUND, "apt-get download %s: %s", spec,
			     last_line(out));
	free(out);
	return r;
}

static int map_file(const char *path, uint8_t **p, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *m;

	*p = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return -EINVAL;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -errno;
	*p = m;
	*n = (size_t)st.st_size;
	return 0;
}

static int write_all(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r = 0;

	if (fd < 0)
		return -errno;
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k <= 0) {
			r = k < 0 ? -errno : -EIO;
			break;
		}
		p += k;
		n -= (size_t)k;
	}
	close(fd);
	return r;
}

/* bzImage -> ELF vmlinux with a PVH note. */
static int vmlinux_extract(struct img_ctx *c, const char *vmlinuz, const char *dst)
{
	char payload[IMG_PATH_MAX], out[4096];
	uint8_t *bz = NULL, *elf = NULL;
	size_t n = 0, off, len, en = 0;
	enum img_comp comp;
	int r;

	progress(c, "extracting vmlinux from %s", strrchr(vmlinuz, '/') + 1);
	if ((r = map_file(vmlinuz, &bz, &n)) < 0)
		return agw_errf(c->errbuf, c->errcap, r, "%s: %s", vmlinuz, strerror(-r));
	if ((r = img_bzimage_payload(bz, n, &off, &len, &comp)) < 0) {
		r = agw_errf(c->errbuf, c->errcap, r, "%s: not a bzImage with a known compression",
			     vmlinuz);
		goto out;
	}
	bprintf(payload, sizeof(payload), "%s/payload", c->tmp);
	/* The kernel appends the decompressed size; zstd rejects trailing bytes. */
	if ((r = write_all(payload, bz + off, comp == IMG_COMP_ZSTD ? len - 4 : len)) < 0)
		goto out;
	{
		char *xz[] = {"xz", "-dc", "--single-stream", payload, NULL};
		char *zst[] = {"zstd", "-dcq", payload, NULL};
		char *gz[] = {"gzip", "-dc", payload, NULL};
		char *lz4[] = {"lz4", "-dcq", payload, NULL};
		char *const *argv = comp == IMG_COMP_XZ	    ? xz
				    : comp == IMG_COMP_ZSTD ? zst
				    : comp == IMG_COMP_GZIP ? gz
							    : lz4;

		r = run(argv, NULL, dst, out, sizeof(out));
		/* gzip exits 2 after warning about the trailing size bytes. */
		if (r != 0 && !(comp == IMG_COMP_GZIP && r == 2)) {
			r = agw_errf(c->errbuf, c->errcap, -AGW_EPARSE,
				     "%s: decompressing the kernel failed: %s", argv[0],
				     last_line(out));
			goto out;
		}
	}
	if ((r = map_file(dst, &elf, &en)) < 0 || (r = img_elf_has_pvh(elf, en)) <= 0) {
		r = agw_errf(c->errbuf, c->errcap, -AGW_EPARSE,
			     "%s: extracted kernel is not an ELF with a PVH entry", vmlinuz);
		goto out;
	}
	r = 0;
out:
	if (bz)
		munmap(bz, n);
	if (elf)
		munmap(elf, en);
	unlink(payload);
	return r;
}

static int read_text(const char *path, char **out, size_t max)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	*out = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		close(fd);
		return -AGW_ETOOBIG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -AGW_ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return -EIO;
	}
	buf[n] = 0;
	*out = buf;
	return 0;
}

/* Copy the needed modules (decompressed) and write the load list. */
static int modules_add(struct img_ctx *c, struct cpio *cp, const char *root, const char *kver)
{
	const char *const *want = c->o->rootfs_modules ? img_rootfs_modules : img_modules;
	size_t n_want =
	    c->o->rootfs_modules ? AGW_ARRAY_LEN(img_rootfs_modules) : AGW_ARRAY_LEN(img_modules);
	char mdir[IMG_PATH_MAX], path[IMG_PATH_MAX], dst[512], name[128], list[8192] = "";
	char *dep = NULL, names[16384], out[4096];
	const char *order[IMG_MAX_MODULES];
	int n, r;

	bprintf(mdir, sizeof(mdir), "%s/lib/modules/%s", root, kver);
	bprintf(path, sizeof(path), "%s/modules.dep", mdir);
	if (access(path, R_OK) != 0) {
		char *argv[] = {"depmod", "-b", (char *)(uintptr_t)root, (char *)(uintptr_t)kver,
				NULL};

		progress(c, "computing module dependencies (depmod)");
		if ((r = run(argv, NULL, NULL, out, sizeof(out))) != 0)
			return agw_errf(c->errbuf, c->errcap, -AGW_EPARSE, "depmod -b %s %s: %s",
					root, kver, last_line(out));
	}
	if ((r = read_text(path, &dep, 64 << 20)) < 0)
		return agw_errf(c->errbuf, c->errcap, r, "%s: %s", path, agw_strerror(r));
	n = img_moddep_order(dep, want, n_want, order, AGW_ARRAY_LEN(order), names, sizeof(names));
	if (n < 0) {
		r = agw_errf(c->errbuf, c->errcap, n, "module closure too large");
		goto out;
	}
	progress(c, "adding %d modules", n);
	for (int i = 0; i < n; i++) {
		const char *src = order[i];
		size_t sl = strlen(src);
		char *xz[] = {"xz", "-dc", path, NULL}, *zst[] = {"zstd", "-dcq", path, NULL};
		char plain[IMG_PATH_MAX];

		mod_name(src, sl, name, sizeof(name));
		bprintf(path, sizeof(path), "%s/%s", mdir, src);
		bprintf(dst, sizeof(dst), "/lib/modules/%s.ko", name);
		if (sl > 3 &&
		    (strcmp(src + sl - 3, ".xz") == 0 || strcmp(src + sl - 4, ".zst") == 0)) {
			bprintf(plain, sizeof(plain), "%s/%s.ko", c->tmp, name);
			if (run(src[sl - 1] == 'z' ? xz : zst, NULL, plain, out, sizeof(out)) !=
			    0) {
				r = agw_errf(c->errbuf, c->errcap, -AGW_EPARSE, "%s: %s", path,
					     last_line(out));
				goto out;
			}
			r = cpio_file(cp, dst, 0644, plain);
		} else {
			r = cpio_file(cp, dst, 0644, path);
		}
		if (r < 0) {
			r = agw_errf(c->errbuf, c->errcap, r, "%s: %s", path, agw_strerror(r));
			goto out;
		}
		if ((r = cat(list, sizeof(list), "%s\n", dst)) < 0)
			goto out;
	}
	r = cpio_data(cp, "/etc/agentgw/modules", 0644, list, strlen(list));
out:
	free(dep);
	return r;
}

static int busybox_add(struct img_ctx *c, struct cpio *cp, const char *busybox)
{
	char *out = malloc(IMG_OUT_MAX), *save = NULL, *tok, link[512];
	char *argv[] = {(char *)(uintptr_t)busybox, "--list-full", NULL};
	int r;

	if (!out)
		return -AGW_ENOMEM;
	if ((r = cpio_file(cp, "/bin/busybox", 0755, busybox)) < 0) {
		r = agw_errf(c->errbuf, c->errcap, r, "%s: %s", busybox, agw_strerror(r));
		goto out;
	}
	if (run(argv, NULL, NULL, out, IMG_OUT_MAX) != 0) {
		r = agw_errf(c->errbuf, c->errcap, -AGW_EPARSE, "%s --list-full: %s", busybox,
			     last_line(out));
		goto out;
	}
	for (tok = strtok_r(out, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		if (!*tok || strstr(tok, "..") || strcmp(tok, "bin/busybox") == 0 ||
		    strcmp(tok, "init") == 0 || strcmp(tok, "sbin/init") == 0 ||
		    strcmp(tok, "linuxrc") == 0)
			continue;
		bprintf(link, sizeof(link), "/%s", tok);
		if ((r = cpio_symlink(cp, link, "/bin/busybox")) < 0)
			goto out;
	}
	r = 0;
out:
	free(out);
	return r;
}

/* Resolve a program name through PATH. */
static int which(const char *prog, char *buf, size_t cap)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

	if (strchr(prog, '/'))
		return bprintf(buf, cap, "%s", prog) >= 0 && access(buf, X_OK) == 0 ? 0 : -ENOENT;
	for (const char *p = path; *p;) {
		size_t l = strcspn(p, ":");

		if (bprintf(buf, cap, "%.*s/%s", (int)l, p, prog) >= 0 && access(buf, X_OK) == 0)
			return 0;
		p += l;
		if (*p)
			p++;
	}
	return -ENOENT;
}

/* A program, the libraries ldd lists, and the dynamic loader. */
static int program_add(struct img_ctx *c, struct cpio *cp, const char *prog)
{
	char *out = malloc(IMG_OUT_MAX), *save = NULL, *line, lib[IMG_PATH_MAX];
	char *argv[] = {"ldd", lib, NULL};
	int r;

	if (!out)
		return -AGW_ENOMEM;
	bprintf(lib, sizeof(lib), "%s", prog);
	if ((r = cpio_file(cp, prog, 0755, prog)) < 0) {
		r = agw_errf(c->errbuf, c->errcap, r, "%s: %s", prog, agw_strerror(r));
		goto out;
	}
	/* ldd fails on static binaries: then there is nothing more to copy. */
	if (run(argv, NULL, NULL, out, IMG_OUT_MAX) != 0) {
		r = 0;
		goto out;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *arrow = strstr(line, "=> "), *p = arrow ? arrow + 3 : line;

		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '/')
			continue;
		p[strcspn(p, " (")] = 0;
		if ((r = cpio_file(cp, p, 0755, p)) < 0) {
			r = agw_errf(c->errbuf, c->errcap, r, "%s (needed by %s): %s", p, prog,
				     agw_strerror(r));
			goto out;
		}
	}
	r = 0;
out:
	free(out);
	return r;
}

static int etc_add(struct cpio *cp)
{
	static const struct {
		const char *path, *text;
	} files[] = {
	    {"/etc/passwd",
	     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"},
	    {"/etc/group", "root:x:0:\nnogroup:x:65534:\n"},
	    {"/etc/hosts", "127.0.0.1 localhost agentgw\n::1 localhost\n"},
	    {"/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n"},
	    {"/etc/hostname", "agentgw\n"},
	};
	static const char *const dirs[] = {"/proc",    "/sys",	"/dev",	      "/tmp",
					   "/run",     "/root", "/workspace", "/etc/agentgw",
					   "/usr/bin", "/sbin"};
	int r;

	for (size_t i = 0; i < AGW_ARRAY_LEN(dirs); i++)
		if ((r = cpio_dir(cp, dirs[i], strcmp(dirs[i], "/tmp") ? 0755 : 01777)) < 0)
			return r;
	if ((r = cpio_chr(cp, "/dev/console", 0600, 5, 1)) < 0 ||
	    (r = cpio_chr(cp, "/dev/null", 0666, 1, 3)) < 0)
		return r;
	for (size_t i = 0; i < AGW_ARRAY_LEN(files); i++)
		if ((r = cpio_data(cp, files[i].path, 0644, files[i].text, strlen(files[i].text))) <
		    0)
			return r;
	if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0) {
		if ((r = cpio_file(cp, "/etc/ssl/certs/ca-certificates.crt", 0644,
				   "/etc/ssl/certs/ca-certificates.crt")) < 0 ||
		    (r = cpio_symlink(cp, "/usr/lib/ssl/cert.pem",
				      "/etc/ssl/certs/ca-certificates.crt")) < 0 ||
		    (r = cpio_symlink(cp, "/usr/lib/ssl/certs", "/etc/ssl/certs")) < 0)
			return r;
	}
	return 0;
}

static int rm_rf(const char *path)
{
	char *argv[] = {"rm", "-rf", "--one-file-system", (char *)(uintptr_t)path, NULL};

	return run(argv, NULL, NULL, NULL, 0) == 0 ? 0 : -EIO;
}

/* Find the only entry of dir starting with prefix. */
static int find_entry(const char *dir, const char *prefix, char *buf, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && de->d_name[0] != '.') {
			r = bprintf(buf, cap, "%s", de->d_name) >= 0 ? 0 : -AGW_ETOOBIG;
			break;
		}
	closedir(d);
	return r;
}

int img_find(const char *cache_dir, const char *dir, struct img_info *info)
{
	char cache[IMG_PATH_MAX], path[IMG_PATH_MAX];
	char *real;
	FILE *f;

	memset(info, 0, sizeof(*info));
	if (!dir) {
		if (!cache_dir) {
			if (img_default_cache_dir(cache, sizeof(cache)) < 0)
				return -AGW_ETOOBIG;
			cache_dir = cache;
		}
		bprintf(path, sizeof(path), "%s/current", cache_dir);
		dir = path;
	}
	real = realpath(dir, NULL);
	if (!real)
		return -AGW_ENOTFOUND;
	bprintf(info->dir, sizeof(info->dir), "%s", real);
	free(real);
	bprintf(info->kernel, sizeof(info->kernel), "%s/vmlinux", info->dir);
	bprintf(info->initrd, sizeof(info->initrd), "%s/initramfs.cpio", info->dir);
	if (access(info->kernel, R_OK) != 0 || access(info->initrd, R_OK) != 0)
		return -AGW_ENOTFOUND;
	bprintf(info->rootfs, sizeof(info->rootfs), "%s/rootfs.ext4", info->dir);
	if (access(info->rootfs, R_OK) != 0)
		info->rootfs[0] = 0;
	bprintf(info->key, sizeof(info->key), "%s", strrchr(info->dir, '/') + 1);
	bprintf(path, sizeof(path), "%s/manifest.txt", info->dir);
	f = fopen(path, "re");
	if (f) {
		char line[256];

		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "kver ", 5) == 0)
				bprintf(info->kver, sizeof(info->kver), "%.*s",
					(int)strcspn(line + 5, "\n"), line + 5);
			else if (strncmp(line, "rootfs ", 7) == 0 && info->rootfs[0])
				bprintf(info->rootfs_key, sizeof(info->rootfs_key), "%.*s",
					(int)strcspn(line + 7, "\n"), line + 7);
		fclose(f);
	}
	info->cached = 1;
	return 0;
}

static int set_current(const char *cache, const char *key)
{
	char tmp[IMG_PATH_MAX], cur[IMG_PATH_MAX];

	bprintf(tmp, sizeof(tmp), "%s/current.%d", cache, (int)getpid());
	bprintf(cur, sizeof(cur), "%s/current", cache);
	unlink(tmp);
	if (symlink(key, tmp) < 0 || rename(tmp, cur) < 0)
		return -errno;
	return 0;
}

int img_build(const struct img_opts *o, struct img_info *info, char *errbuf, size_t errcap)
{
	struct img_ctx c = {.o = o, .errbuf = errbuf, .errcap = errcap};
	char pkg[128], ver[128], deb[IMG_PATH_MAX], init[IMG_PATH_MAX], hex[65], key[65];
	char manifest[8192] = "", progs[IMG_MAX_ADD][IMG_PATH_MAX], out_dir[IMG_PATH_MAX];
	char root[IMG_PATH_MAX], path[IMG_PATH_MAX], kver[128], vmlinuz[256], out[4096];
	const char *busybox = "/bin/busybox";
	struct cpio *cp = NULL;
	int64_t t0 = agw_mono_us();
	int r;

	memset(info, 0, sizeof(*info));
	if (errbuf && errcap)
		errbuf[0] = 0;
	c.tmp[0] = 0;
	if (o->n_add > IMG_MAX_ADD)
		return agw_errf(c.errbuf, c.errcap, -AGW_ETOOBIG,
				"too many programs to add (max %d)", IMG_MAX_ADD);
	if (o->cache_dir)
		bprintf(c.cache, sizeof(c.cache), "%s", o->cache_dir);
	else if ((r = img_default_cache_dir(c.cache, sizeof(c.cache))) < 0)
		return agw_errf(c.errbuf, c.errcap, r, "image cache path too long");
	if (o->init_path)
		bprintf(init, sizeof(init), "%s", o->init_path);
	else if (img_default_init(init, sizeof(init)) < 0)
		return agw_errf(
		    c.errbuf, c.errcap, -AGW_ENOTFOUND,
		    "agentgw-init not found (build it with 'make' or set AGENTGW_INIT)");
	{
		char *argv[] = {"mkdir", "-p", c.cache, NULL};

		if (run(argv, NULL, NULL, out, sizeof(out)) != 0)
			return agw_errf(c.errbuf, c.errcap, -EACCES, "cannot create %s: %s",
					c.cache, last_line(out));
	}

	/* The manifest names every input; its hash is the cache key. */
	if ((r = kernel_resolve(&c, pkg, sizeof(pkg), ver, sizeof(ver))) < 0)
		return r;
	cat(manifest, sizeof(manifest), "%s\nkernel %s %s\n", IMG_FORMAT, pkg, ver);
	if ((r = sha256_file(init, hex)) < 0)
		return agw_errf(c.errbuf, c.errcap, r, "%s: %s", init, agw_strerror(r));
	cat(manifest, sizeof(manifest), "init %s\n", hex);
	if ((r = sha256_file(busybox, hex)) < 0)
		return agw_errf(c.errbuf, c.errcap, r, "%s: %s (install busybox-static)", busybox,
				agw_strerror(r));
	cat(manifest, sizeof(manifest), "busybox %s\nmodules", hex);
	if (o->rootfs_modules)
		for (size_t i = 0; i < AGW_ARRAY_LEN(img_rootfs_modules); i++)
			cat(manifest, sizeof(manifest), " %s", img_rootfs_modules[i]);
	else
		for (size_t i = 0; i < AGW_ARRAY_LEN(img_modules); i++)
			cat(manifest, sizeof(manifest), " %s", img_modules[i]);
	cat(manifest, sizeof(manifest), "\n");
	for (size_t i = 0; i < o->n_add; i++) {
		if (which(o->add[i], progs[i], sizeof(progs[i])) < 0)
			return agw_errf(c.errbuf, c.errcap, -AGW_ENOTFOUND, "%s: no such program",
					o->add[i]);
		if ((r = sha256_file(progs[i], hex)) < 0)
			return agw_errf(c.errbuf, c.errcap, r, "%s: %s", progs[i], agw_strerror(r));
		if (cat(manifest, sizeof(manifest), "add %s %s\n", progs[i], hex) < 0)
			return agw_errf(c.errbuf, c.errcap, -AGW_ETOOBIG,
					"too many programs to add");
	}
	sha256_text(manifest, key);
	key[16] = 0; /* 64 bits name a cache entry well enough */
	bprintf(out_dir, sizeof(out_dir), "%s/%s", c.cache, key);
	if (!o->force && img_find(NULL, out_dir, info) == 0) {
		if (!o->keep_current)
			set_current(c.cache, key);
		progress(&c, "up to date: %s", out_dir);
		return 0;
	}

	bprintf(c.tmp, sizeof(c.tmp), "%s/%s.tmp.%d", c.cache, key, (int)getpid());
	rm_rf(c.tmp);
	if (mkdir(c.tmp, 0755) < 0) {
		r = agw_errf(c.errbuf, c.errcap, -errno, "%s: %s", c.tmp, strerror(errno));
		c.tmp[0] = 0;
		return r;
	}
	if ((r = kernel_fetch(&c, pkg, ver, deb, sizeof(deb))) < 0)
		goto out;
	progress(&c, "unpacking %s", strrchr(deb, '/') + 1);
	bprintf(root, sizeof(root), "%s/root", c.tmp);
	{
		char *argv[] = {"dpkg-deb", "-x", deb, root, NULL};

		if (run(argv, NULL, NULL, out, sizeof(out)) != 0) {
			r = agw_errf(c.errbuf, c.errcap, -AGW_EPARSE, "dpkg-deb -x %s: %s", deb,
				     last_line(out));
			goto out;
		}
	}
	bprintf(path, sizeof(path), "%s/lib/modules", root);
	if (find_entry(path, "", kver, sizeof(kver)) < 0) {
		r = agw_errf(c.errbuf, c.errcap, -AGW_ENOTFOUND, "%s has no lib/modules/<version>",
			     deb);
		goto out;
	}
	bprintf(path, sizeof(path), "%s/boot", root);
	if (find_entry(path, "vmlinuz-", vmlinuz, sizeof(vmlinuz)) < 0) {
		r = agw_errf(c.errbuf, c.errcap, -AGW_ENOTFOUND, "%s has no boot/vmlinuz-*", deb);
		goto out;
	}
	bprintf(path, sizeof(path), "%s/boot/%s", root, vmlinuz);
	{
		char vml[IMG_PATH_MAX];

		bprintf(vml, sizeof(vml), "%s/vmlinux", c.tmp);
		if ((r = vmlinux_extract(&c, path, vml)) < 0)
			goto out;
	}

	progress(&c, "writing initramfs");
	bprintf(path, sizeof(path), "%s/initramfs.cpio", c.tmp);
	if ((r = cpio_new(path, &cp)) < 0) {
		r = agw_errf(c.errbuf, c.errcap, r, "%s: %s", path, agw_strerror(r));
		goto out;
	}
	if ((r = etc_add(cp)) < 0 || (r = cpio_file(cp, "/init", 0755, init)) < 0) {
		r = agw_errf(c.errbuf, c.errcap, r, "initramfs: %s", agw_strerror(r));
		goto out;
	}
	/* Added programs go first: the cpio writer keeps the first entry of a
	 * path, so an added /usr/bin/nc is not shadowed by busybox's applet
	 * link of the same name. */
	for (size_t i = 0; i < o->n_add; i++) {
		progress(&c, "adding %s and its libraries", progs[i]);
		if ((r = program_add(&c, cp, progs[i])) < 0)
			goto out;
	}
	if ((r = busybox_add(&c, cp, busybox)) < 0 || (r = modules_add(&c, cp, root, kver)) < 0)
		goto out;
	if ((r = cpio_finish(cp)) < 0) {
		r = agw_errf(c.errbuf, c.errcap, r, "initramfs: %s", agw_strerror(r));
		goto out;
	}
	cat(manifest, sizeof(manifest), "kver %s\n", kver);
	bprintf(path, sizeof(path), "%s/manifest.txt", c.tmp);
	if ((r = write_all(path, (const uint8_t *)manifest, strlen(manifest))) < 0)
		goto out;
	if (rm_rf(root) < 0 || rm_rf(out_dir) < 0 || rename(c.tmp, out_dir) < 0) {
		r = agw_errf(c.errbuf, c.errcap, -errno, "%s: cannot move the image into place",
			     out_dir);
		goto out;
	}
	c.tmp[0] = 0;
	if ((!o->keep_current && (r = set_current(c.cache, key)) < 0) ||
	    (r = img_find(NULL, out_dir, info)) < 0) {
		r = agw_errf(c.errbuf, c.errcap, r, "%s: %s", out_dir, agw_strerror(r));
		goto out;
	}
	info->cached = 0;
	progress(&c, "built %s in %.1f s", out_dir, (double)(agw_mono_us() - t0) / 1e6);
out:
	cpio_free(cp);
	if (c.tmp[0])
		rm_rf(c.tmp);
	return r;
}

int img_run(char *const argv[], const char *cwd, const char *out_path, char *out, size_t cap)
{
	return run(argv, cwd, out_path, out, cap);
}

const char *img_last_line(char *out)
{
	return last_line(out);
}

int img_rm_rf(const char *path)
{
	return rm_rf(path);
}

int img_sha256_file(const char *path, char hex[65])
{
	return sha256_file(path, hex);
}

void img_sha256_text(const char *text, char hex[65])
{
	sha256_text(text, hex);
}
