// SPDX-License-Identifier: MIT
/*
 * The simulator's replay loop (see sim.h): events in time order, scan
 * ticks as trace time passes, each access classified (first touch,
 * swap-in, prefetch hit) and handed to the region's prefetch policy, and
 * the samples the averages come from. Regions and phases: sim_bind.c;
 * residency, ticks and the memory limit: sim_memory.c; Belady MIN:
 * sim_min.c; results: sim_result.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "sim_impl.h"

/* Runs the region's prefetch policy on an access to page (hit: a prefetched page). */
static void prefetch(struct sim *s, struct region *r, uint64_t page, bool hit)
{
	size_t n = pf_engine_prefetch(&r->eng, r->pg[page], hit, s->out, PREFETCH_OUT_MAX);

	for (size_t i = 0; i < n; i++)
		sim_prefetch_page(s, r, s->out[i]);
}

/* ---- events ---- */

int sim_access(struct sim *s, struct region *r, uint64_t p)
{
	uint8_t fl = r->fl[p];

	r->st_.accesses++;
	if (s->cfg->min) {
		r->cur_next[p] = s->next[s->idx];
	}
	if (!(fl & F_EVER)) {
		r->st_.first_touch++;
		sim_make_resident(s, r, p, 0);
	} else if (fl & F_RES) {
		if (fl & F_PREFETCHED) {
			r->st_.prefetch_hits++;
			r->fl[p] &= (uint8_t)~F_PREFETCHED;
			prefetch(s, r, p, true);
		}
		if (s->cfg->min)
			sim_heap_push(r, r->cur_next[p], p);
	} else {
		r->st_.swapins++;
		sim_make_resident(s, r, p, 0);
		prefetch(s, r, p, false);
	}
	r->fl[p] |= F_ACC;
	r->last_ms[p] = s->now_ms;
	s->idx++;
	return sim_enforce_budget(s, r, p);
}

void sim_sample(struct sim *s)
{
	uint64_t res = 0, foot = 0;

	for (size_t i = 0; i < s->nr; i++) {
		if (!s->r[i].live)
			continue;
		res += s->r[i].resident;
		foot += s->r[i].nd;
		s->r[i].st_.avg_resident += (double)s->r[i].resident;
		s->r[i].st_.avg_footprint += (double)s->r[i].nd;
	}
	s->nsamples++;
	s->res_sum += (double)res;
	s->foot_sum += (double)foot;
}

static int advance(struct sim *s, uint64_t time_ns)
{
	uint64_t t = time_ns / 1000000;
	uint64_t scan = s->cfg->scan_ms ? s->cfg->scan_ms : 10;

	if (t < s->now_ms)
		t = s->now_ms; /* tolerate records slightly out of order */
	while (!s->cfg->recorded_ticks && s->next_scan_ms <= t) {
		s->now_ms = s->next_scan_ms;
		for (size_t i = 0; i < s->nr; i++) {
			if (!s->r[i].live)
				continue;
			if (!s->cfg->min)
				sim_tick(s, &s->r[i]);
		}
		if (!s->cfg->min && sim_objectives_tick(s, scan))
			return -1;
		s->next_scan_ms += scan;
	}
	s->now_ms = t;
	return 0;
}

static int handle(struct sim *s, const struct pf_trace_event *ev)
{
	struct region *r;
	int64_t d;

	if (advance(s, ev->time_ns))
		return -1;
	switch (ev->type) {
	case PF_TR_REGION:
		return sim_add_region(s, ev);
	case PF_TR_REGION_END:
		r = sim_find_region(s, ev->region);
		if (r)
			r->live = false;
		return 0;
	case PF_TR_PHASE:
		return sim_enter_phase(s, ev->name);
	case PF_TR_ACCESS:
	case PF_TR_FAULT:
		r = sim_find_region(s, ev->region);
		if (r && ev->type == PF_TR_FAULT && ev->kind != PF_FAULT_FIRST_TOUCH)
			r->st_.live_refaults++;
		if (!r || ev->page >= r->npages) {
			if (r)
				r->st_.bad_events++;
			s->idx++;
			return 0;
		}
		if ((d = sim_dense(s, r, ev->page, true)) < 0 || sim_access(s, r, (uint64_t)d))
			return -1;
		sim_sample(s);
		return 0;
	case PF_TR_TICK:
		return sim_live_tick(s);
	case PF_TR_ACTION:
		sim_action(s, ev);
		return 0;
	case PF_TR_STATE:
		sim_state(s, ev);
		return 0;
	case PF_TR_PAGES:
		return sim_pages(s, ev);
	case PF_TR_SCAN:
		r = sim_find_region(s, ev->region);
		for (uint64_t i = 0; i < ev->npages; i++) {
			uint64_t p = ev->first_page + i;

			if (!(ev->bitmap[i / 64] >> (i % 64) & 1))
				continue;
			if (!r || p >= r->npages) {
				s->idx++;
				continue;
			}
			if ((d = sim_dense(s, r, p, true)) < 0 || sim_access(s, r, (uint64_t)d))
				return -1;
			sim_sample(s);
		}
		return 0;
	}
	return 0;
}

int sim_run(const struct sim_cfg *cfg, const struct sim_source *src, struct sim_result *res,
	    char *err, size_t errlen)
{
	struct sim s = {.cfg = cfg, .err = err, .errlen = errlen, .protect = NO_NEXT};
	struct sim_fold *fold = NULL;
	struct sim_source folded;
	struct pf_trace_event ev;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (!cfg->no_fold) {
		fold = sim_fold_new(src);
		if (!fold) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		folded = sim_fold_source(fold);
		src = &folded;
	}
	if (cfg->min && sim_min_pass(&s, src))
		goto out;
	if (cfg->phase_hot) {
		s.memo_pages = cfg->memo_pages ? cfg->memo_pages : 8192;
		s.memo =
			pf_phase_memo_new(cfg->memo_entries ? cfg->memo_entries : 32, s.memo_pages);
		if (!s.memo) {
			snprintf(err, errlen, "out of memory for the phase memory");
			goto out;
		}
	}
	while ((rc = src->next(src->ctx, &ev, err, errlen)) == 1)
		if (handle(&s, &ev)) {
			rc = -1;
			break;
		}
	if (rc < 0)
		goto out;
	if (sim_collect(&s, res)) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
		goto out;
	}
	res->folded = fold ? sim_fold_cleared(fold) : 0;
	rc = 0;
out:
	sim_fold_free(fold);
	for (size_t i = 0; i < s.nr; i++) {
		free(s.r[i].pg);
		pagemap_free(&s.r[i].idx);
		free(s.r[i].st);
		free(s.r[i].fl);
		free(s.r[i].last_ms);
		free(s.r[i].cur_next);
		free(s.r[i].heap);
		pf_engine_free(&s.r[i].eng);
	}
	free(s.r);
	free(s.series);
	free(s.next);
	pf_engine_scratch_free(&s.sc);
	pf_objective_set_free(&s.objs);
	free(s.members);
	pf_phase_memo_free(s.memo);
	return rc;
}
