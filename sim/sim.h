/* SPDX-License-Identifier: MIT */
/*
 * The simulator: replays a stream of trace events (trace.h) through
 * reclaim and prefetch policies under per-region memory budgets and counts
 * what happens. Its decisions at each scan tick are the policy engine's
 * (policy/engine.h), the loop pageflexd runs live.
 *
 * Model: a region's pages are untouched, resident or swapped. An access to
 * an untouched page is a first-touch fault; to a swapped page, a swap-in
 * fault (a refault) unless a prefetch brought it back first (a prefetch
 * hit). Live FAULT records and the accessed bits of SCAN records count as
 * accesses. Every scan_ms the engine ticks each region: accessed bits
 * into the policy's per-page states, then its threshold's victims
 * (cold-age, budget, promotion rate). Unless ticks_only, a region's budget
 * is also a memory limit between ticks: when it is exceeded, the
 * lowest-weight pages are paged out in batches (Belady MIN instead evicts
 * the page used farthest in the future; it needs a second pass over the
 * events).
 *
 * Implemented by sim.c (the replay loop) and the files it names.
 */
#ifndef PAGEFLEX_SIM_H
#define PAGEFLEX_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "rules.h"
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
	/*
	 * Decide at scan ticks only, as pageflexd does. Otherwise (the default)
	 * a region's budget is also a memory limit, held at every access by
	 * paging out the pages of lowest weight (the kernel's reclaim under a
	 * limit; Belady MIN needs it).
	 */
	bool ticks_only;
	/*
	 * Live recordings (trace.h, version 2 or 3): tick at the recording's TICK
	 * records (the agent's own scans) instead of every scan_ms; the
	 * engine's clock is trace time + clock_ms (the agent's clock, on which
	 * STATE records' times are); fresh_states: ignore STATE records.
	 */
	bool recorded_ticks;
	uint64_t clock_ms;
	/* Accessed bits cleared per second at most (engine.h, clear_per_s; 0:
	 * no bound): pageflexd's PF_CLEAR_PER_S for its recordings. */
	uint64_t clear_per_s;
	bool fresh_states;
	/* Called for every page paged out (region id, page number, time in ms). */
	void (*on_evict)(void *arg, uint32_t region, uint64_t page, uint64_t now_ms);
	void *evict_arg;
};

struct sim_stats {
	uint64_t accesses;
	uint64_t first_touch; /* faults on untouched pages */
	uint64_t swapins; /* refaults: swap-ins not served by a prefetch */
	uint64_t prefetch_issued; /* pages prefetched */
	uint64_t prefetch_hits; /* prefetched pages used while resident */
	uint64_t prefetch_wasted; /* prefetched pages evicted unused */
	uint64_t evictions; /* pages paged out */
	uint64_t demoted; /* of which by phase-entry actions */
	uint64_t phase_prefetched; /* pages prefetched on phase entry */
	double avg_resident; /* pages, averaged over accesses */
	double avg_footprint; /* touched pages, averaged over accesses */
	uint64_t bad_events; /* accesses outside any known region */
	/* From a live recording (version 2 or 3): */
	uint64_t snap_resident, snap_swapped; /* residency when it began */
	uint64_t external_out; /* swapped by someone else (the kernel, DAMON) */
	uint64_t live_out, live_prefetched; /* the agent's pageouts and prefetches */
	uint64_t live_refaults; /* swap faults (swap-ins and swap-cache hits) */
};

/* One agent tick of a live recording: the live run and the replay side by
 * side, before the tick's decisions (totals over regions; cumulative
 * counts). */
struct sim_sample {
	uint64_t t_ms;
	uint64_t live_resident, sim_resident; /* pages */
	uint64_t live_out, sim_out;
	uint64_t live_refaults, sim_refaults;
};

struct sim_region_report {
	uint32_t id;
	char tag[PF_TRACE_TAG_MAX];
	uint64_t npages, budget;
	const char *reclaim, *prefetch;
	char rule[64];
	/* Live recording: the per-page states began from the recorded ones
	 * (STATE, same policy), else from the first tick of the replay; and
	 * the accessed-bit clears from the recorded segmentation (version 3). */
	bool state_recorded, clears_recorded;
	struct sim_stats st;
};

struct sim_result {
	struct sim_stats total;
	struct sim_region_report *regions;
	size_t nregions;
	uint64_t memo_bytes;
	uint64_t folded; /* scan bits that repeated a fault of the same interval (fold.h) */
	/* Live recordings: what came from the recording. */
	uint64_t pages_records, ticks, actions, state_records;
	struct sim_sample *series; /* one per TICK */
	size_t nseries;
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
