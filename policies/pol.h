/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy engine's public face: load a YAML v1 policy, compile it into
 * matchers, and decide. Every other module calls only this header.
 *
 * A loaded policy is immutable and may be shared read-only between threads.
 * Decisions never allocate and never block.
 */
#ifndef AGW_POL_H
#define AGW_POL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct pol;

/* enforce: no rule is a deny; audit: a deny is recorded as would_deny and
 * allowed; ask: what no rule decides is asked of a person (POL_ASK). */
enum pol_mode { POL_MODE_ENFORCE, POL_MODE_AUDIT, POL_MODE_ASK };

/*
 * POL_ASK: the action waits for a person (agentgw approve/deny): in ask mode
 * when no rule decides it (no rule matched, or one matched the host but not
 * the port or HTTP request), or when the deciding allow rule has ask: true.
 * Never for an explicit deny, an invalid name or path, an address-only
 * question (cidr rules), or the gateway's own refusals (special-purpose
 * addresses, the gateway host), which are decided outside the policy.
 */
enum pol_verdict { POL_ALLOW, POL_DENY, POL_WOULD_DENY, POL_ASK };

enum pol_access {
	POL_ACC_READ = 1 << 0,
	POL_ACC_WRITE = 1 << 1,
	POL_ACC_CREATE = 1 << 2,
	POL_ACC_DELETE = 1 << 3,
	POL_ACC_ALL = 0xf,
};

/* One load error: "file:line:col: msg". */
struct pol_error {
	char *file;
	int line, col;
	char *msg;
};

struct pol_errors {
	struct pol_error *v;
	size_t n;
};

void pol_errors_free(struct pol_errors *errs);

/*
 * The outcome of a check. rule is "network.allow[2]" style (empty when no
 * rule matched), line its line in the policy file (0 if none), reason a
 * static human sentence ("no rule matches", "denied by rule", ...).
 */
struct pol_decision {
	enum pol_verdict verdict;
	char rule[48];
	int line;
	const char *reason;
};

/* "allow" | "deny" | "would_deny" | "ask". */
const char *pol_verdict_str(enum pol_verdict v);
/* True if the action may go ahead now (allow or would_deny); an ask may
 * not until a person approved it. */
static inline bool pol_permits(const struct pol_decision *d)
{
	return d->verdict == POL_ALLOW || d->verdict == POL_WOULD_DENY;
}

/*
 * Load and compile a policy. On success returns 0 and *out owns the policy.
 * On failure returns -AGW_EPOLICY (errs filled, every error found) or another
 * negative code (errs may hold one error saying why, e.g. cannot read file).
 * errs must be zeroed by the caller and freed with pol_errors_free.
 * `name` is the file name used in messages; relative paths in the policy
 * (workspace, audit.database) resolve against `basedir` (NULL: cwd).
 */
/* pol_load_file reads the file (blocking I/O); basedir is its folder. */
int pol_load_file(const char *path, struct pol **out, struct pol_errors *errs);
int pol_load_buf(const char *name, const char *buf, size_t len, const char *basedir,
		 struct pol **out, struct pol_errors *errs);
void pol_free(struct pol *p);

/*
 * Decisions fill *d and never allocate, block or fail; an invalid input
 * (bad host name, path escaping the workspace) is a deny with a reason.
 * Rules with `http:` match only in pol_check_http: a TLS or other non-HTTP
 * connection (pol_check_host) is never allowed by them. pol_check_addr
 * takes the port from its argument, not from the sockaddr; IPv4-mapped IPv6
 * addresses match IPv4 rules. pol_check_fs normalises the path ('//', '.',
 * '..'; a leading '/' is the workspace root) and needs every access bit
 * allowed on its own.
 */
/* Network: host name (any case, trailing dot ignored) and port. */
void pol_check_host(const struct pol *p, const char *host, uint16_t port, struct pol_decision *d);
/* Plain HTTP request: host rule and then its http method/path rules. */
void pol_check_http(const struct pol *p, const char *host, uint16_t port, const char *method,
		    const char *path, struct pol_decision *d);
/* A literal address (AF_INET/AF_INET6 sockaddr) against cidr rules; port 0
 * matches a rule whatever its ports (may DNS hand the address out at all). */
void pol_check_addr(const struct pol *p, const struct sockaddr *sa, uint16_t port,
		    struct pol_decision *d);
/* DNS: may this name be resolved at all (any allow rule for it, any port)? */
void pol_check_dns_name(const struct pol *p, const char *host, struct pol_decision *d);
/* Filesystem: workspace-relative path and one or more POL_ACC_* bits. */
void pol_check_fs(const struct pol *p, const char *relpath, unsigned access,
		  struct pol_decision *d);

/*
 * Renames and hard links, decided for what they really do (DESIGN.md,
 * "a rule holds for what an operation really does"). The caller states what
 * is on disk (is the source a directory, does the target exist); the
 * decision is a list of steps, each a path with the access it needs or a
 * comparison of rules, and the first step that is not allowed decides.
 *
 * Rename (from -> to):
 *   - delete on from;
 *   - create on to, and write unless from is a directory (the contents land
 *     under the new name);
 *   - when to exists: delete on to, and write unless it is a directory
 *     (replacing is a delete and a write of it);
 *   - when from is a directory: every rule must match the paths below from
 *     exactly as it matches the same paths below to (pol_fs_subtree_same),
 *     so nothing below changes its decision by moving.
 * Link (from is the existing file, to the new name):
 *   - create on to;
 *   - from and to are decided alike for every access (read, write, create,
 *     delete), so the second name gives no access the first does not.
 */
enum pol_fs_opkind { POL_FS_RENAME, POL_FS_LINK };

struct pol_fs_move {
	enum pol_fs_opkind kind;
	const char *from, *to; /* workspace-relative */
	bool from_dir;	       /* rename: the source is a directory */
	bool to_exists;	       /* rename: the target exists and will be replaced */
	bool to_dir;	       /* ... and is a directory */
};

/* One condition of a rename or link. */
struct pol_fs_step {
	const char *what;  /* static: "delete the source", "same rules below", ... */
	const char *path;  /* op->from or op->to */
	const char *other; /* compare steps: the other path; else NULL */
	unsigned access;   /* access steps: POL_ACC_* needed on path; compare
			    * steps: the accesses decided differently (0: alike) */
	struct pol_decision d;
};

#define POL_FS_STEPS_MAX 4

/*
 * Decide op. Fills steps[0..n) (n <= POL_FS_STEPS_MAX, returned) and *d:
 * the decision of the first step that is not an allow (deny, or would_deny
 * in audit mode), else an allow naming the first step's rule. *bad gets
 * that step's index, or -1 when every step allows. Never allocates.
 */
size_t pol_check_fs_move(const struct pol *p, const struct pol_fs_move *op, struct pol_decision *d,
			 struct pol_fs_step *steps, int *bad);
/*
 * Moving directory from to to: allow when every filesystem rule matches
 * the paths strictly below from exactly as the same paths below to, so each
 * path below keeps its decision for every access. Conservative: a rule that
 * could match differently is a deny naming that rule (would_deny in audit
 * mode), even when another rule would hide the difference.
 */
void pol_fs_subtree_same(const struct pol *p, const char *from, const char *to,
			 struct pol_decision *d);

/*
 * Writing (open for write, truncate, setattr) a regular file that has nlink
 * names: with more than one, its other names are unknown (made on the host,
 * or under an earlier policy) and may be protected, so it is a deny (would
 * deny in audit mode) unless the rules let every path be written (an allow
 * rule "**" with write and no deny rule covering write). Fills d.
 */
void pol_check_fs_linked_write(const struct pol *p, unsigned long nlink, struct pol_decision *d);

/* Accessors. Strings are owned by the policy. */
const char *pol_name(const struct pol *p);
enum pol_mode pol_mode(const struct pol *p);
const char *pol_mode_str(enum pol_mode m);	/* "enforce" | "audit" | "ask" */
const char *pol_sha256(const struct pol *p);	/* 64 hex chars of the file bytes */
/* ask_timeout: seconds an asked action waits for a person before it is
 * denied ("approval timed out"); default 30, 1..600. */
#define POL_ASK_TIMEOUT_DEFAULT 30u
#define POL_ASK_TIMEOUT_MAX 600u
unsigned pol_ask_timeout(const struct pol *p);
const char *pol_text(const struct pol *p);	/* the file's bytes, NUL-terminated */
const char *pol_workspace(const struct pol *p); /* absolute path or NULL if no filesystem */
const char *pol_audit_db(const struct pol *p);	/* absolute path or NULL if unset */
/* audit.retention_days: events older than this many days are pruned when a
 * sandbox starts; 0 (the default) keeps them all. */
unsigned pol_audit_retention_days(const struct pol *p);
/*
 * Serve DIR (made absolute with realpath) instead of filesystem.workspace;
 * the path rules stay relative to it. -AGW_EINVAL when the policy has no
 * filesystem section (no rules to apply), -errno when DIR cannot be resolved.
 */
int pol_set_workspace(struct pol *p, const char *dir);
size_t pol_dns_upstreams(const struct pol *p, const char *const **out); /* may be 0 */
unsigned pol_max_conns(const struct pol *p); /* network.max_connections, default 256 */
/*
 * Workspace quota the fs gateway enforces: filesystem.max_bytes (sum of the
 * regular files' sizes) and filesystem.max_files (files, directories and
 * links below the workspace root).
 */
#define POL_FS_MAX_BYTES_DEFAULT (10ull << 30)
#define POL_FS_MAX_FILES_DEFAULT 1000000ull
uint64_t pol_fs_max_bytes(const struct pol *p);
uint64_t pol_fs_max_files(const struct pol *p);

/* Sandbox settings: defaults 1 vcpu, 512 MiB, image "default". */
unsigned pol_vcpus(const struct pol *p);
uint64_t pol_memory_mib(const struct pol *p);
const char *pol_image(const struct pol *p);
/* sandbox.accel: "auto", "kvm" or "tcg" (static storage), NULL when the policy does not say. */
const char *pol_accel(const struct pol *p);
/* sandbox.fs_transport: "auto", "virtiofs" or "9p" (static storage), NULL when not said. */
const char *pol_fs_transport(const struct pol *p);
/* Can a workspace access be asked of a person (mode: ask, or a filesystem
 * allow rule with ask: true)? */
bool pol_fs_can_ask(const struct pol *p);
/* sandbox.disk: size of the writable layer of an image with a root
 * filesystem (default 4096 MiB); sandbox.user: the user commands run as
 * (NULL: 'agent' in such images, root in the initramfs image). */
uint64_t pol_disk_mib(const struct pol *p);
const char *pol_user(const struct pol *p);
unsigned pol_dns_ttl_max(const struct pol *p); /* network.dns.ttl_max, default 300 */

/*
 * TLS inspection and credentials (policy keys network.allow[].tls,
 * network.tls.upstream_ca and credentials).
 *
 * pol_check_tls decides a TLS connection on its SNI name: like
 * pol_check_host, except that a rule with `tls: inspect` (or any rule for a
 * host a credential lists, which implies inspect) also counts when it has
 * http lists, since each request inside is then judged with
 * pol_check_http. *inspect is true when the connection is to be
 * terminated at the gateway (the deciding rule says inspect, or a
 * credential lists the host); *cred gets the index of that credential in
 * pol_creds() or -1. Never allocates.
 */
void pol_check_tls(const struct pol *p, const char *host, uint16_t port, struct pol_decision *d,
		   bool *inspect, int *cred);
/* The credential whose hosts list host (any case, trailing dot ignored), or -1. */
int pol_cred_for_host(const struct pol *p, const char *host);

#define POL_MAX_CREDS 32
#define POL_CRED_NAME_MAX 32

/* One `credentials` entry. Strings are owned by the policy. */
struct pol_cred {
	char *name;   /* [a-z0-9_-]{1,32}, unique */
	char *env;    /* the guest's variable that holds the placeholder */
	char *from;   /* "env:VAR", "file:PATH" (absolute) or "command:CMD" */
	char *header; /* header name, lowercase; the only place it is injected */
	char **hosts; /* exact host names, lowercase, no trailing dot */
	size_t nhosts;
	int line;
};

/* The credentials, in policy order; returns how many (0..POL_MAX_CREDS). */
size_t pol_creds(const struct pol *p, const struct pol_cred **out);
/* network.tls.upstream_ca: absolute path, or NULL. */
const char *pol_upstream_ca(const struct pol *p);

/* Rule counts, for summaries. */
struct pol_counts {
	size_t net_allow, net_deny, fs_allow, fs_deny;
};
void pol_counts(const struct pol *p, struct pol_counts *c);

/* Limits the loader enforces. */
#define POL_MAX_BYTES (4u << 20)  /* policy file size */
#define POL_MAX_NET_RULES 100000u /* network.allow + network.deny */
#define POL_MAX_FS_RULES 10000u	  /* filesystem.allow + filesystem.deny */

/*
 * Explain: the same decision as the pol_check_* call, plus every rule that
 * matched the host/address/path, most specific first. Rules that matched the
 * host or path but not the port, method/path or access are listed too, with
 * matched=false and a note saying why. Writes at most cap entries to m and
 * returns how many there were in all. Never allocates; strings point into
 * the policy or are static.
 */
struct pol_match {
	char rule[32];
	int line;
	bool deny;
	bool matched;	      /* counted for the decision */
	const char *pattern;  /* host, cidr or path as written */
	unsigned access;      /* filesystem rules: their POL_ACC_* bits */
	unsigned specificity; /* higher wins: hosts exact > '*.' > '**.' then labels;
			       * cidr prefix (IPv4 as 96 + n); paths literal segments,
			       * then literal characters */
	const char *note;     /* why not matched, or NULL */
};

/* method NULL: as pol_check_host; else as pol_check_http. */
size_t pol_explain_host(const struct pol *p, const char *host, uint16_t port, const char *method,
			const char *path, struct pol_decision *d, struct pol_match *m, size_t cap);
/* As pol_check_tls (a TLS connection on its SNI name), with the matches. */
size_t pol_explain_tls(const struct pol *p, const char *host, uint16_t port,
		       struct pol_decision *d, bool *inspect, int *cred, struct pol_match *m,
		       size_t cap);
size_t pol_explain_addr(const struct pol *p, const struct sockaddr *sa, uint16_t port,
			struct pol_decision *d, struct pol_match *m, size_t cap);
size_t pol_explain_fs(const struct pol *p, const char *relpath, unsigned access,
		      struct pol_decision *d, struct pol_match *m, size_t cap);

/*
 * A copy of a policy's text with one rule appended to network.allow (fs
 * false) or filesystem.allow, written as "- RULE" (RULE a YAML flow mapping
 * such as "{ host: a.test, ports: [443] }") below comment lines (comment's
 * lines, each prefixed "# "; may be NULL). Every other byte stays as
 * written; a missing list or section is added. Returns 0 and *out (the
 * caller frees it), or -AGW_EPOLICY with a sentence in msg (the text does
 * not parse, the list is in flow style, the result would not load with
 * exactly one more rule), or -AGW_ENOMEM / -AGW_ETOOBIG. Never blocks.
 */
int pol_text_add_rule(const char *text, bool fs, const char *rule, const char *comment, char **out,
		      char *msg, size_t msgcap);

/* Parse "read,write" style access words into POL_ACC_* bits; -AGW_EINVAL on an unknown word. */
int pol_access_parse(const char *s, unsigned *out);
/* "read,write" for bits, into buf. Returns buf. */
const char *pol_access_str(unsigned access, char *buf, size_t sz);

#endif
