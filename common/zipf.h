/* SPDX-License-Identifier: MIT */
/*
 * The one Zipf sampler of the project, for the simulator's trace generator
 * (sim/gen.c) and the benchmark workloads (bench/workloads/):
 * ranks drawn from Zipf(s) over n items, spread over the item space by a
 * seeded bijection so that hot items are not neighbours, and the splitmix64
 * generator the draws come from. Why this algorithm: see zipf.c.
 */
#ifndef PAGEFLEX_ZIPF_H
#define PAGEFLEX_ZIPF_H

#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood 2014): advances *state, returns 64 bits. */
static inline uint64_t pf_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A uniform double in [0, 1) from the top 53 bits. */
static inline double pf_rand01(uint64_t *state)
{
	return (double)(pf_splitmix64(state) >> 11) * 0x1.0p-53;
}

/* A seeded bijection on [0, n): O(1) memory, a few multiplies per call. */
struct pf_scatter {
	uint64_t n, mask, key[3];
	unsigned shift;
};
void pf_scatter_init(struct pf_scatter *p, uint64_t n, uint64_t seed);
uint64_t pf_scatter(const struct pf_scatter *p, uint64_t i);

/* Zipf(s) over [0, n): rank r has probability proportional to 1 / (r+1)^s. */
struct pf_zipf {
	uint64_t n;
	double s, h_x1, h_n, squeeze;
	struct pf_scatter scatter;
};
/* 0, or -1 if n is 0 or s is not a finite number >= 0. The scatter is keyed
 * by seed; the draws depend only on the generator state passed to them. */
int pf_zipf_init(struct pf_zipf *z, uint64_t n, double s, uint64_t seed);
/* A rank, 0 the most likely. Deterministic in *rng. */
uint64_t pf_zipf_rank(const struct pf_zipf *z, uint64_t *rng);
/* An item: the rank passed through the scatter. */
uint64_t pf_zipf_next(const struct pf_zipf *z, uint64_t *rng);

#endif
