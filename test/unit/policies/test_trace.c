// SPDX-License-Identifier: MIT
/*
 * The trace format: a round trip of every record type, and truncated or
 * corrupt files reported with the byte offset of the bad record.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "gen.h"
#include "sim.h"
#include "trace.h"

static char path[64];

static void setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/pf-trace-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

static void write_sample(void)
{
	char err[256];
	uint64_t bits[2] = {0x5, 0x1}; /* pages 0, 2 and 64 of 70 */
	struct pf_trace_writer *w = pf_trace_create(path, 1234, "app", 99, err, sizeof(err));

	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(pf_trace_write_region(w, 0, 7, PFW_KIND_HEAP, 0x7f0000000000, 256, "index",
					   "libapp.so+0x1234"),
		     0);
	cr_assert_eq(pf_trace_write_phase(w, 10, "query"), 0);
	cr_assert_eq(pf_trace_write_access(w, 20, 7, 3), 0);
	cr_assert_eq(pf_trace_write_fault(w, 30, 7, 4, PF_FAULT_SWAPIN), 0);
	cr_assert_eq(pf_trace_write_scan(w, 40, 7, 100, 70, bits), 0);
	cr_assert_eq(pf_trace_write_region_end(w, 50, 7), 0);
	cr_assert_eq(pf_trace_finish(w), 0);
}

Test(trace, round_trip, .init = setup, .fini = teardown)
{
	char err[256];
	struct pf_trace_reader *r;
	struct pf_trace_event ev;

	write_sample();
	r = pf_trace_open(path, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(pf_trace_header(r)->pid, 1234);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_REGION);
	cr_assert_eq(ev.region, 7);
	cr_assert_eq(ev.npages, 256);
	cr_assert_str_eq(ev.tag, "index");
	cr_assert_str_eq(ev.symbol, "libapp.so+0x1234");
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_str_eq(ev.name, "query");
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_ACCESS);
	cr_assert_eq(ev.page, 3);
	cr_assert_eq(ev.time_ns, 20);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_FAULT);
	cr_assert_eq(ev.kind, PF_FAULT_SWAPIN);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_SCAN);
	cr_assert_eq(ev.npages, 70);
	cr_assert_eq(ev.first_page, 100);
	cr_assert_eq(ev.bitmap[0], 0x5);
	cr_assert_eq(ev.bitmap[1], 0x1);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_REGION_END);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 0);
	pf_trace_close(r);
}

static long file_size(void)
{
	FILE *f = fopen(path, "rb");
	long n;

	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fclose(f);
	return n;
}

/* Reads to the first error and returns it. */
static void read_all(char *err, size_t errlen)
{
	struct pf_trace_reader *r = pf_trace_open(path, err, errlen);
	struct pf_trace_event ev;
	int rc;

	if (!r)
		return;
	while ((rc = pf_trace_next(r, &ev, err, errlen)) == 1)
		;
	cr_assert_eq(rc, -1, "read to the end without an error");
	pf_trace_close(r);
}

Test(trace, truncated_file_reports_offset, .init = setup, .fini = teardown)
{
	char err[512];
	long size;

	write_sample();
	size = file_size();
	/* Cut in the middle of the scan record (offset 64 + 232 + 80 + 32 + 32). */
	cr_assert_eq(truncate(path, size - 24 - 20), 0);
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 440: truncated record of type 6"), "%s", err);
	cr_assert_eq(truncate(path, 40), 0);
	cr_assert_null(pf_trace_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "offset 0: truncated header"), "%s", err);
}

Test(trace, corrupt_records_report_offset, .init = setup, .fini = teardown)
{
	char err[512];
	FILE *f;
	uint16_t bad_type = 42;
	uint32_t bad_len = 12;

	write_sample();
	f = fopen(path, "r+b");
	fseek(f, 64 + 232 + 80, SEEK_SET); /* the access record */
	fwrite(&bad_type, sizeof(bad_type), 1, f);
	fclose(f);
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 376: unknown record type 42"), "%s", err);

	write_sample();
	f = fopen(path, "r+b");
	fseek(f, 64 + 232 + 80 + 4, SEEK_SET);
	fwrite(&bad_len, sizeof(bad_len), 1, f);
	fclose(f);
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 376: bad length 12"), "%s", err);

	f = fopen(path, "r+b");
	fwrite("NOTATRACE", 8, 1, f);
	fclose(f);
	cr_assert_null(pf_trace_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "bad magic"), "%s", err);
}

Test(trace, live_records_replay_in_the_simulator, .init = setup, .fini = teardown)
{
	char err[256];
	uint64_t bits = 0x5; /* pages 0 and 2 accessed */
	struct pf_trace_writer *w = pf_trace_create(path, 1, "app", 0, err, sizeof(err));
	struct sim_cfg cfg = {.scan_ms = 10};
	struct file_source *fs;
	struct sim_source src;
	struct sim_result res;

	cr_assert_not_null(w, "%s", err);
	/* A sparse region of 2^36 pages: only touched pages may cost memory. */
	pf_trace_write_region(w, 0, 3, PFW_KIND_ANON, 0x10000000, 1ull << 36, "big", "");
	for (uint64_t p = 0; p < 4; p++)
		pf_trace_write_fault(w, 1000000 * (p + 1), 3, (1ull << 35) + p,
				     PF_FAULT_FIRST_TOUCH);
	/* The first scan's bits repeat the first touches of its interval: no new
	 * accesses. The second one's are accesses. */
	pf_trace_write_scan(w, 20000000, 3, 1ull << 35, 3, &bits);
	pf_trace_write_scan(w, 25000000, 3, 1ull << 35, 3, &bits);
	pf_trace_write_fault(w, 30000000, 3, 1ull << 40, PF_FAULT_SWAPIN); /* out of range */
	cr_assert_eq(pf_trace_finish(w), 0);

	pf_policy_params_default(&cfg.def.params);
	pf_threshold_cfg_default(&cfg.def.threshold);
	cfg.def.threshold.budget_pages = 3;
	cfg.batch = 1;
	cfg.def.reclaim = pf_reclaim_find("lru");
	cfg.def.prefetch = pf_prefetch_find("none");
	fs = file_source_open(path, err, sizeof(err));
	cr_assert_not_null(fs, "%s", err);
	src = file_source(fs);
	cr_assert_eq(sim_run(&cfg, &src, &res, err, sizeof(err)), 0, "%s", err);
	/* 4 first touches in 3 frames evict the LRU page 0; the second scan's
	 * access to page 0 is a refault, the one to page 2 a hit. */
	cr_assert_eq(res.total.accesses, 6);
	cr_assert_eq(res.total.first_touch, 4);
	cr_assert_eq(res.total.swapins, 1);
	cr_assert_eq(res.total.bad_events, 1);
	cr_assert_eq(res.folded, 2, "the first scan's 2 bits repeat faults");
	sim_result_free(&res);

	/* Without folding, the first scan counts pages 0 and 2 again. */
	cfg.no_fold = true;
	cr_assert_eq(src.rewind(src.ctx, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sim_run(&cfg, &src, &res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(res.total.accesses, 8);
	cr_assert_eq(res.folded, 0);
	sim_result_free(&res);
	file_source_close(fs);
}
