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
	int force;	    /* rebuild even when cached */
	int rootfs_modules; /* also virtio_blk, ext4, overlay (images with a root disk) */
	int keep_current;   /* do not point <cache>/current at the result */
	img_progress_fn progress;
	void *arg;
};

/* What a built image is made of; paths are absolute. */
struct img_info {
	char dir[IMG_PATH_MAX];
	char kernel[IMG_PATH_MAX]; /* ELF vmlinux */
	char initrd[IMG_PATH_MAX]; /* newc cpio */
	char rootfs[IMG_PATH_MAX]; /* read-only ext4 root disk, "" for initramfs only */
	char key[64];		   /* the cache entry's name (content hash) */
	char rootfs_key[64];	   /* the root disk's content hash, "" without one */
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

/* Helpers shared with img_rootfs.c: run a program (img.c's run(): stdout
 * to out_path or captured with stderr into out; returns its exit status
 * or -errno; blocks), the last line of its output, rm -rf, sha256 hex. */
int img_run(char *const argv[], const char *cwd, const char *out_path, char *out, size_t cap);
const char *img_last_line(char *out);
int img_rm_rf(const char *path);
int img_sha256_file(const char *path, char hex[65]);
void img_sha256_text(const char *text, char hex[65]);

/* ---- img_rootfs.c: named images with a root filesystem ---- */

#define IMG_NAME_MAX 64
#define IMG_MAX_RUN 32

struct img_rootfs_opts {
	const char *cache_dir; /* NULL: img_default_cache_dir() */
	const char *init_path; /* NULL: img_default_init() */
	const char *name;      /* [a-z0-9][a-z0-9_.-]{0,63}, not "default" */
	const char *distro;    /* "debian" (bookworm), or NULL with oci */
	const char *oci;       /* OCI layout PATH[:TAG], docker save .tar, NULL */
	const char *packages;  /* comma-separated Debian packages, or NULL */
	const char *run[IMG_MAX_RUN]; /* shell commands run as root in the new root */
	size_t n_run;
	int force; /* rebuild the root filesystem even when cached */
	img_progress_fn progress;
	void *arg;
};

/* 1 if name can name an image ("default" is the initramfs image). */
int img_name_valid(const char *name);

/*
 * Build (or find cached) an image with a root filesystem: the kernel and an
 * initramfs with the block and overlay modules (img_build), and a read-only
 * ext4 disk made by mmdebstrap (unshare mode, no mounts on the host) plus
 * the packages (or, with oci, the layers of an OCI layout or docker save
 * archive applied by umoci after img_oci_check()), the user agent (uid
 * 1000, /home/agent), this host's CA bundle, then each run command in a
 * chroot, packed with mkfs.ext4 -d.
 * The root disk is cached by the sha256 of its inputs under <cache>/rootfs/,
 * so a new agentgw-init does not rebuild it. <cache>/names/NAME points at
 * the image. Blocks for minutes the first time (downloads). Returns 0 or a
 * negative code with errbuf saying what failed.
 */
int img_rootfs_build(const struct img_rootfs_opts *o, struct img_info *info, char *errbuf,
		     size_t errcap);

/* ---- img_oci.c: OCI image layouts (image build --oci) ---- */

#define IMG_OCI_MAX_LAYERS 256

struct img_oci_desc {
	char media_type[128];
	char digest[72]; /* "sha256:" + 64 lowercase hex */
	int64_t size;
	char ref[128]; /* org.opencontainers.image.ref.name, index entries only */
};

struct img_oci_ref {
	char path[IMG_PATH_MAX]; /* the layout folder or the archive */
	char tag[128];		 /* "latest" unless PATH:TAG */
	int archive;		 /* 1: a docker save archive (a regular file) */
	char key[65];		 /* manifest digest hex, or the archive's sha256 */
	size_t n_layers;
};

/* 1 if d is "sha256:" and 64 lowercase hex digits. Pure. */
int img_oci_digest_valid(const char *d);
/* 1 if umoci can apply a layer of this media type (tar, tar+gzip). Pure. */
int img_oci_layer_type_ok(const char *mt);

/*
 * Pure parsers. img_oci_index_pick: the one manifest descriptor of
 * index.json (buf, n) tagged tag (annotation org.opencontainers.image.ref.name);
 * it must be an image manifest. img_oci_manifest_parse: the config and up to
 * max layer descriptors of an image manifest; layers must be tar or tar+gzip.
 * Return 0, -AGW_EPARSE (bad JSON, descriptor or media type), -AGW_ENOTFOUND
 * (no such tag), -AGW_ETOOBIG (more than max layers); err gets one line.
 */
int img_oci_index_pick(const uint8_t *buf, size_t n, const char *tag, struct img_oci_desc *out,
		       char *err, size_t cap);
int img_oci_manifest_parse(const uint8_t *buf, size_t n, struct img_oci_desc *config,
			   struct img_oci_desc *layers, size_t max, size_t *n_layers, char *err,
			   size_t cap);

/*
 * Check spec (PATH, PATH:TAG or a docker save archive file) into ref: for a
 * layout, oci-layout and index.json, the tagged manifest, and the sha256
 * and size of the manifest, config and every layer blob (reads them all).
 * For an archive its sha256 and a manifest.json in it (tar -t; skopeo checks
 * the rest). Returns 0 or a negative code with one line in err: not an OCI
 * layout, not a docker save archive, no such tag,
 * missing blob, digest mismatch, unsupported media type. Blocks (file reads).
 */
int img_oci_check(const char *spec, struct img_oci_ref *ref, char *err, size_t cap);

/*
 * The image called name: "default" is <cache>/current (img_find), anything
 * else <cache>/names/<name>. Returns 0, -AGW_EINVAL for a bad name,
 * -AGW_ENOTFOUND. Never blocks.
 */
int img_lookup(const char *cache_dir, const char *name, struct img_info *info);

/* Remove the name; the image's files too when no other name uses them.
 * Returns 0, -AGW_ENOTFOUND, -AGW_EINVAL ("default"), -errno. Blocks (rm). */
int img_remove(const char *cache_dir, const char *name);

/*
 * Where sandboxes keep their writable disks: $AGENTGW_STATE_DIR, else the
 * folder beside the image cache named "sandboxes" (build/sandboxes,
 * /var/lib/agentgw/sandboxes). Returns 0 or -AGW_ETOOBIG. Never blocks.
 */
int img_sandbox_dir(char *buf, size_t cap);

/*
 * The writable disk of sandbox name for image info:
 * <sandbox dir>/<name>/rw.img, made (sparse raw, ext4) with size_mib when
 * missing, kept otherwise (*resumed = 1). A disk made over another root
 * disk is an error (-EEXIST, errbuf names it); a new kernel or agentgw-init
 * over the same root disk is not. Blocks (mkfs.ext4).
 */
int img_disk_prepare(const char *name, const struct img_info *info, uint64_t size_mib,
		     char *path, size_t cap, int *resumed, char *errbuf, size_t errcap);

/* Delete sandbox name's disk folder. Returns 0, -AGW_ENOTFOUND, -errno. */
int img_disk_remove(const char *name);

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
