// SPDX-License-Identifier: MIT
/*
 * Hyperbolic caching (Blankstein et al., ATC'17), as in PageFlex: a page's
 * priority is hits / age, where hits counts the scans that saw it accessed
 * and age is the time since the page was first seen: the first scan that
 * sees it accessed (it entered memory then) restarts its age, so that a
 * region's pages, whose states all start when the region is bound, do not
 * share one age (that made it LFU). The state packs a 12-bit saturating hit
 * count with the 20-bit tick (now / tick_ms) of insertion; ages wrap after 2^20 ticks (12 days at 1 s). The weight is
 * hits / age in 16.16 fixed point.
 */
#include "policy_impl.h"

#define HYP_TICK_BITS 20
#define HYP_TICK_MASK ((1u << HYP_TICK_BITS) - 1)
#define HYP_HITS_MAX 4095u

static pf_page_state hyp_init(const struct pf_policy_params *p, uint64_t now)
{
	return pf_tick(p, now) & HYP_TICK_MASK;
}

static pf_page_state hyp_scan(const struct pf_policy_params *p, pf_page_state s,
			      const struct pf_scan_page *pg, uint64_t now)
{
	uint32_t hits = s >> HYP_TICK_BITS;

	if (!pg->accessed)
		return s;
	if (!hits)
		s = hyp_init(p, now); /* first seen now */
	if (hits < HYP_HITS_MAX)
		hits++;
	return (hits << HYP_TICK_BITS) | (s & HYP_TICK_MASK);
}

static uint32_t hyp_weight(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	uint32_t hits = s >> HYP_TICK_BITS;
	uint32_t age = ((pf_tick(p, now) - s) & HYP_TICK_MASK) + 1;

	return (uint32_t)(((uint64_t)hits << 16) / age);
}

const struct pf_reclaim_ops pf_reclaim_hyperbolic = {
	.name = "hyperbolic",
	.init = hyp_init,
	.scan = hyp_scan,
	.weight = hyp_weight,
	.help = "hyperbolic caching: evict the lowest hits / age",
};
