/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Published ports: `up -p [HOST_IP:]HOST_PORT:GUEST_PORT` makes a server in
 * the guest (a dev server the agent started) reachable from the host. The
 * supervisor listens on HOST_IP:HOST_PORT (default 127.0.0.1) and relays
 * each connection to the guest's address and GUEST_PORT from the host end
 * of the tap, in its event loop: bytes are copied, never parsed. Each
 * connection is audited as net/inbound (allow, or error when the guest
 * refused it) and net/close (bytes each way, duration). Inbound only: the
 * guest still reaches nothing but the gateway.
 */
#ifndef AGW_PUB_H
#define AGW_PUB_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define PUB_MAX 16	 /* -p options per sandbox */
#define PUB_CONNS_MAX 64 /* relayed connections at once per sandbox */

struct ev_loop;
struct aud_event;

struct pub_spec {
	struct in_addr host_ip; /* network order */
	uint16_t host_port, guest_port;
};

/*
 * Parse "[HOST_IP:]HOST_PORT:GUEST_PORT" (IPv4 only; ports 1..65535).
 * Pure. Returns 0, or -AGW_EPARSE.
 */
int pub_parse(const char *s, struct pub_spec *out);
/* "127.0.0.1:8080->3000" for ps and info. Pure. Returns the length. */
size_t pub_str(const struct pub_spec *p, char *buf, size_t cap);

/* Audit sink: cmd_up passes one that calls sup_emit(). */
typedef void pub_emit_fn(void *ctx, const struct aud_event *ev);

struct pub;
/*
 * Listen on every spec's host address (SO_REUSEADDR) and relay to guest.
 * Registers its fds with loop. On error writes a one-line reason naming
 * the address to err. Returns 0 and *out, or -errno / -AGW_ENOMEM.
 */
int pub_new(struct ev_loop *loop, const struct pub_spec *v, size_t n, struct in_addr guest,
	    pub_emit_fn *emit, void *ctx, struct pub **out, char *err, size_t errcap);
/* Close listeners and connections (each open one gets its close row). NULL-safe. */
void pub_free(struct pub *p);

#endif
