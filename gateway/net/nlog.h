/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reader for the NFLOG group the sandbox's nftables table (vmctl/fw.h) logs
 * dropped packets to, for an epoll loop: the fd is non-blocking and
 * nlog_read() drains what is queued, summarising each packet (pkt.h) and
 * handing it to a callback with its log prefix ("agw:<name>:<why>"). Also
 * a token-bucket rate limiter, so a flood of drops becomes a bounded number
 * of audit events plus "N more dropped" summaries.
 *
 * Only one socket per network namespace can bind a given NFLOG group:
 * give each sandbox its own group (fw_config.nflog_group).
 */
#ifndef AGW_NLOG_H
#define AGW_NLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "agw.h"
#include "gateway/net/pkt.h"

struct nlog;

/* Counters since nlog_open. */
struct nlog_stats {
	uint64_t packets;      /* packets handed to the callback */
	uint64_t parse_errors; /* packets pkt_summarize could not parse (not handed over) */
	uint64_t overruns;     /* times the kernel reported lost messages (ENOBUFS) */
};

/*
 * Binds NFLOG group `group` in the caller's network namespace (needs
 * CAP_NET_ADMIN) and sets copy-packet mode with a small batching delay.
 * *out is NULL on entry, the new reader on success. Returns 0, -EPERM when
 * another socket holds the group (the kernel's answer; also without
 * CAP_NET_ADMIN), -AGW_ENOMEM, or -errno. Does not block.
 */
int nlog_open(uint16_t group, struct nlog **out);

/* The non-blocking socket to watch for EPOLLIN; owned by the reader. */
int nlog_fd(const struct nlog *nl);

/*
 * Callback for each logged packet. pi is valid only during the call (for a
 * capture cut short, has_ports/has_icmp may be false); prefix is the log
 * prefix, "" when none, never NULL.
 */
typedef void (*nlog_cb)(void *ctx, const struct pkt_info *pi, const char *prefix);

/*
 * Reads what is queued on the socket without blocking (at most a bounded
 * number of datagrams per call, so one flood cannot starve the loop; with
 * level-triggered epoll the rest comes on the next wake-up) and calls cb
 * for each packet. Returns the number of packets handed over (>= 0), or
 * -errno for a socket error other than EAGAIN/EINTR/ENOBUFS (ENOBUFS is
 * counted in stats.overruns).
 */
int nlog_read(struct nlog *nl, nlog_cb cb, void *ctx);

/* Copies the counters. */
void nlog_get_stats(const struct nlog *nl, struct nlog_stats *st);

/* Unbinds and closes. NULL-safe. */
void nlog_free(struct nlog *nl);

/*
 * Splits a prefix "agw:<name>:<why>" into name (copied into name[cap]) and
 * why (points into prefix). Returns 0, or -AGW_EPARSE when the prefix is
 * not of that form (name then "", *why NULL), -AGW_ETOOBIG when the name
 * does not fit.
 */
int nlog_prefix_parse(const char *prefix, char *name, size_t cap, const char **why);

/*
 * Token bucket: `rate` events per second, up to `burst` at once. Plain
 * value, no allocation: embed it per sandbox and nlog_ratelimit_init it.
 */
struct nlog_ratelimit {
	uint64_t rate;	     /* tokens per second */
	uint64_t burst;	     /* bucket size in tokens */
	uint64_t credit;     /* tokens * 1e6 */
	int64_t last_us;     /* monotonic time of the last refill */
	uint64_t suppressed; /* denied since the last take */
	uint64_t total_suppressed;
};

#define NLOG_RATE_DEFAULT 20
#define NLOG_BURST_DEFAULT 100

/* rate 0 or burst 0 are raised to 1. The bucket starts full. */
void nlog_ratelimit_init(struct nlog_ratelimit *rl, uint32_t rate, uint32_t burst, int64_t now_us);

/*
 * True when an event may be emitted now (a token is taken); false when it
 * is to be suppressed (counted). now_us is agw_mono_us(); a clock that goes
 * backwards adds no tokens. Never blocks.
 */
bool nlog_ratelimit_allow(struct nlog_ratelimit *rl, int64_t now_us);

/*
 * Returns how many events were suppressed since the last call and resets
 * that count: when > 0 the caller emits one summary event ("N more
 * dropped"), e.g. from a one-second timer or before the next allowed event.
 */
uint64_t nlog_ratelimit_take_suppressed(struct nlog_ratelimit *rl);

#endif
