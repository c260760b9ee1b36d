/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The gateway's own upstream resolver: c-ares driven by the ev loop (its
 * sockets registered through ARES_OPT_SOCK_STATE_CB, its timeouts through
 * one ev timer), answering A or AAAA lookups with addresses and TTLs. Only
 * DNS is consulted (no hosts file, no search list). Answers are cached for
 * their TTL, between 1 and 60 s (gateway/net/rcache.h): the DNS server and
 * the proxy asking for the same name share one upstream lookup.
 * Single-threaded, never blocks.
 */
#ifndef AGW_RES_H
#define AGW_RES_H

#include <stddef.h>
#include <stdint.h>

#include "agw.h"
#include "ev.h"

#define RES_MAX_ADDRS 16
#define RES_MAX_PENDING 512

struct res;
struct res_req;

enum res_status {
	RES_OK = 0,   /* addresses (maybe none: NODATA) */
	RES_NXDOMAIN, /* the name does not exist */
	RES_FAIL,     /* upstream failure, timeout, refused */
};

struct res_answer {
	int status; /* enum res_status */
	int family; /* AF_INET or AF_INET6 */
	size_t n;
	uint8_t addr[RES_MAX_ADDRS][16];
	uint32_t ttl[RES_MAX_ADDRS];
	const char *error; /* c-ares text when RES_FAIL */
};

/* Called once per res_lookup() unless cancelled; ans valid during the call. */
typedef void res_cb(const struct res_answer *ans, void *ctx);

/*
 * New resolver on loop. servers: n "ip" or "ip:port" strings; n == 0 uses
 * the system's /etc/resolv.conf. Returns 0 and *out, -AGW_EINVAL for a bad
 * server, -AGW_ENOMEM, or -AGW_EPROTO when c-ares cannot start.
 */
int res_new(struct ev_loop *loop, const char *const *servers, size_t n, struct res **out);
/* Cancels every outstanding lookup (their callbacks do not run). NULL-safe. */
void res_free(struct res *r);

/*
 * Looks name up (family AF_INET: A, AF_INET6: AAAA). The callback runs from
 * the loop later, never from inside this call. Returns a request handle
 * (valid until the callback runs or res_cancel), or NULL when too many
 * lookups are pending or memory ran out (treat as RES_FAIL).
 */
struct res_req *res_lookup(struct res *r, const char *name, int family, res_cb *cb, void *ctx);
/* The callback of req will not run. Must not be called after it ran. */
void res_cancel(struct res_req *req);
/* Lookups outstanding. */
size_t res_pending(const struct res *r);

#endif
