/* SPDX-License-Identifier: MIT */
/*
 * pageflexd's logging: one line per event on stderr, with a level prefix.
 * -v raises the verbosity; pf_log_ratelimited() keeps a repeating error
 * (e.g. process_madvise failing on every scan) from flooding the log.
 */
#ifndef PAGEFLEX_AGENT_LOG_H
#define PAGEFLEX_AGENT_LOG_H

#include <stdbool.h>

enum pf_log_level { PF_LOG_ERR = 0, PF_LOG_WARN = 1, PF_LOG_INFO = 2, PF_LOG_DEBUG = 3 };

extern int pf_log_verbosity; /* messages at levels <= this are printed */

void pf_log(enum pf_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like pf_log, but at most once per second per call site (*last holds the time). */
void pf_log_limited(long long *last, enum pf_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pf_err(...) pf_log(PF_LOG_ERR, __VA_ARGS__)
#define pf_warn(...) pf_log(PF_LOG_WARN, __VA_ARGS__)
#define pf_info(...) pf_log(PF_LOG_INFO, __VA_ARGS__)
#define pf_dbg(...) pf_log(PF_LOG_DEBUG, __VA_ARGS__)

#endif
