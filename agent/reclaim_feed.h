/* SPDX-License-Identifier: MIT */
/*
 * The agent's engine path: one region's scan tick, fed to the policy engine
 * (policy/engine.h) from the layout of the BPF maps: the region's pieces,
 * its per-page states (4 bytes a slot) and the scanner's 4-bit page words.
 * The engine numbers a region's pages from its start at registration
 * (start0), as recordings do, so that its decisions do not depend on where
 * the region was mapped. Victims go into a PAGEOUT batch, and the accessed
 * pages whose bits the engine clears (policy/engine.h, clear_every) into a
 * COLD batch. Separate from reclaim.c, which reads the maps
 * and issues the advice, so that a test can feed it a recorded stream
 * (test/unit/policies/test_engine_diff.c).
 */
#ifndef PAGEFLEX_RECLAIM_FEED_H
#define PAGEFLEX_RECLAIM_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "actuator.h"
#include "engine.h"
#include "regions.h"

/*
 * Ticks region ri over its pieces pcs[0..n) (in address order): states and
 * scan_words indexed by slot (pf_rinfo_slot), refaults since the last tick.
 * Adds to ri->paged_out and ri->cooled.
 */
void pf_agent_reclaim_feed(struct pf_rinfo *ri, struct pf_piece *const *pcs, size_t n,
			   pf_page_state *states, const uint64_t *scan_words, uint64_t refaults,
			   uint64_t now, struct pf_engine_scratch *sc, struct pf_batch *out,
			   struct pf_batch *cold);

#endif
