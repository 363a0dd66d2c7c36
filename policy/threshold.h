/* SPDX-License-Identifier: MIT */
/*
 * The reclaim framework: per-region histograms of page weights and the
 * control loop that chooses the cut below which pages are paged out.
 *
 * A cut is (bucket, extra): every page whose weight falls in a bucket below
 * `bucket` is a victim, plus the `extra` lowest pages of bucket `bucket`
 * (pf_select_extra() chooses them; engine.h runs the whole loop).
 *
 * Three modes choose the cut:
 *  - budget: keep at most budget_pages resident, paging out the coldest
 *    pages, down to (100 - headroom_pct)% of the budget when it is exceeded;
 *  - promotion: keep refaults at or below promotion_ppm of the region's
 *    working set per minute (Google far memory's SLO); every period the cut
 *    moves down one populated bucket when the rate is above target and up one
 *    when it is below half of it;
 *  - cold-age: pages the policy's victim() calls cold are paged out;
 *  - objective: the region follows an objective of its process
 *    (objective.h): cold-age policies page out by the objective's age,
 *    weight policies move their cut one populated bucket per move of the
 *    objective (halved on a back-off).
 * Plain C, no I/O, time passed in.
 */
#ifndef PAGEFLEX_THRESHOLD_H
#define PAGEFLEX_THRESHOLD_H

#include "objective.h"
#include "policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PF_HIST_BUCKETS 240

/* Log-linear buckets: weights 0..15 exactly, then 8 buckets per power of two. */
static inline unsigned pf_hist_bucket(uint32_t w)
{
	unsigned e;

	if (w < 16)
		return w;
	e = 31u - (unsigned)__builtin_clz(w);
	return 16 + (e - 4) * 8 + ((w >> (e - 3)) & 7);
}

struct pf_hist {
	uint64_t count[PF_HIST_BUCKETS];
	uint64_t total;
};

void pf_hist_clear(struct pf_hist *h);
static inline void pf_hist_add(struct pf_hist *h, uint32_t w)
{
	h->count[pf_hist_bucket(w)]++;
	h->total++;
}

struct pf_cut {
	unsigned bucket; /* pages in buckets below this are victims */
	uint64_t extra; /* plus this many of the lowest pages in `bucket` */
	uint64_t pages; /* total victims */
};

/* The cut that selects the n lowest-weight pages of h. */
struct pf_cut pf_hist_cut_n(const struct pf_hist *h, uint64_t n);
/* The cut that selects every page in buckets below b. */
struct pf_cut pf_hist_cut_bucket(const struct pf_hist *h, unsigned b);

enum pf_threshold_mode {
	PF_THRESH_BUDGET,
	PF_THRESH_PROMOTION,
	PF_THRESH_COLD_AGE,
	PF_THRESH_OBJECTIVE,
};

struct pf_threshold_cfg {
	enum pf_threshold_mode mode;
	uint64_t budget_pages; /* budget: resident pages allowed (0: see budget_pct) */
	uint32_t budget_pct; /* budget: percent of the region's pages, if budget_pages is 0 */
	uint32_t headroom_pct; /* budget: reclaim this far below the budget */
	uint32_t promotion_ppm; /* promotion: refaults per minute per million WS pages */
	uint64_t period_ms; /* promotion: how often the cut may move */
};

void pf_threshold_cfg_default(struct pf_threshold_cfg *c);
/* The budget in pages for a region of region_pages (0: no budget). */
uint64_t pf_threshold_budget(const struct pf_threshold_cfg *c, uint64_t region_pages);
/* "budget", "promotion", "cold-age"; NULL if unknown. */
const char *pf_threshold_mode_name(enum pf_threshold_mode m);
int pf_threshold_mode_parse(const char *s, enum pf_threshold_mode *m);

struct pf_threshold {
	struct pf_threshold_cfg cfg;
	unsigned cut_bucket; /* promotion: current cut */
	uint64_t period_start_ms;
	uint64_t refaults; /* promotion: refaults in this period */
	bool started;
	enum pf_objective_move move; /* objective: applied at the next decision */
};

void pf_threshold_init(struct pf_threshold *t, const struct pf_threshold_cfg *cfg);
/* Counts n refaults (swap-ins that were not prefetch hits). */
static inline void pf_threshold_refaults(struct pf_threshold *t, uint64_t n)
{
	t->refaults += n;
}

/*
 * Chooses the cut over the weights of the resident pages in h. working_set:
 * the pages accessed in the last scan interval (promotion mode). For cold-age mode the cut is
 * empty: the caller pages out what ops->victim() selects.
 */
struct pf_cut pf_threshold_decide(struct pf_threshold *t, const struct pf_hist *h,
				  uint64_t working_set, uint64_t now);

/* One candidate page for exact selection. */
struct pf_victim {
	uint32_t weight;
	uint64_t page;
	size_t run; /* the caller's: where the page is (engine.c: run and index) */
	uint64_t k;
};

/*
 * Given the candidates of the cut's bucket (any order), sorts them and
 * returns how many of them (the `cut->extra` lowest by weight, then page) are
 * victims: they are the first ones of cand after the call.
 */
size_t pf_select_extra(struct pf_victim *cand, size_t n, const struct pf_cut *cut);

#ifdef __cplusplus
}
#endif
#endif
