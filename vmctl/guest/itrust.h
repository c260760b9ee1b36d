/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agentgw-init's side of the gateway's TLS inspection (vmctl/gtrust.h): it
 * takes the sandbox CA and the credential placeholders the host appended to
 * the initramfs, installs the CA where clients look once the final root is
 * in place, and hands every exec the variables that point at it.
 */
#ifndef AGW_ITRUST_H
#define AGW_ITRUST_H

#include <stddef.h>

#include "vmctl/gtrust.h"

struct itrust {
	char *ca; /* the CA as delivered; NULL: nothing delivered */
	size_t ca_len;
	char *env; /* the valid NAME=VALUE lines, NUL-separated */
	size_t env_len;
	int installed; /* the bundle is in place: the CA variables hold */
	/* What every exec gets before its own env: CA variables, then placeholders. */
	const char *vars[GTRUST_N_CA_VARS + GTRUST_MAX_VARS + 1];
	size_t nvars;
};

/*
 * Read GTRUST_CA and GTRUST_ENV (before init leaves the initramfs). Returns
 * 1 when a CA was delivered, 0 when none was (nothing to do), or a negative
 * errno with why[0..cap) set; an env line that gtrust_env_line() refuses is
 * skipped and said in why (return 1). Blocks on file reads only.
 */
int itrust_load(struct itrust *t, char *why, size_t cap);

/*
 * In the root init runs in now: GTRUST_CA and GTRUST_ENV, the system store
 * without an earlier boot's CA plus this one (after GTRUST_MARK),
 * GTRUST_BUNDLE (the CA plus the store's other roots), GTRUST_LOCAL and
 * GTRUST_PROFILE where their folders exist. Each file is replaced by
 * rename. Returns 0 (t->vars then holds the CA variables too) or -errno
 * with why set. Call only after itrust_load() returned 1.
 */
int itrust_install(struct itrust *t, char *why, size_t cap);

/*
 * Nothing was delivered this boot but an earlier boot of this disk installed
 * a CA (GTRUST_CA exists; a resumed Debian sandbox whose policy no longer
 * inspects): take its block out of the system store and remove the files
 * itrust_install() wrote. Returns 0 or -errno with why set.
 */
int itrust_clear(char *why, size_t cap);

#endif
