// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The approvals glue (see sup_int.h): the appr_ops the approvals server
 * (appr.h) calls to answer a child, record an event, ask whether the
 * policy now allows an action, and add an approved rule, either for the
 * sandbox's life (a session rule) or to the policy file (sup_write_policy),
 * then reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "supervisor/appr.h"
#include "sup_int.h"

int sup_appr_answer(void *ctx, int child, const struct ipc_answer *a)
{
	struct sup *s = ctx;
	struct sup_child *c = sup_kid(s, child);
	uint8_t out[64 + IPC_ASK_WHO_MAX + IPC_ASK_REASON_MAX];
	size_t n;
	int rc;

	if (!c || c->fd < 0)
		return -EPIPE;
	rc = ipc_answer_encode(a, out, sizeof(out), &n);
	if (!rc)
		rc = ipc_send(c->fd, IPC_ASK_ANSWER, out, n, NULL, 0);
	return rc;
}

void sup_appr_emit(void *ctx, const struct aud_event *ev)
{
	sup_emit(ctx, ev);
}

unsigned sup_appr_timeout(void *ctx)
{
	struct sup *s = ctx;

	return pol_ask_timeout(s->pol);
}

bool sup_appr_allowed(void *ctx, const struct appr_item *it)
{
	struct sup *s = ctx;
	struct pol_decision d;

	if (it->q.kind == IPC_ASK_DNS)
		pol_check_dns_name(s->pol, it->q.subject, &d);
	else if (it->q.kind == IPC_ASK_CONNECT)
		pol_check_host(s->pol, it->q.subject, it->q.port, &d);
	else
		pol_check_fs(s->pol, it->q.subject, it->q.access, &d);
	return d.verdict == POL_ALLOW;
}

/* Replaces path with text, keeping its mode and owner (a temporary file
 * beside it, renamed over it). Returns 0 or -errno. Blocks. */
static int sup_write_policy(const char *path, const char *text)
{
	char tmp[PATH_MAX + 16];
	struct stat st;
	size_t n = strlen(text);
	int fd, rc = 0;

	if (stat(path, &st) < 0)
		return -errno;
	snprintf(tmp, sizeof(tmp), "%s.agentgw-tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, st.st_mode & 07777);
	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n || fchmod(fd, st.st_mode & 07777) < 0 ||
	    fchown(fd, st.st_uid, st.st_gid) < 0 || fsync(fd) < 0)
		rc = -errno ? -errno : -EIO;
	close(fd);
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int sup_appr_add_rule(void *ctx, const struct appr_item *it, bool always, const char *rule,
		      const char *comment, char *msg, size_t cap)
{
	struct sup *s = ctx;
	bool fs = it->q.kind == IPC_ASK_FS;
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	char *text = NULL;
	int rc;

	if (fs && !pol_workspace(s->pol)) {
		snprintf(msg, cap, "the policy has no filesystem section");
		return -AGW_EINVAL;
	}
	if (always) {
		/* The file as it is now (it may have been edited since the
		 * start), plus the rule; it must load as it will be read. */
		rc = pol_load_file(s->policy_path, &p, &errs);
		if (rc) {
			snprintf(msg, cap,
				 "the policy file %s does not load now (%s); fix it first",
				 s->policy_path,
				 errs.n && errs.v[0].msg ? errs.v[0].msg : agw_strerror(rc));
			goto out;
		}
		rc = pol_text_add_rule(pol_text(p), fs, rule, comment, &text, msg, cap);
		if (rc)
			goto out;
		rc = sup_write_policy(s->policy_path, text);
		if (rc) {
			snprintf(msg, cap, "cannot write %s: %s", s->policy_path, agw_strerror(rc));
			goto out;
		}
		log_info("approval %u: rule %s written to %s", it->id, rule, s->policy_path);
	} else {
		struct sup_session_rule *v =
		    realloc(s->session, (s->nsession + 1) * sizeof(*s->session));

		if (!v) {
			rc = -AGW_ENOMEM;
			snprintf(msg, cap, "out of memory");
			goto out;
		}
		s->session = v;
		v[s->nsession].fs = fs;
		v[s->nsession].rule = strdup(rule);
		v[s->nsession].comment = strdup(comment ? comment : "");
		if (!v[s->nsession].rule || !v[s->nsession].comment) {
			free(v[s->nsession].rule);
			free(v[s->nsession].comment);
			rc = -AGW_ENOMEM;
			snprintf(msg, cap, "out of memory");
			goto out;
		}
		s->nsession++;
	}
	rc = sup_reload(s);
	if (rc) {
		if (!always) {
			s->nsession--;
			free(s->session[s->nsession].rule);
			free(s->session[s->nsession].comment);
		}
		snprintf(msg, cap, "the policy with the new rule was not applied (%s)",
			 agw_strerror(rc));
	}
out:
	pol_errors_free(&errs);
	pol_free(p);
	free(text);
	return rc;
}
