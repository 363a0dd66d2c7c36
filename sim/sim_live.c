// SPDX-License-Identifier: MIT
/*
 * What a live recording (`pageflexctl record`, trace version 2 or 3) adds to a
 * replay, so that it starts where the live run stood and can be compared
 * with it:
 *  - a region's first PAGES record is its residency: present pages start
 *    resident, swapped ones swapped (not faults); later PAGES records are
 *    scans: accessed pages are accesses, and a page the recording shows
 *    swapped that neither the replay nor the agent paged out was paged out
 *    by someone else (the kernel, DAMON): the replay follows it (external);
 *  - a STATE record gives the live policy's per-page states and (version 3)
 *    its clear segmentation: used when the replay binds the same policy with
 *    the same parameters;
 *  - ACTION records are the agent's own pageouts and prefetches, counted
 *    as the live side of the comparison;
 *  - TICK records are the agent's ticks: the replay ticks there (unless
 *    told to model a scan period) and samples live and replayed residency.
 */
#include <stdio.h>
#include <string.h>

#include "grow.h"
#include "sim_impl.h"

_Static_assert(PF_TRACE_CLEAR_SEGS == PF_CLEAR_MAX, "a STATE holds every clear segment");

/* Dense index of page p of r, created untouched if needed; -1 (s->err) without memory. */
static int64_t dense(struct sim *s, struct region *r, uint64_t p)
{
	return sim_dense(s, r, p, true);
}

/* The residency a region's first PAGES record gives a page the replay has not seen. */
static int snapshot_page(struct sim *s, struct region *r, uint64_t p, unsigned st)
{
	int64_t d = dense(s, r, p);

	if (d < 0)
		return -1;
	if (st == PF_PG_SWAPPED) {
		r->fl[d] |= F_EVER;
		r->st_.snap_swapped++;
	} else {
		sim_make_resident(s, r, (uint64_t)d, st == PF_PG_ACCESSED ? F_ACC : 0);
		r->st_.snap_resident++;
	}
	return 0;
}

/* One page of a later scan. */
static int scan_page(struct sim *s, struct region *r, uint64_t p, unsigned st)
{
	int64_t d = sim_dense(s, r, p, false);
	uint8_t fl = d >= 0 ? r->fl[d] : 0;

	switch (st) {
	case PF_PG_ACCESSED:
		if ((d = dense(s, r, p)) < 0 || sim_access(s, r, (uint64_t)d))
			return -1;
		sim_sample(s);
		r->fl[d] &= (uint8_t)~F_LIVE_OUT;
		return 0;
	case PF_PG_IDLE:
		if (fl & F_EVER) {
			/* The live scan's bit, whichever bits the replay cleared. */
			r->fl[d] &= (uint8_t) ~(F_LIVE_OUT | F_ACC);
			return 0;
		}
		/* Present, but the replay never saw it touched (no first-touch
		 * records, and its accessed bit went to a scan before ours). */
		if ((d = dense(s, r, p)) < 0)
			return -1;
		sim_make_resident(s, r, (uint64_t)d, 0);
		r->st_.first_touch++;
		return 0;
	case PF_PG_SWAPPED:
		if (!(fl & F_EVER)) {
			if ((d = dense(s, r, p)) < 0)
				return -1;
			r->fl[d] |= F_EVER;
			r->st_.external_out++;
		} else if ((fl & F_RES) && !(fl & F_LIVE_OUT)) {
			sim_drop(s, r, (uint64_t)d);
			r->st_.external_out++;
		}
		return 0;
	}
	return 0; /* PF_PG_NONE: freed live, or never touched */
}

int sim_pages(struct sim *s, const struct pf_trace_event *ev)
{
	struct region *r = sim_find_region(s, ev->region);
	bool snap;

	s->pages_records++;
	for (uint64_t i = 0; i < ev->npages; i++) {
		unsigned st = pf_trace_page_state(ev->states, i);

		if (st == PF_PG_IDLE || st == PF_PG_ACCESSED)
			s->live_res_scan += r != NULL;
	}
	if (!r)
		return 0;
	if (!r->snapped) {
		r->snapped = true;
		r->snap_ns = ev->time_ns;
	}
	snap = ev->time_ns == r->snap_ns;
	for (uint64_t i = 0; i < ev->npages; i++) {
		unsigned st = pf_trace_page_state(ev->states, i);
		uint64_t p = ev->first_page + i;
		int64_t d;

		if (st == PF_PG_NONE)
			continue;
		if (p >= r->npages) {
			r->st_.bad_events += st == PF_PG_ACCESSED;
			continue;
		}
		d = sim_dense(s, r, p, false);
		if (snap && (d < 0 || !(r->fl[d] & F_EVER))) {
			if (snapshot_page(s, r, p, st))
				return -1;
		} else if (scan_page(s, r, p, st)) {
			return -1;
		}
	}
	return 0;
}

void sim_state(struct sim *s, const struct pf_trace_event *ev)
{
	const struct pf_trace_state *x = ev->state;
	struct region *r = sim_find_region(s, ev->region);
	const struct pf_policy_params *pp;

	s->state_records++;
	if (!r || s->cfg->fresh_states || s->cfg->min || !r->eng.bound || !r->eng.b.reclaim)
		return;
	pp = &r->eng.b.params;
	if (strcmp(r->eng.b.reclaim->name, x->reclaim) || pp->cold_age_ms != x->cold_age_ms ||
	    pp->tick_ms != x->tick_ms || pp->lfu_decay != x->lfu_decay ||
	    pp->clock_bits != x->clock_bits || (unsigned)r->eng.b.threshold.mode != x->mode ||
	    (x->clear_n && pp->clear_every != x->clear_every))
		return; /* another policy: its states begin at the replay's first tick */
	r->state_recorded = true;
	if (x->clear_n) { /* version 3: clear the segments the agent cleared */
		struct pf_engine_clears c = {
			.ticks = x->ticks,
			.last_tick_ms = x->last_tick_ms,
			.clear_n = x->clear_n,
			.seg_known = x->seg_known,
			.fresh_ok = x->fresh_ok,
			.all_fresh = x->all_fresh,
		};

		memcpy(c.seg_ws, x->seg_ws, sizeof(c.seg_ws));
		r->clears_recorded = pf_engine_clears_set(&r->eng, &c);
	}
	if (!x->ready)
		return; /* nor had the agent's: both begin at the first tick */
	for (uint64_t i = 0; i < ev->npages; i++) {
		int64_t d = sim_dense(s, r, ev->first_page + i, false);

		if (d >= 0)
			r->st[d] = ev->page_states[i];
	}
	r->eng.blank = x->blank;
	r->eng.ready = true;
	r->eng.thr.started = x->thr_started;
	r->eng.thr.cut_bucket = x->cut_bucket;
	r->eng.thr.period_start_ms = x->period_start_ms;
	r->eng.thr.refaults = x->thr_refaults;
}

void sim_action(struct sim *s, const struct pf_trace_event *ev)
{
	struct region *r = sim_find_region(s, ev->region);
	uint64_t n = 0;

	s->actions++;
	if (!r)
		return;
	for (uint64_t i = 0; i < ev->nranges; i++) {
		uint64_t first = ev->ranges[2 * i], len = ev->ranges[2 * i + 1];

		if (first >= r->npages)
			continue;
		if (len > r->npages - first)
			len = r->npages - first;
		n += len;
		if (ev->kind != PF_ACT_PAGEOUT)
			continue;
		/* Page by page, or over the pages the replay knows if fewer. */
		if (len <= r->nd) {
			for (uint64_t p = first; p < first + len; p++) {
				int64_t d = sim_dense(s, r, p, false);

				if (d >= 0)
					r->fl[d] |= F_LIVE_OUT;
			}
		} else {
			for (uint64_t d = 0; d < r->nd; d++)
				if (r->pg[d] >= first && r->pg[d] - first < len)
					r->fl[d] |= F_LIVE_OUT;
		}
	}
	if (ev->kind == PF_ACT_PAGEOUT)
		r->st_.live_out += n;
	else if (ev->kind == PF_ACT_PREFETCH)
		r->st_.live_prefetched += n;
}

int sim_live_tick(struct sim *s)
{
	struct sim_sample x = {.t_ms = s->now_ms, .live_resident = s->live_res_scan};

	s->ticks++;
	s->live_res_scan = 0;
	for (size_t i = 0; i < s->nr; i++) {
		const struct region *r = &s->r[i];

		x.sim_resident += r->live ? r->resident : 0;
		x.live_out += r->st_.live_out;
		x.sim_out += r->st_.evictions;
		x.live_refaults += r->st_.live_refaults;
		x.sim_refaults += r->st_.swapins + r->st_.prefetch_hits;
	}
	if (PF_GROW(s->series, s->capseries, s->nseries + 1, 256)) {
		snprintf(s->err, s->errlen, "out of memory for the live series");
		return -1;
	}
	s->series[s->nseries++] = x;
	if (!s->cfg->recorded_ticks || s->cfg->min)
		return 0;
	for (size_t i = 0; i < s->nr; i++)
		if (s->r[i].live)
			sim_tick(s, &s->r[i]);
	return sim_objectives_tick(s, s->cfg->scan_ms ? s->cfg->scan_ms : 1000);
}
