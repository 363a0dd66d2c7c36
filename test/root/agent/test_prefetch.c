// SPDX-License-Identifier: MIT
/*
 * pageflexd's prefetch path (its own binary: it skips where the swap tier
 * makes prefetch unmeasurable, and a skip must not hide other tests):
 * readahead (user space) and Leap on the fault path (pf_leap).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pf_client.h"
#include "testutil.h"

#define PG 4096ul

/*
 * Prefetch: two regions paged out by cold-age and then read sequentially,
 * one with readahead bound to it and one without (the control). Refaults
 * stay exact (swap-ins + swap-cache hits == refaults, about one per page),
 * and the agent's WILLNEED turns most of the prefetched region's refaults
 * into swap-cache hits. The reader spends ~20 us on each page, like a
 * program that processes what it reads; the refault events of a region with
 * a prefetch policy wake the agent at once.
 */
static void read_paced(unsigned char *buf, size_t npages, uint64_t spin_per_page)
{
	uint64_t spin;
	size_t i;

	for (i = 0; i < npages; i++) {
		(void)*(volatile unsigned char *)(buf + i * PG);
		for (spin = 0; spin < spin_per_page; spin++)
			__asm__ volatile("" ::: "memory");
	}
}

/* Waits (<= 10 s) until both regions are swapped out; their swapped counts. */
static void wait_both_swapped(unsigned char *const buf[2], size_t len, size_t swapped[2])
{
	uint64_t t0 = now_ms();

	swapped[0] = pagemap_wait_swapped(buf[0], len, 10000);
	uint64_t spent = now_ms() - t0;

	swapped[1] =
		pagemap_wait_swapped(buf[1], len, spent < 10000 ? (unsigned)(10000 - spent) : 0);
}

Test(agent, prefetch_readahead_turns_refaults_into_hits, .timeout = 120)
{
	const size_t len = 8ul << 20, npages = len / PG;
	char path[] = "/tmp/pf-rules-XXXXXX";
	const char *args[] = {"--config", path, "--scan-interval", "200", NULL};
	long long majors[2], hits[2], refaults[2];
	const char *tags[2] = {"seq", "ctl"};
	uint64_t sum[2], spin_per_page;
	unsigned char *buf[2];
	size_t swapped[2];
	struct pfa_agent a;
	struct pfc c;
	int fd, k;

	TU_SKIP_UNLESS(tu_ensure_swap());
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	tc_write_file(path, "version: 1\n"
			    "rules:\n"
			    "  - name: seq\n"
			    "    match: {tag: \"seq\"}\n"
			    "    reclaim: cold-age\n"
			    "    prefetch: readahead\n"
			    "    params: {cold_age_ms: 1000, ra_max_pages: 256}\n"
			    "    threshold: {mode: cold-age}\n"
			    "  - name: ctl\n"
			    "    match: {tag: \"ctl\"}\n"
			    "    reclaim: cold-age\n"
			    "    params: {cold_age_ms: 1000}\n"
			    "    threshold: {mode: cold-age}\n");
	cr_assert_eq(agent_start(&a, args), 0);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	for (k = 0; k < 2; k++) {
		buf[k] = tc_anon(len);
		tc_fill(buf[k], len, 11 + k);
		sum[k] = tc_checksum(buf[k], len);
		cr_assert_eq(pfc_map(&c, buf[k], len, tags[k]), 0);
	}
	cr_assert(agent_wait_region(&a, getpid(), "ctl", 5000));
	wait_both_swapped(buf, len, swapped);
	/* PAGEOUT may skip a few pages that the kernel holds at that moment
	 * (e.g. isolated by the machine's DAMON reclaimer): nearly all will do. */
	cr_assert(swapped[0] >= npages * 98 / 100 && swapped[1] >= npages * 98 / 100,
		  "paged out %zu and %zu of %zu", swapped[0], swapped[1], npages);
	{
		/* Calibrate ~20 us of work per page. */
		struct timespec t1, t2;
		uint64_t n;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		for (n = 0; n < 10000000; n++)
			__asm__ volatile("" ::: "memory");
		clock_gettime(CLOCK_MONOTONIC, &t2);
		spin_per_page = 10000000ull * 20000 /
				(uint64_t)((t2.tv_sec - t1.tv_sec) * 1000000000ll + t2.tv_nsec -
					   t1.tv_nsec + 1);
	}
	for (k = 0; k < 2; k++) {
		refaults[k] = agent_region_field(&a, getpid(), tags[k], "refaults");
		read_paced(buf[k], npages, spin_per_page);
	}
	usleep(100000);
	for (k = 0; k < 2; k++) {
		refaults[k] = agent_region_field(&a, getpid(), tags[k], "refaults") - refaults[k];
		majors[k] = agent_region_field(&a, getpid(), tags[k], "swapin_major");
		hits[k] = agent_region_field(&a, getpid(), tags[k], "swapcache_hits");
		cr_log_info("%s: sequential read of %zu paged-out pages: %lld refaults, %lld "
			    "swap-ins, %lld swap-cache hits, %lld KiB prefetched",
			    tags[k], npages, refaults[k], majors[k], hits[k],
			    agent_region_field(&a, getpid(), tags[k], "prefetched") / 1024);
		cr_assert_eq(majors[k] + hits[k], refaults[k]);
		/* A fault racing with a WILLNEED of the same page can return without
		 * mapping it and fault again: a few refaults more than pages. */
		cr_assert_geq(refaults[k], (long long)swapped[k]);
		cr_assert_leq(refaults[k], (long long)(npages + npages / 100));
		cr_assert_eq(tc_checksum(buf[k], len), sum[k]);
	}
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	unlink(path);
	for (k = 0; k < 2; k++)
		munmap(buf[k], len);
	if (hits[1] * 2 > refaults[1])
		cr_skip_test("the swap tier keeps paged-out pages in the swap cache (%lld of %lld "
			     "control refaults were hits): prefetch cannot be measured here",
			     hits[1], refaults[1]);
	/* Clearly better than the control: at least a tenth of the refaults, and
	 * twice the control's hits (on zram the control has about none). */
	cr_assert_geq(hits[0] * 10, refaults[0],
		      "prefetch turned only %lld of %lld refaults into hits", hits[0], refaults[0]);
	cr_assert_gt(hits[0], 2 * hits[1], "prefetch: %lld hits, control: %lld", hits[0], hits[1]);
}

/* ~us microseconds of spinning, calibrated once. */
static uint64_t spin_for_us(unsigned us)
{
	struct timespec t1, t2;
	uint64_t n;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (n = 0; n < 10000000; n++)
		__asm__ volatile("" ::: "memory");
	clock_gettime(CLOCK_MONOTONIC, &t2);
	return 10000000ull * us * 1000 /
	       (uint64_t)((t2.tv_sec - t1.tv_sec) * 1000000000ll + t2.tv_nsec - t1.tv_nsec + 1);
}

/* Every byte: a counter mixed with the seed (compressible enough for zram). */
static void fill_all(unsigned char *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i += 8)
		*(uint64_t *)(p + i) = (i >> 6) * 0x9e3779b97f4a7c15ull + seed;
}

/* Reads one byte of every page in `stride` passes of stride pages each
 * (pass k: pages k, k + stride, ...), spinning `spin` per page. */
static void read_strided(unsigned char *buf, size_t npages, size_t stride, uint64_t spin)
{
	for (size_t k = 0; k < stride; k++)
		for (size_t i = k; i < npages; i += stride) {
			(void)*(volatile unsigned char *)(buf + i * PG);
			for (uint64_t n = 0; n < spin; n++)
				__asm__ volatile("" ::: "memory");
		}
}

/* The fault-path program's counters from the agent's stats. */
static bool leap_counters(struct pfa_agent *a, unsigned long long *faults, unsigned long long *dec,
			  unsigned long long *whits)
{
	char *r = agent_query(a, "stats");
	const char *l = r ? strstr(r, "\"leap_bpf\":") : NULL;
	bool ok = l && sscanf(l,
			      "\"leap_bpf\":{\"swap_faults\":%llu,\"decisions\":%llu,"
			      "\"window_hits\":%llu",
			      faults, dec, whits) == 3;

	free(r);
	return ok;
}

/*
 * Leap on the fault path: two regions paged out by cold-age and read back at
 * a stride of 7 pages (7 passes, so every page comes back), one bound to
 * `prefetch: leap` and one without prefetch (the control). The BPF program
 * sees the swap faults of the Leap region, finds the stride and wakes the
 * agent, whose WILLNEED turns most of the later refaults into swap-cache
 * hits. The data must come back byte for byte.
 */
Test(agent, prefetch_leap_on_the_fault_path, .timeout = 120)
{
	const size_t len = 8ul << 20, npages = len / PG, stride = 7;
	char path[] = "/tmp/pf-rules-XXXXXX";
	const char *args[] = {"--config", path, "--scan-interval", "200", NULL};
	long long majors[2], hits[2], refaults[2], fetched[2];
	const char *tags[2] = {"stride", "ctl"};
	unsigned long long faults = 0, dec = 0, whits = 0;
	unsigned char *buf[2], *ref[2];
	size_t swapped[2];
	struct pfa_agent a;
	uint64_t spin;
	struct pfc c;
	char *alog;
	int fd, k;

	TU_SKIP_UNLESS(tu_ensure_swap());
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	tc_write_file(path, "version: 1\n"
			    "rules:\n"
			    "  - name: stride\n"
			    "    match: {tag: \"stride\"}\n"
			    "    reclaim: cold-age\n"
			    "    prefetch: leap\n"
			    "    params: {cold_age_ms: 1000, leap_max_pages: 32}\n"
			    "    threshold: {mode: cold-age}\n"
			    "  - name: ctl\n"
			    "    match: {tag: \"ctl\"}\n"
			    "    reclaim: cold-age\n"
			    "    params: {cold_age_ms: 1000}\n"
			    "    threshold: {mode: cold-age}\n");
	cr_assert_eq(agent_start(&a, args), 0);
	alog = agent_log(&a);
	if (!alog || !strstr(alog, "Leap runs on the fault path")) {
		free(alog);
		agent_stop(&a);
		unlink(path);
		cr_assert_fail("the agent did not load Leap on the fault path");
	}
	free(alog);
	cr_assert_eq(pfc_connect(&c, a.sock, 0), 0);
	for (k = 0; k < 2; k++) {
		buf[k] = tc_anon(len);
		ref[k] = malloc(len);
		cr_assert_not_null(ref[k]);
		fill_all(buf[k], len, 77 + (uint64_t)k);
		memcpy(ref[k], buf[k], len);
		cr_assert_eq(pfc_map(&c, buf[k], len, tags[k]), 0);
	}
	cr_assert(agent_wait_region(&a, getpid(), "ctl", 5000));
	wait_both_swapped(buf, len, swapped);
	cr_assert(swapped[0] >= npages * 98 / 100 && swapped[1] >= npages * 98 / 100,
		  "paged out %zu and %zu of %zu", swapped[0], swapped[1], npages);
	spin = spin_for_us(20);
	for (k = 0; k < 2; k++) {
		refaults[k] = agent_region_field(&a, getpid(), tags[k], "refaults");
		read_strided(buf[k], npages, stride, spin);
	}
	usleep(100000);
	for (k = 0; k < 2; k++) {
		refaults[k] = agent_region_field(&a, getpid(), tags[k], "refaults") - refaults[k];
		majors[k] = agent_region_field(&a, getpid(), tags[k], "swapin_major");
		hits[k] = agent_region_field(&a, getpid(), tags[k], "swapcache_hits");
		fetched[k] =
			agent_region_field(&a, getpid(), tags[k], "prefetched") / (long long)PG;
		cr_log_info(
			"%s: stride-%zu read of %zu paged-out pages: %lld refaults, %lld "
			"swap-ins, %lld swap-cache hits, %lld pages prefetched, accuracy %.1f%%, "
			"coverage %.1f%%",
			tags[k], stride, npages, refaults[k], majors[k], hits[k], fetched[k],
			fetched[k] ? 100.0 * (double)hits[k] / (double)fetched[k] : 0.0,
			refaults[k] ? 100.0 * (double)hits[k] / (double)refaults[k] : 0.0);
		cr_assert_eq(majors[k] + hits[k], refaults[k]);
		cr_assert_geq(refaults[k], (long long)swapped[k]);
		cr_assert_leq(refaults[k], (long long)(npages + npages / 100));
		cr_assert(!memcmp(buf[k], ref[k], len), "%s: data changed", tags[k]);
	}
	cr_assert(leap_counters(&a, &faults, &dec, &whits), "no leap_bpf counters in the stats");
	pfc_close(&c);
	cr_assert_eq(agent_stop(&a), 0);
	cr_log_info("fault path: %llu swap faults seen, %llu decisions, %llu window hits", faults,
		    dec, whits);
	unlink(path);
	for (k = 0; k < 2; k++) {
		munmap(buf[k], len);
		free(ref[k]);
	}
	/* The decisions came from BPF: it saw the region's swap faults. */
	cr_assert_geq(faults, (unsigned long long)swapped[0] * 9 / 10, "BPF saw %llu swap faults",
		      faults);
	cr_assert_gt(dec, 0);
	cr_assert_eq(fetched[1], 0);
	if (hits[1] * 2 > refaults[1])
		cr_skip_test("the swap tier keeps paged-out pages in the swap cache (%lld of %lld "
			     "control refaults were hits): prefetch cannot be measured here",
			     hits[1], refaults[1]);
	cr_assert_gt(hits[0], 0);
	cr_assert_geq(hits[0] * 4, refaults[0], "Leap turned only %lld of %lld refaults into hits",
		      hits[0], refaults[0]);
	cr_assert_gt(hits[0], 2 * hits[1], "Leap: %lld hits, control: %lld", hits[0], hits[1]);
}
