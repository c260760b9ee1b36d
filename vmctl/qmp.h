/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A minimal QMP client (jansson): connect to QEMU's QMP unix socket, do the
 * capabilities handshake, run a command and wait for its reply, skipping
 * asynchronous events. Used to stop a guest that did not power off.
 */
#ifndef AGW_QMP_H
#define AGW_QMP_H

struct qmp;

/*
 * Connect to path and negotiate capabilities, waiting at most timeout_ms.
 * Returns 0 and *out, or -errno / -AGW_EPROTO. Blocks up to timeout_ms.
 */
int qmp_connect(const char *path, int timeout_ms, struct qmp **out);

/*
 * Run a command without arguments ("quit", "system_powerdown", "query-status")
 * and wait for its "return". For "quit" the connection closing counts as
 * success. Returns 0, -AGW_EPROTO when QEMU answered an error, -ETIMEDOUT.
 */
int qmp_execute(struct qmp *q, const char *command, int timeout_ms);

/* Close the connection; NULL-safe. */
void qmp_free(struct qmp *q);

#endif
