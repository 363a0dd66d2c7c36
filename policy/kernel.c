// SPDX-License-Identifier: MIT
/*
 * kernel reclaim: the agent takes no action and leaves paging to the
 * kernel's own LRU. The baseline every other policy is measured against.
 * It still has a state and a weight (time since last access, cold-age's:
 * pf_last_tick_*) so the simulator can model the kernel's reclaim as a
 * scan-driven LRU.
 */
#include "policy_impl.h"

const struct pf_reclaim_ops pf_reclaim_kernel = {
	.name = "kernel",
	.init = pf_last_tick_init,
	.scan = pf_last_tick_scan,
	.weight = pf_last_tick_weight,
	.idle_ms = pf_last_tick_idle_ms,
	.flags = PF_RECLAIM_PASSIVE,
	.help = "no action: the kernel's own reclaim (baseline)",
};
