/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Leap's state machine (policy/leap_core.h) as one global
 * BPF function, for pf_leap (the fault path) and leap_replay.bpf.c (the
 * test that proves BPF and C decide the same). A global function is
 * verified once, on its own; inlined into a bpf_loop callback, the
 * majority-vote loops of leap_fault() cost some kernels' verifiers over a
 * million instructions (each callback state is compared as a loop state,
 * scalars by value, so the paths through the loops are never pruned).
 */
#ifndef PAGEFLEX_LEAP_FAULT_BPF_H
#define PAGEFLEX_LEAP_FAULT_BPF_H

/* leap_fault(); returns out->count, or 0 for a NULL argument. */
__noinline int leap_fault_once(struct leap_state *s, __u64 page, int hit, __u32 max_pw,
			       struct leap_decision *out)
{
	if (!s || !out)
		return 0;
	return (int)leap_fault(s, page, hit, max_pw, out);
}

#endif
