/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fs child's virtio-fs side: a listening unix socket QEMU's
 * vhost-user-fs-device connects to, one vhost-user connection at a time
 * (vu.c) feeding a FUSE server (fuse_srv.c) on the fs child's p9_srv, all
 * on the fs child's ev loop. Only gateway/fs/fsd.c uses it.
 */
#ifndef AGW_FSD_VU_H
#define AGW_FSD_VU_H

struct ev_loop;
struct p9_srv;
struct fsd_vu;

/*
 * Start accepting on lfd (a listening AF_UNIX stream socket; borrowed, made
 * non-blocking). Returns 0 and *out, or a negative code. Does not block.
 */
int fsd_vu_new(struct ev_loop *loop, struct p9_srv *srv, int lfd, struct fsd_vu **out);
/* Close the connection (open handles get their audit rows) and free. NULL-safe. */
void fsd_vu_free(struct fsd_vu *v);

/*
 * Bind and listen on a unix socket path (an old socket file there is
 * removed first). Returns 0 and *fd (CLOEXEC) or -errno / -AGW_EINVAL.
 */
int fsd_vu_listen(const char *path, int *fd);

#endif
