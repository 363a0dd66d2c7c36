/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The region lookup of the fault path, in one place: pageflex_agent.bpf.c
 * runs it on every fault of a managed process (pf_fault, pf_leap, pf_major:
 * pfa_managed() then pfa_region_find()), and the bench-only
 * bench/region_lookup_bench.bpf.c (bench_agent lookup) and
 * bench/fault_path_bench.bpf.c (bench_agent faults) time the very same
 * code. A process's regions are a sorted run of non-overlapping ranges in a
 * BPF array of struct pfa_region_ent; the search is a bounded binary search
 * (PFA_SEARCH_STEPS steps cover PFA_PROC_TABLE entries), inlined so that
 * each array lookup is a plain load.
 */
#ifndef PAGEFLEX_REGION_LOOKUP_BPF_H
#define PAGEFLEX_REGION_LOOKUP_BPF_H

#include "pageflex_agent.h"

/* The id of the region of entries [lo, hi) of the array map ents holding addr, or PFA_NO_REGION. */
static __always_inline __u32 pfa_region_search(void *ents, __u32 lo, __u32 hi, __u64 addr)
{
	struct pfa_region_ent *e;
	__u32 mid;
	int i;

	for (i = 0; i < PFA_SEARCH_STEPS; i++) {
		if (lo >= hi)
			break;
		mid = (lo + hi) / 2;
		e = bpf_map_lookup_elem(ents, &mid);
		if (!e)
			return PFA_NO_REGION;
		if (addr < e->start)
			hi = mid;
		else if (addr >= e->end)
			lo = mid + 1;
		else
			return e->id;
	}
	return PFA_NO_REGION;
}

/*
 * The table word of process tgid in the array map procs (see proc_tab in
 * pageflex_agent.bpf.c: (base of its table << 32) | (entries + 1)), or 0
 * when the process is not managed. Read once: the agent swaps a table by
 * storing a new word.
 */
static __always_inline __u64 pfa_managed(void *procs, __u32 tgid)
{
	__u64 *w = bpf_map_lookup_elem(procs, &tgid);

	return w ? *w : 0;
}

/* The region of addr in the table that word (pfa_managed()) names in the
 * array map ents, or PFA_NO_REGION. */
static __always_inline __u32 pfa_region_find(void *ents, __u64 word, __u64 addr)
{
	__u32 lo = word >> 32;

	return pfa_region_search(ents, lo, lo + (__u32)word - 1, addr);
}

#endif
