// SPDX-License-Identifier: MIT
/*
 * kernel reclaim: the agent takes no action and leaves paging to the
 * kernel's own LRU. The baseline every other policy is measured against.
 * It still has a state and a weight (time since last access) so the
 * simulator can model the kernel's reclaim as a scan-driven LRU.
 */
#include "policy_impl.h"

static pf_page_state kernel_init(const struct pf_policy_params *p, uint64_t now)
{
	return pf_tick(p, now);
}

static pf_page_state kernel_scan(const struct pf_policy_params *p, pf_page_state s,
				 const struct pf_scan_page *pg, uint64_t now)
{
	return pg->accessed ? pf_tick(p, now) : s;
}

static uint32_t kernel_weight(const struct pf_policy_params *p, pf_page_state s, uint64_t now)
{
	return UINT32_MAX - (pf_tick(p, now) - s);
}

const struct pf_reclaim_ops pf_reclaim_kernel = {
	.name = "kernel",
	.init = kernel_init,
	.scan = kernel_scan,
	.weight = kernel_weight,
	.flags = PF_RECLAIM_PASSIVE,
	.help = "no action: the kernel's own reclaim (baseline)",
};
