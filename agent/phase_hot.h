/* SPDX-License-Identifier: MIT */
/*
 * The `prefetch_hot` phase action, live: when a process leaves a phase whose
 * entry has prefetch_hot, the pages it used last in that phase are
 * remembered per region (policy/phase_memo.h, bounded: 32 (tag, phase)
 * hot sets of at most 8192 pages per process, 2 MiB); when it enters that
 * phase again, they are brought back with one MADV_WILLNEED, before the
 * program touches them. The simulator does the same (sim_enter_phase() in
 * sim/sim_bind.c) on its own access stream.
 */
#ifndef PAGEFLEX_PHASE_HOT_H
#define PAGEFLEX_PHASE_HOT_H

struct pf_proc;

/* p changed phase (p->phase is the new one): records the hot set of the
 * phase it left if that phase's entry has prefetch_hot. Call before the
 * rebind and the new phase's actions. */
void pf_phase_hot_leave(struct pf_proc *p);
/* Prefetches what was hot at the end of the previous run of p->phase. */
void pf_phase_hot_enter(struct pf_proc *p);
/* Frees p's phase memory (the process is going away). */
void pf_phase_hot_free(struct pf_proc *p);

#endif
