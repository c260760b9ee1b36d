// SPDX-License-Identifier: GPL-2.0-or-later
/* stderr logging: "agentgw[role] LEVEL message", one write per line. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_role = "agentgw";
static enum log_level log_level = LOG_LVL_INFO;

void log_init(const char *role, enum log_level level)
{
	if (role)
		log_role = role;
	log_level = level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char line[1024];
	int saved = errno;
	int n;
	va_list ap;

	if (level > log_level)
		return;
	n = snprintf(line, sizeof(line), "agentgw[%s] %s: ", log_role, names[level]);
	if (n < 0)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One line, nothing that drives a terminal: messages quote names and
	 * paths that can come from the guest or a file. */
	for (char *p = line + n; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	n = (int)strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nothing better to do with a failed log write */
	}
	errno = saved;
}
