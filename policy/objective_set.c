// SPDX-License-Identifier: MIT
/*
 * The objectives of one process (objective.h, pf_objective_set_tick): the
 * step pageflexd (agent/objectives.c) and pageflex-sim both take after a
 * tick of a process's regions, so that both move the same knobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "objective.h"

static bool follows(const struct pf_engine_region *er)
{
	return pf_engine_active(er) && er->b.threshold.mode == PF_THRESH_OBJECTIVE;
}

/* The set's objective for rule (made, or made anew if the rules changed it). */
static struct pf_objective_group *group(struct pf_objective_set *set, const char *rule,
					const struct pf_objective_cfg *cfg)
{
	struct pf_objective_group *g = NULL, *n;

	for (size_t i = 0; i < set->n && !g; i++)
		if (!strcmp(set->g[i].rule, rule))
			g = &set->g[i];
	if (g && !memcmp(&g->cfg, cfg, sizeof(*cfg)))
		return g;
	if (!g) {
		n = realloc(set->g, (set->n + 1) * sizeof(*n));
		if (!n)
			return NULL;
		set->g = n;
		g = &set->g[set->n++];
		memset(g, 0, sizeof(*g));
		snprintf(g->rule, sizeof(g->rule), "%s", rule);
	}
	g->cfg = *cfg;
	pf_objective_init(&g->o, cfg);
	g->psi_seen = false;
	return g;
}

int pf_objective_set_tick(struct pf_objective_set *set, const struct pf_objective_member *m,
			  size_t n, uint64_t now, uint64_t interval_ms, uint64_t stall_total_us)
{
	int rc = 0;
	size_t i, j;

	for (i = 0; i < set->n; i++) {
		struct pf_objective_group *g = &set->g[i];

		g->regions = g->resident = g->pages = g->ws = g->refaults = g->stall_us = 0;
		g->recent = g->victims = 0;
		g->reuse_ok = true;
		memset(g->reuse, 0, sizeof(g->reuse));
		memset(g->idle, 0, sizeof(g->idle));
	}
	for (i = 0; i < n; i++) {
		const struct pf_engine_region *er = m[i].er;
		struct pf_objective_group *g;

		if (!follows(er))
			continue;
		g = group(set, er->b.rule, &er->b.objective);
		if (!g) {
			rc = -1;
			continue;
		}
		g->regions++;
		g->resident += er->last_present;
		g->pages += m[i].pages;
		g->ws += er->last_ws;
		g->refaults += m[i].refaults;
		g->stall_us += m[i].stall_us;
		g->recent += er->recent;
		g->victims += er->tick_victims;
		g->reuse_ok &= er->b.reclaim->idle_ms != NULL;
		for (j = 0; j < PF_REUSE_BUCKETS; j++) {
			uint64_t v = (uint64_t)g->reuse[j] + m[i].er->reuse[j];

			g->reuse[j] = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
			g->idle[j] += er->idle[j];
		}
		memset(m[i].er->reuse, 0, sizeof(m[i].er->reuse));
	}
	for (i = 0; i < set->n; i++) {
		struct pf_objective_group *g = &set->g[i];
		struct pf_objective_input in = {.now_ms = now,
						.refaults = g->refaults,
						.working_set = g->ws,
						.resident = g->resident,
						.pages = g->pages,
						.reuse = g->reuse_ok ? g->reuse : NULL,
						.recent = g->recent,
						.victims = g->victims,
						.idle = g->reuse_ok ? g->idle : NULL};
		enum pf_objective_move mv;
		uint64_t cap;

		if (!g->regions)
			continue;
		if (g->cfg.kind == PF_OBJ_PRESSURE && stall_total_us != UINT64_MAX) {
			if (g->psi_seen && stall_total_us >= g->psi_last)
				in.stall_us = stall_total_us - g->psi_last;
			g->psi_last = stall_total_us;
			g->psi_seen = true;
		}
		if (g->cfg.kind == PF_OBJ_PRESSURE && g->stall_us > in.stall_us)
			in.stall_us = g->stall_us; /* its own refaults stalled it more */
		mv = pf_objective_tick(&g->o, &in);
		/* The next tick of its regions: the age, the move, a share of the cap. */
		cap = pf_objective_victim_cap(&g->cfg, interval_ms);
		for (j = 0; j < n; j++) {
			struct pf_engine_region *er = m[j].er;

			if (!follows(er) || strcmp(er->b.rule, g->rule))
				continue;
			er->obj_age_ms = g->o.age_ms;
			if (mv != PF_OBJ_HOLD)
				er->obj_move = mv;
			er->victim_cap =
				cap == UINT64_MAX ? 0 : (cap / g->regions ? cap / g->regions : 1);
		}
	}
	return rc;
}

void pf_objective_set_free(struct pf_objective_set *set)
{
	free(set->g);
	set->g = NULL;
	set->n = 0;
}
