// SPDX-License-Identifier: MIT
/*
 * Reclaim policies on small hand-computed cases: the registry, cold-age,
 * LRU (CLOCK), LFU, Hyperbolic and Belady MIN on textbook reference strings.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policy.h"
#include "seqsrc.h"
#include "threshold.h"

static struct pf_policy_params params(void)
{
	struct pf_policy_params p;

	pf_policy_params_default(&p);
	return p;
}

Test(registry, finds_and_lists)
{
	char names[256];
	const char *all[] = {"kernel", "cold-age", "lru", "lfu", "hyperbolic"};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cr_assert_not_null(pf_reclaim_find(all[i]), "%s", all[i]);
	cr_assert_null(pf_reclaim_find("nope"));
	cr_assert_null(pf_reclaim_find(NULL));
	pf_reclaim_names(names, sizeof(names));
	cr_assert_str_eq(names, "kernel, cold-age, lru, lfu, hyperbolic");
	cr_assert(pf_reclaim_find("kernel")->flags & PF_RECLAIM_PASSIVE);
	cr_assert_not(pf_reclaim_find("lru")->flags & PF_RECLAIM_PASSIVE);
	pf_prefetch_names(names, sizeof(names));
	cr_assert_str_eq(names, "none, readahead, leap");
}

Test(cold_age, victim_after_idle_time)
{
	struct pf_policy_params p = params();
	const struct pf_reclaim_ops *ops = pf_reclaim_find("cold-age");
	struct pf_scan_page hit = {.accessed = true, .present = true};
	struct pf_scan_page idle = {.accessed = false, .present = true};
	pf_page_state s;

	p.cold_age_ms = 5000;
	p.tick_ms = 1000;
	s = ops->init(&p, 0);
	s = ops->scan(&p, s, &hit, 10000); /* last access at t=10 s */
	s = ops->scan(&p, s, &idle, 14000);
	cr_assert_not(ops->victim(&p, s, 14000), "idle 4 s < 5 s");
	s = ops->scan(&p, s, &idle, 15000);
	cr_assert(ops->victim(&p, s, 15000), "idle 5 s >= 5 s");
	/* Colder pages weigh less. */
	pf_page_state warm = ops->scan(&p, s, &hit, 15000);
	cr_assert_lt(ops->weight(&p, s, 15000), ops->weight(&p, warm, 15000));
	/* A fresh access makes it hot again. */
	cr_assert_not(ops->victim(&p, warm, 15000));
}

Test(lru, clock_history_orders_by_recency)
{
	struct pf_policy_params p = params();
	const struct pf_reclaim_ops *ops = pf_reclaim_find("lru");
	struct pf_scan_page y = {.accessed = true}, n = {.accessed = false};
	pf_page_state a = ops->init(&p, 0), b = ops->init(&p, 0);

	p.clock_bits = 4;
	/* a used in scan 1, b in scan 2; after scan 3 b is more recent. */
	a = ops->scan(&p, a, &y, 1);
	b = ops->scan(&p, b, &n, 1);
	a = ops->scan(&p, a, &n, 2);
	b = ops->scan(&p, b, &y, 2);
	a = ops->scan(&p, a, &n, 3);
	b = ops->scan(&p, b, &n, 3);
	cr_assert_eq(a, 0x2, "1000 -> 0100 -> 0010, got %x", a);
	cr_assert_eq(b, 0x4);
	cr_assert_lt(ops->weight(&p, a, 3), ops->weight(&p, b, 3));
}

/* Silberschatz's reference string, 3 frames: LRU 12 faults, OPT 9. */
static const uint64_t textbook[] = {7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1};

Test(lru, textbook_reference_string)
{
	cr_assert_eq(seq_faults("lru", false, textbook, 20, 3), 12);
}

Test(min, textbook_reference_string)
{
	cr_assert_eq(seq_faults("kernel", true, textbook, 20, 3), 9);
	/* Four frames: OPT 8 faults (Silberschatz, exercise 9.8 style). */
	cr_assert_eq(seq_faults("kernel", true, textbook, 20, 4), 8);
}

Test(lfu, keeps_the_frequent_page)
{
	/* A is used 3 times, then B and C alternate in 1 free frame: LFU keeps A
	 * and faults on every B/C (7 faults); LRU evicts A once and keeps B, C
	 * (3 faults). */
	static const uint64_t refs[] = {1, 1, 1, 2, 3, 2, 3, 2, 3};

	cr_assert_eq(seq_faults("lfu", false, refs, 9, 2), 7);
	cr_assert_eq(seq_faults("lru", false, refs, 9, 2), 3);
	/* ... but when A keeps coming back, LFU wins: 5 faults against 7. */
	static const uint64_t refs2[] = {1, 1, 1, 1, 2, 3, 1, 2, 3, 1};

	cr_assert_eq(seq_faults("lfu", false, refs2, 10, 2), 5);
	cr_assert_eq(seq_faults("lru", false, refs2, 10, 2), 7);
}

Test(lfu, decay_halves_counts)
{
	struct pf_policy_params p = params();
	const struct pf_reclaim_ops *ops = pf_reclaim_find("lfu");
	struct pf_scan_page y = {.accessed = true}, n = {.accessed = false};
	pf_page_state s = ops->init(&p, 0);

	p.lfu_decay = 4;
	for (int i = 0; i < 3; i++)
		s = ops->scan(&p, s, &y, 0);
	cr_assert_eq(ops->weight(&p, s, 0), 3);
	s = ops->scan(&p, s, &n, 0); /* 4th scan: 3 >> 1 */
	cr_assert_eq(ops->weight(&p, s, 0), 1);
}

Test(hyperbolic, evicts_lowest_hits_per_age)
{
	struct pf_policy_params p = params();
	const struct pf_reclaim_ops *ops = pf_reclaim_find("hyperbolic");
	struct pf_scan_page y = {.accessed = true};
	struct pf_hist h;
	struct pf_victim cand[3];
	pf_page_state s[3];
	uint64_t now = 100;

	p.tick_ms = 1;
	/* page 0: 10 hits over 100 ticks (0.10); page 1: 3 hits over 10 (0.30);
	 * page 2: 4 hits over 50 (0.08) -> page 2 has the lowest hits / age even
	 * though page 1 has fewer hits and page 0 is older. All states start
	 * at 0 (a region's bind); a page's age starts at its first access. */
	for (int i = 0; i < 3; i++)
		s[i] = ops->init(&p, 0);
	for (int i = 0; i < 10; i++)
		s[0] = ops->scan(&p, s[0], &y, i ? now : 0);
	for (int i = 0; i < 3; i++)
		s[1] = ops->scan(&p, s[1], &y, i ? now : 90);
	for (int i = 0; i < 4; i++)
		s[2] = ops->scan(&p, s[2], &y, i ? now : 50);
	pf_hist_clear(&h);
	for (int i = 0; i < 3; i++) {
		cand[i] = (struct pf_victim){.weight = ops->weight(&p, s[i], now),
					     .page = (uint64_t)i};
		pf_hist_add(&h, cand[i].weight);
	}
	cr_assert_lt(cand[2].weight, cand[0].weight);
	cr_assert_lt(cand[0].weight, cand[1].weight);
	struct pf_cut cut = pf_hist_cut_n(&h, 1);
	size_t k = 0;
	struct pf_victim in_bucket[3];

	for (int i = 0; i < 3; i++)
		if (pf_hist_bucket(cand[i].weight) < cut.bucket)
			cr_assert_fail("page %d below the cut", i);
		else if (pf_hist_bucket(cand[i].weight) == cut.bucket)
			in_bucket[k++] = cand[i];
	cr_assert_eq(pf_select_extra(in_bucket, k, &cut), 1);
	cr_assert_eq(in_bucket[0].page, 2, "victim %llu", (unsigned long long)in_bucket[0].page);
}

Test(min, bounds_every_policy_on_a_loop)
{
	/* A loop of 5 pages in 4 frames: LRU faults every time, MIN does not. */
	uint64_t refs[50];

	for (int i = 0; i < 50; i++)
		refs[i] = (uint64_t)(i % 5);
	uint64_t min = seq_faults("kernel", true, refs, 50, 4);

	cr_assert_eq(seq_faults("lru", false, refs, 50, 4), 50);
	const char *all[] = {"lru", "lfu", "hyperbolic", "kernel"};

	for (size_t i = 0; i < 4; i++)
		cr_assert_leq(min, seq_faults(all[i], false, refs, 50, 4), "%s", all[i]);
	cr_assert_lt(min, 20, "MIN faults %llu", (unsigned long long)min);
}
