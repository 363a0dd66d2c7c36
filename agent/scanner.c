// SPDX-License-Identifier: MIT
/* One page-table scan of a process (see scanner.h). */
#include "scanner.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "bpfview.h"
#include "log.h"

#define HUGE_SZ (2ull << 20)

struct pf_scan_totals pf_scan_totals;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count_piece(const struct pf_piece *pc)
{
	struct pf_rinfo *ri = pc->ri;
	uint64_t a, slot = pf_rinfo_slot(ri, pc->start);

	for (a = pc->start; a < pc->end; a += 4096, slot++) {
		unsigned nib = pf_bpf_scan_nibble(slot);

		ri->resident += !!(nib & PFA_PG_PRESENT);
		ri->swapped += !!(nib & PFA_PG_SWAPPED);
		ri->accessed += !!(nib & PFA_PG_ACCESSED);
		ri->huge += !!(nib & PFA_PG_HUGE);
	}
}

int pf_scan_proc(pid_t pid, struct pf_rtable *t, uint64_t slot_cap)
{
	static uint64_t gen;
	uint64_t max, n = 0, t0 = now_ns(), va, held = 0;
	struct pfa_scan_req *req = pf_bpf_scan_reqs(&max);
	bool truncated = false;
	size_t i;
	int rc;

	if (!pf_bpf_scan_ok())
		return -EOPNOTSUPP;
	/* Slots this process already holds. */
	gen++;
	for (i = 0; i < t->n; i++) {
		struct pf_rinfo *ri = t->p[i].ri;

		if (ri->scan_mark == gen || ri->slot_base == PF_NO_SLOT)
			continue;
		ri->scan_mark = gen;
		held += ri->nchunks * PFA_CHUNK_PAGES;
	}
	for (i = 0; i < t->n; i++) {
		struct pf_piece *pc = &t->p[i];

		/* No more than its share, so one process cannot starve the others. */
		if (pc->ri->slot_base == PF_NO_SLOT) {
			if (held + pc->ri->nchunks * PFA_CHUNK_PAGES > slot_cap)
				continue;
		}

		/*
		 * Regions with a policy get per-page slots first; observed-only ones
		 * (shown in the status) only while half the capacity is still free.
		 */
		if (pc->ri->slot_base == PF_NO_SLOT && !pc->ri->eng.bound &&
		    pf_slots_used() + pc->ri->nchunks * PFA_CHUNK_PAGES > pf_slots_capacity() / 2)
			continue;
		if (pc->ri->slot_base == PF_NO_SLOT) {
			if (!pf_rinfo_slots(pc->ri))
				continue;
			held += pc->ri->nchunks * PFA_CHUNK_PAGES;
		}
		for (va = pc->start & ~(HUGE_SZ - 1); va < pc->end; va += HUGE_SZ) {
			if (n == max) {
				pf_warn("scan of pid %d truncated at %llu chunks", pid,
					(unsigned long long)n);
				truncated = true;
				goto run;
			}
			req[n].va = va;
			req[n].slot = pf_rinfo_slot(pc->ri, va);
			n++;
		}
	}
run:
	rc = pf_bpf_scan(pid, (uint32_t)n);
	pf_scan_totals.scans++;
	if (rc) {
		pf_scan_totals.failures++;
		return rc;
	}
	for (i = 0; i < t->n; i++) {
		struct pf_rinfo *ri = t->p[i].ri;

		if (ri->slot_base == PF_NO_SLOT)
			continue;
		ri->resident = ri->swapped = ri->accessed = ri->huge = 0;
	}
	for (i = 0; i < t->n; i++) {
		if (t->p[i].ri->slot_base == PF_NO_SLOT)
			continue;
		count_piece(&t->p[i]);
		t->p[i].ri->scans++;
		pf_scan_totals.pages += (t->p[i].end - t->p[i].start) >> 12;
	}
	/*
	 * What the fault program needs to know: which regions hold swapped
	 * pages (the kernel's own reclaim swaps too). A region whose pieces
	 * were all scanned and hold none goes back to the walk-free path.
	 */
	for (i = 0; i < t->n; i++) {
		struct pf_rinfo *ri = t->p[i].ri;

		if (ri->slot_base == PF_NO_SLOT || (truncated && !ri->swapped))
			continue;
		pf_bpf_region_mark_out(ri->id, ri->swapped != 0);
	}
	pf_scan_totals.chunks += n;
	pf_scan_totals.ns += now_ns() - t0;
	return 0;
}
