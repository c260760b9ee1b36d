/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS inspection for the transparent proxy (OpenSSL libssl): the
 * per-sandbox CA the supervisor makes at start (its key never touches a
 * disk: the supervisor makes it in memory and the net child inherits it
 * across fork), leaf certificates minted from it per SNI name and cached,
 * the server side that accepts the guest's TLS with such a leaf, and the
 * client side that dials the upstream with verification against the
 * host's roots plus network.tls.upstream_ca and the name the policy
 * allowed. ALPN: only http/1.1 is offered upstream and accepted from the
 * guest (the proxy judges HTTP/1 requests; h2 is not inspected).
 *
 * Everything that reads files (roots, upstream_ca) happens in tlsi_new,
 * before the net child drops privileges; later calls only compute and do
 * I/O on fds they are given. Non-blocking: tlsi_handshake, tlsi_read and
 * tlsi_write never block and report what the fd must become ready for.
 */
#ifndef AGW_TLSI_H
#define AGW_TLSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agw.h"

#define TLSI_LEAF_CACHE 256    /* leaf certificates kept (per name) */
#define TLSI_LEAF_DAYS 7       /* a leaf's validity, capped by the CA's */
#define TLSI_REC_PLAIN 16384   /* largest TLS record plaintext */
#define TLSI_CA_MARGIN_DAYS 30 /* the CA outlives the sandbox by this */

/* The CA: a certificate and its private key (OpenSSL objects). */
struct tlsi_ca;
/* The net child's inspection state: the CA, the leaf key and cache, the
 * two SSL_CTX (guest-facing server, upstream-facing client). */
struct tlsi;
struct ssl_st; /* OpenSSL's SSL */

/*
 * Makes a CA for the sandbox: EC P-256, CN "agentgw sandbox <name> CA",
 * basicConstraints CA:TRUE critical, keyUsage keyCertSign+cRLSign
 * critical, valid from an hour ago for days. Returns 0 and *out, or
 * -AGW_ENOMEM / -AGW_EINVAL. Never blocks (getrandom).
 */
int tlsi_ca_new(const char *name, unsigned days, struct tlsi_ca **out);
/* Frees the CA and its key. NULL-safe. */
void tlsi_ca_free(struct tlsi_ca *ca);
/* The CA certificate in PEM (malloc'd, NUL-terminated, caller frees), or NULL. */
char *tlsi_ca_pem(const struct tlsi_ca *ca);

/*
 * The net child's state. Takes ownership of ca (also on error). Loads the
 * host's roots (SSL_CERT_FILE or OpenSSL's default file) and upstream_ca
 * (may be NULL) now. Returns 0 and *out, or a negative code with a line in
 * err[errcap] (e.g. the upstream_ca file cannot be read). Blocks on the
 * file reads.
 */
int tlsi_new(struct tlsi_ca *ca, const char *upstream_ca, struct tlsi **out, char *err,
	     size_t errcap);
void tlsi_free(struct tlsi *t); /* NULL-safe */

/*
 * The guest-facing side of one connection: an SSL that presents a leaf
 * for name (minted now or taken from the cache), reading first the pre
 * bytes (the ClientHello the proxy already read; copied) and then fd.
 * Returns NULL when out of memory or the leaf cannot be made.
 */
struct ssl_st *tlsi_server(struct tlsi *t, const char *name, int fd, const uint8_t *pre, size_t pre_len);
/* The upstream side: SNI name, certificate checked for name and against
 * the roots; ALPN http/1.1. NULL when out of memory. */
struct ssl_st *tlsi_client(struct tlsi *t, const char *name, int fd);
/* SSL_free (NULL-safe). */
void tlsi_ssl_free(struct ssl_st *ssl);

/* EV_READ / EV_WRITE (ev.h) bits in *want. */
/*
 * Advances the handshake. Returns 1 when complete, 0 when it waits for
 * *want, -AGW_EPROTO on failure with the reason in why[cap] (for the
 * client side, the verification error: "certificate has expired", ...).
 */
int tlsi_handshake(struct ssl_st *ssl, unsigned *want, char *why, size_t cap);
/*
 * Reads up to cap plaintext bytes. Returns the count, 0 at the end of the
 * stream (close_notify or a bare TCP close), -EAGAIN with *want set, or
 * -AGW_EPROTO. With cap >= TLSI_REC_PLAIN, nothing stays buffered inside
 * OpenSSL afterwards, so the fd's readiness tells when to read again.
 */
ssize_t tlsi_read(struct ssl_st *ssl, void *buf, size_t cap, unsigned *want);
/* Writes up to len bytes (partial writes). Returns the count, -EAGAIN
 * with *want, or -AGW_EPROTO. A retry after -EAGAIN must offer at least
 * the same bytes (they may have moved). */
ssize_t tlsi_write(struct ssl_st *ssl, const void *buf, size_t len, unsigned *want);
/* Sends close_notify (best effort; the caller then shuts the fd down). */
void tlsi_shutdown(struct ssl_st *ssl);
/* Leaves minted since start (for tests and stats). */
uint64_t tlsi_minted(const struct tlsi *t);

#endif
