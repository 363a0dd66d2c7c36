// SPDX-License-Identifier: MIT
/*
 * Fault classification without the page-table walk. A region the agent has
 * never paged out (and in which no scan saw a swapped page) counts its
 * not-present faults as first touches without walking the page table; the
 * walk is only for regions that may hold swapped pages (pt_walk in the
 * JSON). Pages swapped by someone else meanwhile (the kernel, DAMON; here
 * this process's own MADV_PAGEOUT, which the agent does not see) must still
 * count as refaults, exactly: the major-fault program recounts them and
 * marks the region. And a region whose pages all came back returns to the
 * walk-free path at the next scan.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pf_client.h"
#include "testutil.h"

#define PG 4096ul

static long majflt(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return r.ru_majflt;
}

static long long field(struct pfa_agent *a, const char *f)
{
	return agent_region_field(a, getpid(), "fc", f);
}

Test(agent_faultclass, pages_swapped_behind_the_agents_back_are_refaults, .timeout = 120)
{
	const size_t n = 4096, m = 500, len = n * PG;
	/* No policy for "fc", no second scan during the test, every fault counted. */
	const char *args[] = {"--scan-interval", "600000", "--count-first-touch", NULL};
	size_t i, present, swapped;
	volatile unsigned char *buf;
	struct pfa_agent a;
	uint64_t t0;
	struct pfc c;
	long maj;

	TU_SKIP_UNLESS(tu_ensure_swap());
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	buf = tc_anon(len);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	/*
	 * The process is scanned once before its region exists (as on a slow
	 * machine, where the HELLO's first tick comes before the MAP); its
	 * first region is still scanned at the next tick, not ten minutes on.
	 */
	t0 = now_ms();
	while (agent_stat_field(&a, "scans") < 1 && now_ms() - t0 < 30000)
		usleep(20000);
	cr_assert_geq(agent_stat_field(&a, "scans"), 1, "the process was never scanned");
	cr_assert_eq(pfc_map(&c, (void *)buf, len, "fc"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "fc", 5000));
	t0 = now_ms();
	while (field(&a, "scans") < 1 && now_ms() - t0 < 30000)
		usleep(20000);
	cr_assert_geq(field(&a, "scans"), 1, "the new region was not scanned at the next tick");

	tu_pin_cpu(); /* for tu_pageout_all: all pages in this CPU's LRU batch */
	for (i = 0; i < n; i++)
		buf[i * PG] = (unsigned char)(i + 1);
	cr_assert_eq(field(&a, "first_touch"), (long long)n);
	cr_assert_eq(field(&a, "pt_walk"), 0, "a fresh region should not need the walk");

	/* Swapped out by this process itself: the agent never hears of it. */
	if (tu_pageout_all((void *)buf, len, 5000)) {
		pagemap_count((void *)buf, len, &present, &swapped);
		pfc_close(&c);
		agent_stop(&a);
		cr_skip_test("%zu of %zu pages still present after 5 s of MADV_PAGEOUT (isolated "
			     "elsewhere): the count needs every page out",
			     present, n);
	}
	cr_assert_eq(field(&a, "pt_walk"), 0);

	maj = majflt();
	for (i = 0; i < m; i++)
		cr_assert_eq(buf[i * 4 * PG], (unsigned char)(i * 4 + 1));
	maj = majflt() - maj;
	cr_log_info("%ld of %zu refaults major; first touches %lld, refaults %lld (swap-ins %lld), "
		    "other majors %lld",
		    maj, m, field(&a, "first_touch"), field(&a, "refaults"),
		    field(&a, "swapin_major"), field(&a, "other_major"));
	/* Every fault is counted once, as one or the other. */
	cr_assert_eq(field(&a, "first_touch") + field(&a, "refaults"), (long long)(n + m));
	cr_assert_eq(field(&a, "other_major"), 0);
	if (maj != (long)m) {
		/*
		 * A disk swap tier (someone else's: tu_ensure_swap sets up zram)
		 * keeps the pages in the swap cache: minor refaults, which the
		 * entry took for first touches (known limit, README) until a scan
		 * or a major fault marks the region. The major ones are recounted.
		 */
		cr_assert_eq(field(&a, "swapin_major"), (long long)maj);
		cr_skip_test("%ld of %zu refaults were swap-cache hits: a disk swap tier is "
			     "active, exactness needs zram",
			     (long)m - maj, m);
	}
	cr_assert_eq(field(&a, "refaults"), (long long)m);
	cr_assert_eq(field(&a, "swapin_major"), (long long)m);
	cr_assert_eq(field(&a, "first_touch"), (long long)n, "refaults counted as first touches");
	cr_assert_eq(field(&a, "pt_walk"), 1, "a refault did not mark the region");

	/* Marked: the walk classifies the next ones at fault entry. */
	for (i = 0; i < m; i++)
		cr_assert_eq(buf[(i * 4 + 2) * PG], (unsigned char)(i * 4 + 3));
	cr_assert_eq(field(&a, "refaults"), (long long)(2 * m));
	cr_assert_eq(field(&a, "first_touch"), (long long)n);
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	munmap((void *)buf, len);
}

Test(agent_faultclass, region_leaves_the_walk_when_its_pages_are_back, .timeout = 120)
{
	const size_t n = 2048, len = n * PG;
	const char *args[] = {"--cold-age",	     "fc=1", "--scan-interval", "200",
			      "--count-first-touch", NULL};
	volatile unsigned char *buf;
	size_t i, swapped;
	long long ft0, rf0;
	struct pfa_agent a;
	struct pfc c;
	uint64_t t0;

	TU_SKIP_UNLESS(tu_ensure_swap());
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	buf = tc_anon(len);
	for (i = 0; i < n; i++)
		buf[i * PG] = (unsigned char)i;
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, (void *)buf, len, "fc"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "fc", 5000));
	/* The agent pages the idle region out: it is marked first. */
	swapped = pagemap_wait_swapped((void *)buf, len, 20000);
	cr_assert_eq(swapped, n);
	cr_assert_eq(field(&a, "pt_walk"), 1);
	/* All back, and kept hot: a scan sees no swapped page and unmarks it. */
	rf0 = field(&a, "refaults");
	ft0 = field(&a, "first_touch");
	for (i = 0; i < n; i++)
		cr_assert_eq(buf[i * PG], (unsigned char)i);
	cr_assert_eq(field(&a, "refaults") - rf0, (long long)n);
	cr_assert_eq(field(&a, "first_touch"), ft0);
	t0 = now_ms();
	while (field(&a, "pt_walk") != 0 && now_ms() - t0 < 3000) {
		for (i = 0; i < n; i++)
			(void)buf[i * PG];
		usleep(20000);
	}
	cr_assert_eq(field(&a, "pt_walk"), 0, "still marked with every page resident");
	/* Unmarked, fresh pages are still first touches. */
	cr_assert_eq(madvise((void *)buf, len, MADV_DONTNEED), 0);
	for (i = 0; i < n; i++)
		buf[i * PG] = 1;
	cr_assert_eq(field(&a, "first_touch"), ft0 + (long long)n);
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	munmap((void *)buf, len);
}

/* The agent's fault program state from `stats`: 1 attached, 0 detached, -1 unknown. */
static int fault_prog_attached(struct pfa_agent *a)
{
	char *r = agent_query(a, "stats");
	int v = -1;

	if (r && strstr(r, "\"fault_program\":{\"attached\":true,\"on_demand\":true"))
		v = 1;
	else if (r && strstr(r, "\"fault_program\":{\"attached\":false,\"on_demand\":true"))
		v = 0;
	free(r);
	return v;
}

static bool wait_fault_prog(struct pfa_agent *a, int want, int ms)
{
	uint64_t t0 = now_ms();

	while (fault_prog_attached(a) != want && now_ms() - t0 < (uint64_t)ms)
		usleep(20000);
	return fault_prog_attached(a) == want;
}

/*
 * By default the fault program is attached only while a managed region may
 * hold swapped pages (issue 14): the first touches of a fresh region run
 * no program and are not counted; the agent attaches it before it pages
 * out, so every refault is counted; when a scan finds nothing swapped it is
 * detached again; and pages swapped behind the agent's back are counted by
 * the major-fault program alone, which makes the agent attach it again.
 */
Test(agent_faultclass, fault_program_attached_only_while_pages_may_be_out, .timeout = 120)
{
	const size_t n = 2048, m = 300, len = n * PG;
	const char *args[] = {"--cold-age", "fc=1", "--scan-interval", "200", NULL};
	volatile unsigned char *buf;
	long long rf0, sw0;
	struct pfa_agent a;
	size_t i, swapped;
	long maj;
	struct pfc c;
	uint64_t t0;

	TU_SKIP_UNLESS(tu_ensure_swap());
	cr_assert_eq(agent_start(&a, args), 0, "pageflexd did not start");
	buf = tc_anon(len);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	cr_assert_eq(pfc_map(&c, (void *)buf, len, "fc"), 0);
	cr_assert(agent_wait_region(&a, getpid(), "fc", 5000));
	cr_assert_eq(fault_prog_attached(&a), 0, "attached with nothing swapped");
	for (i = 0; i < n; i++)
		buf[i * PG] = (unsigned char)i;
	cr_assert_eq(field(&a, "first_touch"), 0, "first touches counted without the program");
	/* The agent pages the idle region out: attached first. */
	swapped = pagemap_wait_swapped((void *)buf, len, 20000);
	cr_assert_eq(swapped, n);
	cr_assert_eq(fault_prog_attached(&a), 1, "paged out without the fault program");
	for (i = 0; i < m; i++)
		cr_assert_eq(buf[i * PG], (unsigned char)i);
	cr_assert_eq(field(&a, "refaults"), (long long)m);
	cr_assert_eq(field(&a, "swapin_major"), (long long)m);
	/* All back and kept hot: no swapped page anywhere, detached. */
	t0 = now_ms();
	do {
		for (i = 0; i < n; i++)
			(void)buf[i * PG];
		usleep(20000);
	} while (fault_prog_attached(&a) != 0 && now_ms() - t0 < 5000);
	cr_assert_eq(fault_prog_attached(&a), 0, "still attached with every page resident");
	cr_assert_eq(field(&a, "refaults"), (long long)n);
	/* Swapped behind its back: pf_major counts the swap-ins, then it is attached. */
	rf0 = field(&a, "refaults");
	sw0 = field(&a, "swapin_major");
	cr_assert_eq(madvise((void *)buf, len, MADV_PAGEOUT), 0);
	maj = majflt();
	for (i = 0; i < m; i++)
		cr_assert_eq(buf[i * 5 * PG], (unsigned char)(i * 5));
	if (majflt() - maj != (long)m)
		cr_skip_test("%ld of %zu refaults were swap-cache hits: a disk swap tier is "
			     "active, exactness needs zram",
			     (long)m - (majflt() - maj), m);
	cr_log_info("behind its back: %lld refaults, %lld swap-ins of %zu",
		    field(&a, "refaults") - rf0, field(&a, "swapin_major") - sw0, m);
	cr_assert_eq(field(&a, "refaults") - rf0, (long long)m);
	cr_assert_eq(field(&a, "swapin_major") - sw0, (long long)m);
	cr_assert_eq(field(&a, "first_touch"), 0, "a swap-in taken back from the first touches");
	cr_assert(wait_fault_prog(&a, 1, 3000), "not attached after swap-ins it did not cause");
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	munmap((void *)buf, len);
}
