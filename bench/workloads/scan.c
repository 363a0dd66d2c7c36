/* SPDX-License-Identifier: MIT */
/*
 * pf-wl-seq / pf-wl-stride: scans a region larger than the memory limit.
 * Every page is filled with generated words, then each pass visits every page
 * (in address order, or in stride-WL_STRIDE order: 0, 7, 14, ..., 1, 8, ...),
 * sums its 512 words and increments its first word, so by default every
 * pass both reads and dirties the whole region. --write-every N writes one
 * page in N instead (0: none), the read-mostly scan of PageFlex's Fig. 8,
 * where swap-ins are not stuck behind the swap writes of direct reclaim;
 * --stride K sets the stride, --stride mixed gives each 4 MiB chunk its own
 * (2, 3, 5, 7, 11 in turn), --stride random visits every page once per pass
 * in a new random order (the control no prefetcher can help). The expected sum is recomputed from the
 * generator alone, so any page a pager loses or returns stale is caught.
 * Sequential scans are what kernel readahead handles; stride 7 defeats it
 * (a stride-aware prefetcher such as Leap catches it).
 */
#include "wl_common.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef WL_STRIDE
#define WL_STRIDE 1
#endif
#define WORDS (WL_PAGE / sizeof(uint64_t))
#define MIXED_CHUNK 1024 /* pages: 4 MiB */

static const unsigned mixed_strides[] = {2, 3, 5, 7, 11};

/* Reads page pg of data (and writes it if it is one of the written ones). */
static uint64_t visit(uint64_t *data, uint64_t pg, uint64_t write_every)
{
	uint64_t *w = data + pg * WORDS, s = 0;

	for (unsigned j = 0; j < WORDS; j++)
		s += w[j];
	if (write_every && pg % write_every == 0)
		w[0]++;
	return s;
}

/* Pages [lo, hi) at stride k: lo, lo+k, ..., then lo+1, lo+1+k, ... */
static uint64_t visit_strided(uint64_t *data, uint64_t lo, uint64_t hi, unsigned k,
			      uint64_t write_every)
{
	uint64_t sum = 0;

	for (uint64_t start = lo; start < lo + k && start < hi; start++)
		for (uint64_t pg = start; pg < hi; pg += k)
			sum += visit(data, pg, write_every);
	return sum;
}

int main(int argc, char **argv)
{
	const struct wl_desc d = {
		.name = WL_STRIDE == 1 ? "seq" : "stride",
		.summary =
			WL_STRIDE == 1 ?
				"Sequential scan: each pass reads and dirties every page in order." :
				"Strided scan: each pass visits every page at a stride of 7 pages.",
		.def_size_mib = 1024,
		.def_passes = 3,
		.def_ops = 1,
		.def_zipf_s = 0.99,
		.scan = true,
		.def_stride = WL_STRIDE,
	};
	struct wl_opts o;
	wl_parse(&d, argc, argv, &o);

	uint64_t npages = o.size_mib * (1024 * 1024 / WL_PAGE);
	uint64_t nwords = npages * WORDS;
	uint64_t *data = wl_map(npages * WL_PAGE, "scan data");

	uint64_t t0 = wl_now_ns();
	uint64_t s0 = 0;
	for (uint64_t i = 0; i < nwords; i++) {
		uint64_t v = wl_mix(o.seed ^ (i * 0x100000001b3ULL));
		data[i] = v;
		s0 += v;
	}
	uint64_t t1 = wl_now_ns();
	wl_note(&o, "%s: filled %llu MiB in %.2f s", d.name, (unsigned long long)o.size_mib,
		(t1 - t0) / 1e9);

	uint32_t *order = NULL;
	if (o.stride == WL_STRIDE_RANDOM) {
		order = malloc(npages * sizeof(*order));
		if (!order) {
			fprintf(stderr, "pf-wl-%s: out of memory\n", d.name);
			return 2;
		}
	}
	uint64_t sum = 0, rng = o.seed;
	for (unsigned p = 0; p < o.passes; p++) {
		if (order) {
			/* Fisher-Yates: a permutation, so each page is read once. */
			for (uint64_t i = 0; i < npages; i++)
				order[i] = (uint32_t)i;
			for (uint64_t i = npages - 1; i > 0; i--) {
				uint64_t j = pf_splitmix64(&rng) % (i + 1);
				uint32_t t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
			for (uint64_t i = 0; i < npages; i++)
				sum += visit(data, order[i], o.write_every);
		} else if (o.stride != WL_STRIDE_MIXED)
			sum += visit_strided(data, 0, npages, o.stride, o.write_every);
		else
			for (uint64_t c = 0; c * MIXED_CHUNK < npages; c++) {
				uint64_t lo = c * MIXED_CHUNK;
				uint64_t hi = lo + MIXED_CHUNK < npages ? lo + MIXED_CHUNK : npages;

				sum += visit_strided(data, lo, hi, mixed_strides[c % 5],
						     o.write_every);
			}
		wl_note(&o, "%s: pass %u/%u at %.2f s", d.name, p + 1, o.passes,
			(wl_now_ns() - t1) / 1e9);
	}
	uint64_t t2 = wl_now_ns();

	uint64_t P = o.passes;
	uint64_t written = o.write_every ? (npages + o.write_every - 1) / o.write_every : 0;
	uint64_t expect = P * s0 + written * (P * (P - 1) / 2);
	double work_s = (t2 - t1) / 1e9;
	double mib = (double)o.size_mib * o.passes;
	char stride[16] = "mixed";

	free(order);
	if (o.stride == WL_STRIDE_RANDOM)
		snprintf(stride, sizeof(stride), "random");
	else if (o.stride != WL_STRIDE_MIXED)
		snprintf(stride, sizeof(stride), "%u", o.stride);
	return wl_result(d.name, sum == expect,
			 "size_mib=%llu passes=%u stride=%s write_every=%llu runtime_s=%.3f "
			 "work_s=%.3f throughput=%.1f unit=MiB/s checksum=0x%016llx",
			 (unsigned long long)o.size_mib, o.passes, stride,
			 (unsigned long long)o.write_every, (t2 - t0) / 1e9, work_s, mib / work_s,
			 (unsigned long long)sum);
}
