/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The x86-64 page-table walk through the kernel's direct map, written once
 * for the agent's programs (pageflex_agent.bpf.c: fault classifier, Leap,
 * scanner, calibration). Defines the globals that the agent
 * sets after its calibration (agent/calibration.c): dmap_base, pt_levels
 * (4 or 5) and dmap_ok.
 *
 * Two ways to read one entry, chosen per program at compile time by the
 * constant `fast` argument of the __always_inline functions below:
 *  - fast: one PROBE_MEM load through bpf_rdonly_cast (kernel >= 6.2),
 *    ~4x cheaper per level than a helper call; a load that faults yields 0;
 *  - !fast: bpf_probe_read_kernel(), on every kernel; reports read errors.
 * bpf_rdonly_cast is a weak kfunc: on a kernel without it only the programs
 * that call it fail to load (the agent then loads their !fast variants).
 *
 * Verifier budget: everything here is straight-line code with a constant
 * number of levels, so a walk costs the verifier a few dozen instructions.
 */
#ifndef PAGEFLEX_PT_WALK_BPF_H
#define PAGEFLEX_PT_WALK_BPF_H

#define X86_PRESENT 0x1ULL
#define X86_ACCESSED 0x20ULL
#define X86_PSE 0x80ULL
#define X86_PROTNONE 0x100ULL
#define X86_ADDR_MASK 0x000ffffffffff000ULL

/* Set by user space after calibration (dmap_ok = 0: no page-table reads). */
__u64 dmap_base = 0;
__u32 pt_levels = 0; /* 4 or 5; 0 until calibrated (read as 4) */
__u32 dmap_ok = 0;

extern void *bpf_rdonly_cast(void *obj, __u32 btf_id) __ksym __weak;

enum { WALK_NONE = 0, WALK_TABLE = 1, WALK_LEAF = 2, WALK_ERR = -1 };

/* Entry idx (masked to 0..511) of the table at table_va into *e; 0 or -1. */
static __always_inline int pt_load(__u64 table_va, __u64 idx, __u64 *e, const int fast)
{
	void *p = (void *)(table_va + (idx & 511) * 8);

	if (fast) {
		/* A struct whose first member is 64 bits wide: one PROBE_MEM load. */
		struct timespec64 *t =
			bpf_rdonly_cast(p, bpf_core_type_id_kernel(struct timespec64));

		*e = (__u64)t->tv_sec;
		return 0;
	}
	return bpf_probe_read_kernel(e, sizeof(*e), p) ? -1 : 0;
}

static __always_inline __u64 pt_next_table(__u64 e)
{
	return dmap_base + (e & X86_ADDR_MASK);
}

/*
 * Walks from the pgd to the PMD of va. Returns WALK_TABLE (*e = a PMD entry
 * pointing to a PTE table), WALK_LEAF (*e = a PMD or PUD leaf, present or
 * PROT_NONE), WALK_NONE (nothing mapped at some level, or a PMD migration
 * entry) or WALK_ERR (a read failed; only when !fast).
 */
static __always_inline int pt_walk_pmd(__u64 pgd_va, __u64 va, __u64 *e, const int fast)
{
	__u64 t = pgd_va;

	if (pt_levels == 5) {
		if (pt_load(t, va >> 48, e, fast))
			return WALK_ERR;
		if (!(*e & X86_PRESENT))
			return WALK_NONE;
		t = pt_next_table(*e);
	}
	if (pt_load(t, va >> 39, e, fast)) /* pgd (4-level) or p4d (5-level) */
		return WALK_ERR;
	if (!(*e & X86_PRESENT))
		return WALK_NONE;
	if (pt_load(pt_next_table(*e), va >> 30, e, fast)) /* pud */
		return WALK_ERR;
	if (!(*e & X86_PRESENT))
		return WALK_NONE;
	if (*e & X86_PSE)
		return WALK_LEAF;
	if (pt_load(pt_next_table(*e), va >> 21, e, fast)) /* pmd */
		return WALK_ERR;
	if (!*e)
		return WALK_NONE;
	if (*e & X86_PSE)
		return WALK_LEAF; /* THP (present or protnone) */
	if (!(*e & X86_PRESENT))
		return WALK_NONE; /* PMD migration entry: treat as unmapped */
	return WALK_TABLE;
}

enum { PT_NONE, PT_SWAP, PT_PRESENT, PT_ERR };

/*
 * What maps va in the address space whose pgd is pgd_va: PT_NONE (nothing:
 * a first touch), PT_SWAP (a swap or other non-present entry in a 4 KiB
 * PTE), PT_PRESENT (a present or PROT_NONE PTE, or a huge leaf) or PT_ERR.
 */
static __always_inline int pt_classify(__u64 pgd_va, __u64 va, const int fast)
{
	__u64 e;
	int w = pt_walk_pmd(pgd_va, va, &e, fast);

	if (w == WALK_ERR)
		return PT_ERR;
	if (w == WALK_NONE)
		return PT_NONE;
	if (w == WALK_LEAF)
		return PT_PRESENT;
	if (pt_load(pt_next_table(e), va >> 12, &e, fast))
		return PT_ERR;
	if (!e)
		return PT_NONE;
	if (e & (X86_PRESENT | X86_PROTNONE))
		return PT_PRESENT;
	return PT_SWAP;
}

#endif
