// SPDX-License-Identifier: MIT
/*
 * Prefetch: regions bound to a prefetch policy (readahead, Leap; the same
 * policy/ code the simulator runs) see every refault of the region, in
 * order, from the fault ring buffer. A swap fault followed by its major
 * fault is a miss; one that is not (the next swap fault of the process
 * arrives first) was a swap-cache hit, i.e. an earlier prefetch paid off.
 * The pages a policy asks for are clipped to the region and brought into
 * the swap cache with MADV_WILLNEED. The refault events of these regions
 * (only these) wake the agent at once, so the prefetch can come before the
 * program gets there; the 10 ms drain while they exist is a safety net.
 *
 * Leap normally runs on the fault path instead (leap_live.c: the same
 * leap_core.h in BPF, which wakes the agent only when it decides to
 * prefetch); this user-space Leap is its fallback.
 */
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "agent.h"
#include "leap_live.h"
#include "log.h"

#define MAX_PREFETCH 256

uint64_t pf_agent_prefetch_pages, pf_agent_prefetch_calls;

void pf_agent_prefetch_bind(struct pf_rinfo *ri)
{
	bool any = ri->eng.bound && ri->eng.b.prefetch;

	pf_leap_live_unbind(ri);
	/* Leap on the fault path: its refaults need not wake us. */
	ri->prefetch_here = any && !pf_leap_live_bind(ri);
	pf_bpf_region_wake(ri->id, ri->prefetch_here);
}

bool pf_agent_prefetch_active(void)
{
	size_t i, j;

	for (i = 0; i < pf_proc_count(); i++) {
		struct pf_proc *p = pf_proc_at(i);

		for (j = 0; j < p->rt.n; j++)
			if (p->rt.p[j].ri->prefetch_here)
				return true;
	}
	return false;
}

/* Runs the region's policy on one refault and issues its WILLNEED. */
static void run(struct pf_proc *p, uint64_t addr, bool hit)
{
	struct pf_piece *pc = pf_rt_find(&p->rt, addr);
	uint64_t out[MAX_PREFETCH];
	struct pf_batch b = {0};
	struct pf_rinfo *ri;
	size_t n, i;

	if (!pc || !pc->ri->prefetch_here)
		return;
	ri = pc->ri;
	/* Pages numbered from the region's start, as the engine and traces number them. */
	n = pf_engine_prefetch(&ri->eng, (addr - ri->start0) >> 12, hit, out, MAX_PREFETCH);
	for (i = 0; i < n; i++) {
		uint64_t a = ri->start0 + (out[i] << 12);

		/* Clip to the piece that faulted: never advise memory outside the region. */
		if (a >= pc->start && a < pc->end)
			pf_batch_add(&b, a, 4096);
	}
	if (b.n) {
		uint64_t bytes = pf_act(p->pidfd, p->pid, PF_ADV_WILLNEED, &b);

		pf_agent_prefetch_calls++;
		pf_agent_prefetch_pages += bytes >> 12;
		ri->prefetched += bytes >> 12;
	}
	pf_batch_free(&b);
}

void pf_agent_prefetch_event(const struct pfa_event *ev)
{
	struct pf_proc *p;

	if (ev->kind != PFA_EV_SWAP_FAULT && ev->kind != PFA_EV_SWAPIN_MAJOR)
		return;
	p = pf_proc_find((pid_t)ev->tgid);
	if (!p)
		return;
	if (ev->kind == PFA_EV_SWAPIN_MAJOR) {
		if (p->pending_page == ev->addr >> 12) {
			p->pending_page = 0;
			run(p, ev->addr, false);
		}
		return;
	}
	/* A new swap fault: the previous one without a major fault was a hit. */
	if (p->pending_page)
		run(p, p->pending_page << 12, true);
	p->pending_page = ev->addr >> 12;
}
