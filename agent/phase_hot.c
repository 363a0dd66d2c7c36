// SPDX-License-Identifier: MIT
/*
 * prefetch_hot in pageflexd (see phase_hot.h). "Hot at the end of the
 * phase" is what the page-table scanner saw accessed in the last scan
 * interval of the phase: the bits of the last periodic scan, or, for a phase
 * shorter than half an interval, of a scan at the phase change (it only
 * reads accessed bits; the next periodic scan sees them again). Pages are
 * kept relative to the region's start, under the key "tag" (the n-th region
 * with the same tag, by address, is "tag@n").
 */
#include "phase_hot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "agent.h"
#include "binding.h"
#include "grow.h"
#include "log.h"
#include "phase_memo.h"
#include "rules.h"
#include "scanner.h"

#define MEMO_ENTRIES 32
#define MEMO_PAGES 8192

struct pf_phase_hot {
	struct pf_phase_memo *memo; /* allocated at the first record */
	char phase[PFW_MAX_TAG + 1]; /* the phase the process is in */
	uint64_t since_ms; /* when it entered it */
};

/* One region of a process, with its memo key. */
struct reg {
	struct pf_rinfo *ri;
	char key[PF_MEMO_NAME_MAX];
};

/* The regions of a process: keys in tag order, and a lookup by pointer. */
struct regs {
	struct reg *r; /* sorted by (tag, start0) */
	struct byptr {
		struct pf_rinfo *ri;
		uint32_t k; /* index in r */
	} * by; /* sorted by ri */
	size_t n;
};

/* An accessed page: region index, page relative to start0. */
struct hit {
	uint64_t reg;
	uint64_t page;
};

static int cmp_reg(const void *a, const void *b)
{
	const struct reg *x = a, *y = b;
	int c = strcmp(x->ri->tag, y->ri->tag);

	if (c)
		return c;
	return x->ri->start0 < y->ri->start0 ? -1 : x->ri->start0 > y->ri->start0;
}

static int cmp_ptr(const void *a, const void *b)
{
	const struct byptr *x = a, *y = b;

	return x->ri < y->ri ? -1 : x->ri > y->ri;
}

static void regs_free(struct regs *g)
{
	free(g->r);
	free(g->by);
}

/* The distinct regions of p with their keys; -1 without memory. */
static int regs_of(struct pf_proc *p, struct regs *g)
{
	size_t i, k = 0, nth, m = p->rt.n ? p->rt.n : 1;

	g->n = 0;
	g->r = calloc(m, sizeof(*g->r));
	g->by = calloc(m, sizeof(*g->by));
	if (!g->r || !g->by) {
		regs_free(g);
		return -1;
	}
	for (i = 0; i < p->rt.n; i++)
		g->by[i].ri = p->rt.p[i].ri;
	qsort(g->by, p->rt.n, sizeof(*g->by), cmp_ptr);
	for (i = 0; i < p->rt.n; i++)
		if (!k || g->by[k - 1].ri != g->by[i].ri)
			g->r[k++].ri = g->by[i].ri;
	g->n = k;
	qsort(g->r, k, sizeof(*g->r), cmp_reg);
	for (i = 0, nth = 0; i < k; i++) {
		nth = i && !strcmp(g->r[i - 1].ri->tag, g->r[i].ri->tag) ? nth + 1 : 0;
		if (nth)
			snprintf(g->r[i].key, sizeof(g->r[i].key), "%.40s@%zu", g->r[i].ri->tag,
				 nth);
		else
			snprintf(g->r[i].key, sizeof(g->r[i].key), "%.62s", g->r[i].ri->tag);
		g->by[i] = (struct byptr){.ri = g->r[i].ri, .k = (uint32_t)i};
	}
	qsort(g->by, k, sizeof(*g->by), cmp_ptr);
	return 0;
}

static uint32_t reg_index(const struct regs *g, struct pf_rinfo *ri)
{
	struct byptr key = {.ri = ri}, *f = bsearch(&key, g->by, g->n, sizeof(key), cmp_ptr);

	return f ? f->k : UINT32_MAX;
}

/* Appends the accessed pages of the current scan bits of every region. */
static int collect(struct pf_proc *p, const struct regs *g, struct hit **h, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < p->rt.n; i++) {
		struct pf_piece *pc = &p->rt.p[i];
		struct pf_rinfo *ri = pc->ri;
		uint32_t k = reg_index(g, ri);
		uint64_t a, slot;

		if (ri->slot_base == PF_NO_SLOT || k == UINT32_MAX)
			continue;
		slot = pf_rinfo_slot(ri, pc->start);
		for (a = pc->start; a < pc->end; a += 4096, slot++) {
			if (!(pf_bpf_scan_nibble(slot) & PFA_PG_ACCESSED))
				continue;
			if (PF_GROW(*h, *cap, *n + 1, 4096))
				return -1;
			(*h)[(*n)++] = (struct hit){.reg = k, .page = (a - ri->start0) >> 12};
		}
	}
	return 0;
}

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->reg != y->reg)
		return x->reg < y->reg ? -1 : 1;
	return x->page < y->page ? -1 : x->page > y->page;
}

static void record(struct pf_proc *p, struct pf_phase_hot *hot)
{
	static long long last;
	uint64_t now = pf_now_ms(), iv = pf_agent_reclaim_interval_ms(), *pages = NULL, total = 0;
	uint64_t last_scan = p->next_scan_ms > iv ? p->next_scan_ms - iv : 0;
	size_t n = 0, cap = 0, i, j, nreg = 0, nlast = 0, n_fresh = 0;
	struct regs g = {0};
	struct hit *h = NULL;
	int rc;

	if (!hot->memo)
		hot->memo = pf_phase_memo_new(MEMO_ENTRIES, MEMO_PAGES);
	if (!hot->memo || regs_of(p, &g))
		goto oom;
	/*
	 * The last periodic scan, if at least half of its interval was in this
	 * phase; else (a phase shorter than that) a scan now, which may also
	 * see the first accesses of the next phase: the program does not wait
	 * for the agent to take in its phase change.
	 */
	if (p->next_scan_ms != p->started_ms && last_scan >= hot->since_ms + iv / 2) {
		if (collect(p, &g, &h, &n, &cap))
			goto oom;
		nlast = n;
	} else {
		/*
		 * A periodic scan inside this short phase cleared the accessed
		 * bits of what the phase had touched so far: keep what it saw,
		 * or a phase that stopped touching before it would look idle.
		 */
		if (p->next_scan_ms != p->started_ms && last_scan >= hot->since_ms) {
			if (collect(p, &g, &h, &n, &cap))
				goto oom;
			nlast = n;
		}
		rc = pf_scan_proc(p->pid, &p->rt, pf_slots_capacity() / (pf_proc_count() + 1));
		if (rc)
			pf_log_limited(&last, PF_LOG_WARN,
				       "pid %d: phase '%s': no scan for its hot set: %s", p->pid,
				       hot->phase, strerror(-rc));
		else if (collect(p, &g, &h, &n, &cap))
			goto oom;
		n_fresh = n - nlast;
	}
	qsort(h, n, sizeof(*h), cmp_hit);
	/* a page both scans saw is one page */
	for (i = j = 0; i < n; i++)
		if (!j || cmp_hit(&h[i], &h[j - 1]))
			h[j++] = h[i];
	n = j;
	pages = malloc((n ? n : 1) * sizeof(*pages));
	if (!pages)
		goto oom;
	for (i = j = 0; i < g.n; i++) {
		const uint64_t *known;
		size_t m = 0;

		for (; j < n && h[j].reg == i; j++)
			pages[m++] = h[j].page;
		/* An empty set only replaces a known one (the memo has few entries). */
		if (!m && !pf_phase_memo_lookup(hot->memo, g.r[i].key, hot->phase, &known))
			continue;
		pf_phase_memo_record(hot->memo, g.r[i].key, hot->phase, pages, m, now);
		total += m < MEMO_PAGES ? m : MEMO_PAGES;
		nreg += m > 0;
	}
	pf_info("pid %d: phase '%s' ends: %llu hot pages in %zu regions remembered (accessed: %zu "
		"in the last scan, %zu in a scan now)",
		p->pid, hot->phase, (unsigned long long)total, nreg, nlast, n_fresh);
	free(pages);
	free(h);
	regs_free(&g);
	return;
oom:
	pf_log_limited(&last, PF_LOG_WARN, "pid %d: phase '%s': no memory for its hot set", p->pid,
		       hot->phase);
	free(pages);
	free(h);
	regs_free(&g);
}

void pf_phase_hot_leave(struct pf_proc *p)
{
	struct pf_phase_hot *hot = p->hot ? p->hot : (p->hot = calloc(1, sizeof(*p->hot)));
	const struct pf_phase_actions *act;

	if (!hot)
		return;
	act = hot->phase[0] ? pf_binding_phase_actions(hot->phase) : NULL;
	if (act && act->prefetch_hot)
		record(p, hot);
	snprintf(hot->phase, sizeof(hot->phase), "%s", p->phase);
	hot->since_ms = pf_now_ms();
}

void pf_phase_hot_enter(struct pf_proc *p)
{
	struct pf_phase_hot *hot = p->hot;
	struct pf_batch b = {0};
	uint64_t bytes, asked = 0;
	size_t i, k, nreg = 0;
	struct regs g;

	if (!hot || !hot->memo || regs_of(p, &g))
		return;
	for (i = 0; i < g.n; i++) {
		const uint64_t *pages;
		size_t n = pf_phase_memo_lookup(hot->memo, g.r[i].key, p->phase, &pages);
		struct pf_rinfo *ri = g.r[i].ri;

		for (k = 0; k < n; k++) {
			uint64_t a = ri->start0 + (pages[k] << 12);
			struct pf_piece *pc = pf_rt_find(&p->rt, a);

			/* Only pages still in that region. */
			if (!pc || pc->ri != ri)
				continue;
			pf_batch_add(&b, a, 4096);
			ri->prefetched++;
			asked++;
		}
		nreg += n > 0;
	}
	regs_free(&g);
	if (!b.n)
		return;
	bytes = pf_act(p->pidfd, p->pid, PF_ADV_WILLNEED, &b);
	pf_agent_prefetch_calls++;
	pf_agent_prefetch_pages += bytes >> 12;
	pf_batch_free(&b);
	pf_info("pid %d: phase '%s': prefetch_hot: WILLNEED of %llu pages in %zu regions", p->pid,
		p->phase, (unsigned long long)asked, nreg);
}

void pf_phase_hot_free(struct pf_proc *p)
{
	if (!p->hot)
		return;
	pf_phase_memo_free(p->hot->memo);
	free(p->hot);
	p->hot = NULL;
}
