// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tap creation through /dev/net/tun and interface address and link state
 * through libnl-route-3. libnl reports its own NLE_* codes; they are mapped
 * back to errno values here so callers see the project's -errno convention.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

#include "vmctl/tap.h"

static bool tap_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, IFNAMSIZ);
	if (n == 0 || n >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] <= ' ' || name[i] == 0x7f || name[i] == ':')
			return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static int tap_nlerr(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -AGW_ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_NODEV:
	case NLE_OBJ_NOTFOUND:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	case NLE_INVAL:
	case NLE_RANGE:
		return -EINVAL;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_NOACCESS:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int tap_sock(struct nl_sock **out)
{
	struct nl_sock *sk;
	int err;

	*out = NULL;
	sk = nl_socket_alloc();
	if (!sk)
		return -AGW_ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(sk);
		return tap_nlerr(err);
	}
	*out = sk;
	return 0;
}

int tap_create(const char *name, int *fd_out)
{
	struct ifreq ifr;
	int fd = -1, err;

	*fd_out = -1;
	if (name && name[0] && !tap_name_valid(name))
		return -AGW_EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (name && name[0])
		memcpy(ifr.ifr_name, name, strlen(name));
	/* Without IFF_TUN_EXCL an existing tap of that name would be attached. */
	ifr.ifr_flags |= IFF_TUN_EXCL;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno == EEXIST ? -EBUSY : -errno;
		goto out;
	}
	*fd_out = fd;
	fd = -1;
	err = 0;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

int tap_name(int fd, char *out, size_t cap)
{
	struct ifreq ifr;
	size_t n;

	if (!out || cap < IFNAMSIZ)
		return -AGW_EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	n = strnlen(ifr.ifr_name, IFNAMSIZ - 1);
	memcpy(out, ifr.ifr_name, n);
	out[n] = '\0';
	return 0;
}

/* A route socket and the link of that name, from the kernel. On failure
 * *sk may be set and *link is NULL: tap_link_close both either way. */
static int tap_link_open(const char *ifname, struct nl_sock **sk, struct rtnl_link **link)
{
	int err;

	*link = NULL;
	err = tap_sock(sk);
	if (err < 0)
		return err;
	return tap_nlerr(rtnl_link_get_kernel(*sk, 0, ifname, link));
}

static void tap_link_close(struct nl_sock *sk, struct rtnl_link *link)
{
	if (link)
		rtnl_link_put(link);
	if (sk)
		nl_socket_free(sk);
}

int tap_addr_add(const char *ifname, struct in_addr a, int prefix)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	struct rtnl_addr *addr = NULL;
	struct nl_addr *local = NULL;
	int err;

	if (!tap_name_valid(ifname) || prefix < 0 || prefix > 32)
		return -AGW_EINVAL;
	err = tap_link_open(ifname, &sk, &link);
	if (err < 0)
		goto out;
	addr = rtnl_addr_alloc();
	local = nl_addr_build(AF_INET, &a, sizeof(a));
	if (!addr || !local) {
		err = -AGW_ENOMEM;
		goto out;
	}
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(addr, rtnl_link_get_ifindex(link));
	rtnl_addr_set_family(addr, AF_INET);
	err = tap_nlerr(rtnl_addr_set_local(addr, local));
	if (err < 0)
		goto out;
	rtnl_addr_set_prefixlen(addr, prefix);
	err = tap_nlerr(rtnl_addr_add(sk, addr, 0));
	if (err == -EEXIST)
		err = 0;
out:
	if (local)
		nl_addr_put(local);
	if (addr)
		rtnl_addr_put(addr);
	tap_link_close(sk, link);
	return err;
}

int tap_link_up(const char *ifname)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL, *change = NULL;
	int err;

	if (!tap_name_valid(ifname))
		return -AGW_EINVAL;
	err = tap_link_open(ifname, &sk, &link);
	if (err < 0)
		goto out;
	change = rtnl_link_alloc();
	if (!change) {
		err = -AGW_ENOMEM;
		goto out;
	}
	rtnl_link_set_flags(change, IFF_UP);
	err = tap_nlerr(rtnl_link_change(sk, link, change, 0));
out:
	if (change)
		rtnl_link_put(change);
	tap_link_close(sk, link);
	return err;
}

int tap_link_exists(const char *ifname)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int err;

	if (!tap_name_valid(ifname))
		return 0;
	err = tap_link_open(ifname, &sk, &link);
	if (err == 0)
		err = 1;
	else if (err == -ENODEV)
		err = 0;
	tap_link_close(sk, link);
	return err;
}

int tap_delete(const char *ifname)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int err;

	if (!tap_name_valid(ifname))
		return -AGW_EINVAL;
	err = tap_sock(&sk);
	if (err < 0)
		goto out;
	link = rtnl_link_alloc();
	if (!link) {
		err = -AGW_ENOMEM;
		goto out;
	}
	rtnl_link_set_name(link, ifname);
	err = tap_nlerr(rtnl_link_delete(sk, link));
	if (err == -ENODEV)
		err = 0;
out:
	if (link)
		rtnl_link_put(link);
	if (sk)
		nl_socket_free(sk);
	return err;
}
