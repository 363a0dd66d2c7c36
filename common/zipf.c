// SPDX-License-Identifier: MIT
/*
 * The Zipf sampler (zipf.h) of the simulator's generator and the benchmark
 * workloads. Why these algorithms:
 *
 * Ranks: rejection-inversion (W. Hormann, G. Derflinger, "Rejection-inversion
 * to generate variates from monotone discrete distributions", ACM TOMACS 6(3),
 * 1996), with the hat integral H(x) = (x^(1-s) - 1) / (1-s) that stays defined
 * at s = 1, as Apache Commons' sampler writes it. It is exact, needs O(1)
 * memory and O(1) set-up, and takes about one uniform draw per sample (a
 * rejection is rare; see test/unit/zipf). The alternatives each failed one
 * user: an exact CDF table with binary search (the simulator's before) costs
 * 8 bytes an item and log2(n) scattered reads a draw, which inside a
 * workload of millions of keys is a second, paged working set in the memory
 * being measured; Gray et al.'s approximation (the workloads' before, as in
 * YCSB) is O(1) but only approximately Zipf and undefined for s >= 1, which
 * the simulator accepts (0 <= s <= 10).
 *
 * Scatter: a cycle-walking permutation (Black, Rogaway 2002): an invertible
 * mix on the smallest power of two >= n, applied again until the value falls
 * below n (under two rounds on average). It is a bijection on [0, n) keyed by
 * the seed in O(1) memory. The simulator's Fisher-Yates table cost 4 bytes an
 * item; the workloads' affine map (a*i + c mod n) put hot ranks on an
 * arithmetic progression, a constant stride a prefetcher could follow.
 *
 * Reproducible: everything is a function of the seed and the caller's
 * splitmix64 state; no global state. (The draws use libm's exp/log, so a
 * different libm could move a rank at a rounding boundary.)
 */
#include "zipf.h"

#include <math.h>

static void scatter_mix(const struct pf_scatter *p, uint64_t *x)
{
	/* Each step is a bijection on [0, 2^k): xor with a k-bit key,
	 * multiply by an odd constant mod 2^k, xor-shift right. */
	static const uint64_t mul[3] = {0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull,
					0xd6e8feb86659fd93ull};

	for (int r = 0; r < 3; r++) {
		*x = ((*x ^ p->key[r]) * mul[r]) & p->mask;
		*x ^= *x >> p->shift;
	}
}

void pf_scatter_init(struct pf_scatter *p, uint64_t n, uint64_t seed)
{
	unsigned k = n > 1 ? 64 - (unsigned)__builtin_clzll(n - 1) : 0;
	uint64_t st = seed ^ 0x5ca77e75ca77e7ull;

	p->n = n;
	p->mask = k == 64 ? ~0ull : (1ull << k) - 1;
	p->shift = k > 1 ? (k + 1) / 2 : 1;
	for (int r = 0; r < 3; r++)
		p->key[r] = pf_splitmix64(&st) & p->mask;
}

uint64_t pf_scatter(const struct pf_scatter *p, uint64_t i)
{
	uint64_t x = i;

	do
		scatter_mix(p, &x);
	while (x >= p->n && p->n);
	return x;
}

/* The hat h(x) = x^-s, its integral H and H's inverse; the helpers are
 * log1p(t)/t and expm1(t)/t, by their series near t = 0 (s near 1). */
static double h(double s, double x)
{
	return exp(-s * log(x));
}

static double log1p_div(double t)
{
	return fabs(t) > 1e-8 ? log1p(t) / t : 1 - t * (0.5 - t * (1.0 / 3 - 0.25 * t));
}

static double expm1_div(double t)
{
	return fabs(t) > 1e-8 ? expm1(t) / t : 1 + t * 0.5 * (1 + t * (1.0 / 3) * (1 + 0.25 * t));
}

static double h_int(double s, double x)
{
	double lx = log(x);

	return expm1_div((1 - s) * lx) * lx;
}

static double h_int_inv(double s, double y)
{
	double t = y * (1 - s);

	if (t < -1)
		t = -1; /* rounding only: H is bounded above by 1/(s-1) */
	return exp(log1p_div(t) * y);
}

int pf_zipf_init(struct pf_zipf *z, uint64_t n, double s, uint64_t seed)
{
	if (!n || !(s >= 0) || !isfinite(s))
		return -1;
	z->n = n;
	z->s = s;
	z->h_x1 = h_int(s, 1.5) - 1;
	z->h_n = h_int(s, (double)n + 0.5);
	z->squeeze = 2 - h_int_inv(s, h_int(s, 2.5) - h(s, 2));
	pf_scatter_init(&z->scatter, n, seed);
	return 0;
}

uint64_t pf_zipf_rank(const struct pf_zipf *z, uint64_t *rng)
{
	for (;;) {
		/* u uniform in (H(1.5) - 1, H(n + 0.5)]: the area under the hat,
		 * with the first item's bar h(1) = 1 in place of [0.5, 1.5]. */
		double u = z->h_n + pf_rand01(rng) * (z->h_x1 - z->h_n);
		double x = h_int_inv(z->s, u);
		double kf = floor(x + 0.5);
		uint64_t k;

		if (!(kf >= 1))
			k = 1;
		else if (kf >= (double)z->n)
			k = z->n;
		else
			k = (uint64_t)kf;
		/* Accept at once inside the squeeze, else if u falls under the
		 * bar of item k. */
		if ((double)k - x <= z->squeeze ||
		    u >= h_int(z->s, (double)k + 0.5) - h(z->s, (double)k))
			return k - 1;
	}
}

uint64_t pf_zipf_next(const struct pf_zipf *z, uint64_t *rng)
{
	return pf_scatter(&z->scatter, pf_zipf_rank(z, rng));
}
