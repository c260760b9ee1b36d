// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The fs child's vhost-user listener and connection: accept QEMU, read its
 * control messages, watch the queues' kick eventfds, and hand each request
 * to the FUSE server. A second connection while one is up is refused; a
 * broken one is freed in the loop's before-sleep hook, never inside a
 * callback.
 */
#include "gateway/fs/fsd_vu.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agw.h"
#include "ev.h"
#include "gateway/fs/fuse_srv.h"
#include "gateway/fs/p9_srv.h"
#include "gateway/fs/vu.h"
#include "log.h"

struct fsd_vu;

struct fsd_vu_kick {
	struct fsd_vu *v;
	unsigned q;
};

struct fsd_vu {
	struct fsd_vu_kick kicks[VU_MAX_QUEUES];
	struct ev_loop *loop;
	struct p9_srv *srv;
	int lfd;
	struct vu_dev *dev;
	struct fuse_srv *fuse;
	int kick[VU_MAX_QUEUES]; /* registered kick fds */
	bool dead;
};

int fsd_vu_listen(const char *path, int *fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s, rc;

	*fd = -1;
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -AGW_EINVAL;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	unlink(path);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 1) < 0) {
		rc = -errno;
		close(s);
		return rc;
	}
	*fd = s;
	return 0;
}

static size_t fsd_vu_handle(void *ctx, unsigned queue, const uint8_t *req, size_t len, uint8_t *out,
			    size_t cap)
{
	struct fsd_vu *v = ctx;

	(void)queue;
	return fuse_srv_handle(v->fuse, req, len, out, cap);
}

static void fsd_vu_unwatch(struct fsd_vu *v)
{
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++)
		if (v->kick[q] >= 0) {
			ev_del_fd(v->loop, v->kick[q]);
			v->kick[q] = -1;
		}
}

static void fsd_vu_close(struct fsd_vu *v)
{
	if (!v->dev)
		return;
	fsd_vu_unwatch(v);
	ev_del_fd(v->loop, vu_dev_fd(v->dev));
	v->dead = true;
}

static void fsd_vu_kick_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fsd_vu_kick *k = ctx;

	(void)loop;
	(void)fd;
	(void)events;
	if (k->v->dev && !k->v->dead)
		vu_dev_on_kick(k->v->dev, k->q);
}

static int fsd_vu_rewatch(struct fsd_vu *v)
{
	fsd_vu_unwatch(v);
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++) {
		int fd = vu_dev_kick_fd(v->dev, q);
		int rc;

		if (fd < 0)
			continue;
		v->kicks[q] = (struct fsd_vu_kick){v, q};
		rc = ev_add_fd(v->loop, fd, EV_READ, fsd_vu_kick_cb, &v->kicks[q]);
		if (rc < 0)
			return rc;
		v->kick[q] = fd;
		/* Requests made before we watched the fd would wait for the next kick. */
		vu_dev_on_kick(v->dev, q);
	}
	return 0;
}

static void fsd_vu_msg_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fsd_vu *v = ctx;
	bool changed = false;
	int rc;

	(void)loop;
	(void)fd;
	(void)events;
	if (v->dead)
		return;
	rc = vu_dev_on_msg(v->dev, &changed);
	if (rc == 0 && changed)
		rc = fsd_vu_rewatch(v);
	if (rc < 0) {
		if (rc != -EPIPE)
			log_warn("fs: vhost-user connection: %s; closing it", agw_strerror(rc));
		fsd_vu_close(v);
	}
}

static void fsd_vu_reap(struct ev_loop *loop, void *ctx)
{
	struct fsd_vu *v = ctx;

	(void)loop;
	if (!v->dead)
		return;
	vu_dev_free(v->dev);
	v->dev = NULL;
	fuse_srv_free(v->fuse);
	v->fuse = NULL;
	v->dead = false;
	ev_mod_fd(v->loop, v->lfd, EV_READ);
}

static void fsd_vu_accept_cb(struct ev_loop *loop, int fd, unsigned events, void *ctx)
{
	struct fsd_vu *v = ctx;
	struct timeval tv = {.tv_sec = 5};
	int s;

	(void)loop;
	(void)events;
	s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return;
	if (v->dev) {
		log_warn("fs: a second vhost-user connection refused");
		close(s);
		return;
	}
	/* Blocking with a bound: a message's payload follows its header. */
	(void)setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fuse_srv_new(v->srv, &v->fuse) < 0 || vu_dev_new(s, fsd_vu_handle, v, &v->dev) < 0) {
		log_error("fs: cannot set up the virtio-fs connection");
		fuse_srv_free(v->fuse);
		v->fuse = NULL;
		close(s);
		return;
	}
	if (ev_add_fd(v->loop, s, EV_READ, fsd_vu_msg_cb, v) < 0) {
		fsd_vu_close(v);
		return;
	}
	ev_mod_fd(v->loop, fd, 0); /* one connection at a time */
	log_info("fs: virtio-fs (vhost-user) connected");
}

int fsd_vu_new(struct ev_loop *loop, struct p9_srv *srv, int lfd, struct fsd_vu **out)
{
	struct fsd_vu *v = calloc(1, sizeof(*v));
	int rc;

	*out = NULL;
	if (!v)
		return -AGW_ENOMEM;
	v->loop = loop;
	v->srv = srv;
	v->lfd = lfd;
	for (unsigned q = 0; q < VU_MAX_QUEUES; q++)
		v->kick[q] = -1;
	(void)fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
	if ((rc = ev_add_fd(loop, lfd, EV_READ, fsd_vu_accept_cb, v)) < 0 ||
	    (rc = ev_before_sleep(loop, fsd_vu_reap, v)) < 0) {
		ev_del_fd(loop, lfd);
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void fsd_vu_free(struct fsd_vu *v)
{
	if (!v)
		return;
	fsd_vu_close(v);
	ev_before_sleep_del(v->loop, fsd_vu_reap, v);
	ev_del_fd(v->loop, v->lfd);
	vu_dev_free(v->dev);
	fuse_srv_free(v->fuse);
	free(v);
}
