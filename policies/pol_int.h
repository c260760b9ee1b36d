/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals shared by the policy engine's files: the YAML node tree the
 * loader walks, the error collector, the compiled rule tables, the host
 * trie and path globs. Nothing outside policies/ includes this.
 */
#ifndef AGW_POL_INT_H
#define AGW_POL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policies/pol.h"

#define POL_MAX_ERRORS 200
#define POL_MAX_NODES 1000000u
#define POL_MAX_DEPTH 32
#define POL_MAX_PATH 4096
#define POL_HOST_MAX 253
#define POL_LABEL_MAX 63
#define POL_MAX_LABELS 128

/* ---- errors (pol_yaml.c) ---- */

struct pol_ectx {
	const char *file;
	struct pol_errors *errs;
	size_t dropped; /* errors past POL_MAX_ERRORS */
	bool nomem;
};

void pol_err(struct pol_ectx *e, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Closest of cands to s within a small edit distance, or NULL. */
const char *pol_did_you_mean(const char *s, const char *const *cands, size_t n);

/* ---- YAML tree (pol_yaml.c) ---- */

enum pol_ytype { POL_Y_SCALAR, POL_Y_SEQ, POL_Y_MAP };

struct pol_ynode {
	uint8_t type;
	uint8_t plain;	     /* scalar written without quotes */
	int line, col;	     /* 1-based */
	uint32_t off, len;   /* scalar text in the pool */
	int32_t first, next; /* children (map: key, value, key, value ...) */
	uint32_t n;
};

struct pol_yaml {
	struct pol_ynode *n;
	size_t nn, cap;
	char *pool;
	size_t plen, pcap;
	int32_t root; /* -1 if the document is empty */
};

/* Parse buf into y. 0, or -AGW_EPOLICY with errors reported, or -AGW_ENOMEM. */
int pol_yaml_parse(struct pol_ectx *e, const char *buf, size_t len, struct pol_yaml *y);
void pol_yaml_free(struct pol_yaml *y);
static inline const char *pol_ystr(const struct pol_yaml *y, const struct pol_ynode *nd)
{
	return y->pool + nd->off;
}

/* ---- globs (pol_glob.c) ---- */

enum pol_seg_kind { POL_SEG_LIT, POL_SEG_WILD, POL_SEG_DSTAR };

struct pol_glob {
	char *text;    /* as written */
	char *buf;     /* segments, NUL-separated */
	uint32_t *seg; /* offset of each segment in buf */
	uint8_t *kind; /* enum pol_seg_kind per segment */
	uint32_t nseg;
	uint32_t lit_segs, lit_chars;
};

/* Compile a glob; on error returns a static message and leaves g empty. */
const char *pol_glob_compile(const char *text, size_t len, bool http, struct pol_glob *g);
void pol_glob_free(struct pol_glob *g);

/* A normalised path: segments as offsets into buf. */
struct pol_path {
	char buf[POL_MAX_PATH + 1];
	uint16_t off[POL_MAX_PATH / 2 + 1];
	uint16_t len[POL_MAX_PATH / 2 + 1];
	uint32_t nseg;
};

enum pol_norm { POL_NORM_OK, POL_NORM_ESCAPE, POL_NORM_TOOLONG };
/* Normalise: fold '//', drop '.', resolve '..' lexically. http: stop at
 * '?' or '#', decode %XX of unreserved characters. */
enum pol_norm pol_path_norm(const char *path, bool http, struct pol_path *out);
bool pol_glob_match(const struct pol_glob *g, const struct pol_path *p);
/* Bits for the states of a glob: a position before each segment, and the end. */
#define POL_GLOB_WORDS ((POL_MAX_PATH / 2 + 2 + 63) / 64)
/*
 * The positions in g that the segments of p can lead to (a set of pattern
 * positions, the end excluded). Two paths with the same set are matched
 * alike by g below them: g matches p/x exactly when it matches q/x, for
 * every non-empty x. Never allocates.
 */
void pol_glob_states(const struct pol_glob *g, const struct pol_path *p,
		     uint64_t set[POL_GLOB_WORDS]);

/* ---- host patterns and trie (pol_host.c) ---- */

enum pol_wild { POL_W_EXACT, POL_W_STAR, POL_W_DSTAR };

/* Validate a host pattern; on success fills norm (lowercase, no trailing
 * dot, without the wildcard label) and *wild and returns NULL; else writes a
 * message to msg and returns it. */
const char *pol_host_parse(const char *s, size_t len, char *norm, size_t normsz,
			   enum pol_wild *wild, char *msg, size_t msgsz);

struct pol_tnode {
	uint32_t off[3], cnt[3]; /* rule ids in trie.rules per enum pol_wild */
};

/* 16 bytes, four to a cache line: lab = label offset << 8 | length. */
struct pol_tedge {
	uint32_t hash, parent, child, lab;
};

struct pol_trie {
	struct pol_tnode *nodes;
	size_t nnodes, capnodes;
	struct pol_tedge *tab;
	size_t tabsz, tabused;
	char *labels;
	size_t llen, lcap;
	uint32_t *rules;
	size_t nrules;
};

struct pol_tpend {
	uint32_t node, wild, rule;
};

/* Insert a normalised suffix; returns the node id or negative error. */
int64_t pol_trie_insert(struct pol_trie *t, const char *suffix);
/* After all inserts: attach the pending (node, wild, rule) triples. */
int pol_trie_finish(struct pol_trie *t, struct pol_tpend *pend, size_t n);
void pol_trie_free(struct pol_trie *t);
/*
 * Walk host (any case, trailing dot ignored). Fills nodes[d] for suffixes of
 * d labels (nodes[0] = root) and returns the deepest d reached; *nlabels gets
 * the host's label count. Returns -1 for an invalid name. Never allocates.
 */
int pol_trie_walk(const struct pol_trie *t, const char *host, uint32_t *nodes, int *nlabels);

/* ---- compiled policy ---- */

enum pol_rkind { POL_R_HOST, POL_R_CIDR };

struct pol_http {
	char **methods;
	uint32_t nmethods; /* 0: any */
	struct pol_glob *paths;
	uint32_t npaths; /* 0: any */
};

struct pol_nrule {
	char name[32];
	char *pattern; /* as written */
	int line;
	uint8_t deny, kind, wild, v4;
	uint8_t ask; /* allow rule with ask: true: a match is asked, not allowed */
	uint8_t tls; /* 1: tls: inspect */
	uint8_t addr[16];
	uint8_t prefix; /* 0..128; v4 rules hold the address mapped, prefix + 96 */
	uint16_t *ports;
	uint32_t nports; /* 0: any port */
	struct pol_http *http;
	uint32_t nhttp;
};

struct pol_frule {
	char name[32];
	int line;
	uint8_t deny;
	uint8_t ask; /* allow rule with ask: true */
	unsigned access;
	struct pol_glob g;
};

struct pol {
	char *file, *name, *text, *image, *user;
	char sha[65];
	enum pol_mode mode;
	unsigned ask_timeout; /* seconds, POL_ASK_TIMEOUT_* */
	char *workspace, *audit_db;
	unsigned audit_retention_days; /* 0: keep every event */
	char **upstreams;
	size_t nupstreams;
	unsigned ttl_max, max_conns, vcpus;
	uint64_t memory_mib, disk_mib;
	uint64_t fs_max_bytes, fs_max_files; /* workspace quota */
	const char *accel; /* "auto", "kvm", "tcg" (static storage) or NULL: not set */
	const char *fs_transport; /* "auto", "virtiofs", "9p" (static storage) or NULL */
	struct pol_nrule *nr;
	size_t nnr, nnet_allow, nnet_deny;
	uint32_t *cidr;
	size_t ncidr;
	struct pol_trie trie;
	struct pol_frule *fr;
	size_t nfr, nfs_allow, nfs_deny;
	char *upstream_ca;
	struct pol_cred *creds;
	size_t ncreds;
};

void pol_nrule_free(struct pol_nrule *r);

/* pol_load.c: fill p from the tree. Errors go to e. */
int pol_build(struct pol_ectx *e, const struct pol_yaml *y, const char *basedir, struct pol *p);

#endif
