// SPDX-License-Identifier: MIT
/*
 * Issue 12's differential test on generated workloads: pageflexd's engine
 * path and pageflex-sim make the same decisions page for page, under every
 * reclaim policy and threshold mode, with prefetch. (test_agent runs the
 * same check on a trace recorded live.) See engine_diff.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine_diff.h"
#include "gen.h"

static void check(const char *spec, const char *yaml, uint64_t scan_ms)
{
	char err[512];
	struct pf_rules *rules = pf_rules_parse(yaml, strlen(yaml), "rules", err, sizeof(err));
	struct gen *g = gen_new(spec, err, sizeof(err));
	struct engine_diff_result r;
	struct sim_source src;

	cr_assert_not_null(rules, "%s", err);
	cr_assert_not_null(g, "%s", err);
	src = gen_source(g);
	cr_assert_eq(engine_diff(&src, rules, scan_ms, &r, err, sizeof(err)), 0, "%s", err);
	cr_log_info("%s: %llu ticks, victims %llu/%llu, refaults %llu/%llu, prefetched %llu/%llu",
		    spec, (unsigned long long)r.ticks, (unsigned long long)r.agent_victims,
		    (unsigned long long)r.sim_victims, (unsigned long long)r.agent_refaults,
		    (unsigned long long)r.sim_refaults, (unsigned long long)r.agent_prefetched,
		    (unsigned long long)r.sim_prefetched);
	cr_assert_str_empty(r.first_diff, "%s: %s", spec, r.first_diff);
	cr_assert_eq(r.agent_victims, r.sim_victims);
	cr_assert_eq(r.agent_refaults, r.sim_refaults);
	cr_assert_eq(r.agent_prefetched, r.sim_prefetched);
	/* Not vacuous: the stream spans many ticks and the policy acted. */
	cr_assert_gt(r.ticks, 10, "%s", spec);
	cr_assert_gt(r.agent_victims, 0, "%s: nothing paged out", spec);
	gen_free(g);
	pf_rules_free(rules);
}

/* clear_every 4: the bits of hot pages stay set between their clears (engine.h). */
Test(engine_diff, cold_age_on_zipf)
{
	check("zipf:pages=4096,s=0.9,accesses=300000,access_ns=1000",
	      "version: 1\n"
	      "defaults: {reclaim: cold-age, params: {cold_age_ms: 30, tick_ms: 10,"
	      " clear_every: 4}, threshold: {mode: cold-age}}\n",
	      10);
}

Test(engine_diff, lru_budget_with_readahead_on_seq)
{
	check("seq:pages=4096,loops=6,access_ns=20000",
	      "version: 1\n"
	      "defaults: {reclaim: lru, prefetch: readahead, threshold: {mode: budget,"
	      " budget_pct: 40}}\n",
	      10);
}

Test(engine_diff, lfu_and_hyperbolic_promotion_with_leap_on_mix)
{
	check("mix:pages=4096,accesses=300000,access_ns=20000",
	      "version: 1\n"
	      "rules:\n"
	      "  - name: index\n"
	      "    match: {tag: \"index*\"}\n"
	      "    reclaim: lfu\n"
	      "    prefetch: leap\n"
	      "    params: {lfu_decay: 4}\n"
	      "    threshold: {mode: budget, budget_pct: 30}\n"
	      "  - name: cache\n"
	      "    match: {tag: \"cache*\"}\n"
	      "    reclaim: hyperbolic\n"
	      "    params: {tick_ms: 10}\n"
	      "    threshold: {mode: promotion, promotion_ppm: 200000, period_ms: 20}\n",
	      10);
}

Test(engine_diff, phase_overrides_rebind_on_phases)
{
	check("phases:pages=2048,phase_len=20000,loops=4,access_ns=1000",
	      "version: 1\n"
	      "rules:\n"
	      "  - name: all\n"
	      "    match: {tag: \"*\"}\n"
	      "    reclaim: lru\n"
	      "    threshold: {mode: budget, budget_pct: 60}\n"
	      "    phases:\n"
	      "      \"query*\":\n"
	      "        reclaim: cold-age\n"
	      "        params: {cold_age_ms: 20, tick_ms: 10}\n"
	      "        threshold: {mode: cold-age}\n",
	      10);
}

/*
 * Issue 11: objectives. A promotion objective over cold-age and a budget
 * objective over lru in two rules of one process: both sides move the same
 * ages and cuts from the same working sets, resident pages and refaults.
 */
Test(engine_diff, objectives_promotion_and_budget)
{
	check("mix:pages=4096,s=0.9,accesses=400000,access_ns=2000",
	      "version: 1\n"
	      "rules:\n"
	      "  - name: first\n"
	      "    match: {tag: index}\n"
	      "    params: {tick_ms: 10}\n"
	      "    objective: {kind: promotion, promotion_ppm: 20000, period_ms: 50,\n"
	      "                min_age_ms: 20, max_age_ms: 200}\n"
	      "  - name: second\n"
	      "    match: {tag: cache}\n"
	      "    reclaim: lru\n"
	      "    objective: {kind: budget, budget_pct: 30, period_ms: 50, min_age_ms: 20}\n"
	      "defaults: {reclaim: kernel}\n",
	      10);
}
