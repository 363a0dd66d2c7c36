// SPDX-License-Identifier: MIT
/* Batched process_madvise (see actuator.h). */
#include "actuator.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define PF_MAX_IOV 1024
#define PF_PAGE 4096ull

struct pf_act_stats pf_act_stats[PF_ADV_MAX];

static const int advice_value[PF_ADV_MAX] = {
	[PF_ADV_PAGEOUT] = MADV_PAGEOUT,
	[PF_ADV_COLD] = MADV_COLD,
	[PF_ADV_WILLNEED] = MADV_WILLNEED,
};

const char *pf_advice_name(enum pf_advice a)
{
	static const char *const names[PF_ADV_MAX] = {"PAGEOUT", "COLD", "WILLNEED"};

	return a < PF_ADV_MAX ? names[a] : "?";
}

int pf_batch_add(struct pf_batch *b, uint64_t start, uint64_t len)
{
	if (!len)
		return 0;
	if (b->n && b->r[b->n - 1].start + b->r[b->n - 1].len == start) {
		b->r[b->n - 1].len += len;
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		struct pf_range *r = realloc(b->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		b->r = r;
		b->cap = cap;
	}
	b->r[b->n].start = start;
	b->r[b->n].len = len;
	b->n++;
	return 0;
}

void pf_batch_reset(struct pf_batch *b)
{
	b->n = 0;
}

void pf_batch_free(struct pf_batch *b)
{
	free(b->r);
	memset(b, 0, sizeof(*b));
}

static int cmp_range(const void *a, const void *b)
{
	const struct pf_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void pf_batch_normalize(struct pf_batch *b)
{
	size_t i, o = 0;

	/* Page-align outward-safe: round the start down, the end up. */
	for (i = 0; i < b->n; i++) {
		uint64_t s = b->r[i].start & ~(PF_PAGE - 1);
		uint64_t e = (b->r[i].start + b->r[i].len + PF_PAGE - 1) & ~(PF_PAGE - 1);

		b->r[i].start = s;
		b->r[i].len = e - s;
	}
	qsort(b->r, b->n, sizeof(*b->r), cmp_range);
	for (i = 0; i < b->n; i++) {
		if (!b->r[i].len)
			continue;
		if (o && b->r[o - 1].start + b->r[o - 1].len >= b->r[i].start) {
			uint64_t e = b->r[i].start + b->r[i].len;

			if (e > b->r[o - 1].start + b->r[o - 1].len)
				b->r[o - 1].len = e - b->r[o - 1].start;
			continue;
		}
		b->r[o++] = b->r[i];
	}
	b->n = o;
}

uint64_t pf_act(int pidfd, int pid, enum pf_advice a, struct pf_batch *b)
{
	static long long last_log[PF_ADV_MAX];
	struct pf_act_stats *st = &pf_act_stats[a];
	struct iovec iov[PF_MAX_IOV];
	uint64_t done = 0;
	size_t i = 0;

	if (a >= PF_ADV_MAX)
		return 0;
	pf_batch_normalize(b);
	while (i < b->n) {
		size_t n = 0, j;
		uint64_t want = 0;
		struct timespec t0, t1;
		ssize_t rc;

		for (j = i; j < b->n && n < PF_MAX_IOV; j++, n++) {
			iov[n].iov_base = (void *)(uintptr_t)b->r[j].start;
			iov[n].iov_len = b->r[j].len;
			want += b->r[j].len;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		rc = syscall(SYS_process_madvise, pidfd, iov, n, advice_value[a], 0);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		st->ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + t1.tv_nsec -
				     t0.tv_nsec);
		st->calls++;
		if (rc == (ssize_t)want) {
			st->bytes += want;
			done += want;
			i += n;
			continue;
		}
		/*
		 * Error or partial progress: the kernel stops at the first failing
		 * iovec. Credit the bytes done, skip the failing range, go on.
		 */
		st->errors++;
		if (rc < 0) {
			st->last_errno = errno;
			pf_log_limited(&last_log[a], PF_LOG_WARN,
				       "process_madvise(%s) on pid %d failed at %#llx+%llu: %s",
				       pf_advice_name(a), pid, (unsigned long long)b->r[i].start,
				       (unsigned long long)b->r[i].len, strerror(errno));
			if (errno == ESRCH || errno == EBADF)
				break; /* the process is gone */
			i++;
			continue;
		}
		st->bytes += (uint64_t)rc;
		done += (uint64_t)rc;
		for (j = i; j < i + n; j++) {
			if ((uint64_t)rc < b->r[j].len)
				break;
			rc -= (ssize_t)b->r[j].len;
		}
		pf_log_limited(&last_log[a], PF_LOG_WARN,
			       "process_madvise(%s) on pid %d stopped at %#llx: partial",
			       pf_advice_name(a), pid,
			       (unsigned long long)b->r[j < b->n ? j : b->n - 1].start);
		i = j + 1;
	}
	return done;
}
