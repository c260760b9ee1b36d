/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging to stderr with a level and the process role. One line
 * per call, written with a single write(2) so lines from children do not
 * interleave; control bytes in the message (a quoted name with a newline or
 * an escape sequence) are written as '?'. Never blocks for long (stderr may
 * be a pipe).
 */
#ifndef AGW_LOG_H
#define AGW_LOG_H

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the role shown in each line ("supervisor", "net", "fs") and the level. */
void log_init(const char *role, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
