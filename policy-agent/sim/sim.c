// SPDX-License-Identifier: MIT
/*
 * The simulator (see sim.h): regions and the residency of their pages, the
 * policy engine's ticks over them (policies/engine.h), the memory-limit
 * model, prefetch, phase actions and Belady MIN.
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "grow.h"
#include "pagemap.h"
#include "phase_memo.h"

enum {
	F_EVER = 1, /* touched at least once */
	F_RES = 2, /* resident */
	F_PF = 4, /* prefetched, not used yet */
	F_ACC = 8, /* accessed since the last scan */
};

#define NO_NEXT UINT64_MAX
#define PF_OUT_MAX 512

struct heap_ent {
	uint64_t next;
	uint64_t page; /* dense index */
};

struct region {
	uint32_t id;
	bool live;
	char tag[PF_TRACE_TAG_MAX], symbol[PF_TRACE_SYMBOL_MAX];
	uint8_t kind;
	uint64_t npages, budget, resident;
	struct pf_engine_region eng; /* policy, threshold, prefetch state */
	uint64_t swapins_fed; /* refaults already fed to the engine */
	/* Touched pages, densely: index i is page pg[i]; idx maps page -> i. */
	struct pagemap idx;
	uint64_t nd, capd;
	uint64_t *pg;
	pf_page_state *st;
	uint8_t *fl;
	uint64_t *last_ms; /* last access, for phase hot sets */
	uint64_t *cur_next; /* MIN: next access index of each page */
	struct heap_ent *heap; /* MIN: max-heap on next (of dense indexes), lazily cleaned */
	size_t nheap, capheap;
	struct sim_stats st_;
};

struct sim {
	const struct sim_cfg *cfg;
	struct region *r;
	size_t nr, capr;
	uint64_t now_ms, next_scan_ms;
	char phase[PF_TRACE_TAG_MAX];
	struct pf_phase_memo *memo;
	uint64_t *next; /* MIN: next[i] = index of the next access to the page of access i */
	size_t capnext;
	uint64_t nacc, idx;
	struct pf_engine_scratch sc;
	uint64_t protect; /* dense index the memory limit must not evict, or NO_NEXT */
	uint64_t out[PF_OUT_MAX];
	char *err;
	size_t errlen;
	double res_sum, foot_sum;
	uint64_t nsamples;
	uint64_t memo_pages;
};

static struct region *find_region(struct sim *s, uint32_t id)
{
	for (size_t i = 0; i < s->nr; i++)
		if (s->r[i].id == id && s->r[i].live)
			return &s->r[i];
	return NULL;
}

/* The dense index of page, creating it (untouched) if create; -1 if absent
 * or out of memory (then s->err is set). */
static int64_t dense(struct sim *s, struct region *r, uint64_t page, bool create)
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

/* ---- MIN heap ---- */

static int heap_push(struct region *r, uint64_t next, uint64_t page)
{
	size_t i;

	if (PF_GROW(r->heap, r->capheap, r->nheap + 1, 1024))
		return -1;
	i = r->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (r->heap[p].next >= next)
			break;
		r->heap[i] = r->heap[p];
		i = p;
	}
	r->heap[i] = (struct heap_ent){next, page};
	return 0;
}

static struct heap_ent heap_pop(struct region *r)
{
	struct heap_ent top = r->heap[0], last = r->heap[--r->nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= r->nheap)
			break;
		if (c + 1 < r->nheap && r->heap[c + 1].next > r->heap[c].next)
			c++;
		if (r->heap[c].next <= last.next)
			break;
		r->heap[i] = r->heap[c];
		i = c;
	}
	if (r->nheap)
		r->heap[i] = last;
	return top;
}

/* ---- residency ---- */

static void evict(struct sim *s, struct region *r, uint64_t p)
{
	(void)s;
	if (r->fl[p] & F_PF)
		r->st_.pf_wasted++;
	r->fl[p] &= (uint8_t) ~(F_RES | F_PF | F_ACC);
	r->resident--;
	r->st_.evictions++;
}

static void make_resident(struct sim *s, struct region *r, uint64_t p, uint8_t extra)
{
	r->fl[p] |= F_EVER | F_RES | extra;
	r->resident++;
	if (s->cfg->min)
		heap_push(r, r->cur_next[p], p);
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

static void io_accessed(void *ctx, const struct pf_page_run *run, uint64_t k)
{
	(void)ctx, (void)run, (void)k; /* cleared after the tick: bits stay fixed during it */
}

static void io_victim(void *ctx, const struct pf_page_run *run, uint64_t k)
{
	struct sim_io *io = ctx;

	(void)run;
	evict(io->s, io->r, k);
	if (io->s->cfg->on_evict)
		io->s->cfg->on_evict(io->s->cfg->evict_arg, io->r->id, io->r->pg[k], io->s->now_ms);
}

static void clear_accessed(struct region *r)
{
	for (uint64_t p = 0; p < r->nd; p++)
		r->fl[p] &= (uint8_t)~F_ACC;
}

static struct pf_engine_io engine_io(struct sim_io *ctx)
{
	return (struct pf_engine_io){.ctx = ctx,
				     .run = io_run,
				     .bits = io_bits,
				     .accessed = io_accessed,
				     .victim = io_victim};
}

/* A scan tick: the engine's decisions, exactly as pageflexd makes them. */
static void tick(struct sim *s, struct region *r)
{
	struct sim_io ctx = {s, r};
	struct pf_engine_io io = engine_io(&ctx);
	uint64_t refaults = r->st_.swapins - r->swapins_fed;

	r->swapins_fed = r->st_.swapins;
	s->protect = NO_NEXT;
	pf_engine_tick(&r->eng, &io, &s->sc, refaults, s->now_ms);
	clear_accessed(r);
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
			struct heap_ent e = heap_pop(r);

			if (!(r->fl[e.page] & F_RES) || r->cur_next[e.page] != e.next ||
			    e.page == protect)
				continue;
			evict(s, r, e.page);
			n--;
		}
		if (protect != NO_NEXT && (r->fl[protect] & F_RES))
			heap_push(r, r->cur_next[protect], protect);
		return 0;
	}
	struct sim_io ctx = {s, r};
	struct pf_engine_io io = engine_io(&ctx);

	s->protect = NO_NEXT;
	pf_engine_scan(&r->eng, &io, s->now_ms);
	clear_accessed(r);
	s->protect = protect;
	pf_engine_cut_n(&r->eng, &io, &s->sc, n, s->now_ms);
	s->protect = NO_NEXT;
	return 0;
}

static int enforce_budget(struct sim *s, struct region *r, uint64_t protect)
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
	if (s->cfg->min)
		b.threshold.mode = PF_THRESH_BUDGET;
	if (pf_engine_bind(&r->eng, &b, r->npages) < 0)
		return -1;
	r->budget = r->eng.thr.cfg.budget_pages;
	return 0;
}

static int add_region(struct sim *s, const struct pf_trace_event *ev)
{
	struct region *r;

	if (find_region(s, ev->region)) {
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

/* ---- prefetch ---- */

/* Brings page number q back if it is swapped out. */
static int prefetch_page(struct sim *s, struct region *r, uint64_t page)
{
	int64_t i = page < r->npages ? dense(s, r, page, false) : -1;
	uint64_t q = (uint64_t)i;

	if (i < 0 || !(r->fl[q] & F_EVER) || (r->fl[q] & F_RES))
		return 0;
	make_resident(s, r, q, F_PF | F_ACC);
	r->st_.pf_issued++;
	return 1;
}

static void prefetch(struct sim *s, struct region *r, uint64_t page, bool hit)
{
	size_t n = pf_engine_prefetch(&r->eng, r->pg[page], hit, s->out, PF_OUT_MAX);

	for (size_t i = 0; i < n; i++)
		prefetch_page(s, r, s->out[i]);
}

/* ---- events ---- */

static int access_page(struct sim *s, struct region *r, uint64_t p)
{
	uint8_t fl = r->fl[p];

	r->st_.accesses++;
	if (s->cfg->min) {
		r->cur_next[p] = s->next[s->idx];
	}
	if (!(fl & F_EVER)) {
		r->st_.first_touch++;
		make_resident(s, r, p, 0);
	} else if (fl & F_RES) {
		if (fl & F_PF) {
			r->st_.pf_hits++;
			r->fl[p] &= (uint8_t)~F_PF;
			prefetch(s, r, p, true);
		}
		if (s->cfg->min)
			heap_push(r, r->cur_next[p], p);
	} else {
		r->st_.swapins++;
		make_resident(s, r, p, 0);
		prefetch(s, r, p, false);
	}
	r->fl[p] |= F_ACC;
	r->last_ms[p] = s->now_ms;
	s->idx++;
	return enforce_budget(s, r, p);
}

static void sample(struct sim *s)
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
	while (s->next_scan_ms <= t) {
		s->now_ms = s->next_scan_ms;
		for (size_t i = 0; i < s->nr; i++) {
			if (!s->r[i].live)
				continue;
			if (!s->cfg->min)
				tick(s, &s->r[i]);
		}
		s->next_scan_ms += scan;
	}
	s->now_ms = t;
	return 0;
}

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

static int enter_phase(struct sim *s, const char *name)
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
					evict(s, r, p);
					r->st_.demoted++;
				}
		}
		if (act && pf_rules_glob_any(act->prefetch, act->nprefetch, r->tag)) {
			for (uint64_t p = 0; p < r->nd; p++)
				r->st_.phase_prefetched += (uint64_t)prefetch_page(s, r, r->pg[p]);
		}
		if (s->memo && (!s->cfg->rules || (act && act->prefetch_hot))) {
			const uint64_t *pages;
			size_t n = pf_phase_memo_lookup(s->memo, r->tag, s->phase, &pages);

			for (size_t k = 0; k < n; k++)
				r->st_.phase_prefetched += (uint64_t)prefetch_page(s, r, pages[k]);
		}
		if (enforce_budget(s, r, NO_NEXT))
			return -1;
	}
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
		return add_region(s, ev);
	case PF_TR_REGION_END:
		r = find_region(s, ev->region);
		if (r)
			r->live = false;
		return 0;
	case PF_TR_PHASE:
		return enter_phase(s, ev->name);
	case PF_TR_ACCESS:
	case PF_TR_FAULT:
		r = find_region(s, ev->region);
		if (!r || ev->page >= r->npages) {
			if (r)
				r->st_.bad_events++;
			s->idx++;
			return 0;
		}
		if ((d = dense(s, r, ev->page, true)) < 0 || access_page(s, r, (uint64_t)d))
			return -1;
		sample(s);
		return 0;
	case PF_TR_SCAN:
		r = find_region(s, ev->region);
		for (uint64_t i = 0; i < ev->npages; i++) {
			uint64_t p = ev->first_page + i;

			if (!(ev->bitmap[i / 64] >> (i % 64) & 1))
				continue;
			if (!r || p >= r->npages) {
				s->idx++;
				continue;
			}
			if ((d = dense(s, r, p, true)) < 0 || access_page(s, r, (uint64_t)d))
				return -1;
			sample(s);
		}
		return 0;
	}
	return 0;
}

/* ---- MIN: first pass ---- */

struct key_last {
	uint32_t id;
	uint64_t npages;
	struct pagemap last; /* page -> index of its last access */
};

static int note_access(struct sim *s, struct key_last *k, size_t nk, uint32_t id, uint64_t page)
{
	uint64_t i = s->nacc++;

	if (PF_GROW(s->next, s->capnext, i + 1, 4096))
		return -1;
	s->next[i] = NO_NEXT;
	for (size_t j = nk; j-- > 0;)
		if (k[j].id == id) {
			if (page < k[j].npages) {
				uint64_t *v = pagemap_get(&k[j].last, page);

				if (v) {
					s->next[*v] = i;
					*v = i;
				} else if (pagemap_put(&k[j].last, page, i)) {
					return -1;
				}
			}
			break;
		}
	return 0;
}

static int min_pass(struct sim *s, const struct sim_source *src)
{
	struct key_last *k = NULL;
	size_t nk = 0, capk = 0;
	struct pf_trace_event ev;
	int rc, ret = -1;

	while ((rc = src->next(src->ctx, &ev, s->err, s->errlen)) == 1) {
		if (ev.type == PF_TR_REGION) {
			if (PF_GROW(k, capk, nk + 1, 8))
				goto out;
			k[nk] = (struct key_last){.id = ev.region, .npages = ev.npages};
			nk++;
		} else if (ev.type == PF_TR_ACCESS || ev.type == PF_TR_FAULT) {
			if (note_access(s, k, nk, ev.region, ev.page))
				goto out;
		} else if (ev.type == PF_TR_SCAN) {
			for (uint64_t i = 0; i < ev.npages; i++)
				if (ev.bitmap[i / 64] >> (i % 64) & 1)
					if (note_access(s, k, nk, ev.region, ev.first_page + i))
						goto out;
		}
	}
	if (rc == 0)
		ret = src->rewind(src->ctx, s->err, s->errlen);
out:
	if (ret && rc != -1)
		snprintf(s->err, s->errlen, "out of memory in MIN's first pass");
	for (size_t j = 0; j < nk; j++)
		pagemap_free(&k[j].last);
	free(k);
	return ret;
}

/* ---- results ---- */

static void add_stats(struct sim_stats *t, const struct sim_stats *a)
{
	t->accesses += a->accesses;
	t->first_touch += a->first_touch;
	t->swapins += a->swapins;
	t->pf_issued += a->pf_issued;
	t->pf_hits += a->pf_hits;
	t->pf_wasted += a->pf_wasted;
	t->evictions += a->evictions;
	t->demoted += a->demoted;
	t->phase_prefetched += a->phase_prefetched;
	t->bad_events += a->bad_events;
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
	if (cfg->min && min_pass(&s, src))
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
	res->regions = calloc(s.nr ? s.nr : 1, sizeof(*res->regions));
	if (!res->regions) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < s.nr; i++) {
		struct region *r = &s.r[i];
		struct sim_region_report *o = &res->regions[i];
		uint64_t n = s.nsamples;

		o->id = r->id;
		snprintf(o->tag, sizeof(o->tag), "%s", r->tag);
		o->npages = r->npages;
		o->budget = r->budget;
		o->reclaim = cfg->min ? "min" : r->eng.b.reclaim->name;
		o->prefetch = r->eng.b.prefetch ? r->eng.b.prefetch->name : "none";
		snprintf(o->rule, sizeof(o->rule), "%s",
			 r->eng.b.rule[0] ? r->eng.b.rule : "default");
		o->st = r->st_;
		if (n) {
			o->st.avg_resident /= (double)n;
			o->st.avg_footprint /= (double)n;
		}
		add_stats(&res->total, &r->st_);
	}
	res->nregions = s.nr;
	if (s.nsamples) {
		res->total.avg_resident = s.res_sum / (double)s.nsamples;
		res->total.avg_footprint = s.foot_sum / (double)s.nsamples;
	}
	res->memo_bytes = s.memo ? pf_phase_memo_bytes(s.memo) : 0;
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
	free(s.next);
	pf_engine_scratch_free(&s.sc);
	pf_phase_memo_free(s.memo);
	return rc;
}

void sim_result_free(struct sim_result *res)
{
	free(res->regions);
	res->regions = NULL;
}

double sim_accuracy(const struct sim_stats *s)
{
	return s->pf_issued ? (double)s->pf_hits / (double)s->pf_issued : 0;
}

double sim_coverage(const struct sim_stats *s)
{
	uint64_t d = s->pf_hits + s->swapins;

	return d ? (double)s->pf_hits / (double)d : 0;
}

double sim_saved(const struct sim_stats *s)
{
	return s->avg_footprint > 0 ? 1.0 - s->avg_resident / s->avg_footprint : 0;
}
