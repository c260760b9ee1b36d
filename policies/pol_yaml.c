// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * YAML to a small node tree for the policy loader, and the error collector.
 * libyaml's event API is used (not its document loader) so anchors, aliases
 * and tags can be refused with their position; the tree keeps every node's
 * 1-based line and column. Size, depth and node counts are bounded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "agw.h"
#include "policies/pol_int.h"

void pol_err(struct pol_ectx *e, int line, int col, const char *fmt, ...)
{
	struct pol_errors *errs = e->errs;
	struct pol_error *v;
	char msg[512];
	va_list ap;

	if (errs->n >= POL_MAX_ERRORS) {
		e->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v = realloc(errs->v, (errs->n + 1) * sizeof(*v));
	if (!v) {
		e->nomem = true;
		return;
	}
	errs->v = v;
	v = &errs->v[errs->n];
	v->file = strdup(e->file ? e->file : "<policy>");
	v->msg = strdup(msg);
	v->line = line;
	v->col = col;
	if (!v->file || !v->msg) {
		free(v->file);
		free(v->msg);
		e->nomem = true;
		return;
	}
	errs->n++;
}

void pol_errors_free(struct pol_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[33];

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = diag + cost;

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *pol_did_you_mean(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = 99, slen = strlen(s);
	size_t limit = slen <= 3 ? 1 : slen <= 6 ? 2 : 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(s, cands[i]);

		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

void pol_yaml_free(struct pol_yaml *y)
{
	free(y->n);
	free(y->pool);
	memset(y, 0, sizeof(*y));
	y->root = -1;
}

static int32_t node_new(struct pol_yaml *y, uint8_t type, const yaml_mark_t *m)
{
	struct pol_ynode *nd;

	if (y->nn == y->cap) {
		size_t cap = y->cap ? y->cap * 2 : 64;

		nd = realloc(y->n, cap * sizeof(*nd));
		if (!nd)
			return -1;
		y->n = nd;
		y->cap = cap;
	}
	nd = &y->n[y->nn];
	memset(nd, 0, sizeof(*nd));
	nd->type = type;
	nd->line = (int)m->line + 1;
	nd->col = (int)m->column + 1;
	nd->first = nd->next = -1;
	return (int32_t)y->nn++;
}

static int pool_add(struct pol_yaml *y, const char *s, size_t len, uint32_t *off)
{
	if (y->plen + len + 1 > y->pcap) {
		size_t cap = y->pcap ? y->pcap : 4096;
		char *p;

		while (cap < y->plen + len + 1)
			cap *= 2;
		p = realloc(y->pool, cap);
		if (!p)
			return -AGW_ENOMEM;
		y->pool = p;
		y->pcap = cap;
	}
	memcpy(y->pool + y->plen, s, len);
	y->pool[y->plen + len] = 0;
	*off = (uint32_t)y->plen;
	y->plen += len + 1;
	return 0;
}

struct ybuild {
	int32_t stack[POL_MAX_DEPTH + 1];
	int32_t last[POL_MAX_DEPTH + 1];
	int depth;
};

static void attach(struct pol_yaml *y, struct ybuild *b, int32_t id)
{
	int32_t parent;

	if (b->depth == 0) {
		y->root = id;
		return;
	}
	parent = b->stack[b->depth - 1];
	if (b->last[b->depth - 1] < 0)
		y->n[parent].first = id;
	else
		y->n[b->last[b->depth - 1]].next = id;
	b->last[b->depth - 1] = id;
	y->n[parent].n++;
}

/* Refuse anchors and tags on a node. True if refused. */
static bool fancy(struct pol_ectx *e, const yaml_event_t *ev, const yaml_char_t *anchor,
		  const yaml_char_t *tag)
{
	int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;

	if (anchor) {
		pol_err(
		    e, line, col,
		    "YAML anchors ('&%.40s') are not supported in policies; write the value out",
		    (const char *)anchor);
		return true;
	}
	if (tag) {
		pol_err(e, line, col,
			"YAML tags ('%.40s') are not supported in policies; remove the tag",
			(const char *)tag);
		return true;
	}
	return false;
}

int pol_yaml_parse(struct pol_ectx *e, const char *buf, size_t len, struct pol_yaml *y)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ybuild b = {.depth = 0};
	int docs = 0, ret = 0, bad = 0;
	bool done = false;

	memset(y, 0, sizeof(*y));
	y->root = -1;
	if (!yaml_parser_initialize(&parser))
		return -AGW_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		int32_t id;
		uint8_t type;

		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				ret = -AGW_ENOMEM;
				goto out;
			}
			if (parser.context)
				/* Point at what was left open (the '[' or '{'), not where
				 * the parser gave up, which is often the end of the file. */
				pol_err(e, (int)parser.context_mark.line + 1,
					(int)parser.context_mark.column + 1,
					"YAML syntax error: %s at %d:%d, %s that starts here",
					parser.problem ? parser.problem : "invalid",
					(int)parser.problem_mark.line + 1,
					(int)parser.problem_mark.column + 1, parser.context);
			else
				pol_err(e, (int)parser.problem_mark.line + 1,
					(int)parser.problem_mark.column + 1, "YAML syntax error: %s",
					parser.problem ? parser.problem : "invalid");
			ret = -AGW_EPOLICY;
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				pol_err(e, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1,
					"a policy file holds one YAML document; remove this '---' "
					"and what follows");
				bad = 1;
				done = true;
			}
			break;
		case YAML_ALIAS_EVENT:
			pol_err(e, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
				"YAML aliases ('*%.40s') are not supported in policies; write the "
				"value out",
				(const char *)ev.data.alias.anchor);
			bad = 1;
			done = true;
			break;
		case YAML_SCALAR_EVENT:
			if (fancy(e, &ev, ev.data.scalar.anchor, ev.data.scalar.tag)) {
				bad = 1;
				done = true;
				break;
			}
			if (y->nn >= POL_MAX_NODES) {
				pol_err(e, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1,
					"too many YAML nodes (over %u)", POL_MAX_NODES);
				bad = 1;
				done = true;
				break;
			}
			id = node_new(y, POL_Y_SCALAR, &ev.start_mark);
			if (id < 0 ||
			    pool_add(y, (const char *)ev.data.scalar.value, ev.data.scalar.length,
				     &y->n[id >= 0 ? id : 0].off) < 0) {
				ret = -AGW_ENOMEM;
				yaml_event_delete(&ev);
				goto out;
			}
			y->n[id].len = (uint32_t)ev.data.scalar.length;
			y->n[id].plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			attach(y, &b, id);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			type = ev.type == YAML_MAPPING_START_EVENT ? POL_Y_MAP : POL_Y_SEQ;
			if (type == POL_Y_MAP ? fancy(e, &ev, ev.data.mapping_start.anchor,
						      ev.data.mapping_start.tag)
					      : fancy(e, &ev, ev.data.sequence_start.anchor,
						      ev.data.sequence_start.tag)) {
				bad = 1;
				done = true;
				break;
			}
			if (b.depth >= POL_MAX_DEPTH || y->nn >= POL_MAX_NODES) {
				pol_err(e, (int)ev.start_mark.line + 1,
					(int)ev.start_mark.column + 1,
					"YAML nested too deeply or too many nodes (limits %d "
					"levels, %u nodes)",
					POL_MAX_DEPTH, POL_MAX_NODES);
				bad = 1;
				done = true;
				break;
			}
			id = node_new(y, type, &ev.start_mark);
			if (id < 0) {
				ret = -AGW_ENOMEM;
				yaml_event_delete(&ev);
				goto out;
			}
			attach(y, &b, id);
			b.stack[b.depth] = id;
			b.last[b.depth] = -1;
			b.depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (b.depth > 0)
				b.depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	ret = bad ? -AGW_EPOLICY : 0;
out:
	yaml_parser_delete(&parser);
	if (ret < 0)
		pol_yaml_free(y);
	return ret;
}
