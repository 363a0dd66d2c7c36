// SPDX-License-Identifier: MIT
/* Batched process_madvise (see actuator.h). */
#include "actuator.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/mempolicy.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"

#define PF_MAX_IOV 1024
#define PF_PAGE 4096ull
#define PF_MAX_ACT_THREADS 8
#define PF_PARALLEL_MIN (32ull << 20) /* bytes: below this one thread is enough */

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
	return pf_batch_add_sep(b, start, len);
}

int pf_batch_add_sep(struct pf_batch *b, uint64_t start, uint64_t len)
{
	if (!len)
		return 0;
	if (PF_GROW(b->r, b->cap, b->n + 1, 256))
		return -ENOMEM;
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

/*
 * Cuts r at the boundaries of the VMAs of pid that lie inside it (from
 * /proc/PID/maps) into out. process_madvise() walks a range VMA by VMA and
 * gives up at the first VMA it refuses (EINVAL for a locked, PFN or hugetlb
 * one): the VMAs after it in the same range were never advised. Returns the
 * pieces (0: r lies in one VMA, or the maps could not be read).
 */
static size_t split_at_vmas(int pid, const struct pf_range *r, struct pf_batch *out)
{
	uint64_t s = r->start, e = r->start + r->len, lo, hi, cut = s, mapped = s;
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) != 2 || hi <= s)
			continue;
		if (lo >= e)
			break;
		if (lo > cut) /* a hole: its end is a cut too */
			cut = lo;
		mapped = hi;
		if (hi < e) {
			pf_batch_add_sep(out, cut, hi - cut);
			cut = hi;
		}
	}
	free(line);
	fclose(f);
	if (!out->n)
		return 0;
	if (mapped > e)
		mapped = e;
	if (cut < mapped) /* the last VMA (no hole after it) */
		pf_batch_add_sep(out, cut, mapped - cut);
	return out->n;
}

static uint64_t act_ranges(int pidfd, int pid, enum pf_advice a, const struct pf_range *r,
			   size_t n_r, struct pf_act_stats *st, bool split, struct pf_batch *ok);

static int observe_pid;
static pf_act_observer_fn *observer;

void pf_act_observe(int pid, pf_act_observer_fn *fn)
{
	observe_pid = fn ? pid : 0;
	observer = pid ? fn : NULL;
}

/* Ranges r[0..n) were advised: into ok, if it is collected. */
static void note_ok(struct pf_batch *ok, const struct pf_range *r, size_t n)
{
	size_t i;

	for (i = 0; ok && i < n; i++)
		pf_batch_add(ok, r[i].start, r[i].len);
}

/*
 * r failed with err after the kernel advised some of its VMAs: retries it
 * piece by piece, one VMA each, so only the VMAs the kernel refuses are
 * skipped. Only for EINVAL (a VMA refused) or an unknown error (a partial
 * result); ENOMEM means a hole, which the kernel steps over, and the other
 * errors (EPERM, ESRCH, ...) concern the whole call.
 */
static uint64_t retry_failed(int pidfd, int pid, enum pf_advice a, const struct pf_range *r,
			     int err, struct pf_act_stats *st, struct pf_batch *ok)
{
	struct pf_batch pcs = {0};
	uint64_t done = 0;

	if ((err && err != EINVAL) || r->len <= PF_PAGE)
		return 0;
	if (split_at_vmas(pid, r, &pcs)) {
		st->splits++;
		done = act_ranges(pidfd, pid, a, pcs.r, pcs.n, st, false, ok);
	}
	pf_batch_free(&pcs);
	return done;
}

/*
 * One thread's share: ranges r[0..n), stats into st. Returns the bytes
 * advised; ok (if not NULL) gets the ranges advised. split: a failing range
 * is retried VMA by VMA (retry_failed).
 */
static uint64_t act_ranges(int pidfd, int pid, enum pf_advice a, const struct pf_range *r,
			   size_t n_r, struct pf_act_stats *st, bool split, struct pf_batch *ok)
{
	static long long last_log[PF_ADV_MAX];
	struct iovec iov[PF_MAX_IOV];
	uint64_t done = 0;
	size_t i = 0;

	while (i < n_r) {
		size_t n = 0, j;
		uint64_t want = 0;
		struct timespec t0, t1;
		ssize_t rc;
		int err;

		for (j = i; j < n_r && n < PF_MAX_IOV; j++, n++) {
			iov[n].iov_base = (void *)(uintptr_t)r[j].start;
			iov[n].iov_len = r[j].len;
			want += r[j].len;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		rc = syscall(SYS_process_madvise, pidfd, iov, n, advice_value[a], 0);
		err = errno;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		st->ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000ll + t1.tv_nsec -
				     t0.tv_nsec);
		st->calls++;
		if (rc == (ssize_t)want) {
			st->bytes += want;
			done += want;
			note_ok(ok, r + i, n);
			i += n;
			continue;
		}
		/*
		 * Error or partial progress: the kernel stops at the first failing
		 * iovec, r[j]. Credit the bytes done, retry r[j] VMA by VMA, go on.
		 */
		st->errors++;
		if (rc < 0) {
			if (err == ESRCH || err == EBADF)
				break; /* the process is gone */
			j = i;
		} else {
			st->bytes += (uint64_t)rc;
			done += (uint64_t)rc;
			for (j = i; j < i + n - 1 && (uint64_t)rc >= r[j].len; j++)
				rc -= (ssize_t)r[j].len;
			note_ok(ok, r + i, j - i);
			err = 0; /* whole iovecs were done; r[j]'s error is not reported */
		}
		if (err)
			st->last_errno = err;
		pf_log_limited(&last_log[a], PF_LOG_WARN,
			       "process_madvise(%s) on pid %d failed at %#llx+%llu: %s",
			       pf_advice_name(a), pid, (unsigned long long)r[j].start,
			       (unsigned long long)r[j].len, err ? strerror(err) : "partial");
		if (split)
			done += retry_failed(pidfd, pid, a, &r[j], err, st, ok);
		i = j + 1;
	}
	return done;
}

int pf_act_threads = 1;

struct share {
	pthread_t th;
	bool started;
	int pidfd, pid;
	enum pf_advice a;
	struct pf_batch b;
	struct pf_act_stats st;
	uint64_t done;
	struct pf_batch ok; /* collected only when observed */
	bool observed;
};

static void *share_run(void *arg)
{
	struct share *sh = arg;

	sh->done = act_ranges(sh->pidfd, sh->pid, sh->a, sh->b.r, sh->b.n, &sh->st, true,
			      sh->observed ? &sh->ok : NULL);
	return NULL;
}

/* Splits b into k shares of about equal bytes (cutting ranges at page boundaries). */
static void split(const struct pf_batch *b, struct share *sh, int k)
{
	uint64_t total = 0, per, have = 0;
	size_t i;
	int s = 0;

	for (i = 0; i < b->n; i++)
		total += b->r[i].len;
	per = (total / (uint64_t)k + PF_PAGE - 1) & ~(PF_PAGE - 1);
	for (i = 0; i < b->n; i++) {
		uint64_t start = b->r[i].start, len = b->r[i].len;

		while (len) {
			uint64_t take = len;

			if (s < k - 1 && have + take > per)
				take = per - have;
			pf_batch_add(&sh[s].b, start, take);
			start += take;
			len -= take;
			have += take;
			if (s < k - 1 && have >= per) {
				s++;
				have = 0;
			}
		}
	}
}

/*
 * MADV_PAGEOUT skips, without an error, the pages still in a CPU's per-CPU
 * LRU batch: the last few pages a thread faulted in, until that CPU drains
 * it, which on an idle CPU may be never (the target is often idle: that is
 * why its pages are cold). The kernel drains only the calling CPU's batch.
 * move_pages() of a page to the node it is on migrates nothing but drains
 * every CPU's batch first (lru_cache_disable()). Measured: 4088 of 4096
 * pages out, 4092 after a second PAGEOUT; 4096 after this. MADV_COLD skips
 * them too, leaving their accessed bits set: the next scan would see an
 * access that never happened (test_agent_scanner: 9 untouched pages of
 * 65536 reported accessed, once), so COLD drains as well.
 */
static void drain_lru_batches(int pidfd, int pid, uint64_t addr)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	void *page = (void *)(uintptr_t)addr;
	int node, status = -1;

	/* by pid (move_pages has no pidfd form): only while pidfd says it lives */
	if (poll(&pfd, 1, 0) != 0)
		return;
	if (syscall(SYS_move_pages, pid, 1, &page, NULL, &status, 0) || status < 0)
		return; /* not present, or not allowed: nothing to drain for */
	node = status;
	syscall(SYS_move_pages, pid, 1, &page, &node, &status, MPOL_MF_MOVE);
}

/* pf_act on the normalized b; ok (if not NULL) collects the ranges advised. */
static uint64_t act(int pidfd, int pid, enum pf_advice a, struct pf_batch *b, struct pf_batch *ok)
{
	struct share sh[PF_MAX_ACT_THREADS];
	uint64_t total = 0, done = 0;
	int k = pf_act_threads, t;
	size_t i;

	for (i = 0; i < b->n; i++)
		total += b->r[i].len;
	if ((a == PF_ADV_PAGEOUT || a == PF_ADV_COLD) && b->n)
		drain_lru_batches(pidfd, pid, b->r[0].start);
	/*
	 * PAGEOUT compresses on the calling thread: big batches are shared
	 * among pf_act_threads threads (one per CPU), the rest stays inline.
	 */
	if (a != PF_ADV_PAGEOUT || k < 2 || total < PF_PARALLEL_MIN)
		return act_ranges(pidfd, pid, a, b->r, b->n, &pf_act_stats[a], true, ok);
	if (k > PF_MAX_ACT_THREADS)
		k = PF_MAX_ACT_THREADS;
	memset(sh, 0, sizeof(sh));
	split(b, sh, k);
	for (t = 0; t < k; t++) {
		sh[t].pidfd = pidfd;
		sh[t].pid = pid;
		sh[t].a = a;
		sh[t].observed = ok != NULL;
	}
	for (t = 1; t < k; t++)
		sh[t].started = !pthread_create(&sh[t].th, NULL, share_run, &sh[t]);
	for (t = 0; t < k; t++)
		if (!sh[t].started)
			share_run(&sh[t]); /* this thread's share, or one without a thread */
	for (t = 0; t < k; t++) {
		if (sh[t].started)
			pthread_join(sh[t].th, NULL);
		pf_act_stats[a].calls += sh[t].st.calls;
		pf_act_stats[a].bytes += sh[t].st.bytes;
		pf_act_stats[a].errors += sh[t].st.errors;
		pf_act_stats[a].splits += sh[t].st.splits;
		pf_act_stats[a].ns += sh[t].st.ns;
		if (sh[t].st.last_errno)
			pf_act_stats[a].last_errno = sh[t].st.last_errno;
		done += sh[t].done;
		/* The shares are consecutive parts of b: their ranges stay sorted. */
		note_ok(ok, sh[t].ok.r, sh[t].ok.n);
		pf_batch_free(&sh[t].ok);
		pf_batch_free(&sh[t].b);
	}
	return done;
}

uint64_t pf_act(int pidfd, int pid, enum pf_advice a, struct pf_batch *b)
{
	static struct pf_batch ok;
	bool watch = observer && pid == observe_pid;
	uint64_t done;

	if (a >= PF_ADV_MAX)
		return 0;
	pf_batch_normalize(b);
	if (!watch)
		return act(pidfd, pid, a, b, NULL);
	pf_batch_reset(&ok);
	done = act(pidfd, pid, a, b, &ok);
	observer(pid, a, &ok);
	return done;
}
