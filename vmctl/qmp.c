// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * QMP client: newline-delimited JSON over a unix socket, parsed with
 * jansson. Replies are matched by reading until a "return" or "error"
 * object arrives; events in between are ignored.
 */
#include "qmp.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agw.h"

#define QMP_LINE_MAX (64 * 1024)

struct qmp {
	int fd;
	char buf[QMP_LINE_MAX];
	size_t len;
};

/* Next JSON object from the stream. Returns 0, -ETIMEDOUT, -EPIPE, -AGW_EPROTO. */
static int qmp_read(struct qmp *q, int64_t deadline, json_t **out)
{
	*out = NULL;
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		int64_t left;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - q->buf) + 1;
			json_error_t err;

			*out = json_loadb(q->buf, l, 0, &err);
			memmove(q->buf, q->buf + l, q->len - l);
			q->len -= l;
			if (!*out || !json_is_object(*out)) {
				json_decref(*out);
				*out = NULL;
				return -AGW_EPROTO;
			}
			return 0;
		}
		if (q->len == sizeof(q->buf))
			return -AGW_ETOOBIG;
		left = (deadline - agw_mono_us()) / 1000;
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (!p.revents)
			continue;
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EPIPE;
		q->len += (size_t)n;
	}
}

static int qmp_send(struct qmp *q, const char *command)
{
	json_t *m = json_pack("{s:s}", "execute", command);
	char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	size_t len, off = 0;
	int r = 0;

	json_decref(m);
	if (!text)
		return -AGW_ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; json_dumps left room only for it */
	while (off < len + 1) {
		ssize_t n = send(q->fd, text + off, len + 1 - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(text);
	return r;
}

static int qmp_wait_reply(struct qmp *q, int64_t deadline, int eof_ok)
{
	for (;;) {
		json_t *m = NULL;
		int r = qmp_read(q, deadline, &m);

		if (r == -EPIPE && eof_ok)
			return 0;
		if (r < 0)
			return r;
		if (json_object_get(m, "return")) {
			json_decref(m);
			return 0;
		}
		if (json_object_get(m, "error")) {
			json_decref(m);
			return -AGW_EPROTO;
		}
		json_decref(m); /* an event */
	}
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int64_t deadline = agw_mono_us() + (int64_t)timeout_ms * 1000;
	struct qmp *q = NULL;
	json_t *greeting = NULL;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -AGW_ETOOBIG;
	strcpy(sa.sun_path, path);
	q = calloc(1, sizeof(*q));
	if (!q)
		return -AGW_ENOMEM;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0 || connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = qmp_read(q, deadline, &greeting)) < 0)
		goto out;
	if (!json_object_get(greeting, "QMP")) {
		r = -AGW_EPROTO;
		goto out;
	}
	if ((r = qmp_send(q, "qmp_capabilities")) < 0 || (r = qmp_wait_reply(q, deadline, 0)) < 0)
		goto out;
	*out = q;
	q = NULL;
out:
	json_decref(greeting);
	qmp_free(q);
	return r;
}

int qmp_execute(struct qmp *q, const char *command, int timeout_ms)
{
	int64_t deadline = agw_mono_us() + (int64_t)timeout_ms * 1000;
	int r = qmp_send(q, command);

	if (r < 0)
		return r;
	return qmp_wait_reply(q, deadline, strcmp(command, "quit") == 0);
}

void qmp_free(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}
