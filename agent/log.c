// SPDX-License-Identifier: MIT
/* pageflexd's logging (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int pf_log_verbosity = PF_LOG_INFO;

static void vlog(enum pf_log_level lvl, const char *fmt, va_list ap)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "pageflexd[%lld.%03ld] %s: ", (long long)ts.tv_sec % 100000,
		ts.tv_nsec / 1000000, names[lvl]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void pf_log(enum pf_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl > pf_log_verbosity)
		return;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

void pf_log_limited(long long *last, enum pf_log_level lvl, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if ((int)lvl > pf_log_verbosity)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (*last && ts.tv_sec - *last < 1)
		return;
	*last = ts.tv_sec;
	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}
