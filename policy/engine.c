// SPDX-License-Identifier: MIT
/*
 * The policy engine (engine.h): per region, scan bits -> per-page states ->
 * threshold -> victims, and refaults -> prefetch decisions. pageflexd and
 * pageflex-sim both run exactly this.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* Cuts the region into n segments for its clears (engine.h, clear_every). */
static void set_clear_n(struct pf_engine_region *er, unsigned n)
{
	uint64_t seg = (er->region_pages + n - 1) / n;

	er->clear_n = n;
	er->clear_seg = seg < 512 ? 512 : (seg + 511) & ~511ull;
	er->seg_known = 0;
	er->fresh_ok = false;
}

int pf_engine_bind(struct pf_engine_region *er, const struct pf_binding *bind,
		   uint64_t region_pages)
{
	const struct pf_prefetch_ops *oldp = er->bound ? er->b.prefetch : NULL;
	const struct pf_reclaim_ops *old = er->bound ? er->b.reclaim : NULL;
	struct pf_binding nb, *b = &nb;

	if (bind) {
		nb = *bind;
		/* "none" never asks for a page: no state, no wakeups on refaults. */
		if (nb.prefetch == pf_prefetch_find("none"))
			nb.prefetch = NULL;
	} else {
		b = NULL;
	}
	if (!b) {
		if (!er->bound)
			return 0;
		pf_engine_free(er);
		er->bound = false;
		er->ready = false;
		return 1;
	}
	if (er->bound && b->reclaim == er->b.reclaim && b->prefetch == er->b.prefetch &&
	    !memcmp(&b->params, &er->b.params, sizeof(b->params)) &&
	    !memcmp(&b->threshold, &er->b.threshold, sizeof(b->threshold)) &&
	    !memcmp(&b->objective, &er->b.objective, sizeof(b->objective)))
		return 0;
	/* A different policy starts from fresh states; new parameters keep them. */
	if (b->reclaim != old)
		er->ready = false;
	er->bound = true;
	er->b = *b;
	pf_threshold_init(&er->thr, &b->threshold);
	/* The controller wants the budget in pages of this region. */
	er->thr.cfg.budget_pages = pf_threshold_budget(&b->threshold, region_pages);
	er->cut_bucket = 0;
	er->cut_pages = 0;
	er->ticks = 0;
	er->region_pages = region_pages;
	er->all_fresh = false;
	er->clear_all = false;
	set_clear_n(er, b->params.clear_every ? b->params.clear_every : 1);
	if (b->prefetch != oldp || !er->pstate) {
		free(er->pstate);
		er->pstate = NULL;
		if (b->prefetch) {
			er->pstate =
				calloc(1, b->prefetch->state_size ? b->prefetch->state_size : 8);
			if (!er->pstate)
				return -1;
			b->prefetch->init(er->pstate, &er->b.params);
		}
	}
	return 1;
}

void pf_engine_free(struct pf_engine_region *er)
{
	free(er->pstate);
	er->pstate = NULL;
}

void pf_binding_fit_objective(struct pf_binding *b)
{
	if (b->threshold.mode != PF_THRESH_OBJECTIVE)
		return;
	b->params.cold_age_ms = b->objective.min_age_ms ? b->objective.min_age_ms : 1000;
}

bool pf_engine_active(const struct pf_engine_region *er)
{
	return er->bound && er->b.reclaim && !(er->b.reclaim->flags & PF_RECLAIM_PASSIVE);
}

static void init_states(struct pf_engine_region *er, const struct pf_engine_io *io, uint64_t now)
{
	struct pf_page_run r;
	uint64_t k;
	size_t i;

	er->blank = er->b.reclaim->init(&er->b.params, now);
	for (i = 0; io->run(io->ctx, i, &r); i++)
		for (k = 0; k < r.n; k++)
			r.state[k] = er->blank;
	er->ready = true;
}

static uint64_t page_of(const struct pf_page_run *r, uint64_t k)
{
	return r->pages ? r->pages[k] : r->first + k;
}

unsigned pf_engine_clear_every(const struct pf_engine_region *er)
{
	return er->clear_n ? er->clear_n : 1;
}

void pf_engine_clears_get(const struct pf_engine_region *er, struct pf_engine_clears *c)
{
	memset(c, 0, sizeof(*c));
	c->ticks = er->ticks;
	c->last_tick_ms = er->last_tick_ms;
	c->clear_n = er->clear_n;
	c->seg_known = er->seg_known;
	c->fresh_ok = er->fresh_ok;
	c->all_fresh = er->all_fresh;
	memcpy(c->seg_ws, er->seg_ws, sizeof(c->seg_ws));
}

bool pf_engine_clears_set(struct pf_engine_region *er, const struct pf_engine_clears *c)
{
	unsigned every = er->b.params.clear_every;

	if (c->clear_n < 1 || c->clear_n > PF_CLEAR_MAX || (every && every != c->clear_n) ||
	    c->seg_known >> c->clear_n)
		return false;
	set_clear_n(er, c->clear_n);
	er->ticks = c->ticks;
	er->last_tick_ms = c->last_tick_ms;
	er->seg_known = c->seg_known;
	er->fresh_ok = c->fresh_ok;
	er->all_fresh = c->all_fresh;
	memcpy(er->seg_ws, c->seg_ws, sizeof(er->seg_ws));
	return true;
}

/* The segment of a page, for its clears. */
static unsigned seg_of(const struct pf_engine_region *er, uint64_t page)
{
	return (unsigned)(page / er->clear_seg % er->clear_n);
}

/* Whether an accessed page of segment s has its bit cleared at this tick. */
static bool clear_due(const struct pf_engine_region *er, bool all, unsigned s)
{
	return all || er->clear_n <= 1 || (s + er->ticks) % er->clear_n == 0;
}

/* Whether segment s's bits cover exactly the last interval (cleared at the
 * last tick). */
static bool fresh(const struct pf_engine_region *er, unsigned s)
{
	return er->all_fresh || er->clear_n <= 1 ||
	       (er->fresh_ok && (s + er->ticks) % er->clear_n == 1);
}

/*
 * After a tick's scan: the working set of one interval, from each
 * segment's count in the interval after its last clear (so never older
 * than clear_n ticks), or, until every segment has one, the pages whose
 * bits were set (an upper bound). With clear_every 0, the segments for the
 * next ticks: at most one page in PF_CLEAR_SHARE cleared per tick, changed
 * only from a known working set, and down only by half or more; and at
 * most clear_per_s pages a second from the interval since the last tick.
 */
static uint64_t tick_ws(struct pf_engine_region *er, const uint64_t *cnt, uint64_t ws, bool all,
			uint64_t now)
{
	uint64_t interval_ms =
		er->last_tick_ms && now > er->last_tick_ms ? now - er->last_tick_ms : 0;

	uint32_t full = (uint32_t)((1ull << er->clear_n) - 1);
	bool known = er->clear_n <= 1 || er->all_fresh;
	uint64_t est = 0;

	for (unsigned s = 0; s < er->clear_n && !known; s++) {
		if (fresh(er, s)) {
			er->seg_ws[s] = cnt[s];
			er->seg_known |= 1u << s;
		}
	}
	if (!known && er->seg_known == full) {
		for (unsigned s = 0; s < er->clear_n; s++)
			est += er->seg_ws[s];
		ws = est;
		known = true;
	}
	er->all_fresh = all;
	er->fresh_ok = true;
	if (!er->b.params.clear_every && known) {
		uint64_t pages = er->region_pages ? er->region_pages : 1;
		uint64_t want = (ws * PF_CLEAR_SHARE + pages - 1) / pages;
		uint64_t per_tick = er->clear_per_s * interval_ms / 1000;

		/* and at most clear_per_s a second, however large the region */
		if (per_tick && (ws + per_tick - 1) / per_tick > want)
			want = (ws + per_tick - 1) / per_tick;
		want = want < 1 ? 1 : want > PF_CLEAR_MAX ? PF_CLEAR_MAX : want;
		if (want > er->clear_n || want <= er->clear_n / 2)
			set_clear_n(er, (unsigned)want);
	}
	return ws;
}

enum pass1 { P1_SCAN, P1_HIST, P1_VICTIMS };

/* io->victim unless this tick's victims reached the cap (victim_cap, 0: none). */
static void victim(struct pf_engine_region *er, const struct pf_engine_io *io,
		   const struct pf_page_run *r, uint64_t k)
{
	if (er->victim_cap && er->tick_victims >= er->victim_cap) {
		er->capped++;
		return;
	}
	er->tick_victims++;
	io->victim(io->ctx, r, k);
}

/*
 * Pass 1: every page's state from its scan bits; accessed pages reported;
 * then, by mode, a histogram of the present pages' weights or the cold-age
 * victims. Returns the pages accessed (the working set of this interval).
 */
static uint64_t pass1(struct pf_engine_region *er, const struct pf_engine_io *io,
		      struct pf_hist *hist, enum pass1 what, uint64_t now)
{
	const struct pf_reclaim_ops *ops = er->b.reclaim;
	const struct pf_policy_params *prm = &er->b.params;
	struct pf_policy_params vprm = *prm; /* victim(): an objective's age */
	static const struct pf_scan_page untouched;
	struct pf_page_run r;
	uint64_t k, ws = 0, present = 0, recent = 0, cnt[PF_CLEAR_MAX] = {0};
	uint64_t idle, idle_n[PF_REUSE_BUCKETS] = {0}, blo = 0, bhi = 1000, same = 0, used = 0;
	unsigned ib = 0;
	bool all = er->clear_all && what != P1_SCAN; /* at a tick only */
	/* An objective's promotion histogram and working set (objective.h). */
	bool reuse = er->b.threshold.mode == PF_THRESH_OBJECTIVE && ops->idle_ms;
	bool tick_idle = reuse && what != P1_SCAN; /* er->idle, at a tick only */
	size_t i;

	/* An objective's regions page out by its age, none before it has one. */
	if (er->b.threshold.mode == PF_THRESH_OBJECTIVE)
		vprm.cold_age_ms = er->obj_age_ms ? er->obj_age_ms : UINT64_MAX;
	if (!er->ready)
		init_states(er, io, now);
	for (i = 0; io->run(io->ctx, i, &r); i++) {
		for (k = 0; k < r.n; k++) {
			unsigned bits = io->bits(io->ctx, &r, k);
			struct pf_scan_page pg = {
				.accessed = bits & PF_PAGE_ACCESSED,
				.present = bits & PF_PAGE_PRESENT,
				.swapped = bits & PF_PAGE_SWAPPED,
			};

			if (reuse && pg.accessed && r.state[k] != er->blank) {
				unsigned b = pf_reuse_bucket(ops->idle_ms(prm, r.state[k], now));

				if (er->reuse[b] < UINT32_MAX)
					er->reuse[b]++;
			}
			r.state[k] = ops->scan(prm, r.state[k], &pg, now);
			idle = reuse && !pg.accessed ? ops->idle_ms(prm, r.state[k], now) : 0;
			if (reuse &&
			    (pg.accessed || (r.state[k] != er->blank && idle < PF_WS_WINDOW_MS)))
				recent++;
			/* Pages by idle time: accessed ones apart, idle ones counted
			 * in a register while the bucket stays the last idle page's. */
			if (tick_idle && (pg.present || pg.swapped) && pg.accessed) {
				used++;
			} else if (tick_idle && (pg.present || pg.swapped)) {
				if (idle < blo || idle >= bhi) {
					idle_n[ib] += same;
					same = 0;
					ib = pf_reuse_bucket(idle);
					blo = pf_reuse_bound_ms(ib);
					bhi = ib + 1 < PF_REUSE_BUCKETS ?
						      pf_reuse_bound_ms(ib + 1) :
						      UINT64_MAX;
				}
				same++;
			}
			if (pg.accessed) {
				unsigned sg = seg_of(er, page_of(&r, k));

				ws++;
				cnt[sg]++;
				if (clear_due(er, all, sg))
					io->clear(io->ctx, &r, k);
			}
			if (!pg.present || what == P1_SCAN)
				continue;
			present++;
			if (what == P1_HIST)
				pf_hist_add(hist, ops->weight(prm, r.state[k], now));
			else if (!pg.accessed && ops->victim && ops->victim(&vprm, r.state[k], now))
				victim(er, io, &r, k);
		}
	}
	er->blank = ops->scan(prm, er->blank, &untouched, now);
	if (what == P1_SCAN)
		return ws;
	er->clear_all = false;
	ws = tick_ws(er, cnt, ws, all, now);
	er->last_tick_ms = now;
	er->last_ws = ws;
	er->last_present = present;
	er->recent = recent;
	idle_n[ib] += same;
	idle_n[0] += used;
	memcpy(er->idle, idle_n, sizeof(er->idle));
	return ws;
}

static int add_cand(struct pf_engine_scratch *sc, const struct pf_victim *v)
{
	if (PF_GROW(sc->cand, sc->capcand, sc->ncand + 1, 1024))
		return -1;
	sc->cand[sc->ncand++] = *v;
	return 0;
}

/*
 * Pass 2: the present pages below the cut, and the cut's `extra` lowest
 * (weight, page) of its boundary bucket. Pages accessed in this scan count
 * towards the cut but are never victims: they are in use.
 */
static void pass2(struct pf_engine_region *er, const struct pf_engine_io *io,
		  struct pf_engine_scratch *sc, const struct pf_cut *cut, uint64_t now)
{
	const struct pf_reclaim_ops *ops = er->b.reclaim;
	struct pf_page_run r;
	uint64_t k;
	size_t i, n;

	if (!cut->pages)
		return;
	sc->ncand = 0;
	for (i = 0; io->run(io->ctx, i, &r); i++) {
		for (k = 0; k < r.n; k++) {
			unsigned bits = io->bits(io->ctx, &r, k), b;
			uint32_t w;

			if (!(bits & PF_PAGE_PRESENT))
				continue;
			w = ops->weight(&er->b.params, r.state[k], now);
			b = pf_hist_bucket(w);
			if (b < cut->bucket) {
				if (!(bits & PF_PAGE_ACCESSED))
					victim(er, io, &r, k);
			} else if (b == cut->bucket && cut->extra) {
				struct pf_victim v = {w, page_of(&r, k), i, k};

				if (add_cand(sc, &v))
					return; /* out of memory: the boundary bucket stays */
			}
		}
	}
	n = pf_select_extra(sc->cand, sc->ncand, cut);
	for (i = 0; i < n; i++) {
		struct pf_victim *v = &sc->cand[i];

		if (!io->run(io->ctx, v->run, &r))
			continue;
		if (!(io->bits(io->ctx, &r, v->k) & PF_PAGE_ACCESSED))
			victim(er, io, &r, v->k);
	}
}

void pf_engine_tick(struct pf_engine_region *er, const struct pf_engine_io *io,
		    struct pf_engine_scratch *sc, uint64_t refaults, uint64_t now)
{
	bool by_victim;
	struct pf_cut cut;
	uint64_t ws;

	if (!pf_engine_active(er))
		return;
	er->tick_victims = 0;
	/* Cold-age thresholds, and objectives over policies that page out by age. */
	by_victim = er->b.threshold.mode == PF_THRESH_COLD_AGE ||
		    (er->b.threshold.mode == PF_THRESH_OBJECTIVE && er->b.reclaim->victim);
	if (by_victim) {
		pass1(er, io, NULL, P1_VICTIMS, now);
		er->ticks++;
		return;
	}
	pf_hist_clear(&sc->hist);
	ws = pass1(er, io, &sc->hist, P1_HIST, now);
	er->ticks++;
	pf_threshold_refaults(&er->thr, refaults);
	er->thr.move = er->obj_move;
	er->obj_move = PF_OBJ_HOLD;
	cut = pf_threshold_decide(&er->thr, &sc->hist, ws, now);
	er->cut_bucket = cut.bucket;
	er->cut_pages = cut.pages;
	pass2(er, io, sc, &cut, now);
}

/* The memory-limit model runs any policy's weights, the kernel's too. */
static bool has_weights(const struct pf_engine_region *er)
{
	return er->bound && er->b.reclaim;
}

void pf_engine_scan(struct pf_engine_region *er, const struct pf_engine_io *io, uint64_t now)
{
	if (has_weights(er))
		pass1(er, io, NULL, P1_SCAN, now);
}

void pf_engine_cut_n(struct pf_engine_region *er, const struct pf_engine_io *io,
		     struct pf_engine_scratch *sc, uint64_t n, uint64_t now)
{
	const struct pf_reclaim_ops *ops = er->b.reclaim;
	struct pf_page_run r;
	struct pf_cut cut;
	uint64_t k;
	size_t i;

	if (!has_weights(er) || !n)
		return;
	if (!er->ready)
		init_states(er, io, now);
	pf_hist_clear(&sc->hist);
	for (i = 0; io->run(io->ctx, i, &r); i++)
		for (k = 0; k < r.n; k++)
			if (io->bits(io->ctx, &r, k) & PF_PAGE_PRESENT)
				pf_hist_add(&sc->hist, ops->weight(&er->b.params, r.state[k], now));
	cut = pf_hist_cut_n(&sc->hist, n);
	pass2(er, io, sc, &cut, now);
}

size_t pf_engine_prefetch(struct pf_engine_region *er, uint64_t page, bool hit, uint64_t *out,
			  size_t max)
{
	if (!er->bound || !er->b.prefetch || !er->pstate)
		return 0;
	return er->b.prefetch->fault(er->pstate, &er->b.params, page, hit, out, max);
}

void pf_engine_scratch_free(struct pf_engine_scratch *sc)
{
	free(sc->cand);
	memset(sc, 0, sizeof(*sc));
}
