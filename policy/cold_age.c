// SPDX-License-Identifier: MIT
/*
 * cold-age reclaim: a page idle for at least cold_age_ms is a victim,
 * whatever the budget (the policy of Google's far memory and of DAMON's
 * reclaimer). The 4-byte state is the tick (now / tick_ms) of the last scan
 * that saw the accessed bit; the weight orders pages by idle time so that the
 * budget controller can also use it as a coarse LRU. The kernel policy keeps
 * the same state and weight (pf_last_tick_*, policy_impl.h).
 */
#include "policy_impl.h"

pf_page_state pf_last_tick_init(const struct pf_policy_params *p, uint64_t now)
{
	return pf_tick(p, now);
}

pf_page_state pf_last_tick_scan(const struct pf_policy_params *p, pf_page_state s,
				const struct pf_scan_page *pg, uint64_t now)
{
	return pg->accessed ? pf_tick(p, now) : s;
}

static uint32_t idle_ticks(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	/* Wrapping subtraction: correct while idle < 2^32 ticks. */
	return pf_tick(p, now) - s;
}

uint32_t pf_last_tick_weight(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	return UINT32_MAX - idle_ticks(p, s, now);
}

uint64_t pf_last_tick_idle_ms(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	return (uint64_t)idle_ticks(p, s, now) * pf_tick_ms(p);
}

static bool cold_victim(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	return pf_last_tick_idle_ms(p, s, now) >= p->cold_age_ms;
}

const struct pf_reclaim_ops pf_reclaim_cold_age = {
	.name = "cold-age",
	.init = pf_last_tick_init,
	.scan = pf_last_tick_scan,
	.weight = pf_last_tick_weight,
	.victim = cold_victim,
	.idle_ms = pf_last_tick_idle_ms,
	.help = "pages idle for at least cold_age_ms are victims",
};
