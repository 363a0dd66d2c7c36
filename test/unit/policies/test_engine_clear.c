// SPDX-License-Identifier: MIT
/*
 * The engine's accessed-bit clears (policy/engine.h, clear_every): with the
 * default (0), a region clears at most about a tenth of its pages per tick
 * and about PF_CLEAR_PER_S pages a second however many are hot, every hot
 * page at least once per clear_every ticks, and the working set it reports
 * stays the pages accessed in one interval, not the pages whose bits were
 * left set; and a segmentation copied to another engine (a recording's, for
 * its replay) clears the same pages there. The region here is an array of
 * bits that a "program" sets between ticks and the engine's clears reset,
 * as the page tables do.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define PAGES (1u << 18) /* 1 GiB of 4 KiB pages */

struct region {
	unsigned char *acc; /* accessed bit of each page */
	unsigned char *cleared; /* cleared at this tick */
	uint64_t *last_clear; /* tick of each page's last clear */
	pf_page_state *state;
	uint64_t nclear, tick;
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
	return PF_PAGE_PRESENT | (g->acc[k] ? PF_PAGE_ACCESSED : 0);
}

static void clear(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	struct region *g = ctx;

	(void)r;
	g->cleared[k] = 1;
	g->last_clear[k] = g->tick;
	g->nclear++;
}

static void victim(void *ctx, const struct pf_page_run *r, uint64_t k)
{
	(void)ctx;
	(void)r;
	(void)k;
	cr_assert_fail("a 100%% budget has no victims");
}

static struct region *region_new(void)
{
	struct region *g = calloc(1, sizeof(*g));

	cr_assert_not_null(g);
	g->acc = calloc(PAGES, 1);
	g->cleared = calloc(PAGES, 1);
	g->last_clear = calloc(PAGES, sizeof(*g->last_clear));
	g->state = calloc(PAGES, sizeof(*g->state));
	cr_assert(g->acc && g->cleared && g->last_clear && g->state);
	return g;
}

static void region_free(struct region *g)
{
	free(g->acc);
	free(g->cleared);
	free(g->last_clear);
	free(g->state);
	free(g);
}

static void bind_lru(struct pf_engine_region *er, unsigned clear_every)
{
	struct pf_binding b = {.reclaim = pf_reclaim_find("lru")};

	pf_threshold_cfg_default(&b.threshold);
	b.threshold.mode = PF_THRESH_BUDGET;
	b.threshold.budget_pct = 100;
	b.params.clear_every = clear_every;
	memset(er, 0, sizeof(*er));
	cr_assert_eq(pf_engine_bind(er, &b, PAGES), 1);
	er->clear_per_s = PF_CLEAR_PER_S; /* as pageflexd: ticks are 1 s apart */
}

/* One tick after the program touched the pages hot(page, tick) says. */
static void tick(struct pf_engine_region *er, struct pf_engine_scratch *sc, struct region *g,
		 bool (*hot)(uint64_t page, uint64_t tick))
{
	struct pf_engine_io io = {g, run, bits, clear, victim};

	for (uint64_t p = 0; p < PAGES; p++)
		if (hot(p, g->tick))
			g->acc[p] = 1;
	g->nclear = 0;
	memset(g->cleared, 0, PAGES);
	pf_engine_tick(er, &io, sc, 0, 1000 * (g->tick + 1));
	for (uint64_t p = 0; p < PAGES; p++)
		if (g->cleared[p])
			g->acc[p] = 0;
	g->tick++;
}

static bool all_hot(uint64_t page, uint64_t t)
{
	(void)page;
	(void)t;
	return true;
}

static bool few_hot(uint64_t page, uint64_t t)
{
	(void)t;
	return page % 80 == 0; /* 1.25%: 3,277 pages a 1 s tick, under PF_CLEAR_PER_S */
}

static bool some_hot(uint64_t page, uint64_t t)
{
	(void)t;
	return page % 20 == 0; /* 5%: 13,107 pages a 1 s tick, over PF_CLEAR_PER_S */
}

/* Half of the region per interval, the other half at the next one. */
static bool alternating(uint64_t page, uint64_t t)
{
	return (page / 4096 + t) % 2 == 0;
}

/* 60 ticks of hot(); returns the most pages cleared in one of the last 30. */
static uint64_t run_60(struct pf_engine_region *er, struct pf_engine_scratch *sc, struct region *g,
		       bool (*hot)(uint64_t page, uint64_t tick))
{
	uint64_t most = 0;

	for (int t = 0; t < 60; t++) {
		tick(er, sc, g, hot);
		if (t >= 30 && g->nclear > most)
			most = g->nclear;
	}
	return most;
}

/* Every step-th page was cleared within the last clear_every ticks. */
static void assert_cleared_in_turn(const struct pf_engine_region *er, const struct region *g,
				   uint64_t step)
{
	for (uint64_t p = 0; p < PAGES; p += step)
		cr_assert_geq(g->last_clear[p] + pf_engine_clear_every(er), g->tick,
			      "page %llu last cleared at tick %llu of %llu", (unsigned long long)p,
			      (unsigned long long)g->last_clear[p], (unsigned long long)g->tick);
}

Test(engine_clear, all_hot_clears_a_tenth_per_tick_and_every_page_in_turn)
{
	struct pf_engine_region er;
	struct pf_engine_scratch sc = {0};
	struct region *g = region_new();
	uint64_t most;

	bind_lru(&er, 0);
	most = run_60(&er, &sc, g, all_hot);
	/* a tenth of the region, rounded up to whole 2 MiB chunks */
	cr_assert_leq(most, PAGES / 10 + 512, "%llu pages cleared in one tick",
		      (unsigned long long)most);
	cr_assert_geq(pf_engine_clear_every(&er), 10);
	assert_cleared_in_turn(&er, g, 1);
	cr_assert_eq(er.last_ws, PAGES, "working set %llu", (unsigned long long)er.last_ws);
	pf_engine_free(&er);
	pf_engine_scratch_free(&sc);
	region_free(g);
}

Test(engine_clear, a_small_working_set_is_cleared_at_every_tick)
{
	struct pf_engine_region er;
	struct pf_engine_scratch sc = {0};
	struct region *g = region_new();

	bind_lru(&er, 0);
	for (int t = 0; t < 20; t++)
		tick(&er, &sc, g, few_hot);
	cr_assert_eq(pf_engine_clear_every(&er), 1);
	cr_assert_eq(g->nclear, (PAGES + 79) / 80);
	cr_assert_eq(er.last_ws, (PAGES + 79) / 80);
	pf_engine_free(&er);
	pf_engine_scratch_free(&sc);
	region_free(g);
}

Test(engine_clear, the_working_set_is_one_interval_not_the_bits_left_set)
{
	struct pf_engine_region er;
	struct pf_engine_scratch sc = {0};
	struct region *g = region_new();
	uint64_t set = 0;

	bind_lru(&er, 0);
	for (int t = 0; t < 60; t++)
		tick(&er, &sc, g, alternating);
	for (uint64_t p = 0; p < PAGES; p++)
		set += g->acc[p];
	cr_assert_gt(pf_engine_clear_every(&er), 1);
	/* Bits left set cover nearly all pages; one interval touches half. */
	cr_assert_geq(set, PAGES * 5 / 8, "%llu bits set", (unsigned long long)set);
	cr_assert_leq(er.last_ws, PAGES / 2 + PAGES / 50, "working set %llu",
		      (unsigned long long)er.last_ws);
	cr_assert_geq(er.last_ws, PAGES / 2 - PAGES / 50, "working set %llu",
		      (unsigned long long)er.last_ws);
	pf_engine_free(&er);
	pf_engine_scratch_free(&sc);
	region_free(g);
}

Test(engine_clear, clear_all_clears_every_bit_at_the_next_tick_only)
{
	struct pf_engine_region er;
	struct pf_engine_scratch sc = {0};
	struct region *g = region_new();

	bind_lru(&er, 8);
	for (int t = 0; t < 10; t++)
		tick(&er, &sc, g, all_hot);
	cr_assert_leq(g->nclear, PAGES / 8 + 512);
	er.clear_all = true;
	tick(&er, &sc, g, all_hot);
	cr_assert_eq(g->nclear, PAGES);
	cr_assert_eq(er.last_ws, PAGES);
	tick(&er, &sc, g, all_hot);
	cr_assert_leq(g->nclear, PAGES / 8 + 512);
	pf_engine_free(&er);
	pf_engine_scratch_free(&sc);
	region_free(g);
}

/*
 * A twentieth of the region hot is under the share bound (a tenth) but over
 * the rate bound at 1 s ticks: 13,107 pages a tick, so about 4,096 a second
 * are cleared, every hot page still in turn, and the working set stays exact.
 */
Test(engine_clear, clears_stay_under_the_rate_bound_however_large_the_region)
{
	struct pf_engine_region er;
	struct pf_engine_scratch sc = {0};
	struct region *g = region_new();
	uint64_t most;

	bind_lru(&er, 0);
	most = run_60(&er, &sc, g, some_hot);
	cr_assert_eq(pf_engine_clear_every(&er), 4);
	/* whole 2 MiB chunks per segment: a hot page in 20, 26 more at most */
	cr_assert_leq(most, PF_CLEAR_PER_S + 32, "%llu pages cleared in a 1 s tick",
		      (unsigned long long)most);
	assert_cleared_in_turn(&er, g, 20);
	cr_assert_eq(er.last_ws, (PAGES + 19) / 20, "working set %llu",
		     (unsigned long long)er.last_ws);
	pf_engine_free(&er);
	pf_engine_scratch_free(&sc);
	region_free(g);
}

/* A copy of g's pages (bits, states, clears so far) for a second engine. */
static struct region *region_copy(const struct region *g)
{
	struct region *c = region_new();

	memcpy(c->acc, g->acc, PAGES);
	memcpy(c->last_clear, g->last_clear, PAGES * sizeof(*c->last_clear));
	memcpy(c->state, g->state, PAGES * sizeof(*c->state));
	c->tick = g->tick;
	return c;
}

/*
 * What a recording carries (trace.h, STATE) and its replay starts from: an
 * engine given another's clear segmentation mid-run clears the very pages
 * the other clears at every later tick; one that starts its own does not.
 */
Test(engine_clear, a_copied_segmentation_clears_the_same_pages)
{
	struct pf_engine_region a, b, fresh;
	struct pf_engine_scratch sc = {0};
	struct pf_engine_clears c;
	struct region *ga = region_new(), *gb, *gf;
	int apart_b = 0, apart_fresh = 0;

	bind_lru(&a, 0);
	for (int t = 0; t < 25; t++)
		tick(&a, &sc, ga, t < 12 ? all_hot : some_hot);
	gb = region_copy(ga);
	gf = region_copy(ga);
	bind_lru(&b, 0);
	bind_lru(&fresh, 0);
	b.ready = fresh.ready = a.ready;
	b.blank = fresh.blank = a.blank;
	pf_engine_clears_get(&a, &c);
	cr_assert_gt(c.clear_n, 1, "a segmentation worth copying");
	cr_assert(pf_engine_clears_set(&b, &c));
	for (int t = 0; t < 20; t++) {
		tick(&a, &sc, ga, some_hot);
		tick(&b, &sc, gb, some_hot);
		tick(&fresh, &sc, gf, some_hot);
		apart_b += memcmp(ga->cleared, gb->cleared, PAGES) != 0;
		apart_fresh += memcmp(ga->cleared, gf->cleared, PAGES) != 0;
	}
	cr_assert_eq(apart_b, 0, "the copy cleared other pages at %d ticks", apart_b);
	cr_assert_gt(apart_fresh, 0, "a fresh segmentation cleared the same pages too");
	/* Segmentations an engine cannot take. */
	c.clear_n = PF_CLEAR_MAX + 1;
	cr_assert_not(pf_engine_clears_set(&b, &c));
	c.clear_n = 2;
	c.seg_known = 4;
	cr_assert_not(pf_engine_clears_set(&b, &c));
	pf_engine_free(&a);
	pf_engine_free(&b);
	pf_engine_free(&fresh);
	pf_engine_scratch_free(&sc);
	region_free(ga);
	region_free(gb);
	region_free(gf);
}
