/* SPDX-License-Identifier: MIT */
/*
 * One view of a managed process's regions for every report of the agent:
 * the control socket's text and JSON (control.c) and the Prometheus
 * metrics (metrics.c) walk the same logical regions and read the same
 * fault counters through here, so the formats cannot drift apart.
 */
#ifndef PAGEFLEX_REGION_VIEW_H_
#define PAGEFLEX_REGION_VIEW_H_

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"

/* Calls fn once per logical region of p (a region split into several pieces
 * counts once), with its total size in ri->size; k counts from 0. */
void pf_each_region(struct pf_proc *p, void (*fn)(void *arg, struct pf_rinfo *ri, int k),
		    void *arg);

/* The reclaim policy bound to ri, or "none". */
const char *pf_region_policy_name(const struct pf_rinfo *ri);
/* The prefetch policy bound to ri, or "none". */
const char *pf_region_prefetch_name(const struct pf_rinfo *ri);

/*
 * A region's fault counts. faults: the fault classifier counts them (first
 * touch, refaults, present, unclassified); majors: the major-fault program
 * also tells swap-ins from swap-cache hits (swapins, hits, other). A count
 * whose program is not loaded is unknown, not zero.
 */
struct pf_region_faults {
	bool faults, majors;
	uint64_t first_touch, refaults, swapins, hits, other, present, unclassified;
};
void pf_region_faults(uint32_t id, struct pf_region_faults *out);

#endif
