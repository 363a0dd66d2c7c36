/* SPDX-License-Identifier: MIT */
/*
 * Leap on the fault path, for pageflexd: regions bound to `prefetch: leap`
 * run pf_leap (bpf/pageflex_agent.bpf.c: the policy/leap_core.h code the
 * simulator runs) on each of their swap faults; the program's decisions wake
 * the agent, which
 * issues the MADV_WILLNEED (a BPF program cannot advise memory). Without
 * BPF Leap (not loadable, its 64 region slots full, or PAGEFLEXD_LEAP=user)
 * a region falls back to the user-space Leap of prefetch.c.
 */
#ifndef PAGEFLEX_LEAP_LIVE_H
#define PAGEFLEX_LEAP_LIVE_H

#include <stdbool.h>
#include <stdio.h>

#include "regions.h"

/* Loads the program after pf_bpf_open() (it needs the calibration) and adds
 * its decisions to the event loop. 0, or -errno (logged: user-space Leap). */
int pf_leap_live_open(void);
/* Logs the program's counters and unloads it. */
void pf_leap_live_close(void);
/* Puts a region bound to Leap on the fault path; false: use user-space Leap. */
bool pf_leap_live_bind(struct pf_rinfo *ri);
/* Takes a region off the fault path (no-op if it is not on it). */
void pf_leap_live_unbind(struct pf_rinfo *ri);
/* Issues the WILLNEED of every pending decision. */
void pf_leap_live_poll(void);
/* `,"leap_bpf":{...}` (the program's counters) for the stats JSON; nothing
 * when Leap runs in user space. */
void pf_leap_live_json(FILE *f);

#endif
