/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the supervisor makes at start for TLS inspection and credentials
 * (issue 14) and hands the guest side: the per-sandbox CA (certificate and
 * key in memory only), the credentials read from their sources with a
 * random placeholder each, and the guest folder
 *
 *   <run dir>/<name>/guest/ca.pem   the CA certificate (PEM), 0644
 *   <run dir>/<name>/guest/env      NAME=PLACEHOLDER, one line per credential, 0644
 *
 * (<run dir>: $AGENTGW_RUN_DIR when absolute, else /run/agentgw), written
 * before the VM starts. The CA's key and the secrets go to the net child
 * in memory across fork and are freed (wiped) in the supervisor right
 * after; nothing secret is written anywhere.
 */
#ifndef AGW_SUPGUEST_H
#define AGW_SUPGUEST_H

#include <stddef.h>

#include "agw.h"
#include "policies/pol.h"

#define SUPGUEST_DIR "guest"
#define SUPGUEST_CA "ca.pem"
#define SUPGUEST_ENV "env"

struct tlsi_ca;
struct cred_set;

struct supguest {
	struct tlsi_ca *ca;
	struct cred_set *creds;
	char dir[4096]; /* the guest folder */
};

/*
 * Reads the credentials (may block: files, commands), makes the CA
 * (valid TLSI_CA_MARGIN_DAYS: a new one is made at every start) and writes
 * the guest folder under state_dir. Returns 0, or a negative code with a
 * line in err (a credential's error names it, never its value).
 */
int supguest_make(struct supguest *g, const char *name, const char *state_dir,
		  const struct pol *p, char *err, size_t errcap);
/* Frees the CA and wipes the secrets (call once the net child has them). */
void supguest_release(struct supguest *g);
/* Removes the guest folder. */
void supguest_remove(const struct supguest *g);

#endif
