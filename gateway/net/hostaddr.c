// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The gateway host's own addresses (see hostaddr.h). Two rtnetlink
 * sockets: one subscribed to the IPv4 and IPv6 address groups, read
 * without blocking before every lookup and from the loop, and one for
 * dumps (at start and after the kernel dropped notifications). Subscribing
 * before dumping means a change during the dump is also queued, and
 * applying the queue afterwards leaves each address in its latest state
 * (which is also why an interrupted dump, NLM_F_DUMP_INTR, needs no retry).
 * Entries are keyed by interface too, so an address on two interfaces
 * stays refused until both lose it.
 */
#include "gateway/net/hostaddr.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"

#define HOSTADDR_RBUF 32768

struct hostaddr {
	int ev_fd;   /* subscription, non-blocking */
	int dump_fd; /* request/response, blocking with a timeout */
	uint32_t seq;
	struct hostaddr_set set;
	bool warned_full;
	bool per_pass; /* hostaddr_pass: sync once per loop pass */
	bool synced;   /* per_pass: synced in this pass */
};

/* ---- the set (pure) ---- */

void hostaddr_set_clear(struct hostaddr_set *s)
{
	if (!s)
		return;
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static size_t hostaddr_alen(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static struct hostaddr_ent *hostaddr_set_find(const struct hostaddr_set *s, int family,
					      uint32_t ifindex, const uint8_t *a)
{
	size_t al = hostaddr_alen(family);

	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == family && s->v[i].ifindex == ifindex &&
		    memcmp(s->v[i].a, a, al) == 0)
			return &s->v[i];
	return NULL;
}

int hostaddr_set_add(struct hostaddr_set *s, int family, uint32_t ifindex, const uint8_t *a)
{
	size_t al = hostaddr_alen(family);
	struct hostaddr_ent *e;

	if (!al)
		return -AGW_EINVAL;
	if (hostaddr_set_find(s, family, ifindex, a))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct hostaddr_ent *v;

		if (s->n >= HOSTADDR_MAX) {
			s->overflow = true;
			return -AGW_ETOOBIG;
		}
		if (cap > HOSTADDR_MAX)
			cap = HOSTADDR_MAX;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -AGW_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n++];
	memset(e, 0, sizeof(*e));
	e->family = (uint8_t)family;
	e->ifindex = ifindex;
	memcpy(e->a, a, al);
	return 0;
}

void hostaddr_set_del(struct hostaddr_set *s, int family, uint32_t ifindex, const uint8_t *a)
{
	struct hostaddr_ent *e;

	if (!hostaddr_alen(family) || !(e = hostaddr_set_find(s, family, ifindex, a)))
		return;
	*e = s->v[--s->n];
}

bool hostaddr_set_has(const struct hostaddr_set *s, const struct sockaddr *sa)
{
	const uint8_t *a;
	size_t al;

	if (!s || !sa)
		return false;
	if (sa->sa_family == AF_INET)
		a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	else
		return false;
	al = hostaddr_alen(sa->sa_family);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].family == sa->sa_family && memcmp(s->v[i].a, a, al) == 0)
			return true;
	return false;
}

/* ---- rtnetlink messages (pure) ---- */

/* One RTM_NEWADDR/RTM_DELADDR body (after the nlmsghdr). */
static int hostaddr_nl_addr(struct hostaddr_set *s, uint16_t type, const uint8_t *p, size_t len)
{
	struct ifaddrmsg ifa;
	const uint8_t *local = NULL, *address = NULL, *a;
	size_t off, al;

	if (len < sizeof(ifa))
		return -AGW_EPARSE;
	memcpy(&ifa, p, sizeof(ifa));
	al = hostaddr_alen(ifa.ifa_family);
	if (!al)
		return 0; /* another family: not ours to judge */
	off = NLMSG_ALIGN(sizeof(ifa));
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr ra;

		memcpy(&ra, p + off, sizeof(ra));
		if (ra.rta_len < sizeof(ra) || ra.rta_len > len - off)
			return -AGW_EPARSE;
		if ((ra.rta_type == IFA_LOCAL || ra.rta_type == IFA_ADDRESS) &&
		    ra.rta_len - sizeof(ra) < al)
			return -AGW_EPARSE;
		if (ra.rta_type == IFA_LOCAL)
			local = p + off + RTA_LENGTH(0);
		else if (ra.rta_type == IFA_ADDRESS)
			address = p + off + RTA_LENGTH(0);
		off += RTA_ALIGN(ra.rta_len);
	}
	/* On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours. */
	a = local ? local : address;
	if (!a)
		return 0;
	if (type == RTM_DELADDR) {
		hostaddr_set_del(s, ifa.ifa_family, ifa.ifa_index, a);
		return 0;
	}
	return hostaddr_set_add(s, ifa.ifa_family, ifa.ifa_index, a);
}

int hostaddr_nl_apply(struct hostaddr_set *s, const uint8_t *buf, size_t len, bool *done)
{
	size_t off = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr h;
		int rc;

		memcpy(&h, buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off)
			return -AGW_EPARSE;
		switch (h.nlmsg_type) {
		case NLMSG_DONE:
			if (done)
				*done = true;
			break;
		case NLMSG_ERROR: {
			struct nlmsgerr e;

			if (h.nlmsg_len - sizeof(h) < sizeof(e.error))
				return -AGW_EPARSE;
			memcpy(&e.error, buf + off + NLMSG_HDRLEN, sizeof(e.error));
			if (e.error)
				return -AGW_EPROTO;
			break;
		}
		case RTM_NEWADDR:
		case RTM_DELADDR:
			rc = hostaddr_nl_addr(s, h.nlmsg_type, buf + off + NLMSG_HDRLEN,
					      h.nlmsg_len - NLMSG_HDRLEN);
			if (rc)
				return rc;
			break;
		default:
			break;
		}
		off += NLMSG_ALIGN(h.nlmsg_len);
		if (off > len)
			break;
	}
	return 0;
}

/* ---- sockets ---- */

static int hostaddr_socket(unsigned groups, bool nonblock, int *out)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
			NETLINK_ROUTE);

	*out = -1;
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

/* Replaces h->set with a fresh dump. */
static int hostaddr_dump(struct hostaddr *h)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
	} req = {0};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct hostaddr_set fresh = {0};
	uint8_t *buf = NULL;
	bool done = false;
	int rc = 0;

	buf = malloc(HOSTADDR_RBUF);
	if (!buf)
		return -AGW_ENOMEM;
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETADDR;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++h->seq;
	req.ifa.ifa_family = AF_UNSPEC;
	if (sendto(h->dump_fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	    0) {
		rc = -errno;
		goto out;
	}
	while (!done) {
		ssize_t r = recv(h->dump_fd, buf, HOSTADDR_RBUF, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -AGW_EPROTO;
			goto out;
		}
		rc = hostaddr_nl_apply(&fresh, buf, (size_t)r, &done);
		if (rc == -AGW_ETOOBIG)
			rc = 0; /* keep what fits; logged below */
		if (rc)
			goto out;
	}
	hostaddr_set_clear(&h->set);
	h->set = fresh;
	memset(&fresh, 0, sizeof(fresh));
out:
	hostaddr_set_clear(&fresh);
	free(buf);
	return rc;
}

int hostaddr_new(struct hostaddr **out)
{
	struct hostaddr *h;
	struct timeval tv = {.tv_sec = 2};
	int rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -AGW_ENOMEM;
	h->dump_fd = -1;
	rc = hostaddr_socket(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, true, &h->ev_fd);
	if (rc)
		goto out;
	rc = hostaddr_socket(0, false, &h->dump_fd);
	if (rc)
		goto out;
	setsockopt(h->dump_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	rc = hostaddr_dump(h);
	if (rc)
		goto out;
	log_debug("gateway host has %zu addresses", h->set.n);
	*out = h;
	h = NULL;
out:
	hostaddr_free(h);
	return rc;
}

void hostaddr_free(struct hostaddr *h)
{
	if (!h)
		return;
	if (h->ev_fd >= 0)
		close(h->ev_fd);
	if (h->dump_fd >= 0)
		close(h->dump_fd);
	hostaddr_set_clear(&h->set);
	free(h);
}

int hostaddr_fd(const struct hostaddr *h)
{
	return h->ev_fd;
}

size_t hostaddr_count(const struct hostaddr *h)
{
	return h ? h->set.n : 0;
}

int hostaddr_sync(struct hostaddr *h)
{
	uint8_t buf[8192];
	int rc = 0;

	for (;;) {
		ssize_t r = recv(h->ev_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (r < 0 && errno == ENOBUFS) {
			/* Notifications were lost: only a full re-read is true. */
			log_warn("address notifications lost; re-reading the gateway's addresses");
			rc = hostaddr_dump(h);
			continue;
		}
		if (r <= 0)
			return r < 0 ? -errno : -AGW_EPROTO;
		rc = hostaddr_nl_apply(&h->set, buf, (size_t)r, NULL);
		if (rc && rc != -AGW_ETOOBIG)
			log_warn("address notification: %s", agw_strerror(rc));
	}
	if (h->set.overflow && !h->warned_full) {
		h->warned_full = true;
		log_warn("more than %d addresses on the gateway host: the rest are not refused",
			 HOSTADDR_MAX);
	}
	return rc == -AGW_ETOOBIG ? 0 : rc;
}

void hostaddr_pass(struct hostaddr *h)
{
	if (!h)
		return;
	h->per_pass = true;
	h->synced = false;
}

enum addr_class hostaddr_classify(struct hostaddr *h, const struct sockaddr *sa)
{
	enum addr_class c = addr_classify(sa);

	/* Loopback keeps its own, clearer name; it is refused either way. */
	if (h && c != ADDR_LOOPBACK) {
		if (!h->per_pass || !h->synced)
			hostaddr_sync(h);
		h->synced = true;
		if (hostaddr_set_has(&h->set, sa))
			return ADDR_GATEWAY;
	}
	return c;
}
