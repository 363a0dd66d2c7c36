/* SPDX-License-Identifier: MIT */
/*
 * Private helpers of the policy implementations: time quantisation, the
 * state two policies share and the list of built-in policies the registry
 * exposes. Not for the agent.
 */
#ifndef PAGEFLEX_POLICY_IMPL_H
#define PAGEFLEX_POLICY_IMPL_H

#include "policy.h"

static inline uint64_t pf_tick_ms(const struct pf_policy_params *p)
{
	return p->tick_ms ? p->tick_ms : 1000;
}

/* now in ticks, truncated to 32 bits (states store wrapping tick numbers). */
static inline uint32_t pf_tick(const struct pf_policy_params *p, uint64_t now)
{
	return (uint32_t)(now / pf_tick_ms(p));
}

/* State = the tick of the last scan that saw the accessed bit; weight =
 * UINT32_MAX - idle ticks. Shared by cold-age (cold_age.c) and kernel. */
pf_page_state pf_last_tick_init(const struct pf_policy_params *p, uint64_t now);
pf_page_state pf_last_tick_scan(const struct pf_policy_params *p, pf_page_state s,
				const struct pf_scan_page *pg, uint64_t now);
uint32_t pf_last_tick_weight(const struct pf_policy_params *p, pf_page_state s, uint64_t now);
uint64_t pf_last_tick_idle_ms(const struct pf_policy_params *p, pf_page_state s, uint64_t now);

extern const struct pf_reclaim_ops pf_reclaim_kernel;
extern const struct pf_reclaim_ops pf_reclaim_cold_age;
extern const struct pf_reclaim_ops pf_reclaim_lru;
extern const struct pf_reclaim_ops pf_reclaim_lfu;
extern const struct pf_reclaim_ops pf_reclaim_hyperbolic;
extern const struct pf_prefetch_ops pf_prefetch_none;
extern const struct pf_prefetch_ops pf_prefetch_readahead;
extern const struct pf_prefetch_ops pf_prefetch_leap;

#endif
