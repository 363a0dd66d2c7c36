/* SPDX-License-Identifier: MIT */
/*
 * What the simulator's files share, and nothing outside them includes: the
 * replay's state (struct sim) and each region's pages (struct region), and
 * the functions one file calls in another. The replay loop (sim.c) feeds
 * events to the region and phase bookkeeping (sim_bind.c) and to the
 * residency model (sim_memory.c: page states, the engine's ticks, the
 * memory limit); Belady MIN's oracle is sim_min.c; sim_result.c turns the
 * final state into a struct sim_result.
 */
#ifndef PAGEFLEX_SIM_IMPL_H
#define PAGEFLEX_SIM_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "pagemap.h"
#include "phase_memo.h"
#include "sim.h"

enum {
	F_EVER = 1, /* touched at least once */
	F_RES = 2, /* resident */
	F_PREFETCHED = 4, /* prefetched, not used yet */
	F_ACC = 8, /* accessed since the last scan */
	F_LIVE_OUT = 16, /* the live agent paged it out; not seen back yet */
	F_CLEAR = 32, /* its accessed bit is cleared after this tick (engine.h) */
};

#define NO_NEXT UINT64_MAX
#define PREFETCH_OUT_MAX 512

struct heap_ent {
	uint64_t next;
	uint64_t page; /* dense index */
};

struct region {
	uint32_t id;
	bool live;
	char tag[PF_TRACE_TAG_MAX], symbol[PF_TRACE_SYMBOL_MAX];
	uint8_t kind;
	uint64_t npages, budget, resident;
	struct pf_engine_region eng; /* policy, threshold, prefetch state */
	uint64_t swapins_fed; /* refaults already fed to the engine */
	uint64_t tick_refaults; /* fed at the last tick (its objective reads them) */
	/* Touched pages, densely: index i is page pg[i]; idx maps page -> i. */
	struct pagemap idx;
	uint64_t nd, capd;
	uint64_t *pg;
	pf_page_state *st;
	uint8_t *fl;
	uint64_t *last_ms; /* last access, for phase hot sets */
	uint64_t *cur_next; /* MIN: next access index of each page */
	struct heap_ent *heap; /* MIN: max-heap on next (of dense indexes), lazily cleaned */
	size_t nheap, capheap;
	struct sim_stats st_;
	/* Live recordings: the first PAGES record's time (snapshot) and
	 * whether the per-page states (and the clear segmentation) came from
	 * a STATE record. */
	bool snapped, state_recorded, clears_recorded;
	uint64_t snap_ns;
};

struct sim {
	const struct sim_cfg *cfg;
	struct region *r;
	size_t nr, capr;
	uint64_t now_ms, next_scan_ms;
	char phase[PF_TRACE_TAG_MAX];
	struct pf_phase_memo *memo;
	uint64_t *next; /* MIN: next[i] = index of the next access to the page of access i */
	size_t capnext;
	uint64_t nacc, idx;
	struct pf_engine_scratch sc;
	/* The trace's process's objectives (policy/objective.h), and the
	 * members handed to them at each tick. */
	struct pf_objective_set objs;
	struct pf_objective_member *members;
	size_t capmembers;
	uint64_t protect; /* dense index the memory limit must not evict, or NO_NEXT */
	uint64_t out[PREFETCH_OUT_MAX];
	char *err;
	size_t errlen;
	double res_sum, foot_sum;
	uint64_t nsamples;
	uint64_t memo_pages;
	/* Live recordings: counts for the report, the series for --compare,
	 * and the live resident pages of the scan being read. */
	uint64_t pages_records, ticks, actions, state_records;
	struct sim_sample *series;
	size_t nseries, capseries;
	uint64_t live_res_scan;
};

/* sim_bind.c: regions and phases. */
/* The live region with this id, or NULL. */
struct region *sim_find_region(struct sim *s, uint32_t id);
/* A REGION record: a new region, bound by the rules. 0 or -1 (s->err). */
int sim_add_region(struct sim *s, const struct pf_trace_event *ev);
/* A PHASE record: the hot set of the phase that ends, rebinding, the
 * rules' on-entry actions. 0 or -1 (s->err). */
int sim_enter_phase(struct sim *s, const char *name);

/* sim.c: one access to dense page p (first touch, refault, prefetch hit).
 * 0 or -1 (s->err). */
int sim_access(struct sim *s, struct region *r, uint64_t p);
/* Samples resident and touched pages for the averages (after each access). */
void sim_sample(struct sim *s);

/* sim_live.c: what a live recording adds (trace.h, version 2 or 3). 0 or -1. */
int sim_pages(struct sim *s, const struct pf_trace_event *ev);
void sim_state(struct sim *s, const struct pf_trace_event *ev);
void sim_action(struct sim *s, const struct pf_trace_event *ev);
int sim_live_tick(struct sim *s);

/* sim_memory.c: the residency of pages and the memory limit. */
/* The dense index of page, creating it (untouched) if create; -1 if absent
 * or out of memory (then s->err is set). */
int64_t sim_dense(struct sim *s, struct region *r, uint64_t page, bool create);
/* The engine's clock: trace time plus the recording's clock_ms. */
static inline uint64_t sim_engine_now(const struct sim *s)
{
	return s->now_ms + s->cfg->clock_ms;
}
/* Page p leaves memory (sim_evict: by the replayed policy, counted). */
void sim_drop(struct sim *s, struct region *r, uint64_t p);
void sim_evict(struct sim *s, struct region *r, uint64_t p);
void sim_make_resident(struct sim *s, struct region *r, uint64_t p, uint8_t extra);
/* Brings page number page back if it is swapped out; 1 if it did. */
int sim_prefetch_page(struct sim *s, struct region *r, uint64_t page);
/* A scan tick: the engine's decisions, exactly as pageflexd makes them. */
void sim_tick(struct sim *s, struct region *r);
/* After a tick of every live region: the objectives move (0, or -1 with s->err). */
int sim_objectives_tick(struct sim *s, uint64_t interval_ms);
/* The memory limit: pages out down to the budget (less a batch), never
 * the page protect (a dense index, or NO_NEXT). */
int sim_enforce_budget(struct sim *s, struct region *r, uint64_t protect);

/* sim_min.c: Belady MIN. */
int sim_heap_push(struct region *r, uint64_t next, uint64_t page);
struct heap_ent sim_heap_pop(struct region *r);
/* The first pass: s->next[] for every access, then rewinds src. 0 or -1. */
int sim_min_pass(struct sim *s, const struct sim_source *src);

/* sim_result.c: fills res (but res->folded) from the final state; 0 or -1
 * without memory. */
int sim_collect(const struct sim *s, struct sim_result *res);

#endif
