/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The gateway host's own addresses: every address assigned to any
 * interface of the net child's network namespace (IPv4 and IPv6, loopback,
 * the tap and the uplink), kept current through an rtnetlink subscription
 * (RTM_NEWADDR / RTM_DELADDR), so the proxy and the DNS server can refuse a
 * name that resolves to the gateway itself (a service on 0.0.0.0 there)
 * unless a cidr rule names the address.
 *
 * The set and the netlink message parser are pure (hostaddr_set_*,
 * hostaddr_nl_apply: no I/O, unit tested and fuzzed); struct hostaddr adds
 * the sockets. Open it before the child drops privileges; afterwards it
 * only reads its subscription socket (and re-dumps on its dump socket when
 * the kernel reports lost notifications).
 */
#ifndef AGW_HOSTADDR_H
#define AGW_HOSTADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "agw.h"
#include "gateway/net/addr.h"

#define HOSTADDR_MAX 65536 /* addresses kept; more are not refused (logged) */

struct hostaddr_ent {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint32_t ifindex;
	uint8_t a[16]; /* IPv4 in the first 4 bytes */
};

/* A set of (family, address, interface). Zero-initialised is empty. */
struct hostaddr_set {
	struct hostaddr_ent *v;
	size_t n, cap;
	bool overflow; /* an address did not fit (HOSTADDR_MAX) */
};

/* Frees the entries and empties the set. NULL-safe. */
void hostaddr_set_clear(struct hostaddr_set *s);
/* Adds (no duplicates). Returns 0, -AGW_ETOOBIG at HOSTADDR_MAX (overflow
 * is then set), -AGW_ENOMEM, -AGW_EINVAL for another family. */
int hostaddr_set_add(struct hostaddr_set *s, int family, uint32_t ifindex, const uint8_t *a);
/* Removes one (family, address, ifindex); absent is fine. */
void hostaddr_set_del(struct hostaddr_set *s, int family, uint32_t ifindex, const uint8_t *a);
/* Is the address of sa (port ignored) on any interface? NULL-safe. */
bool hostaddr_set_has(const struct hostaddr_set *s, const struct sockaddr *sa);

/*
 * Applies one rtnetlink datagram (one or more messages) to s: RTM_NEWADDR
 * adds IFA_LOCAL (or IFA_ADDRESS when there is no IFA_LOCAL), RTM_DELADDR
 * removes it; other message types are ignored. *done is set when an
 * NLMSG_DONE is seen (end of a dump). Returns 0, -AGW_EPARSE for a
 * malformed message (messages before it are applied), -AGW_EPROTO for an
 * NLMSG_ERROR with a non-zero error, or a hostaddr_set_add error.
 */
int hostaddr_nl_apply(struct hostaddr_set *s, const uint8_t *buf, size_t len, bool *done);

struct hostaddr;

/*
 * Subscribes to address changes, then dumps the current addresses (in
 * that order, so no change is missed). Returns 0 and *out, or -errno /
 * -AGW_ENOMEM / -AGW_EPROTO. Blocks briefly (the dump; at most 2 s).
 */
int hostaddr_new(struct hostaddr **out);
/* Closes the sockets. NULL-safe. */
void hostaddr_free(struct hostaddr *h);
/* The non-blocking subscription socket, for EV_READ; owned by h. */
int hostaddr_fd(const struct hostaddr *h);
/*
 * Applies every queued notification without blocking; on lost
 * notifications (ENOBUFS) re-reads the whole list (blocks briefly).
 * Returns 0 or -errno / -AGW_E*.
 */
int hostaddr_sync(struct hostaddr *h);
/* Addresses known (all interfaces, both families). */
size_t hostaddr_count(const struct hostaddr *h);

/*
 * Starts a pass of the caller's event loop (call it before each wait):
 * from then on hostaddr_classify applies the queued notifications once per
 * pass (at its first call after this), not on every call. A notification
 * that arrives during a pass is applied in the next one, which the
 * subscription socket's readiness starts at once. NULL-safe.
 */
void hostaddr_pass(struct hostaddr *h);

/*
 * ADDR_GATEWAY when sa is one of the gateway's own addresses (queued
 * notifications are applied first: on every call, or once per pass after
 * hostaddr_pass) and not loopback, otherwise
 * addr_classify(sa). With h NULL, addr_classify(sa). Does not block, except for a re-read after
 * lost notifications.
 */
enum addr_class hostaddr_classify(struct hostaddr *h, const struct sockaddr *sa);

#endif
