// SPDX-License-Identifier: MIT
/*
 * A process entering a phase (a PHASE record from its shim): its regions
 * are bound again for the new phase, and the rules file's on-entry actions
 * for that phase run on the regions whose tags they name: demote
 * (PAGEOUT), prefetch (WILLNEED), prefetch_hot (the phase's last hot set,
 * phase_hot.c).
 */
#include <stdint.h>

#include "actuator.h"
#include "agent.h"
#include "binding.h"
#include "log.h"
#include "phase_hot.h"
#include "rules.h"

/* Advice on every region of p whose tag matches one of the globs. */
static void act_on_tags(struct pf_proc *p, const char *const *globs, size_t n, enum pf_advice a)
{
	struct pf_batch b = {0};
	uint64_t bytes;
	size_t i;

	for (i = 0; i < p->rt.n; i++) {
		if (!pf_rules_glob_any(globs, n, p->rt.p[i].ri->tag))
			continue;
		if (a == PF_ADV_PAGEOUT)
			pf_bpf_region_mark_out(p->rt.p[i].ri->id, true);
		pf_batch_add(&b, p->rt.p[i].start, p->rt.p[i].end - p->rt.p[i].start);
	}
	if (!b.n)
		return;
	bytes = pf_act(p->pidfd, p->pid, a, &b);
	if (a == PF_ADV_PAGEOUT)
		pf_agent_reclaim_pages_out += bytes >> 12;
	pf_info("pid %d: phase '%s': %s of %llu MiB", p->pid, p->phase, pf_advice_name(a),
		(unsigned long long)bytes >> 20);
	pf_batch_free(&b);
}

void pf_agent_phase_enter(struct pf_proc *p)
{
	const struct pf_phase_actions *act;

	pf_phase_hot_leave(p); /* the hot set of the phase p left (phase_hot.c) */
	pf_proc_rebind(p);
	act = pf_binding_phase_actions(p->phase);
	if (!act)
		return;
	/*
	 * A phase whose hot set is recorded from the accessed bits: the next
	 * tick clears every bit (engine.h, clear_all), so that bits left set by
	 * the last phase (clear_every) are not taken for this one's.
	 * pageflex-sim records hot sets from access times and needs no clear.
	 */
	for (size_t i = 0; act->prefetch_hot && i < p->rt.n; i++)
		p->rt.p[i].ri->eng.clear_all = true;
	act_on_tags(p, act->demote, act->ndemote, PF_ADV_PAGEOUT);
	act_on_tags(p, act->prefetch, act->nprefetch, PF_ADV_WILLNEED);
	if (act->prefetch_hot)
		pf_phase_hot_enter(p);
}
