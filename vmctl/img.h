/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guest image: Debian's generic kernel (fetched with apt-get download,
 * its bzImage payload unpacked to an ELF vmlinux for PVH boot), the modules
 * the guest needs in dependency order, busybox-static, agentgw-init as /init
 * and optional host programs with their shared libraries, packed into an
 * uncompressed newc initramfs. Images are cached under
 * <cache>/<sha256 of the inputs>/ and rebuilt only when an input changes;
 * <cache>/current points at the last one built.
 */
#ifndef AGW_IMG_H
#define AGW_IMG_H

#include <stddef.h>
#include <stdint.h>

#define IMG_PATH_MAX 4096
#define IMG_MAX_ADD 64

/* Progress callback: one human line ("downloading linux-image-..."). */
typedef void (*img_progress_fn)(const char *line, void *arg);

struct img_opts {
	const char *cache_dir;	      /* NULL: img_default_cache_dir() */
	const char *init_path;	      /* NULL: img_default_init() */
	const char *add[IMG_MAX_ADD]; /* host programs to copy with their libraries */
	size_t n_add;
	int force; /* rebuild even when cached */
	img_progress_fn progress;
	void *arg;
};

/* What a built image is made of; paths are absolute. */
struct img_info {
	char dir[IMG_PATH_MAX];
	char kernel[IMG_PATH_MAX]; /* ELF vmlinux */
	char initrd[IMG_PATH_MAX]; /* newc cpio */
	char kver[128];		   /* "6.1.0-56-amd64" */
	int cached;		   /* 1 if nothing had to be built */
};

/*
 * The image cache: $AGENTGW_IMAGE_DIR, else <tree>/build/images when the
 * running binary lives under a build/ folder, else /var/lib/agentgw/images.
 * Returns 0 or -AGW_ETOOBIG. Never blocks.
 */
int img_default_cache_dir(char *buf, size_t cap);

/* agentgw-init: $AGENTGW_INIT, else <exe dir>/guest/agentgw-init, else
 * /usr/lib/agentgw/agentgw-init. Returns 0 or -ENOENT. */
int img_default_init(char *buf, size_t cap);

/*
 * Build (or find cached) the image. Blocks: runs apt-get download,
 * dpkg-deb, depmod, xz/zstd and ldd; the first build downloads ~70 MB.
 * Returns 0 or a negative code; *errbuf says what failed.
 */
int img_build(const struct img_opts *o, struct img_info *info, char *errbuf, size_t errcap);

/*
 * The image at <cache>/current (or dir when not NULL): fills kernel, initrd.
 * Returns 0, or -AGW_ENOTFOUND when no image was built ("run agentgw image
 * build"). Never blocks.
 */
int img_find(const char *cache_dir, const char *dir, struct img_info *info);

/* Compression of a bzImage payload. */
enum img_comp { IMG_COMP_NONE, IMG_COMP_GZIP, IMG_COMP_XZ, IMG_COMP_ZSTD, IMG_COMP_LZ4 };

/*
 * Locate the compressed kernel inside a bzImage (pure): *off and *len of
 * the payload from the setup header, *comp from its magic. Returns 0,
 * -AGW_EPARSE when it is not a bzImage, -AGW_EINVAL for an unknown format.
 */
int img_bzimage_payload(const uint8_t *bz, size_t n, size_t *off, size_t *len, enum img_comp *comp);

/* Whether an ELF64 image carries the Xen PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY). Pure. Returns 1, 0, or -AGW_EPARSE. */
int img_elf_has_pvh(const uint8_t *elf, size_t n);

/*
 * Dependency closure of the wanted modules over a modules.dep text (pure):
 * writes the module paths ("kernel/fs/9p/9p.ko") in load order, each once,
 * to out[0..cap). Modules missing from modules.dep are skipped (assumed
 * built in). Returns the count, or -AGW_ETOOBIG. out strings are copied into
 * names (a buffer of namecap bytes).
 */
int img_moddep_order(const char *dep, const char *const *wanted, size_t n_wanted, const char **out,
		     size_t cap, char *names, size_t namecap);

#endif
