// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The 9P server's connection layer: buffers in and out, framing, the
 * per-connection fid table, audit emission and policy checks shared by the
 * operations, and the request loop that hands each decoded message to
 * p9_op_dispatch(). A malformed message closes the connection and is
 * audited as an fs/protocol error event.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agw.h"
#include "audit/aud.h"
#include "gateway/fs/p9_int.h"
#include "json.h"
#include "log.h"

#define P9_MSIZE_START 8192u

static unsigned fid_hash(uint32_t num)
{
	return (num * 2654435761u) % P9_FID_BUCKETS;
}

const char *p9_shown(const char *path)
{
	return path[0] ? path : ".";
}

int p9_srv_new(const struct p9_srv_config *cfg, struct p9_srv **out)
{
	struct p9_srv *s = NULL;

	*out = NULL;
	if (!cfg || cfg->root_fd < 0 || !cfg->pol || !cfg->emit)
		return -AGW_EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -AGW_ENOMEM;
	s->root_fd = cfg->root_fd;
	s->pol = cfg->pol;
	s->emit = cfg->emit;
	s->emit_ctx = cfg->emit_ctx;
	s->audit_ok = cfg->audit_ok;
	s->sandbox_id = cfg->sandbox_id;
	s->owner_uid = cfg->owner_uid;
	s->owner_gid = cfg->owner_gid;
	s->max_msize = cfg->max_msize ? cfg->max_msize : P9_MSIZE_MAX;
	s->max_msize = AGW_MAX(AGW_MIN(s->max_msize, P9_MSIZE_MAX), P9_MSIZE_MIN);
	s->max_fids = cfg->max_fids ? cfg->max_fids : P9_FIDS_DEFAULT;
	s->ask = cfg->ask;
	s->ask_ctx = cfg->ask_ctx;
	p9_quota_init(s);
	*out = s;
	return 0;
}

void p9_srv_free(struct p9_srv *s)
{
	free(s);
}

void p9_srv_set_policy(struct p9_srv *s, const struct pol *p)
{
	if (p)
		s->pol = p;
}

void p9_srv_get_stats(const struct p9_srv *s, struct p9_srv_stats *st)
{
	*st = s->st;
}

static int srv_emit(struct p9_srv *s, struct aud_event *ev)
{
	int rc;

	ev->sandbox_id = s->sandbox_id;
	ev->kind = "fs";
	rc = s->emit(s->emit_ctx, ev);
	if (rc < 0) {
		s->st.emit_failures++;
		if (!s->emit_broken)
			log_warn("fs: audit event could not be queued (%s); denying until it can",
				 agw_strerror(rc));
		s->emit_broken = true;
		return rc;
	}
	s->emit_broken = false;
	return 0;
}

int p9_srv_event(struct p9_srv *s, const char *op, const char *target, const char *decision,
		 const char *reason, const char *src)
{
	struct aud_event ev = {
	    .op = op,
	    .target = target,
	    .decision = decision,
	    .reason = reason,
	    .src = src,
	    .bytes_up = -1,
	    .bytes_down = -1,
	    .duration_us = -1,
	};

	return srv_emit(s, &ev);
}

int p9_emit(struct p9_conn *c, const char *op, const char *target, const char *decision,
	    const char *rule, const char *reason, int64_t up, int64_t down, int64_t dur,
	    const char *detail)
{
	struct aud_event ev = {
	    .op = op,
	    .target = target,
	    .decision = decision,
	    .rule = rule && rule[0] ? rule : NULL,
	    .reason = reason,
	    .src = c->peer,
	    .bytes_up = up,
	    .bytes_down = down,
	    .duration_us = dur,
	    .detail = detail,
	};

	return srv_emit(c->srv, &ev) < 0 ? EACCES : 0;
}

#define P9_AUDIT_DOWN "audit unavailable: action denied"

/* May an action go ahead as far as the audit goes? */
static bool srv_sink_ok(struct p9_srv *s)
{
	if (s->audit_ok)
		return s->audit_ok(s->emit_ctx);
	return !s->emit_broken;
}

int p9_gate(struct p9_conn *c, const char *op, const char *target, const struct pol_decision *d,
	    const char *detail)
{
	const char *rule = d->rule, *dec = pol_verdict_str(d->verdict);

	if (!srv_sink_ok(c->srv)) {
		/* Told (or last seen) failing: the event may still reach the log
		 * later (the supervisor spills it), so it must say what happens. */
		c->srv->st.denials++;
		p9_emit(c, op, target, "error", rule, P9_AUDIT_DOWN, -1, -1, -1, detail);
		return EACCES;
	}
	if (p9_emit(c, op, target, dec, rule, d->verdict == POL_WOULD_DENY ? d->reason : NULL, -1,
		    -1, -1, detail) == 0)
		return 0;
	c->srv->st.denials++;
	p9_emit(c, op, target, "error", rule, P9_AUDIT_DOWN, -1, -1, -1, detail);
	return EACCES;
}

int p9_refuse(struct p9_conn *c, const char *op, const char *target, const char *reason,
	      const char *detail, int err)
{
	c->srv->st.denials++;
	p9_emit(c, op, target, "deny", NULL, reason, -1, -1, -1, detail);
	return err;
}

int p9_check(struct p9_conn *c, const char *op, const char *path, unsigned acc, bool emit_would,
	     struct pol_decision *d)
{
	const char *shown = p9_shown(path);
	char words[40], detail[64];

	memset(d, 0, sizeof(*d));
	pol_check_fs(c->srv->pol, shown, acc, d);
	/* The access asked for, so a denial says what would have to be allowed. */
	snprintf(detail, sizeof(detail), "{\"access\":\"%s\"}",
		 pol_access_str(acc, words, sizeof(words)));
	if (d->verdict == POL_ASK && c->grant && !strcmp(c->grant->path, shown) &&
	    (acc & ~c->grant->acc) == 0) {
		/* The held request again: a person approved this. */
		d->verdict = POL_ALLOW;
		snprintf(d->rule, sizeof(d->rule), "%s", c->grant_rule);
		d->line = 0;
		d->reason = c->grant_why;
	} else if (d->verdict == POL_ASK && c->srv->ask && !c->no_hold) {
		free(c->ask_path);
		c->ask_path = strdup(shown);
		if (!c->ask_path)
			return ENOMEM;
		snprintf(c->ask_op, sizeof(c->ask_op), "%s", op);
		snprintf(c->ask_rule, sizeof(c->ask_rule), "%s", d->rule);
		c->ask_acc = acc;
		return P9_EASK;
	}
	if (!pol_permits(d)) {
		c->srv->st.denials++;
		p9_emit(c, op, shown, "deny", d->rule, d->reason, -1, -1, -1, detail);
		return EACCES;
	}
	if (d->verdict == POL_WOULD_DENY && emit_would)
		return p9_gate(c, op, shown, d, detail);
	/* Fail closed: while the sink fails, nothing goes ahead unrecorded. */
	if (!srv_sink_ok(c->srv))
		return p9_gate(c, op, shown, d, detail);
	return 0;
}

int p9_check_nlink(struct p9_conn *c, const char *op, const char *path, const struct stat *st,
		   unsigned acc)
{
	struct pol_decision d;
	char detail[64];

	if (!(acc & POL_ACC_WRITE) || !S_ISREG(st->st_mode) || st->st_nlink <= 1)
		return 0;
	pol_check_fs_linked_write(c->srv->pol, (unsigned long)st->st_nlink, &d);
	snprintf(detail, sizeof(detail), "{\"access\":\"write\",\"nlink\":%lu}",
		 (unsigned long)st->st_nlink);
	if (!pol_permits(&d)) {
		c->srv->st.denials++;
		p9_emit(c, op, p9_shown(path), "deny", d.rule, d.reason, -1, -1, -1, detail);
		return EACCES;
	}
	if (d.verdict == POL_WOULD_DENY)
		return p9_gate(c, op, p9_shown(path), &d, detail);
	return 0;
}

/* Detail of a refused rename/link step; paths are cut between characters
 * when they do not fit. */
static void srv_move_detail(char *out, size_t cap, const struct pol_fs_step *st,
			    const struct pol_fs_move *mv)
{
	char words[40];
	size_t n, room = (cap - 128) / 2;

	n = (size_t)snprintf(out, cap, "{\"access\":\"%s\",\"step\":\"%s\",\"from\":\"",
			     pol_access_str(st->access, words, sizeof(words)), st->what);
	n += json_esc_str(out + n, room, mv->from);
	n += (size_t)snprintf(out + n, cap - n, "\",\"to\":\"");
	n += json_esc_str(out + n, room, mv->to);
	snprintf(out + n, cap - n, "\"}");
}

int p9_check_move(struct p9_conn *c, const char *op, const struct pol_fs_move *mv,
		  struct pol_decision *d)
{
	struct pol_fs_step steps[POL_FS_STEPS_MAX];
	char detail[4096];
	int bad;

	memset(d, 0, sizeof(*d));
	pol_check_fs_move(c->srv->pol, mv, d, steps, &bad);
	if (pol_permits(d)) {
		if (!srv_sink_ok(c->srv))
			return p9_gate(c, op, p9_shown(mv->from), d, NULL);
		return 0;
	}
	srv_move_detail(detail, sizeof(detail), &steps[bad], mv);
	c->srv->st.denials++;
	p9_emit(c, op, p9_shown(steps[bad].path), "deny", d->rule, d->reason, -1, -1, -1, detail);
	return EACCES;
}

/* fids */

struct p9_fid *p9_fid_get(struct p9_conn *c, uint32_t num)
{
	struct p9_fid *f;

	for (f = c->fids[fid_hash(num)]; f; f = f->next)
		if (f->num == num)
			return f;
	return NULL;
}

int p9_fid_add(struct p9_conn *c, uint32_t num, const char *path, struct p9_fid **out)
{
	struct p9_fid *f;
	unsigned h = fid_hash(num);

	*out = NULL;
	if (num == P9_NOFID || p9_fid_get(c, num))
		return EBADF;
	if (c->nfids >= (c->max_fids ? c->max_fids : c->srv->max_fids))
		return EMFILE;
	f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return ENOMEM;
	}
	f->num = num;
	f->fd = -1;
	f->next = c->fids[h];
	c->fids[h] = f;
	c->nfids++;
	*out = f;
	return 0;
}

static void fid_summary(struct p9_conn *c, struct p9_fid *f)
{
	const char *op = f->isdir ? "readdir" : (f->acc & POL_ACC_WRITE) ? "write" : "read";
	int64_t dur = agw_mono_us() - f->t_open;

	p9_emit(c, op, p9_shown(f->path), pol_verdict_str(f->verdict), f->rule,
		f->verdict == POL_WOULD_DENY ? "audit mode" : NULL, (int64_t)f->wr, (int64_t)f->rd,
		dur, NULL);
}

void p9_fid_clunk(struct p9_conn *c, uint32_t num)
{
	struct p9_fid **pp = &c->fids[fid_hash(num)], *f;

	while ((f = *pp) && f->num != num)
		pp = &f->next;
	if (!f)
		return;
	*pp = f->next;
	c->nfids--;
	if (f->fd >= 0) {
		fid_summary(c, f);
		close(f->fd);
	}
	free(f->path);
	free(f);
}

static void fid_rename_one(struct p9_fid *f, const char *from, size_t flen, const char *to)
{
	char *np;
	size_t tl = strlen(to), rest;

	if (strncmp(f->path, from, flen) != 0 || (f->path[flen] != 0 && f->path[flen] != '/'))
		return;
	rest = strlen(f->path + flen);
	np = malloc(tl + rest + 1);
	if (!np)
		return; /* the fid keeps its old path and fails to resolve: safe */
	memcpy(np, to, tl);
	memcpy(np + tl, f->path + flen, rest + 1);
	free(f->path);
	f->path = np;
}

void p9_fids_renamed(struct p9_srv *s, const char *from, const char *to)
{
	size_t flen = strlen(from);

	if (flen == 0)
		return;
	for (struct p9_conn *c = s->conns; c; c = c->next)
		for (unsigned b = 0; b < P9_FID_BUCKETS; b++)
			for (struct p9_fid *f = c->fids[b]; f; f = f->next)
				fid_rename_one(f, from, flen, to);
}

static void fids_clear(struct p9_conn *c)
{
	for (unsigned b = 0; b < P9_FID_BUCKETS; b++)
		while (c->fids[b])
			p9_fid_clunk(c, c->fids[b]->num);
}

/* connections */

static int conn_buffers(struct p9_conn *c, uint32_t msize)
{
	size_t in_cap = (size_t)msize + 4096, out_cap = 2 * (size_t)msize + 4096;
	uint8_t *in, *out, *scratch;

	if (c->in_len > in_cap || c->out_len - c->out_off > out_cap)
		return -AGW_EINVAL;
	in = realloc(c->in, in_cap);
	if (!in)
		return -AGW_ENOMEM;
	c->in = in;
	c->in_cap = in_cap;
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	out = realloc(c->out, out_cap);
	if (!out)
		return -AGW_ENOMEM;
	c->out = out;
	c->out_cap = out_cap;
	scratch = realloc(c->scratch, msize);
	if (!scratch)
		return -AGW_ENOMEM;
	c->scratch = scratch;
	c->msize = msize;
	return 0;
}

int p9_conn_new(struct p9_srv *s, const char *peer, struct p9_conn **out)
{
	struct p9_conn *c = NULL;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -AGW_ENOMEM;
	c->srv = s;
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "");
	if (conn_buffers(c, P9_MSIZE_START) < 0) {
		free(c->in);
		free(c->out);
		free(c->scratch);
		free(c);
		return -AGW_ENOMEM;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	*out = c;
	return 0;
}

int p9_conn_local(struct p9_srv *s, const char *peer, uint32_t msize, unsigned max_fids,
		  struct p9_conn **out)
{
	struct p9_conn *c = NULL;
	int rc = p9_conn_new(s, peer, &c);

	*out = NULL;
	if (rc < 0)
		return rc;
	rc = conn_buffers(c, AGW_MAX(AGW_MIN(msize, P9_MSIZE_MAX), P9_MSIZE_MIN));
	if (rc < 0) {
		p9_conn_free(c);
		return rc;
	}
	c->versioned = true;
	c->max_fids = max_fids;
	c->no_hold = true;
	*out = c;
	return 0;
}

int p9_conn_call(struct p9_conn *c, struct p9_msg *m, struct p9_msg *r)
{
	int rc;

	c->srv->st.requests++;
	memset(r, 0, sizeof(*r));
	rc = p9_op_dispatch(c, m, r);
	if (rc > 0)
		c->srv->st.errors++;
	else if (rc < 0)
		c->srv->st.proto_errors++;
	return rc;
}

void p9_conn_free(struct p9_conn *c)
{
	if (!c)
		return;
	fids_clear(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	for (unsigned i = 0; i < c->nheld; i++) {
		free(c->held[i].path);
		free(c->held[i].msg);
	}
	free(c->ask_path);
	free(c->in);
	free(c->out);
	free(c->scratch);
	free(c);
}

/* Tversion starts a fresh session. */
static void conn_reset(struct p9_conn *c)
{
	fids_clear(c);
}

size_t p9_conn_room(const struct p9_conn *c)
{
	if (c->out_len - c->out_off > c->msize)
		return 0;
	return c->in_cap - c->in_len;
}

const uint8_t *p9_conn_output(const struct p9_conn *c, size_t *len)
{
	*len = c->out_len - c->out_off;
	return c->out + c->out_off;
}

void p9_conn_consume(struct p9_conn *c, size_t n)
{
	c->out_off += AGW_MIN(n, c->out_len - c->out_off);
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

static int conn_reply(struct p9_conn *c, const struct p9_msg *r)
{
	size_t n = 0;
	int rc;

	if (c->out_cap - c->out_len < (size_t)c->msize && c->out_off) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	rc = p9_encode(r, c->out + c->out_len, AGW_MIN(c->out_cap - c->out_len, c->msize), &n);
	if (rc < 0)
		return rc;
	c->out_len += n;
	return 0;
}

static int conn_lerror(struct p9_conn *c, uint16_t tag, int err)
{
	struct p9_msg r = {.type = P9_RLERROR, .tag = tag};

	r.u.lerror.ecode = (uint32_t)err;
	c->srv->st.errors++;
	return conn_reply(c, &r);
}

static int conn_proto_error(struct p9_conn *c, const char *what, uint8_t type)
{
	char reason[96];

	c->srv->st.proto_errors++;
	snprintf(reason, sizeof(reason), "%s (%s)", what, p9_type_name(type));
	log_warn("fs: %s: %s; closing the connection", c->peer, reason);
	p9_emit(c, "protocol", NULL, "error", NULL, reason, -1, -1, -1, NULL);
	return -AGW_EPROTO;
}

static void conn_held_drop(struct p9_conn *c, unsigned i)
{
	free(c->held[i].path);
	free(c->held[i].msg);
	memmove(&c->held[i], &c->held[i + 1], (c->nheld - i - 1) * sizeof(c->held[0]));
	c->nheld--;
}

void p9_held_flush(struct p9_conn *c, uint16_t oldtag)
{
	for (unsigned i = 0; i < c->nheld; i++)
		if (c->held[i].tag == oldtag) {
			conn_held_drop(c, i);
			return;
		}
}

/* p9_check said ask: hold the request (its bytes) and ask. */
static int conn_hold(struct p9_conn *c, uint16_t tag, const uint8_t *buf, size_t len)
{
	struct p9_held *h;
	char words[40], detail[64];
	uint32_t id = 0;

	snprintf(detail, sizeof(detail), "{\"access\":\"%s\"}",
		 pol_access_str(c->ask_acc, words, sizeof(words)));
	if (c->nheld >= P9_HELD_MAX || !c->ask_path ||
	    c->srv->ask(c->srv->ask_ctx, &id, c->ask_path, c->ask_acc, c->ask_rule) < 0) {
		c->srv->st.denials++;
		p9_emit(c, c->ask_op, c->ask_path ? c->ask_path : "", "deny",
			c->ask_rule[0] ? c->ask_rule : NULL,
			c->nheld >= P9_HELD_MAX ? "too many operations wait for approval"
						: "approvals unavailable",
			-1, -1, -1, detail);
		return conn_lerror(c, tag, EACCES);
	}
	h = &c->held[c->nheld];
	memset(h, 0, sizeof(*h));
	h->msg = malloc(len);
	if (!h->msg)
		return conn_lerror(c, tag, ENOMEM);
	memcpy(h->msg, buf, len);
	h->len = len;
	h->id = id;
	h->tag = tag;
	h->acc = c->ask_acc;
	h->path = c->ask_path;
	c->ask_path = NULL;
	snprintf(h->op, sizeof(h->op), "%s", c->ask_op);
	c->nheld++;
	return 0;
}

static int conn_one(struct p9_conn *c, const uint8_t *buf, size_t len);

int p9_conn_answer(struct p9_conn *c, uint32_t id, bool allow, uint32_t approval, const char *why)
{
	struct p9_held h;
	char words[40], detail[64], rule[32];
	unsigned i;
	int rc;

	for (i = 0; i < c->nheld && c->held[i].id != id; i++)
		;
	if (i == c->nheld)
		return 0;
	h = c->held[i];
	memmove(&c->held[i], &c->held[i + 1], (c->nheld - i - 1) * sizeof(c->held[0]));
	c->nheld--;
	snprintf(rule, sizeof(rule), "approval:%u", approval);
	if (allow) {
		c->grant = &h;
		snprintf(c->grant_rule, sizeof(c->grant_rule), "%s", rule);
		snprintf(c->grant_why, sizeof(c->grant_why), "%s", why ? why : "approved");
		rc = conn_one(c, h.msg, h.len);
		c->grant = NULL;
	} else {
		snprintf(detail, sizeof(detail), "{\"access\":\"%s\"}",
			 pol_access_str(h.acc, words, sizeof(words)));
		c->srv->st.denials++;
		p9_emit(c, h.op, h.path, "deny", rule, why, -1, -1, -1, detail);
		rc = conn_lerror(c, h.tag, EACCES);
	}
	free(h.path);
	free(h.msg);
	return rc < 0 ? rc : 1;
}

unsigned p9_conn_held(const struct p9_conn *c)
{
	return c->nheld;
}

static int conn_one(struct p9_conn *c, const uint8_t *buf, size_t len)
{
	struct p9_msg m, r;
	int rc;

	rc = p9_decode(buf, len, &m);
	c->srv->st.requests++;
	if (rc == -AGW_ENOTFOUND)
		return c->versioned ? conn_lerror(c, m.tag, EOPNOTSUPP)
				    : conn_proto_error(c, "request before Tversion", m.type);
	if (rc < 0)
		return conn_proto_error(c, "malformed message", len > 4 ? buf[4] : 0);
	if (!c->versioned && m.type != P9_TVERSION)
		return conn_proto_error(c, "request before Tversion", m.type);
	if (m.type == P9_TVERSION)
		conn_reset(c);
	memset(&r, 0, sizeof(r));
	rc = p9_op_dispatch(c, &m, &r);
	if (rc == P9_EASK)
		return conn_hold(c, m.tag, buf, len);
	if (rc < 0)
		return conn_proto_error(c, agw_strerror(rc), m.type);
	if (rc > 0)
		return conn_lerror(c, m.tag, rc);
	r.tag = m.tag;
	rc = conn_reply(c, &r);
	if (rc < 0)
		return conn_proto_error(c, "reply does not fit", m.type);
	/* A new msize (c->new_msize, set by Tversion) is applied by the caller
	 * once this message's input bytes are shifted out. */
	if (m.type == P9_TVERSION)
		c->versioned = c->new_msize != 0;
	return 0;
}

int p9_conn_process(struct p9_conn *c)
{
	size_t off = 0;
	int rc = 0;

	while (c->out_len - c->out_off <= c->msize) {
		uint32_t size;

		rc = p9_frame(c->in + off, c->in_len - off, c->msize, &size);
		if (rc == -AGW_ETRUNC) {
			rc = 0;
			break;
		}
		if (rc < 0) {
			rc = conn_proto_error(c, "message size out of range", 0);
			break;
		}
		if (c->in_len - off < size)
			break;
		rc = conn_one(c, c->in + off, size);
		off += size;
		if (rc < 0)
			break;
		if (c->new_msize) {
			uint32_t ms = c->new_msize;

			c->new_msize = 0;
			memmove(c->in, c->in + off, c->in_len - off);
			c->in_len -= off;
			off = 0;
			rc = conn_buffers(c, ms);
			if (rc < 0)
				break;
		}
	}
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	return rc;
}

int p9_conn_input(struct p9_conn *c, const uint8_t *buf, size_t len)
{
	if (len > c->in_cap - c->in_len)
		return -AGW_ETOOBIG;
	memcpy(c->in + c->in_len, buf, len);
	c->in_len += len;
	return p9_conn_process(c);
}
