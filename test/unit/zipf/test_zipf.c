// SPDX-License-Identifier: MIT
/*
 * Unit tests of the one Zipf sampler (common/zipf.c): the scatter is a
 * bijection, the ranks follow the exact Zipf law for exponents below, at and
 * above 1 (and s = 0 is uniform), a draw costs about one uniform number, and
 * the same seed gives the same draws.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "zipf.h"

Test(zipf, scatter_is_a_bijection)
{
	const uint64_t ns[] = {1, 2, 3, 7, 64, 1000, 4096, 4097, 65537};

	for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
		for (uint64_t seed = 0; seed < 3; seed++) {
			uint64_t n = ns[t];
			unsigned char *seen = calloc(n, 1);
			struct pf_scatter p;

			cr_assert_not_null(seen);
			pf_scatter_init(&p, n, seed);
			for (uint64_t i = 0; i < n; i++) {
				uint64_t x = pf_scatter(&p, i);

				cr_assert_lt(x, n, "n=%llu", (unsigned long long)n);
				cr_assert_eq(seen[x], 0, "n=%llu: %llu twice",
					     (unsigned long long)n, (unsigned long long)x);
				seen[x] = 1;
			}
			free(seen);
		}
	}
}

Test(zipf, scatter_moves_the_hot_ranks_apart)
{
	struct pf_scatter p;
	uint64_t near = 0;

	/* The 64 hottest ranks of 2^20 items: few should land within a
	 * 4 KiB page (512 items) of the next rank's item. */
	pf_scatter_init(&p, 1 << 20, 1);
	for (uint64_t r = 0; r < 64; r++) {
		uint64_t a = pf_scatter(&p, r), b = pf_scatter(&p, r + 1);

		near += (a > b ? a - b : b - a) < 512;
	}
	cr_assert_leq(near, 2);
}

/* Pearson's chi-square of `draws` ranks against the exact law. (Gray et al.'s
 * approximation, the workloads' sampler before, scores about 1170 at n = 100,
 * s = 0.99.) */
static double chi_square(uint64_t n, double s, uint64_t draws, double *draws_per_sample)
{
	struct pf_zipf z;
	uint64_t *count = calloc(n, sizeof(*count));
	uint64_t rng = 12345, calls = 0;
	double norm = 0, chi = 0;

	cr_assert_not_null(count);
	cr_assert_eq(pf_zipf_init(&z, n, s, 7), 0);
	for (uint64_t i = 0; i < draws; i++) {
		uint64_t before = rng, r = pf_zipf_rank(&z, &rng);

		cr_assert_lt(r, n);
		count[r]++;
		/* Each uniform draw advances the state by the same odd step. */
		for (uint64_t st = before; st != rng; st += 0x9e3779b97f4a7c15ull)
			calls++;
	}
	for (uint64_t k = 1; k <= n; k++)
		norm += pow((double)k, -s);
	for (uint64_t k = 1; k <= n; k++) {
		double want = (double)draws * pow((double)k, -s) / norm;
		double d = (double)count[k - 1] - want;

		chi += d * d / want;
	}
	free(count);
	*draws_per_sample = (double)calls / (double)draws;
	return chi;
}

Test(zipf, ranks_follow_the_exact_law)
{
	const double ss[] = {0, 0.5, 0.9, 0.99, 1.0, 1.2, 2.0, 4.0};

	for (size_t t = 0; t < sizeof(ss) / sizeof(ss[0]); t++) {
		double per;
		/* 100 ranks: 99 degrees of freedom, mean 99, sd 14. Ranks
		 * whose expected count is tiny (s = 4) inflate it a little. */
		double chi = chi_square(100, ss[t], 400000, &per);

		cr_log_info("s=%.2f: chi2=%.1f, %.3f uniform draws a sample", ss[t], chi, per);
		cr_assert_lt(chi, 200, "s=%.2f: chi2=%.1f over 99 d.f.", ss[t], chi);
		cr_assert_lt(per, 1.1, "s=%.2f: %.3f uniform draws a sample", ss[t], per);
	}
}

Test(zipf, large_n_stays_in_range_and_cheap)
{
	struct pf_zipf z;
	uint64_t rng = 1, hot = 0;

	cr_assert_eq(pf_zipf_init(&z, 1ull << 40, 0.99, 1), 0);
	for (int i = 0; i < 100000; i++) {
		uint64_t r = pf_zipf_rank(&z, &rng);

		cr_assert_lt(r, 1ull << 40);
		hot += r == 0;
	}
	/* P(rank 0) = 1 / H(2^40, 0.99) = 1 / 32.53: 3074 expected, sd 54. */
	cr_assert(hot > 2874 && hot < 3274, "rank 0 drawn %llu times", (unsigned long long)hot);
}

Test(zipf, same_seed_same_draws)
{
	struct pf_zipf a, b, c;
	uint64_t ra = 5, rb = 5, rc = 5;
	int differ = 0;

	pf_zipf_init(&a, 4096, 0.9, 1);
	pf_zipf_init(&b, 4096, 0.9, 1);
	pf_zipf_init(&c, 4096, 0.9, 2);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = pf_zipf_next(&a, &ra);

		cr_assert_eq(x, pf_zipf_next(&b, &rb));
		differ += x != pf_zipf_next(&c, &rc);
	}
	cr_assert_gt(differ, 500, "another seed scatters the hot pages elsewhere");
}

Test(zipf, refuses_what_has_no_law)
{
	struct pf_zipf z;

	cr_assert_eq(pf_zipf_init(&z, 0, 0.9, 1), -1);
	cr_assert_eq(pf_zipf_init(&z, 10, -0.1, 1), -1);
	cr_assert_eq(pf_zipf_init(&z, 10, NAN, 1), -1);
	cr_assert_eq(pf_zipf_init(&z, 10, INFINITY, 1), -1);
	cr_assert_eq(pf_zipf_init(&z, 1, 0.9, 1), 0);
	cr_assert_eq(pf_zipf_rank(&z, &(uint64_t){1}), 0);
}
