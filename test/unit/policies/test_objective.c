// SPDX-License-Identifier: MIT
/*
 * The objective controller (policy/objective.h) on synthetic inputs: it
 * tightens while inside its objective, backs off at once on a violation,
 * holds a budget below the working set at the age that thrashed instead of
 * thrashing again, and parses the command line's objectives.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "objective.h"

struct run {
	struct pf_objective o;
	uint64_t now;
};

static void run_init(struct run *r, const char *arg)
{
	struct pf_objective_cfg c;
	char err[256];

	pf_objective_cfg_default(&c);
	cr_assert_eq(pf_objective_parse_arg(arg, &c, err, sizeof(err)), 0, "%s", err);
	pf_objective_init(&r->o, &c);
	r->now = 1000;
	pf_objective_tick(&r->o, &(struct pf_objective_input){.now_ms = r->now});
}

/* One 1 s tick. */
static enum pf_objective_move tick(struct run *r, uint64_t refaults, uint64_t ws, uint64_t resident,
				   uint64_t pages, uint64_t stall_us)
{
	r->now += 1000;
	return pf_objective_tick(&r->o, &(struct pf_objective_input){.now_ms = r->now,
								     .refaults = refaults,
								     .working_set = ws,
								     .resident = resident,
								     .pages = pages,
								     .stall_us = stall_us});
}

Test(objective, promotion_tightens_to_the_floor_when_nothing_refaults)
{
	struct run r;
	int t = 0;

	run_init(&r, "promotion=0.2");
	cr_assert_eq(r.o.age_ms, 120000);
	for (int i = 0; i < 200; i++)
		t += tick(&r, 0, 100000, 0, 0, 0) == PF_OBJ_TIGHTEN;
	cr_assert_eq(r.o.age_ms, r.o.cfg.min_age_ms, "age %llu", (unsigned long long)r.o.age_ms);
	/* 120 s -> 10 s by halves (nothing refaults: far inside the goal): 4 steps,
	 * one per 10 s period at most. */
	cr_assert_eq(t, 4);
	cr_assert_eq(r.o.value, 0);
}

Test(objective, promotion_backs_off_at_once_and_holds_inside_the_band)
{
	struct run r;
	uint64_t age;

	run_init(&r, "promotion=0.2");
	/* 0.2%/min of 100000 pages: 200 refaults a minute, 33 a 10 s period. */
	cr_assert_eq(tick(&r, 20, 100000, 0, 0, 0), PF_OBJ_HOLD);
	age = r.o.age_ms;
	cr_assert_eq(tick(&r, 20, 100000, 0, 0, 0), PF_OBJ_BACKOFF, "40 > 33: at once");
	cr_assert_eq(r.o.age_ms, 2 * age);
	cr_assert_eq(r.o.backoffs, 1);
	/* 25 refaults per period: 0.15%/min, between half the target and it: hold. */
	for (int i = 0; i < 50; i++)
		cr_assert_eq(tick(&r, i % 2 ? 3 : 2, 100000, 0, 0, 0), PF_OBJ_HOLD, "tick %d", i);
	cr_assert_eq(r.o.age_ms, 2 * age);
	cr_assert(r.o.value > 1000 && r.o.value <= 2000, "value %llu",
		  (unsigned long long)r.o.value);
	/* 10 a period: 0.06%/min, under half the target but not an eighth: 3/4. */
	age = r.o.age_ms;
	for (int i = 0; i < 10; i++)
		tick(&r, 1, 100000, 0, 0, 0);
	cr_assert_eq(r.o.last, PF_OBJ_TIGHTEN);
	cr_assert_eq(r.o.age_ms, age * 3 / 4, "age %llu, was %llu", (unsigned long long)r.o.age_ms,
		     (unsigned long long)age);
}

Test(objective, pressure_backs_off_on_stall)
{
	struct run r;

	run_init(&r, "pressure=0.1");
	cr_assert_eq(r.o.cfg.stall_ppm, 1000);
	/* 0.1% of 10 s is 10 ms a period. */
	cr_assert_eq(tick(&r, 0, 0, 0, 0, 5000), PF_OBJ_HOLD);
	cr_assert_eq(tick(&r, 0, 0, 0, 0, 6000), PF_OBJ_BACKOFF);
	for (int i = 0; i < 30; i++)
		tick(&r, 0, 0, 0, 0, 0);
	cr_assert_eq(r.o.last, PF_OBJ_TIGHTEN, "no stall: tightens again");
}

Test(objective, budget_tightens_then_loosens_with_room)
{
	struct run r;

	run_init(&r, "budget=400M"); /* 102400 pages */
	cr_assert_eq(pf_objective_budget(&r.o.cfg, 1 << 20), 102400);
	for (int i = 0; i < 30; i++)
		tick(&r, 0, 1000, 200000, 262144, 0);
	cr_assert_eq(r.o.tightens, 3);
	cr_assert_not(r.o.unreachable);
	/* Met with room to spare: loosens. */
	for (int i = 0; i < 10; i++)
		tick(&r, 0, 1000, 50000, 262144, 0);
	cr_assert_eq(r.o.last, PF_OBJ_LOOSEN);
	cr_assert_eq(r.o.value, 50000);
}

/*
 * A budget below the working set: every step down makes pages come straight
 * back. The controller backs off once, calls the budget unreachable and holds
 * at the age that thrashed instead of thrashing again.
 */
Test(objective, unreachable_budget_holds_instead_of_thrashing)
{
	struct run r;
	uint64_t floor = 0;
	int backoffs_after = 0;

	run_init(&r, "budget=1%");
	for (int i = 0; i < 400; i++) {
		/* Thrashing below 30 s: 5000 refaults a second on a 10000-page WS. */
		uint64_t refaults = r.o.age_ms < 30000 ? 5000 : 0;
		enum pf_objective_move m = tick(&r, refaults, 10000, 200000, 262144, 0);

		if (m == PF_OBJ_BACKOFF && !floor)
			floor = r.o.age_ms;
		else if (m == PF_OBJ_BACKOFF)
			backoffs_after++;
	}
	cr_assert(floor, "never backed off");
	cr_assert(r.o.unreachable, "the budget is not called unreachable");
	cr_assert_eq(backoffs_after, 0, "thrashed %d more times", backoffs_after);
	cr_assert_geq(r.o.age_ms, 30000, "held at %llu ms", (unsigned long long)r.o.age_ms);
	cr_assert_eq(r.o.age_ms, floor);
}

Test(objective, parse_and_describe)
{
	struct pf_objective_cfg c;
	char err[256], d[64];

	pf_objective_cfg_default(&c);
	cr_assert_eq(c.kind, PF_OBJ_PROMOTION);
	cr_assert_eq(c.promotion_ppm, 2000);
	cr_assert_eq(pf_objective_parse_arg("promotion=0.5%", &c, err, sizeof(err)), 0);
	cr_assert_eq(c.promotion_ppm, 5000);
	pf_objective_describe(&c, d, sizeof(d));
	cr_assert_str_eq(d, "promotion <= 0.50%/min");
	cr_assert_eq(pf_objective_parse_arg("budget=2G", &c, err, sizeof(err)), 0);
	cr_assert_eq(c.budget_pages, 524288);
	pf_objective_describe(&c, d, sizeof(d));
	cr_assert_str_eq(d, "resident <= 2048 MiB");
	cr_assert_eq(pf_objective_parse_arg("budget=50%", &c, err, sizeof(err)), 0);
	cr_assert_eq(c.budget_pct, 50);
	cr_assert_eq(c.budget_pages, 0);
	cr_assert_eq(pf_objective_parse_arg("none", &c, err, sizeof(err)), 0);
	cr_assert_eq(c.kind, PF_OBJ_NONE);
	static const char *const bad[] = {"promotion",
					  "promotion=0",
					  "promotion=x",
					  "promotion=101",
					  "budget=1",
					  "budget=0.5%",
					  "speed=1",
					  "none=1",
					  "pressure=-1",
					  "budget=",
					  "averyveryverylongkind=1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(pf_objective_parse_arg(bad[i], &c, err, sizeof(err)), -1, "%s",
			     bad[i]);
		cr_assert(err[0], "no message for %s", bad[i]);
	}
	cr_assert_eq(pf_objective_victim_cap(&c, 100), 6553);
	c.max_out_pages_per_s = 0;
	cr_assert_eq(pf_objective_victim_cap(&c, 100), UINT64_MAX);
}

/* A rule's regions under one pressure objective in a set (as pageflexd and
 * pageflex-sim run them): the members' own stall counts when the machine's
 * is smaller, and the age and victim cap reach every member. */
Test(objective, set_sums_a_rules_regions_and_sets_their_age)
{
	struct pf_engine_region er[2] = {0};
	struct pf_objective_member m[2];
	struct pf_objective_set set = {0};
	struct pf_binding b = {0};
	char err[256];

	snprintf(b.rule, sizeof(b.rule), "r");
	b.reclaim = pf_reclaim_find("cold-age");
	pf_policy_params_default(&b.params);
	pf_threshold_cfg_default(&b.threshold);
	b.threshold.mode = PF_THRESH_OBJECTIVE;
	pf_objective_cfg_default(&b.objective);
	cr_assert_eq(pf_objective_parse_arg("pressure=0.1", &b.objective, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_geq(pf_engine_bind(&er[i], &b, 1024), 0);
		m[i] = (struct pf_objective_member){.er = &er[i], .pages = 1024};
	}
	/* First tick: the objective starts; ages and caps are handed out. */
	cr_assert_eq(pf_objective_set_tick(&set, m, 2, 1000, 1000, 0), 0);
	cr_assert_eq(set.n, 1);
	cr_assert_eq(set.g[0].regions, 2);
	cr_assert_eq(er[0].obj_age_ms, 120000);
	cr_assert_eq(er[1].obj_age_ms, 120000);
	cr_assert_eq(er[0].victim_cap, 65536 / 2, "the cap is shared");
	/* The machine saw no stall, but the members' refaults stalled them
	 * 6 ms each: 12 ms > 10 ms a 10 s period allows. */
	m[0].stall_us = m[1].stall_us = 6000;
	cr_assert_eq(pf_objective_set_tick(&set, m, 2, 2000, 1000, 0), 0);
	cr_assert_eq(set.g[0].o.backoffs, 1);
	cr_assert_eq(er[0].obj_age_ms, 240000);
	cr_assert_eq(er[1].obj_move, PF_OBJ_BACKOFF);
	pf_objective_set_free(&set);
	pf_engine_free(&er[0]);
	pf_engine_free(&er[1]);
}
