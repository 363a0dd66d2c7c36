// SPDX-License-Identifier: MIT
/*
 * The reclaim loop: every scan interval, each managed process is scanned
 * (scanner.c) and each region bound to a policy is ticked by the policy
 * engine (policy/engine.h, the code pageflex-sim replays) through
 * reclaim_feed.c: the per-page states (a BPF array, 4 bytes a page) follow
 * the accessed bits, the region's threshold picks its victims. Victims are
 * paged out in one batch per process; the accessed pages whose bits the
 * engine says to clear (with clear_every N each hot page every N-th scan;
 * by default N is chosen per region, engine.h) get MADV_COLD, which clears
 * them for the next scan. Also REGION_DISCARD:
 * the discarded pages start over in their policy's state. Rules reload and
 * phase changes, which rebind regions, are rules_reload.c and
 * phase_actions.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actuator.h"
#include "agent.h"
#include "log.h"
#include "objectives.h"
#include "reclaim_feed.h"
#include "scanner.h"

uint64_t pf_agent_reclaim_pages_out, pf_agent_reclaim_pages_cooled;

static struct pf_batch out_b, cold_b;

/* Smallest cold age among bound cold-age regions (0: none). */
static uint64_t min_cold_age(void)
{
	uint64_t m = 0;
	size_t i, j;

	for (i = 0; i < pf_proc_count(); i++) {
		struct pf_proc *p = pf_proc_at(i);

		for (j = 0; j < p->rt.n; j++) {
			struct pf_rinfo *ri = p->rt.p[j].ri;

			if (ri->eng.bound && ri->eng.b.reclaim->victim &&
			    ri->eng.b.params.cold_age_ms &&
			    (!m || ri->eng.b.params.cold_age_ms < m))
				m = ri->eng.b.params.cold_age_ms;
		}
	}
	return m;
}

uint64_t pf_agent_reclaim_interval_ms(void)
{
	uint64_t t;

	if (pf_opts.scan_interval_ms)
		return pf_opts.scan_interval_ms;
	t = min_cold_age();
	if (!t)
		return 1000; /* budget/promotion policies and the status */
	t /= 4;
	return t < 50 ? 50 : t > 10000 ? 10000 : t;
}

static int cmp_piece_ri(const void *a, const void *b)
{
	const struct pf_piece *x = *(struct pf_piece *const *)a, *y = *(struct pf_piece *const *)b;

	if (x->ri != y->ri)
		return x->ri < y->ri ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * Refaults since the last tick for the promotion controller: swap-ins that
 * were not prefetch hits. With the major-fault program, the swap faults
 * that were major; without it, every swap fault (swap-cache hits, which
 * include prefetch hits, cannot be told apart then).
 */
static uint64_t new_refaults(struct pf_rinfo *ri)
{
	struct pfa_region_stats s;
	uint64_t n, d;

	if (pf_bpf_region_stats(ri->id, &s))
		return 0;
	n = pf_feature_on(pf_bpf_feature(PF_FEAT_MAJOR)) ? s.swapin_major : s.swap_faults;
	d = n >= ri->last_refaults ? n - ri->last_refaults : 0;
	ri->last_refaults = n;
	return d;
}

/* Applies the engine to one region's pieces pcs[0..n). */
static void reclaim_region(struct pf_piece **pcs, size_t n, uint64_t now)
{
	static struct pf_engine_scratch sc;
	struct pf_rinfo *ri = pcs[0]->ri;
	uint64_t victims = ri->paged_out;
	/* Only thresholds read refaults: no map read per cold-age region per tick. */
	uint64_t refaults = ri->eng.b.threshold.mode == PF_THRESH_COLD_AGE ? 0 : new_refaults(ri);

	ri->tick_refaults = refaults;
	pf_agent_reclaim_feed(ri, pcs, n, pf_bpf_page_state(), pf_bpf_scan_words, refaults, now,
			      &sc, &out_b, &cold_b);
	/* Before the PAGEOUT: from now on its faults need the page-table walk. */
	if (ri->paged_out != victims)
		pf_bpf_region_mark_out(ri->id, true);
}

static void reclaim_proc(struct pf_proc *p, uint64_t now, uint64_t iv)
{
	static long long last;
	static struct pf_piece **pcs;
	static size_t cap;
	size_t i, j, n = 0;
	uint64_t bytes, share;
	int rc;

	/*
	 * Fair share of the per-page slots: capacity / (processes + 1), so that
	 * those who came first always leave room for one more.
	 */
	share = pf_slots_capacity() / (pf_proc_count() + 1);
	rc = pf_scan_proc(p->pid, &p->rt, share);
	if (rc) {
		pf_log_limited(&last, PF_LOG_WARN, "scan of pid %d failed: %s", p->pid,
			       rc == -EOPNOTSUPP ? pf_bpf_scan_error() : strerror(-rc));
		return;
	}
	pf_record_scan(p, now);
	if (cap < p->rt.n) {
		free(pcs);
		cap = p->rt.n * 2;
		pcs = malloc(cap * sizeof(*pcs));
		if (!pcs) {
			cap = 0;
			return;
		}
	}
	for (i = 0; i < p->rt.n; i++)
		if (pf_engine_active(&p->rt.p[i].ri->eng) && p->rt.p[i].ri->slot_base != PF_NO_SLOT)
			pcs[n++] = &p->rt.p[i];
	if (!n)
		return;
	/* Group the pieces of each region: thresholds work per region. */
	qsort(pcs, n, sizeof(*pcs), cmp_piece_ri);
	pf_batch_reset(&out_b);
	pf_batch_reset(&cold_b);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && pcs[j]->ri == pcs[i]->ri; j++)
			;
		reclaim_region(pcs + i, j - i, now);
	}
	/* Objectives move on what this tick saw; their regions follow at the next. */
	pf_agent_objectives_tick(p, pcs, n, now, iv);
	/*
	 * COLD first, right after the scan: an access between the scan and the
	 * COLD is lost, and a PAGEOUT of a large batch takes long enough for the
	 * hot pages to be touched again.
	 */
	if (cold_b.n)
		pf_agent_reclaim_pages_cooled +=
			pf_act(p->pidfd, p->pid, PF_ADV_COLD, &cold_b) >> 12;
	if (out_b.n) {
		bytes = pf_act(p->pidfd, p->pid, PF_ADV_PAGEOUT, &out_b);
		pf_agent_reclaim_pages_out += bytes >> 12;
		pf_dbg("pid %d: paged out %llu KiB", p->pid, (unsigned long long)bytes >> 10);
	}
}

/*
 * Whether some managed region may hold swapped pages (PFA_RF_OUT: the agent
 * paged out of it, a scan saw swapped pages, or pf_major saw a swap-in):
 * only then is the fault program needed (pf_bpf_fault_need).
 */
static bool any_region_out(void)
{
	for (size_t i = 0; i < pf_proc_count(); i++) {
		struct pf_proc *p = pf_proc_at(i);

		for (size_t k = 0; k < p->rt.n; k++)
			if (pf_bpf_region_flags(p->rt.p[k].ri->id) & PFA_RF_OUT)
				return true;
	}
	return false;
}

void pf_agent_reclaim_tick(void)
{
	uint64_t now = pf_now_ms(), iv = pf_agent_reclaim_interval_ms();
	size_t i;

	if (pf_bpf_fault_on_demand())
		pf_bpf_fault_need(any_region_out());

	for (i = 0; i < pf_proc_count(); i++) {
		struct pf_proc *p = pf_proc_at(i);

		/*
		 * A process's first region is scanned at the next tick, not one
		 * interval after a scan that found none (the HELLO comes before
		 * the first MAP): its scan history starts when it appears.
		 */
		if (now < p->next_scan_ms && (p->scanned_regions || !p->rt.n))
			continue;
		p->next_scan_ms = now + iv;
		p->scanned_regions = p->rt.n > 0;
		reclaim_proc(p, now, iv);
	}
}

void pf_agent_reclaim_discard(struct pf_rtable *t, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct pf_piece *pc = &t->p[i];
		struct pf_rinfo *ri = pc->ri;
		uint64_t a, lo = pc->start > start ? pc->start : start;
		uint64_t hi = pc->end < end ? pc->end : end;
		uint32_t s;

		if (lo >= hi || !ri->eng.ready || !ri->eng.bound)
			continue;
		s = pf_engine_new_state(&ri->eng); /* as if never touched */
		for (a = lo; a < hi; a += 4096)
			pf_bpf_page_state()[pf_rinfo_slot(ri, a)] = s;
	}
}
