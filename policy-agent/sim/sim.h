/* SPDX-License-Identifier: MIT */
/*
 * The simulator's engine: replays a stream of trace events (trace.h)
 * through reclaim and prefetch policies under per-region memory budgets and
 * counts what happens. It runs the policies' own code (policies/), the same
 * the agent runs live.
 *
 * Model: a region's pages are untouched, resident or swapped. An access to
 * an untouched page is a first-touch fault; to a swapped page, a swap-in
 * fault (a refault) unless a prefetch brought it back first (a prefetch
 * hit). Live FAULT records and the accessed bits of SCAN records count as
 * accesses. Every scan_ms, and before each reclaim, pending accessed bits
 * are folded into the policy's per-page state (the scan). When a region
 * exceeds its budget, the lowest-weight pages are paged out in batches
 * (Belady MIN instead evicts the page used farthest in the future; it needs
 * a second pass over the events). Promotion-rate and cold-age thresholds
 * act at each periodic scan.
 */
#ifndef PAGEFLEX_SIM_H
#define PAGEFLEX_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "rules.h"
#include "threshold.h"
#include "trace.h"

/* Largest region the simulator takes (pages): 4 PiB of address space. Only
 * touched pages cost memory. */
#define PF_SIM_MAX_REGION_PAGES (1ull << 40)

/* A replayable event stream. */
struct sim_source {
	void *ctx;
	/* 1: event, 0: end, -1: error (in err). */
	int (*next)(void *ctx, struct pf_trace_event *ev, char *err, size_t errlen);
	/* Back to the first event; 0 or -1 with err. */
	int (*rewind)(void *ctx, char *err, size_t errlen);
};

struct sim_cfg {
	struct pf_binding def; /* policy used where no rule applies */
	bool min; /* Belady MIN instead of def.reclaim */
	const struct pf_rules *rules; /* optional */
	uint64_t scan_ms; /* periodic scan (0: 10) */
	uint64_t batch; /* pages per reclaim batch (0: budget / 64, at least 1) */
	bool phase_hot; /* phase-entry prefetch of last run's hot pages */
	uint64_t hot_window_ms; /* pages used this long before a phase ends are hot */
	uint32_t memo_entries, memo_pages; /* phase memory bounds */
	bool no_fold; /* count a fault and the next scan bit of its page twice (fold.h) */
};

struct sim_stats {
	uint64_t accesses;
	uint64_t first_touch; /* faults on untouched pages */
	uint64_t swapins; /* refaults: swap-ins not served by a prefetch */
	uint64_t pf_issued; /* pages prefetched */
	uint64_t pf_hits; /* prefetched pages used while resident */
	uint64_t pf_wasted; /* prefetched pages evicted unused */
	uint64_t evictions; /* pages paged out */
	uint64_t demoted; /* of which by phase-entry actions */
	uint64_t phase_prefetched; /* pages prefetched on phase entry */
	double avg_resident; /* pages, averaged over accesses */
	double avg_footprint; /* touched pages, averaged over accesses */
	uint64_t bad_events; /* accesses outside any known region */
};

struct sim_region_report {
	uint32_t id;
	char tag[PF_TRACE_TAG_MAX];
	uint64_t npages, budget;
	const char *reclaim, *prefetch, *rule;
	struct sim_stats st;
};

struct sim_result {
	struct sim_stats total;
	struct sim_region_report *regions;
	size_t nregions;
	uint64_t memo_bytes;
	uint64_t folded; /* scan bits that repeated a fault of the same interval (fold.h) */
};

/* 0, or -1 with the problem in err. */
int sim_run(const struct sim_cfg *cfg, const struct sim_source *src, struct sim_result *res,
	    char *err, size_t errlen);
void sim_result_free(struct sim_result *res);

/* Prefetch accuracy (hits / issued) and coverage (hits / (hits + swap-ins)), 0..1. */
double sim_accuracy(const struct sim_stats *s);
double sim_coverage(const struct sim_stats *s);
/* 1 - average resident / average footprint. */
double sim_saved(const struct sim_stats *s);

#endif
