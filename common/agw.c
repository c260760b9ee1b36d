// SPDX-License-Identifier: GPL-2.0-or-later
/* Error texts and clocks shared by every module. */
#include "agw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *const agw_texts[] = {
    [AGW_EPARSE - AGW_EBASE] = "parse error",
    [AGW_EPOLICY - AGW_EBASE] = "policy has errors",
    [AGW_ENOMEM - AGW_EBASE] = "out of memory",
    [AGW_ETOOBIG - AGW_EBASE] = "input too large",
    [AGW_EINVAL - AGW_EBASE] = "invalid argument",
    [AGW_EFULL - AGW_EBASE] = "queue full",
    [AGW_ESCHEMA - AGW_EBASE] = "database schema is newer than this agentgw",
    [AGW_EDB - AGW_EBASE] = "database error",
    [AGW_ENOTFOUND - AGW_EBASE] = "not found",
    [AGW_ETRUNC - AGW_EBASE] = "input truncated",
    [AGW_EPROTO - AGW_EBASE] = "protocol error",
};

const char *agw_strerror(int err)
{
	if (err >= 0)
		return "success";
	err = -err;
	if (err > AGW_EBASE && err < AGW_ELAST && agw_texts[err - AGW_EBASE])
		return agw_texts[err - AGW_EBASE];
	if (err < AGW_EBASE)
		return strerror(err);
	return "unknown error";
}

static int64_t agw_clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t agw_now_us(void)
{
	return agw_clock_us(CLOCK_REALTIME);
}

int64_t agw_mono_us(void)
{
	return agw_clock_us(CLOCK_MONOTONIC);
}

int agw_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};

			poll(&pf, 1, 1000);
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int agw_which(const char *name, char *buf, size_t cap)
{
	const char *path = getenv("PATH"), *p, *e;

	if (strchr(name, '/'))
		return (size_t)snprintf(buf, cap, "%s", name) < cap ? 0 : -AGW_ETOOBIG;
	for (p = path && *path ? path : "/usr/bin:/bin"; *p; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		if ((size_t)snprintf(buf, cap, "%.*s/%s", (int)(e - p), p, name) >= cap)
			return -AGW_ETOOBIG;
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int agw_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int agw_pct_byte(const uint8_t *p, size_t n)
{
	int hi, lo;

	if (n < 3 || p[0] != '%')
		return -1;
	hi = agw_hexval(p[1]);
	lo = agw_hexval(p[2]);
	if (hi < 0 || lo < 0)
		return -1;
	return hi * 16 + lo;
}

int agw_errf(char *err, size_t cap, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && cap) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
		/* Messages quote what they were given (a manifest's media
		 * type, a tag, a path): a newline or an escape sequence in it
		 * must not become a second line or drive the terminal. */
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	return code;
}

int agw_write_file(const char *path, const char *text, unsigned mode)
{
	char tmp[4200];
	int fd, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return -AGW_ETOOBIG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	rc = fchmod(fd, mode) < 0 ? -errno : agw_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int agw_int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static void agw_close_span(unsigned lo, unsigned hi)
{
	if (lo > hi)
		return;
	if (syscall(SYS_close_range, lo, hi, 0) == 0)
		return;
	for (unsigned fd = lo; fd <= hi && fd < 4096; fd++)
		close((int)fd);
}

void agw_close_fds_except(const int *keep, size_t n)
{
	int k[16];
	size_t m = 0;
	unsigned lo = 3;

	for (size_t i = 0; i < n && m < AGW_ARRAY_LEN(k); i++)
		if (keep[i] > 2)
			k[m++] = keep[i];
	qsort(k, m, sizeof(k[0]), agw_int_cmp);
	for (size_t i = 0; i < m; i++) {
		if ((unsigned)k[i] < lo)
			continue; /* a duplicate */
		if ((unsigned)k[i] > lo)
			agw_close_span(lo, (unsigned)k[i] - 1);
		lo = (unsigned)k[i] + 1;
	}
	agw_close_span(lo, ~0u);
}
