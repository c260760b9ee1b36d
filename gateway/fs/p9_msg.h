/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * 9P2000.L wire format: message types, the decoded message structure, and
 * the pure encoder and decoder. No I/O, no globals, no allocation: decoded
 * strings and data point into the caller's buffer, so a decoded message is
 * valid only while that buffer is. Every field is bounds-checked; a message
 * whose size field, counts or string lengths do not add up exactly is
 * rejected. Both T (client) and R (server) messages are handled, so the same
 * code serves the server, its tests and the benchmark client.
 */
#ifndef AGW_P9_MSG_H
#define AGW_P9_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P9_HDRSZ 7u	/* size[4] type[1] tag[2] */
#define P9_IOHDRSZ 24u	/* header room a read/write reply needs */
#define P9_MAXWELEM 16u /* names per Twalk */
#define P9_NOTAG ((uint16_t)~0u)
#define P9_NOFID ((uint32_t)~0u)
#define P9_MSIZE_MIN 4096u
#define P9_MSIZE_MAX (1024u * 1024u)
#define P9_VERSION_L "9P2000.L"

enum p9_type {
	P9_TLERROR = 6,
	P9_RLERROR,
	P9_TSTATFS = 8,
	P9_RSTATFS,
	P9_TLOPEN = 12,
	P9_RLOPEN,
	P9_TLCREATE = 14,
	P9_RLCREATE,
	P9_TSYMLINK = 16,
	P9_RSYMLINK,
	P9_TMKNOD = 18,
	P9_RMKNOD,
	P9_TRENAME = 20,
	P9_RRENAME,
	P9_TREADLINK = 22,
	P9_RREADLINK,
	P9_TGETATTR = 24,
	P9_RGETATTR,
	P9_TSETATTR = 26,
	P9_RSETATTR,
	P9_TXATTRWALK = 30,
	P9_RXATTRWALK,
	P9_TXATTRCREATE = 32,
	P9_RXATTRCREATE,
	P9_TREADDIR = 40,
	P9_RREADDIR,
	P9_TFSYNC = 50,
	P9_RFSYNC,
	P9_TLOCK = 52,
	P9_RLOCK,
	P9_TGETLOCK = 54,
	P9_RGETLOCK,
	P9_TLINK = 70,
	P9_RLINK,
	P9_TMKDIR = 72,
	P9_RMKDIR,
	P9_TRENAMEAT = 74,
	P9_RRENAMEAT,
	P9_TUNLINKAT = 76,
	P9_RUNLINKAT,
	P9_TVERSION = 100,
	P9_RVERSION,
	P9_TAUTH = 102,
	P9_RAUTH,
	P9_TATTACH = 104,
	P9_RATTACH,
	P9_TFLUSH = 108,
	P9_RFLUSH,
	P9_TWALK = 110,
	P9_RWALK,
	P9_TREAD = 116,
	P9_RREAD,
	P9_TWRITE = 118,
	P9_RWRITE,
	P9_TCLUNK = 120,
	P9_RCLUNK,
	P9_TREMOVE = 122,
	P9_RREMOVE,
};

/* qid.type bits */
#define P9_QTDIR 0x80u
#define P9_QTSYMLINK 0x02u
#define P9_QTFILE 0x00u

/* Tgetattr request_mask / Rgetattr valid */
#define P9_GETATTR_BASIC 0x000007ffull
/* Tsetattr valid */
#define P9_SETATTR_MODE 0x001u
#define P9_SETATTR_UID 0x002u
#define P9_SETATTR_GID 0x004u
#define P9_SETATTR_SIZE 0x008u
#define P9_SETATTR_ATIME 0x010u
#define P9_SETATTR_MTIME 0x020u
#define P9_SETATTR_CTIME 0x040u
#define P9_SETATTR_ATIME_SET 0x080u
#define P9_SETATTR_MTIME_SET 0x100u
/* Tlopen/Tlcreate flags (the Linux x86 open(2) values) */
#define P9_DOTL_ACCMODE 03u
#define P9_DOTL_RDONLY 00u
#define P9_DOTL_WRONLY 01u
#define P9_DOTL_RDWR 02u
#define P9_DOTL_CREATE 0100u
#define P9_DOTL_EXCL 0200u
#define P9_DOTL_TRUNC 01000u
#define P9_DOTL_APPEND 02000u
#define P9_DOTL_DSYNC 010000u
#define P9_DOTL_DIRECTORY 0200000u
#define P9_DOTL_SYNC 04000000u
/* Tunlinkat flags */
#define P9_AT_REMOVEDIR 0x200u
/* Rlock status */
#define P9_LOCK_SUCCESS 0u
/* lock types */
#define P9_LOCK_TYPE_UNLCK 2u
/* statfs type the kernel client expects */
#define P9_V9FS_MAGIC 0x01021997u

/* A counted string; not NUL-terminated; points into a message buffer. */
struct p9_str {
	const char *s;
	uint16_t len;
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

struct p9_attr { /* Rgetattr body after valid and qid */
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, blksize, blocks;
	uint64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint64_t btime_sec, btime_nsec, gen, data_version;
};

struct p9_statfs {
	uint32_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree, fsid;
	uint32_t namelen;
};

struct p9_lockreq { /* Tlock, Tgetlock, Rgetlock */
	uint8_t type;
	uint32_t flags; /* Tlock only */
	uint64_t start, length;
	uint32_t proc_id;
	struct p9_str client_id;
};

/*
 * One decoded message. Which member of u is valid depends on type; fields
 * named after the protocol (diod's and the kernel's names).
 */
struct p9_msg {
	uint8_t type;
	uint16_t tag;
	union {
		struct {
			uint32_t msize;
			struct p9_str version;
		} version; /* T/R */
		struct {
			uint32_t afid;
			struct p9_str uname, aname;
			uint32_t n_uname;
		} auth;
		struct {
			uint32_t fid, afid;
			struct p9_str uname, aname;
			uint32_t n_uname;
		} attach;
		struct p9_qid qid; /* Rauth Rattach Rsymlink Rmknod Rmkdir */
		struct {
			uint32_t ecode;
		} lerror;
		struct {
			uint16_t oldtag;
		} flush;
		struct {
			uint32_t fid, newfid;
			uint16_t nwname;
			struct p9_str wname[P9_MAXWELEM];
		} walk;
		struct {
			uint16_t nwqid;
			struct p9_qid wqid[P9_MAXWELEM];
		} rwalk;
		struct {
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
		} read; /* Tread Treaddir */
		struct {
			uint32_t count;
			const uint8_t *data;
		} data; /* Rread Rreaddir */
		struct {
			uint32_t fid;
			uint64_t offset;
			uint32_t count;
			const uint8_t *data;
		} write;
		struct {
			uint32_t count;
		} rwrite;
		struct {
			uint32_t fid;
		} fid; /* Tclunk Tremove Tstatfs Treadlink */
		struct {
			uint32_t fid;
			uint32_t datasync;
		} fsync;
		struct p9_statfs statfs;
		struct {
			uint32_t fid, flags;
		} lopen;
		struct {
			struct p9_qid qid;
			uint32_t iounit;
		} ropen; /* Rlopen Rlcreate */
		struct {
			uint32_t fid;
			struct p9_str name;
			uint32_t flags, mode, gid;
		} lcreate;
		struct {
			uint32_t fid;
			struct p9_str name, target;
			uint32_t gid;
		} symlink;
		struct {
			uint32_t dfid;
			struct p9_str name;
			uint32_t mode, major, minor, gid;
		} mknod;
		struct {
			uint32_t fid, dfid;
			struct p9_str name;
		} rename;
		struct {
			struct p9_str target;
		} rreadlink;
		struct {
			uint32_t fid;
			uint64_t mask;
		} getattr;
		struct {
			uint64_t valid;
			struct p9_qid qid;
			struct p9_attr a;
		} rgetattr;
		struct {
			uint32_t fid, valid, mode, uid, gid;
			uint64_t size, atime_sec, atime_nsec, mtime_sec, mtime_nsec;
		} setattr;
		struct {
			uint32_t fid, newfid;
			struct p9_str name;
		} xattrwalk;
		struct {
			uint64_t size;
		} rxattrwalk;
		struct {
			uint32_t fid;
			struct p9_str name;
			uint64_t size;
			uint32_t flags;
		} xattrcreate;
		struct {
			uint32_t fid;
			struct p9_lockreq l;
		} lock; /* Tlock Tgetlock */
		struct {
			uint8_t status;
		} rlock;
		struct p9_lockreq rgetlock;
		struct {
			uint32_t dfid, fid;
			struct p9_str name;
		} link;
		struct {
			uint32_t dfid;
			struct p9_str name;
			uint32_t mode, gid;
		} mkdir;
		struct {
			uint32_t olddfid;
			struct p9_str oldname;
			uint32_t newdfid;
			struct p9_str newname;
		} renameat;
		struct {
			uint32_t dfid;
			struct p9_str name;
			uint32_t flags;
		} unlinkat;
	} u;
};

/*
 * Frame check on the start of a byte stream. Returns 0 and *size (the whole
 * message, header included) when 4 bytes are there and 7 <= size <= msize;
 * -AGW_ETRUNC when fewer than 4 bytes are available; -AGW_EPROTO when the
 * size is out of range. Pure.
 */
int p9_frame(const uint8_t *buf, size_t len, uint32_t msize, uint32_t *size);

/*
 * Decode exactly one whole message (len must equal its size field). Returns 0,
 * -AGW_EPROTO (malformed: a field runs past the end, trailing bytes, a count
 * over its limit, size field disagreeing with len) or -AGW_ENOTFOUND (well
 * framed but an unknown type: m->type and m->tag are set so the caller can
 * answer Rlerror). Pure; m's strings and data point into buf.
 */
int p9_decode(const uint8_t *buf, size_t len, struct p9_msg *m);

/*
 * Encode m into buf. Returns 0 and *len, -AGW_ETOOBIG when cap is too small,
 * -AGW_EINVAL for counts over their limits or an unknown type. Pure.
 */
int p9_encode(const struct p9_msg *m, uint8_t *buf, size_t cap, size_t *len);

/* Name of a message type ("Twalk"), or "unknown". Static storage. */
const char *p9_type_name(uint8_t type);

/*
 * Readdir entries: qid[13] offset[8] type[1] name[s]. p9_dirent_put appends
 * one at *off if it fits in cap (returns 0, or -AGW_ETOOBIG leaving *off);
 * p9_dirent_next decodes the entry at *off (returns 1 and advances, 0 at the
 * end, -AGW_EPROTO if malformed).
 */
int p9_dirent_put(uint8_t *buf, size_t cap, size_t *off, const struct p9_qid *qid, uint64_t offset,
		  uint8_t type, const char *name, size_t namelen);
int p9_dirent_next(const uint8_t *buf, size_t len, size_t *off, struct p9_qid *qid,
		   uint64_t *offset, uint8_t *type, struct p9_str *name);

/* True if s equals the NUL-terminated lit. */
bool p9_str_eq(struct p9_str s, const char *lit);

#endif
