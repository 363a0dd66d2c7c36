// SPDX-License-Identifier: MIT
/*
 * Trace versions 2 and 3 (issue 15): the records of a live recording (PAGES,
 * TICK, ACTION, STATE with its clear segmentation, the header's clock and
 * scan period) round-trip; bad ones are refused with their byte offset;
 * version-1 and version-2 files still load; and the simulator replays a
 * live recording from its residency, the live policy's states and clear
 * segments, the agent's ticks and actions, following swap-outs by others.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"
#include "policy.h"
#include "sim.h"
#include "trace.h"

static char path[64];

static void setup(void)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/pf-trace2-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

/* 2-bit page states of up to 32 pages, from a string: '.', 'i', 'a', 's'. */
static uint64_t states(const char *s)
{
	uint64_t w = 0;

	for (unsigned i = 0; s[i]; i++)
		w |= (uint64_t)(s[i] == 'i' ? PF_PG_IDLE :
				s[i] == 'a' ? PF_PG_ACCESSED :
				s[i] == 's' ? PF_PG_SWAPPED :
					      PF_PG_NONE)
		     << (2 * i);
	return w;
}

static struct pf_trace_state cold_age_state(uint32_t npages)
{
	struct pf_policy_params p;
	struct pf_trace_state x = {.region = 1, .npages = npages, .ready = 1, .blank = 500};

	pf_policy_params_default(&p);
	snprintf(x.reclaim, sizeof(x.reclaim), "cold-age");
	x.cold_age_ms = 2000;
	x.tick_ms = 200; /* the agent's quantum for a 2 s age (pf_params_fit_tick) */
	x.lfu_decay = p.lfu_decay;
	x.clock_bits = p.clock_bits;
	x.mode = PF_THRESH_COLD_AGE;
	/* The agent cleared in 2 segments, the next tick its 8th. */
	x.clear_n = 2;
	x.ticks = 7;
	x.last_tick_ms = 99500;
	x.seg_known = 3;
	x.fresh_ok = 1;
	x.seg_ws[0] = 1;
	x.seg_ws[1] = 2;
	return x;
}

/*
 * A live recording of one 8-page region, the agent's clock at 100 s: at the
 * first scan pages 0-3 present and idle, 4 accessed, 5 swapped; the live
 * cold-age states (200 ms ticks) say 0 and 1 were last seen at tick 450
 * (idle 10 s), 2-4 at tick 500. The agent pages out 0 and 1; at the next scan page 3 is
 * swapped too (by someone else); then page 0 refaults.
 */
static void write_live(void)
{
	char err[256];
	uint64_t s0 = states("iiiias.."), s1 = states("ssisas..");
	uint32_t st[8] = {450, 450, 500, 500, 500, 500, 500, 500};
	uint64_t out[2] = {0, 2};
	struct pf_trace_state x = cold_age_state(8);
	struct pf_trace_writer *w = pf_trace_create(path, 77, "app", 5, err, sizeof(err));

	cr_assert_not_null(w, "%s", err);
	cr_assert_eq(pf_trace_set_info(w, 100000, 500, PF_TRACE_F_LIVE), 0);
	cr_assert_eq(pf_trace_write_region(w, 0, 1, PFW_KIND_ANON, 0x10000000, 8, "kv", ""), 0);
	cr_assert_eq(pf_trace_write_pages(w, 1000, 1, 0, 8, &s0), 0);
	cr_assert_eq(pf_trace_write_state(w, 1000, &x, st), 0);
	cr_assert_eq(pf_trace_write_tick(w, 1000), 0);
	cr_assert_eq(pf_trace_write_action(w, 2000, 1, PF_ACT_PAGEOUT, out, 1), 0);
	cr_assert_eq(pf_trace_write_pages(w, 500000000, 1, 0, 8, &s1), 0);
	cr_assert_eq(pf_trace_write_tick(w, 500000000), 0);
	cr_assert_eq(pf_trace_write_fault(w, 700000000, 1, 0, PF_FAULT_SWAPIN), 0);
	cr_assert_eq(pf_trace_finish(w), 0);
}

Test(trace_v2, round_trip, .init = setup, .fini = teardown)
{
	struct pf_trace_reader *r;
	struct pf_trace_event ev;
	char err[256];

	write_live();
	r = pf_trace_open(path, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(pf_trace_header(r)->version, 3);
	cr_assert_eq(pf_trace_header(r)->clock_ms, 100000);
	cr_assert_eq(pf_trace_header(r)->scan_ms, 500);
	cr_assert_eq(pf_trace_header(r)->flags, PF_TRACE_F_LIVE);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_REGION);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_PAGES);
	cr_assert_eq(ev.npages, 8);
	cr_assert_eq(pf_trace_page_state(ev.states, 3), PF_PG_IDLE);
	cr_assert_eq(pf_trace_page_state(ev.states, 4), PF_PG_ACCESSED);
	cr_assert_eq(pf_trace_page_state(ev.states, 5), PF_PG_SWAPPED);
	cr_assert_eq(pf_trace_page_state(ev.states, 6), PF_PG_NONE);
	cr_assert_eq(ev.bitmap[0], 1u << 4, "the accessed pages as a scan bitmap");
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_STATE);
	cr_assert_str_eq(ev.state->reclaim, "cold-age");
	cr_assert_eq(ev.state->cold_age_ms, 2000);
	cr_assert_eq(ev.state->clear_n, 2);
	cr_assert_eq(ev.state->ticks, 7);
	cr_assert_eq(ev.state->last_tick_ms, 99500);
	cr_assert_eq(ev.state->seg_known, 3);
	cr_assert_eq(ev.state->seg_ws[1], 2);
	cr_assert_eq(ev.page_states[1], 450);
	cr_assert_eq(ev.page_states[7], 500);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_TICK);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_ACTION);
	cr_assert_eq(ev.kind, PF_ACT_PAGEOUT);
	cr_assert_eq(ev.nranges, 1);
	cr_assert(ev.ranges[0] == 0 && ev.ranges[1] == 2);
	pf_trace_close(r);
}

/* Reads to the first error and returns it in err. */
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

static void patch(long off, const void *p, size_t n)
{
	FILE *f = fopen(path, "r+b");

	cr_assert_not_null(f);
	fseek(f, off, SEEK_SET);
	fwrite(p, n, 1, f);
	fclose(f);
}

/* Offsets in write_live()'s file: header 64, REGION 232, PAGES 40 at 296,
 * STATE 280 + 32 at 336 (its clear_n at + 124), TICK 16 at 648, ACTION 48
 * at 664. */
Test(trace_v2, corrupt_records_report_offset, .init = setup, .fini = teardown)
{
	uint32_t npages = 100, big = 1000, segs = 17, known = 4;
	uint64_t nranges = 5;
	char err[512], bad = 'x';

	write_live();
	patch(296 + 20, &npages, 4); /* PAGES: 100 pages in a 40-byte record */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 296: pages record of 100 pages needs 64 bytes"), "%s", err);

	write_live();
	patch(336 + 20, &big, 4); /* STATE: more states than the record holds */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 336: state record of 1000 pages"), "%s", err);

	write_live();
	memset(err, 0, sizeof(err));
	for (int i = 0; i < 32; i++)
		patch(336 + 32 + i, &bad, 1); /* STATE: the policy name fills its field */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 336: state record: policy name not terminated"), "%s", err);

	write_live();
	patch(336 + 124, &segs, 4); /* STATE: more clear segments than the engine has */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 336: state record: bad clear segments (17"), "%s", err);

	write_live();
	patch(336 + 144, &known, 4); /* STATE: segment 2 known, of 2 */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 336: state record: bad clear segments (2, known 0x4)"), "%s",
		  err);

	write_live();
	patch(664 + 24, &nranges, 8); /* ACTION: 5 ranges in room for 1 */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 664: action record of 5 ranges"), "%s", err);

	write_live();
	cr_assert_eq(truncate(path, 296 + 30), 0); /* in the middle of the PAGES record */
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 296: truncated record of type 7"), "%s", err);
}

Test(trace_v2, version_1_files_load_and_refuse_v2_records, .init = setup, .fini = teardown)
{
	uint32_t v1 = 1, v4 = 4;
	uint64_t junk = ~0ull, bits = 1;
	struct pf_trace_reader *r;
	struct pf_trace_writer *w;
	struct pf_trace_event ev;
	char err[512];

	/* A version-1 file: version 1, and the bytes v2 uses were reserved (any value). */
	w = pf_trace_create(path, 1, "old", 0, err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	pf_trace_write_region(w, 0, 1, PFW_KIND_ANON, 0x1000, 4, "r", "");
	pf_trace_write_scan(w, 10, 1, 0, 4, &bits);
	cr_assert_eq(pf_trace_finish(w), 0);
	patch(8, &v1, 4);
	patch(48, &junk, 8);
	r = pf_trace_open(path, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(pf_trace_header(r)->version, 1);
	cr_assert_eq(pf_trace_header(r)->clock_ms, 0);
	cr_assert_eq(pf_trace_header(r)->flags, 0, "reserved bytes of v1 are not v2 flags");
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1);
	cr_assert_eq(ev.type, PF_TR_SCAN);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 0);
	pf_trace_close(r);

	/* A version-1 file with a version-2 record is corrupt. */
	write_live();
	patch(8, &v1, 4);
	read_all(err, sizeof(err));
	cr_assert(strstr(err, "offset 296: unknown record type 7 (version 1)"), "%s", err);

	patch(8, &v4, 4);
	cr_assert_null(pf_trace_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "offset 8: unsupported version 4"), "%s", err);
}

/*
 * write_live()'s file as version 2 wrote it: a STATE of 120 + 32 bytes,
 * without the clear segmentation.
 */
static void write_live_v2(void)
{
	static unsigned char buf[4096];
	uint32_t v2 = 2, len = 152;
	size_t n;
	FILE *f;

	write_live();
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_gt(n, 648);
	memcpy(buf + 8, &v2, 4);
	memcpy(buf + 336 + 4, &len, 4);
	memmove(buf + 336 + 120, buf + 336 + 280, n - (336 + 280));
	f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, n - 160, f), n - 160);
	fclose(f);
}

Test(trace_v2, version_2_files_load_without_clear_segments, .init = setup, .fini = teardown)
{
	struct pf_trace_reader *r;
	struct pf_trace_event ev;
	char err[512];
	int rc;

	write_live_v2();
	r = pf_trace_open(path, err, sizeof(err));
	cr_assert_not_null(r, "%s", err);
	cr_assert_eq(pf_trace_header(r)->version, 2);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(ev.type, PF_TR_STATE);
	cr_assert_str_eq(ev.state->reclaim, "cold-age");
	cr_assert_eq(ev.state->period_start_ms, 0);
	cr_assert_eq(ev.state->clear_n, 0, "no clear segments in version 2");
	cr_assert_eq(ev.state->seg_ws[1], 0);
	cr_assert_eq(ev.page_states[0], 450);
	cr_assert_eq(ev.page_states[7], 500);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(ev.type, PF_TR_TICK);
	cr_assert_eq(pf_trace_next(r, &ev, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(ev.type, PF_TR_ACTION);
	cr_assert_eq(pf_trace_offset(r), 504, "the rest follows the short STATE");
	while ((rc = pf_trace_next(r, &ev, err, sizeof(err))) == 1)
		;
	cr_assert_eq(rc, 0, "%s", err);
	pf_trace_close(r);
}

static void replay(struct sim_result *res, bool fresh)
{
	struct sim_cfg cfg = {.scan_ms = 500,
			      .recorded_ticks = true,
			      .ticks_only = true,
			      .clock_ms = 100000,
			      .fresh_states = fresh};
	struct file_source *fs;
	struct sim_source src;
	char err[256];

	pf_policy_params_default(&cfg.def.params);
	cfg.def.params.cold_age_ms = 2000;
	pf_threshold_cfg_default(&cfg.def.threshold);
	cfg.def.threshold.mode = PF_THRESH_COLD_AGE;
	cfg.def.reclaim = pf_reclaim_find("cold-age");
	cfg.def.prefetch = pf_prefetch_find("none");
	fs = file_source_open(path, err, sizeof(err));
	cr_assert_not_null(fs, "%s", err);
	src = file_source(fs);
	cr_assert_eq(sim_run(&cfg, &src, res, err, sizeof(err)), 0, "%s", err);
	file_source_close(fs);
}

Test(trace_v2, replay_starts_from_the_live_state, .init = setup, .fini = teardown)
{
	struct sim_result res;
	const struct sim_stats *t = &res.total;

	write_live();
	replay(&res, false);
	cr_assert_eq(t->snap_resident, 5, "pages present at the start");
	cr_assert_eq(t->snap_swapped, 1);
	cr_assert_eq(t->first_touch, 0, "the snapshot is not first touches");
	cr_assert(res.regions[0].state_recorded);
	cr_assert(res.regions[0].clears_recorded, "the agent's 2 clear segments");
	/* The live states make 0 and 1 cold at the first tick, as live. */
	cr_assert_eq(t->evictions, 2);
	cr_assert_eq(t->live_out, 2);
	cr_assert_eq(t->external_out, 1, "page 3, swapped by someone else");
	cr_assert_eq(t->live_refaults, 1);
	cr_assert_eq(t->swapins, 1, "page 0 was out in the replay too");
	cr_assert_eq(res.ticks, 2);
	cr_assert_eq(res.nseries, 2);
	cr_assert_eq(res.series[0].live_resident, 5);
	cr_assert_eq(res.series[1].live_resident, 2, "pages 2 and 4 at the second scan");
	cr_assert_eq(res.series[1].sim_resident, 2);
	sim_result_free(&res);

	/* Version 2: the same states, the clears from the replay's first tick. */
	write_live_v2();
	replay(&res, false);
	cr_assert(res.regions[0].state_recorded);
	cr_assert_not(res.regions[0].clears_recorded);
	cr_assert_eq(t->evictions, 2);
	cr_assert_eq(t->swapins, 1);
	sim_result_free(&res);

	/* Fresh states: nothing is 2 s idle yet, the agent's pageouts are its own. */
	replay(&res, true);
	cr_assert_not(res.regions[0].state_recorded);
	cr_assert_not(res.regions[0].clears_recorded);
	cr_assert_eq(t->evictions, 0);
	cr_assert_eq(t->external_out, 1);
	cr_assert_eq(t->swapins, 0, "page 0 stayed resident in this replay");
	cr_assert_eq(res.series[1].sim_resident, 4);
	sim_result_free(&res);
}
