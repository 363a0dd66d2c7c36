// SPDX-License-Identifier: MIT
/*
 * The simulator's residency model (see sim.h): each region's touched pages
 * (untouched, resident or swapped, prefetched, accessed since the last
 * scan), the policy engine's view of them (policy/engine.h) at scan
 * ticks, and the memory limit that holds a region's budget between ticks.
 */
#include <stdio.h>
#include <stdlib.h>

#include "grow.h"
#include "sim_impl.h"

/* The dense index of page, creating it (untouched) if create; -1 if absent
 * or out of memory (then s->err is set). */
int64_t sim_dense(struct sim *s, struct region *r, uint64_t page, bool create)
{
	uint64_t *v = pagemap_get(&r->idx, page), i;

	if (v)
		return (int64_t)*v;
	if (!create)
		return -1;
	if (r->nd == r->capd) {
		uint64_t cap = r->capd ? r->capd * 2 : 1024;
		void *a = realloc(r->pg, cap * sizeof(*r->pg));

		if (!a)
			goto oom;
		r->pg = a;
		if (!(a = realloc(r->st, cap * sizeof(*r->st))))
			goto oom;
		r->st = a;
		if (!(a = realloc(r->fl, cap * sizeof(*r->fl))))
			goto oom;
		r->fl = a;
		if (!(a = realloc(r->last_ms, cap * sizeof(*r->last_ms))))
			goto oom;
		r->last_ms = a;
		if (s->cfg->min) {
			if (!(a = realloc(r->cur_next, cap * sizeof(*r->cur_next))))
				goto oom;
			r->cur_next = a;
		}
		r->capd = cap;
	}
	i = r->nd;
	if (pagemap_put(&r->idx, page, i))
		goto oom;
	r->nd++;
	r->pg[i] = page;
	r->st[i] = pf_engine_new_state(&r->eng); /* as if untouched since the first tick */
	r->fl[i] = 0;
	r->last_ms[i] = 0;
	if (s->cfg->min)
		r->cur_next[i] = NO_NEXT;
	return (int64_t)i;
oom:
	snprintf(s->err, s->errlen, "out of memory for the pages of region %u", r->id);
	return -1;
}

/* ---- residency ---- */

void sim_drop(struct sim *s, struct region *r, uint64_t p)
{
	(void)s;
	if (r->fl[p] & F_PREFETCHED)
		r->st_.prefetch_wasted++;
	r->fl[p] &= (uint8_t) ~(F_RES | F_PREFETCHED | F_ACC);
	r->resident--;
}

void sim_evict(struct sim *s, struct region *r, uint64_t p)
{
	sim_drop(s, r, p);
	r->st_.evictions++;
}

void sim_make_resident(struct sim *s, struct region *r, uint64_t p, uint8_t extra)
{
	r->fl[p] |= F_EVER | F_RES | extra;
	r->resident++;
	if (s->cfg->min)
		sim_heap_push(r, r->cur_next[p], p);
}

/* ---- the engine's view of a region: one run of its touched pages ---- */

struct sim_io {
	struct sim *s;
	struct region *r;
};

static bool io_run(void *ctx, size_t i, struct pf_page_run *run)
{
	struct sim_io *io = ctx;

	if (i)
		return false;
	*run = (struct pf_page_run){.pages = io->r->pg, .n = io->r->nd, .state = io->r->st};
	return true;
}

static unsigned io_bits(void *ctx, const struct pf_page_run *run, uint64_t k)
{
	struct sim_io *io = ctx;
	uint8_t fl = io->r->fl[k];

	(void)run;
	if (k == io->s->protect)
		return 0;
	return (fl & F_RES ? PF_PAGE_PRESENT : 0) | (fl & F_ACC ? PF_PAGE_ACCESSED : 0) |
	       ((fl & (F_EVER | F_RES)) == F_EVER ? PF_PAGE_SWAPPED : 0);
}

static void io_clear(void *ctx, const struct pf_page_run *run, uint64_t k)
{
	struct sim_io *io = ctx;

	(void)run;
	io->r->fl[k] |= F_CLEAR; /* cleared after the tick: bits stay fixed during it */
}

static void io_victim(void *ctx, const struct pf_page_run *run, uint64_t k)
{
	struct sim_io *io = ctx;

	(void)run;
	sim_evict(io->s, io->r, k);
	if (io->s->cfg->on_evict)
		io->s->cfg->on_evict(io->s->cfg->evict_arg, io->r->id, io->r->pg[k], io->s->now_ms);
}

/*
 * After a tick: the bits the engine cleared (engine.h, clear_every). A
 * region the engine does not act on (the kernel's) has every bit cleared,
 * as the kernel's own reclaim would (the memory-limit model reads them).
 */
static void clear_accessed(struct region *r)
{
	uint8_t m = pf_engine_active(&r->eng) ? F_CLEAR : 0xff;

	for (uint64_t p = 0; p < r->nd; p++)
		if (r->fl[p] & m)
			r->fl[p] &= (uint8_t) ~(F_ACC | F_CLEAR);
}

static struct pf_engine_io engine_io(struct sim_io *ctx)
{
	return (struct pf_engine_io){
		.ctx = ctx, .run = io_run, .bits = io_bits, .clear = io_clear, .victim = io_victim};
}

/* A scan tick: the engine's decisions, exactly as pageflexd makes them. */
void sim_tick(struct sim *s, struct region *r)
{
	struct sim_io ctx = {s, r};
	struct pf_engine_io io = engine_io(&ctx);
	uint64_t refaults = r->st_.swapins - r->swapins_fed;

	r->swapins_fed = r->st_.swapins;
	r->tick_refaults = refaults;
	s->protect = NO_NEXT;
	pf_engine_tick(&r->eng, &io, &s->sc, refaults, sim_engine_now(s));
	clear_accessed(r);
}

/*
 * After a tick of every live region: the objectives of the trace's process
 * move, as pageflexd's do after a reclaim tick (pf_objective_set_tick; no
 * memory stall is recorded, so a pressure objective sees none).
 */
int sim_objectives_tick(struct sim *s, uint64_t interval_ms)
{
	size_t n = 0;

	if (PF_GROW(s->members, s->capmembers, s->nr ? s->nr : 1, 16)) {
		snprintf(s->err, s->errlen, "out of memory for the objectives");
		return -1;
	}
	for (size_t i = 0; i < s->nr; i++)
		if (s->r[i].live)
			s->members[n++] =
				(struct pf_objective_member){.er = &s->r[i].eng,
							     .pages = s->r[i].npages,
							     .refaults = s->r[i].tick_refaults};
	if (pf_objective_set_tick(&s->objs, s->members, n, sim_engine_now(s), interval_ms,
				  UINT64_MAX)) {
		snprintf(s->err, s->errlen, "out of memory for the objectives");
		return -1;
	}
	return 0;
}

/*
 * The memory limit between ticks: pages out the n coldest resident pages by
 * the policy's weights (the kernel policy's too: it models the kernel's own
 * reclaim), never `protect`.
 */
static int reclaim_n(struct sim *s, struct region *r, uint64_t n, uint64_t protect)
{
	if (s->cfg->min) {
		while (n && r->nheap) {
			struct heap_ent e = sim_heap_pop(r);

			if (!(r->fl[e.page] & F_RES) || r->cur_next[e.page] != e.next ||
			    e.page == protect)
				continue;
			sim_evict(s, r, e.page);
			n--;
		}
		if (protect != NO_NEXT && (r->fl[protect] & F_RES))
			sim_heap_push(r, r->cur_next[protect], protect);
		return 0;
	}
	struct sim_io ctx = {s, r};
	struct pf_engine_io io = engine_io(&ctx);

	s->protect = NO_NEXT;
	pf_engine_scan(&r->eng, &io, sim_engine_now(s));
	clear_accessed(r);
	s->protect = protect;
	pf_engine_cut_n(&r->eng, &io, &s->sc, n, sim_engine_now(s));
	s->protect = NO_NEXT;
	return 0;
}

int sim_enforce_budget(struct sim *s, struct region *r, uint64_t protect)
{
	uint64_t batch;

	if (s->cfg->ticks_only || !r->budget || r->resident <= r->budget)
		return 0;
	batch = s->cfg->batch ? s->cfg->batch : r->budget / 64;
	if (batch < 1)
		batch = 1;
	if (batch > r->budget)
		batch = r->budget;
	return reclaim_n(s, r, r->resident - r->budget + batch - 1, protect);
}

/* ---- prefetch: pages brought back ---- */

int sim_prefetch_page(struct sim *s, struct region *r, uint64_t page)
{
	int64_t i = page < r->npages ? sim_dense(s, r, page, false) : -1;
	uint64_t q = (uint64_t)i;

	if (i < 0 || !(r->fl[q] & F_EVER) || (r->fl[q] & F_RES))
		return 0;
	sim_make_resident(s, r, q, F_PREFETCHED | F_ACC);
	r->st_.prefetch_issued++;
	return 1;
}
