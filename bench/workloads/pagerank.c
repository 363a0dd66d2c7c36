/* SPDX-License-Identifier: MIT */
/*
 * pf-wl-pagerank: PageRank by push iterations over a generated graph in CSR
 * form. Regions: offsets, edges (the bulk, read sequentially each iteration),
 * the current ranks (read sequentially) and the next ranks (scattered
 * writes): a mix of streaming and random access to distinct structures.
 * Out-degrees vary (1..31, mean 16); half the edges stay within 1024 vertices
 * of their source, half go anywhere. Checks that the ranks still sum to 1 and
 * prints a checksum of their bits (the same under every pager).
 */
#include "wl_common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DAMP 0.85

int main(int argc, char **argv)
{
	const struct wl_desc d = {
		.name = "pagerank",
		.summary = "PageRank-style graph traversal over a generated CSR graph.",
		.def_size_mib = 1024,
		.def_passes = 5,
		.def_ops = 1,
		.def_zipf_s = 0.99,
	};
	struct wl_opts o;
	wl_parse(&d, argc, argv, &o);

	/* ~64 B of edges + 8 B offset + 16 B ranks per vertex */
	uint64_t n = o.size_mib * 1024 * 1024 / 88;
	uint64_t *off = wl_map((n + 1) * 8, "pagerank offsets");
	uint64_t m = 0;
	for (uint64_t v = 0; v < n; v++) {
		off[v] = m;
		m += 1 + wl_mix(o.seed ^ v) % 31;
	}
	off[n] = m;
	uint32_t *edges = wl_map(m * 4, "pagerank edges");
	double *rank = wl_map(n * 8, "pagerank ranks");
	double *next = wl_map(n * 8, "pagerank next ranks");

	uint64_t t0 = wl_now_ns();
	for (uint64_t v = 0; v < n; v++) {
		for (uint64_t e = off[v]; e < off[v + 1]; e++) {
			uint64_t r = wl_mix(o.seed * 31 + e);
			uint64_t dst =
				(r & 1) ? (v + n + ((r >> 1) & 2047) - 1024) % n : (r >> 1) % n;
			edges[e] = (uint32_t)dst;
		}
		rank[v] = 1.0 / (double)n;
	}
	uint64_t t1 = wl_now_ns();
	wl_note(&o, "pagerank: %llu vertices, %llu edges built in %.2f s", (unsigned long long)n,
		(unsigned long long)m, (t1 - t0) / 1e9);

	for (unsigned it = 0; it < o.passes; it++) {
		double base = (1.0 - DAMP) / (double)n;
		for (uint64_t v = 0; v < n; v++)
			next[v] = base;
		for (uint64_t v = 0; v < n; v++) {
			double share = DAMP * rank[v] / (double)(off[v + 1] - off[v]);
			for (uint64_t e = off[v]; e < off[v + 1]; e++)
				next[edges[e]] += share;
		}
		double *t = rank;
		rank = next;
		next = t;
		wl_note(&o, "pagerank: iteration %u/%u at %.2f s", it + 1, o.passes,
			(wl_now_ns() - t1) / 1e9);
	}
	uint64_t t2 = wl_now_ns();

	double total = 0;
	uint64_t ck = 0;
	for (uint64_t v = 0; v < n; v++) {
		uint64_t bits;
		memcpy(&bits, &rank[v], 8);
		ck = wl_mix(ck ^ bits);
		total += rank[v];
	}
	bool ok = fabs(total - 1.0) < 1e-6;
	if (!ok)
		fprintf(stderr, "pf-wl-pagerank: ranks sum to %.9f, not 1\n", total);
	double work_s = (t2 - t1) / 1e9;
	return wl_result("pagerank", ok,
			 "size_mib=%llu passes=%u vertices=%llu edges=%llu runtime_s=%.3f "
			 "work_s=%.3f throughput=%.0f unit=edges/s checksum=0x%016llx",
			 (unsigned long long)o.size_mib, o.passes, (unsigned long long)n,
			 (unsigned long long)m, (t2 - t0) / 1e9, work_s,
			 (double)m * o.passes / work_s, (unsigned long long)ck);
}
