/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transparent TCP proxy: takes the connections nftables redirected from
 * the sandbox, finds the original destination (SO_ORIGINAL_DST), peeks at
 * the first bytes (TLS ClientHello -> SNI, HTTP/1.x -> Host, method, path),
 * decides with the policy, and relays to the address the gateway itself
 * resolved for the name (never the one the agent chose). Without a name the
 * original destination must be bound to an allowed name by the sandbox's
 * DNS answers, or allowed by a cidr rule. A name the policy asks about
 * (verdict ask) holds the connection, nothing dialed, until a person
 * answers (netd_ask_start) or the supervisor's ask_timeout denies it. Special-purpose addresses are
 * refused unless a cidr rule allows them. Plain HTTP is judged request by
 * request on keep-alive connections; a denied request gets a 403 naming
 * the rule, sent as soon as the responses to the earlier requests are
 * complete. CONNECT and method override headers (X-HTTP-Method-Override
 * and kin) are refused whatever the policy says; an Upgrade request turns
 * the connection into a raw relay only once upstream answered it with 101.
 * Names are dialed over IPv4 only: a name without A records is refused
 * (audited as an error, "no IPv4 address"). TLS to a host the policy
 * inspects ends at the gateway (prx_tls.c, tlsi.c): its requests are then
 * judged as plain HTTP's are, credentials injected in their header and
 * their placeholders refused anywhere else (cred.c). Runs on the net
 * child's loop; never blocks.
 */
#ifndef AGW_PRX_H
#define AGW_PRX_H

#include "netd.h"

#define PRX_BUF 65536	 /* per direction */
#define PRX_PIPE_BYTES (256 * 1024) /* splice pipe for bulk downloads (asked; may get less) */
#define PRX_PEEK_MS 5000 /* first bytes */
#define PRX_RESOLVE_MS 10000
#define PRX_CONNECT_MS 10000
#define PRX_IDLE_MS 300000
#define PRX_DRAIN_MS 5000
#define PRX_EMFILE_PAUSE_MS 200
#define PRX_ASK_SLACK_MS 5000 /* past ask_timeout: the supervisor did not answer */

struct prx;

/* Starts accepting on listen_fd (prx takes ownership). Returns 0 and *out,
 * or -AGW_ENOMEM / -errno. */
int prx_new(struct netd *n, int listen_fd, struct prx **out);
/* Closes the listener and every session (close events are recorded).
 * NULL-safe. */
void prx_free(struct prx *px);
/* Stops (on false) or resumes accepting connections; they wait in the
 * listener's backlog meanwhile. NULL-safe. */
void prx_intake(struct prx *px, bool on);
/* Sessions alive. */
size_t prx_sessions(const struct prx *px);

#endif
