// SPDX-License-Identifier: MIT
/*
 * The reclaim framework's histograms and threshold control loop (see
 * threshold.h).
 */
#include "threshold.h"

#include <stdlib.h>
#include <string.h>

void pf_hist_clear(struct pf_hist *h)
{
	memset(h, 0, sizeof(*h));
}

struct pf_cut pf_hist_cut_n(const struct pf_hist *h, uint64_t n)
{
	struct pf_cut c = {0};
	uint64_t below = 0;

	if (n > h->total)
		n = h->total;
	for (unsigned b = 0; b < PF_HIST_BUCKETS; b++) {
		if (below + h->count[b] >= n) {
			c.bucket = b;
			c.extra = n - below;
			c.pages = n;
			return c;
		}
		below += h->count[b];
	}
	c.bucket = PF_HIST_BUCKETS;
	c.pages = below;
	return c;
}

struct pf_cut pf_hist_cut_bucket(const struct pf_hist *h, unsigned b)
{
	struct pf_cut c = {.bucket = b};

	if (b > PF_HIST_BUCKETS)
		c.bucket = b = PF_HIST_BUCKETS;
	for (unsigned i = 0; i < b; i++)
		c.pages += h->count[i];
	return c;
}

void pf_threshold_cfg_default(struct pf_threshold_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = PF_THRESH_BUDGET;
	c->headroom_pct = 2;
	c->promotion_ppm = 2000; /* 0.2% per minute */
	c->period_ms = 10000;
}

uint64_t pf_threshold_budget(const struct pf_threshold_cfg *c, uint64_t region_pages)
{
	if (c->budget_pages)
		return c->budget_pages;
	return region_pages * (c->budget_pct > 100 ? 100 : c->budget_pct) / 100;
}

static const char *const mode_names[] = {
	[PF_THRESH_BUDGET] = "budget",
	[PF_THRESH_PROMOTION] = "promotion",
	[PF_THRESH_COLD_AGE] = "cold-age",
	[PF_THRESH_OBJECTIVE] = "objective",
};

const char *pf_threshold_mode_name(enum pf_threshold_mode m)
{
	return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : NULL;
}

int pf_threshold_mode_parse(const char *s, enum pf_threshold_mode *m)
{
	for (unsigned i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
		if (s && !strcmp(s, mode_names[i])) {
			*m = (enum pf_threshold_mode)i;
			return 0;
		}
	return -1;
}

void pf_threshold_init(struct pf_threshold *t, const struct pf_threshold_cfg *cfg)
{
	memset(t, 0, sizeof(*t));
	t->cfg = *cfg;
	t->cut_bucket = 0;
}

static struct pf_cut decide_budget(const struct pf_threshold *t, const struct pf_hist *h)
{
	uint64_t budget = t->cfg.budget_pages, target;
	struct pf_cut none = {0};

	if (!budget || h->total <= budget)
		return none;
	target = budget - budget * (t->cfg.headroom_pct > 100 ? 100 : t->cfg.headroom_pct) / 100;
	return pf_hist_cut_n(h, h->total - target);
}

static struct pf_cut decide_promotion(struct pf_threshold *t, const struct pf_hist *h,
				      uint64_t working_set, uint64_t now)
{
	uint64_t period = t->cfg.period_ms ? t->cfg.period_ms : 10000;

	if (!t->started) {
		t->started = true;
		t->period_start_ms = now;
		t->refaults = 0;
	} else if (now - t->period_start_ms >= period) {
		uint64_t elapsed = now - t->period_start_ms;
		/* refaults per minute per million working-set pages */
		uint64_t ws = working_set ? working_set : 1;
		uint64_t rate = t->refaults * 60000ull * 1000000ull / (elapsed * ws);

		/* Move the cut by one populated bucket: down when refaulting
		 * too much, up when well below the target. */
		if (rate > t->cfg.promotion_ppm) {
			unsigned b = t->cut_bucket;

			while (b > 0 && !h->count[b - 1])
				b--;
			t->cut_bucket = b > 0 ? b - 1 : 0;
		} else if (rate * 2 <= t->cfg.promotion_ppm) {
			unsigned b = t->cut_bucket;

			while (b < PF_HIST_BUCKETS && !h->count[b])
				b++;
			t->cut_bucket = b < PF_HIST_BUCKETS ? b + 1 : PF_HIST_BUCKETS;
		}
		t->period_start_ms = now;
		t->refaults = 0;
	}
	return pf_hist_cut_bucket(h, t->cut_bucket);
}

/* The objective's move, applied to this region's own cut. */
static struct pf_cut decide_objective(struct pf_threshold *t, const struct pf_hist *h)
{
	unsigned b = t->cut_bucket;

	switch (t->move) {
	case PF_OBJ_TIGHTEN:
		while (b < PF_HIST_BUCKETS && !h->count[b])
			b++;
		t->cut_bucket = b < PF_HIST_BUCKETS ? b + 1 : PF_HIST_BUCKETS;
		break;
	case PF_OBJ_LOOSEN:
		while (b > 0 && !h->count[b - 1])
			b--;
		t->cut_bucket = b > 0 ? b - 1 : 0;
		break;
	case PF_OBJ_BACKOFF:
		t->cut_bucket /= 2;
		break;
	case PF_OBJ_HOLD:
		break;
	}
	t->move = PF_OBJ_HOLD;
	return pf_hist_cut_bucket(h, t->cut_bucket);
}

struct pf_cut pf_threshold_decide(struct pf_threshold *t, const struct pf_hist *h,
				  uint64_t working_set, uint64_t now)
{
	struct pf_cut none = {0};

	switch (t->cfg.mode) {
	case PF_THRESH_BUDGET:
		return decide_budget(t, h);
	case PF_THRESH_PROMOTION:
		return decide_promotion(t, h, working_set, now);
	case PF_THRESH_OBJECTIVE:
		return decide_objective(t, h);
	case PF_THRESH_COLD_AGE:
		break;
	}
	return none;
}

static int victim_cmp(const void *a, const void *b)
{
	const struct pf_victim *x = a, *y = b;

	if (x->weight != y->weight)
		return x->weight < y->weight ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

size_t pf_select_extra(struct pf_victim *cand, size_t n, const struct pf_cut *cut)
{
	if (!n)
		return 0;
	qsort(cand, n, sizeof(*cand), victim_cmp);
	return cut->extra < n ? cut->extra : n;
}
