// SPDX-License-Identifier: MIT
/*
 * Leap prefetch for the simulator and the agent: a thin wrapper that runs
 * leap_core.h (the code the BPF fault path runs) and expands its decision
 * into page numbers.
 */
#include "leap_core.h"
#include "policy_impl.h"

static void leap_pinit(void *state, const struct pf_policy_params *p)
{
	(void)p;
	leap_init(state);
}

static size_t leap_pfault(void *state, const struct pf_policy_params *p, uint64_t page, bool hit,
			  uint64_t *out, size_t max)
{
	struct leap_decision d;
	size_t n = 0;

	leap_fault(state, page, hit, p->leap_max_pages, &d);
	for (uint32_t k = 1; k <= d.count && n < max; k++)
		out[n++] = d.start + (uint64_t)((int64_t)k * d.stride);
	return n;
}

const struct pf_prefetch_ops pf_prefetch_leap = {
	.name = "leap",
	.state_size = sizeof(struct leap_state),
	.init = leap_pinit,
	.fault = leap_pfault,
	.help = "Leap: majority trend of the last fault deltas, window grows on hits",
};
