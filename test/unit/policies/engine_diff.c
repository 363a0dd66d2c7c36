// SPDX-License-Identifier: MIT
/*
 * The differential check (engine_diff.h): pageflexd's engine path and
 * pageflex-sim on one event stream.
 */
#include "engine_diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "grow.h"
#include "pageflex_agent.h"
#include "reclaim_feed.h"

enum { M_EVER = 1, M_RES = 2, M_PF = 4, M_ACC = 8 };

#define PREFETCH_OUT_MAX 512

struct decision {
	uint64_t now_ms;
	uint32_t region;
	uint64_t page;
};

struct decisions {
	struct decision *d;
	size_t n, cap;
	int oom;
};

static void note(struct decisions *l, uint64_t now, uint32_t region, uint64_t page)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 1024;
		struct decision *d = realloc(l->d, cap * sizeof(*d));

		if (!d) {
			l->oom = 1;
			return;
		}
		l->d = d;
		l->cap = cap;
	}
	l->d[l->n++] = (struct decision){now, region, page};
}

static int cmp_decision(const void *a, const void *b)
{
	const struct decision *x = a, *y = b;

	if (x->now_ms != y->now_ms)
		return x->now_ms < y->now_ms ? -1 : 1;
	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

/* ---- the agent's side: a modelled machine under reclaim_feed.c ---- */

struct mregion {
	struct pf_rinfo ri;
	struct pf_piece piece;
	bool live;
	char tag[PF_TRACE_TAG_MAX], symbol[PF_TRACE_SYMBOL_MAX];
	uint8_t kind;
	uint64_t npages, base_page;
	uint8_t *fl;
	pf_page_state *states;
	uint64_t *words;
	uint64_t refaults, refaults_fed, tick_refaults;
};

struct machine {
	const struct pf_rules *rules;
	struct mregion *r;
	size_t nr;
	char phase[PF_TRACE_TAG_MAX];
	uint64_t now_ms, next_tick_ms, scan_ms;
	struct pf_engine_scratch sc;
	struct pf_objective_set objs; /* as agent/objectives.c runs them */
	struct pf_objective_member *mem;
	size_t capmem;
	struct pf_batch out, cold;
	struct decisions victims;
	uint64_t ticks, refaults, prefetched;
	char *err;
	size_t errlen;
};

static struct mregion *find(struct machine *m, uint32_t id)
{
	for (size_t i = 0; i < m->nr; i++)
		if (m->r[i].live && m->r[i].ri.id == id)
			return &m->r[i];
	return NULL;
}

static int bind(struct machine *m, struct mregion *r)
{
	struct pf_region_attrs a = {.tag = r->tag,
				    .symbol = r->symbol,
				    .kind = (enum pfw_kind)r->kind,
				    .size = r->npages * 4096};
	struct pf_binding b;

	pf_rules_match(m->rules, &a, m->phase, &b);
	if (!b.reclaim)
		b.reclaim = pf_reclaim_find("kernel");
	pf_binding_fit_objective(&b);
	if (pf_engine_bind(&r->ri.eng, &b, r->npages) < 0)
		return -1;
	r->ri.eng.clear_per_s = PF_CLEAR_PER_S; /* as pageflexd (binding.c) */
	return 0;
}

static int add_region(struct machine *m, const struct pf_trace_event *ev)
{
	struct mregion *n = realloc(m->r, (m->nr + 1) * sizeof(*n)), *r;

	if (!n)
		return -1;
	m->r = n;
	r = &m->r[m->nr];
	memset(r, 0, sizeof(*r));
	r->live = true;
	r->kind = ev->kind;
	r->npages = ev->npages;
	/* Regions 1 TiB apart, aligned: page numbers keep every alignment. */
	r->base_page = (uint64_t)(m->nr + 1) << 28;
	snprintf(r->tag, sizeof(r->tag), "%s", ev->tag ? ev->tag : "");
	snprintf(r->symbol, sizeof(r->symbol), "%s", ev->symbol ? ev->symbol : "");
	r->ri.id = ev->region;
	r->ri.hull = r->base_page << 12;
	r->ri.start0 = r->ri.hull;
	r->ri.hull_len = r->npages << 12;
	r->ri.slot_base = 0;
	r->piece = (struct pf_piece){r->ri.hull, r->ri.hull + (r->npages << 12), &r->ri};
	r->fl = calloc(r->npages, 1);
	r->states = calloc(r->npages, sizeof(*r->states));
	r->words = calloc((r->npages + 15) / 16, sizeof(*r->words));
	m->nr++;
	if (!r->fl || !r->states || !r->words)
		return -1;
	return bind(m, r);
}

/* WILLNEED of one page: back from swap, marked as a prefetch. */
static void prefetch_page(struct machine *m, struct mregion *r, uint64_t page)
{
	uint64_t p;

	if (page >= r->npages)
		return; /* clipped to the region, as prefetch.c does */
	p = page;
	if ((r->fl[p] & (M_EVER | M_RES)) != M_EVER)
		return;
	r->fl[p] |= M_RES | M_PF | M_ACC;
	m->prefetched++;
}

static void prefetch(struct machine *m, struct mregion *r, uint64_t p, bool hit)
{
	uint64_t out[PREFETCH_OUT_MAX];
	size_t n = pf_engine_prefetch(&r->ri.eng, p, hit, out, PREFETCH_OUT_MAX);

	for (size_t i = 0; i < n; i++)
		prefetch_page(m, r, out[i]);
}

static void access_page(struct machine *m, struct mregion *r, uint64_t p)
{
	uint8_t fl = r->fl[p];

	if (!(fl & M_EVER)) {
		r->fl[p] |= M_EVER | M_RES;
	} else if (fl & M_RES) {
		if (fl & M_PF) {
			r->fl[p] &= (uint8_t)~M_PF;
			prefetch(m, r, p, true);
		}
	} else {
		r->refaults++;
		m->refaults++;
		r->fl[p] |= M_RES;
		prefetch(m, r, p, false);
	}
	r->fl[p] |= M_ACC;
}

/* What the scanner would write: 4 bits a page. */
static void scan_words(struct mregion *r)
{
	memset(r->words, 0, (r->npages + 15) / 16 * sizeof(*r->words));
	for (uint64_t p = 0; p < r->npages; p++) {
		uint8_t fl = r->fl[p];
		uint64_t nib = (fl & M_ACC ? PFA_PG_ACCESSED : 0) |
			       (fl & M_RES ? PFA_PG_PRESENT : 0) |
			       ((fl & (M_EVER | M_RES)) == M_EVER ? PFA_PG_SWAPPED : 0);

		r->words[p / 16] |= nib << ((p % 16) * 4);
	}
}

static void tick(struct machine *m)
{
	bool any = false;

	for (size_t i = 0; i < m->nr; i++) {
		struct mregion *r = &m->r[i];
		struct pf_piece *pc = &r->piece;

		if (!r->live)
			continue;
		any = true;
		if (!pf_engine_active(&r->ri.eng))
			continue; /* the agent leaves it to the kernel */
		scan_words(r);
		pf_batch_reset(&m->out);
		pf_batch_reset(&m->cold);
		r->tick_refaults = r->refaults - r->refaults_fed;
		pf_agent_reclaim_feed(&r->ri, &pc, 1, r->states, r->words, r->tick_refaults,
				      m->now_ms, &m->sc, &m->out, &m->cold);
		r->refaults_fed = r->refaults;
		/* MADV_COLD clears the accessed bits; MADV_PAGEOUT swaps. */
		for (size_t k = 0; k < m->cold.n; k++)
			for (uint64_t a = m->cold.r[k].start;
			     a < m->cold.r[k].start + m->cold.r[k].len; a += 4096)
				r->fl[(a >> 12) - r->base_page] &= (uint8_t)~M_ACC;
		for (size_t k = 0; k < m->out.n; k++)
			for (uint64_t a = m->out.r[k].start;
			     a < m->out.r[k].start + m->out.r[k].len; a += 4096) {
				uint64_t p = (a >> 12) - r->base_page;

				r->fl[p] &= (uint8_t) ~(M_RES | M_PF | M_ACC);
				note(&m->victims, m->now_ms, r->ri.id, p);
			}
	}
	m->ticks += any;
	/* The objectives after the tick, fed as pageflexd feeds them. */
	if (PF_GROW(m->mem, m->capmem, m->nr ? m->nr : 1, 16))
		return;
	{
		size_t n = 0;

		for (size_t i = 0; i < m->nr; i++)
			if (m->r[i].live && pf_engine_active(&m->r[i].ri.eng))
				m->mem[n++] = (struct pf_objective_member){
					.er = &m->r[i].ri.eng,
					.pages = m->r[i].ri.hull_len / 4096,
					.refaults = m->r[i].tick_refaults};
		pf_objective_set_tick(&m->objs, m->mem, n, m->now_ms, m->scan_ms, UINT64_MAX);
	}
}

static int handle(struct machine *m, const struct pf_trace_event *ev)
{
	uint64_t t = ev->time_ns / 1000000;
	struct mregion *r;

	if (t < m->now_ms)
		t = m->now_ms;
	while (m->next_tick_ms <= t) {
		m->now_ms = m->next_tick_ms;
		tick(m);
		m->next_tick_ms += m->scan_ms;
	}
	m->now_ms = t;
	switch (ev->type) {
	case PF_TR_REGION:
		return add_region(m, ev);
	case PF_TR_REGION_END:
		if ((r = find(m, ev->region)))
			r->live = false;
		return 0;
	case PF_TR_PHASE:
		snprintf(m->phase, sizeof(m->phase), "%s", ev->name);
		for (size_t i = 0; i < m->nr; i++)
			if (m->r[i].live && bind(m, &m->r[i]))
				return -1;
		return 0;
	case PF_TR_ACCESS:
	case PF_TR_FAULT:
		if ((r = find(m, ev->region)) && ev->page < r->npages)
			access_page(m, r, ev->page);
		return 0;
	case PF_TR_SCAN:
		r = find(m, ev->region);
		for (uint64_t i = 0; r && i < ev->npages; i++)
			if ((ev->bitmap[i / 64] >> (i % 64) & 1) && ev->first_page + i < r->npages)
				access_page(m, r, ev->first_page + i);
		return 0;
	case PF_TR_PAGES:
		/* A live scan's page states: an accessed page is an access; an
		 * idle one had its bit clear in the recorded run, whichever bits
		 * this replay's engine cleared (as sim_live.c follows them). */
		r = find(m, ev->region);
		for (uint64_t i = 0; r && i < ev->npages; i++) {
			unsigned st = pf_trace_page_state(ev->states, i);
			uint64_t p = ev->first_page + i;

			if (p >= r->npages)
				continue;
			if (st == PF_PG_ACCESSED)
				access_page(m, r, p);
			else if (st == PF_PG_IDLE && (r->fl[p] & M_EVER))
				r->fl[p] &= (uint8_t)~M_ACC;
		}
		return 0;
	case PF_TR_TICK: /* generated traces only: ticks are the machine's clock */
	case PF_TR_ACTION:
	case PF_TR_STATE:
		return 0;
	}
	return 0;
}

static void machine_free(struct machine *m)
{
	for (size_t i = 0; i < m->nr; i++) {
		pf_engine_free(&m->r[i].ri.eng);
		free(m->r[i].fl);
		free(m->r[i].states);
		free(m->r[i].words);
	}
	free(m->r);
	pf_engine_scratch_free(&m->sc);
	pf_objective_set_free(&m->objs);
	free(m->mem);
	pf_batch_free(&m->out);
	pf_batch_free(&m->cold);
	free(m->victims.d);
}

/* ---- the simulator's side ---- */

static void on_evict(void *arg, uint32_t region, uint64_t page, uint64_t now_ms)
{
	note(arg, now_ms, region, page);
}

int engine_diff(const struct sim_source *src, const struct pf_rules *rules, uint64_t scan_ms,
		struct engine_diff_result *res, char *err, size_t errlen)
{
	struct machine m = {.rules = rules, .scan_ms = scan_ms, .err = err, .errlen = errlen};
	struct decisions sv = {0};
	struct sim_cfg cfg = {.rules = rules,
			      .scan_ms = scan_ms,
			      .ticks_only = true,
			      .no_fold = true,
			      .clear_per_s = PF_CLEAR_PER_S};
	struct sim_result sr;
	struct pf_trace_event ev;
	int rc, ret = -1;

	memset(res, 0, sizeof(*res));
	while ((rc = src->next(src->ctx, &ev, err, errlen)) == 1)
		if (handle(&m, &ev)) {
			snprintf(err, errlen, "agent side: out of memory");
			goto out;
		}
	if (rc < 0 || src->rewind(src->ctx, err, errlen))
		goto out;
	pf_policy_params_default(&cfg.def.params);
	pf_threshold_cfg_default(&cfg.def.threshold);
	cfg.def.reclaim = pf_reclaim_find("kernel");
	cfg.on_evict = on_evict;
	cfg.evict_arg = &sv;
	if (sim_run(&cfg, src, &sr, err, errlen))
		goto out;
	res->sim_refaults = sr.total.swapins;
	res->sim_prefetched = sr.total.prefetch_issued;
	sim_result_free(&sr);
	if (m.victims.oom || sv.oom) {
		snprintf(err, errlen, "out of memory for the decisions");
		goto out;
	}
	res->ticks = m.ticks;
	res->agent_victims = m.victims.n;
	res->sim_victims = sv.n;
	res->agent_refaults = m.refaults;
	res->agent_prefetched = m.prefetched;
	qsort(m.victims.d, m.victims.n, sizeof(*m.victims.d), cmp_decision);
	qsort(sv.d, sv.n, sizeof(*sv.d), cmp_decision);
	for (size_t i = 0; i < m.victims.n || i < sv.n; i++) {
		const struct decision *a = i < m.victims.n ? &m.victims.d[i] : NULL;
		const struct decision *b = i < sv.n ? &sv.d[i] : NULL;

		if (a && b && !cmp_decision(a, b))
			continue;
		snprintf(
			res->first_diff, sizeof(res->first_diff),
			"victim %zu: agent %s t=%llu ms region %u page %llu, simulator %s t=%llu ms "
			"region %u page %llu",
			i, a ? "" : "none", a ? (unsigned long long)a->now_ms : 0ULL,
			a ? a->region : 0, a ? (unsigned long long)a->page : 0ULL, b ? "" : "none",
			b ? (unsigned long long)b->now_ms : 0ULL, b ? b->region : 0,
			b ? (unsigned long long)b->page : 0ULL);
		break;
	}
	ret = 0;
out:
	machine_free(&m);
	free(sv.d);
	return ret;
}
