/* SPDX-License-Identifier: MIT */
/*
 * Objectives: "how much" set as a goal for a whole process (or for the
 * regions of one rule in it), not as a knob per region. The controller
 * moves one knob shared by its regions step by step:
 *
 *  - the cold age of regions whose policy pages out by age (cold-age): a
 *    page idle longer than it is a victim, in any of them (Google's far
 *    memory: one age per job);
 *  - the cut of regions whose policy ranks pages by weight (lru, lfu,
 *    hyperbolic): each region's own cut moves one populated bucket per step,
 *    so each region's policy still picks its victims.
 *
 * Objectives (cfg.kind):
 *  - promotion: refaults per minute <= promotion_ppm per million pages of
 *    the working set (the pages accessed in the last 120 s over cold-age
 *    regions, PF_WS_WINDOW_MS; else in the last scan interval); 2000
 *    is Google's 0.2%/min;
 *  - pressure: memory stall time <= stall_ppm of wall time (PSI, as TMO
 *    and Senpai), given by the caller;
 *  - budget: resident pages of the process's managed regions <= budget.
 *
 * A promotion objective whose regions' policies keep idle times (cold-age)
 * chooses its age from their promotion histogram (below): every period,
 * the shortest age whose would-be promotion rate, in the worst of the last
 * PF_REUSE_PERIODS periods able to see idle times that long, is within 3/4
 * of the target; it moves there at once when that is longer, by halves at
 * most when shorter, and not shorter within a minute of a back-off. Until
 * some age has been observed for long enough it holds its first age
 * (120 s); if no age is within the target, it goes to max_age_ms. Its
 * working set is the pages accessed within PF_WS_WINDOW_MS, as the
 * paper's. With the regions' pages by idle time (engine.h, idle), the
 * histograms give the frontier pageflexd shows: what each age would keep
 * out against the rate predicted for it (pf_objective_predict).
 *
 * Sweeps: a period that reads back at least half of the pages that were
 * idle at least some age X at its start (and more of them than the period
 * allows) is a pass over the data: a cache's crawler, a phase coming back.
 * Such passes can come further apart each time (memcached's LRU crawler
 * backs off while it finds nothing to reclaim, doubling its wait), and an
 * age learned from the past ones would page out in full before the next.
 * After a sweep the age stays at least 3X (the next pass may come twice as
 * late, with a margin); a shorter sweep (under X/2) leaves it, a longer
 * one raises it, and it lapses once no sweep of at least X/2 came for
 * twice its length.
 *
 * Otherwise, every period the controller tightens one step when well inside its
 * objective (promotion or stall below half the target: age x 3/4, or x 1/2
 * below an eighth of it; resident above the budget: x 3/4) and holds otherwise.
 * Every kind backs off at once, without waiting for the
 * period's end, as soon as the period's refaults or stall exceed what the
 * whole period allows: the cold age doubles and the cuts halve. It does
 * not back off again for the echo of the same pageout: a longer age only
 * spares pages from then on, so another back-off needs pages paged out
 * since the last one and a period gone by. A budget
 * whose pages refault faster than thrash_ppm cannot be met without
 * thrashing: the controller then backs off, never goes below that age
 * again while the budget is unmet, holds there, and says the budget is
 * unreachable (as it does when the age is at min_age_ms and the budget is
 * still not met). Victims per tick are capped by max_out_pages_per_s (the
 * engine's victim cap). Plain C, no I/O, time passed in: pageflexd runs it
 * live and pageflex-sim replays it.
 */
#ifndef PAGEFLEX_OBJECTIVE_H
#define PAGEFLEX_OBJECTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pf_objective_kind {
	PF_OBJ_NONE = 0,
	PF_OBJ_PROMOTION,
	PF_OBJ_PRESSURE,
	PF_OBJ_BUDGET,
};

struct pf_objective_cfg {
	enum pf_objective_kind kind;
	uint32_t promotion_ppm; /* promotion: refaults/min per million working-set pages */
	uint32_t stall_ppm; /* pressure: stall per million of wall time */
	uint64_t budget_pages; /* budget: resident pages (0: budget_pct of the regions) */
	uint32_t budget_pct;
	uint32_t thrash_ppm; /* budget: a promotion rate this high is thrashing */
	uint64_t period_ms; /* the controller moves at most once a period */
	uint64_t min_age_ms, max_age_ms; /* the cold age moves in [min, max] */
	uint64_t max_out_pages_per_s; /* pageout rate limit (0: none) */
};

/* The defaults: promotion <= 0.2%/min, 10 s period, age 10 s..20 min,
 * 256 MiB/s of pageouts at most, thrashing at 5%/min. */
void pf_objective_cfg_default(struct pf_objective_cfg *c);
/* "promotion", "pressure", "budget", "none"; NULL if unknown. */
const char *pf_objective_kind_name(enum pf_objective_kind k);
int pf_objective_kind_parse(const char *s, enum pf_objective_kind *k);
/*
 * Parses the command line's form: "promotion=PCT" (refaults per minute in
 * % of the working set, e.g. 0.2), "pressure=PCT" (stall % of wall time),
 * "budget=SIZE" (bytes, K/M/G) or "budget=PCT%", "none". Other fields keep
 * their values. Returns 0, or -1 with a message in err.
 */
int pf_objective_parse_arg(const char *s, struct pf_objective_cfg *c, char *err, size_t errlen);
/* The objective's target as text ("promotion <= 0.20%/min"). */
void pf_objective_describe(const struct pf_objective_cfg *c, char *buf, size_t len);

/*
 * The promotion histogram (Google's far memory): for a set of cold ages T,
 * how many pages were accessed again after being idle for at least T. Each
 * of them would have been a refault had the age been T, so the promotion
 * rate each age would give is measured before any page goes out at it.
 * Bucket 0 holds idle times under 1 s; bucket b >= 1 those from
 * pf_reuse_bound_ms(b) (1 s x 2^((b - 1) / 4): four per doubling) to the
 * next bound; the last one is open-ended (from ~29 min).
 */
#define PF_REUSE_BUCKETS 45
/* The working set of a promotion objective: the pages accessed within the
 * last 120 s (the far-memory paper's minimum cold age). */
#define PF_WS_WINDOW_MS 120000
/* Periods of histograms the controller looks back over (10 min of 10 s):
 * longer than a program's slowest reuse cycle, such as a cache's full
 * pass over its items (memcached's LRU crawler: every ~200 s), which an
 * age chosen from the quiet periods between two passes would page out in
 * full before each one (2 min, the first horizon, did on memcached). */
#define PF_REUSE_PERIODS 60

unsigned pf_reuse_bucket(uint64_t idle_ms);
uint64_t pf_reuse_bound_ms(unsigned b);

/* One period's promotion histogram. */
struct pf_reuse_period {
	uint64_t start_ms, ms, ws; /* when it began, its length, its working set */
	uint32_t n[PF_REUSE_BUCKETS];
};

enum pf_objective_move {
	PF_OBJ_HOLD,
	PF_OBJ_TIGHTEN, /* page out more: a shorter age, higher cuts */
	PF_OBJ_LOOSEN, /* page out less, one step (budget met with room) */
	PF_OBJ_BACKOFF, /* page out much less, at once: the objective is violated */
};

struct pf_objective {
	struct pf_objective_cfg cfg;
	uint64_t age_ms; /* the cold age of its age-ranked regions */
	uint64_t age_floor_ms; /* budget: the age that thrashed (0: none) */
	bool started;
	uint64_t period_start_ms;
	uint64_t refaults, stall_us; /* in this period */
	uint64_t ws_max; /* largest working set seen in this period */
	/* Last measured value: promotion ppm, stall ppm, or resident pages. */
	uint64_t value;
	bool unreachable; /* the objective cannot be met (see above) */
	enum pf_objective_move last; /* the last move other than HOLD */
	uint64_t tightens, loosens, backoffs;
	/* promotion, when its regions' policies keep idle times: */
	bool by_hist; /* the age is chosen from the promotion histogram */
	uint64_t start_ms; /* the objective's first tick */
	uint64_t last_backoff_ms; /* the last back-off */
	uint64_t out_since_backoff; /* pages paged out since it */
	uint64_t reuse[PF_REUSE_BUCKETS]; /* this period's histogram */
	struct pf_reuse_period hist[PF_REUSE_PERIODS]; /* the last periods', a ring */
	unsigned nhist, ihist;
	uint64_t predicted; /* the promotion rate (ppm) the histogram gives the age */
	/* Sweeps (above): the pages by idle time at this period's start; the
	 * sweeps seen, the longest one's X, when the last came, the floor. */
	uint64_t idle_start[PF_REUSE_BUCKETS];
	bool idle_seen;
	uint64_t sweeps, sweep_ms, sweep_at_ms, sweep_floor_ms;
};

/* What the controller sees at one tick of its regions. */
struct pf_objective_input {
	uint64_t now_ms;
	uint64_t refaults; /* since the last tick: swap-ins that were not prefetch hits */
	uint64_t working_set; /* pages accessed in the last interval */
	uint64_t resident; /* resident pages of its regions */
	uint64_t pages; /* pages of its regions */
	uint64_t stall_us; /* memory stall since the last tick (pressure), else 0 */
	uint64_t victims; /* pages its regions paged out since the last tick */
	/* Promotion: accesses after each idle time since the last tick (NULL:
	 * its regions' policies keep no idle times) and the pages accessed
	 * within PF_WS_WINDOW_MS, the working set it then stands for. */
	const uint32_t *reuse;
	uint64_t recent;
	/* Promotion, with reuse: its regions' pages by idle time (present or
	 * swapped, pf_reuse_bucket's buckets) at this tick; NULL: unknown. */
	const uint64_t *idle;
};

void pf_objective_init(struct pf_objective *o, const struct pf_objective_cfg *cfg);
/*
 * The promotion rate (ppm of the working set per minute) that a cold age
 * of pf_reuse_bound_ms(b) would give, as the controller predicts it: the
 * worst of the last periods able to see idle times that long (those that
 * began at least that long after the objective's start). False while fewer
 * than 3 such periods exist.
 */
bool pf_objective_predict(const struct pf_objective *o, unsigned b, uint64_t *ppm);
/* One tick: folds the input in and returns the move for the regions. */
enum pf_objective_move pf_objective_tick(struct pf_objective *o,
					 const struct pf_objective_input *in);
/* The budget in pages for regions of `pages` pages (0: not a budget). */
uint64_t pf_objective_budget(const struct pf_objective_cfg *c, uint64_t pages);
/* Victims allowed in a tick of interval_ms (UINT64_MAX: no limit). */
uint64_t pf_objective_victim_cap(const struct pf_objective_cfg *c, uint64_t interval_ms);

/*
 * The objectives of one process: one per rule whose regions follow an
 * objective (engine threshold mode objective), run the same way by
 * pageflexd and pageflex-sim. A member is one region (each once), with its
 * pages and the refaults fed at its last tick.
 */
struct pf_engine_region;

struct pf_objective_group {
	char rule[64];
	struct pf_objective_cfg cfg; /* as the rule binds it */
	struct pf_objective o;
	/* Its regions at the last tick: */
	uint64_t regions, resident, pages, ws, refaults, stall_us, victims;
	uint32_t reuse[PF_REUSE_BUCKETS]; /* their promotion histograms, summed */
	uint64_t idle[PF_REUSE_BUCKETS]; /* their pages by idle time, summed */
	uint64_t recent;
	bool reuse_ok; /* every one of them keeps idle times */
	uint64_t psi_last; /* pressure: the stall total at the last tick */
	bool psi_seen;
};

struct pf_objective_set {
	struct pf_objective_group *g;
	size_t n;
};

struct pf_objective_member {
	struct pf_engine_region *er;
	uint64_t pages, refaults;
	uint64_t stall_us; /* the caller's estimate of its stall since the last tick */
};

/*
 * After a tick of the process's regions m[0..n) at now (interval_ms between
 * ticks; stall_total_us: the machine's memory stall since boot, or
 * UINT64_MAX if unknown): sums each rule's members, moves its objective (a
 * pressure objective sees the larger of the machine's stall and its
 * members' own estimates),
 * and sets the age, move and victim cap of its regions' next tick. Returns
 * -1 if out of memory (those regions' objectives stay where they were).
 */
int pf_objective_set_tick(struct pf_objective_set *set, const struct pf_objective_member *m,
			  size_t n, uint64_t now, uint64_t interval_ms, uint64_t stall_total_us);
void pf_objective_set_free(struct pf_objective_set *set);

#ifdef __cplusplus
}
#endif
#endif
