// SPDX-License-Identifier: MIT
/*
 * A promotion objective over a cold-age region, engine and controller
 * together (policy/objective.h, promotion histogram): the age it settles
 * on is the shortest the pages' measured reuse allows, so data written
 * once goes out and data read back every 40 s never does; and when cold
 * data starts being read again, the controller backs off, but not again
 * for the echo of the same pageout (only once pages went out since), and
 * moves past the new reuse time, even a full pass every 200 s with nothing
 * read in between (a cache's crawler); the pages idle past each age pair
 * with the rate predicted for it. The region is an array of bits a
 * "program" sets between ticks; victims are swapped out and their next
 * access is a refault.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "objective.h"

#define HOT 1024u /* read at every tick */
#define PERIODIC 2048u /* each read every 40 s */
#define COLD 5120u /* written at the second tick, then (scenario) left */
#define PAGES (HOT + PERIODIC + COLD)
#define TICK_MS 2500u

struct region {
	unsigned char acc[PAGES], swapped[PAGES];
	pf_page_state state[PAGES];
	uint64_t tick, refaults, victims, periodic_victims;
	unsigned cold_every; /* ticks between reads of each cold page (0: never) */
	bool cold_pass; /* ... all of them in the same tick (a full pass) */
	uint64_t next_pass; /* passes whose interval doubles: the next one's tick */
	unsigned pass_gap; /* ... and the interval that led to it (0: none) */
};

static bool run(void *ctx, size_t i, struct pf_page_run *r)
{
	struct region *g = ctx;

	if (i)
		return false;
	*r = (struct pf_page_run){.first = 0, .n = PAGES, .state = g->state};
	return true;
}

static unsigned bits(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	struct region *g = ctx;

	(void)r;
	if (g->swapped[k])
		return PF_PAGE_SWAPPED;
	return PF_PAGE_PRESENT | (g->acc[k] ? PF_PAGE_ACCESSED : 0);
}

static void clear(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	struct region *g = ctx;

	(void)r;
	g->acc[k] = 0; /* after the tick: bits do not change during it */
}

static void victim(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	struct region *g = ctx;

	(void)r;
	g->swapped[k] = 1;
	g->acc[k] = 0;
	g->victims++;
	g->periodic_victims += k >= HOT && k < HOT + PERIODIC;
}

static bool read_now(const struct region *g, uint64_t p)
{
	if (p < HOT)
		return true;
	if (p < HOT + PERIODIC)
		return (g->tick + p) % 16 == 0; /* 16 ticks: 40 s */
	if (g->tick == 1)
		return true;
	if (g->pass_gap)
		return g->tick == g->next_pass;
	return g->cold_every && (g->tick + (g->cold_pass ? 0 : p)) % g->cold_every == 0;
}

struct setup {
	struct region *g;
	struct pf_engine_region er;
	struct pf_engine_scratch sc;
	struct pf_objective_set set;
};

static void setup_init(struct setup *s)
{
	struct pf_binding b = {0};
	char err[256];

	memset(s, 0, sizeof(*s));
	s->g = calloc(1, sizeof(*s->g));
	cr_assert_not_null(s->g);
	snprintf(b.rule, sizeof(b.rule), "r");
	b.reclaim = pf_reclaim_find("cold-age");
	pf_policy_params_default(&b.params);
	b.params.clear_every = 1;
	pf_threshold_cfg_default(&b.threshold);
	b.threshold.mode = PF_THRESH_OBJECTIVE;
	pf_objective_cfg_default(&b.objective);
	cr_assert_eq(pf_objective_parse_arg("promotion=0.2", &b.objective, err, sizeof(err)), 0);
	pf_binding_fit_objective(&b);
	cr_assert_eq(pf_engine_bind(&s->er, &b, PAGES), 1);
}

static void setup_free(struct setup *s)
{
	pf_objective_set_free(&s->set);
	pf_engine_free(&s->er);
	pf_engine_scratch_free(&s->sc);
	free(s->g);
}

/* One 2.5 s tick: the program's reads (refaults of swapped pages), the
 * engine's tick, the objective's. */
static void tick(struct setup *s)
{
	struct region *g = s->g;
	struct pf_engine_io io = {g, run, bits, clear, victim};
	uint64_t now = TICK_MS * (g->tick + 1), refaults = 0;
	struct pf_objective_member m = {.er = &s->er, .pages = PAGES};

	for (uint64_t p = 0; p < PAGES; p++) {
		if (!read_now(g, p))
			continue;
		if (g->swapped[p]) {
			g->swapped[p] = 0;
			refaults++;
		}
		g->acc[p] = 1;
	}
	g->refaults += refaults;
	if (g->pass_gap && g->tick == g->next_pass) {
		g->pass_gap *= 2;
		g->next_pass += g->pass_gap;
	}
	pf_engine_tick(&s->er, &io, &s->sc, refaults, now);
	m.refaults = refaults;
	cr_assert_eq(pf_objective_set_tick(&s->set, &m, 1, now, TICK_MS, UINT64_MAX), 0);
	g->tick++;
}

static uint64_t swapped(const struct region *g)
{
	uint64_t n = 0;

	for (unsigned p = 0; p < PAGES; p++)
		n += g->swapped[p];
	return n;
}

/* 300 s from the start: settled, with the cold data paged out. */
static void settle(struct setup *s)
{
	setup_init(s);
	for (int i = 0; i < 120; i++)
		tick(s);
	cr_assert_eq(swapped(s->g), COLD);
}

Test(objective_hist, buckets_are_four_per_doubling)
{
	cr_assert_eq(pf_reuse_bucket(999), 0);
	cr_assert_eq(pf_reuse_bound_ms(1), 1000);
	cr_assert_eq(pf_reuse_bucket(1000), 1);
	cr_assert_eq(pf_reuse_bound_ms(5), 2000);
	for (unsigned b = 1; b + 1 < PF_REUSE_BUCKETS; b++) {
		uint64_t lo = pf_reuse_bound_ms(b), hi = pf_reuse_bound_ms(b + 1);

		cr_assert_lt(lo, hi);
		cr_assert_eq(pf_reuse_bucket(lo), b, "bound %llu", (unsigned long long)lo);
		cr_assert_eq(pf_reuse_bucket(hi - 1), b, "below %llu", (unsigned long long)hi);
	}
	cr_assert_eq(pf_reuse_bucket(UINT64_MAX / 2), PF_REUSE_BUCKETS - 1);
}

Test(objective_hist, settles_just_past_the_reuse_time_and_takes_the_cold_data)
{
	struct setup s;
	const struct pf_objective *o;

	setup_init(&s);
	for (int i = 0; i < 120; i++) /* 300 s */
		tick(&s);
	o = &s.set.g[0].o;
	cr_assert(o->by_hist);
	/* Read every 40 s, measured idle 40 s: the next bound up, 45.25 s. */
	cr_assert_eq(o->age_ms, pf_reuse_bound_ms(pf_reuse_bucket(40000) + 1), "age %llu",
		     (unsigned long long)o->age_ms);
	cr_assert_eq(s.g->periodic_victims, 0);
	cr_assert_eq(s.g->refaults, 0);
	cr_assert_eq(swapped(s.g), COLD, "swapped %llu", (unsigned long long)swapped(s.g));
	cr_assert_eq(o->backoffs, 0);
	cr_assert_eq(s.set.g[0].recent, HOT + PERIODIC);
	setup_free(&s);
}

Test(objective_hist, backs_off_once_a_period_then_moves_past_the_new_reuse)
{
	struct setup s;
	const struct pf_objective *o;
	uint64_t refaults;

	settle(&s);
	/* The cold data is read again, each page every 100 s (40 ticks). */
	s.g->cold_every = 40;
	for (int i = 0; i < 40; i++) /* 100 s: 10 periods */
		tick(&s);
	o = &s.set.g[0].o;
	cr_assert_geq(o->backoffs, 1);
	/* The 5120 refaults come over 100 s, ~500 a period against an allowance
	 * of ~1: each back-off must answer pages paged out since the last one,
	 * not the echo of the same pageout (which would double the age every
	 * period up to the cap). */
	cr_assert_leq(o->backoffs, 3, "%llu back-offs in 10 periods",
		      (unsigned long long)o->backoffs);
	for (int i = 0; i < 200; i++) /* 500 s more */
		tick(&s);
	cr_assert_gt(o->age_ms, 100000, "age %llu", (unsigned long long)o->age_ms);
	/* Settled: nothing refaults over the last 100 s. */
	refaults = s.g->refaults;
	for (int i = 0; i < 40; i++)
		tick(&s);
	cr_assert_eq(s.g->refaults, refaults);
	cr_assert_eq(s.g->periodic_victims, 0);
	setup_free(&s);
}

/*
 * A full pass over the cold data every 200 s (memcached's LRU crawler) and
 * nothing between: the age stays past the pass, so the data is not paged
 * out in the quiet between two passes and read back in a burst at each.
 */
Test(objective_hist, a_full_pass_every_200_s_is_never_paged_out_between_passes)
{
	struct setup s;
	const struct pf_objective *o;
	uint64_t refaults;

	settle(&s);
	s.g->cold_every = 80; /* 200 s */
	s.g->cold_pass = true;
	for (int i = 0; i < 240; i++) /* 600 s: 3 passes to learn from */
		tick(&s);
	refaults = s.g->refaults;
	for (int i = 0; i < 400; i++) /* 1000 s: 5 passes */
		tick(&s);
	o = &s.set.g[0].o;
	cr_assert_eq(s.g->refaults, refaults, "%llu refaults in 5 passes, age %llu ms",
		     (unsigned long long)(s.g->refaults - refaults), (unsigned long long)o->age_ms);
	cr_assert_gt(o->age_ms, 200000, "age %llu", (unsigned long long)o->age_ms);
	setup_free(&s);
}

/*
 * Full passes over the cold data whose interval doubles each time
 * (memcached's LRU crawler backs off so while it finds nothing to
 * reclaim: 121 s, then 196 s apart live): an age learned from the passes
 * seen so far is shorter than the next interval, and the next pass would
 * read back all that went out in between. After three passes, none
 * refaults.
 */
Test(objective_hist, passes_further_apart_each_time_never_refault)
{
	struct setup s;
	const struct pf_objective *o;
	uint64_t refaults, passes = 0;

	setup_init(&s);
	s.g->pass_gap = 12; /* 30 s, then 60, 120, 240, 480 s */
	s.g->next_pass = s.g->pass_gap;
	while (s.g->tick <= 84) /* passes at 30, 90 and 210 s */
		tick(&s);
	refaults = s.g->refaults;
	o = &s.set.g[0].o;
	while (s.g->tick <= 372) { /* at 450 and 930 s */
		passes += s.g->tick == s.g->next_pass;
		tick(&s);
	}
	cr_assert_eq(passes, 2);
	cr_assert_eq(s.g->refaults, refaults, "%llu refaults in 2 passes, age %llu ms",
		     (unsigned long long)(s.g->refaults - refaults), (unsigned long long)o->age_ms);
	cr_assert_geq(o->sweeps, 2);
	cr_assert_gt(o->age_ms, 480000, "age %llu", (unsigned long long)o->age_ms);
	setup_free(&s);
}

/*
 * What each age would save and cost, as status shows it: the pages idle at
 * least that long at the last tick, and the promotion rate the histograms
 * predict for it, the same rate the controller chose its age by.
 */
Test(objective_hist, the_frontier_pairs_idle_pages_with_the_predicted_rate)
{
	struct setup s;
	const struct pf_objective_group *g;
	uint64_t ppm, all = 0, old = 0;
	unsigned ab;

	setup_init(&s);
	tick(&s);
	tick(&s);
	cr_assert_not(pf_objective_predict(&s.set.g[0].o, 1, &ppm), "a rate from 2 ticks");
	for (int i = 2; i < 120; i++) /* 300 s */
		tick(&s);
	g = &s.set.g[0];
	ab = pf_reuse_bucket(g->o.age_ms);
	for (unsigned b = 0; b < PF_REUSE_BUCKETS; b++) {
		all += g->idle[b];
		old += b >= ab ? g->idle[b] : 0;
	}
	cr_assert_eq(all, PAGES);
	/* Idle past the age: the cold data alone (the periodic, <= 40 s). */
	cr_assert_eq(old, COLD, "%llu pages idle >= %llu ms", (unsigned long long)old,
		     (unsigned long long)g->o.age_ms);
	cr_assert(pf_objective_predict(&g->o, ab, &ppm));
	cr_assert_eq(ppm, g->o.predicted);
	cr_assert_leq(ppm * 4, g->o.cfg.promotion_ppm * 3);
	/* At 10 s the periodic data would come back: 2048 of 3072 working-set
	 * pages every 40 s, 100%/min. */
	cr_assert(pf_objective_predict(&g->o, pf_reuse_bucket(10000), &ppm));
	cr_assert_geq(ppm, 900000, "%llu ppm at 10 s", (unsigned long long)ppm);
	setup_free(&s);
}
