// SPDX-License-Identifier: MIT
/*
 * The simulator end to end on small synthetic workloads: phase-entry
 * actions and the phase memory, per-region rules, and the MIN bound.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "gen.h"
#include "sim.h"
#include "testutil.h"

static struct sim_cfg base_cfg(const char *reclaim, const char *prefetch, uint32_t budget_pct)
{
	struct sim_cfg c = {.scan_ms = 10, .hot_window_ms = 20};

	pf_policy_params_default(&c.def.params);
	c.def.params.tick_ms = 10;
	pf_threshold_cfg_default(&c.def.threshold);
	c.def.threshold.budget_pct = budget_pct;
	c.def.reclaim = pf_reclaim_find(reclaim);
	c.def.prefetch = pf_prefetch_find(prefetch);
	return c;
}

static struct sim_stats run(const struct sim_cfg *c, const char *spec)
{
	char err[512];
	struct gen *g = gen_new(spec, err, sizeof(err));
	struct sim_source src;
	struct sim_result res;
	struct sim_stats st;

	cr_assert_not_null(g, "%s", err);
	src = gen_source(g);
	cr_assert_eq(sim_run(c, &src, &res, err, sizeof(err)), 0, "%s", err);
	st = res.total;
	sim_result_free(&res);
	gen_free(g);
	return st;
}

static struct pf_rules *load(const char *rel)
{
	char path[4096], err[512];
	struct pf_rules *rs;

	snprintf(path, sizeof(path), "%s/%s", tu_source_dir(), rel);
	rs = pf_rules_load(path, err, sizeof(err));
	cr_assert_not_null(rs, "%s", err);
	return rs;
}

Test(sim, phase_rules_demote_and_prefetch_the_hot_set)
{
	const char *spec = "phases:pages=2048,phase_len=8192,loops=4";
	struct sim_cfg flat = base_cfg("lru", "readahead", 50), ph = flat, hot;
	struct pf_rules *rflat = load("bench/sim/flat.yaml"), *rph = load("bench/sim/phases.yaml");
	struct sim_stats a, b, c;

	flat.rules = rflat;
	ph.rules = rph;
	hot = ph;
	hot.phase_hot = true;
	a = run(&flat, spec);
	b = run(&ph, spec);
	c = run(&hot, spec);
	/* Demoting the other phase's region on entry saves memory... */
	cr_assert_eq(a.demoted, 0);
	cr_assert_gt(b.demoted, 0);
	cr_assert_lt(b.avg_resident, 0.75 * a.avg_resident, "%.0f vs %.0f", b.avg_resident,
		     a.avg_resident);
	/* ... and bringing back last run's hot set cuts the refaults it costs. */
	cr_assert_eq(b.phase_prefetched, 0);
	cr_assert_gt(c.phase_prefetched, 0);
	cr_assert_lt(c.swapins, b.swapins, "%llu vs %llu", (unsigned long long)c.swapins,
		     (unsigned long long)b.swapins);
	cr_assert_leq(c.swapins, a.swapins, "no more refaults than one process-wide rule");
	pf_rules_free(rflat);
	pf_rules_free(rph);
}

Test(sim, per_region_rules_bind_leap_and_hyperbolic)
{
	struct sim_cfg one = base_cfg("lru", "readahead", 40), per = one;
	struct pf_rules *rs = load("bench/sim/mix.yaml");
	struct sim_stats a, b;
	const char *spec = "mix:pages=4096,accesses=200000";

	per.rules = rs;
	a = run(&one, spec);
	b = run(&per, spec);
	cr_assert_gt(b.prefetch_hits, b.prefetch_issued * 9 / 10, "Leap on the index is accurate");
	cr_assert_lt(b.swapins, a.swapins / 2, "%llu vs %llu", (unsigned long long)b.swapins,
		     (unsigned long long)a.swapins);
	pf_rules_free(rs);
}

Test(sim, min_bounds_every_policy_on_zipf)
{
	const char *spec = "zipf:pages=4096,s=0.9,accesses=100000";
	const char *all[] = {"kernel", "cold-age", "lru", "lfu", "hyperbolic"};
	struct sim_cfg c = base_cfg("kernel", "none", 30);
	uint64_t min;

	c.min = true;
	min = run(&c, spec).swapins;
	c.min = false;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		c.def.reclaim = pf_reclaim_find(all[i]);
		cr_assert_lt(min, run(&c, spec).swapins, "%s", all[i]);
	}
}

Test(sim, budget_holds_and_footprint_is_counted)
{
	struct sim_cfg c = base_cfg("hyperbolic", "none", 25);
	struct sim_stats st = run(&c, "seq:pages=1000,loops=3");

	cr_assert_eq(st.first_touch, 1000);
	cr_assert_leq(st.avg_resident, 250.0);
	cr_assert_gt(sim_saved(&st), 0.5);
	cr_assert_eq(st.accesses, 3000);
}
