/* SPDX-License-Identifier: MIT */
/*
 * What the three files behind bpfview.h share, and nothing outside them
 * includes: bpf_load.c owns the skeleton (loading, attaching, the feature
 * table, the ring buffer), calibration.c finds the direct map, bpf_tables.c
 * keeps the maps the running agent reads and writes. pf_bpf_open() calls
 * the other two in this order: pf_bpf_tables_init(), pf_bpf_tables_size()
 * at every load attempt, pf_bpf_tables_map(), pf_bpf_calibrate().
 */
#ifndef PAGEFLEX_BPFVIEW_IMPL_H
#define PAGEFLEX_BPFVIEW_IMPL_H

#include <stdbool.h>
#include <sys/types.h>

#include "bpfview.h"
#include "pageflex_agent.skel.h"

/* bpf_load.c: the possible CPUs (the size of per-CPU map values); the
 * loaded skeleton is pf_bpf_skel() (bpfview.h). */
int pf_bpf_ncpus(void);
/* Runs an iter/task_vma program over the VMAs of one task, to completion. */
int pf_bpf_run_iter(struct bpf_program *prog, pid_t tid);

/* calibration.c: calibrates (or says why not: the calibration feature is
 * off); corrupt shifts the found base (tests of the validation). */
void pf_bpf_calibrate(bool corrupt);
/* Forgets the result (pf_bpf_close). */
void pf_bpf_calibration_reset(void);

/* bpf_tables.c: process slots and the kernel's pid_max, before any load. */
void pf_bpf_tables_init(const struct pf_bpf_opts *o);
/* Sizes the maps of an opened, not yet loaded skeleton. */
void pf_bpf_tables_size(struct pageflex_agent_bpf *skel, const struct pf_bpf_opts *o);
/* After the load: mmaps the arrays; 0 or -ENOMEM. */
int pf_bpf_tables_map(void);
/* Unmaps them and drops pending counter resets (pf_bpf_close). */
void pf_bpf_tables_unmap(void);

#endif
