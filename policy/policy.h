/* SPDX-License-Identifier: MIT */
/*
 * The policy interface shared by pageflexd (live) and pageflex-sim (replay).
 *
 * A policy is plain C: no I/O, no globals, no clock reads, deterministic.
 * Time comes in as arguments (`now`, in milliseconds of the caller's clock),
 * so the agent and the simulator drive the very same code.
 *
 * Reclaim policies keep a per-page state of at most 4 bytes (PageFlex's
 * budget), updated from each scan's accessed bit, and give each page a
 * weight: the lower the weight, the better a victim. The framework keeps
 * per-region weight histograms and chooses the threshold below which pages
 * are paged out (by budget, promotion-rate target or fixed age).
 *
 * Prefetch policies see every swap-in fault of a region and return pages to
 * bring in.
 *
 * This header is the contract; the owners of policy/ may grow
 * it (keep both users compiling).
 */
#ifndef PAGEFLEX_POLICY_H
#define PAGEFLEX_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-page state, PageFlex-style: at most 4 bytes. */
typedef uint32_t pf_page_state;

/* One page as seen by one scan. */
struct pf_scan_page {
	bool accessed; /* accessed bit was set since the previous scan */
	bool present; /* resident */
	bool swapped; /* a swap entry */
};

/* Most segments a region's accessed-bit clears rotate over (clear_every). */
#define PF_CLEAR_MAX 16

/* Parameters of a policy instance, from the rules (config file or CLI). */
struct pf_policy_params {
	uint64_t cold_age_ms; /* cold-age: idle time before a page is a victim */
	uint32_t lfu_decay; /* LFU: halve counts every N scans (0: never) */
	uint32_t clock_bits; /* LRU/CLOCK: bits of history */
	uint64_t tick_ms; /* time quantum of states that store a time (0: 1000) */
	uint32_t ra_max_pages; /* readahead: largest window (kernel: 1 << page-cluster = 8) */
	uint32_t leap_max_pages; /* Leap: largest prefetch window */
	uint32_t clear_every; /* ticks between clears of a hot page's accessed bit,
			       * <= PF_CLEAR_MAX (0: chosen per region, engine.h) */
};

/* Fills p with the defaults (cold age 120 s, no LFU decay, 32 clock bits,
 * 1 s tick, readahead 8, Leap 32, accessed bits cleared every tick). */
void pf_policy_params_default(struct pf_policy_params *p);

/* Flags of a reclaim policy. */
enum {
	PF_RECLAIM_PASSIVE = 1u << 0, /* never pages anything out (the kernel baseline) */
};

struct pf_reclaim_ops {
	const char *name;
	/* Set up the state of a page first seen at time now. */
	pf_page_state (*init)(const struct pf_policy_params *p, uint64_t now);
	/* Update the state from one scan. */
	pf_page_state (*scan)(const struct pf_policy_params *p, pf_page_state s,
			      const struct pf_scan_page *pg, uint64_t now);
	/* Weight: lower is colder. */
	uint32_t (*weight)(const struct pf_policy_params *p, pf_page_state s, uint64_t now);
	/* Optional: should this page be paged out regardless of budget? (cold-age) */
	bool (*victim)(const struct pf_policy_params *p, pf_page_state s, uint64_t now);
	/* Optional: how long the page has been idle, in ms (states that keep
	 * the time of the last access: cold-age, kernel). An objective's
	 * promotion histogram needs it (objective.h). */
	uint64_t (*idle_ms)(const struct pf_policy_params *p, pf_page_state s, uint64_t now);
	unsigned flags; /* PF_RECLAIM_* */
	const char *help; /* one line for --help and error messages */
};

/*
 * Prefetch policies. The caller owns the state (state_size bytes, aligned
 * for uint64_t) and passes every swap-in fault of one region: the page
 * number and whether it was served from the swap cache (a prefetch hit).
 * The policy writes up to max pages to fetch into out and returns how many.
 * Pages may lie outside the region; the caller clips them.
 */
struct pf_prefetch_ops {
	const char *name;
	size_t state_size;
	void (*init)(void *state, const struct pf_policy_params *p);
	size_t (*fault)(void *state, const struct pf_policy_params *p, uint64_t page, bool hit,
			uint64_t *out, size_t max);
	const char *help;
};

/* Looks a prefetch policy up by name; NULL if unknown. */
const struct pf_prefetch_ops *pf_prefetch_find(const char *name);
const struct pf_prefetch_ops *pf_prefetch_at(size_t i);
void pf_prefetch_names(char *buf, size_t len);

/* Looks a reclaim policy up by name; NULL if unknown. */
const struct pf_reclaim_ops *pf_reclaim_find(const char *name);
/* The i-th registered reclaim policy (0-based), NULL past the end. */
const struct pf_reclaim_ops *pf_reclaim_at(size_t i);
/* Writes the valid reclaim policy names, comma-separated, into buf. */
void pf_reclaim_names(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
