/* SPDX-License-Identifier: MIT */
/*
 * The objectives of each managed process (policy/objective.h): after each
 * reclaim tick of a process, its regions that follow an objective are
 * handed to pf_objective_set_tick (the step pageflex-sim takes too), with,
 * for pressure objectives, the machine's memory stall and each region's
 * own: its refaults at what a swap-in costs here (measured once, on 64
 * pages of the agent's own); an objective that becomes unreachable, or is
 * met again, is logged. Also the status lines.
 */
#ifndef PAGEFLEX_AGENT_OBJECTIVES_H
#define PAGEFLEX_AGENT_OBJECTIVES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "objective.h"

struct pf_proc;

/* After the reclaim tick of p at now over its pieces pcs[0..npcs) (those
 * of one region next to each other), with interval_ms between ticks. */
struct pf_piece;
void pf_agent_objectives_tick(struct pf_proc *p, struct pf_piece *const *pcs, size_t npcs,
			      uint64_t now, uint64_t interval_ms);
/* The machine's memory stall since boot (µs, /proc/pressure/memory "some
 * total"); false if the kernel has no PSI. */
bool pf_agent_psi_total_us(uint64_t *out);
/* JSON array of p's objectives ("[]" if none); status text lines. */
void pf_agent_objectives_json(FILE *f, const struct pf_proc *p);
void pf_agent_objectives_text(FILE *f, const struct pf_proc *p);
/* Pages of p's regions under objective g that were swapped at the last scan:
 * the memory it saved. */
uint64_t pf_agent_objective_saved_pages(const struct pf_proc *p,
					const struct pf_objective_group *g);

#endif
