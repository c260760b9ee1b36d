/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Project-wide error convention and small helpers. Library functions return
 * 0 on success or a negative AGW_E* code; agw_strerror() turns a code into
 * text. Codes below AGW_EBASE are plain negated errno values, so a failed
 * system call can be passed up as -errno unchanged.
 */
#ifndef AGW_AGW_H
#define AGW_AGW_H

#include <stddef.h>
#include <stdint.h>

#define AGW_VERSION "0.1.0"

enum agw_err {
	AGW_EBASE = 10000,
	AGW_EPARSE,    /* input did not parse */
	AGW_EPOLICY,   /* policy has errors (see the error list) */
	AGW_ENOMEM,    /* allocation failed */
	AGW_ETOOBIG,   /* input over its maximum size */
	AGW_EINVAL,    /* invalid argument */
	AGW_EFULL,     /* queue full: caller must fail closed */
	AGW_ESCHEMA,   /* database schema newer than this program */
	AGW_EDB,       /* database error (see log for the SQLite text) */
	AGW_ENOTFOUND, /* no such object */
	AGW_ETRUNC,    /* input ends early; more bytes are needed */
	AGW_EPROTO,    /* peer broke the protocol */
	AGW_ELAST
};

/* Text for a negative AGW_E* or -errno code. Never NULL; static storage. */
const char *agw_strerror(int err);

#define AGW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define AGW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define AGW_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Wall clock in unix microseconds (CLOCK_REALTIME). Never blocks. */
int64_t agw_now_us(void);
/* Monotonic clock in microseconds (CLOCK_MONOTONIC). Never blocks. */
int64_t agw_mono_us(void);
/*
 * Write all n bytes to fd, retrying on EINTR and waiting (poll) on EAGAIN
 * when fd is non-blocking. Returns 0 or -errno (-EIO if write returns 0).
 */
int agw_write_all(int fd, const void *buf, size_t n);
/*
 * Closes every file descriptor from 3 up except those in keep (n entries;
 * negative ones and 0-2 ignored, at most 16): for a child just forked,
 * which must not hold what its parent holds (its epoll set, the audit
 * database, another child's channel, a tap). Never fails: without
 * close_range (Linux < 5.9) it closes 3..4095 one by one.
 */
void agw_close_fds_except(const int *keep, size_t n);

/*
 * Writes text (NUL-terminated) to path through path.tmp.<pid> and a rename,
 * so a reader sees the old file or the new one, never half of it; the file
 * gets mode (umask aside: fchmod). Returns 0 or -errno / -AGW_ETOOBIG.
 * Blocks (file I/O).
 */
int agw_write_file(const char *path, const char *text, unsigned mode);
/*
 * The program a name runs: name itself when it holds a '/', else the first
 * executable <dir>/name along $PATH (default /usr/bin:/bin). Returns 0,
 * -ENOENT, -AGW_ETOOBIG. Never blocks.
 */
int agw_which(const char *name, char *buf, size_t cap);
/*
 * Format an error message into err (when err is not NULL and cap > 0) and
 * return code, for `return agw_errf(err, cap, -AGW_EPARSE, "...", ...);`.
 * The message is one line: control bytes (below 0x20, and 0x7f), also
 * those of the values it quotes, become '?'.
 */
int agw_errf(char *err, size_t cap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The value (0-15) of the hex digit c, either case; -1 for anything else. Pure. */
int agw_hexval(int c);
/*
 * The byte a percent-escape "%XX" (RFC 3986 2.1) at the start of p, n bytes
 * long, stands for (0-255); -1 when p does not start with '%' and two hex
 * digits. Pure; shared by the HTTP path check and the policy's path matching
 * so both read an escape the same way.
 */
int agw_pct_byte(const uint8_t *p, size_t n);

#endif
