// SPDX-License-Identifier: MIT
/*
 * The simulator's results (see sim.h): per-region reports and totals from
 * the final state of a replay, and the ratios derived from them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_impl.h"

static void add_stats(struct sim_stats *t, const struct sim_stats *a)
{
	t->accesses += a->accesses;
	t->first_touch += a->first_touch;
	t->swapins += a->swapins;
	t->prefetch_issued += a->prefetch_issued;
	t->prefetch_hits += a->prefetch_hits;
	t->prefetch_wasted += a->prefetch_wasted;
	t->evictions += a->evictions;
	t->demoted += a->demoted;
	t->phase_prefetched += a->phase_prefetched;
	t->bad_events += a->bad_events;
	t->snap_resident += a->snap_resident;
	t->snap_swapped += a->snap_swapped;
	t->external_out += a->external_out;
	t->live_out += a->live_out;
	t->live_prefetched += a->live_prefetched;
	t->live_refaults += a->live_refaults;
}

int sim_collect(const struct sim *s, struct sim_result *res)
{
	const struct sim_cfg *cfg = s->cfg;

	res->regions = calloc(s->nr ? s->nr : 1, sizeof(*res->regions));
	if (!res->regions)
		return -1;
	for (size_t i = 0; i < s->nr; i++) {
		const struct region *r = &s->r[i];
		struct sim_region_report *o = &res->regions[i];
		uint64_t n = s->nsamples;

		o->id = r->id;
		snprintf(o->tag, sizeof(o->tag), "%s", r->tag);
		o->npages = r->npages;
		o->budget = r->budget;
		o->reclaim = cfg->min ? "min" : r->eng.b.reclaim->name;
		o->prefetch = r->eng.b.prefetch ? r->eng.b.prefetch->name : "none";
		snprintf(o->rule, sizeof(o->rule), "%s",
			 r->eng.b.rule[0] ? r->eng.b.rule : "default");
		o->state_recorded = r->state_recorded;
		o->clears_recorded = r->clears_recorded;
		o->st = r->st_;
		if (n) {
			o->st.avg_resident /= (double)n;
			o->st.avg_footprint /= (double)n;
		}
		add_stats(&res->total, &r->st_);
	}
	res->nregions = s->nr;
	if (s->nsamples) {
		res->total.avg_resident = s->res_sum / (double)s->nsamples;
		res->total.avg_footprint = s->foot_sum / (double)s->nsamples;
	}
	res->memo_bytes = s->memo ? pf_phase_memo_bytes(s->memo) : 0;
	res->pages_records = s->pages_records;
	res->ticks = s->ticks;
	res->actions = s->actions;
	res->state_records = s->state_records;
	if (s->nseries) {
		res->series = malloc(s->nseries * sizeof(*res->series));
		if (!res->series)
			return -1;
		memcpy(res->series, s->series, s->nseries * sizeof(*res->series));
		res->nseries = s->nseries;
	}
	return 0;
}

void sim_result_free(struct sim_result *res)
{
	free(res->regions);
	res->regions = NULL;
	free(res->series);
	res->series = NULL;
	res->nseries = 0;
}

double sim_accuracy(const struct sim_stats *s)
{
	return s->prefetch_issued ? (double)s->prefetch_hits / (double)s->prefetch_issued : 0;
}

double sim_coverage(const struct sim_stats *s)
{
	uint64_t d = s->prefetch_hits + s->swapins;

	return d ? (double)s->prefetch_hits / (double)d : 0;
}

double sim_saved(const struct sim_stats *s)
{
	return s->avg_footprint > 0 ? 1.0 - s->avg_resident / s->avg_footprint : 0;
}
