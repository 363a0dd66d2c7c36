// SPDX-License-Identifier: MIT
/* The regions of a managed process as the agent's reports see them (region_view.h). */
#include "region_view.h"

#include "bpf_features.h"

static uint64_t mark_gen;

void pf_each_region(struct pf_proc *p, void (*fn)(void *arg, struct pf_rinfo *ri, int k), void *arg)
{
	size_t i;
	int k = 0;

	mark_gen++;
	for (i = 0; i < p->rt.n; i++) {
		struct pf_rinfo *ri = p->rt.p[i].ri;

		if (ri->mark != mark_gen) {
			ri->mark = mark_gen;
			ri->size = 0;
		}
		ri->size += p->rt.p[i].end - p->rt.p[i].start;
	}
	mark_gen++;
	for (i = 0; i < p->rt.n; i++) {
		struct pf_rinfo *ri = p->rt.p[i].ri;

		if (ri->mark == mark_gen)
			continue;
		ri->mark = mark_gen;
		fn(arg, ri, k++);
	}
}

const char *pf_region_policy_name(const struct pf_rinfo *ri)
{
	return ri->eng.bound ? ri->eng.b.reclaim->name : "none";
}

const char *pf_region_prefetch_name(const struct pf_rinfo *ri)
{
	return ri->eng.bound && ri->eng.b.prefetch ? ri->eng.b.prefetch->name : "none";
}

void pf_region_faults(uint32_t id, struct pf_region_faults *out)
{
	struct pfa_region_stats s;

	out->faults = pf_feature_on(pf_bpf_feature(PF_FEAT_FAULTS));
	out->majors = out->faults && pf_feature_on(pf_bpf_feature(PF_FEAT_MAJOR));
	pf_bpf_region_stats(id, &s);
	out->first_touch = s.first_touch;
	out->refaults = s.swap_faults;
	out->swapins = s.swapin_major;
	out->hits = s.swap_faults > s.swapin_major ? s.swap_faults - s.swapin_major : 0;
	out->other = s.other_major;
	out->present = s.present;
	out->unclassified = s.unknown;
}
