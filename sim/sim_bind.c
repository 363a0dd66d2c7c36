// SPDX-License-Identifier: MIT
/*
 * The simulator's regions and phases (see sim.h): REGION records become
 * regions bound to a policy by the rules (or the command line's default),
 * PHASE records rebind them, run the rules' on-entry actions (demote,
 * prefetch) and, with phase_hot, record and replay each phase's hot set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "params.h"
#include "sim_impl.h"

struct region *sim_find_region(struct sim *s, uint32_t id)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->r[i].id == id && s->r[i].live)
			return &s->r[i];
	return NULL;
}

/* ---- binding ---- */

static int bind(struct sim *s, struct region *r)
{
	struct pf_binding b = s->cfg->def;

	if (s->cfg->rules) {
		struct pf_region_attrs a = {.tag = r->tag,
					    .symbol = r->symbol,
					    .kind = (enum pfw_kind)r->kind,
					    .size = r->npages * 4096};

		pf_rules_match(s->cfg->rules, &a, s->phase, &b);
		/* Per-page times in the simulator's time scale, as for the
		 * command line's policy, unless the rule chose a tick. */
		if (b.params.tick_ms == 1000)
			b.params.tick_ms = s->cfg->def.params.tick_ms;
		/* The command line's budget applies where a rule sets none. */
		if (!b.threshold.budget_pages && !b.threshold.budget_pct &&
		    b.threshold.mode == PF_THRESH_BUDGET)
			b.threshold.budget_pct = s->cfg->def.threshold.budget_pct;
	}
	if (!b.reclaim)
		b.reclaim = pf_reclaim_find("kernel");
	pf_binding_fit_objective(&b);
	if (s->cfg->recorded_ticks) /* a live recording: the agent's time quantum */
		pf_params_fit_tick(&b.params);
	if (s->cfg->min)
		b.threshold.mode = PF_THRESH_BUDGET;
	if (pf_engine_bind(&r->eng, &b, r->npages) < 0)
		return -1;
	r->eng.clear_per_s = s->cfg->clear_per_s;
	r->budget = r->eng.thr.cfg.budget_pages;
	return 0;
}

int sim_add_region(struct sim *s, const struct pf_trace_event *ev)
{
	struct region *r;

	if (sim_find_region(s, ev->region)) {
		snprintf(s->err, s->errlen, "region %u appears twice", ev->region);
		return -1;
	}
	if (ev->npages == 0 || ev->npages > PF_SIM_MAX_REGION_PAGES) {
		snprintf(s->err, s->errlen, "region %u: %llu pages is not supported (max 2^40)",
			 ev->region, (unsigned long long)ev->npages);
		return -1;
	}
	if (PF_GROW(s->r, s->capr, s->nr + 1, 8))
		goto oom;
	r = &s->r[s->nr];
	memset(r, 0, sizeof(*r));
	r->id = ev->region;
	r->live = true;
	r->kind = ev->kind;
	r->npages = ev->npages;
	snprintf(r->tag, sizeof(r->tag), "%s", ev->tag ? ev->tag : "");
	snprintf(r->symbol, sizeof(r->symbol), "%s", ev->symbol ? ev->symbol : "");
	s->nr++;
	if (bind(s, r))
		goto oom;
	return 0;
oom:
	snprintf(s->err, s->errlen, "out of memory for region %u", ev->region);
	return -1;
}

/* ---- phases ---- */

static int cmp_recent(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b; /* pairs (last_ms, page) */

	if (x[0] != y[0])
		return x[0] > y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Records each region's hot pages at the end of the current phase. */
static int memo_record(struct sim *s)
{
	uint64_t since = s->now_ms > s->cfg->hot_window_ms ? s->now_ms - s->cfg->hot_window_ms : 0;

	for (size_t i = 0; i < s->nr; i++) {
		struct region *r = &s->r[i];
		uint64_t *pairs, *pages, n = 0;

		if (!r->live)
			continue;
		pairs = malloc((r->nd ? r->nd : 1) * 2 * sizeof(uint64_t));
		if (!pairs)
			return -1;
		for (uint64_t p = 0; p < r->nd; p++)
			if ((r->fl[p] & F_EVER) && r->last_ms[p] >= since && r->last_ms[p]) {
				pairs[2 * n] = r->last_ms[p];
				pairs[2 * n + 1] = r->pg[p];
				n++;
			}
		qsort(pairs, n, 2 * sizeof(uint64_t), cmp_recent);
		if (n > s->memo_pages)
			n = s->memo_pages;
		pages = pairs; /* compact in place: page i of the sorted pairs */
		for (uint64_t k = 0; k < n; k++)
			pages[k] = pairs[2 * k + 1];
		pf_phase_memo_record(s->memo, r->tag, s->phase, pages, n, s->now_ms);
		free(pairs);
	}
	return 0;
}

int sim_enter_phase(struct sim *s, const char *name)
{
	const struct pf_phase_actions *act = NULL;

	if (s->memo && s->phase[0] && memo_record(s)) {
		snprintf(s->err, s->errlen, "out of memory recording the hot set");
		return -1;
	}
	snprintf(s->phase, sizeof(s->phase), "%s", name);
	if (s->cfg->rules)
		act = pf_rules_phase_actions(s->cfg->rules, s->phase);
	for (size_t i = 0; i < s->nr; i++) {
		struct region *r = &s->r[i];

		if (!r->live)
			continue;
		if (s->cfg->rules && bind(s, r)) {
			snprintf(s->err, s->errlen, "out of memory rebinding region %u", r->id);
			return -1;
		}
		if (act && pf_rules_glob_any(act->demote, act->ndemote, r->tag)) {
			for (uint64_t p = 0; p < r->nd; p++)
				if (r->fl[p] & F_RES) {
					sim_evict(s, r, p);
					r->st_.demoted++;
				}
		}
		if (act && pf_rules_glob_any(act->prefetch, act->nprefetch, r->tag)) {
			for (uint64_t p = 0; p < r->nd; p++)
				r->st_.phase_prefetched +=
					(uint64_t)sim_prefetch_page(s, r, r->pg[p]);
		}
		if (s->memo && (!s->cfg->rules || (act && act->prefetch_hot))) {
			const uint64_t *pages;
			size_t n = pf_phase_memo_lookup(s->memo, r->tag, s->phase, &pages);

			for (size_t k = 0; k < n; k++)
				r->st_.phase_prefetched +=
					(uint64_t)sim_prefetch_page(s, r, pages[k]);
		}
		if (sim_enforce_budget(s, r, NO_NEXT))
			return -1;
	}
	return 0;
}
