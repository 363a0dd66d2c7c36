// SPDX-License-Identifier: MIT
/*
 * The reclaim framework: histogram buckets, cuts, the three threshold modes,
 * and the bounded phase memory.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "params.h"
#include "phase_memo.h"
#include "threshold.h"

Test(hist, buckets_are_monotonic)
{
	unsigned prev = 0;

	for (uint64_t w = 0; w <= UINT32_MAX; w = w < 64 ? w + 1 : w + w / 7) {
		unsigned b = pf_hist_bucket((uint32_t)w);

		cr_assert_geq(b, prev, "w %llu", (unsigned long long)w);
		cr_assert_lt(b, PF_HIST_BUCKETS);
		prev = b;
	}
	cr_assert_eq(pf_hist_bucket(15), 15);
	cr_assert_eq(pf_hist_bucket(UINT32_MAX), PF_HIST_BUCKETS - 1);
}

Test(hist, cut_n_takes_the_lowest)
{
	struct pf_hist h;
	struct pf_cut c;

	pf_hist_clear(&h);
	for (uint32_t w = 0; w < 10; w++)
		for (int k = 0; k < 3; k++)
			pf_hist_add(&h, w); /* three pages of each weight 0..9 */
	c = pf_hist_cut_n(&h, 7);
	cr_assert_eq(c.bucket, 2);
	cr_assert_eq(c.extra, 1);
	cr_assert_eq(c.pages, 7);
	/* Below the cut: weights 0 and 1; of the boundary bucket, the lowest page. */
	struct pf_victim cand[3];

	for (int k = 0; k < 3; k++)
		cand[k] = (struct pf_victim){.weight = 2, .page = (uint64_t)(9 - k)};
	cr_assert_eq(pf_select_extra(cand, 3, &c), 1);
	cr_assert_eq(cand[0].page, 7);
	c = pf_hist_cut_n(&h, 100);
	cr_assert_eq(c.pages, 30);
}

Test(threshold, budget_mode_reclaims_below_the_budget)
{
	struct pf_threshold_cfg cfg;
	struct pf_threshold t;
	struct pf_hist h;
	struct pf_cut c;

	pf_threshold_cfg_default(&cfg);
	cfg.budget_pages = 100;
	cfg.headroom_pct = 10;
	pf_threshold_init(&t, &cfg);
	pf_hist_clear(&h);
	for (uint32_t i = 0; i < 95; i++)
		pf_hist_add(&h, i);
	c = pf_threshold_decide(&t, &h, 95, 0);
	cr_assert_eq(c.pages, 0, "under budget");
	for (uint32_t i = 0; i < 30; i++)
		pf_hist_add(&h, 1000);
	c = pf_threshold_decide(&t, &h, 125, 0);
	cr_assert_eq(c.pages, 125 - 90, "down to 90%% of the budget");
	cfg.budget_pages = 0;
	cfg.budget_pct = 30;
	cr_assert_eq(pf_threshold_budget(&cfg, 1000), 300);
}

Test(threshold, promotion_mode_follows_the_refault_rate)
{
	struct pf_threshold_cfg cfg;
	struct pf_threshold t;
	struct pf_hist h;
	struct pf_cut c;
	uint64_t now = 0;

	pf_threshold_cfg_default(&cfg);
	cfg.mode = PF_THRESH_PROMOTION;
	cfg.promotion_ppm = 1000; /* 0.1% of the working set per minute */
	cfg.period_ms = 60000;
	pf_threshold_init(&t, &cfg);
	pf_hist_clear(&h);
	for (uint32_t i = 0; i < 1000; i++)
		pf_hist_add(&h, i % 16);
	c = pf_threshold_decide(&t, &h, 1000, now);
	cr_assert_eq(c.pages, 0, "starts with nothing to page out");
	/* No refaults: the cut rises one bucket per period. */
	for (int i = 0; i < 4; i++)
		c = pf_threshold_decide(&t, &h, 1000, now += 60000);
	cr_assert_eq(t.cut_bucket, 4);
	cr_assert_eq(c.pages, 4 * 63, "buckets 0..3: %llu", (unsigned long long)c.pages);
	/* 5 refaults in a minute on 1000 pages = 5000 ppm > 1000: back down. */
	for (int i = 0; i < 5; i++)
		pf_threshold_refaults(&t, 1);
	c = pf_threshold_decide(&t, &h, 1000, now += 60000);
	cr_assert_eq(t.cut_bucket, 3);
	/* 1 refault = 1000 ppm: at target, the cut holds. */
	pf_threshold_refaults(&t, 1);
	c = pf_threshold_decide(&t, &h, 1000, now += 60000);
	cr_assert_eq(t.cut_bucket, 3);
}

Test(threshold, mode_names)
{
	enum pf_threshold_mode m;

	cr_assert_eq(pf_threshold_mode_parse("promotion", &m), 0);
	cr_assert_eq(m, PF_THRESH_PROMOTION);
	cr_assert_str_eq(pf_threshold_mode_name(PF_THRESH_COLD_AGE), "cold-age");
	cr_assert_neq(pf_threshold_mode_parse("fast", &m), 0);
}

Test(params, set_by_name_and_list_valid_names)
{
	struct pf_policy_params p;
	char err[512];

	pf_policy_params_default(&p);
	cr_assert_eq(pf_params_set(&p, "cold_age_ms", "30000", err, sizeof(err)), 0);
	cr_assert_eq(p.cold_age_ms, 30000);
	cr_assert_neq(pf_params_set(&p, "cold_age", "1", err, sizeof(err)), 0);
	cr_assert(strstr(err, "unknown parameter 'cold_age'") && strstr(err, "cold_age_ms") &&
			  strstr(err, "leap_max_pages"),
		  "%s", err);
	cr_assert_neq(pf_params_set(&p, "lfu_decay", "-1", err, sizeof(err)), 0);
	cr_assert_neq(pf_params_set(&p, "lfu_decay", "99999999999", err, sizeof(err)), 0);
}

Test(phase_memo, bounded_and_replaces_the_oldest)
{
	struct pf_phase_memo *m = pf_phase_memo_new(2, 3);
	uint64_t pages[] = {1, 2, 3, 4, 5};
	const uint64_t *got;
	size_t bytes;

	cr_assert_not_null(m);
	bytes = pf_phase_memo_bytes(m);
	cr_assert_eq(pf_phase_memo_lookup(m, "idx", "query", &got), 0);
	pf_phase_memo_record(m, "idx", "query", pages, 5, 10);
	cr_assert_eq(pf_phase_memo_lookup(m, "idx", "query", &got), 3, "capped at 3 pages");
	cr_assert_eq(got[2], 3);
	pf_phase_memo_record(m, "idx", "build", pages + 1, 2, 20);
	pf_phase_memo_record(m, "cache", "query", pages + 3, 2, 30); /* replaces idx/query */
	cr_assert_eq(pf_phase_memo_lookup(m, "idx", "query", &got), 0);
	cr_assert_eq(pf_phase_memo_lookup(m, "cache", "query", &got), 2);
	cr_assert_eq(got[0], 4);
	cr_assert_eq(pf_phase_memo_entries(m), 2);
	cr_assert_eq(pf_phase_memo_bytes(m), bytes, "memory fixed at creation");
	pf_phase_memo_free(m);
	cr_assert_null(pf_phase_memo_new(0, 10));
}
