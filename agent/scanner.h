/* SPDX-License-Identifier: MIT */
/*
 * One scan of a process: lists the 2 MiB chunks of its regions for the BPF
 * page-table walker (iter/task_vma), runs it, and folds the per-page bits
 * into each region's resident / swapped / accessed counts. The per-page
 * bits stay readable with pf_bpf_scan_nibble(slot) until the next scan.
 */
#ifndef PAGEFLEX_SCANNER_H
#define PAGEFLEX_SCANNER_H

#include <stdint.h>
#include <sys/types.h>

#include "regions.h"

struct pf_scan_totals {
	uint64_t scans, chunks, pages, ns; /* ns: wall time in the scanner */
	uint64_t failures;
};
extern struct pf_scan_totals pf_scan_totals;

/*
 * 0, or -errno (-EOPNOTSUPP when calibration failed). slot_cap: per-page
 * slots this process may hold (its fair share; UINT64_MAX: no limit).
 */
int pf_scan_proc(pid_t pid, struct pf_rtable *t, uint64_t slot_cap);

#endif
