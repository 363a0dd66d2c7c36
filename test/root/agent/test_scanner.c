// SPDX-License-Identifier: MIT
/*
 * Scanner exactness (issue 4): the BPF page-table walker must report exactly
 * the pages a process touched since the accessed bits were cleared, and
 * exactly the pages that were paged out, checked page by page against the
 * known pattern and against /proc/self/pagemap. Drives the agent's core
 * (BPF view, scanner, actuator) directly on this test's own memory.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "actuator.h"
#include "bpfview.h"
#include "regions.h"
#include "scanner.h"
#include "testutil.h"

#define PG 4096ul

static const struct pf_region_events bpf_counters = {.on_new = pf_bpf_region_reset};

static void setup_bpf(void)
{
	struct pf_bpf_opts o = {.capacity_pages = 1u << 20};

	cr_assert_eq(pf_regions_init(o.capacity_pages), 0);
	pf_region_events_subscribe(&bpf_counters);
	cr_assert_eq(pf_bpf_open(&o), 0, "failed to load the agent's BPF programs");
	cr_assert(pf_bpf_dmap_ok(), "direct-map calibration failed: %s", pf_bpf_dmap_error());
}

static int self_pidfd(void)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);

	cr_assert_geq(fd, 0);
	return fd;
}

static void advise(int pidfd, enum pf_advice a, void *p, size_t len)
{
	struct pf_batch b = {0};

	pf_batch_add(&b, (uintptr_t)p, len);
	cr_assert_eq(pf_act(pidfd, getpid(), a, &b), len, "%s failed", pf_advice_name(a));
	pf_batch_free(&b);
}

/* pagemap bits 63 (present) and 62 (swapped) of npages pages from p. */
static uint64_t *pagemap(void *p, size_t npages)
{
	uint64_t *e = malloc(npages * sizeof(*e));
	int fd = open("/proc/self/pagemap", O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, e, npages * 8, (off_t)((uintptr_t)p / PG * 8)),
		     (ssize_t)(npages * 8));
	close(fd);
	return e;
}

Test(scanner, every_third_page_of_256mib_exact, .timeout = 120)
{
	const size_t len = 256ul << 20, npages = len / PG;
	struct pf_rtable t = {0};
	struct pf_rinfo *ri;
	volatile unsigned char *buf;
	size_t i, acc = 0, bad = 0, swapped = 0, nout = 0;
	uint64_t *pm, slot0;
	int err, pidfd, attempt;

	TU_SKIP_UNLESS(tu_ensure_swap());
	setup_bpf();
	pidfd = self_pidfd();
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(buf, MAP_FAILED);
	madvise((void *)buf, len, MADV_NOHUGEPAGE);
	for (i = 0; i < npages; i++)
		buf[i * PG] = (unsigned char)i;
	ri = pf_rt_map(&t, (uintptr_t)buf, len, PFW_KIND_ANON, 3, "t", 1, "", 0, 0, &err);
	cr_assert_not_null(ri);

	/*
	 * Clear the accessed bits, then touch every 3rd page. The machine's DAMON
	 * reclaimer samples physical pages by clearing their accessed bits, so
	 * once in a while it hides one of our touches: up to 3 attempts, and a
	 * page reported accessed that was not touched (which nothing but a bug
	 * can cause) always fails.
	 */
	for (attempt = 1; attempt <= 3; attempt++) {
		size_t missed = 0, extra = 0, absent = 0;

		advise(pidfd, PF_ADV_COLD, (void *)buf, len);
		for (i = 0; i < npages; i += 3)
			(void)buf[i * PG];
		cr_assert_eq(pf_scan_proc(getpid(), &t, UINT64_MAX), 0);
		slot0 = pf_rinfo_slot(ri, (uintptr_t)buf); /* slots exist after the first scan */
		acc = 0;
		for (i = 0; i < npages; i++) {
			unsigned nib = pf_bpf_scan_nibble(slot0 + i);
			bool a = nib & PFA_PG_ACCESSED, want = i % 3 == 0;

			acc += a;
			missed += want && !a;
			extra += a && !want;
			absent += !(nib & PFA_PG_PRESENT);
		}
		cr_log_info("attempt %d: 256 MiB, %zu pages accessed (want %zu): %zu missed, %zu "
			    "extra, %zu not present; scan %.2f ms",
			    attempt, acc, (npages + 2) / 3, missed, extra, absent,
			    pf_scan_totals.ns / 1e6 / pf_scan_totals.scans);
		cr_assert_eq(extra, 0, "%zu untouched pages reported accessed", extra);
		bad = missed + absent;
		if (!bad)
			break;
	}
	cr_assert_eq(bad, 0, "%zu pages misreported in 3 attempts", bad);
	cr_assert_eq(ri->resident, npages);
	cr_assert_eq(ri->accessed, (npages + 2) / 3);

	/* Page out pages 1, 6, 11, ... (every 5th from 1), then scan again. */
	{
		struct pf_batch b = {0};

		for (i = 1; i < npages; i += 5, nout++)
			pf_batch_add(&b, (uintptr_t)buf + i * PG, PG);
		pf_act(pidfd, getpid(), PF_ADV_PAGEOUT, &b);
		pf_batch_free(&b);
	}
	cr_assert_eq(pf_scan_proc(getpid(), &t, UINT64_MAX), 0);
	pm = pagemap((void *)buf, npages);
	bad = 0;
	for (i = 0; i < npages; i++) {
		unsigned nib = pf_bpf_scan_nibble(slot0 + i);
		bool sw = nib & PFA_PG_SWAPPED, pm_sw = (pm[i] >> 62) & 1, pm_pr = pm[i] >> 63;

		swapped += sw;
		if (sw != pm_sw || !!(nib & PFA_PG_PRESENT) != pm_pr)
			bad++;
		if (sw != (i % 5 == 1))
			bad++;
	}
	cr_log_info("paged out %zu pages: scanner sees %zu swapped, %zu mismatches", nout, swapped,
		    bad);
	cr_assert_eq(bad, 0, "%zu pages misreported after PAGEOUT", bad);
	cr_assert_eq(ri->swapped, nout);
	/* Contents survive. */
	for (i = 0; i < npages; i++)
		cr_assert_eq(buf[i * PG], (unsigned char)i);
	free(pm);
	pf_rt_clear(&t);
	munmap((void *)buf, len);
	close(pidfd);
	pf_bpf_close();
}

Test(scanner, thp_pmd_leaf, .timeout = 60)
{
	const size_t len = 8ul << 20;
	struct pf_rtable t = {0};
	struct pf_rinfo *ri;
	unsigned char *raw, *buf;
	uint64_t slot0;
	size_t i, huge = 0;
	int err;

	TU_SKIP_UNLESS(tu_need_root());
	setup_bpf();
	raw = mmap(NULL, len + (2ul << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		   0);
	cr_assert_neq(raw, MAP_FAILED);
	buf = (unsigned char *)(((uintptr_t)raw + (2ul << 20) - 1) & ~((2ul << 20) - 1));
	if (madvise(buf, len, MADV_HUGEPAGE))
		cr_skip_test("MADV_HUGEPAGE not supported");
	memset(buf, 1, len);
	ri = pf_rt_map(&t, (uintptr_t)buf, len, PFW_KIND_ANON, 3, "thp", 3, "", 0, 0, &err);
	cr_assert_not_null(ri);
	cr_assert_eq(pf_scan_proc(getpid(), &t, UINT64_MAX), 0);
	slot0 = pf_rinfo_slot(ri, (uintptr_t)buf);
	for (i = 0; i < len / PG; i++) {
		unsigned nib = pf_bpf_scan_nibble(slot0 + i);

		cr_assert(nib & PFA_PG_PRESENT, "page %zu not present", i);
		huge += !!(nib & PFA_PG_HUGE);
	}
	cr_log_info("THP region: %zu of %zu pages in PMD leaves", huge, len / PG);
	if (!huge)
		cr_skip_test("no THP was allocated (fragmented memory?)");
	cr_assert_eq(huge % 512, 0);
	pf_rt_clear(&t);
	munmap(raw, len + (2ul << 20));
	pf_bpf_close();
}
