// SPDX-License-Identifier: MIT
/*
 * Writes the seed corpus of fuzz_trace with the real trace writer: a small
 * trace with every record type of version 1, one of only scans, a live
 * recording with the version-2 records, and an empty trace. Run once; the
 * output is committed under test/fuzz/corpus/trace/ (all-types-v1 is the
 * version-1 writer's all-types, kept).
 */
#include <stdio.h>

#include "trace.h"

static int start(struct pf_trace_writer **w, const char *dir, const char *name)
{
	char path[512], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*w = pf_trace_create(path, 1234, "seed", 1000, err, sizeof(err));
	if (!*w)
		fprintf(stderr, "%s\n", err);
	return *w ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	uint64_t bits[3] = {0x5555555555555555ULL, 0xff00ff00ff00ff00ULL, 0x1};
	struct pf_trace_writer *w;
	int rc = 0;

	if (start(&w, dir, "all-types"))
		return 1;
	pf_trace_write_region(w, 1, 0, 1, 0x7f0000000000ULL, 64, "index", "app+0x1234");
	pf_trace_write_region(w, 2, 1, 5, 0x7f1000000000ULL, 130, "cache", "build_cache");
	pf_trace_write_phase(w, 3, "build");
	pf_trace_write_access(w, 4, 0, 7);
	pf_trace_write_access(w, 5, 1, 129);
	pf_trace_write_fault(w, 6, 0, 7, 0);
	pf_trace_write_fault(w, 7, 0, 14, 1);
	pf_trace_write_fault(w, 8, 1, 3, 2);
	pf_trace_write_scan(w, 9, 1, 0, 130, bits);
	pf_trace_write_phase(w, 10, "query");
	pf_trace_write_region_end(w, 11, 0);
	rc |= pf_trace_finish(w);

	if (start(&w, dir, "scans"))
		return 1;
	pf_trace_write_region(w, 1, 3, 1, 0x10000, 200, "", "");
	pf_trace_write_scan(w, 2, 3, 0, 1, bits);
	pf_trace_write_scan(w, 3, 3, 64, 64, bits + 1);
	pf_trace_write_scan(w, 4, 3, 8, 129, bits);
	rc |= pf_trace_finish(w);

	if (start(&w, dir, "live-v2"))
		return 1;
	{
		uint64_t st[2] = {0x1b1b1b1b1b1b1b1bULL, 0xe4e4ULL}, ranges[4] = {0, 3, 10, 2};
		uint32_t ps[5] = {1, 2, 3, 4, 5};
		struct pf_trace_state x = {.region = 0,
					   .npages = 5,
					   .first_page = 2,
					   .ready = 1,
					   .blank = 7,
					   .cold_age_ms = 2000,
					   .tick_ms = 1000,
					   .mode = 2,
					   .thr_started = 1,
					   .cut_bucket = 3};

		snprintf(x.reclaim, sizeof(x.reclaim), "cold-age");
		pf_trace_set_info(w, 123456, 250, PF_TRACE_F_LIVE | PF_TRACE_F_FIRST_TOUCH);
		pf_trace_write_region(w, 1, 0, 1, 0x7f0000000000ULL, 64, "kv", "app+0x10");
		pf_trace_write_pages(w, 2, 0, 0, 40, st);
		pf_trace_write_state(w, 2, &x, ps);
		pf_trace_write_tick(w, 2);
		pf_trace_write_action(w, 3, 0, PF_ACT_PAGEOUT, ranges, 2);
		pf_trace_write_action(w, 3, 0, PF_ACT_PREFETCH, ranges + 2, 1);
		pf_trace_write_fault(w, 4, 0, 1, PF_FAULT_SWAPIN);
		pf_trace_write_pages(w, 5, 0, 8, 33, st);
		pf_trace_write_tick(w, 5);
	}
	rc |= pf_trace_finish(w);

	if (start(&w, dir, "empty"))
		return 1;
	rc |= pf_trace_finish(w);
	return rc ? 1 : 0;
}
