// SPDX-License-Identifier: MIT
/*
 * The objective controller (objective.h): one period's refaults, stall
 * or resident pages against the target, and the move of the shared knob.
 */
#include "objective.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

void pf_objective_cfg_default(struct pf_objective_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->kind = PF_OBJ_PROMOTION;
	c->promotion_ppm = 2000;
	c->stall_ppm = 1000;
	c->thrash_ppm = 50000;
	c->period_ms = 10000;
	c->min_age_ms = 10000;
	c->max_age_ms = 1200000;
	c->max_out_pages_per_s = 65536; /* 256 MiB/s */
}

static const char *const kind_names[] = {
	[PF_OBJ_NONE] = "none",
	[PF_OBJ_PROMOTION] = "promotion",
	[PF_OBJ_PRESSURE] = "pressure",
	[PF_OBJ_BUDGET] = "budget",
};

const char *pf_objective_kind_name(enum pf_objective_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : NULL;
}

int pf_objective_kind_parse(const char *s, enum pf_objective_kind *k)
{
	for (unsigned i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (s && !strcmp(s, kind_names[i])) {
			*k = (enum pf_objective_kind)i;
			return 0;
		}
	return -1;
}

/* "0.2" (percent) -> 2000 ppm; -1 if not a percentage in (0, 100]. */
static long long pct_to_ppm(const char *v)
{
	char *end;
	double x = strtod(v, &end);

	if (end == v || (*end && strcmp(end, "%")) || !(x > 0 && x <= 100))
		return -1;
	return (long long)(x * 10000 + 0.5);
}

int pf_objective_parse_arg(const char *s, struct pf_objective_cfg *c, char *err, size_t errlen)
{
	const char *eq = strchr(s, '=');
	char kind[16];
	enum pf_objective_kind k;
	long long ppm;
	size_t n = eq ? (size_t)(eq - s) : strlen(s);

	if (n >= sizeof(kind)) {
		snprintf(err, errlen, "objective '%s': want KIND=VALUE", s);
		return -1;
	}
	memcpy(kind, s, n);
	kind[n] = '\0';
	if (pf_objective_kind_parse(kind, &k)) {
		snprintf(err, errlen,
			 "objective '%s': unknown kind '%s' (valid: promotion=PCT, pressure=PCT, "
			 "budget=SIZE|PCT%%, none)",
			 s, kind);
		return -1;
	}
	if (k == PF_OBJ_NONE) {
		if (eq) {
			snprintf(err, errlen, "objective 'none' takes no value");
			return -1;
		}
		c->kind = k;
		return 0;
	}
	if (!eq || !eq[1]) {
		snprintf(err, errlen, "objective '%s': want %s=VALUE", s, kind);
		return -1;
	}
	if (k == PF_OBJ_BUDGET) {
		size_t len = strlen(eq + 1);
		uint64_t bytes;

		if (len && eq[len] == '%') {
			ppm = pct_to_ppm(eq + 1);
			if (ppm < 0 || ppm % 10000) {
				snprintf(err, errlen, "objective '%s': want a whole percent 1..100",
					 s);
				return -1;
			}
			c->budget_pct = (uint32_t)(ppm / 10000);
			c->budget_pages = 0;
		} else if (!pf_parse_size(eq + 1, &bytes) && bytes >= 4096) {
			c->budget_pages = bytes / 4096;
			c->budget_pct = 0;
		} else {
			snprintf(err, errlen,
				 "objective '%s': want a size (bytes, K/M/G) of at least 4K or "
				 "PCT%%",
				 s);
			return -1;
		}
		c->kind = k;
		return 0;
	}
	ppm = pct_to_ppm(eq + 1);
	if (ppm <= 0) {
		snprintf(err, errlen, "objective '%s': want a percentage > 0 (e.g. %s=0.2)", s,
			 kind);
		return -1;
	}
	if (k == PF_OBJ_PROMOTION)
		c->promotion_ppm = (uint32_t)ppm;
	else
		c->stall_ppm = (uint32_t)ppm;
	c->kind = k;
	return 0;
}

void pf_objective_describe(const struct pf_objective_cfg *c, char *buf, size_t len)
{
	switch (c->kind) {
	case PF_OBJ_PROMOTION:
		snprintf(buf, len, "promotion <= %.2f%%/min", c->promotion_ppm / 1e4);
		break;
	case PF_OBJ_PRESSURE:
		snprintf(buf, len, "stall <= %.2f%%", c->stall_ppm / 1e4);
		break;
	case PF_OBJ_BUDGET:
		if (c->budget_pages)
			snprintf(buf, len, "resident <= %llu MiB",
				 (unsigned long long)(c->budget_pages >> 8));
		else
			snprintf(buf, len, "resident <= %u%%", c->budget_pct);
		break;
	default:
		snprintf(buf, len, "none");
	}
}

uint64_t pf_objective_budget(const struct pf_objective_cfg *c, uint64_t pages)
{
	if (c->kind != PF_OBJ_BUDGET)
		return 0;
	if (c->budget_pages)
		return c->budget_pages;
	return pages * (c->budget_pct > 100 ? 100 : c->budget_pct) / 100;
}

uint64_t pf_objective_victim_cap(const struct pf_objective_cfg *c, uint64_t interval_ms)
{
	uint64_t n;

	if (!c->max_out_pages_per_s)
		return UINT64_MAX;
	n = c->max_out_pages_per_s * interval_ms / 1000;
	return n ? n : 1;
}

/* The bounds, bucket b's at [b]: 0 for bucket 0, then 1 s x 2^((b - 1) / 4). */
#define B4(s)                                                               \
	(1000ull << (s)) * 10000 / 10000, (1000ull << (s)) * 11892 / 10000, \
		(1000ull << (s)) * 14142 / 10000, (1000ull << (s)) * 16818 / 10000
static const uint64_t bound_ms[PF_REUSE_BUCKETS] = {
	0, B4(0), B4(1), B4(2), B4(3), B4(4), B4(5), B4(6), B4(7), B4(8), B4(9), B4(10),
};
#undef B4
_Static_assert(PF_REUSE_BUCKETS == 45, "bound_ms lists 1 + 4 x 11 bounds");

uint64_t pf_reuse_bound_ms(unsigned b)
{
	return bound_ms[b < PF_REUSE_BUCKETS ? b : PF_REUSE_BUCKETS - 1];
}

unsigned pf_reuse_bucket(uint64_t idle_ms)
{
	unsigned b;

	if (idle_ms < 1000)
		return 0;
	if (idle_ms >= bound_ms[PF_REUSE_BUCKETS - 1])
		return PF_REUSE_BUCKETS - 1;
	/* The doubling from the highest bit of the seconds, then its quarter. */
	b = 1 + 4 * (63 - (unsigned)__builtin_clzll(idle_ms / 1000));
	while (idle_ms >= bound_ms[b + 1])
		b++;
	return b;
}

void pf_objective_init(struct pf_objective *o, const struct pf_objective_cfg *cfg)
{
	memset(o, 0, sizeof(*o));
	o->cfg = *cfg;
	if (!o->cfg.period_ms)
		o->cfg.period_ms = 10000;
	if (!o->cfg.min_age_ms)
		o->cfg.min_age_ms = 1000;
	if (o->cfg.max_age_ms < o->cfg.min_age_ms)
		o->cfg.max_age_ms = o->cfg.min_age_ms;
	/* Start where a plain cold-age rule starts, inside the range. */
	o->age_ms = 120000;
	if (o->age_ms < o->cfg.min_age_ms)
		o->age_ms = o->cfg.min_age_ms;
	if (o->age_ms > o->cfg.max_age_ms)
		o->age_ms = o->cfg.max_age_ms;
}

/* Refaults per minute per million pages of ws over elapsed ms. */
static uint64_t promotion_ppm(uint64_t refaults, uint64_t ws, uint64_t elapsed)
{
	return refaults * 60000ull * 1000000ull / ((elapsed ? elapsed : 1) * (ws ? ws : 1));
}

/* The refaults a whole period allows at ppm (at least 1: one is never a violation). */
static uint64_t period_allowance(uint64_t ppm, uint64_t ws, uint64_t period)
{
	uint64_t a = ppm * (ws ? ws : 1) * period / (60000ull * 1000000ull);

	return a ? a : 1;
}

/* The target of a promotion or pressure objective (0 for a budget). */
static uint64_t goal(const struct pf_objective *o)
{
	return o->cfg.kind == PF_OBJ_PROMOTION ? o->cfg.promotion_ppm :
	       o->cfg.kind == PF_OBJ_PRESSURE  ? o->cfg.stall_ppm :
						 0;
}

/* The shortest age the controller may set: a thrashing budget or a sweep
 * raises it, up to the longest. */
static uint64_t floor_ms(const struct pf_objective *o)
{
	uint64_t f = o->age_floor_ms > o->cfg.min_age_ms ? o->age_floor_ms : o->cfg.min_age_ms;

	f = o->sweep_floor_ms > f ? o->sweep_floor_ms : f;
	return f < o->cfg.max_age_ms ? f : o->cfg.max_age_ms;
}

static enum pf_objective_move apply(struct pf_objective *o, enum pf_objective_move m)
{
	uint64_t a = o->age_ms;

	switch (m) {
	case PF_OBJ_TIGHTEN:
		/* Far inside the goal (under an eighth of it): a bigger step. */
		a = o->value * 8 <= goal(o) ? a / 2 : a * 3 / 4;
		if (a < floor_ms(o))
			a = floor_ms(o);
		o->tightens++;
		break;
	case PF_OBJ_LOOSEN:
		a = a * 4 / 3;
		o->loosens++;
		break;
	case PF_OBJ_BACKOFF:
		a *= 2;
		o->backoffs++;
		break;
	case PF_OBJ_HOLD:
		return m;
	}
	if (a > o->cfg.max_age_ms)
		a = o->cfg.max_age_ms;
	o->age_ms = a;
	o->last = m;
	return m;
}

static void new_period(struct pf_objective *o, uint64_t now, uint64_t ws)
{
	o->period_start_ms = now;
	o->refaults = 0;
	o->stall_us = 0;
	o->ws_max = ws;
	memset(o->reuse, 0, sizeof(o->reuse));
}

/* The pages by idle time at a period's start (sweeps). */
static void idle_snapshot(struct pf_objective *o, const struct pf_objective_input *in)
{
	o->idle_seen = in->idle != NULL;
	if (in->idle)
		memcpy(o->idle_start, in->idle, sizeof(o->idle_start));
}

/*
 * A back-off now would not answer the echo of pageouts already answered: a
 * longer age only spares pages from now on, so after a back-off another
 * one needs pages paged out since, and a period gone by.
 */
static bool backoff_allowed(const struct pf_objective *o, uint64_t now)
{
	return !o->backoffs ||
	       (now - o->last_backoff_ms >= o->cfg.period_ms && o->out_since_backoff);
}

static enum pf_objective_move backoff(struct pf_objective *o, uint64_t now)
{
	o->last_backoff_ms = now;
	o->out_since_backoff = 0;
	return apply(o, PF_OBJ_BACKOFF);
}

/*
 * At a period's end: the longest age X (from min_age_ms) such that the
 * period read back more pages idle at least X than it allows, and at least
 * half as many as were idle at least X at its start: a sweep (objective.h).
 */
static void sweep_check(struct pf_objective *o, uint64_t now)
{
	uint64_t allow = period_allowance(o->cfg.promotion_ppm, o->ws_max, o->cfg.period_ms);
	uint64_t reused = 0, idle = 0, x = 0;

	if (o->sweep_floor_ms && now - o->sweep_at_ms > 2 * o->sweep_floor_ms)
		o->sweep_floor_ms = o->sweep_ms = 0; /* none came when due: over */
	if (!o->idle_seen)
		return;
	for (unsigned b = PF_REUSE_BUCKETS - 1; b >= 1 && !x; b--) {
		if (pf_reuse_bound_ms(b) < o->cfg.min_age_ms)
			break;
		reused += o->reuse[b];
		idle += o->idle_start[b];
		if (reused > allow && reused * 2 >= idle)
			x = pf_reuse_bound_ms(b);
	}
	if (!x || x * 2 < o->sweep_ms)
		return; /* a shorter cycle: the histograms see it */
	o->sweeps++;
	o->sweep_at_ms = now;
	if (x > o->sweep_ms) {
		o->sweep_ms = x;
		o->sweep_floor_ms = 3 * x;
	}
}

/* Ends a period of a histogram-driven promotion objective: its histogram
 * joins the ring of the last PF_REUSE_PERIODS. */
static void push_hist(struct pf_objective *o, uint64_t elapsed)
{
	struct pf_reuse_period *e = &o->hist[o->ihist];

	e->start_ms = o->period_start_ms;
	e->ms = elapsed;
	e->ws = o->ws_max;
	for (unsigned b = 0; b < PF_REUSE_BUCKETS; b++)
		e->n[b] = o->reuse[b] > UINT32_MAX ? UINT32_MAX : (uint32_t)o->reuse[b];
	o->ihist = (o->ihist + 1) % PF_REUSE_PERIODS;
	if (o->nhist < PF_REUSE_PERIODS)
		o->nhist++;
}

bool pf_objective_predict(const struct pf_objective *o, unsigned b, uint64_t *ppm)
{
	uint64_t t = pf_reuse_bound_ms(b), worst = 0;
	unsigned valid = 0;

	for (unsigned i = 0; i < o->nhist; i++) {
		const struct pf_reuse_period *e = &o->hist[i];
		uint64_t cnt = 0, r;

		if (e->start_ms - o->start_ms < t)
			continue;
		for (unsigned j = b; j < PF_REUSE_BUCKETS; j++)
			cnt += e->n[j];
		r = promotion_ppm(cnt, e->ws, e->ms);
		worst = r > worst ? r : worst;
		valid++;
	}
	*ppm = worst;
	return valid >= 3;
}

/*
 * The shortest age the histograms allow: the smallest bound (at or above
 * the floor) whose predicted promotion rate stays within 3/4 of the goal.
 * The cap if none does; 0 if no bound has been seen for long enough yet.
 */
static uint64_t hist_age(struct pf_objective *o)
{
	bool seen = false;

	for (unsigned b = 1; b < PF_REUSE_BUCKETS; b++) {
		uint64_t t = pf_reuse_bound_ms(b), worst;

		if (t < floor_ms(o))
			continue;
		if (t > o->cfg.max_age_ms)
			break;
		if (!pf_objective_predict(o, b, &worst))
			continue;
		seen = true;
		if (worst * 4 <= o->cfg.promotion_ppm * 3) {
			o->predicted = worst;
			return t;
		}
	}
	o->predicted = 0;
	return seen ? o->cfg.max_age_ms : 0;
}

/* A histogram-driven move: the age set at once, counted as m. */
static enum pf_objective_move set_age(struct pf_objective *o, uint64_t age,
				      enum pf_objective_move m)
{
	o->age_ms = age;
	if (m == PF_OBJ_LOOSEN)
		o->loosens++;
	else
		o->tightens++;
	o->last = m;
	return m;
}

/*
 * promotion, with its regions' histograms: the age is the one the
 * histograms allow, moved to at once when longer, by halves at most when
 * shorter, never shorter within a minute of a back-off; a back-off at once
 * on a violation, once a period at most.
 */
static enum pf_objective_move promotion_by_hist(struct pf_objective *o,
						const struct pf_objective_input *in, bool end,
						uint64_t elapsed)
{
	uint64_t period = o->cfg.period_ms, ws = o->ws_max, t;

	for (unsigned b = 0; b < PF_REUSE_BUCKETS; b++)
		o->reuse[b] += in->reuse[b];
	if (o->refaults > period_allowance(o->cfg.promotion_ppm, ws, period) &&
	    backoff_allowed(o, in->now_ms)) {
		o->value = promotion_ppm(o->refaults, ws, elapsed ? elapsed : 1);
		return backoff(o, in->now_ms);
	}
	if (!end)
		return PF_OBJ_HOLD;
	o->value = promotion_ppm(o->refaults, ws, elapsed);
	sweep_check(o, in->now_ms);
	push_hist(o, elapsed);
	new_period(o, in->now_ms, in->recent);
	idle_snapshot(o, in);
	if (o->age_ms < floor_ms(o)) /* past the next sweep, at once */
		return set_age(o, floor_ms(o), PF_OBJ_LOOSEN);
	t = hist_age(o);
	if (!t || o->value > o->cfg.promotion_ppm)
		return PF_OBJ_HOLD;
	if (t > o->age_ms)
		return set_age(o, t, PF_OBJ_LOOSEN);
	if (t == o->age_ms || (o->backoffs && in->now_ms - o->last_backoff_ms < 6 * period))
		return PF_OBJ_HOLD;
	return set_age(o, t > o->age_ms / 2 ? t : o->age_ms / 2, PF_OBJ_TIGHTEN);
}

enum pf_objective_move pf_objective_tick(struct pf_objective *o,
					 const struct pf_objective_input *in)
{
	uint64_t period = o->cfg.period_ms, elapsed, ws, budget;
	bool end;

	if (o->cfg.kind == PF_OBJ_NONE)
		return PF_OBJ_HOLD;
	o->by_hist = o->cfg.kind == PF_OBJ_PROMOTION && in->reuse;
	ws = o->by_hist ? in->recent : in->working_set;
	if (!o->started) {
		o->started = true;
		o->start_ms = in->now_ms;
		new_period(o, in->now_ms, ws);
		idle_snapshot(o, in);
		return PF_OBJ_HOLD;
	}
	o->refaults += in->refaults;
	o->stall_us += in->stall_us;
	o->out_since_backoff += in->victims;
	if (ws > o->ws_max)
		o->ws_max = ws;
	elapsed = in->now_ms - o->period_start_ms;
	end = elapsed >= period;
	ws = o->ws_max;

	switch (o->cfg.kind) {
	case PF_OBJ_PROMOTION:
		if (o->by_hist)
			return promotion_by_hist(o, in, end, elapsed);
		/* Over the whole period's allowance already: back off now (once
		 * a period: what follows a pageout at once is its echo). */
		if (o->refaults > period_allowance(o->cfg.promotion_ppm, ws, period) &&
		    backoff_allowed(o, in->now_ms)) {
			o->value = promotion_ppm(o->refaults, ws, elapsed);
			new_period(o, in->now_ms, in->working_set);
			return backoff(o, in->now_ms);
		}
		if (!end)
			return PF_OBJ_HOLD;
		o->value = promotion_ppm(o->refaults, ws, elapsed);
		new_period(o, in->now_ms, in->working_set);
		if (o->value * 2 <= o->cfg.promotion_ppm && o->age_ms > o->cfg.min_age_ms)
			return apply(o, PF_OBJ_TIGHTEN);
		return PF_OBJ_HOLD;
	case PF_OBJ_PRESSURE: {
		uint64_t allow =
			o->cfg.stall_ppm * period; /* µs per period: ppm * ms / 1000 * 1000 */

		allow /= 1000;
		if (o->stall_us > (allow ? allow : 1) && backoff_allowed(o, in->now_ms)) {
			o->value = o->stall_us * 1000 / (elapsed ? elapsed : 1);
			new_period(o, in->now_ms, in->working_set);
			return backoff(o, in->now_ms);
		}
		if (!end)
			return PF_OBJ_HOLD;
		o->value = o->stall_us * 1000 / (elapsed ? elapsed : 1);
		new_period(o, in->now_ms, in->working_set);
		if (o->value * 2 <= o->cfg.stall_ppm && o->age_ms > o->cfg.min_age_ms)
			return apply(o, PF_OBJ_TIGHTEN);
		return PF_OBJ_HOLD;
	}
	case PF_OBJ_BUDGET:
		budget = pf_objective_budget(&o->cfg, in->pages);
		o->value = in->resident;
		/*
		 * Paging out what comes straight back: the budget is below the
		 * working set. Back off, and never again go below the age that
		 * thrashed: the controller holds there instead.
		 */
		if (o->refaults > period_allowance(o->cfg.thrash_ppm, ws, period)) {
			o->unreachable = true;
			new_period(o, in->now_ms, in->working_set);
			apply(o, PF_OBJ_BACKOFF);
			o->age_floor_ms = o->age_ms;
			return PF_OBJ_BACKOFF;
		}
		if (!end)
			return PF_OBJ_HOLD;
		new_period(o, in->now_ms, in->working_set);
		if (in->resident > budget) {
			if (o->age_ms <= floor_ms(o)) {
				o->unreachable = true; /* nothing older left to page out */
				return PF_OBJ_HOLD;
			}
			return apply(o, PF_OBJ_TIGHTEN);
		}
		o->unreachable = false;
		o->age_floor_ms = 0;
		if (in->resident * 10 < budget * 9)
			return apply(o, PF_OBJ_LOOSEN);
		return PF_OBJ_HOLD;
	case PF_OBJ_NONE:
		break;
	}
	return PF_OBJ_HOLD;
}
