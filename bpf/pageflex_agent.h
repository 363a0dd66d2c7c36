/* SPDX-License-Identifier: MIT */
/*
 * Plain structs and constants shared by pageflex_agent.bpf.c (kernel side)
 * and pageflexd (user side): region tables, per-region fault counters, the
 * fault event stream and the page-table scanner's request/result layout.
 *
 * Per-page data is addressed by a "slot": each region owns a run of slots
 * covering the 2 MiB-aligned hull of its address range, so one PMD (512
 * pages) maps to one 512-slot chunk and the scanner writes whole chunks.
 */
#ifndef PAGEFLEX_AGENT_H
#define PAGEFLEX_AGENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PFA_MAX_REGIONS 65536 /* region ids, shared by all processes */
#define PFA_MAX_PROCS 1024 /* managed processes (the agent's --max-procs is lower) */
#define PFA_PROC_TABLE 4096 /* regions (pieces) of one process */
#define PFA_SEARCH_STEPS 13 /* >= log2(PFA_PROC_TABLE) + 1 */
#define PFA_PID_MAX (1u << 22) /* the kernel's largest pid_max (PID_MAX_LIMIT) */
#define PFA_CHUNK_PAGES 512 /* pages per PMD and per scan chunk */
#define PFA_NO_REGION 0xffffffffu

/* Per-page scan bits: 4 bits per page, 16 pages per u64 word. */
#define PFA_PG_ACCESSED 0x1
#define PFA_PG_PRESENT 0x2
#define PFA_PG_SWAPPED 0x4
#define PFA_PG_HUGE 0x8

/* Per-region flags (region_flags in pageflex_agent.bpf.c). */
#define PFA_RF_OUT 0x1 /* may hold swapped pages: classify faults with a page-table walk */
#define PFA_RF_ANON 0x2 /* private anonymous memory: a major fault is a swap-in */

/* One entry of a process's sorted region table. */
struct pfa_region_ent {
	__u64 start;
	__u64 end;
	__u32 id;
	__u32 pad;
};

/* Per-region fault counters (per CPU; user space sums). */
struct pfa_region_stats {
	__u64 first_touch; /* fault on a none PTE: first touch of the page */
	__u64 swap_faults; /* fault on a swap PTE: the page had been paged out */
	__u64 swapin_major; /* ... and it was a major fault (read from swap) */
	__u64 other_major; /* major fault without a swap PTE (file read) */
	__u64 present; /* fault on a present PTE (write-protect, NUMA, ...) */
	__u64 unknown; /* could not read the page table */
};

enum pfa_event_kind {
	PFA_EV_FIRST_TOUCH = 1, /* only with stream_first_touch */
	PFA_EV_SWAP_FAULT = 2, /* entry of a fault on a swap PTE */
	PFA_EV_SWAPIN_MAJOR = 3, /* that fault was a major fault (perf event) */
	PFA_EV_EXEC = 4, /* a managed process exec'd: its regions are gone */
};

struct pfa_event {
	__u64 ts_ns;
	__u64 addr;
	__u32 tgid;
	__u32 region;
	__u32 kind;
	__u32 pad;
};

/* One scan request: the PMD-aligned chunk at va, whose first page is slot. */
struct pfa_scan_req {
	__u64 va;
	__u64 slot; /* multiple of PFA_CHUNK_PAGES */
};

/* Scan result of one chunk: 512 pages x 4 bits. */
struct pfa_scan_chunk {
	__u64 w[PFA_CHUNK_PAGES / 16];
};

/* Per-page policy state of one chunk (<= 4 bytes per page). */
struct pfa_state_chunk {
	__u32 st[PFA_CHUNK_PAGES];
};

#endif
