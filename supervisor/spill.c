// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * spill: an append-only file of audit events with a read offset. Appends go
 * at `wr`, replay reads from `rd`; when rd reaches wr the file is truncated
 * and both go back to 0. The file is private to one supervisor, but is read
 * back with the checked IPC decoder anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agw.h"
#include "ipc.h"
#include "log.h"
#include "supervisor/spill.h"

struct spill {
	int fd;
	off_t rd, wr;
	size_t pending, max;
	uint8_t buf[IPC_PAYLOAD_MAX + 4];
	struct ipc_event ev;
	char path[];
};

int spill_open(const char *path, size_t max_bytes, struct spill **out)
{
	size_t n = strlen(path) + 1;
	struct spill *sp = calloc(1, sizeof(*sp) + n);

	*out = NULL;
	if (!sp)
		return -AGW_ENOMEM;
	memcpy(sp->path, path, n);
	sp->max = max_bytes;
	sp->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (sp->fd < 0) {
		int rc = -errno;

		free(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

static int spill_full_write(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t k = pwrite(fd, p, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

static int spill_full_read(int fd, uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t k = pread(fd, p, n, off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -AGW_EPROTO;
		p += k;
		n -= (size_t)k;
		off += k;
	}
	return 0;
}

int spill_add(struct spill *sp, const struct aud_event *ev)
{
	size_t len;
	uint32_t n;
	int rc = ipc_event_encode(ev, sp->buf + 4, sizeof(sp->buf) - 4, &len);

	if (rc)
		return rc;
	if ((size_t)sp->wr + len + 4 > sp->max)
		return -ENOSPC;
	n = (uint32_t)len;
	memcpy(sp->buf, &n, 4);
	rc = spill_full_write(sp->fd, sp->buf, len + 4, sp->wr);
	if (rc)
		return rc;
	sp->wr += (off_t)len + 4;
	sp->pending++;
	return 0;
}

size_t spill_pending(const struct spill *sp)
{
	return sp ? sp->pending : 0;
}

const char *spill_path(const struct spill *sp)
{
	return sp->path;
}

static void spill_reset(struct spill *sp)
{
	sp->rd = sp->wr = 0;
	sp->pending = 0;
	if (ftruncate(sp->fd, 0) < 0)
		log_warn("audit spill %s: cannot empty it: %s", sp->path, strerror(errno));
}

int spill_replay(struct spill *sp, struct aud_writer *w)
{
	int done = 0, rc = 0;
	uint32_t n;

	while (sp->rd < sp->wr) {
		rc = spill_full_read(sp->fd, sp->buf, 4, sp->rd);
		if (rc)
			break;
		memcpy(&n, sp->buf, 4);
		if (n > IPC_PAYLOAD_MAX || sp->rd + 4 + (off_t)n > sp->wr) {
			rc = -AGW_EPROTO;
			break;
		}
		rc = spill_full_read(sp->fd, sp->buf, n, sp->rd + 4);
		if (!rc)
			rc = ipc_event_decode(sp->buf, n, &sp->ev);
		if (rc)
			break;
		if (aud_writer_submit(w, &sp->ev.ev))
			return done; /* refused: it stays first in line */
		sp->rd += 4 + (off_t)n;
		sp->pending--;
		done++;
	}
	if (rc) {
		log_error("audit spill %s unreadable (%s): %zu events lost", sp->path,
			  agw_strerror(rc), sp->pending);
		spill_reset(sp);
		return rc;
	}
	spill_reset(sp);
	return done;
}

size_t spill_close(struct spill *sp)
{
	size_t left;

	if (!sp)
		return 0;
	left = sp->pending;
	close(sp->fd);
	if (!left)
		unlink(sp->path);
	free(sp);
	return left;
}
