/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sandbox's network interface on the host side: creating the tap that
 * QEMU gets as an fd (tun ioctl), and its address and link state
 * (libnl-route-3). Also used on veth interfaces in the integration tests.
 * Only the supervisor calls these (CAP_NET_ADMIN); they act on the calling
 * thread's network namespace. Each call opens its own netlink socket and
 * blocks for one round trip.
 */
#ifndef AGW_TAP_H
#define AGW_TAP_H

#include <netinet/in.h>

#include "agw.h"

/*
 * Creates tap `name` (1..15 bytes; NULL or "" lets the kernel pick
 * "tapN") with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, not persistent: the
 * interface disappears when the last fd to it is closed. *fd_out is -1 on
 * entry and the tap fd (O_CLOEXEC, blocking) on success; the caller owns
 * it. Returns 0, -AGW_EINVAL for a bad name, -EBUSY when an interface of
 * that name exists, or -errno.
 */
int tap_create(const char *name, int *fd_out);

/*
 * Name of the tap behind fd into out[cap] (cap >= 16, IFNAMSIZ). Returns 0
 * or -errno.
 */
int tap_name(int fd, char *out, size_t cap);

/*
 * Adds a/prefix (IPv4) to ifname. Adding an address it already has returns
 * 0. Returns -ENODEV when ifname does not exist, -AGW_EINVAL for a prefix
 * over 32, or -errno.
 */
int tap_addr_add(const char *ifname, struct in_addr a, int prefix);

/* Sets ifname up. Returns 0, -ENODEV, or -errno. */
int tap_link_up(const char *ifname);

/* 1 when ifname exists, 0 when not, or -errno when the kernel cannot be asked. */
int tap_link_exists(const char *ifname);

/*
 * Deletes ifname (for a tap whose fd is still open, too). Returns 0, also
 * when it did not exist, or -errno.
 */
int tap_delete(const char *ifname);

#endif
