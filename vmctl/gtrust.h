/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the guest is told about the gateway's TLS inspection (issue 14): the
 * sandbox's CA certificate (public; its key never leaves the host) and one
 * NAME=PLACEHOLDER line per credential. The host appends them to the
 * initramfs as a second newc archive (vmctl/vm.h), so they exist before
 * agentgw-init runs; init then puts the CA into the system store, writes a
 * bundle (the CA plus the image's roots, which are the host's: vmctl/img.h)
 * and gives every exec the variables below. Pure functions over bytes,
 * linked into both libagentgw and the static guest init (libc only).
 */
#ifndef AGW_GTRUST_H
#define AGW_GTRUST_H

#include <stddef.h>

/* Where the host's files land in the initramfs, and stay in the guest. */
#define GTRUST_CA "/etc/agentgw/ca.pem"
#define GTRUST_ENV "/etc/agentgw/env"
/* Written by init: the CA plus the image's roots. */
#define GTRUST_BUNDLE "/etc/agentgw/ca-bundle.pem"
/* The system store OpenSSL, GnuTLS, curl and Go read on Debian (and in the initramfs). */
#define GTRUST_STORE "/etc/ssl/certs/ca-certificates.crt"
/* Where update-ca-certificates looks for local CAs, so a later run keeps it (Debian). */
#define GTRUST_LOCAL_DIR "/usr/local/share/ca-certificates"
#define GTRUST_LOCAL GTRUST_LOCAL_DIR "/agentgw.crt"
/* For login shells that rebuild their environment (Debian). */
#define GTRUST_PROFILE "/etc/profile.d/agentgw.sh"
/* The line init puts before the CA in the system store, to find it at the next boot. */
#define GTRUST_MARK "# agentgw sandbox CA (rewritten at each boot)"

/* Limits of what the host delivers (checked on both sides). */
#define GTRUST_MAX_CA (64 * 1024)
#define GTRUST_MAX_ENV (16 * 1024)
#define GTRUST_MAX_VARS 32
#define GTRUST_MAX_NAME 64
#define GTRUST_MAX_VALUE 256
/* The variables every exec gets pointing at the bundle (or the CA). */
#define GTRUST_N_CA_VARS 6

/*
 * The i-th CA variable as "NAME=PATH" (i < GTRUST_N_CA_VARS; NULL past the
 * end): SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO
 * and PIP_CERT name the bundle (their clients replace their store with it),
 * NODE_EXTRA_CA_CERTS the CA alone (node adds it to its own). Static storage.
 */
const char *gtrust_ca_var(size_t i);

/*
 * Whether p[0..n) is one or more PEM CERTIFICATE blocks and nothing but
 * whitespace around them, at most GTRUST_MAX_CA bytes. Returns 0,
 * -AGW_ETOOBIG, or -AGW_EPARSE. Pure.
 */
int gtrust_pem_check(const char *p, size_t n);

/*
 * Check one line of the env file (without its newline): NAME=VALUE, NAME
 * [A-Za-z_][A-Za-z0-9_]* up to GTRUST_MAX_NAME and not a name init sets
 * itself (PATH, HOME, ..., the CA variables), VALUE 1..GTRUST_MAX_VALUE
 * bytes of [A-Za-z0-9._:/+=@%,-] (safe unquoted in a shell). Sets
 * *name_len. Returns 0, or -AGW_EINVAL with the reason in *why (static
 * storage). Pure.
 */
int gtrust_env_line(const char *line, size_t n, size_t *name_len, const char **why);

/*
 * Copy the system store in[0..n) to out[0..cap) without what an earlier boot
 * added: every block from a GTRUST_MARK line through the next END
 * CERTIFICATE line, and every exact copy of old_ca's first certificate
 * block (old_ca may be NULL: the CA an earlier boot left in
 * GTRUST_LOCAL, which update-ca-certificates copies in without the mark).
 * Returns the output length, or -AGW_ETOOBIG when it does not fit. Pure.
 */
long gtrust_store_strip(const char *in, size_t n, const char *old_ca, size_t old_n, char *out,
			size_t cap);

#endif
