/* SPDX-License-Identifier: MIT */
/*
 * Private helpers of the policy implementations: time quantisation and the
 * list of built-in policies the registry exposes. Not for the agent.
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

extern const struct pf_reclaim_ops pf_reclaim_kernel;
extern const struct pf_reclaim_ops pf_reclaim_cold_age;
extern const struct pf_reclaim_ops pf_reclaim_lru;
extern const struct pf_reclaim_ops pf_reclaim_lfu;
extern const struct pf_reclaim_ops pf_reclaim_hyperbolic;
extern const struct pf_prefetch_ops pf_prefetch_none;
extern const struct pf_prefetch_ops pf_prefetch_readahead;
extern const struct pf_prefetch_ops pf_prefetch_leap;

#endif
