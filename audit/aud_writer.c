// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The batched audit writer. Callers copy events into a bounded queue under a
 * mutex; one thread owns the SQLite connection and commits the queue in
 * transactions of at most AUD_BATCH_EVENTS events, no later than AUD_BATCH_US
 * after the oldest waiting event arrived. A batch that fails (disk full,
 * database locked too long) is kept and retried every AUD_RETRY_US; while it
 * fails the writer is unhealthy and submit refuses new events, so the gateway
 * fails closed and nothing is dropped silently.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "agw.h"
#include "log.h"
#include "audit/aud.h"
#include "audit/aud_int.h"

/* One queued event: the struct points into buf, which holds its strings. */
struct aud_qev {
	struct aud_event ev;
	int64_t enq_mono; /* when submitted, for the AUD_BATCH_US deadline */
	size_t size;	  /* bytes charged against AUD_QUEUE_BYTES */
	char buf[];
};

enum aud_req_type { AUD_REQ_START, AUD_REQ_STOP, AUD_REQ_PRUNE };

/* A synchronous request; lives on the caller's stack until done. */
struct aud_req {
	enum aud_req_type type;
	const char *name, *policy_name, *policy_sha256, *policy_text, *image;
	int64_t id;
	int64_t before_us, rows; /* AUD_REQ_PRUNE */
	int rc;
	bool done;
	struct aud_req *next;
};

/* Where a sandbox's hash chain ends, as the writer last committed it. */
struct aud_chain_end {
	int64_t sandbox_id, last_id;
	uint8_t hash[AUD_HASH_LEN];
	bool moved; /* this batch added to it: record the head */
};

#define AUD_CHAINS_MAX 64 /* sandboxes remembered; more are looked up again */

struct aud_writer {
	pthread_mutex_t mu;
	pthread_cond_t wake; /* the writer thread waits on it */
	pthread_cond_t done; /* callers of flush and requests wait on it */
	struct aud_qev **ring;
	size_t head, count;
	size_t bytes; /* queued plus the batch in hand */
	uint64_t submitted, committed, transactions, failures, rejected;
	uint64_t flush_target;
	struct aud_req *req_head, *req_tail;
	bool stop;
	int failing; /* read without the mutex by aud_writer_healthy */
	int last_err;

	/* writer thread only */
	sqlite3 *db;
	sqlite3_stmt *ins, *headst;
	struct aud_chain_end chains[AUD_CHAINS_MAX], work[AUD_CHAINS_MAX];
	size_t nchains, nwork;
	struct aud_qev *batch[AUD_BATCH_EVENTS];
	size_t batch_n;
	int64_t retry_at;
	int fail_streak; /* failed attempts since the last success */
	int stop_tries;	 /* failed attempts since stop was asked */

	pthread_t thr;
	bool started;
	char path[4096];
};

static const char aud_insert_sql[] =
    "INSERT INTO event(sandbox_id, ts, kind, op, target, decision, rule, reason, src, dst,"
    " bytes_up, bytes_down, duration_us, detail, id, prev_id, hash)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";
static const char aud_head_sql[] = "UPDATE sandbox SET head_id = ?1, head_hash = ?2 WHERE id = ?3";

/* Bytes a string takes once capped (without the NUL); *trunc when cut. */
static size_t aud_cap_len(const char *s, size_t cap, bool *trunc)
{
	size_t len, mark = sizeof(AUD_TRUNC_MARK) - 1;

	*trunc = false;
	if (!s)
		return 0;
	len = strnlen(s, cap + 1);
	if (len <= cap)
		return len;
	*trunc = true;
	len = cap - mark;
	/* never cut a UTF-8 sequence in half */
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len + mark;
}

static const char *aud_copy(char **p, const char *s, size_t cap)
{
	bool trunc;
	size_t n = aud_cap_len(s, cap, &trunc), mark = sizeof(AUD_TRUNC_MARK) - 1;
	char *d = *p;

	if (!s)
		return NULL;
	if (trunc) {
		memcpy(d, s, n - mark);
		memcpy(d + n - mark, AUD_TRUNC_MARK, mark);
	} else {
		memcpy(d, s, n);
	}
	d[n] = '\0';
	*p = d + n + 1;
	return d;
}

static struct aud_qev *aud_qev_new(const struct aud_event *ev)
{
	const char *strs[] = {ev->kind, ev->op,	    ev->target, ev->decision,
			      ev->rule, ev->reason, ev->src,	ev->dst};
	const size_t caps[] = {AUD_FIELD_MAX, AUD_FIELD_MAX, AUD_TARGET_MAX, AUD_FIELD_MAX,
			       AUD_FIELD_MAX, AUD_FIELD_MAX, AUD_FIELD_MAX,  AUD_FIELD_MAX};
	char detail_note[96];
	const char *detail = ev->detail;
	struct aud_qev *q;
	size_t size = sizeof(*q);
	bool trunc;
	char *p;

	if (detail && strnlen(detail, AUD_DETAIL_MAX + 1) > AUD_DETAIL_MAX) {
		/* a cut JSON text is no JSON: say what was there instead */
		snprintf(detail_note, sizeof(detail_note),
			 "{\"truncated\":true,\"original_bytes\":%zu}", strlen(detail));
		detail = detail_note;
	}
	for (size_t i = 0; i < AGW_ARRAY_LEN(strs); i++)
		if (strs[i])
			size += aud_cap_len(strs[i], caps[i], &trunc) + 1;
	if (detail)
		size += strlen(detail) + 1;
	q = malloc(size);
	if (!q)
		return NULL;
	q->ev = *ev;
	q->size = size;
	p = q->buf;
	q->ev.kind = aud_copy(&p, ev->kind, caps[0]);
	q->ev.op = aud_copy(&p, ev->op, caps[1]);
	q->ev.target = aud_copy(&p, ev->target, caps[2]);
	q->ev.decision = aud_copy(&p, ev->decision, caps[3]);
	q->ev.rule = aud_copy(&p, ev->rule, caps[4]);
	q->ev.reason = aud_copy(&p, ev->reason, caps[5]);
	q->ev.src = aud_copy(&p, ev->src, caps[6]);
	q->ev.dst = aud_copy(&p, ev->dst, caps[7]);
	q->ev.detail = aud_copy(&p, detail, AUD_DETAIL_MAX);
	return q;
}

static void aud_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static void aud_bind_count(sqlite3_stmt *st, int i, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* The end of sandbox_id's chain in this batch's working copy; looked up
 * in the database the first time. NULL on error (rc set). */
static struct aud_chain_end *aud_chain_get(struct aud_writer *w, int64_t sandbox_id, int *rc)
{
	struct aud_chain_end *c;

	for (size_t i = 0; i < w->nwork; i++)
		if (w->work[i].sandbox_id == sandbox_id)
			return &w->work[i];
	if (w->nwork == AUD_CHAINS_MAX) {
		/* forget the ones this batch did not move */
		size_t k = 0;

		for (size_t i = 0; i < w->nwork; i++)
			if (w->work[i].moved)
				w->work[k++] = w->work[i];
		w->nwork = k;
		if (k == AUD_CHAINS_MAX) {
			*rc = SQLITE_FULL; /* 64 sandboxes in one batch: commit in two */
			return NULL;
		}
	}
	c = &w->work[w->nwork];
	memset(c, 0, sizeof(*c));
	c->sandbox_id = sandbox_id;
	*rc = aud_chain_tail(w->db, sandbox_id, &c->last_id, c->hash);
	if (*rc < 0) {
		*rc = SQLITE_ERROR;
		return NULL;
	}
	*rc = SQLITE_OK;
	w->nwork++;
	return c;
}

static int aud_insert(struct aud_writer *w, const struct aud_event *ev, int64_t id)
{
	sqlite3_stmt *st = w->ins;
	struct aud_chain_end *c;
	struct aud_chain_row r = {
	    .id = id,
	    .sandbox_id = ev->sandbox_id,
	    .ts = ev->ts,
	    .kind = ev->kind,
	    .op = ev->op,
	    .target = ev->target,
	    .decision = ev->decision,
	    .rule = ev->rule,
	    .reason = ev->reason,
	    .src = ev->src,
	    .dst = ev->dst,
	    .bytes_up = ev->bytes_up < 0 ? -1 : ev->bytes_up,
	    .bytes_down = ev->bytes_down < 0 ? -1 : ev->bytes_down,
	    .duration_us = ev->duration_us < 0 ? -1 : ev->duration_us,
	    .detail = ev->detail,
	};
	uint8_t h[AUD_HASH_LEN];
	char hex[2 * AUD_HASH_LEN + 1];
	int rc = SQLITE_ERROR;

	c = aud_chain_get(w, ev->sandbox_id, &rc);
	if (!c)
		return rc;
	r.prev_id = c->last_id;
	aud_chain_lens(&r);
	if (aud_chain_hash(c->last_id >= 0 ? c->hash : NULL, &r, h) < 0)
		return SQLITE_NOMEM;
	aud_hex(h, sizeof(h), hex);
	sqlite3_bind_int64(st, 1, ev->sandbox_id);
	sqlite3_bind_int64(st, 2, ev->ts);
	aud_bind_text(st, 3, ev->kind);
	aud_bind_text(st, 4, ev->op);
	aud_bind_text(st, 5, ev->target);
	aud_bind_text(st, 6, ev->decision);
	aud_bind_text(st, 7, ev->rule);
	aud_bind_text(st, 8, ev->reason);
	aud_bind_text(st, 9, ev->src);
	aud_bind_text(st, 10, ev->dst);
	aud_bind_count(st, 11, ev->bytes_up);
	aud_bind_count(st, 12, ev->bytes_down);
	aud_bind_count(st, 13, ev->duration_us);
	aud_bind_text(st, 14, ev->detail);
	sqlite3_bind_int64(st, 15, id);
	aud_bind_count(st, 16, c->last_id);
	sqlite3_bind_text(st, 17, hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return rc;
	c->last_id = id;
	memcpy(c->hash, h, sizeof(h));
	c->moved = true;
	return SQLITE_OK;
}

/* Records the head of every chain the batch moved (verify notices the
 * newest rows going missing by it). */
static int aud_write_heads(struct aud_writer *w)
{
	char hex[2 * AUD_HASH_LEN + 1];
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < w->nwork; i++) {
		if (!w->work[i].moved)
			continue;
		aud_hex(w->work[i].hash, AUD_HASH_LEN, hex);
		sqlite3_bind_int64(w->headst, 1, w->work[i].last_id);
		sqlite3_bind_text(w->headst, 2, hex, -1, SQLITE_STATIC);
		sqlite3_bind_int64(w->headst, 3, w->work[i].sandbox_id);
		rc = sqlite3_step(w->headst);
		sqlite3_reset(w->headst);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	return rc;
}

/*
 * One transaction for the batch in hand. Runs without the mutex. IMMEDIATE
 * takes the write lock first, so the ids counted from the largest one stay
 * ours (another process may write the same file) and commit in id order.
 * The chain ends move in a working copy kept only if the commit succeeds.
 */
static int aud_commit_batch(struct aud_writer *w)
{
	int64_t id = 0;
	int rc;

	memcpy(w->work, w->chains, w->nchains * sizeof(w->chains[0]));
	w->nwork = w->nchains;
	for (size_t i = 0; i < w->nwork; i++)
		w->work[i].moved = false;
	rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK && aud_chain_next_id(w->db, &id) < 0)
		rc = sqlite3_errcode(w->db);
	for (size_t i = 0; rc == SQLITE_OK && i < w->batch_n; i++)
		rc = aud_insert(w, &w->batch[i]->ev, id++);
	if (rc == SQLITE_OK)
		rc = aud_write_heads(w);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	sqlite3_clear_bindings(w->ins);
	if (rc == SQLITE_OK) {
		memcpy(w->chains, w->work, w->nwork * sizeof(w->work[0]));
		w->nchains = w->nwork;
		return 0;
	}
	log_debug("audit: %s: batch of %zu failed: %s", w->path, w->batch_n, sqlite3_errmsg(w->db));
	rc = aud_sql_err(w->db, rc);
	if (!sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void aud_do_req(struct aud_writer *w, struct aud_req *r)
{
	sqlite3_stmt *st = NULL;
	struct aud_prune_result pr;

	if (r->type == AUD_REQ_PRUNE) {
		r->rc = aud_prune_sql(w->db, r->before_us, NULL, false, &pr);
		r->rows = pr.rows;
		return;
	}

	const char *sql = r->type == AUD_REQ_START
			      ? "INSERT INTO sandbox(name, policy_name, policy_sha256, "
				"policy_text, image, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
			      : "UPDATE sandbox SET stopped_at = ?6 WHERE id = ?7";
	int rc;

	rc = sqlite3_prepare_v2(w->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	if (r->type == AUD_REQ_START) {
		aud_bind_text(st, 1, r->name);
		aud_bind_text(st, 2, r->policy_name);
		aud_bind_text(st, 3, r->policy_sha256);
		aud_bind_text(st, 4, r->policy_text);
		aud_bind_text(st, 5, r->image);
	} else {
		sqlite3_bind_int64(st, 7, r->id);
	}
	sqlite3_bind_int64(st, 6, agw_now_us());
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		goto out;
	rc = SQLITE_OK;
	if (r->type == AUD_REQ_START)
		r->id = sqlite3_last_insert_rowid(w->db);
	else if (sqlite3_changes(w->db) == 0)
		r->rc = -AGW_ENOTFOUND;
out:
	if (rc != SQLITE_OK) {
		log_error("audit: %s: cannot record sandbox %s: %s", w->path,
			  r->type == AUD_REQ_START ? "start" : "stop", sqlite3_errmsg(w->db));
		r->rc = aud_sql_err(w->db, rc);
	}
	sqlite3_finalize(st);
}

static void aud_timedwait(struct aud_writer *w, int64_t mono_us)
{
	struct timespec ts = {.tv_sec = mono_us / 1000000, .tv_nsec = (mono_us % 1000000) * 1000};

	pthread_cond_timedwait(&w->wake, &w->mu, &ts);
}

/* Commit the batch in hand; called and returns with the mutex held. */
static void aud_write_batch(struct aud_writer *w)
{
	size_t freed = 0, n = w->batch_n;
	int rc;

	pthread_mutex_unlock(&w->mu);
	rc = aud_commit_batch(w);
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			freed += w->batch[i]->size;
			free(w->batch[i]);
		}
		w->batch_n = 0;
	}
	pthread_mutex_lock(&w->mu);
	if (rc == 0) {
		w->committed += n;
		w->transactions++;
		w->bytes -= freed;
		if (w->failing)
			log_warn("audit: %s: writing again after %d failed attempts", w->path,
				 w->fail_streak);
		__atomic_store_n(&w->failing, 0, __ATOMIC_RELEASE);
		w->fail_streak = 0;
	} else {
		w->failures++;
		if (!w->failing)
			log_error("audit: cannot write to %s: %s; new actions are denied until "
				  "it works again (retrying every %d ms)",
				  w->path, agw_strerror(rc), AUD_RETRY_US / 1000);
		__atomic_store_n(&w->failing, 1, __ATOMIC_RELEASE);
		w->last_err = rc;
		w->retry_at = agw_mono_us() + AUD_RETRY_US;
		w->fail_streak++;
		if (w->stop)
			w->stop_tries++;
	}
	pthread_cond_broadcast(&w->done);
}

/* Shutting down and still failing: say exactly what is lost. */
static void aud_give_up(struct aud_writer *w)
{
	size_t lost = w->batch_n + w->count;

	log_error("audit: %s: giving up at exit: %zu events could not be written (%s)", w->path,
		  lost, agw_strerror(w->last_err));
	for (size_t i = 0; i < w->batch_n; i++)
		free(w->batch[i]);
	w->batch_n = 0;
	for (; w->count; w->count--, w->head = (w->head + 1) % AUD_QUEUE_EVENTS)
		free(w->ring[w->head]);
	w->bytes = 0;
}

static void *aud_writer_main(void *arg)
{
	struct aud_writer *w = arg;
	struct aud_req *r;
	int64_t now, due_at;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->req_head) {
			r = w->req_head;
			w->req_head = r->next;
			if (!w->req_head)
				w->req_tail = NULL;
			pthread_mutex_unlock(&w->mu);
			aud_do_req(w, r);
			pthread_mutex_lock(&w->mu);
			r->done = true;
			pthread_cond_broadcast(&w->done);
			continue;
		}
		now = agw_mono_us();
		if (w->batch_n > 0) {
			if (w->stop && w->stop_tries >= 4) {
				aud_give_up(w);
				continue;
			}
			if (now < w->retry_at) {
				aud_timedwait(w, w->retry_at);
				continue;
			}
			aud_write_batch(w);
			continue;
		}
		if (w->count == 0) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->wake, &w->mu);
			continue;
		}
		due_at = w->ring[w->head]->enq_mono + AUD_BATCH_US;
		if (w->count < AUD_BATCH_EVENTS && !w->stop && w->flush_target <= w->committed &&
		    now < due_at) {
			aud_timedwait(w, due_at);
			continue;
		}
		while (w->batch_n < AUD_BATCH_EVENTS && w->count > 0) {
			w->batch[w->batch_n++] = w->ring[w->head];
			w->head = (w->head + 1) % AUD_QUEUE_EVENTS;
			w->count--;
		}
		aud_write_batch(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int aud_writer_new(const char *dbpath, struct aud_writer **out)
{
	struct aud_writer *w = NULL;
	pthread_condattr_t ca;
	bool mu = false, wake = false, done = false;
	int rc;

	*out = NULL;
	if (!dbpath || strlen(dbpath) >= sizeof(w->path))
		return -AGW_EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -AGW_ENOMEM;
	snprintf(w->path, sizeof(w->path), "%s", dbpath);
	w->ring = calloc(AUD_QUEUE_EVENTS, sizeof(*w->ring));
	if (!w->ring) {
		rc = -AGW_ENOMEM;
		goto out;
	}
	rc = aud_db_open_rw(dbpath, &w->db);
	if (rc < 0)
		goto out;
	rc =
	    sqlite3_prepare_v3(w->db, aud_insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &w->ins, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(w->db, aud_head_sql, -1, SQLITE_PREPARE_PERSISTENT,
					&w->headst, NULL);
	if (rc != SQLITE_OK) {
		log_error("audit: %s: %s", dbpath, sqlite3_errmsg(w->db));
		rc = aud_sql_err(w->db, rc);
		goto out;
	}
	rc = -pthread_mutex_init(&w->mu, NULL);
	if (rc < 0)
		goto out;
	mu = true;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = -pthread_cond_init(&w->wake, &ca);
	wake = rc == 0;
	if (rc == 0) {
		rc = -pthread_cond_init(&w->done, NULL);
		done = rc == 0;
	}
	pthread_condattr_destroy(&ca);
	if (rc < 0)
		goto out;
	rc = -pthread_create(&w->thr, NULL, aud_writer_main, w);
	if (rc < 0)
		goto out;
	w->started = true;
	*out = w;
	w = NULL;
out:
	if (w) {
		if (done)
			pthread_cond_destroy(&w->done);
		if (wake)
			pthread_cond_destroy(&w->wake);
		if (mu)
			pthread_mutex_destroy(&w->mu);
		sqlite3_finalize(w->ins);
		sqlite3_finalize(w->headst);
		sqlite3_close(w->db);
		free(w->ring);
		free(w);
	}
	return rc;
}

int aud_writer_submit(struct aud_writer *w, const struct aud_event *ev)
{
	struct aud_qev *q;

	if (!w || !ev || !ev->kind || !ev->op || !ev->decision)
		return -AGW_EINVAL;
	if (__atomic_load_n(&w->failing, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&w->mu);
		w->rejected++;
		pthread_mutex_unlock(&w->mu);
		return -AGW_EFULL;
	}
	q = aud_qev_new(ev);
	if (!q)
		return -AGW_ENOMEM;
	if (q->ev.ts == 0)
		q->ev.ts = agw_now_us();
	q->enq_mono = agw_mono_us();
	pthread_mutex_lock(&w->mu);
	if (w->failing || w->stop || w->count >= AUD_QUEUE_EVENTS ||
	    w->bytes + q->size > AUD_QUEUE_BYTES) {
		w->rejected++;
		pthread_mutex_unlock(&w->mu);
		free(q);
		return -AGW_EFULL;
	}
	w->ring[(w->head + w->count) % AUD_QUEUE_EVENTS] = q;
	w->count++;
	w->bytes += q->size;
	w->submitted++;
	if (w->count == 1 || w->count == AUD_BATCH_EVENTS)
		pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int aud_req_run(struct aud_writer *w, struct aud_req *r)
{
	pthread_mutex_lock(&w->mu);
	if (w->req_tail)
		w->req_tail->next = r;
	else
		w->req_head = r;
	w->req_tail = r;
	pthread_cond_signal(&w->wake);
	while (!r->done)
		pthread_cond_wait(&w->done, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return r->rc;
}

int aud_writer_sandbox_start(struct aud_writer *w, const char *name, const char *policy_name,
			     const char *policy_sha256, const char *policy_text, const char *image,
			     int64_t *id_out)
{
	struct aud_req r = {.type = AUD_REQ_START,
			    .name = name,
			    .policy_name = policy_name,
			    .policy_sha256 = policy_sha256,
			    .policy_text = policy_text,
			    .image = image};
	int rc;

	if (id_out)
		*id_out = 0;
	if (!w || !name)
		return -AGW_EINVAL;
	rc = aud_req_run(w, &r);
	if (rc == 0 && id_out)
		*id_out = r.id;
	return rc;
}

int aud_writer_sandbox_stop(struct aud_writer *w, int64_t id)
{
	struct aud_req r = {.type = AUD_REQ_STOP, .id = id};

	if (!w)
		return -AGW_EINVAL;
	return aud_req_run(w, &r);
}

int aud_writer_prune(struct aud_writer *w, int64_t before_us, int64_t *rows)
{
	struct aud_req r = {.type = AUD_REQ_PRUNE, .before_us = before_us};
	int rc;

	if (rows)
		*rows = 0;
	if (!w)
		return -AGW_EINVAL;
	rc = aud_req_run(w, &r);
	if (rc == 0 && rows)
		*rows = r.rows;
	return rc;
}

int aud_writer_flush(struct aud_writer *w)
{
	uint64_t target;
	int rc = 0;

	if (!w)
		return -AGW_EINVAL;
	pthread_mutex_lock(&w->mu);
	target = w->submitted;
	if (w->flush_target < target)
		w->flush_target = target;
	pthread_cond_signal(&w->wake);
	while (w->committed < target) {
		if (w->failing) {
			rc = w->last_err;
			break;
		}
		pthread_cond_wait(&w->done, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

bool aud_writer_healthy(const struct aud_writer *w)
{
	return w && !__atomic_load_n(&w->failing, __ATOMIC_ACQUIRE);
}

unsigned aud_writer_fill_pct(struct aud_writer *w)
{
	size_t ev, by;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	ev = w->count * 100 / AUD_QUEUE_EVENTS;
	by = w->bytes / (AUD_QUEUE_BYTES / 100);
	pthread_mutex_unlock(&w->mu);
	return (unsigned)(ev > by ? ev : by);
}

void aud_writer_get_stats(struct aud_writer *w, struct aud_writer_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	st->submitted = w->submitted;
	st->committed = w->committed;
	st->transactions = w->transactions;
	st->failures = w->failures;
	st->rejected = w->rejected;
	st->queued = (size_t)(w->submitted - w->committed);
	pthread_mutex_unlock(&w->mu);
}

void aud_writer_free(struct aud_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->thr, NULL);
	sqlite3_finalize(w->ins);
	sqlite3_finalize(w->headst);
	/* the last connection to close checkpoints the WAL into the database */
	sqlite3_close(w->db);
	pthread_cond_destroy(&w->done);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->mu);
	free(w->ring);
	free(w);
}
