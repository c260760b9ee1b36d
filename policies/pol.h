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

enum pol_mode { POL_MODE_ENFORCE, POL_MODE_AUDIT };

enum pol_verdict { POL_ALLOW, POL_DENY, POL_WOULD_DENY };

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

/* "allow" | "deny" | "would_deny". */
const char *pol_verdict_str(enum pol_verdict v);
/* True if the action may go ahead (allow or would_deny). */
static inline bool pol_permits(const struct pol_decision *d)
{
	return d->verdict != POL_DENY;
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

/* Accessors. Strings are owned by the policy. */
const char *pol_name(const struct pol *p);
enum pol_mode pol_mode(const struct pol *p);
const char *pol_sha256(const struct pol *p);	/* 64 hex chars of the file bytes */
const char *pol_text(const struct pol *p);	/* the file's bytes, NUL-terminated */
const char *pol_workspace(const struct pol *p); /* absolute path or NULL if no filesystem */
const char *pol_audit_db(const struct pol *p);	/* absolute path or NULL if unset */
/*
 * Serve DIR (made absolute with realpath) instead of filesystem.workspace;
 * the path rules stay relative to it. -AGW_EINVAL when the policy has no
 * filesystem section (no rules to apply), -errno when DIR cannot be resolved.
 */
int pol_set_workspace(struct pol *p, const char *dir);
size_t pol_dns_upstreams(const struct pol *p, const char *const **out); /* may be 0 */
unsigned pol_max_conns(const struct pol *p); /* network.max_connections, default 256 */

/* Sandbox settings: defaults 1 vcpu, 512 MiB, image "default". */
unsigned pol_vcpus(const struct pol *p);
uint64_t pol_memory_mib(const struct pol *p);
const char *pol_image(const struct pol *p);
/* sandbox.accel: "auto", "kvm" or "tcg" (static storage), NULL when the policy does not say. */
const char *pol_accel(const struct pol *p);
unsigned pol_dns_ttl_max(const struct pol *p); /* network.dns.ttl_max, default 300 */

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
size_t pol_explain_addr(const struct pol *p, const struct sockaddr *sa, uint16_t port,
			struct pol_decision *d, struct pol_match *m, size_t cap);
size_t pol_explain_fs(const struct pol *p, const char *relpath, unsigned access,
		      struct pol_decision *d, struct pol_match *m, size_t cap);

/* Parse "read,write" style access words into POL_ACC_* bits; -AGW_EINVAL on an unknown word. */
int pol_access_parse(const char *s, unsigned *out);
/* "read,write" for bits, into buf. Returns buf. */
const char *pol_access_str(unsigned access, char *buf, size_t sz);

#endif
