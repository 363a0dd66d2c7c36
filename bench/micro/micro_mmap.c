// SPDX-License-Identifier: MIT
/*
 * mmap/munmap churn: a window of 64 (--window) live anonymous mappings; each operation
 * unmaps the oldest and maps a new one, touching its first page. Every 16th
 * operation also grows a mapping by a page with mremap, and every 16th (offset by 8)
 * discards its pages with MADV_DONTNEED: both are hooked by the shim. Sizes
 * are either all below the shim's 64 KiB region threshold (pass-through
 * cost), all at or above it (each one becomes a region event), or mixed.
 */
#include "micro.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static const size_t small_sizes[] = {4 << 10, 8 << 10, 16 << 10, 32 << 10, 56 << 10};
static const size_t large_sizes[] = {64 << 10, 128 << 10, 256 << 10, 1 << 20, 4 << 20};

static size_t pick_size(uint64_t *rng, enum micro_mmap_class cls)
{
	uint64_t r = micro_rand(rng);
	int large = cls == MICRO_MMAP_LARGE || (cls == MICRO_MMAP_MIXED && (r & 1));

	r >>= 8;
	return large ? large_sizes[r % 5] : small_sizes[r % 5];
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

uint64_t micro_mmap_run(uint64_t ops, uint64_t seed, enum micro_mmap_class cls, unsigned window)
{
	unsigned char **map = calloc(window, sizeof(*map));
	size_t *len = calloc(window, sizeof(*len));
	uint64_t rng = seed | 1, sum = 0;

	if (!map || !len)
		die("micro: calloc");
	for (uint64_t i = 0; i < ops; i++) {
		unsigned k = (unsigned)(i % window);
		size_t n = pick_size(&rng, cls);
		unsigned char *p;

		if (map[k] && munmap(map[k], len[k]))
			die("micro: munmap");
		p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("micro: mmap");
		p[0] = (unsigned char)i;
		if (i % 16 == 0) {
			/* Grow by one page: small mappings stay below 64 KiB. */
			unsigned char *q = mremap(p, n, n + 4096, MREMAP_MAYMOVE);

			if (q == MAP_FAILED)
				die("micro: mremap");
			p = q;
			n += 4096;
		} else if (i % 16 == 8) {
			if (madvise(p, n, MADV_DONTNEED))
				die("micro: madvise");
		}
		sum += p[0] + n; /* 0 after MADV_DONTNEED */
		map[k] = p;
		len[k] = n;
	}
	for (unsigned k = 0; k < window; k++)
		if (map[k])
			munmap(map[k], len[k]);
	free(map);
	free(len);
	return sum;
}
