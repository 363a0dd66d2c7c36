/* SPDX-License-Identifier: MIT */
/*
 * The two workloads of the shim micro benchmark (bench/micro/): what each
 * one needs from the driver in micro.c. Each workload runs `ops` operations
 * and returns a checksum of what it saw, so the work cannot be optimised out
 * and two runs can be checked for doing the same thing.
 */
#ifndef PAGEFLEX_BENCH_MICRO_H
#define PAGEFLEX_BENCH_MICRO_H

#include <stdint.h>

/* xorshift64*: deterministic, cheap, good enough to pick sizes and slots. */
static inline uint64_t micro_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Mixed-size (or only 8-512 B) malloc/calloc/realloc/free on a table of live blocks. */
uint64_t micro_malloc_run(uint64_t ops, uint64_t seed, int small_only);

enum micro_mmap_class {
	MICRO_MMAP_SMALL, /* every mapping below the 64 KiB region threshold */
	MICRO_MMAP_LARGE, /* every mapping at or above it */
	MICRO_MMAP_MIXED, /* half and half */
};

/* Live mappings in the mmap churn unless --window says otherwise. */
#define MICRO_WINDOW 64u

/* mmap/munmap churn over a window of live mappings (plus some mremap, madvise). */
uint64_t micro_mmap_run(uint64_t ops, uint64_t seed, enum micro_mmap_class cls, unsigned window);

#endif
