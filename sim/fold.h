/* SPDX-License-Identifier: MIT */
/*
 * A recorded trace sees one access twice when it faults: as the fault record
 * (swap-in, swap-cache hit or first touch, at its time) and as the accessed
 * bit of the next page-table scan (the fault maps the page young). Counted
 * twice, every refaulting page gets an extra hit per scan interval in the
 * replay, which the live agent's policy never sees. This wrapper around an
 * event source clears, in each SCAN record, the bits of the pages that
 * faulted since that region's previous scan: the fault is the access.
 */
#ifndef PAGEFLEX_SIM_FOLD_H
#define PAGEFLEX_SIM_FOLD_H

#include "sim.h"

struct sim_fold;

/* NULL without memory. in must outlive the fold. */
struct sim_fold *sim_fold_new(const struct sim_source *in);
struct sim_source sim_fold_source(struct sim_fold *f);
void sim_fold_free(struct sim_fold *f);
/* Scan bits cleared so far (since the last rewind). */
uint64_t sim_fold_cleared(const struct sim_fold *f);

#endif
