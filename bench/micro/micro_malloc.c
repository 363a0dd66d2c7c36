// SPDX-License-Identifier: MIT
/*
 * malloc/free-heavy workload: a table of live blocks; each operation replaces
 * a random block with a new one (80% malloc, 10% calloc, 10% realloc of the
 * old block). Sizes follow a server-like mix: mostly small, a tail of medium
 * and large blocks, and one in 10,000 at 1-4 MiB (the shim's call-site
 * threshold, where it unwinds the stack). Each new block is written at both
 * ends, as a program would. The small-only variant (8-512 B) isolates the
 * allocator fast path from page faults.
 */
#include "micro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 16384u

static size_t pick_size(uint64_t *rng, int small_only)
{
	uint64_t r = micro_rand(rng);
	unsigned p = small_only ? 0 : (unsigned)(r % 10000);

	r >>= 16;
	if (p < 9000)
		return 8 + r % 505; /* 8 B .. 512 B */
	if (p < 9900)
		return 512 + r % (16 << 10); /* .. 16 KiB */
	if (p < 9999)
		return (16 << 10) + r % (240 << 10); /* .. 256 KiB */
	return (1 << 20) + r % (3 << 20); /* 1 .. 4 MiB */
}

uint64_t micro_malloc_run(uint64_t ops, uint64_t seed, int small_only)
{
	unsigned char **slot = calloc(SLOTS, sizeof(*slot));
	size_t *len = calloc(SLOTS, sizeof(*len));
	uint64_t rng = seed | 1, sum = 0;

	if (!slot || !len) {
		fprintf(stderr, "micro: out of memory\n");
		exit(1);
	}
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t r = micro_rand(&rng);
		unsigned k = (unsigned)(r % SLOTS), how = (unsigned)((r >> 32) % 10);
		size_t n = pick_size(&rng, small_only);
		unsigned char *p;

		if (how == 0) {
			p = realloc(slot[k], n);
		} else {
			free(slot[k]);
			p = how == 1 ? calloc(1, n) : malloc(n);
		}
		if (!p) {
			fprintf(stderr, "micro: allocation of %zu bytes failed\n", n);
			exit(1);
		}
		/* Only defined bytes: a kept first byte, calloc's zeroes. */
		if (how == 0 && slot[k])
			sum += p[0];
		else if (how == 1)
			sum += p[n - 1];
		p[0] = (unsigned char)i;
		p[n - 1] = (unsigned char)k;
		slot[k] = p;
		len[k] = n;
	}
	for (unsigned k = 0; k < SLOTS; k++) {
		sum += len[k];
		free(slot[k]);
	}
	free(slot);
	free(len);
	return sum;
}
