// SPDX-License-Identifier: MIT
/*
 * LRU as CLOCK with a history: the state is a shift register of the last
 * clock_bits accessed bits (newest in the top bit), the "aging" form of
 * CLOCK. Its value orders pages by recency of use at scan granularity: a
 * page used in the last scan outweighs any page that was not. With
 * clock_bits = 1 it is plain second-chance CLOCK.
 */
#include "policy_impl.h"

static uint32_t lru_bits(const struct pf_policy_params *p)
{
	return p->clock_bits >= 1 && p->clock_bits <= 32 ? p->clock_bits : 32;
}

static pf_page_state lru_init(const struct pf_policy_params *p, uint64_t now)
{
	(void)p;
	(void)now;
	return 0;
}

static pf_page_state lru_scan(const struct pf_policy_params *p, pf_page_state s,
			      const struct pf_scan_page *pg, uint64_t now)
{
	uint32_t top = 1u << (lru_bits(p) - 1);

	(void)now;
	return (s >> 1) | (pg->accessed ? top : 0);
}

static uint32_t lru_weight(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	(void)p;
	(void)now;
	return s;
}

const struct pf_reclaim_ops pf_reclaim_lru = {
	.name = "lru",
	.init = lru_init,
	.scan = lru_scan,
	.weight = lru_weight,
	.help = "least recently used, as CLOCK with clock_bits of access history",
};
