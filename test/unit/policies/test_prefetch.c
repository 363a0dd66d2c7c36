// SPDX-License-Identifier: MIT
/*
 * Prefetch policies on hand-computed cases: Leap finds a stride of 7 within
 * the first 8 faults and stops when the pattern turns random; readahead
 * grows its window on sequential hits and does nothing for a stride.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "leap_core.h"
#include "policy.h"

struct run {
	const struct pf_prefetch_ops *ops;
	struct pf_policy_params p;
	uint64_t state[512];
	uint64_t pending[4096]; /* pages fetched and not used yet */
	size_t npending;
	uint64_t out[512];
};

static void run_init(struct run *r, const char *name)
{
	r->ops = pf_prefetch_find(name);
	cr_assert_not_null(r->ops);
	cr_assert_leq(r->ops->state_size, sizeof(r->state));
	pf_policy_params_default(&r->p);
	r->ops->init(r->state, &r->p);
	r->npending = 0;
}

/* One access: a hit if a prefetch brought the page in. Returns pages fetched. */
static size_t run_access(struct run *r, uint64_t page, bool *hit)
{
	size_t n;

	*hit = false;
	for (size_t i = 0; i < r->npending; i++)
		if (r->pending[i] == page) {
			r->pending[i] = r->pending[--r->npending];
			*hit = true;
			break;
		}
	n = r->ops->fault(r->state, &r->p, page, *hit, r->out, 512);
	for (size_t i = 0; i < n && r->npending < 4096; i++)
		r->pending[r->npending++] = r->out[i];
	return n;
}

Test(leap, finds_stride_7_within_8_faults)
{
	struct run r;
	int first = -1;
	bool hit;

	run_init(&r, "leap");
	for (int i = 0; i < 8; i++) {
		size_t n = run_access(&r, 1000 + 7 * (uint64_t)i, &hit);

		if (n && first < 0) {
			first = i;
			cr_assert_eq(r.out[0], 1000 + 7 * (uint64_t)(i + 1), "prefetches along +7");
			cr_assert_eq(r.out[1], 1000 + 7 * (uint64_t)(i + 2));
		}
	}
	cr_assert(first >= 0 && first < 8, "first prefetch at fault %d", first);
}

Test(leap, window_grows_on_hits_and_stops_when_random)
{
	struct run r;
	bool hit;
	size_t misses = 0, hits = 0, late_prefetches = 0, maxn = 0;
	uint64_t x = 12345;

	run_init(&r, "leap");
	for (int i = 0; i < 400; i++) {
		size_t n = run_access(&r, 5000 + 7 * (uint64_t)i, &hit);

		hits += hit;
		misses += !hit;
		if (n > maxn)
			maxn = n;
	}
	cr_assert_eq(maxn, 32, "window reaches leap_max_pages");
	cr_assert_lt(misses, 400 / 10, "%zu misses of 400", misses);
	/* Now random pages far apart. */
	for (int i = 0; i < 100; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		size_t n = run_access(&r, 100000 + (x >> 33) % 1000000, &hit);

		if (i >= 20)
			late_prefetches += n;
	}
	cr_assert_eq(late_prefetches, 0, "%zu pages prefetched after 20 random faults",
		     late_prefetches);
}

Test(leap, window_shrinks_on_misses)
{
	struct leap_state s;
	struct leap_decision d;
	uint64_t page = 0;

	leap_init(&s);
	/* A stride of 3 whose prefetches are never used (all misses). */
	for (int i = 0; i < 3; i++, page += 3)
		leap_fault(&s, page, 0, 32, &d);
	cr_assert_eq(d.count, 2, "new trend: window 2");
	leap_fault(&s, page, 0, 32, &d);
	cr_assert_eq(d.count, 1, "no hits: halves");
	page += 3;
	leap_fault(&s, page, 0, 32, &d);
	cr_assert_eq(d.count, 1, "a trend in the last 4 deltas keeps probing with 1");
	/* Two hits, then a miss: the next power of two above 3. */
	leap_fault(&s, page += 3, 1, 32, &d);
	leap_fault(&s, page += 3, 1, 32, &d);
	leap_fault(&s, page += 3, 0, 32, &d);
	cr_assert_eq(d.count, 4);
	cr_assert_eq(d.stride, 3);
	cr_assert(leap_in_window(&s, page + 12));
	cr_assert_not(leap_in_window(&s, page + 15));
	cr_assert_not(leap_in_window(&s, page + 1));
}

Test(leap, negative_stride)
{
	struct leap_state s;
	struct leap_decision d;

	leap_init(&s);
	for (uint64_t p = 1000; p > 900; p -= 5)
		leap_fault(&s, p, 0, 32, &d);
	cr_assert_eq(d.stride, -5);
	cr_assert(d.count > 0);
}

Test(readahead, sequential_grows_to_8)
{
	struct run r;
	bool hit;
	size_t misses = 0;

	run_init(&r, "readahead");
	for (uint64_t p = 100; p < 100 + 800; p++) {
		run_access(&r, p, &hit);
		misses += !hit;
	}
	/* Window 1, then 2, 4, 8: about one miss per 8 pages. */
	cr_assert_lt(misses, 800 / 8 + 8, "%zu misses", misses);
	cr_assert_gt(misses, 800 / 8 - 8, "%zu misses", misses);
}

Test(readahead, stride_7_gets_nothing)
{
	struct run r;
	bool hit;
	size_t fetched = 0, hits = 0;

	run_init(&r, "readahead");
	for (uint64_t i = 0; i < 200; i++) {
		fetched += run_access(&r, 7 * i, &hit);
		hits += hit;
	}
	cr_assert_eq(fetched, 0, "non-adjacent faults with no hits: window 1");
	cr_assert_eq(hits, 0);
}

Test(none, never_prefetches)
{
	struct run r;
	bool hit;

	run_init(&r, "none");
	for (uint64_t i = 0; i < 50; i++)
		cr_assert_eq(run_access(&r, i, &hit), 0);
}
