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
int pol_load_file(const char *path, struct pol **out, struct pol_errors *errs);
int pol_load_buf(const char *name, const char *buf, size_t len, const char *basedir,
		 struct pol **out, struct pol_errors *errs);
void pol_free(struct pol *p);

/* Network: host name (any case, trailing dot ignored) and port. */
void pol_check_host(const struct pol *p, const char *host, uint16_t port, struct pol_decision *d);
/* Plain HTTP request: host rule and then its http method/path rules. */
void pol_check_http(const struct pol *p, const char *host, uint16_t port, const char *method,
		    const char *path, struct pol_decision *d);
/* A literal address (AF_INET/AF_INET6 sockaddr) against cidr rules. */
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
const char *pol_sha256(const struct pol *p);      /* 64 hex chars of the file bytes */
const char *pol_text(const struct pol *p);        /* the file's bytes, NUL-terminated */
const char *pol_workspace(const struct pol *p);   /* absolute path or NULL if no filesystem */
const char *pol_audit_db(const struct pol *p);    /* absolute path or NULL if unset */
size_t pol_dns_upstreams(const struct pol *p, const char *const **out); /* may be 0 */
unsigned pol_max_conns(const struct pol *p);      /* network.max_connections, default 256 */

#endif
