/* SPDX-License-Identifier: MIT */
/*
 * The actuator: batched process_madvise() on another process's memory.
 * Ranges are page-aligned, sorted, adjacent ones merged, and sent at most
 * 1024 iovecs (UIO_MAXIOV) per call. Only advices that cannot lose data are
 * accepted: MADV_PAGEOUT, MADV_COLD, MADV_WILLNEED. Errors are counted and
 * logged, never fatal. The kernel gives up on a range at the first VMA it
 * refuses (EINVAL for a locked one), so a failing range is retried VMA by
 * VMA and only the refused VMAs are skipped; the rest still go out. Pages
 * an advice skips silently (not isolable at that moment) are not tracked
 * here: the next scan sees them still present and picks them again.
 * PAGEOUT does its compression on the calling thread, so a large PAGEOUT
 * batch is shared among pf_act_threads threads. One observer (the
 * recorder) may be told what one process was advised.
 */
#ifndef PAGEFLEX_ACTUATOR_H
#define PAGEFLEX_ACTUATOR_H

#include <stddef.h>
#include <stdint.h>

struct pf_range {
	uint64_t start, len; /* bytes, page-aligned */
};

/* A growing list of ranges for one advice. */
struct pf_batch {
	struct pf_range *r;
	size_t n, cap;
};

struct pf_act_stats {
	uint64_t calls; /* process_madvise calls */
	uint64_t bytes; /* bytes advised successfully */
	uint64_t errors; /* failed calls or ranges */
	uint64_t splits; /* failed ranges retried VMA by VMA */
	uint64_t ns; /* CPU time (this thread) inside process_madvise */
	int last_errno;
};

enum pf_advice { PF_ADV_PAGEOUT, PF_ADV_COLD, PF_ADV_WILLNEED, PF_ADV_MAX };

extern struct pf_act_stats pf_act_stats[PF_ADV_MAX];
/* Threads sharing a large PAGEOUT batch (the agent sets it to the CPU count). */
extern int pf_act_threads;

const char *pf_advice_name(enum pf_advice a);

/* Appends [start, start+len); merges with the last range when adjacent. 0 or -ENOMEM. */
int pf_batch_add(struct pf_batch *b, uint64_t start, uint64_t len);
/* Appends [start, start+len) as a range of its own (never merged). */
int pf_batch_add_sep(struct pf_batch *b, uint64_t start, uint64_t len);
void pf_batch_reset(struct pf_batch *b);
void pf_batch_free(struct pf_batch *b);
/* Sorts and merges adjacent or overlapping ranges. */
void pf_batch_normalize(struct pf_batch *b);

/*
 * Applies advice to every range of b in the process of pidfd (b is
 * normalized first). Returns the bytes advised; errors are counted in
 * pf_act_stats and logged with pid.
 */
uint64_t pf_act(int pidfd, int pid, enum pf_advice a, struct pf_batch *b);

/*
 * One observer of the advice given to one process (the recorder): after
 * every pf_act on pid, fn gets the ranges that process_madvise reported
 * done, sorted and merged (the bytes pf_act returns): whole iovecs, and
 * after a failure the VMAs that the VMA-by-VMA retry got through. A range
 * that failed is left out even if the kernel advised part of it (ENOMEM: a
 * hole in it). pid 0 or fn NULL: none (then nothing is collected).
 */
typedef void pf_act_observer_fn(int pid, enum pf_advice a, const struct pf_batch *done);
void pf_act_observe(int pid, pf_act_observer_fn *fn);

#endif
