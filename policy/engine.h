/* SPDX-License-Identifier: MIT */
/*
 * The policy engine: the one loop that pageflexd runs live and pageflex-sim
 * replays. Per region, at each scan tick:
 *
 *   scan bits of every page -> the policy's per-page state (scan())
 *   -> cold-age: the idle pages that victim() calls cold are victims;
 *      budget, promotion: a histogram of weights -> the threshold's cut
 *      (threshold.h) -> the pages below it, chosen exactly, are victims
 *
 * and on each refault the region's prefetch policy says what to bring in.
 * A page accessed since the last scan is never a victim. No I/O, no libbpf,
 * no clock reads: the caller hands in its pages through a small iterator
 * (struct pf_engine_io), the time and the refaults, and gets the decisions
 * back through callbacks. pageflexd feeds it from the BPF maps
 * (agent/reclaim_feed.c), pageflex-sim from a trace (sim/sim_memory.c).
 *
 * Where the agent and the simulator once disagreed, the engine decides
 * (docs/design.md, "One engine"): the promotion threshold's working set is
 * the pages accessed in the last scan interval; the refaults it counts are
 * swap-ins that were not prefetch hits; the boundary bucket is cut exactly
 * (lowest weight, then lowest page number); per-page state starts at the
 * first tick after a (re)bind, and a page first seen later starts from the
 * state an untouched page has then (`blank`).
 *
 * Clearing accessed bits is what a scan costs most (MADV_COLD: ~100 ms per
 * GiB of cleared 4 KiB pages on this project's test machine, against 0.8
 * ms/GiB for the walk, and a re-touch of a cleared page costs the program a
 * fault on a paravirtual guest). So the engine says which bits to clear:
 * with clear_every H the region is cut into H segments (of whole 2 MiB
 * chunks) and an accessed page is cleared at the ticks where its segment's
 * number plus the tick count is a multiple of H: each hot page once every
 * H ticks, each tick's clears one contiguous range (a MADV_COLD range has
 * a fixed cost of ~60 µs: H interleaved chunks per tick cost 2-3x more). Between
 * its clears a page keeps reading as accessed: a page that falls idle is
 * seen idle up to H - 1 ticks late, never early (cold-age: paged out after
 * an idle time between cold_age_ms and cold_age_ms + H ticks; frequencies
 * count it as used while its bit stays set; prefetch_hot's hot set, read
 * from the bits, becomes "accessed in the last H intervals").
 * The working set of one interval stays exact, only older: each segment's
 * count in the interval after its clear (engine.c, tick_ws), for the
 * promotion threshold and the objectives. pageflexd clears every bit at
 * the tick after it enters a phase with prefetch_hot (clear_all), so that
 * phase's hot set is its own.
 *
 * clear_every 1 clears every accessed page at every tick. clear_every 0,
 * the default, chooses H per region from its working set: the fewest
 * segments that clear at most one page in PF_CLEAR_SHARE (10) of the region
 * per tick, so scan + clear stays under ~10 ms/GiB (all-hot 1 GiB: H = 10,
 * a region with at most a tenth of its pages hot per interval: H = 1,
 * every interval exact), and, where the caller sets clear_per_s, at most
 * that many pages a second: the program's cost (PF_CLEAR_PER_S, below).
 */
#ifndef PAGEFLEX_ENGINE_H
#define PAGEFLEX_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "threshold.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A policy instance for one region in one phase: what a rule binds. */
struct pf_binding {
	char rule[64]; /* the rule that matched: "cli:TAG", a rule's name, "default" */
	const struct pf_reclaim_ops *reclaim;
	const struct pf_prefetch_ops *prefetch; /* NULL: none */
	struct pf_policy_params params;
	struct pf_threshold_cfg threshold;
	/* threshold.mode objective: the objective of the rule's regions in a
	 * process (objective.h; the caller runs it and sets obj_age_ms /
	 * obj_move / victim_cap before each tick). */
	struct pf_objective_cfg objective;
};

/* Bits of one page in one scan. */
enum {
	PF_PAGE_ACCESSED = 1,
	PF_PAGE_PRESENT = 2,
	PF_PAGE_SWAPPED = 4,
};

/* Consecutive states of a region's pages, in page order. */
struct pf_page_run {
	uint64_t first; /* page number of the run's page 0 */
	const uint64_t *pages; /* or, if not NULL, each page's number */
	uint64_t n;
	pf_page_state *state;
	uint64_t where; /* the caller's: where the run's bits are */
};

/* How the engine sees one region's pages, and where its decisions go. */
struct pf_engine_io {
	void *ctx;
	/* Run i of the region, in page order; false past the last. */
	bool (*run)(void *ctx, size_t i, struct pf_page_run *r);
	/* PF_PAGE_* of page k of run r in this scan. */
	unsigned (*bits)(void *ctx, const struct pf_page_run *r, uint64_t k);
	/* Page k of run r was accessed in this scan and its accessed bit is to
	 * be cleared. The bits must not change during a tick: the caller
	 * clears them after it. Not every accessed page: see clear_every. */
	void (*clear)(void *ctx, const struct pf_page_run *r, uint64_t k);
	/* Page k of run r is to be paged out. */
	void (*victim)(void *ctx, const struct pf_page_run *r, uint64_t k);
};

/*
 * clear_every 0 (the default) chooses the segments from the working set:
 * at most one page in PF_CLEAR_SHARE of the region cleared per tick, and at
 * most clear_per_s pages a second (up to PF_CLEAR_MAX segments), which
 * pageflexd sets to PF_CLEAR_PER_S. The second bound is the program's:
 * each cleared page it touches again costs it a fault on a paravirtual
 * guest (~2-10 us). By the share alone, memcached's 2 GiB hot set in its
 * 5 GiB region was cleared at 44k pages/s; 4096/s costs a program <= 4% of
 * a thread at 10 us a fault, and a hot page is seen idle at most
 * PF_CLEAR_MAX ticks late.
 */
#define PF_CLEAR_SHARE 10
#define PF_CLEAR_PER_S 4096

/* One region's policy, threshold and states' bookkeeping. */
struct pf_engine_region {
	bool bound; /* false: observed only, the engine does nothing */
	struct pf_binding b;
	struct pf_threshold thr;
	bool ready; /* per-page states initialised since the last (re)bind */
	pf_page_state blank; /* the state of a page never accessed since then */
	unsigned cut_bucket; /* last cut (budget, promotion): bucket and pages */
	uint64_t cut_pages;
	uint64_t ticks; /* ticks since the bind: which segment's bits are cleared */
	uint64_t region_pages; /* as bound */
	unsigned clear_n; /* segments now (clear_every, or chosen when it is 0) */
	uint64_t clear_seg; /* pages per segment (a multiple of 512) */
	bool fresh_ok; /* the segmentation was the same at the last tick */
	bool all_fresh; /* every accessed bit was cleared at the last tick */
	bool clear_all; /* set by the caller: clear every accessed bit at the next
			 * tick (pageflexd, entering a phase with prefetch_hot) */
	uint32_t seg_known; /* segments whose seg_ws is known, one bit each */
	uint64_t seg_ws[PF_CLEAR_MAX]; /* accessed pages of segment s in the
					* interval after its last clear */
	/* Set by the caller of an objective (threshold mode objective): */
	uint64_t obj_age_ms; /* the age of a cold-age policy's victims (0: its own) */
	enum pf_objective_move obj_move; /* the next tick's move of the cut */
	uint64_t victim_cap; /* victims per tick at most (0: no cap) */
	/* Accessed bits cleared per second at most with clear_every 0 (0: no
	 * bound): PF_CLEAR_PER_S where ticks are real time (pageflexd, the
	 * replay of its recordings), none on a generator's synthetic clock. */
	uint64_t clear_per_s;
	/* For the objective's promotion histogram (policies with idle_ms):
	 * pages accessed again after an idle time in each bucket
	 * (pf_reuse_bucket) since the caller last took and zeroed them, and
	 * the pages accessed within PF_WS_WINDOW_MS at the last tick. A page
	 * never seen accessed since the bind is not counted: it may be new. */
	uint32_t reuse[PF_REUSE_BUCKETS];
	uint64_t recent;
	/* Those policies' pages (present or swapped) by idle time at the last
	 * tick, in the same buckets (accessed: bucket 0): what each age would
	 * keep out, the other side of the histogram's promotion rate. */
	uint64_t idle[PF_REUSE_BUCKETS];
	/* Of the last tick: */
	uint64_t last_ws, last_present; /* pages accessed, present */
	uint64_t last_tick_ms; /* its time (the clears' rate bound) */
	uint64_t tick_victims; /* victims given */
	uint64_t capped; /* victims held back by victim_cap, in all */
	void *pstate; /* prefetch policy state */
};

/* Scratch space shared by all regions of one caller (one thread). */
struct pf_engine_scratch {
	struct pf_hist hist;
	struct pf_victim *cand;
	size_t ncand, capcand;
};

/*
 * The one bind routine: binds er to b (NULL: unbinds) for a region of
 * region_pages. A new reclaim policy starts from fresh states at the next
 * tick; new parameters keep them. The prefetch state is reset when the
 * prefetch policy changes. Returns whether anything changed, or -1 when out
 * of memory.
 */
int pf_engine_bind(struct pf_engine_region *er, const struct pf_binding *b, uint64_t region_pages);
void pf_engine_free(struct pf_engine_region *er);
/*
 * An objective's regions (threshold mode objective): the objective moves
 * their age, so their parameters carry the shortest it may reach (for the
 * tick quantum and the scan interval: a quarter of it). Every binder
 * calls this.
 */
void pf_binding_fit_objective(struct pf_binding *b);
/* Whether the engine acts on this region's pages (bound, not the kernel's). */
bool pf_engine_active(const struct pf_engine_region *er);

/* Ticks between two clears of a hot page's accessed bit now (>= 1). */
unsigned pf_engine_clear_every(const struct pf_engine_region *er);

/*
 * A region's clear segmentation: which segment's bits the next tick clears,
 * each segment's working set, the last tick's time. A recording carries it
 * (trace.h, STATE) so that a replay clears the bits the agent cleared.
 */
struct pf_engine_clears {
	uint64_t ticks, last_tick_ms;
	unsigned clear_n;
	uint32_t seg_known;
	bool fresh_ok, all_fresh;
	uint64_t seg_ws[PF_CLEAR_MAX];
};
void pf_engine_clears_get(const struct pf_engine_region *er, struct pf_engine_clears *c);
/* Starts er from c; false (er unchanged) when c cannot be er's: clear_n
 * out of 1..PF_CLEAR_MAX, other than a clear_every er is bound with, or a
 * seg_known bit past it. */
bool pf_engine_clears_set(struct pf_engine_region *er, const struct pf_engine_clears *c);

/*
 * One scan tick of a region: refaults (swap-ins that were not prefetch hits)
 * since the last tick, at time now. Calls io->clear for the accessed pages
 * whose bits are due to be cleared and io->victim for every victim.
 */
void pf_engine_tick(struct pf_engine_region *er, const struct pf_engine_io *io,
		    struct pf_engine_scratch *sc, uint64_t refaults, uint64_t now);

/*
 * For a memory-limit model (the simulator's): fold this scan's bits into
 * the states (io->clear as at a tick, without counting one), then choose the n
 * lowest-weight present pages as victims.
 */
void pf_engine_scan(struct pf_engine_region *er, const struct pf_engine_io *io, uint64_t now);
void pf_engine_cut_n(struct pf_engine_region *er, const struct pf_engine_io *io,
		     struct pf_engine_scratch *sc, uint64_t n, uint64_t now);

/* The state of a page first seen now (after the states were initialised). */
static inline pf_page_state pf_engine_new_state(const struct pf_engine_region *er)
{
	return er->blank;
}

/*
 * A refault of page (hit: it was served from the swap cache, a prefetch
 * hit): the pages the region's prefetch policy wants, into out (at most
 * max); 0 without a prefetch policy.
 */
size_t pf_engine_prefetch(struct pf_engine_region *er, uint64_t page, bool hit, uint64_t *out,
			  size_t max);

void pf_engine_scratch_free(struct pf_engine_scratch *sc);

#ifdef __cplusplus
}
#endif
#endif
