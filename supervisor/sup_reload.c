// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Policy reloads (sup_reload, see sup.h): the policy file is read again
 * with the session rules appended, its text recorded, and sent to the
 * children; each reload waits (struct sup_reload_wait) until every child
 * it went to answers that it applied exactly that policy, and its outcome
 * is recorded as a policy/reload row and in <state dir>/reload for
 * `agentgw policy reload`.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud.h"
#include "ipc.h"
#include "json.h"
#include "log.h"
#include "sup_int.h"

#define SUP_RELOAD_ACK_MS 5000

/*
 * policy/text: the text of a policy being loaded by a reload, so the log
 * keeps what each sha256 in the reload rows stood for (the sandbox row
 * holds only the first policy's text). Cut to fit the detail cap.
 */
static void sup_policy_text_event(struct sup *s, const struct pol *p)
{
	size_t cap = AUD_DETAIL_MAX - 64, n;
	char *d = malloc(AUD_DETAIL_MAX);

	if (!d)
		return;
	n = (size_t)snprintf(d, cap, "{\"sha256\":\"%s\",\"text\":\"", pol_sha256(p));
	n += json_esc_str(d + n, cap - n, pol_text(p));
	snprintf(d + n, AUD_DETAIL_MAX - n, "\"%s}", n + 1 >= cap ? ",\"cut\":true" : "");
	sup_event(s, "policy", "text", s->policy_path, "allow", NULL, d);
	free(d);
}

/*
 * Records a reload's outcome for `agentgw policy reload`, which waits for
 * it: "<seq> <sha256 or -> allow" or "... error <reason>", replaced
 * atomically, seq counting up so every outcome is a new line.
 */
static void sup_reload_outcome(struct sup *s, const char *sha, const char *reason)
{
	char line[320];

	if (!s->state_dir[0])
		return;
	snprintf(line, sizeof(line), "%u %s %s%s%s\n", ++s->reload_seq, sha && sha[0] ? sha : "-",
		 reason ? "error" : "allow", reason ? " " : "", reason ? reason : "");
	sup_write_file(s->state_dir, "reload.tmp", line);
	{
		char a[PATH_MAX + 16], b[PATH_MAX + 16];

		snprintf(a, sizeof(a), "%s/reload.tmp", s->state_dir);
		snprintf(b, sizeof(b), "%s/%s", s->state_dir, SUP_RELOAD_FILE);
		if (rename(a, b) < 0)
			log_warn("cannot write %s: %s", b, strerror(errno));
	}
}

/*
 * The policy file with the session rules appended (the sandbox's policy):
 * loaded as pol_load_file does. A session rule that no longer fits (the
 * file changed shape) is dropped with a warning.
 */
static int sup_load_policy(struct sup *s, struct pol **out, struct pol_errors *errs)
{
	struct pol *p = NULL;
	char *text = NULL, msg[300];
	int rc = pol_load_file(s->policy_path, &p, errs);

	*out = NULL;
	if (rc || !s->nsession) {
		*out = p;
		return rc;
	}
	if (!(text = strdup(pol_text(p)))) {
		pol_free(p);
		return -AGW_ENOMEM;
	}
	pol_free(p);
	p = NULL;
	for (size_t i = 0; i < s->nsession; i++) {
		char *t2 = NULL;

		if (pol_text_add_rule(text, s->session[i].fs, s->session[i].rule,
				      s->session[i].comment, &t2, msg, sizeof(msg))) {
			log_warn("session rule %s no longer fits the policy: %s",
				 s->session[i].rule, msg);
			continue;
		}
		free(text);
		text = t2;
	}
	rc = pol_load_buf(s->policy_path, text, strlen(text), s->basedir, out, errs);
	free(text);
	return rc;
}

int sup_reload(struct sup *s)
{
	struct pol_errors errs = {0};
	struct pol *p = NULL;
	static uint8_t buf[IPC_PAYLOAD_MAX];
	struct sup_child *cs[SUP_KIDS_MAX];
	size_t k = sup_kids(s, cs);
	bool sent = false;
	struct sup_reload_wait *w;
	char why[160];
	size_t len;
	int rc;

	rc = sup_load_policy(s, &p, &errs);
	if (rc) {
		char detail[256];

		for (size_t i = 0; i < errs.n; i++)
			log_error("%s:%d:%d: %s", errs.v[i].file ? errs.v[i].file : s->policy_path,
				  errs.v[i].line, errs.v[i].col, errs.v[i].msg);
		log_error("policy reload rejected (%s); the old policy stays", agw_strerror(rc));
		snprintf(detail, sizeof(detail), "{\"errors\":%zu,\"kept_sha256\":\"%s\"}", errs.n,
			 pol_sha256(s->pol));
		sup_event(s, "policy", "reload", s->policy_path, "error",
			  errs.n && errs.v[0].msg ? errs.v[0].msg : agw_strerror(rc), detail);
		sup_reload_outcome(s, NULL,
				   errs.n && errs.v[0].msg ? errs.v[0].msg : agw_strerror(rc));
		pol_errors_free(&errs);
		return rc;
	}
	pol_errors_free(&errs);
	/* The fs child keeps the directory it was started on (it holds its fd);
	 * so does the policy, whatever the file (or `up --workspace`) said. */
	if (pol_workspace(s->pol) && pol_workspace(p))
		pol_set_workspace(p, pol_workspace(s->pol));
	rc = ipc_policy_encode(s->policy_path, s->basedir, pol_text(p), strlen(pol_text(p)), buf,
			       sizeof(buf), &len);
	if (rc) {
		log_error("policy reload: policy too large to send (%s)", agw_strerror(rc));
		sup_event(s, "policy", "reload", s->policy_path, "error", "policy too large", NULL);
		sup_reload_outcome(s, pol_sha256(p), "policy too large");
		pol_free(p);
		return rc;
	}
	if (s->nwaits == SUP_RELOADS_PENDING) {
		log_error("policy reload refused: %d reloads still wait for the children",
			  SUP_RELOADS_PENDING);
		sup_event(s, "policy", "reload", s->policy_path, "error",
			  "earlier reloads not yet applied by the children", NULL);
		sup_reload_outcome(s, pol_sha256(p),
				   "earlier reloads not yet applied by the children");
		pol_free(p);
		return -AGW_EFULL;
	}
	w = &s->waits[s->nwaits];
	memset(w, 0, sizeof(*w));
	snprintf(w->sha, sizeof(w->sha), "%s", pol_sha256(p));
	snprintf(w->detail, sizeof(w->detail),
		 "{\"sha256\":\"%s\",\"old_sha256\":\"%s\",\"name\":\"%s\"}", pol_sha256(p),
		 pol_sha256(s->pol), pol_name(p));
	w->deadline_ms = ev_now_ms(s->loop) + SUP_RELOAD_ACK_MS;
	sup_policy_text_event(s, p);
	for (size_t i = 0; i < k; i++) {
		if (cs[i]->fd < 0)
			continue;
		rc = ipc_send(cs[i]->fd, IPC_POLICY_UPDATE, buf, len, NULL, 0);
		if (rc) {
			/* Never claim what did not happen: this reload is an
			 * error, whatever the other child does with it. */
			snprintf(why, sizeof(why), "not delivered to the %s child: %s", cs[i]->role,
				 agw_strerror(rc));
			log_error("policy reload %s", why);
			sup_event(s, "policy", "reload", s->policy_path, "error", why, w->detail);
			if (!w->recorded)
				sup_reload_outcome(s, w->sha, why);
			w->recorded = true;
			continue;
		}
		w->expect[sup_kid_index(s, cs[i])] = true;
		sent = true;
	}
	if (sent)
		s->nwaits++;
	else if (!w->recorded) {
		sup_event(s, "policy", "reload", s->policy_path, "error", "no child to apply it",
			  w->detail);
		sup_reload_outcome(s, w->sha, "no child to apply it");
	}
	log_info("policy %s (%.12s) sent to the children", pol_name(p), pol_sha256(p));
	pol_free(s->pol);
	s->pol = p;
	return 0;
}

/* The first child w went to that has not answered it, or NULL. */
static const struct sup_child *sup_reload_missing(struct sup *s, const struct sup_reload_wait *w)
{
	for (int i = 0; i < SUP_KIDS_MAX; i++)
		if (w->expect[i] && !w->answered[i])
			return sup_kid(s, i);
	return NULL;
}

/* Drops the oldest waits every child has answered. */
static void sup_reload_pop(struct sup *s)
{
	while (s->nwaits) {
		struct sup_reload_wait *w = &s->waits[0];

		if (sup_reload_missing(s, w))
			return;
		if (!w->recorded) {
			sup_event(s, "policy", "reload", s->policy_path, "allow", NULL, w->detail);
			sup_reload_outcome(s, w->sha, NULL);
			log_info("policy reloaded: %.12s applied by the children", w->sha);
		}
		memmove(&s->waits[0], &s->waits[1], --s->nwaits * sizeof(s->waits[0]));
	}
}

/* A child's IPC_POLICY_APPLIED: answers its oldest unanswered wait. Returns
 * 0, or -AGW_EPROTO when malformed or nothing waits for it. */
int sup_reload_answer(struct sup *s, const struct sup_child *c, const uint8_t *buf, size_t len)
{
	size_t ci = (size_t)sup_kid_index(s, c);
	struct sup_reload_wait *w = NULL;
	char sha[65];
	bool applied;

	if (ipc_policy_ack_decode(buf, len, &applied, sha))
		return -AGW_EPROTO;
	for (size_t i = 0; i < s->nwaits && !w; i++)
		if (s->waits[i].expect[ci] && !s->waits[i].answered[ci])
			w = &s->waits[i];
	if (!w)
		return -AGW_EPROTO;
	w->answered[ci] = true;
	if ((!applied || strcmp(sha, w->sha)) && !w->recorded) {
		char why[160];

		snprintf(why, sizeof(why), "the %s child did not apply it (%s)", c->role,
			 applied ? "it runs another policy" : "rejected");
		log_error("policy reload %.12s: %s", w->sha, why);
		sup_event(s, "policy", "reload", s->policy_path, "error", why, w->detail);
		sup_reload_outcome(s, w->sha, why);
		w->recorded = true;
	}
	sup_reload_pop(s);
	return 0;
}

/* Waits past their deadline become error rows (late answers still count
 * for the order). */
void sup_reload_overdue(struct sup *s)
{
	int64_t now = ev_now_ms(s->loop);
	char why[160];

	for (size_t i = 0; i < s->nwaits; i++) {
		struct sup_reload_wait *w = &s->waits[i];
		const struct sup_child *m;

		if (w->recorded || now < w->deadline_ms)
			continue;
		m = sup_reload_missing(s, w);
		snprintf(why, sizeof(why), "not applied by the %s child within %d ms",
			 m ? m->role : "?", SUP_RELOAD_ACK_MS);
		log_error("policy reload %.12s: %s", w->sha, why);
		sup_event(s, "policy", "reload", s->policy_path, "error", why, w->detail);
		sup_reload_outcome(s, w->sha, why);
		w->recorded = true;
	}
}
