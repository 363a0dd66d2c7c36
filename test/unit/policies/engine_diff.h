/* SPDX-License-Identifier: MIT */
/*
 * The differential check of issue 12: one event stream (a generated workload
 * or a trace recorded live with `pageflexctl record`) through pageflexd's
 * engine path (agent/reclaim_feed.c over BPF-layout arrays: 4-bit
 * page words, per-slot states, PAGEOUT and COLD batches) and through
 * pageflex-sim (sim_run, deciding at scan ticks only), with the same rules.
 * Both must page out the same pages at the same ticks and count the same
 * refaults and prefetches.
 *
 * The machine under the agent's path is modelled here as the simulator
 * models it (a page is untouched, resident or swapped; an access sets its
 * accessed bit; a victim is swapped; a refault brings it back and runs the
 * prefetch policy; a COLD clears the bit), so that any difference comes
 * from the two engine paths alone.
 */
#ifndef PAGEFLEX_ENGINE_DIFF_H
#define PAGEFLEX_ENGINE_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"
#include "sim.h"

struct engine_diff_result {
	uint64_t ticks; /* scan ticks with at least one live region */
	uint64_t agent_victims, sim_victims;
	uint64_t agent_refaults, sim_refaults;
	uint64_t agent_prefetched, sim_prefetched;
	/* First difference, "" if none. */
	char first_diff[256];
};

/*
 * Runs src (rewound in between) through both paths, scan tick scan_ms, with
 * rules (every region must be bound by them; phase actions are not
 * supported). 0, or -1 with err.
 */
int engine_diff(const struct sim_source *src, const struct pf_rules *rules, uint64_t scan_ms,
		struct engine_diff_result *res, char *err, size_t errlen);

#endif
