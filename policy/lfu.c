// SPDX-License-Identifier: MIT
/*
 * LFU: the weight is the number of scans that saw the page accessed. The
 * state packs a 24-bit saturating count with an 8-bit count of scans since
 * the last decay; with lfu_decay = N (1..255) the count halves every N scans
 * of the page, so that old popularity fades.
 */
#include "policy_impl.h"

#define LFU_COUNT_MASK 0xffffffu

static pf_page_state lfu_init(const struct pf_policy_params *p, uint64_t now)
{
	(void)p;
	(void)now;
	return 0;
}

static pf_page_state lfu_scan(const struct pf_policy_params *p, pf_page_state s,
			      const struct pf_scan_page *pg, uint64_t now)
{
	uint32_t count = s & LFU_COUNT_MASK;
	uint32_t age = s >> 24;

	(void)now;
	if (pg->accessed && count < LFU_COUNT_MASK)
		count++;
	if (p->lfu_decay) {
		uint32_t decay = p->lfu_decay > 255 ? 255 : p->lfu_decay;

		if (++age >= decay) {
			count >>= 1;
			age = 0;
		}
	}
	return (age << 24) | count;
}

static uint32_t lfu_weight(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	(void)p;
	(void)now;
	return s & LFU_COUNT_MASK;
}

const struct pf_reclaim_ops pf_reclaim_lfu = {
	.name = "lfu",
	.init = lfu_init,
	.scan = lfu_scan,
	.weight = lfu_weight,
	.help = "least frequently used: scans that saw the page accessed (halved every lfu_decay scans)",
};
