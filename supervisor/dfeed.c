// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The guest's denials feed, host side (see dfeed.h): formatting a denial
 * as one bounded JSON line, and writing it to the VM runner's pipe under a
 * token bucket, without ever blocking the supervisor's loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "json.h"
#include "supervisor/dfeed.h"

struct dfeed {
	int fd;
	double tokens;
	int64_t last_ms;
	uint64_t sent, dropped, unreported;
};

int dfeed_new(int fd, struct dfeed **out)
{
	struct dfeed *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d) {
		close(fd);
		return -AGW_ENOMEM;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	d->fd = fd;
	d->tokens = DFEED_BURST;
	d->last_ms = -1;
	*out = d;
	return 0;
}

/* "key":"escaped value, at most max bytes escaped", or "key":null. */
static size_t dfeed_kv(char *out, size_t cap, const char *key, const char *v, size_t max)
{
	char esc[401];
	int w;

	if (!v) {
		w = snprintf(out, cap, ",\"%s\":null", key);
	} else {
		/* cut between characters, never inside an escape */
		json_esc_str(esc, AGW_MIN(max + 1, sizeof(esc)), v);
		w = snprintf(out, cap, ",\"%s\":\"%s\"", key, esc);
	}
	return w < 0 ? 0 : (size_t)w >= cap ? cap - 1 : (size_t)w;
}

size_t dfeed_line(const struct aud_event *ev, char *out, size_t cap)
{
	char tbuf[48];
	size_t n;
	int w;

	if (cap < 64) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	aud_fmt_time(ev->ts ? ev->ts : agw_now_us(), true, tbuf, sizeof(tbuf));
	/* the microseconds are noise for a reader: milliseconds, Z */
	if (strlen(tbuf) == 27)
		memcpy(tbuf + 23, "Z", 2);
	w = snprintf(out, cap, "{\"time\":\"%s\"", tbuf);
	n = w > 0 ? (size_t)w : 0;
	/* at most 40 + 2 * 40 + 400 + 150 + 200 + keys: fits DFEED_LINE_MAX */
	n += dfeed_kv(out + n, cap - n, "kind", ev->kind, 40);
	n += dfeed_kv(out + n, cap - n, "op", ev->op, 40);
	n += dfeed_kv(out + n, cap - n, "target", ev->target, 400);
	n += dfeed_kv(out + n, cap - n, "rule", ev->rule && ev->rule[0] ? ev->rule : NULL, 150);
	n += dfeed_kv(out + n, cap - n, "reason", ev->reason, 200);
	if (n + 3 > cap)
		n = cap - 3;
	out[n++] = '}';
	out[n++] = '\n';
	out[n] = '\0';
	return n;
}

static bool dfeed_take(struct dfeed *d, int64_t now_ms)
{
	if (d->last_ms >= 0 && now_ms > d->last_ms) {
		d->tokens += (double)(now_ms - d->last_ms) * DFEED_RATE / 1000.0;
		if (d->tokens > DFEED_BURST)
			d->tokens = DFEED_BURST;
	}
	d->last_ms = now_ms;
	if (d->tokens < 1.0)
		return false;
	d->tokens -= 1.0;
	return true;
}

/* One whole line or nothing: a pipe write of <= PIPE_BUF bytes is atomic. */
static bool dfeed_write(struct dfeed *d, const char *line, size_t n)
{
	ssize_t w;

	do
		w = write(d->fd, line, n);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)n;
}

void dfeed_event(struct dfeed *d, const struct aud_event *ev, int64_t now_ms)
{
	char line[DFEED_LINE_MAX];
	size_t n;

	if (!d || d->fd < 0 || !ev->decision || strcmp(ev->decision, "deny") != 0)
		return;
	if (!dfeed_take(d, now_ms)) {
		d->dropped++;
		d->unreported++;
		return;
	}
	if (d->unreported) {
		n = (size_t)snprintf(line, sizeof(line), "{\"dropped\":%llu}\n",
				     (unsigned long long)d->unreported);
		if (!dfeed_write(d, line, n)) {
			d->dropped++;
			d->unreported++;
			return;
		}
		d->unreported = 0;
	}
	n = dfeed_line(ev, line, sizeof(line));
	if (dfeed_write(d, line, n)) {
		d->sent++;
	} else {
		d->dropped++;
		d->unreported++;
	}
}

void dfeed_counts(const struct dfeed *d, uint64_t *sent, uint64_t *dropped)
{
	*sent = d ? d->sent : 0;
	*dropped = d ? d->dropped : 0;
}

void dfeed_free(struct dfeed *d)
{
	if (!d)
		return;
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}
