/* SPDX-License-Identifier: MIT */
/*
 * pf-wl-seq / pf-wl-stride: scans a region larger than the memory limit.
 * Every page is filled with generated words, then each pass visits every page
 * (in address order, or in stride-WL_STRIDE order: 0, 7, 14, ..., 1, 8, ...),
 * sums its 512 words and increments its first word, so every pass both reads
 * and dirties the whole region. The expected sum is recomputed from the
 * generator alone, so any page a pager loses or returns stale is caught.
 * Sequential scans are what kernel readahead handles; stride 7 defeats it
 * (a stride-aware prefetcher such as Leap catches it).
 */
#include "wl_common.h"

#include <stdio.h>

#ifndef WL_STRIDE
#define WL_STRIDE 1
#endif
#define WORDS (WL_PAGE / sizeof(uint64_t))

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

	uint64_t sum = 0;
	for (unsigned p = 0; p < o.passes; p++) {
		for (uint64_t start = 0; start < WL_STRIDE && start < npages; start++) {
			for (uint64_t pg = start; pg < npages; pg += WL_STRIDE) {
				uint64_t *w = data + pg * WORDS;
				uint64_t s = 0;
				for (unsigned j = 0; j < WORDS; j++)
					s += w[j];
				sum += s;
				w[0]++;
			}
		}
		wl_note(&o, "%s: pass %u/%u at %.2f s", d.name, p + 1, o.passes,
			(wl_now_ns() - t1) / 1e9);
	}
	uint64_t t2 = wl_now_ns();

	uint64_t P = o.passes;
	uint64_t expect = P * s0 + npages * (P * (P - 1) / 2);
	double work_s = (t2 - t1) / 1e9;
	double mib = (double)o.size_mib * o.passes;
	return wl_result(d.name, sum == expect,
			 "size_mib=%llu passes=%u stride=%d runtime_s=%.3f work_s=%.3f "
			 "throughput=%.1f unit=MiB/s checksum=0x%016llx",
			 (unsigned long long)o.size_mib, o.passes, WL_STRIDE, (t2 - t0) / 1e9,
			 work_s, mib / work_s, (unsigned long long)sum);
}
