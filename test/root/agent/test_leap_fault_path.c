// SPDX-License-Identifier: MIT
/*
 * Leap on the fault path (pf_leap in bpf/pageflex_agent.bpf.c, through the
 * agent's handle leap_bpf.c) decides what leap_core.h decides in C: a
 * region of this process is registered in the agent's region table, paged
 * out to swap and read back at a stride of 7 pages; every swap fault must
 * reach Leap, every decision must be the C code's on the same faults, and
 * first touches of the same region must be skipped. A second test checks
 * the handle's slot bookkeeping (add, remove with a move, forget) against
 * the faults the program counts. Needs root and swap.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bpfview.h"
#include "leap_bpf.h"
#include "leap_core.h"
#include "log.h"
#include "pageflex_wire.h"
#include "regions.h"
#include "testutil.h"

#define PG 4096ul

static const struct pf_region_events bpf_counters = {.on_new = pf_bpf_region_reset};
static struct pf_bpf_proc bp = {.slot = -1};
static struct pf_rtable t;

/* Loads the agent's programs, with the Leap feature, and calibrates. */
static void load(void)
{
	struct pf_bpf_opts o = {.capacity_pages = 1ull << 16, .max_procs = 4};

	TU_SKIP_UNLESS(tu_need_root());
	TU_SKIP_UNLESS(tu_ensure_swap());
	pf_log_verbosity = PF_LOG_WARN;
	cr_assert_eq(pf_regions_init(o.capacity_pages), 0);
	cr_assert_eq(pf_bpf_open(&o), 0, "cannot load the agent's BPF programs");
	pf_region_events_subscribe(&bpf_counters);
	cr_assert(pf_bpf_dmap_ok(), "calibration: %s", pf_bpf_dmap_error());
	cr_assert(pf_feature_on(pf_bpf_feature(PF_FEAT_LEAP)), "Leap's program does not load: %s",
		  pf_bpf_feature(PF_FEAT_LEAP)->why);
	cr_assert_eq(pf_bpf_proc_add(&bp, getpid()), 0);
}

/* Registers [p, p + len) as a region of this process; returns its id. */
static uint32_t region(void *p, size_t len)
{
	int err = 0;
	struct pf_rinfo *ri =
		pf_rt_map(&t, (uintptr_t)p, len, PFW_KIND_ANON, 3, "leap", 4, "", 0, 0, &err);

	cr_assert_not_null(ri, "pf_rt_map: %d", err);
	cr_assert_eq(pf_bpf_proc_sync(&bp, getpid(), &t), 0);
	return ri->id;
}

/* Pages of [m, m + n pages) that are not swapped out. */
/*
 * A mapping of n + fresh pages whose first n are written, then paged out
 * (every one of them, or the test is skipped, saying so: tu_pageout_all);
 * the last fresh are never touched.
 */
static char *swapped_out(size_t n, size_t fresh)
{
	char *m = mmap(NULL, (n + fresh) * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	size_t left;

	cr_assert_neq(m, MAP_FAILED);
	madvise(m, (n + fresh) * PG, MADV_NOHUGEPAGE);
	tu_pin_cpu(); /* seen in CI without: 13 of 4096 pages left for 5 s */
	for (size_t i = 0; i < n; i++)
		m[i * PG] = (char)(i | 1);
	left = tu_pageout_all(m, n * PG, 5000);
	/* The kernel kept some pages (isolated elsewhere): this run cannot judge. */
	if (left)
		cr_skip_test("%zu of %zu pages not swapped out after 5 s of MADV_PAGEOUT: the "
			     "comparison needs every page swapped",
			     left, n);
	return m;
}

struct decisions {
	struct leap_event ev[4096];
	size_t n;
};

static void collect(void *arg, uint32_t tgid, uint32_t region_id, uint64_t addr,
		    int64_t stride_bytes, uint32_t count)
{
	struct decisions *d = arg;

	if (d->n < sizeof(d->ev) / sizeof(d->ev[0]))
		d->ev[d->n] = (struct leap_event){.addr = addr,
						  .stride_bytes = stride_bytes,
						  .count = count,
						  .region_id = region_id,
						  .tgid = tgid};
	d->n++;
}

Test(leap_fault_path, decides_like_c_on_swap_faults, .timeout = 120)
{
	const size_t npages = 4096, fresh = 512, stride = 7;
	static struct decisions got;
	struct pf_leap_bpf_stats st;
	struct pf_leap_bpf *lb;
	struct leap_state c;
	size_t want = 0, faults = 0;
	uint64_t start;
	uint32_t id;
	char *m;

	load();
	m = swapped_out(npages, fresh);
	start = (uintptr_t)m;
	id = region(m, (npages + fresh) * PG);
	cr_assert_eq(pf_leap_bpf_open(&lb, NULL), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, (uint32_t)getpid(), id, start,
				     start + (npages + fresh) * PG, 32),
		     0);

	for (size_t p = 0; p < npages; p += stride)
		cr_assert_eq(((volatile char *)m)[p * PG], (char)(p | 1));
	for (size_t p = 0; p < fresh; p++)
		((volatile char *)m)[(npages + p) * PG] = 1; /* first touches: skipped */
	pf_leap_bpf_poll(lb, collect, &got);
	pf_leap_bpf_stats(lb, &st);

	/* The same faults through the C code, hits classified the same way. */
	leap_init(&c);
	for (size_t p = 0; p < npages; p += stride, faults++) {
		struct leap_decision d;
		const struct leap_event *g = &got.ev[want];

		if (!leap_fault(&c, p, leap_in_window(&c, p), 32, &d))
			continue;
		cr_assert_lt(want, got.n, "BPF made %zu decisions, C more", got.n);
		cr_assert(g->addr == start + (d.start + d.stride) * PG &&
				  g->stride_bytes == d.stride * (int64_t)PG &&
				  g->count == d.count && g->region_id == id &&
				  g->tgid == (uint32_t)getpid(),
			  "decision %zu (fault on page %zu): C says %lld x %u, BPF %lld x %u", want,
			  p, (long long)d.stride, d.count,
			  (long long)(g->stride_bytes / (int64_t)PG), g->count);
		want++;
	}
	cr_assert_eq(st.faults, faults, "the program saw %llu swap faults of %zu",
		     (unsigned long long)st.faults, faults);
	cr_assert_eq(got.n, want, "BPF decided %zu times, C %zu", got.n, want);
	cr_assert_gt(want, 10, "the stride must make Leap prefetch");
	cr_assert_eq(st.decisions, got.n);
	cr_assert_eq(st.skipped, fresh, "first touches skipped: %llu of %zu",
		     (unsigned long long)st.skipped, fresh);
	cr_assert_eq(st.dropped, 0);
	pf_leap_bpf_close(lb);
	munmap(m, (npages + fresh) * PG);
	pf_bpf_close();
}

Test(leap_fault_path, slots_follow_add_remove_forget, .timeout = 120)
{
	const size_t np = 2048;
	static struct decisions got;
	struct pf_leap_bpf_stats st;
	struct pf_leap_bpf *lb;
	uint32_t me = (uint32_t)getpid(), ida, idb;
	char *a, *b;

	load();
	a = swapped_out(np, 0);
	b = swapped_out(np, 0);
	ida = region(a, np * PG);
	idb = region(b, np * PG);
	cr_assert_eq(pf_leap_bpf_open(&lb, NULL), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, me, ida, (uintptr_t)a, (uintptr_t)a + np * PG, 32), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, me, idb, (uintptr_t)b, (uintptr_t)b + np * PG, 32), 0);
	cr_assert_eq(pf_leap_bpf_add(lb, me, idb, (uintptr_t)b, (uintptr_t)b + np * PG, 32),
		     -EEXIST);
	cr_assert_eq(pf_leap_bpf_add(lb, me, 77, 1, PG, 32), -EINVAL);
	cr_assert_eq(pf_leap_bpf_remove(lb, ida), 0, "region b moves into slot 0");
	cr_assert_eq(pf_leap_bpf_remove(lb, ida), -ENOENT);

	for (size_t p = 0; p < np; p += 5)
		(void)((volatile char *)b)[p * PG];
	for (size_t p = 0; p < np; p += 5)
		(void)((volatile char *)a)[p * PG]; /* not a Leap region any more */
	cr_assert_gt(pf_leap_bpf_poll(lb, collect, &got), 0);
	for (size_t i = 0; i < got.n && i < 4096; i++)
		cr_assert(got.ev[i].region_id == idb && got.ev[i].stride_bytes == 5 * (int64_t)PG &&
				  got.ev[i].addr >= (uintptr_t)b &&
				  got.ev[i].addr < (uintptr_t)b + np * PG + 5 * PG * 256,
			  "decision %zu is not region b's stride", i);
	pf_leap_bpf_stats(lb, &st);
	cr_assert_eq(st.faults, (np + 4) / 5, "faults %llu", (unsigned long long)st.faults);
	cr_assert_eq(st.decisions, got.n);
	cr_assert_eq(st.regions, 1);

	pf_leap_bpf_forget(lb, me);
	pf_leap_bpf_stats(lb, &st);
	cr_assert_eq(st.regions, 0);
	for (size_t p = 1; p < np; p += 5)
		(void)((volatile char *)b)[p * PG];
	pf_leap_bpf_stats(lb, &st);
	cr_assert_eq(st.faults, (np + 4) / 5, "no faults counted after forget");
	pf_leap_bpf_close(lb);
	munmap(a, np * PG);
	munmap(b, np * PG);
	pf_bpf_close();
}
