/* SPDX-License-Identifier: MIT */
/*
 * pf-wl-phase: an application with two phases, the case for phase-aware
 * policies. Build phase: generate records into a large staging region, then
 * fill a compact index region (key -> digest of the record) with scattered
 * writes. Query phase (announced with pageflex_phase("query")): uniform
 * random lookups that touch only the index; the staging region is dead
 * weight a phase-aware policy can demote at once. Every lookup checks the
 * digest against the generator, so lost or stale pages fail the run.
 */
#include "wl_common.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef PF_HAVE_PAGEFLEX_H
#include "pageflex.h"
#define PHASE(n) ((void)pageflex_phase(n))
#else
/* Weak: resolved by libpageflex.so when preloaded, NULL otherwise. */
__attribute__((weak)) void pageflex_phase(const char *name);
#define PHASE(n)                           \
	do {                               \
		if (pageflex_phase)        \
			pageflex_phase(n); \
	} while (0)
#endif

#define REC_WORDS 8 /* 64-byte records */

static inline uint64_t rec_word(uint64_t seed, uint64_t i, unsigned j)
{
	return wl_mix(seed ^ (i << 4) ^ j);
}

int main(int argc, char **argv)
{
	const struct wl_desc d = {
		.name = "phase",
		.summary = "Build phase (staging + index) then query phase (index only), "
			   "with pageflex_phase() markers.",
		.def_size_mib = 1024,
		.def_passes = 1,
		.def_ops = 4000000,
		.def_zipf_s = 0.99,
	};
	struct wl_opts o;
	wl_parse(&d, argc, argv, &o);

	/* staging: 3/4 of the working set in records; index: 16 B per record */
	uint64_t nrec = o.size_mib * 1024 * 1024 * 3 / 4 / (REC_WORDS * 8);
	uint64_t *staging = wl_map(nrec * REC_WORDS * 8, "phase staging");
	uint64_t *index = wl_map(nrec * 2 * 8, "phase index");

	struct pf_scatter scatter;
	pf_scatter_init(&scatter, nrec, o.seed);

	PHASE("build");
	uint64_t t0 = wl_now_ns();
	for (uint64_t i = 0; i < nrec; i++)
		for (unsigned j = 0; j < REC_WORDS; j++)
			staging[i * REC_WORDS + j] = rec_word(o.seed, i, j);
	for (uint64_t pass = 0; pass < o.passes; pass++) {
		for (uint64_t i = 0; i < nrec; i++) {
			uint64_t dg = 0;
			for (unsigned j = 0; j < REC_WORDS; j++)
				dg = wl_mix(dg ^ staging[i * REC_WORDS + j]);
			uint64_t key = pf_scatter(&scatter, i);
			index[key * 2] = i;
			index[key * 2 + 1] = dg;
		}
	}
	uint64_t t1 = wl_now_ns();
	wl_note(&o, "phase: built %llu records in %.2f s", (unsigned long long)nrec,
		(t1 - t0) / 1e9);

	PHASE("query");
	uint64_t rng = o.seed;
	struct wl_hist *hist = calloc(1, sizeof(*hist));
	if (!hist)
		return 2;
	uint64_t sum = 0, bad = 0;
	for (uint64_t q = 0; q < o.ops; q++) {
		uint64_t key = pf_splitmix64(&rng) % nrec;
		uint64_t a = wl_now_ns();
		uint64_t i = index[key * 2], dg = index[key * 2 + 1];
		wl_hist_add(hist, wl_now_ns() - a);
		/* verify against the generator, not against memory */
		uint64_t want = 0;
		for (unsigned j = 0; j < REC_WORDS; j++)
			want = wl_mix(want ^ rec_word(o.seed, i, j));
		if (i >= nrec || pf_scatter(&scatter, i) != key || dg != want)
			bad++;
		sum += dg ^ key;
	}
	uint64_t t2 = wl_now_ns();
	PHASE("done");
	if (bad)
		fprintf(stderr, "pf-wl-phase: %llu wrong index entries\n", (unsigned long long)bad);
	double query_s = (t2 - t1) / 1e9;
	int rc = wl_result("phase", bad == 0,
			   "size_mib=%llu ops=%llu runtime_s=%.3f build_s=%.3f work_s=%.3f "
			   "throughput=%.0f unit=queries/s p99_us=%.2f checksum=0x%016llx",
			   (unsigned long long)o.size_mib, (unsigned long long)o.ops,
			   (t2 - t0) / 1e9, (t1 - t0) / 1e9, query_s, o.ops / query_s,
			   wl_hist_quantile_us(hist, 0.99), (unsigned long long)sum);
	free(hist);
	return rc;
}
